// Note [Centre maps]
// What hoc's instance segmenter predicts, and how instances come back out of it. Two maps per
// pixel, both in [0, 1]:
//     foreground  1 on any object, 0 on the background;
//     centreness  inside object k: its Euclidean distance to the nearest pixel not of k (another
//                 object, the background or the patch border), divided by the largest such
//                 distance in k — 1 on k's medial point, falling to 0 at its outline; 0 on the
//                 background.
// Touching objects share an outline where both maps' centreness is 0, so the thresholded
// centreness (the "cores", the inner half of each object) separates them even where the
// foreground does not. Decoding: the centreness smoothed (5-tap binomial, σ ≈ 1 px), cores of
// at least `minCoreArea` pixels → markers (a textured nucleus's centreness dips inside it, and
// every dip would otherwise start an instance: on nuclei_cells3d 4.3× too many instances, AP@0.5
// 0.07; with both, 1.1× and 0.23). Where the objects' size is known (hoc: the area target), the
// centreness is averaged with the predicted foreground's own distance transform over the
// objects' radius, capped at 1: that map is smooth inside a big textured nucleus, where the
// learned centreness dips, while the learned one still parts touching objects where the
// foreground has no neck (nuclei_cells3d AP@0.5 0.23 → 0.50 and 0.13 → 0.36 on two runs,
// nuclei_scratch_assay 0.77 → 0.75). Where the size is known, holes in the foreground smaller
// than half the objects' area are filled first (a textured nucleus's dark spots are not
// background). Then a marker watershed on −centreness inside the
// foreground, foreground components no core reached as instances of their own, and components
// smaller than an eighth of the median instance dropped (the classical baseline's speckle rule),
// or than an eighth of the objects' area where it is known (fragments at window borders and in
// the glow between nuclei). Filling and dropping together: nuclei_cells3d AP@0.5 0.56 → 0.61
// and 0.37 → 0.53 on two runs (nuclei_scratch_assay 0.749 → 0.747). Where the size is known,
// an instance twice too big with a neck in its outline is two objects whose cores met and is
// split there (Note [Merged instances]; nuclei_cells3d folder AP@0.5 0.664 / 0.735 / 0.728 →
// 0.719 / 0.760 / 0.799 over three runs, slice 004 alone count error 0.20 → 0.15 and 0.10;
// nuclei_scratch_assay within +0.007).
// This is the distance-transform watershed of the classical baseline (Otsu → distance →
// peaks → watershed) with both of its guesses — the foreground and where the centres are —
// learned from the generator's exactly known layers instead (the generator's visible masks give
// the targets; `HocGAN.distillStep`). We chose it over StarDist's star-convex polygons (which
// need an NMS over thousands of candidate polygons and fail on non-star-convex shapes) and
// over embeddings (a clustering step with its own knobs): two sigmoid maps, one loss each, and
// the decoder Carve already had.

/// The foreground + centreness representation of instances (Note [Centre maps]): training
/// targets from per-instance visible masks, and decoding to a label map.
///
/// ```swift
/// let (fg, centre) = CentreMaps.targets(visible: labels, height: 64, width: 64)
/// let instances = CentreMaps.decode(foreground: fg, centreness: centre, height: 64, width: 64)
/// ```
public enum CentreMaps {
    /// Foreground threshold and core threshold on the centreness.
    public static let foregroundThreshold: Float = 0.5
    public static let coreThreshold: Float = 0.5

    /// The targets of a label image (`labels[i]` = the instance visible at pixel i, 0 = none):
    /// foreground (0/1) and centreness (0…1), each h·w.
    public static func targets(visible labels: [Int32], height h: Int, width w: Int) -> (foreground: [Float], centreness: [Float]) {
        precondition(labels.count == h * w, "CentreMaps.targets: \(labels.count) labels for \(h) × \(w)")
        var foreground = [Float](repeating: 0, count: h * w), centreness = foreground
        var ids = Set<Int32>()
        for l in labels where l != 0 { ids.insert(l) }
        for id in ids.sorted() {
            let inside = labels.map { $0 == id }
            let d = ClassicalSegmentation.distanceTransform(inside, height: h, width: w)
            var top: Float = 0
            for i in 0..<(h * w) where inside[i] { top = max(top, d[i]) }
            guard top > 0 else { continue }
            for i in 0..<(h * w) where inside[i] {
                foreground[i] = 1
                centreness[i] = d[i] / top
            }
        }
        return (foreground, centreness)
    }

