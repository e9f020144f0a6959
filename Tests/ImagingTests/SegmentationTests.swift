import Foundation
@testable import Imaging
import Testing

/// hoc's instance representation (Note [Centre maps]) and whole-image stitching (Note
/// [Stitching windows]).
struct CentreMapsTests {
    /// The targets of two touching discs decode back to the two discs: the centreness is 0 on
    /// their shared outline, so their cores are apart although the foreground is one component.
    @Test func targetsOfTouchingDiscsDecodeToTheDiscs() {
        let (_, truth) = InstanceTests.discs(height: 24, width: 40, centreY: 12, centresX: [13, 26], radius: 7, value: 1)
        let (fg, centre) = CentreMaps.targets(visible: truth.labels.map(Int32.init), height: 24, width: 40)
        #expect(ClassicalSegmentation.components(fg.map { $0 > 0.5 }, height: 24, width: 40).count == 1)
        // Each disc's centre has centreness 1, its outline less than a third.
        #expect(centre[12 * 40 + 13] >= 0.9 && centre[12 * 40 + 26] >= 0.9, "\(centre[12 * 40 + 13]) \(centre[12 * 40 + 26])")
        #expect(centre[12 * 40 + 19] < 0.34 && centre[12 * 40 + 20] < 0.34, "\(centre[12 * 40 + 19]) \(centre[12 * 40 + 20])")
        #expect(fg.enumerated().allSatisfy { ($0.element == 1) == (truth.labels[$0.offset] != 0) })
        let labels = CentreMaps.decode(foreground: fg, centreness: centre, height: 24, width: 40)
        let m = InstanceMatching(predicted: labels, truth: truth)
        #expect(m.predictedCount == 2 && m.apByThreshold[8] == 1, "\(m)")  // every object at IoU ≥ 0.9
    }

    /// A big object whose learned centreness dips in its middle (two bumps, as on a textured
    /// nucleus) is two instances from the centreness alone and one once it is averaged with the
    /// foreground's distance transform over the object's radius.
    @Test func theForegroundsDistanceTransformBridgesADipInTheCentreness() {
        let h = 40, w = 40
        var fg = [Float](repeating: 0, count: h * w), centre = fg
        for y in 0..<h {
            for x in 0..<w {
                let dy = Float(y) - 19.5, dx = Float(x) - 19.5
                guard dx * dx + dy * dy <= 144 else { continue }
                fg[y * w + x] = 1
                // Bumps at x = 13 and x = 26, 0.2 between them.
                let a = max(0, 1 - ((dx + 6.5) * (dx + 6.5) + dy * dy) / 30), b = max(0, 1 - ((dx - 6.5) * (dx - 6.5) + dy * dy) / 30)
                centre[y * w + x] = max(a, b, 0.2)
            }
        }
        let alone = CentreMaps.decode(foreground: fg, centreness: centre, height: h, width: w)
        let bridged = CentreMaps.decode(foreground: fg, centreness: centre, height: h, width: w, objectRadius: 12)
        #expect(Set(alone.labels) == [0, 1, 2], "\(Set(alone.labels))")
        #expect(Set(bridged.labels) == [0, 1])
    }

    /// Foreground that no core reaches is still an instance; specks below an eighth of the median
    /// instance are dropped.
    @Test func coreLessForegroundIsAnInstanceAndSpecksAreNot() {
        let h = 20, w = 30
        var fg = [Float](repeating: 0, count: h * w), centre = fg
        for y in 2..<12 { for x in 2..<12 { fg[y * w + x] = 1; centre[y * w + x] = 0.9 } }  // with a core
        for y in 2..<12 { for x in 16..<26 { fg[y * w + x] = 1 } }                         // without one
        fg[18 * w + 28] = 1                                                                 // a speck
        let labels = CentreMaps.decode(foreground: fg, centreness: centre, height: h, width: w)
        #expect(Set(labels.labels) == [0, 1, 2])
        #expect(labels.labels[18 * w + 28] == 0)
    }

