import Imaging
import Tensor

/// A grid of image tiles written as one PNG (arranged as the paper's Figures 6–9).
///
/// Rows are lists of tiles, each [C, H, W] with C = 1 (shown grey) or 3, values in [0, 1];
/// tiles are separated by a 2-pixel white gap.
public struct Panel {
    public var rows: [[Tensor]] = []
    public init() {}

    /// Adds the first `count` images of a batch [B, C, H, W] as one row.
    public mutating func addRow(_ batch: Tensor, count: Int) {
        let b = batch.shape[0], c = batch.shape[1], h = batch.shape[2], w = batch.shape[3]
        let n = min(count, b)
        rows.append((0..<n).map { i in
            Tensor(shape: [c, h, w]) { out in out.baseAddress!.update(from: batch.data + i * c * h * w, count: c * h * w) }
        })
    }

    /// The grid as an RGB image.
    public func image(gap: Int = 2) -> Image {
        let tileH = rows.flatMap { $0 }.map { $0.shape[1] }.max() ?? 1
        let tileW = rows.flatMap { $0 }.map { $0.shape[2] }.max() ?? 1
        let cols = rows.map(\.count).max() ?? 1
        let height = rows.count * (tileH + gap) + gap, width = cols * (tileW + gap) + gap
        var image = Image(channels: 3, height: height, width: width, repeating: 1)
        for (r, row) in rows.enumerated() {
            for (col, tile) in row.enumerated() {
                let c = tile.shape[0], h = tile.shape[1], w = tile.shape[2]
                let y0 = gap + r * (tileH + gap), x0 = gap + col * (tileW + gap)
                for ch in 0..<3 {
                    let src = tile.data + (c == 1 ? 0 : ch) * h * w
                    for y in 0..<h {
                        for x in 0..<w {
                            image.pixels[(ch * height + y0 + y) * width + x0 + x] = min(max(src[y * w + x], 0), 1)
                        }
                    }
                }
            }
        }
        return image
    }

    /// Writes the grid as a PNG (atomically).
    public func write(path: String) throws { try image().write(path: path) }
}
