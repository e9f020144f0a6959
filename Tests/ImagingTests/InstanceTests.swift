@testable import Imaging
import Testing

/// Instance matching (AP as DSB 2018 / StarDist count it) and the classical baseline, on maps
/// small enough to check by hand.
struct InstanceTests {
    static func map(_ rows: [String]) -> LabelMap {
        LabelMap(height: rows.count, width: rows[0].count,
                 labels: rows.flatMap { $0.map { $0 == "." ? 0 : UInt16(String($0))! } })
    }

    @Test func apCountsMatchedPairsOverTheUnionOfBothSets() {
        // Truth: object 1 (4 px), object 2 (4 px), object 3 (2 px).
        // Predicted: 1 covers object 1 exactly (IoU 1); 2 covers 3 of object 2's pixels plus
        // one more (IoU 3/5 = 0.6); 3 is a false positive; object 3 is missed.
        let truth = Self.map(["11..22",
                              "11..22",
                              "......",
                              "33...."])
        let predicted = Self.map(["11..2.",
                                  "11.222",
                                  ".....3",
                                  "......"])
        let m = InstanceMatching(predicted: predicted, truth: truth)
        #expect(m.trueCount == 3 && m.predictedCount == 3)
        #expect(m.bestIoU == [1, 0.6, 0])
        // τ = 0.5, 0.55: TP 2, FP 1, FN 1 → 2/4. τ = 0.6 … 0.95: IoU 0.6 is not > 0.6 → TP 1 → 1/5.
        #expect(m.apByThreshold == [0.5, 0.5] + [Double](repeating: 0.2, count: 8))
        #expect(m.ap50 == 0.5)
        #expect(abs(m.apMean - (2 * 0.5 + 8 * 0.2) / 10) < 1e-12)
        #expect(m.countError == 0)
        let empty = LabelMap(height: 4, width: 6, labels: [UInt16](repeating: 0, count: 24))
        #expect(InstanceMatching(predicted: empty, truth: empty).ap50 == 1)
        #expect(InstanceMatching(predicted: empty, truth: truth).countError == 1)
    }

    @Test func otsuSplitsTwoLevels() {
        let values = [Float](repeating: 0.2, count: 50) + [Float](repeating: 0.8, count: 30)
        let t = ClassicalSegmentation.otsu(values)
        #expect(t > 0.2 && t < 0.8)
    }

    /// Note [Outlier tail]: 40 × 50 pixels, dim objects (0.06) on a black background (0.02) in the
    /// left 20 columns, and 8 saturated pixels (1.0, 0.4 %): plain Otsu would split off the 8;
    /// the foreground is the dim objects with them. With 5 % saturated pixels (above 1 %) the
    /// threshold is Otsu's own, and dark objects on a light field keep their polarity.
    @Test func aRareSaturatedTailDoesNotHideTheDimObjects() {
        var image = Image(channels: 1, height: 40, width: 50, repeating: 0.02)
        for y in 5..<35 { for x in 5..<25 { image.pixels[y * 50 + x] = 0.06 } }
        for k in 0..<8 { image.pixels[10 * 50 + 30 + k] = 1 }
        #expect(ClassicalSegmentation.otsu(image.pixels) > 0.06)  // every dim pixel below it
        let fg = ClassicalSegmentation.foreground(of: image)
        #expect(fg.filter { $0 }.count == 30 * 20 + 8)
        #expect(fg[20 * 50 + 10] && !fg[2 * 50 + 40])
        var many = image
        for k in 0..<100 { many.pixels[(36 + k / 50) * 50 + k % 50] = 1 }
        #expect(ClassicalSegmentation.foreground(of: many).filter { $0 }.count == 108)
        var dark = image
        dark.pixels = image.pixels.map { 1 - $0 }
        #expect(ClassicalSegmentation.foreground(of: dark) == fg)
    }

