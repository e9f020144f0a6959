import Foundation
@testable import Imaging
import Testing

/// GrabCut from a box and its pieces (Note [GrabCut baseline]): the graph cut against every
/// labelling of small graphs, the colour mixture against its closed form.
struct GrabCutTests {
    /// Deterministic numbers in [0, 1) (a 64-bit LCG's top bits).
    struct Numbers {
        var state: UInt64
        mutating func next() -> Double {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Double(state >> 11) / Double(1 << 53)
        }
    }

    /// On 40 random graphs of 9 nodes (random costs, a random half of all pairs linked), the
    /// cut's cost is the least over all 512 labellings, and the labelling it returns costs that.
    @Test func theGraphCutIsTheMinimumOverEveryLabelling() {
        var r = Numbers(state: 7)
        let n = 9
        for _ in 0..<40 {
            let object = (0..<n).map { _ in (r.next() * 10).rounded() }
            let background = (0..<n).map { _ in (r.next() * 10).rounded() }
            var edges: [(Int, Int, Double)] = []
            for a in 0..<n { for b in (a + 1)..<n where r.next() < 0.5 { edges.append((a, b, (r.next() * 6).rounded())) } }
            func cost(_ label: [Bool]) -> Double {
                var c = 0.0
                for i in 0..<n { c += label[i] ? object[i] : background[i] }
                for (a, b, w) in edges where label[a] != label[b] { c += w }
                return c
            }
            var cut = GraphCut(nodes: n)
            for i in 0..<n { cut.addTerminals(i, object: object[i], background: background[i]) }
            for (a, b, w) in edges { cut.addEdge(a, b, capacity: w) }
            let (value, labels) = cut.minimumCut()
            let best = (0..<(1 << n)).map { bits in cost((0..<n).map { bits >> $0 & 1 == 1 }) }.min()!
            // Costs are integers, so the sums are exact in Double.
            #expect(value == best)
            #expect(cost(labels) == best)
        }
    }

    /// The doc comment's example: a strong link does not overrule node 0's preference.
    @Test func theDocumentedCut() {
        var cut = GraphCut(nodes: 2)
        cut.addTerminals(0, object: 0, background: 5)
        cut.addTerminals(1, object: 4, background: 1)
        cut.addEdge(0, 1, capacity: 2)
        let (cost, object) = cut.minimumCut()
        #expect(cost == 3 && object == [true, false])
    }

