// Storage: the Float32 memory behind tensors and gradients, recycled across training steps.
import Foundation

/// A block of Float32 memory: owned (from the pool), or a view into a larger block
/// (a parameter's gradient inside the fused gradient buffer that DDP all-reduces).
///
/// Owned blocks return to `StoragePool` when released, so the same shapes allocated every
/// training step reuse the same memory instead of going through malloc and page faults.
public final class Storage: @unchecked Sendable {
    /// Number of floats.
    public let count: Int
    /// The first float. Valid while this object lives.
    public let pointer: UnsafeMutablePointer<Float>
    private let owner: AnyObject?
    private let owned: Bool

    /// New uninitialised memory for `count` floats (from the pool when one is free).
    public init(count: Int) {
        self.count = count
        self.pointer = StoragePool.shared.take(count)
        self.owner = nil
        self.owned = true
    }

    /// New memory filled with `value`.
    public convenience init(count: Int, repeating value: Float) {
        self.init(count: count)
        if value == 0 { pointer.update(repeating: 0, count: count) } else { pointer.update(repeating: value, count: count) }
    }

    /// A view of `count` floats at `offset` inside `base`; keeps `base` alive.
    public init(viewOf base: Storage, offset: Int, count: Int) {
        precondition(offset >= 0 && offset + count <= base.count,
                     "Storage view [\(offset), \(offset + count)) outside a block of \(base.count)")
        self.count = count
        self.pointer = base.pointer + offset
        self.owner = base
        self.owned = false
    }

    deinit {
        if owned { StoragePool.shared.give(pointer, count) }
    }

    /// The floats as a buffer pointer.
    public var buffer: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(start: pointer, count: count) }

    /// Sets every float to zero.
    public func zero() { pointer.update(repeating: 0, count: count) }

    /// A copy of the floats as an array.
    public var array: [Float] { Array(buffer) }
}

/// Free lists of float blocks keyed by exact size, shared by all storages.
///
/// Training allocates the same few hundred shapes every step; keeping released blocks per
/// size makes the second and later steps allocation-free. `limitBytes` caps what is kept.
public final class StoragePool: @unchecked Sendable {
    public static let shared = StoragePool()
    private var free: [Int: [UnsafeMutablePointer<Float>]] = [:]
    private var keptBytes = 0
    private let lock = NSLock()
    /// The most memory the pool keeps for reuse (beyond that, blocks go back to the system).
    public var limitBytes = 8 << 30
    /// Whether released blocks are filled with NaN before reuse (`CARVE_POISON_RELEASED=1`, which
    /// `make test` sets): a read through the pointer of a tensor that is gone (`Tensor.data`), or
    /// of memory taken with `Storage(count:)` and never written, then gives NaN at once, instead of
    /// whatever the block's next owner wrote — which only shows when another thread allocates in
    /// between (a test that failed on one CI machine and passed on others).
    public let poisonsReleased: Bool

    /// A pool (the process has one, `shared`); `poisonsReleased` defaults to the environment's.
    public init(poisonsReleased: Bool = ProcessInfo.processInfo.environment["CARVE_POISON_RELEASED"] == "1") {
        self.poisonsReleased = poisonsReleased
    }

    func take(_ count: Int) -> UnsafeMutablePointer<Float> {
        let n = max(count, 1)
        lock.lock()
        if var list = free[n], let p = list.popLast() {
            free[n] = list
            keptBytes -= n * 4
            lock.unlock()
            return p
        }
        lock.unlock()
        let raw = UnsafeMutableRawPointer.allocate(byteCount: n * 4, alignment: 64)
        return raw.bindMemory(to: Float.self, capacity: n)
    }

    func give(_ p: UnsafeMutablePointer<Float>, _ count: Int) {
        let n = max(count, 1)
        if poisonsReleased { p.update(repeating: .nan, count: n) }
        lock.lock()
        if keptBytes + n * 4 <= limitBytes {
            free[n, default: []].append(p)
            keptBytes += n * 4
            lock.unlock()
        } else {
            lock.unlock()
            UnsafeMutableRawPointer(p).deallocate()
        }
    }

    /// Returns every kept block to the system.
    public func drain() {
        lock.lock()
        for (_, list) in free { for p in list { UnsafeMutableRawPointer(p).deallocate() } }
        free = [:]
        keptBytes = 0
        lock.unlock()
    }
}