    @Test func distanceTransformIsEuclidean() {
        // A 5 × 5 foreground square inside a 7 × 7 image: the centre is 3 from the background.
        var mask = [Bool](repeating: false, count: 49)
        for y in 1...5 { for x in 1...5 { mask[y * 7 + x] = true } }
        let d = ClassicalSegmentation.distanceTransform(mask, height: 7, width: 7)
        #expect(d[3 * 7 + 3] == 3 && d[1 * 7 + 1] == 1 && d[0] == 0 && d[2 * 7 + 2] == 2)
        // A single pixel at the image corner: the outside counts as background.
        let corner = ClassicalSegmentation.distanceTransform([true, false, false, false], height: 2, width: 2)
        #expect(corner == [1, 0, 0, 0])
        // Diagonal distances are Euclidean: background at (0, 0) of a 4 × 4 image (and outside
        // it): (1, 1) is √2 from (0, 0), nearer than the outside (2 away); (2, 2) is 2 from the outside.
        var diag = [Bool](repeating: true, count: 16)
        diag[0] = false
        let e = ClassicalSegmentation.distanceTransform(diag, height: 4, width: 4)
        #expect(e[1 * 4 + 1] == Float(2).squareRoot() && e[2 * 4 + 2] == 2)
    }

    /// Discs of `radius` at (centreY, each of centresX) with gray `value` on a 0.1 background, and
    /// their label map (ids 1, 2, … in the order given; an earlier disc keeps overlapping pixels).
    static func discs(height h: Int, width w: Int, centreY: Int, centresX: [Int], radius r: Int,
                      value: Float) -> (Image, LabelMap) {
        var image = Image(channels: 1, height: h, width: w, repeating: 0.1)
        var truth = [UInt16](repeating: 0, count: h * w)
        for y in 0..<h {
            for x in 0..<w {
                for (k, cx) in centresX.enumerated() {
                    let dy = y - centreY, dx = x - cx
                    if dx * dx + dy * dy <= r * r && truth[y * w + x] == 0 { truth[y * w + x] = UInt16(k + 1); image.pixels[y * w + x] = value }
                }
            }
        }
        return (image, LabelMap(height: h, width: w, labels: truth))
    }

    /// Two touching discs of radius 6 (centres 11 apart) become two instances; Otsu separates
    /// them from the dark background.
    @Test func watershedSeparatesTouchingDiscs() {
        let (image, truth) = Self.discs(height: 20, width: 32, centreY: 10, centresX: [10, 21], radius: 6, value: 0.9)
        let labels = ClassicalSegmentation.instances(of: image, radius: 3)
        let m = InstanceMatching(predicted: labels, truth: truth)
        #expect(m.predictedCount == 2 && m.ap50 == 1, "\(m)")
    }

    /// Camera noise is not a crowd of one-pixel objects: two discs in salt-and-pepper noise (one
    /// pixel in twelve flipped) are still two instances, each its disc.
    @Test func noiseDoesNotBecomeObjects() {
        let h = 40, w = 60
        let (clean, truth) = Self.discs(height: h, width: w, centreY: 20, centresX: [15, 44], radius: 10, value: 0.8)
        var image = clean
        var state: UInt64 = 12345
        for i in 0..<(h * w) {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            if (state >> 33) % 12 == 0 { image.pixels[i] = image.pixels[i] > 0.5 ? 0.1 : 0.8 }
        }
        let m = InstanceMatching(predicted: ClassicalSegmentation.instances(of: image), truth: truth)
        #expect(m.predictedCount == 2 && m.ap50 == 1, "\(m)")
    }
}

/// The shape measure tells a square from a disc of the same area.
struct ShapeMatchingTests {
    static func disc(radius r: Double, centre: (Int, Int), height h: Int, width w: Int) -> [Bool] {
        (0..<(h * w)).map { i in
            let dy = Double(i / w - centre.0), dx = Double(i % w - centre.1)
            return dy * dy + dx * dx <= r * r
        }
    }