    /// The instances of predicted maps (h·w each; Note [Centre maps]).
    /// - Parameters:
    ///   - minCoreArea: cores of fewer pixels are not markers (their pixels go to the
    ///     neighbouring instance the watershed reaches them from, or form a core-less instance).
    ///   - objectRadius: when given, the centreness is averaged with the foreground's own
    ///     distance transform divided by this radius (capped at 1).
    public static func decode(foreground: [Float], centreness rawCentreness: [Float], height h: Int, width w: Int,
                              minCoreArea: Int = 1, objectRadius: Float? = nil) -> LabelMap {
        precondition(foreground.count == h * w && rawCentreness.count == h * w, "CentreMaps.decode: maps of the wrong size for \(h) × \(w)")
        var centreness = ClassicalSegmentation.smoothed(Image(channels: 1, height: h, width: w, pixels: rawCentreness)).pixels
        var fg = foreground.map { $0 >= foregroundThreshold }
        if let r = objectRadius, r > 0 {
            fg = ClassicalSegmentation.withoutHoles(fg, height: h, width: w, maxArea: Int(Float.pi * r * r / 2))
            let d = ClassicalSegmentation.distanceTransform(fg, height: h, width: w)
            for i in 0..<(h * w) { centreness[i] = 0.5 * centreness[i] + 0.5 * min(d[i] / r, 1) }
        }
        var cores = [Bool](repeating: false, count: h * w)
        for i in 0..<(h * w) where fg[i] && centreness[i] >= coreThreshold { cores[i] = true }
        var (markers, count) = ClassicalSegmentation.components(cores, height: h, width: w)
        if minCoreArea > 1 {
            var areas = [Int](repeating: 0, count: count + 1)
            for m in markers where m > 0 { areas[Int(m)] += 1 }
            var renumbered = [Int32](repeating: 0, count: count + 1), next: Int32 = 0
            for id in 1...max(count, 1) where id <= count && areas[id] >= minCoreArea { next += 1; renumbered[id] = next }
            markers = markers.map { renumbered[Int($0)] }
            count = Int(next)
        }
        var labels = ClassicalSegmentation.watershed(height: centreness.map { -$0 }, markers: markers, mask: fg, height: h, width: w)
        // Foreground no core reached: each component an instance of its own.
        let unreached = (0..<(h * w)).map { fg[$0] && labels[$0] == 0 }
        let (rest, restCount) = ClassicalSegmentation.components(unreached, height: h, width: w)
        if restCount > 0 {
            for i in 0..<(h * w) where rest[i] > 0 { labels[i] = Int32(count) + rest[i] }
        }
        count += restCount
        if let r = objectRadius, r > 0 {
            (labels, count) = splittingMerged(labels, count: count, objectArea: Float.pi * r * r, height: h, width: w)
        }
        let floor = objectRadius.map { Int(Float.pi * $0 * $0 / 8) } ?? 0
        return LabelMap(height: h, width: w, labels: withoutSmallInstances(labels, count: count, floor: floor))
    }

