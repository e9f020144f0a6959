import Foundation

/// One instance of a label map: its id, area in pixels, centroid and bounding box (inclusive).
public struct InstanceRecord: Sendable, Equatable, Codable {
    public var id: Int
    public var area: Int
    public var centroidX: Double
    public var centroidY: Double
    public var minX: Int
    public var minY: Int
    public var maxX: Int
    public var maxY: Int
    enum CodingKeys: String, CodingKey {
        case id, area, centroidX = "centroid_x", centroidY = "centroid_y", minX = "min_x", minY = "min_y"
        case maxX = "max_x", maxY = "max_y"
    }

    /// The CSV header of `csvRow`.
    public static let csvHeader = "id,area,centroid_x,centroid_y,min_x,min_y,max_x,max_y"
    /// This instance as one CSV line (no newline).
    public var csvRow: String {
        String(format: "%d,%d,%.2f,%.2f,%d,%d,%d,%d", id, area, centroidX, centroidY, minX, minY, maxX, maxY)
    }
}

extension LabelMap {
    /// The map resampled to `height` × `width` by nearest neighbour (pixel centres), ids kept.
    public func resizedNearest(height oh: Int, width ow: Int) -> LabelMap {
        if oh == height && ow == width { return self }
        let sy = Double(height) / Double(oh), sx = Double(width) / Double(ow)
        var out = [UInt16](repeating: 0, count: oh * ow)
        for y in 0..<oh {
            let yy = min(Int((Double(y) + 0.5) * sy), height - 1)
            for x in 0..<ow { out[y * ow + x] = labels[yy * width + min(Int((Double(x) + 0.5) * sx), width - 1)] }
        }
        return LabelMap(height: oh, width: ow, labels: out)
    }

    /// Every id present, in increasing order, with its area, centroid and bounding box.
    public func instances() -> [InstanceRecord] {
        var byID: [Int: InstanceRecord] = [:]
        var sums: [Int: (Double, Double)] = [:]
        for y in 0..<height {
            for x in 0..<width {
                let id = Int(labels[y * width + x])
                guard id != 0 else { continue }
                var r = byID[id] ?? InstanceRecord(id: id, area: 0, centroidX: 0, centroidY: 0, minX: x, minY: y, maxX: x, maxY: y)
                r.area += 1
                r.minX = min(r.minX, x); r.maxX = max(r.maxX, x); r.minY = min(r.minY, y); r.maxY = max(r.maxY, y)
                byID[id] = r
                let s = sums[id] ?? (0, 0)
                sums[id] = (s.0 + Double(x), s.1 + Double(y))
            }
        }
        return byID.keys.sorted().map { id in
            var r = byID[id]!
            r.centroidX = sums[id]!.0 / Double(r.area)
            r.centroidY = sums[id]!.1 / Double(r.area)
            return r
        }
    }

    /// `image` (converted to RGB) with every instance's outline drawn in a colour of its own:
    /// an outline pixel is an instance pixel with a 4-neighbour of another id (or the border).
    public func outlined(on image: Image) -> Image {
        precondition(image.height == height && image.width == width, "outlined: \(height) × \(width) labels on a \(image.height) × \(image.width) image")
        var out = image.rgb()
        let hw = height * width
        for y in 0..<height {
            for x in 0..<width {
                let id = labels[y * width + x]
                guard id != 0 else { continue }
                var edge = false
                for (dy, dx) in [(-1, 0), (1, 0), (0, -1), (0, 1)] {
                    let yy = y + dy, xx = x + dx
                    if yy < 0 || xx < 0 || yy >= height || xx >= width || labels[yy * width + xx] != id { edge = true; break }
                }
                guard edge else { continue }
                let colour = Self.colour(of: Int(id))
                for c in 0..<3 { out.pixels[c * hw + y * width + x] = colour[c] }
            }
        }
        return out
    }

    /// A bright colour per id (hues spread by the golden ratio).
    static func colour(of id: Int) -> [Float] {
        let h = (Double(id) * 0.618_033_988_75).truncatingRemainder(dividingBy: 1) * 6
        let f = Float(h - h.rounded(.down))
        switch Int(h) {
        case 0: return [1, f, 0]
        case 1: return [1 - f, 1, 0]
        case 2: return [0, 1, f]
        case 3: return [0, 1 - f, 1]
        case 4: return [f, 0, 1]
        default: return [1, 0, 1 - f]
        }
    }
}
