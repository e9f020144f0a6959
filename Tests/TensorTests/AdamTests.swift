import Tensor
import TestSupport
import Testing

@Suite struct AdamTests {
    /// Sets `t`'s gradient to `values` (replacing what was accumulated).
    func setGrad(_ t: Tensor, _ values: [Float]) {
        let g = t.gradBuffer()
        for i in 0..<t.count { g[i] = values[i] }
    }

    @Test func constantGradientMovesByTheLearningRateEachStep() {
        // With a constant g the bias-corrected moments are m̂ = g and v̂ = g², so every step is
        // lr · g / (|g| + ε): about lr · sign(g); a zero gradient leaves the value alone.
        let p = Tensor(shape: [3], values: [1, -2, 3], requiresGrad: true)
        let adam = Adam(parameters: [(name: "p", tensor: p)], learningRate: 0.1)
        for _ in 0..<3 {
            setGrad(p, [0.5, -1, 0])
            adam.step()
        }
        #expect(adam.stepCount == 3)
        let c = closeness(p.array, [0.7, -1.7, 3], atol: 1e-6, rtol: 1e-6)
        #expect(c.firstBad == nil, "\(p.array): \(c)")
    }

    @Test func firstStepByHand() {
        // t = 1, β1 = 0.9, β2 = 0.99, g = 2: m = 0.2, v = 0.04, m̂ = 2, v̂ = 4, step = lr · 2 / (2 + ε).
        let p = Tensor(shape: [1], values: [1], requiresGrad: true)
        let adam = Adam(parameters: [(name: "p", tensor: p)], learningRate: 0.5, beta1: 0.9, beta2: 0.99, epsilon: 0.5)
        setGrad(p, [2])
        adam.step()
        #expect(abs(p.item - (1 - 0.5 * 2 / 2.5)) < 1e-6)
        let state = Dictionary(uniqueKeysWithValues: adam.state().map { ($0.name, $0.tensor) })
        #expect(abs(state["m/p"]!.item - 0.2) < 1e-6 && abs(state["v/p"]!.item - 0.04) < 1e-6)
    }

    @Test func stateNamesFollowParameterOrder() {
        let a = Tensor(shape: [2], repeating: 0, requiresGrad: true)
        let b = Tensor(shape: [3, 1], repeating: 0, requiresGrad: true)
        let adam = Adam(parameters: [(name: "conv.weight", tensor: a), (name: "conv.bias", tensor: b)], learningRate: 1)
        #expect(adam.state().map(\.name) == ["m/conv.weight", "v/conv.weight", "m/conv.bias", "v/conv.bias"])
        #expect(adam.state().map(\.tensor.shape) == [[2], [2], [3, 1], [3, 1]])
    }

    @Test func exportedStateContinuesIdentically() throws {
        func gradients(_ step: Int) -> [[Float]] {
            [Tensor.randomNormal([4], seed: 3, purpose: "adam-g", step: step, index: 0).array,
             Tensor.randomNormal([2, 3], seed: 3, purpose: "adam-g", step: step, index: 1).array]
        }
        func model() -> [Tensor] {
            [Tensor(shape: [4], values: [1, 2, 3, 4], requiresGrad: true),
             Tensor(shape: [2, 3], values: [0, -1, 1, 0.5, -0.5, 2], requiresGrad: true)]
        }
        let original = model()
        let adam = Adam(parameters: [("a", original[0]), ("b", original[1])].map { (name: $0.0, tensor: $0.1) },
                        learningRate: 0.01)
        for step in 0..<3 {
            for (t, g) in zip(original, gradients(step)) { setGrad(t, g) }
            adam.step()
        }
        // A checkpoint: parameter values, moments (copied, as a file would), step count.
        let saved = Dictionary(uniqueKeysWithValues: adam.state().map { ($0.name, $0.tensor.copy()) })
        let resumed = model()
        for (r, o) in zip(resumed, original) { r.assign(o) }
        let adam2 = Adam(parameters: [(name: "a", tensor: resumed[0]), (name: "b", tensor: resumed[1])],
                         learningRate: 0.01)
        try adam2.load(state: saved, stepCount: adam.stepCount)
        for step in 3..<6 {
            for (t, g) in zip(original, gradients(step)) { setGrad(t, g) }
            for (t, g) in zip(resumed, gradients(step)) { setGrad(t, g) }
            adam.step()
            adam2.step()
        }
        #expect(adam2.stepCount == 6)
        for (r, o) in zip(resumed, original) { #expect(r.array == o.array) }
        for (s, t) in zip(adam.state(), adam2.state()) { #expect(s.tensor.array == t.tensor.array, "\(s.name)") }
    }

    @Test func loadNamesTheMissingOrMisshapedTensor() {
        let p = Tensor(shape: [2, 2], repeating: 0, requiresGrad: true)
        let adam = Adam(parameters: [(name: "w", tensor: p)], learningRate: 0.1)
        #expect(throws: AdamStateError.missing(name: "v/w")) {
            try adam.load(state: ["m/w": Tensor(shape: [2, 2])], stepCount: 1)
        }
        #expect(throws: AdamStateError.shapeMismatch(name: "m/w", expected: [2, 2], actual: [4])) {
            try adam.load(state: ["m/w": Tensor(shape: [4]), "v/w": Tensor(shape: [2, 2])], stepCount: 1)
        }
        #expect(adam.stepCount == 0)
        let message = AdamStateError.shapeMismatch(name: "m/w", expected: [2, 2], actual: [4]).errorDescription ?? ""
        #expect(message.contains("m/w") && message.contains("[4]") && message.contains("[2, 2]"))
    }
}
