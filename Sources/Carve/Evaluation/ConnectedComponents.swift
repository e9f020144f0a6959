/// Connected components of a binary mask (4-neighbourhood), for the single-component and
/// single-object rates of hoc evaluation.
public enum ConnectedComponents {
    /// The pixel counts of every 4-connected component of `mask > threshold` (H × W at `p`).
    public static func sizes(_ p: UnsafePointer<Float>, height: Int, width: Int, threshold: Float = 0.5) -> [Int] {
        var seen = [Bool](repeating: false, count: height * width)
        var sizes: [Int] = []
        var stack: [Int] = []
        for start in 0..<(height * width) where !seen[start] && p[start] > threshold {
            seen[start] = true
            stack.append(start)
            var size = 0
            while let i = stack.popLast() {
                size += 1
                let y = i / width, x = i % width
                for (ny, nx) in [(y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)]
                where ny >= 0 && ny < height && nx >= 0 && nx < width {
                    let j = ny * width + nx
                    if !seen[j] && p[j] > threshold {
                        seen[j] = true
                        stack.append(j)
                    }
                }
            }
            sizes.append(size)
        }
        return sizes
    }
}
