// The minimum s–t cut of a graph with terminal links: the labelling step of GrabCut.
import Foundation

/// A two-label graph cut: nodes with a cost for each label (terminal links) and symmetric
/// pairwise costs between neighbours, minimised exactly by a maximum flow (Dinic's algorithm,
/// blocking flows on BFS level graphs). The source side is the label "object".
///
/// A node on the object side pays its `object` cost, one on the background side its
/// `background` cost, and each edge whose ends take different labels pays its capacity.
///
/// ```swift
/// var cut = GraphCut(nodes: 2)
/// cut.addTerminals(0, object: 0, background: 5)   // node 0 wants to be object
/// cut.addTerminals(1, object: 4, background: 1)   // node 1 leans to background
/// cut.addEdge(0, 1, capacity: 2)
/// let (cost, object) = cut.minimumCut()           // cost 3, object == [true, false]
/// ```
public struct GraphCut {
    /// Node count, not counting the two terminals.
    public let nodes: Int
    private var source: Int { nodes }
    private var sink: Int { nodes + 1 }
    // Edges in pairs (e, e ^ 1 its reverse), each node's edges a linked list from `first`.
    private var target: [Int32] = []
    private var capacity: [Double] = []
    private var nextEdge: [Int32] = []
    private var first: [Int32]
    /// The constant part of the cost: min(object, background) of every node, paid whatever the label.
    private var constant = 0.0

    /// A graph of `nodes` nodes and no edges.
    public init(nodes: Int) {
        precondition(nodes >= 0, "GraphCut: \(nodes) nodes")
        self.nodes = nodes
        first = [Int32](repeating: -1, count: nodes + 2)
    }

    private mutating func link(_ a: Int, _ b: Int, _ forward: Double, _ backward: Double) {
        for (from, to, c) in [(a, b, forward), (b, a, backward)] {
            target.append(Int32(to))
            capacity.append(c)
            nextEdge.append(first[from])
            first[from] = Int32(target.count - 1)
        }
    }

    /// Adds the costs of labelling `node` object and background (both ≥ 0; add as often as wanted).
    public mutating func addTerminals(_ node: Int, object: Double, background: Double) {
        precondition(node >= 0 && node < nodes && object >= 0 && background >= 0,
                     "GraphCut.addTerminals: node \(node) of \(nodes), costs \(object), \(background)")
        // Only the difference matters to the cut: pay the smaller one always, link the rest.
        let paid = min(object, background)
        constant += paid
        if background > paid { link(source, node, background - paid, 0) }  // cut when node is background
        if object > paid { link(node, sink, object - paid, 0) }  // cut when node is object
    }

    /// Adds a symmetric pairwise cost paid when `a` and `b` take different labels.
    public mutating func addEdge(_ a: Int, _ b: Int, capacity c: Double) {
        precondition(a >= 0 && a < nodes && b >= 0 && b < nodes && a != b && c >= 0,
                     "GraphCut.addEdge: nodes \(a), \(b) of \(nodes), capacity \(c)")
        if c > 0 { link(a, b, c, c) }
    }

    /// The minimum total cost and the labelling that attains it (true: object, the source side;
    /// a node with no preference and no edge is background).
    public mutating func minimumCut() -> (cost: Double, object: [Bool]) {
        let n = nodes + 2, source = self.source, sink = self.sink
        var level = [Int32](repeating: -1, count: n)
        var current = first
        var queue = [Int](repeating: 0, count: n)
        var path: [Int] = []  // edges from the source to the current node
        var flow = 0.0
        // Raw buffers: the loops below are the whole cost of GrabCut.
        target.withUnsafeBufferPointer { target in
        nextEdge.withUnsafeBufferPointer { nextEdge in
        first.withUnsafeBufferPointer { first in
        capacity.withUnsafeMutableBufferPointer { capacity in
        level.withUnsafeMutableBufferPointer { level in
        current.withUnsafeMutableBufferPointer { current in
        queue.withUnsafeMutableBufferPointer { queue in
            /// BFS levels from the source over edges with residual capacity; true if the sink is reached.
            func levels() -> Bool {
                for i in 0..<n { level[i] = -1 }
                level[source] = 0
                var head = 0, tail = 0
                queue[tail] = source; tail += 1
                while head < tail {
                    let u = queue[head]; head += 1
                    var e = Int(first[u])
                    while e >= 0 {
                        let v = Int(target[e])
                        if capacity[e] > 0 && level[v] < 0 {
                            level[v] = level[u] + 1
                            queue[tail] = v; tail += 1
                        }
                        e = Int(nextEdge[e])
                    }
                }
                return level[sink] >= 0
            }

            while levels() {
                for i in 0..<n { current[i] = first[i] }
                path.removeAll(keepingCapacity: true)
                var u = source
                while true {
                    if u == sink {
                        var pushed = Double.infinity
                        for e in path { pushed = min(pushed, capacity[e]) }
                        for e in path {
                            capacity[e] -= pushed
                            capacity[e ^ 1] += pushed
                        }
                        flow += pushed
                        // Back up to the tail of the first saturated edge.
                        let k = path.firstIndex { capacity[$0] <= 0 }!
                        path.removeSubrange(k...)
                        u = k == 0 ? source : Int(target[path[k - 1]])
                        continue
                    }
                    var advanced = false
                    while current[u] >= 0 {
                        let e = Int(current[u]), v = Int(target[e])
                        if capacity[e] > 0 && level[v] == level[u] + 1 {
                            path.append(e)
                            u = v
                            advanced = true
                            break
                        }
                        current[u] = nextEdge[e]
                    }
                    if !advanced {
                        if u == source { break }
                        level[u] = -1  // a dead end for this phase
                        let e = path.removeLast()
                        u = Int(target[e ^ 1])
                        current[u] = nextEdge[Int(current[u])]
                    }
                }
            }
        }}}}}}}
        // The object side: what the source still reaches in the residual graph (the last BFS).
        return (constant + flow, (0..<nodes).map { level[$0] >= 0 })
    }
}
