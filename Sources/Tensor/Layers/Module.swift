// Modules: layers and networks with named parameters and buffers in one stable order.

/// A layer or a network of layers, with parameters (trained) and buffers (saved, not trained).
///
/// Names are dotted paths in declaration order (`block1.conv.weight`), like MLX's
/// `parameters().flattened()` and PyTorch's `state_dict()`. That one ordered list feeds the
/// checkpoint (`G/…`, `D/…`), the start-up broadcast, the fused gradient buffer and the
/// optimizer state, so every rank must build the same modules in the same order.
///
/// ```swift
/// final class Block: Module {
///     let conv = Conv2d(inputChannels: 3, outputChannels: 8, kernelSize: 3, padding: 1)
///     var children: [(String, any Module)] { [("conv", conv)] }
/// }
/// ```
public protocol Module: AnyObject {
    /// This module's own trainable tensors (not its children's), in declaration order.
    var ownParameters: [(String, Tensor)] { get }
    /// This module's own saved-but-not-trained tensors (BN running statistics, spectral-norm u).
    var ownBuffers: [(String, Tensor)] { get }
    /// Sub-modules with their names, in declaration order.
    var children: [(String, any Module)] { get }
    /// Training mode (batch statistics, power iterations) or evaluation mode.
    var isTraining: Bool { get set }
    /// Fills this module's own parameters (not children's) with their initial values.
    func resetParameters(seed: UInt64, path: String)
}

extension Module {
    public var ownParameters: [(String, Tensor)] { [] }
    public var ownBuffers: [(String, Tensor)] { [] }
    public var children: [(String, any Module)] { [] }
    public func resetParameters(seed: UInt64, path: String) {}

    /// Every parameter of this module and its descendants, with dotted names, in declaration order.
    public func namedParameters(prefix: String = "") -> [(name: String, tensor: Tensor)] {
        var out = ownParameters.map { (name: prefix + $0.0, tensor: $0.1) }
        for (name, child) in children { out += child.namedParameters(prefix: prefix + name + ".") }
        return out
    }

    /// Every buffer of this module and its descendants, with dotted names, in declaration order.
    public func namedBuffers(prefix: String = "") -> [(name: String, tensor: Tensor)] {
        var out = ownBuffers.map { (name: prefix + $0.0, tensor: $0.1) }
        for (name, child) in children { out += child.namedBuffers(prefix: prefix + name + ".") }
        return out
    }

    /// The parameters alone, in order.
    public var parameters: [Tensor] { namedParameters().map(\.tensor) }

    /// Sets training (true) or evaluation (false) mode here and in every descendant.
    public func train(_ on: Bool = true) {
        isTraining = on
        for (_, child) in children { child.train(on) }
    }

    /// Initialises every parameter from `seed`: each module draws from a generator keyed by its
    /// own dotted path, so a parameter's initial value does not depend on the others.
    public func initialize(seed: UInt64, path: String = "") {
        resetParameters(seed: seed, path: path)
        for (name, child) in children { child.initialize(seed: seed, path: path + name + ".") }
    }

    /// Zeroes the gradients of every parameter.
    public func zeroGrad() { for p in parameters { p.zeroGrad() } }
}

extension Tensor {
    /// A trainable tensor (requires gradients) of `shape`, zero-filled until initialised.
    public static func parameter(_ shape: [Int]) -> Tensor { Tensor(shape: shape, repeating: 0, requiresGrad: true) }

    /// Fills with U(−bound, bound) from a generator keyed by (seed, purpose).
    public func fillUniform(bound: Float, seed: UInt64, purpose: String) {
        var rng = CounterRNG(seed: seed, purpose: purpose)
        rng.fillUniform(storage.buffer, -bound, bound)
    }

    /// Fills with N(mean, std²) from a generator keyed by (seed, purpose).
    public func fillNormal(mean: Float = 0, std: Float, seed: UInt64, purpose: String) {
        var rng = CounterRNG(seed: seed, purpose: purpose)
        rng.fillNormal(storage.buffer, mean: mean, std: std)
    }

    /// A tensor of standard normal values keyed by (seed, purpose, step, index).
    public static func randomNormal(_ shape: [Int], seed: UInt64, purpose: String, step: Int = 0, index: Int = 0)
        -> Tensor
    {
        var rng = CounterRNG(seed: seed, purpose: purpose, step: step, index: index)
        return Tensor(shape: shape) { rng.fillNormal($0) }
    }
}
