// Procedural textures for the synthetic data sets: integer-hash value noise, summed over
// octaves. Deterministic functions of (seed, x, y); no state, no allocation per pixel.

/// A 32-bit integer hash (Chris Wellons' lowbias32) of `x`.
@inline(__always)
func lowbias32(_ x: UInt32) -> UInt32 {
    var h = x
    h ^= h >> 16
    h = h &* 0x7feb_352d
    h ^= h >> 15
    h = h &* 0x846c_a68b
    h ^= h >> 16
    return h
}

/// A value in [0, 1) for lattice point (x, y) of noise `seed`.
@inline(__always)
func latticeValue(_ seed: UInt32, _ x: Int, _ y: Int) -> Float {
    let h = lowbias32(seed ^ lowbias32(UInt32(truncatingIfNeeded: x) &+ lowbias32(UInt32(truncatingIfNeeded: y) &+ 0x9e37_79b9)))
    return Float(h >> 8) * 0x1p-24
}

/// Smooth value noise in [0, 1) at (x, y) with lattice spacing `cell` pixels.
func valueNoise(seed: UInt32, x: Float, y: Float, cell: Float) -> Float {
    let fx = x / cell, fy = y / cell
    let x0 = Int(fx.rounded(.down)), y0 = Int(fy.rounded(.down))
    var tx = fx - Float(x0), ty = fy - Float(y0)
    tx = tx * tx * (3 - 2 * tx)
    ty = ty * ty * (3 - 2 * ty)
    let a = latticeValue(seed, x0, y0), b = latticeValue(seed, x0 + 1, y0)
    let c = latticeValue(seed, x0, y0 + 1), d = latticeValue(seed, x0 + 1, y0 + 1)
    return (a + (b - a) * tx) * (1 - ty) + (c + (d - c) * tx) * ty
}

/// Fractal (octave-summed) value noise in [0, 1): cells `cell`, `cell`/2, ... with halving weights.
func fractalNoise(seed: UInt32, x: Float, y: Float, cell: Float, octaves: Int) -> Float {
    var sum: Float = 0, weight: Float = 1, total: Float = 0, size = cell
    for o in 0..<octaves {
        sum += weight * valueNoise(seed: seed &+ UInt32(o) &* 0x68e3_1da4, x: x, y: y, cell: max(size, 1))
        total += weight
        weight *= 0.5
        size *= 0.5
    }
    return sum / total
}

/// A colour as three floats in [0, 1].
typealias RGB = SIMD3<Float>

/// Clamps each component to [0, 1].
@inline(__always)
func clamp01(_ v: RGB) -> RGB { simd_clamp01(v) }

@inline(__always)
func simd_clamp01(_ v: RGB) -> RGB { RGB(min(max(v.x, 0), 1), min(max(v.y, 0), 1), min(max(v.z, 0), 1)) }
