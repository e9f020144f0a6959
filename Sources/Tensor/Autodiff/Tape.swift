import Foundation

// The tape: recording op results with their inputs and walking them backwards (micrograd's engine).

/// Global autodiff switches.
public enum Autodiff {
    /// When false, ops do not record history (evaluation, the fake batch of a D step, Adam).
    ///
    /// Per thread: a test or an evaluation that stops recording on one thread does not change
    /// what another thread's training step records.
    public static var isRecording: Bool {
        get { pthread_getspecific(recordingKey) == nil }
        set { pthread_setspecific(recordingKey, newValue ? nil : UnsafeRawPointer(bitPattern: 1)) }
    }

    private static let recordingKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    /// Runs `body` without recording history; restores the previous setting.
    public static func withoutRecording<T>(_ body: () throws -> T) rethrows -> T {
        let saved = isRecording
        isRecording = false
        defer { isRecording = saved }
        return try body()
    }
}

extension Tensor {
    /// The result of an op: records `parents` and `rule` when recording and any parent needs
    /// gradients; `rule(out)` reads `out.gradStorage` and accumulates into the parents.
    public static func result(shape: [Int], storage: Storage, parents: [Tensor],
                              rule: @escaping (Tensor) -> Void) -> Tensor {
        let needs = Autodiff.isRecording && parents.contains { $0.requiresGrad }
        let t = Tensor(shape: shape, storage: storage, requiresGrad: needs)
        if needs {
            t.parents = parents
            t.backwardRule = rule
        }
        return t
    }

    /// Back-propagates from this tensor: its gradient is `seed` (1 for a scalar loss), and every
    /// tensor it depends on that requires gradients accumulates ∂self/∂tensor · seed.
    ///
    /// Intermediate results drop their gradient and history afterwards (their memory returns to
    /// the pool); leaves (parameters, inputs) keep their accumulated `grad`.
    public func backward(seed: Tensor? = nil) {
        guard requiresGrad else { return }
        if let seed {
            precondition(seed.count == count, "backward: seed \(seed.shape) for a tensor of shape \(shape)")
            let g = gradBuffer()
            for i in 0..<count { g[i] += seed.data[i] }
        } else {
            precondition(count == 1, "backward: a tensor of shape \(shape) needs an explicit seed")
            gradBuffer()[0] += 1
        }
        // Reverse topological order by an iterative depth-first search.
        var order: [Tensor] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(Tensor, Bool)] = [(self, false)]
        while let (t, expanded) = stack.popLast() {
            if expanded { order.append(t); continue }
            if !visited.insert(ObjectIdentifier(t)).inserted { continue }
            stack.append((t, true))
            for p in t.parents where p.requiresGrad && !visited.contains(ObjectIdentifier(p)) {
                stack.append((p, false))
            }
        }
        for t in order.reversed() {
            guard let rule = t.backwardRule else { continue }
            if t.gradStorage != nil { rule(t) }
            t.backwardRule = nil
            t.parents = []
            t.gradStorage = nil
        }
    }
}
