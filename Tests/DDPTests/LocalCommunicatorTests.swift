import DDP
import Testing

@Suite struct LocalCommunicatorTests {
    @Test func withoutMPIRunTheLocalCommunicatorIsChosenAndMPIIsNotInitialised() throws {
        #expect(!LaunchEnvironment.startedByMPILauncher([:]))
        #expect(LaunchEnvironment.startedByMPILauncher(["OMPI_COMM_WORLD_SIZE": "2"]))
        #expect(LaunchEnvironment.startedByMPILauncher(["PMIX_RANK": "0"]))
        #expect(LaunchEnvironment.startedByMPILauncher(["SLURM_STEP_NUM_TASKS": "4"]))
        #expect(!LaunchEnvironment.startedByMPILauncher(["SLURM_STEP_NUM_TASKS": "1"]))
        let comm = try communicatorFromEnvironment()
        #expect(comm is LocalCommunicator)
        #expect(comm.rank == 0 && comm.worldSize == 1)
        #expect(!MPICommunicator.isInitialized)
    }

    @Test func collectivesOfOneProcessLeaveValuesAsTheyAre() throws {
        let comm = LocalCommunicator()
        var values: [Float] = [1, 2, 3]
        try comm.allReduce(&values, op: .mean)
        #expect(values == [1, 2, 3])
        #expect(try comm.broadcast(bytes: [7, 8], root: 0) == [7, 8])
        #expect(try comm.allGather(Int64(5)) == [5])
    }
}
