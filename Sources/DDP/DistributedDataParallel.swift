import Foundation
import Tensor

/// Data-parallel training of one set of parameters over a communicator (PyTorch DDP's contract).
///
/// - Every rank registers the same parameters in the same order (`verifyAgreement` checks names,
///   shapes and a configuration hash on all ranks and fails on every rank if they differ).
/// - `broadcastParameters` copies rank 0's parameters and buffers to all ranks at start-up.
/// - Gradients live in one fused bucket (each parameter's gradient is a view into it), so
///   `allReduceGradients` averages them with one allreduce instead of one per tensor.
///
/// ```swift
/// let ddp = try DistributedDataParallel(module: generator, communicator: comm)
/// loss.backward()
/// try ddp.allReduceGradients()      // now identical on every rank
/// adam.step()
/// ```
public final class DistributedDataParallel {
    public let communicator: any Communicator
    /// The parameters, in registration order.
    public let parameters: [(name: String, tensor: Tensor)]
    /// The buffers (saved, not trained) broadcast with the parameters.
    public let buffers: [(name: String, tensor: Tensor)]
    /// The fused gradient bucket: every parameter's gradient, back to back.
    public let bucket: Storage
    /// What the watchdog's message calls these parameters ("gradients of D"); nil: by size only.
    public var name: String?

    /// Registers `module`'s parameters and buffers and moves their gradients into one bucket.
    public convenience init(module: any Module, communicator: any Communicator, name: String? = nil) {
        self.init(parameters: module.namedParameters(), buffers: module.namedBuffers(), communicator: communicator,
                  name: name)
    }

    public init(parameters: [(name: String, tensor: Tensor)], buffers: [(name: String, tensor: Tensor)] = [],
                communicator: any Communicator, name: String? = nil) {
        self.communicator = communicator
        self.name = name
        self.parameters = parameters
        self.buffers = buffers
        let total = parameters.map(\.tensor.count).reduce(0, +)
        bucket = Storage(count: total, repeating: 0)
        var offset = 0
        for (_, p) in parameters {
            let view = Storage(viewOf: bucket, offset: offset, count: p.count)
            if let old = p.gradStorage { view.pointer.update(from: old.pointer, count: p.count) }
            p.setGradStorage(view)
            offset += p.count
        }
    }

    /// Number of floats in the gradient bucket (the model's trainable size).
    public var gradientCount: Int { bucket.count }

    /// Sets every gradient to zero.
    public func zeroGradients() { bucket.zero() }

    /// Averages the gradients over all ranks in place (one allreduce of the fused bucket).
    public func allReduceGradients() throws {
        guard communicator.worldSize > 1 else { return }
        try communicator.withPurpose(purpose("gradients")) { try communicator.allReduce(bucket.buffer, op: .mean) }
    }

    /// Copies rank 0's parameters and buffers to every rank.
    public func broadcastParameters() throws {
        guard communicator.worldSize > 1 else { return }
        let tensors = parameters.map(\.tensor) + buffers.map(\.tensor)
        let total = tensors.map(\.count).reduce(0, +)
        var flat = [Float](repeating: 0, count: total)
        var offset = 0
        for t in tensors {
            for i in 0..<t.count { flat[offset + i] = t.data[i] }
            offset += t.count
        }
        try communicator.withPurpose(purpose("parameters and buffers")) { try communicator.broadcast(&flat, root: 0) }
        offset = 0
        for t in tensors {
            flat.withUnsafeBufferPointer { t.data.update(from: $0.baseAddress! + offset, count: t.count) }
            offset += t.count
        }
    }

    /// "gradients of D" when named, else "gradients".
    private func purpose(_ what: String) -> String { name.map { "\(what) of \($0)" } ?? what }

    /// A 64-bit fingerprint of the names and shapes of the parameters and buffers.
    public var parameterFingerprint: UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ s: String) { for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 } }
        for (name, t) in parameters { mix("p:\(name)\(t.shape);") }
        for (name, t) in buffers { mix("b:\(name)\(t.shape);") }
        return h
    }
}

/// Ranks that disagree on what they train: different parameters (names, shapes) or configuration.
public struct AgreementError: LocalizedError, Equatable {
    public let message: String
    public var errorDescription: String? { message }
}

extension Communicator {
    /// Checks that every rank holds the same `fingerprints` (e.g. the parameter fingerprint and configuration
    /// hash); throws the same error on every rank when any differs, so no rank hangs later.
    public func verifyAgreement(_ fingerprints: [(what: String, value: UInt64)]) throws {
        guard worldSize > 1 else { return }
        for (what, value) in fingerprints {
            let all = try withPurpose("agreement on the \(what)") { try allGather(Int64(bitPattern: value)) }
            if let bad = all.firstIndex(where: { $0 != all[0] }) {
                throw AgreementError(message:
                    "ranks disagree on the \(what): rank 0 has \(String(UInt64(bitPattern: all[0]), radix: 16)), rank \(bad) has \(String(UInt64(bitPattern: all[bad]), radix: 16))")
            }
        }
    }
}
