// Element-wise activations: ReLU, leaky ReLU, sigmoid, tanh, exp, log, abs.
// Each backward reads the saved input x or output y: dx += g · f'(x).
import Foundation

public enum UnaryOp: Sendable, Equatable {
    case relu
    case leakyRelu(Float)
    case sigmoid
    case tanh
    case exp
    case log
    case abs
}

extension Tensor {
    /// Applies `op` element-wise.
    public func unary(_ op: UnaryOp) -> Tensor {
        let n = count
        let out = Storage(count: n)
        let x = data, y = out.pointer
        parallelFor(n, grain: 32768) { r in
            switch op {
            case .relu: for i in r { y[i] = max(x[i], 0) }
            case .leakyRelu(let s): for i in r { let v = x[i]; y[i] = v > 0 ? v : v * s }
            case .sigmoid: for i in r { y[i] = 1 / (1 + Foundation.exp(-x[i])) }
            case .tanh: for i in r { y[i] = Foundation.tanh(x[i]) }
            case .exp: for i in r { y[i] = Foundation.exp(x[i]) }
            case .log: for i in r { y[i] = Foundation.log(x[i]) }
            case .abs: for i in r { y[i] = Swift.abs(x[i]) }
            }
        }
        return Tensor.result(shape: shape, storage: out, parents: [self]) { [self] t in
            let g = t.gradStorage!.pointer
            let dx = self.gradBuffer()
            parallelFor(n, grain: 32768) { r in
                switch op {
                case .relu: for i in r where x[i] > 0 { dx[i] += g[i] }
                case .leakyRelu(let s): for i in r { dx[i] += x[i] > 0 ? g[i] : g[i] * s }
                case .sigmoid: for i in r { let v = y[i]; dx[i] += g[i] * v * (1 - v) }
                case .tanh: for i in r { let v = y[i]; dx[i] += g[i] * (1 - v * v) }
                case .exp: for i in r { dx[i] += g[i] * y[i] }
                case .log: for i in r { dx[i] += g[i] / x[i] }
                case .abs: for i in r { dx[i] += x[i] > 0 ? g[i] : (x[i] < 0 ? -g[i] : 0) }
                }
            }
        }
    }

    public func relu() -> Tensor { unary(.relu) }
    /// Leaky ReLU with negative slope `slope` (the paper's lReLU uses 0.2).
    public func leakyRelu(_ slope: Float = 0.2) -> Tensor { unary(.leakyRelu(slope)) }
    public func sigmoid() -> Tensor { unary(.sigmoid) }
    public func tanh() -> Tensor { unary(.tanh) }
    public func exp() -> Tensor { unary(.exp) }
    public func log() -> Tensor { unary(.log) }
    public func abs() -> Tensor { unary(.abs) }
}