    @Test func aDiscMatchesADiscAndASquareDoesNot() {
        // The real object: a disc of radius 8 in a 40 × 40 instance map (id 1); a second object
        // touches the border and is left out.
        var labels = Self.disc(radius: 8, centre: (20, 20), height: 40, width: 40).map { $0 ? UInt16(1) : 0 }
        labels[0] = 2
        let objects = ShapeMatching.objects(from: LabelMap(height: 40, width: 40, labels: labels), scale: 1)
        #expect(objects.count == 1)
        let n = objects[0].area
        // The same disc elsewhere in a 32 × 32 sample: IoU 1.
        let sample = Self.disc(radius: 8, centre: (14, 15), height: 32, width: 32)
        #expect(ShapeMatching.bestIoU(sample, height: 32, width: 32, objects: objects) == 1)
        // A square of (about) the same area: |disc ∩ square| / |disc ∪ square| well below 0.9.
        let side = Int(Double(n).squareRoot().rounded())
        let square = (0..<(32 * 32)).map { i in (8..<(8 + side)).contains(i / 32) && (8..<(8 + side)).contains(i % 32) }
        let s = ShapeMatching.bestIoU(square, height: 32, width: 32, objects: objects)
        #expect(s > 0.75 && s < 0.9, "square scored \(s)")
        // Half the scale: the object shrinks to about a quarter of its pixels.
        let half = ShapeMatching.objects(from: LabelMap(height: 40, width: 40, labels: labels), scale: 0.5)
        #expect(abs(Double(half[0].area) / Double(n) - 0.25) < 0.05)
        #expect(ShapeMatching.bestIoU([Bool](repeating: false, count: 16), height: 4, width: 4, objects: objects) == 0)
    }

    /// Centroids are aligned exactly, not to the nearest pixel (Note [Shape alignment]): a real
    /// digital disc of radius 6 source pixels, and as a sample the same disc as a bilinearly
    /// resampled patch shows it (16 / 6 patch pixels per source pixel, centred 0.05…0.85 pixel off
    /// the grid). It is the same object, so only the sample's own centroid (from its pixels) may
    /// cost anything: ≥ 0.985 at every offset. Nearest-pixel alignment of nearest-pixel blocks
    /// scores 0.924 at worst here (computed in Python while writing this).
    @Test func centroidsAreAlignedBelowAPixel() {
        let labels = Self.disc(radius: 6, centre: (20, 20), height: 40, width: 40).map { $0 ? UInt16(1) : 0 }
        let scale = 16.0 / 6
        let objects = ShapeMatching.objects(from: LabelMap(height: 40, width: 40, labels: labels), scale: scale)
        func source(_ y: Int, _ x: Int) -> Double { y >= 0 && y < 40 && x >= 0 && x < 40 && labels[y * 40 + x] != 0 ? 1 : 0 }
        var worst = 1.0
        for k in 0..<16 {
            let cy = 32 + Double(k % 4) / 4 + 0.1, cx = 32 + Double(k / 4) / 4 + 0.05
            let sample = (0..<(64 * 64)).map { i -> Bool in
                let sy = 20 + (Double(i / 64) - cy) / scale, sx = 20 + (Double(i % 64) - cx) / scale
                let r = Int(sy.rounded(.down)), c = Int(sx.rounded(.down)), fy = sy - Double(r), fx = sx - Double(c)
                let top = source(r, c) * (1 - fx) + source(r, c + 1) * fx
                let bottom = source(r + 1, c) * (1 - fx) + source(r + 1, c + 1) * fx
                return top * (1 - fy) + bottom * fy >= 0.5
            }
            worst = min(worst, ShapeMatching.bestIoU(sample, height: 64, width: 64, objects: objects))
        }
        #expect(worst >= 0.985, "worst IoU \(worst)")
    }

    /// The real objects' reference: two equal discs score 1 against each other, a square
    /// against them less, and the mean is over every object; one object has no reference.
    @Test func realObjectsAreScoredAgainstEachOther() {
        let discA = Self.disc(radius: 6, centre: (10, 10), height: 40, width: 60)
        let discB = Self.disc(radius: 6, centre: (10, 30), height: 40, width: 60)
        let labels = (0..<(40 * 60)).map { i -> UInt16 in
            if discA[i] { return 1 }
            if discB[i] { return 2 }
            return (25..<36).contains(i / 60) && (42..<53).contains(i % 60) ? 3 : 0   // an 11 × 11 square
        }
        let objects = ShapeMatching.objects(from: LabelMap(height: 40, width: 60, labels: labels), scale: 1)
        #expect(objects.count == 3)
        let reference = ShapeMatching.realReference(objects)!
        let side = 11, square = [Bool](repeating: true, count: side * side)
        let squareScore = ShapeMatching.bestIoU(square, height: side, width: side, objects: Array(objects.prefix(2)))
        #expect(squareScore < 0.9)
        #expect(abs(reference - (2 + squareScore) / 3) < 1e-12, "\(reference) vs \(squareScore)")
        #expect(ShapeMatching.realReference(Array(objects.prefix(1))) == nil)
    }
}
