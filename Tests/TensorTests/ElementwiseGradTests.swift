@testable import Tensor
import TestSupport
import Testing

/// A named gradcheck case over the element-wise primitives (STYLE: table-driven, named cases).
struct OpCase: CustomTestStringConvertible, Sendable {
    let name: String
    let shapes: [[Int]]
    let build: @Sendable ([Tensor]) -> Tensor
    var testDescription: String { name }

    /// Random inputs (positive where a case divides or takes a log).
    func inputs(seed: UInt64) -> [Tensor] {
        shapes.enumerated().map { i, s in
            let t = Tensor.randomNormal(s, seed: seed, purpose: "opcase-\(name)", index: i).requiringGrad()
            if name.contains("div") || name.contains("log") {
                for j in 0..<t.count { t.data[j] = 0.5 + abs(t.data[j]) }
            }
            return t
        }
    }

    static let all: [OpCase] = [
        OpCase(name: "add same shape", shapes: [[2, 3, 4, 5], [2, 3, 4, 5]]) { $0[0] + $0[1] },
        OpCase(name: "sub channel broadcast", shapes: [[2, 3, 4, 5], [1, 3, 1, 1]]) { $0[0] - $0[1] },
        OpCase(name: "mul batch broadcast", shapes: [[2, 3, 4, 5], [2, 1, 1, 1]]) { $0[0] * $0[1] },
        OpCase(name: "mul mask over RGB", shapes: [[2, 3, 4, 5], [2, 1, 4, 5]]) { $0[0] * $0[1] },
        OpCase(name: "div both broadcast", shapes: [[2, 1, 4, 5], [1, 3, 1, 1]]) { $0[0] / $0[1] },
        OpCase(name: "scalar minus tensor", shapes: [[3, 4]]) { 1 - $0[0] },
        OpCase(name: "leaky relu", shapes: [[2, 3, 4, 5]]) { $0[0].leakyRelu(0.2) },
        OpCase(name: "sigmoid", shapes: [[2, 3, 4, 5]]) { $0[0].sigmoid() },
        OpCase(name: "tanh", shapes: [[2, 3, 4, 5]]) { $0[0].tanh() },
        OpCase(name: "exp", shapes: [[2, 3, 4]]) { $0[0].exp() },
        OpCase(name: "log", shapes: [[2, 3, 4]]) { $0[0].log() },
        OpCase(name: "sum from axis 1", shapes: [[2, 3, 4, 5]]) { $0[0].sum(from: 1) },
        OpCase(name: "mean from axis 2", shapes: [[2, 3, 4, 5]]) { $0[0].mean(from: 2) },
        OpCase(name: "reshape", shapes: [[2, 3, 4, 5]]) { $0[0].reshaped([6, -1]) },
        OpCase(name: "concat channels", shapes: [[2, 3, 4, 5], [2, 2, 4, 5]]) { Tensor.concat([$0[0], $0[1]], axis: 1) },
        OpCase(name: "slice channels", shapes: [[2, 4, 4, 5]]) { $0[0].slice(axis: 1, 3..<4) },
        OpCase(name: "transposedSpatial", shapes: [[2, 3, 4, 5]]) { $0[0].transposedSpatial() },
        OpCase(name: "bce with logits (real)", shapes: [[4, 1, 3, 3]]) { $0[0].bceWithLogits(target: 1) },
        OpCase(name: "bce with logits (fake)", shapes: [[4, 1, 3, 3]]) { $0[0].bceWithLogits(target: 0) },
        OpCase(name: "smooth L1 (eq. 8)", shapes: [[2, 1, 4, 4], [2, 1, 4, 4]]) { $0[0].smoothL1($0[1]) },
        OpCase(name: "mse", shapes: [[2, 3], [2, 3]]) { $0[0].mse($0[1]) },
    ]
}

@Suite struct ElementwiseGradTests {
    /// Threads per rank: an explicit setting wins; otherwise the node's cores shared among the
    /// ranks a launcher started on it, at least one.
    @Test func threadsShareTheNodeAmongItsRanks() {
        #expect(Threads.threads(in: [:], cores: 16) == 16)
        #expect(Threads.threads(in: ["OMPI_COMM_WORLD_LOCAL_SIZE": "8"], cores: 16) == 2)
        #expect(Threads.threads(in: ["SLURM_NTASKS_PER_NODE": "4(x2)"], cores: 16) == 4)
        #expect(Threads.threads(in: ["MPI_LOCALNRANKS": "32"], cores: 16) == 1)
        #expect(Threads.threads(in: ["OMPI_COMM_WORLD_LOCAL_SIZE": "8", "OPENBLAS_NUM_THREADS": "3"], cores: 16) == 3)
        #expect(Threads.threads(in: ["CARVE_THREADS": "5", "OPENBLAS_NUM_THREADS": "3"], cores: 16) == 5)
        #expect(Threads.threads(in: ["CARVE_THREADS": "0"], cores: 6) == 6)
    }

    @Test func transposedSpatialSwapsTheLastTwoAxes() {
        let x = Tensor(shape: [1, 1, 2, 3], values: [1, 2, 3, 4, 5, 6])
        let t = x.transposedSpatial()
        #expect(t.shape == [1, 1, 3, 2] && t.array == [1, 4, 2, 5, 3, 6])
    }

    @Test(arguments: OpCase.all)
    func gradientMatchesFiniteDifferences(_ op: OpCase) {
        let inputs = op.inputs(seed: 7)
        let outShape = op.build(inputs).shape
        // A weighted sum makes every output element matter with a different weight.
        let weights = Tensor.randomNormal(outShape, seed: 8, purpose: "weights")
        let r = gradcheck(inputs, epsilon: 1e-3) { (op.build(inputs) * weights).sum() }
        #expect(r.passes(atol: 1e-3, rtol: 2e-3), "\(op.name): \(r)")
    }

    @Test func broadcastForwardMatchesHandComputedValues() {
        let a = Tensor(shape: [2, 2, 1, 2], values: [1, 2, 3, 4, 5, 6, 7, 8])
        let b = Tensor(shape: [1, 2, 1, 1], values: [10, 20])
        #expect((a + b).array == [11, 12, 23, 24, 15, 16, 27, 28])
        #expect((a * 2).array == [2, 4, 6, 8, 10, 12, 14, 16])
        #expect((1 - a).array.prefix(2) == [0, -1])
    }

    @Test func gradientsAccumulateAcrossBackwardCalls() {
        let x = Tensor(shape: [3], values: [1, 2, 3], requiresGrad: true)
        (x * x).sum().backward()
        (x * x).sum().backward()
        #expect(x.grad!.array == [4, 8, 12])
        x.zeroGrad()
        #expect(x.grad!.array == [0, 0, 0])
    }

    @Test func withoutRecordingNoHistoryIsKept() {
        let x = Tensor(shape: [3], values: [1, 2, 3], requiresGrad: true)
        let y = Autodiff.withoutRecording { x * x }
        #expect(!y.requiresGrad)
    }
}