    /// Note [Merged instances]: two touching objects whose learned cores met are one instance of
    /// about twice the objects' area, shaped like a figure eight. An instance of `merged` × the
    /// objects' area (1.6 to 4) whose own distance transform d has two or more summits
    /// apart — components of {d > `neck` · max d}, i.e. joined by a neck narrower than `neck` of
    /// its widest point — is split by the watershed of −d from those summits, when every piece
    /// holds at least a quarter of the objects' area. A convex object is never split however
    /// large it is (its distance transform is concave, so each level set is one piece), nor is a
    /// bean-shaped one (its waist is wider than `neck`). On the development checkpoints the true
    /// merges were 1.8–2.6 objects' area with necks of 0.00–0.39 of the widest point; the wrong
    /// splits of single scratch-assay nuclei (with no neck limit) were at 0.77–0.90. Above four
    /// objects' area a region is not a few objects whose cores met but another kind of thing (a
    /// big galaxy among small ones, a whole gland on an IHC slide), and cutting it in two counts
    /// nothing: without that bound galaxies.png had 4 such regions of 4.9–18 objects' area split.
    static let merged: ClosedRange<Float> = 1.6...4
    static let neck: Float = 0.6

    /// `labels` (ids 1…count) with the merged instances split (Note [Merged instances]); new
    /// pieces take ids after `count`.
    static func splittingMerged(_ labels: [Int32], count: Int, objectArea: Float, height h: Int, width w: Int) -> (labels: [Int32], count: Int) {
        guard count > 0 else { return (labels, count) }
        var areas = [Int](repeating: 0, count: count + 1)
        var box = [(y0: Int, y1: Int, x0: Int, x1: Int)](repeating: (h, -1, w, -1), count: count + 1)
        for (i, l) in labels.enumerated() where l > 0 {
            let k = Int(l), y = i / w, x = i % w
            areas[k] += 1
            box[k] = (min(box[k].y0, y), max(box[k].y1, y), min(box[k].x0, x), max(box[k].x1, x))
        }
        var out = labels, next = count
        for k in 1...count where merged.contains(Float(areas[k]) / objectArea) {
            let b = box[k], bh = b.y1 - b.y0 + 1, bw = b.x1 - b.x0 + 1
            var inside = [Bool](repeating: false, count: bh * bw)
            for y in 0..<bh { for x in 0..<bw { inside[y * bw + x] = labels[(b.y0 + y) * w + b.x0 + x] == Int32(k) } }
            let d = ClassicalSegmentation.distanceTransform(inside, height: bh, width: bw)
            let top = d.max() ?? 0
            let (summits, n) = ClassicalSegmentation.components(d.map { $0 > neck * top }, height: bh, width: bw)
            guard n >= 2 else { continue }
            let pieces = ClassicalSegmentation.watershed(height: d.map { -$0 }, markers: summits, mask: inside, height: bh, width: bw)
            var sizes = [Int](repeating: 0, count: n + 1)
            for p in pieces where p > 0 { sizes[Int(p)] += 1 }
            guard sizes.dropFirst().allSatisfy({ Float($0) >= objectArea / 4 }) else { continue }
            for y in 0..<bh {
                for x in 0..<bw where pieces[y * bw + x] > 1 {
                    out[(b.y0 + y) * w + b.x0 + x] = Int32(next) + pieces[y * bw + x] - 1
                }
            }
            next += n - 1
        }
        return (out, next)
    }

    /// Labels renumbered 1, 2, … in raster order, without the instances smaller than
    /// max(4, median area / 8, `floor`).
    static func withoutSmallInstances(_ labels: [Int32], count: Int, floor: Int = 0) -> [UInt16] {
        guard count > 0 else { return labels.map { _ in 0 } }
        var areas = [Int](repeating: 0, count: count + 1)
        for l in labels where l > 0 { areas[Int(l)] += 1 }
        let present = areas.dropFirst().filter { $0 > 0 }.sorted()
        guard !present.isEmpty else { return labels.map { _ in 0 } }
        let least = max(4, present[present.count / 2] / 8, floor)
        var renumbered = [Int32](repeating: 0, count: count + 1), next: Int32 = 0
        var out = [UInt16](repeating: 0, count: labels.count)
        for (i, l) in labels.enumerated() where l > 0 && areas[Int(l)] >= least {
            if renumbered[Int(l)] == 0 { next += 1; renumbered[Int(l)] = next }
            out[i] = UInt16(clamping: renumbered[Int(l)])
        }
        return out
    }
}