    /// With the objects' radius known, a hole in an object's foreground (a dark spot of a textured
    /// nucleus) is filled, and a fragment under an eighth of the objects' area is dropped, while
    /// a gap between objects open to the border is not filled.
    @Test func holesAreFilledAndFragmentsDroppedWhenTheObjectsSizeIsKnown() {
        let h = 30, w = 40
        var fg = [Float](repeating: 0, count: h * w), centre = fg
        for y in 3..<17 { for x in 3..<17 { fg[y * w + x] = 1; centre[y * w + x] = 0.9 } }   // 14 × 14 object
        for y in 8..<11 { for x in 8..<11 { fg[y * w + x] = 0 } }                           // a 3 × 3 hole
        for y in 22..<27 { for x in 30..<35 { fg[y * w + x] = 1; centre[y * w + x] = 0.9 } } // a 5 × 5 fragment
        let plain = CentreMaps.decode(foreground: fg, centreness: centre, height: h, width: w)
        #expect(plain.labels[9 * w + 9] == 0 && plain.labels[23 * w + 31] != 0)
        // Radius 9: area ≈ 254, holes under 127 px filled, instances under 31 px dropped (the
        // fragment's 25; without the radius only those under an eighth of the median, 187 / 8).
        let sized = CentreMaps.decode(foreground: fg, centreness: centre, height: h, width: w, objectRadius: 9)
        #expect(sized.labels[9 * w + 9] != 0 && sized.labels[9 * w + 9] == sized.labels[4 * w + 4])
        #expect(sized.labels[23 * w + 31] == 0 && Set(sized.labels) == [0, 1])
        #expect(sized.labels[20 * w + 20] == 0)
    }

    /// Note [Merged instances]: two overlapping discs whose cores met (one flat centreness over
    /// both, so one marker) are split at their neck once the objects' size says the instance is
    /// twice too big; an ellipse of the same area is convex and stays whole; and the same pair
    /// where objects are a quarter of the size (the pair ≈ 8 objects' area) is another kind of
    /// thing, left whole.
    @Test func aMergedPairIsSplitAtItsNeckAndAConvexObjectIsNot() {
        let h = 30, w = 50
        func decoded(objectRadius: Float = 8, _ inside: (Float, Float) -> Bool) -> LabelMap {
            var fg = [Float](repeating: 0, count: h * w), centre = fg
            for y in 0..<h { for x in 0..<w where inside(Float(y), Float(x)) { fg[y * w + x] = 1; centre[y * w + x] = 0.9 } }
            return CentreMaps.decode(foreground: fg, centreness: centre, height: h, width: w, objectRadius: objectRadius)
        }
        // Discs of radius 8 (area 201), centres 14 apart: the union ≈ 392 px ≥ 1.6 × 201, its
        // neck's half-width √(64 − 49) ≈ 3.9, under 0.6 × 8.
        let twoDiscs: (Float, Float) -> Bool = { y, x in
            (x - 17) * (x - 17) + (y - 15) * (y - 15) <= 64 || (x - 31) * (x - 31) + (y - 15) * (y - 15) <= 64
        }
        let pair = decoded(twoDiscs)
        #expect(Set(pair.labels).count == 3, "\(Set(pair.labels))")
        #expect(pair.labels[15 * w + 17] != 0 && pair.labels[15 * w + 31] != 0 && pair.labels[15 * w + 17] != pair.labels[15 * w + 31])
        // Semi-axes 16 and 8: the area of two discs, convex.
        let ellipse = decoded { y, x in (x - 25) * (x - 25) / 256 + (y - 15) * (y - 15) / 64 <= 1 }
        #expect(Set(ellipse.labels) == [0, 1], "\(Set(ellipse.labels))")
        // Objects of radius 4 (area 50): the pair is 392 / 50 ≈ 7.8 objects' area, over 4.
        let big = decoded(objectRadius: 4, twoDiscs)
        #expect(big.labels[15 * w + 17] != 0 && big.labels[15 * w + 17] == big.labels[15 * w + 31])
    }

    /// `withoutHoles` fills enclosed background under the size limit only, never background that
    /// reaches the image border.
    @Test func withoutHolesFillsOnlySmallEnclosedHoles() {
        let h = 12, w = 24
        var mask = [Bool](repeating: false, count: h * w)
        for y in 1..<11 { for x in 1..<11 { mask[y * w + x] = true } }     // a ring with a 4 × 4 hole
        for y in 4..<8 { for x in 4..<8 { mask[y * w + x] = false } }
        for y in 1..<11 { for x in 13..<23 { mask[y * w + x] = true } }    // a ring with a 6 × 6 hole
        for y in 3..<9 { for x in 15..<21 { mask[y * w + x] = false } }
        let filled = ClassicalSegmentation.withoutHoles(mask, height: h, width: w, maxArea: 20)
        #expect(filled[5 * w + 5] && !filled[5 * w + 17] && !filled[0] && !filled[5 * w + 12])
        #expect(filled.filter { $0 }.count == mask.filter { $0 }.count + 16)
    }
}

