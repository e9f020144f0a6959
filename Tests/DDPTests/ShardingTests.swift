import DDP
import Testing

@Suite struct ShardingTests {
    @Test(arguments: [(10, 4, 2), (7, 3, 3), (100, 16, 4), (5, 5, 1), (33, 8, 8)])
    func rankSlicesTogetherAreTheGlobalBatch(_ size: Int, _ batch: Int, _ world: Int) throws {
        let sharding = try Sharding(datasetSize: size, globalBatch: batch, worldSize: world, seed: 11)
        for step in 0..<(3 * sharding.batchesPerEpoch + 1) {
            let global = sharding.globalIndices(step: step)
            let union = (0..<world).flatMap { sharding.localIndices(step: step, rank: $0) }
            #expect(union == global)
            #expect(Set(global).count == batch && global.allSatisfy { $0 >= 0 && $0 < size })
            let numbers = (0..<world).flatMap { sharding.localSampleNumbers(step: step, rank: $0) }
            #expect(numbers == Array((step * batch)..<((step + 1) * batch)))
        }
    }

    @Test func anEpochVisitsEverySampleAtMostOnce() throws {
        let sharding = try Sharding(datasetSize: 50, globalBatch: 8, worldSize: 2, seed: 3)
        let epoch = (0..<sharding.batchesPerEpoch).flatMap { sharding.globalIndices(step: $0) }
        #expect(Set(epoch).count == 48)
        #expect(sharding.permutation(epoch: 0).sorted() == Array(0..<50))
    }

    @Test func orderIsDeterministicAndIndependentOfWorldSize() throws {
        let one = try Sharding(datasetSize: 64, globalBatch: 8, worldSize: 1, seed: 5)
        let four = try Sharding(datasetSize: 64, globalBatch: 8, worldSize: 4, seed: 5)
        let again = try Sharding(datasetSize: 64, globalBatch: 8, worldSize: 4, seed: 5)
        for step in 0..<20 {
            #expect(one.globalIndices(step: step) == four.globalIndices(step: step))
            #expect(four.localIndices(step: step, rank: 2) == again.localIndices(step: step, rank: 2))
        }
    }

    @Test func differentEpochsAndSeedsGiveDifferentOrders() throws {
        let a = try Sharding(datasetSize: 100, globalBatch: 10, worldSize: 2, seed: 1)
        let b = try Sharding(datasetSize: 100, globalBatch: 10, worldSize: 2, seed: 2)
        #expect(a.permutation(epoch: 0) != a.permutation(epoch: 1))
        #expect(a.permutation(epoch: 0) != b.permutation(epoch: 0))
        #expect(a.globalIndices(step: 0) != a.globalIndices(step: 10))
    }

    @Test func badSizesAreClearErrors() {
        #expect(throws: ShardingError.batchNotDivisible(globalBatch: 10, worldSize: 4)) {
            try Sharding(datasetSize: 100, globalBatch: 10, worldSize: 4, seed: 0)
        }
        #expect(throws: ShardingError.batchLargerThanDataset(globalBatch: 16, datasetSize: 10)) {
            try Sharding(datasetSize: 10, globalBatch: 16, worldSize: 2, seed: 0)
        }
        #expect(throws: ShardingError.notPositive(name: "--batch-size", value: 0)) {
            try Sharding(datasetSize: 10, globalBatch: 0, worldSize: 2, seed: 0)
        }
        let message = ShardingError.batchNotDivisible(globalBatch: 10, worldSize: 4).errorDescription ?? ""
        #expect(message.contains("--batch-size 10") && message.contains("world size 4"))
    }
}
