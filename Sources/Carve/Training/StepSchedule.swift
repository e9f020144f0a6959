import DDP

/// The end-of-step decisions of the training loop: agreeing to stop, when to checkpoint, when to
/// evaluate.
///
/// Note [stopping together]: a signal reaches ranks at slightly different moments. Every rank
/// must take the same decision to stop, or the others would hang in the next collective, so the
/// local stop flag is agreed by an allreduce-max after every step.
struct StepSchedule {
    let config: Configuration
    /// The last step of the run (hoc: `steps`; fg: `steps + distill_steps`).
    let total: Int

    /// True on every rank when any rank was asked to stop (Note [stopping together]).
    func agreeToStop(_ stop: StopSignal, communicator: any Communicator) throws -> Bool {
        var flag: [Int64] = [stop.requested ? 1 : 0]
        try communicator.allReduce(&flag, op: .max)
        return flag[0] != 0
    }

    /// A checkpoint after `step`: every K steps, at the end, and when stopping.
    func checkpointDue(after step: Int, stopping: Bool) -> Bool {
        stopping || step == total || (config.checkpointEvery > 0 && step % config.checkpointEvery == 0)
    }

    /// An evaluation after `step`: every E steps and at the end (`extra`: e.g. a phase end), never
    /// when stopping.
    func evaluationDue(after step: Int, stopping: Bool, extra: Bool = false) -> Bool {
        !stopping && (step == total || extra || (config.evalEvery > 0 && step % config.evalEvery == 0))
    }
}