struct SlidingWindowsTests {
    /// Windows start at 0, s, 2s, … and the last one is flush with the far border.
    @Test func windowsTileTheImage() {
        #expect(SlidingWindows.starts(length: 64, window: 64, stride: 32) == [0])
        #expect(SlidingWindows.starts(length: 100, window: 64, stride: 32) == [0, 32, 36])
        #expect(SlidingWindows.starts(length: 128, window: 64, stride: 32) == [0, 32, 64])
        let windows = SlidingWindows(height: 70, width: 130, window: 64)
        #expect(windows.origins.count == 2 * 4)
        // Stitching a constant map gives the constant everywhere (the weights normalise).
        let maps = windows.stitch(channels: 2, batch: 3) { range in [Float](repeating: 0.25, count: range.count * 2 * 64 * 64) }
        #expect(maps.allSatisfy { abs($0 - 0.25) < 1e-6 })
    }

    /// An object that straddles the border between two windows is one instance: a disc centred
    /// on the right edge of the first window (x = 64 of a 64-pixel window) is seen cut in half
    /// by windows 0 and 2 and whole by window 1; per-window maps (the centre maps of what each
    /// window sees, with the window border as the edge of its world) are stitched and decoded
    /// once. Decoding each window on its own and pasting the ids would give the disc two or
    /// three ids; the stitched maps give it one, of the disc's area.
    @Test func anObjectStraddlingTwoWindowsStaysOneInstance() {
        let h = 64, w = 160, p = 64
        let (image, truth) = InstanceTests.discs(height: h, width: w, centreY: 32, centresX: [64, 130], radius: 12, value: 0.9)
        let windows = SlidingWindows(height: h, width: w, window: p)
        #expect(windows.origins.map(\.x) == [0, 32, 64, 96])
        let maps = windows.stitch(channels: 2) { range in
            var out: [Float] = []
            for n in range {
                let o = windows.origins[n]
                let patch = image.cropped(x: o.x, y: o.y, width: p, height: p)
                let (seen, _) = ClassicalSegmentation.components(patch.pixels.map { $0 > 0.5 }, height: p, width: p)
                let (fg, centre) = CentreMaps.targets(visible: seen, height: p, width: p)
                out += fg + centre
            }
            return out
        }
        let labels = CentreMaps.decode(foreground: Array(maps[0..<(h * w)]), centreness: Array(maps[(h * w)...]), height: h, width: w)
        let m = InstanceMatching(predicted: labels, truth: truth)
        #expect(m.predictedCount == 2 && m.apByThreshold[8] == 1, "\(m)")
        // The naive alternative fails: window 0 alone sees the straddling disc as an object of
        // its own, cut at x = 63.
        let (cut, _) = ClassicalSegmentation.components(image.cropped(x: 0, y: 0, width: p, height: p).pixels.map { $0 > 0.5 },
                                                        height: p, width: p)
        #expect(cut[32 * p + 63] != 0 && cut.filter { $0 != 0 }.count < truth.labels.filter { $0 == 1 }.count * 2 / 3)
    }
}

struct LabelMapInstanceTests {
    @Test func instancesHaveTheirAreaCentroidAndBox() {
        var labels = [UInt16](repeating: 0, count: 6 * 8)
        for y in 1..<3 { for x in 2..<5 { labels[y * 8 + x] = 7 } }  // 2 × 3 block
        labels[5 * 8 + 7] = 2
        let map = LabelMap(height: 6, width: 8, labels: labels)
        let found = map.instances()
        #expect(found.map(\.id) == [2, 7])
        #expect(found[1] == InstanceRecord(id: 7, area: 6, centroidX: 3, centroidY: 1.5, minX: 2, minY: 1, maxX: 4, maxY: 2))
        #expect(found[1].csvRow == "7,6,3.00,1.50,2,1,4,2")
        // Nearest-neighbour scaling by 2 keeps ids and quadruples areas.
        #expect(map.resizedNearest(height: 12, width: 16).instances().map(\.area) == [4, 24])
        // Outlines: the block's 6 pixels are all on its outline (it is 2 rows high), drawn in colour.
        let outlined = map.outlined(on: Image(channels: 1, height: 6, width: 8, repeating: 0.5))
        #expect(outlined.channels == 3)
        #expect((0..<3).contains { outlined[$0, 1, 2] != 0.5 })
        #expect(outlined[0, 0, 0] == 0.5 && outlined[1, 0, 0] == 0.5)
    }
}
