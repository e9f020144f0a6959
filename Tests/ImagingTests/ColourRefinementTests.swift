import Foundation
@testable import Imaging
import Testing

/// The colour refinement of fg masks (Note [Colour refinement]).
struct ColourRefinementTests {
    /// A tight 24 × 24 crop of a nucleus: a bright disc of radius 10 (0.85) and, around it to the
    /// crop's corners, its glow (0.3), each with ±0.08 of deterministic texture. Returns the image
    /// and the centred discs of radius r as masks.
    static func nucleus() -> (image: Image, disc: (Double) -> [Bool]) {
        let n = 24
        func r(_ i: Int) -> Double { let dy = Double(i / n) - 11.5, dx = Double(i % n) - 11.5; return (dx * dx + dy * dy).squareRoot() }
        var image = Image(channels: 1, height: n, width: n)
        for i in 0..<(n * n) {
            image.pixels[i] = (r(i) <= 10 ? 0.85 : 0.3) + 0.16 * Float((i * 7919) % 17) / 16 - 0.08
        }
        return (image, { radius in (0..<(n * n)).map { r($0) <= radius } })
    }

    /// A mask that takes a ring of glow with the disc (what the adversarial teacher draws)
    /// shrinks to the disc: the ring resembles the crop's corners, outside the mask, more than the
    /// nucleus.
    @Test func aMaskThatTakesTheGlowShrinksToTheObject() {
        let (image, disc) = Self.nucleus()
        let teacher = disc(11.5), truth = disc(10)
        let refined = ColourRefinement.refined(teacher, image: image)
        #expect(ColourRefinement.iou(teacher, truth) < 0.8)
        #expect(ColourRefinement.iou(refined, truth) > 0.97, "refined \(ColourRefinement.iou(refined, truth))")
        // The right answer stays, and an empty or full mask is returned as it is.
        #expect(ColourRefinement.iou(ColourRefinement.refined(truth, image: image), truth) > 0.97)
        #expect(ColourRefinement.refined([Bool](repeating: false, count: 576), image: image).allSatisfy { !$0 })
        #expect(ColourRefinement.refined([Bool](repeating: true, count: 576), image: image).allSatisfy { $0 })
    }

    /// A refinement that moves the mask further than `agreement` allows is refused: the shrink
    /// above has IoU ≈ 0.76 with the teacher's mask, so at 0.9 the teacher's mask comes back.
    @Test func aRefinementThatRewritesTheMaskIsRefused() {
        let (image, disc) = Self.nucleus()
        let teacher = disc(11.5)
        #expect(ColourRefinement.refined(teacher, image: image, agreement: 0.9) == teacher)
        #expect(ColourRefinement.refined(teacher, image: image, agreement: 0.7) != teacher)
    }

    /// Opening removes a one-pixel speck and keeps a 3 × 3 block; the largest component wins.
    @Test func openingAndLargestComponent() {
        var m = [Bool](repeating: false, count: 100)
        m[11] = true
        for y in 4..<7 { for x in 4..<7 { m[y * 10 + x] = true } }
        let opened = ColourRefinement.opened(m, height: 10, width: 10)
        #expect(!opened[11] && opened[5 * 10 + 5])
        var two = [Bool](repeating: false, count: 100)
        two[0] = true
        for x in 5..<9 { two[50 + x] = true }
        #expect(ColourRefinement.largestComponent(two, height: 10, width: 10) == (0..<100).map { (55..<59).contains($0) })
    }
}
