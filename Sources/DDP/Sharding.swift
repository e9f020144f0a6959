// Global-batch sharding (DESIGN.md, "Determinism contract"): every epoch is a permutation of
// the data set drawn from (seed, epoch); global batch b of an epoch is positions
// [b·B, (b+1)·B) of it (the last, short batch is dropped); rank r takes the contiguous slice
// [r·B/W, (r+1)·B/W) of each global batch. No rank appears in any random draw, so W ranks see
// together exactly the samples one rank would see with the same global batch B.
import Foundation
import Tensor

/// A sharding request that cannot be met; names the flag at fault.
public enum ShardingError: LocalizedError, Equatable {
    /// The global batch does not split evenly over the ranks.
    case batchNotDivisible(globalBatch: Int, worldSize: Int)
    /// The global batch is larger than the data set, so an epoch has no full batch.
    case batchLargerThanDataset(globalBatch: Int, datasetSize: Int)
    /// A size that must be positive is not.
    case notPositive(name: String, value: Int)

    public var errorDescription: String? {
        switch self {
        case .batchNotDivisible(let b, let w):
            "--batch-size \(b) is not divisible by the world size \(w); use a multiple of \(w)"
        case .batchLargerThanDataset(let b, let n):
            "--batch-size \(b) is larger than the data set (\(n) samples)"
        case .notPositive(let name, let value):
            "\(name) must be positive, got \(value)"
        }
    }
}

/// Which samples each rank trains on, step by step: per-epoch permutations from (seed, epoch),
/// contiguous per-rank slices of each global batch.
///
/// ```swift
/// let sharding = try Sharding(datasetSize: data.count, globalBatch: 64, worldSize: comm.worldSize, seed: seed)
/// let mine = sharding.localIndices(step: step, rank: comm.rank)        // data set indices
/// let globalSamples = sharding.localSampleNumbers(step: step, rank: comm.rank)  // keys for CounterRNG
/// ```
public struct Sharding: Sendable, Equatable {
    /// The number of samples in the data set.
    public let datasetSize: Int
    /// The global batch B (all ranks together).
    public let globalBatch: Int
    /// The number of ranks W.
    public let worldSize: Int
    /// The seed of the epoch permutations.
    public let seed: UInt64

    /// The per-rank batch B / W.
    public var localBatch: Int { globalBatch / worldSize }
    /// Full global batches per epoch (the remainder of an epoch is dropped).
    public var batchesPerEpoch: Int { datasetSize / globalBatch }

    /// Validates the sizes.
    /// - Throws: `ShardingError` when B is not divisible by W, exceeds the data set, or a size is not positive.
    public init(datasetSize: Int, globalBatch: Int, worldSize: Int, seed: UInt64) throws {
        guard datasetSize > 0 else { throw ShardingError.notPositive(name: "data set size", value: datasetSize) }
        guard globalBatch > 0 else { throw ShardingError.notPositive(name: "--batch-size", value: globalBatch) }
        guard worldSize > 0 else { throw ShardingError.notPositive(name: "world size", value: worldSize) }
        guard globalBatch % worldSize == 0 else {
            throw ShardingError.batchNotDivisible(globalBatch: globalBatch, worldSize: worldSize)
        }
        guard globalBatch <= datasetSize else {
            throw ShardingError.batchLargerThanDataset(globalBatch: globalBatch, datasetSize: datasetSize)
        }
        self.datasetSize = datasetSize
        self.globalBatch = globalBatch
        self.worldSize = worldSize
        self.seed = seed
    }

    /// The permutation of 0..<datasetSize for `epoch`: a Fisher–Yates shuffle driven by
    /// CounterRNG(seed, "epoch-permutation", step: epoch).
    public func permutation(epoch: Int) -> [Int] {
        var order = Array(0..<datasetSize)
        var rng = CounterRNG(seed: seed, purpose: "epoch-permutation", step: epoch)
        var i = datasetSize - 1
        while i > 0 {
            let j = rng.int(below: i + 1)
            order.swapAt(i, j)
            i -= 1
        }
        return order
    }

    /// The epoch and the batch within it of training step `step` (steps count from 0).
    public func position(step: Int) -> (epoch: Int, batch: Int) {
        precondition(step >= 0, "Sharding.position: step \(step) must be non-negative")
        return (step / batchesPerEpoch, step % batchesPerEpoch)
    }

    /// The data set indices of global batch `step` (B of them, all ranks together).
    public func globalIndices(step: Int) -> [Int] {
        let (epoch, batch) = position(step: step)
        return Array(permutation(epoch: epoch)[(batch * globalBatch)..<((batch + 1) * globalBatch)])
    }

    /// The data set indices rank `rank` trains on at `step`: its contiguous slice of the global batch.
    public func localIndices(step: Int, rank: Int) -> [Int] {
        precondition(rank >= 0 && rank < worldSize, "Sharding.localIndices: rank \(rank) outside 0..<\(worldSize)")
        return Array(globalIndices(step: step)[localRange(rank: rank)])
    }

    /// Global sample numbers (step · B + position in the global batch) of rank `rank`'s slice:
    /// the `index` to key per-sample randomness (z, layout, backgrounds) with, independent of W.
    public func localSampleNumbers(step: Int, rank: Int) -> [Int] {
        precondition(rank >= 0 && rank < worldSize, "Sharding.localSampleNumbers: rank \(rank) outside 0..<\(worldSize)")
        return localRange(rank: rank).map { step * globalBatch + $0 }
    }

    /// Positions [r·B/W, (r+1)·B/W) of a global batch that belong to rank `rank`.
    public func localRange(rank: Int) -> Range<Int> {
        (rank * localBatch)..<((rank + 1) * localBatch)
    }
}
