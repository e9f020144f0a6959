// N = batch, C = channels, H × W = spatial. All tensors are NCHW (or any rank), Float32, contiguous.

/// A Float32 tensor that records how it was computed, for reverse-mode autodiff.
///
/// Tensors are contiguous and row-major (NCHW for images). An op whose input `requiresGrad`
/// returns a tensor that remembers its inputs and a backward rule; `loss.backward()` walks
/// those rules in reverse and accumulates `grad` into every tensor that requires it.
///
/// ```swift
/// let x = Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6], requiresGrad: true)
/// let loss = (x * x).sum()
/// loss.backward()   // x.grad == 2·x
/// ```
public final class Tensor {
    /// The size of each dimension.
    public let shape: [Int]
    /// The values, row-major.
    public let storage: Storage
    /// True when gradients flow into this tensor (parameters, gradcheck inputs, and op results
    /// computed from such tensors while recording).
    public var requiresGrad: Bool
    /// Accumulated gradient (same shape), allocated on first use.
    public internal(set) var gradStorage: Storage?
    /// A name for messages and checkpoints (parameters carry their dotted name).
    public var name: String?

    // The tape: the inputs this tensor was computed from and the rule that sends its gradient
    // back to them. Cleared after `backward()` so intermediate memory is released.
    var parents: [Tensor] = []
    var backwardRule: ((Tensor) -> Void)?

    /// A tensor over existing storage (no copy).
    public init(shape: [Int], storage: Storage, requiresGrad: Bool = false) {
        precondition(shape.reduce(1, *) == storage.count,
                     "Tensor: shape \(shape) needs \(shape.reduce(1, *)) values, storage has \(storage.count)")
        self.shape = shape
        self.storage = storage
        self.requiresGrad = requiresGrad
    }

    /// A tensor of `shape` filled with `value`.
    public convenience init(shape: [Int], repeating value: Float = 0, requiresGrad: Bool = false) {
        self.init(shape: shape, storage: Storage(count: shape.reduce(1, *), repeating: value),
                  requiresGrad: requiresGrad)
    }

    /// A tensor of `shape` holding `values` (row-major).
    public convenience init(shape: [Int], values: [Float], requiresGrad: Bool = false) {
        precondition(values.count == shape.reduce(1, *), "Tensor: \(values.count) values for shape \(shape)")
        let s = Storage(count: values.count)
        values.withUnsafeBufferPointer { s.pointer.update(from: $0.baseAddress!, count: values.count) }
        self.init(shape: shape, storage: s, requiresGrad: requiresGrad)
    }

    /// A tensor of `shape` whose values `fill` writes (uninitialised memory before that).
    public convenience init(shape: [Int], requiresGrad: Bool = false, fill: (UnsafeMutableBufferPointer<Float>) -> Void) {
        let s = Storage(count: shape.reduce(1, *))
        fill(s.buffer)
        self.init(shape: shape, storage: s, requiresGrad: requiresGrad)
    }

    /// A scalar tensor.
    public convenience init(_ value: Float) { self.init(shape: [], values: [value]) }

    // MARK: - Reading

    /// Number of elements.
    public var count: Int { storage.count }
    /// Number of dimensions.
    public var rank: Int { shape.count }
    /// The values as an array (a copy).
    public var array: [Float] { storage.array }
    /// The value of a one-element tensor.
    public var item: Float {
        precondition(count == 1, "item: tensor of shape \(shape) has \(count) values")
        return storage.pointer[0]
    }
    /// Pointer to the values, valid only while this tensor lives: Swift may release a tensor right
    /// after its last use, and its block then goes back to `StoragePool` for the next allocation
    /// (on any thread). Hold the tensor (or use `array`) when the pointer outlives the expression:
    /// `f(x).data` of a temporary dangles.
    @inlinable public var data: UnsafeMutablePointer<Float> { storage.pointer }

    /// The gradient as a tensor of the same shape, or nil before any was accumulated.
    public var grad: Tensor? { gradStorage.map { Tensor(shape: shape, storage: $0) } }

    /// The gradient memory, allocated and zeroed on first use.
    public func gradBuffer() -> UnsafeMutablePointer<Float> {
        if let g = gradStorage { return g.pointer }
        let g = Storage(count: count, repeating: 0)
        gradStorage = g
        return g.pointer
    }

    /// Makes this tensor's gradient live in `storage` (a view into a fused buffer).
    public func setGradStorage(_ storage: Storage) {
        precondition(storage.count == count, "setGradStorage: \(storage.count) floats for shape \(shape)")
        gradStorage = storage
    }

    /// Zeroes the accumulated gradient (keeps its memory).
    public func zeroGrad() { gradStorage?.zero() }

    /// The same values without history: gradients do not flow through the result.
    public func detached() -> Tensor { Tensor(shape: shape, storage: storage) }

    /// A copy of the values (new storage, no history).
    public func copy() -> Tensor {
        Tensor(shape: shape) { out in out.baseAddress!.update(from: data, count: count) }
    }

    /// Overwrites the values with `other`'s (same count); no history.
    public func assign(_ other: Tensor) {
        precondition(other.count == count, "assign: \(other.shape) into \(shape)")
        data.update(from: other.data, count: count)
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let head = array.prefix(8).map { "\($0)" }.joined(separator: ", ")
        return "Tensor\(shape)[\(head)\(count > 8 ? ", …" : "")]"
    }
}