    /// One component: log p is the Gaussian's, with the sample covariance plus the ridge;
    /// Orchard–Bouman splitting separates two clusters along the axis that divides them.
    @Test func theMixtureIsTheGaussianOfItsSamplesAndSplittingFindsClusters() {
        let samples: [SIMD3<Double>] = [SIMD3(0, 0, 0), SIMD3(0.2, 0, 0), SIMD3(0, 0.4, 0), SIMD3(0, 0, 0.6)]
        let model = GaussianMixture(samples, components: [0, 0, 0, 0])
        // Mean (0.05, 0.1, 0.15); covariance (population): by hand.
        let mean = SIMD3(0.05, 0.1, 0.15)
        var cov = [[Double]](repeating: [0, 0, 0], count: 3)
        for x in samples { let d = x - mean; for i in 0..<3 { for j in 0..<3 { cov[i][j] += d[i] * d[j] / 4 } } }
        for i in 0..<3 { cov[i][i] += GaussianMixture.ridge }
        let det = cov[0][0] * (cov[1][1] * cov[2][2] - cov[1][2] * cov[2][1])
            - cov[0][1] * (cov[1][0] * cov[2][2] - cov[1][2] * cov[2][0])
            + cov[0][2] * (cov[1][0] * cov[2][1] - cov[1][1] * cov[2][0])
        // At the mean the quadratic form is 0: log p = −½ log((2π)³ det Σ).
        let expected = -0.5 * (3 * log(2 * Double.pi) + log(det))
        #expect(abs(model.logDensity(mean) - expected) < 1e-9 * abs(expected))
        // Away from the mean, against Σ⁻¹ by solving Σ v = d (Cramer's rule is what the code does;
        // check Σ · (Σ⁻¹ d) = d instead).
        let x = SIMD3(0.3, -0.1, 0.2), d = x - mean
        let (inverse, _) = GaussianMixture.inverse((SIMD3(cov[0][0], cov[0][1], cov[0][2]),
                                                    SIMD3(cov[1][0], cov[1][1], cov[1][2]),
                                                    SIMD3(cov[2][0], cov[2][1], cov[2][2])))
        let v = SIMD3((inverse.0 * d).sum(), (inverse.1 * d).sum(), (inverse.2 * d).sum())
        for i in 0..<3 { #expect(abs(cov[i][0] * v.x + cov[i][1] * v.y + cov[i][2] * v.z - d[i]) < 1e-9) }
        #expect(abs(model.logDensity(x) - (expected - 0.5 * (v * d).sum())) < 1e-9 * abs(expected))

        var r = Numbers(state: 3)
        let two = (0..<40).map { i -> SIMD3<Double> in
            let base: SIMD3<Double> = i < 20 ? SIMD3(0.2, 0.2, 0.2) : SIMD3(0.8, 0.3, 0.2)
            return base + SIMD3(r.next(), r.next(), r.next()) * 0.05
        }
        let split = GaussianMixture.split(two, into: 2)
        #expect(Set(split[..<20]).count == 1 && Set(split[20...]).count == 1 && split[0] != split[20])
        // Fewer distinct samples than components: it stops splitting, without a trap.
        #expect(Set(GaussianMixture.split([SIMD3(0.5, 0.5, 0.5), SIMD3(0.5, 0.5, 0.5)], into: 5)).count == 1)
    }

    /// A 48 × 48 crop: a disc of radius 13 in two reds (a textured object) on a background of
    /// green and blue stripes, each value ±0.05 of noise. From the box (ring m = 0.1 as certain
    /// background) and from a tight crop's frame, GrabCut finds the disc; the box does not.
    @Test func grabCutFindsATexturedObjectInItsBox() {
        let n = 48, c = 23.5
        var r = Numbers(state: 11)
        var image = Image(channels: 3, height: n, width: n)
        var disc = [Bool](repeating: false, count: n * n)
        for y in 0..<n {
            for x in 0..<n {
                let inside = ((Double(x) - c) * (Double(x) - c) + (Double(y) - c) * (Double(y) - c)).squareRoot() <= 13
                disc[y * n + x] = inside
                let colour: [Float] = inside ? ((x / 3) % 2 == 0 ? [0.8, 0.2, 0.2] : [0.6, 0.1, 0.3])
                                             : ((y / 4) % 2 == 0 ? [0.2, 0.6, 0.3] : [0.2, 0.3, 0.7])
                for ch in 0..<3 { image[ch, y, x] = colour[ch] + Float(r.next() - 0.5) * 0.1 }
            }
        }
        func iou(_ a: [Bool]) -> Double {
            let both = zip(a, disc).filter { $0 && $1 }.count, either = zip(a, disc).filter { $0 || $1 }.count
            return Double(both) / Double(either)
        }
        // The ring: 4 px of the 48 (m = 0.1 of a 40 px box).
        let ring = (0..<(n * n)).map { i in !((4..<44).contains(i / n) && (4..<44).contains(i % n)) }
        let fromBox = GrabCut.segment(image, sureBackground: ring)
        let fromFrame = GrabCut.segment(image, sureBackground: GrabCut.frame(height: n, width: n))
        #expect(iou(ring.map { !$0 }) < 0.4)
        #expect(iou(fromBox) > 0.97, "from the box \(iou(fromBox))")
        #expect(iou(fromFrame) > 0.97, "from the frame \(iou(fromFrame))")
        // The frame is the border pixels; no certain background gives the start back.
        let frame = GrabCut.frame(height: 3, width: 4)
        #expect(frame == [true, true, true, true, true, false, false, true, true, true, true, true])
        #expect(GrabCut.segment(image, sureBackground: [Bool](repeating: false, count: n * n)).allSatisfy { $0 })
    }
}

/// GrabCut seeded by a model's mask (`refine=grabcut`): the confident core stays object even
/// where its colour is the background's.
struct SeededGrabCutTests {
    /// A 40 × 40 crop: a red square (rows and columns 8 … 31) holding a green patch (rows and
    /// columns 14 … 19), on green. From the box alone the green patch goes to the background (its
    /// colour is the ring's); with a model's mask confident over the square it stays object.
    @Test func theConfidentCoreStaysObject() {
        let n = 40
        var image = Image(channels: 3, height: n, width: n)
        var square = [Bool](repeating: false, count: n * n)
        var r = GrabCutTests.Numbers(state: 5)
        for y in 0..<n {
            for x in 0..<n {
                let inSquare = (8...31).contains(y) && (8...31).contains(x)
                let patch = (14...19).contains(y) && (14...19).contains(x)
                square[y * n + x] = inSquare
                let colour: [Float] = inSquare && !patch ? [0.8, 0.2, 0.2] : [0.2, 0.7, 0.3]
                for ch in 0..<3 { image[ch, y, x] = colour[ch] + Float(r.next() - 0.5) * 0.06 }
            }
        }
        let ring = (0..<(n * n)).map { i in !((4..<36).contains(i / n) && (4..<36).contains(i % n)) }
        let fromBox = GrabCut.segment(image, sureBackground: ring)
        #expect(!fromBox[16 * n + 16])  // the patch looks like the ring
        let soft = square.map { Float($0 ? 0.95 : 0.1) }
        let seeded = GrabCut.seeded(image, soft: soft, sureBackground: ring)
        #expect(seeded[16 * n + 16] && seeded == square, "\(zip(seeded, square).filter { $0 != $1 }.count) pixels differ")
        // A mask nowhere confident seeds nothing: GrabCut from the box.
        #expect(GrabCut.seeded(image, soft: soft.map { $0 * 0.5 }, sureBackground: ring) == fromBox)
    }
}
