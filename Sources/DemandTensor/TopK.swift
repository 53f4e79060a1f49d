/// ONNX TopK, one of its two outputs: the `k` largest (or smallest) values
/// along `axis`, or their indices. ONNX's node has both outputs; the runtime's
/// nodes have one, so the importer writes one node per output read, each
/// with the same parameters but `output`.
///
/// Ties are broken as onnxruntime does: of equal values the lower index
/// comes first. The output is always sorted best first (ONNX leaves the
/// order open when `sorted` is 0, so this order is a valid one). Indices are
/// written as float32 values, as the runtime holds every integer (exact
/// below 2^24).
public struct TopKParameters: Hashable, Sendable {
    /// Which of ONNX TopK's outputs a node computes.
    public enum Output: String, Hashable, Sendable, CaseIterable {
        /// Output 0, Values.
        case values
        /// Output 1, Indices (as floats).
        case indices
    }

    /// How many values are kept along the axis.
    public var k: Int
    /// The axis searched (negative from the end).
    public var axis: Int
    /// Largest values when true, smallest when false.
    public var largest: Bool
    /// Which output this node writes.
    public var output: Output

    /// ONNX's defaults: the last axis, largest.
    public init(k: Int, axis: Int = -1, largest: Bool = true, output: Output = .values) {
        self.k = k
        self.axis = axis
        self.largest = largest
        self.output = output
    }

    /// Whether the value at index `a` ranks before the one at index `b`:
    /// larger (smaller), or equal with the lower index.
    @inline(__always)
    func ranks(_ va: Float, _ a: Float, before vb: Float, _ b: Float) -> Bool {
        if va == vb { return a < b }
        return largest ? va > vb : va < vb
    }

    /// The output shape: the input's, with `k` along the axis.
    func outputShape(_ x: Shape) -> Shape {
        var dims = x.dims
        dims[normalized(axis, rank: x.rank)] = k
        return Shape(dims)
    }
}

/// TopK over the input viewed as (outer, length, inner) around the axis.
/// Each line (one (outer, inner) position, `length` values `inner` apart) is
/// scanned once into a heap of the `k` best indices seen so far with the
/// worst on top, so a later index replaces it only when it ranks strictly
/// better; the heap is then sorted in place, best first. The heap lives in
/// the workspace (`k` floats, indices held as floats), so a run allocates
/// nothing: O(length · log k) per line.
enum TopK {
    static func workspaceFloatCount(_ p: TopKParameters) -> Int { p.k }

    static func run(_ p: TopKParameters, input: Tensor, output: Tensor, workspace: Workspace) {
        let dims = input.shape.dims
        let axis = normalized(p.axis, rank: dims.count)
        let (outer, length, inner) = (dims[..<axis].reduce(1, *), dims[axis], dims[(axis + 1)...].reduce(1, *))
        let k = p.k
        let heap = workspace.floats(k)
        for o in 0..<outer {
            for i in 0..<inner {
                let line = UnsafePointer(input.data + o * length * inner + i)
                func value(_ index: Float) -> Float { line[Int(index) * inner] }
                // Whether heap slot a should sit above slot b: it ranks after it (is worse).
                func above(_ a: Int, _ b: Int) -> Bool {
                    p.ranks(value(heap[b]), heap[b], before: value(heap[a]), heap[a])
                }
                func siftDown(_ start: Int, count: Int) {
                    var parent = start
                    while true {
                        var worst = parent
                        let left = 2 * parent + 1, right = left + 1
                        if left < count, above(left, worst) { worst = left }
                        if right < count, above(right, worst) { worst = right }
                        if worst == parent { return }
                        heap.swapAt(parent, worst)
                        parent = worst
                    }
                }
                for l in 0..<k {
                    heap[l] = Float(l)
                    var child = l
                    while child > 0, above(child, (child - 1) / 2) {
                        heap.swapAt(child, (child - 1) / 2)
                        child = (child - 1) / 2
                    }
                }
                for l in k..<length {
                    let index = Float(l)
                    if p.ranks(line[l * inner], index, before: value(heap[0]), heap[0]) {
                        heap[0] = index
                        siftDown(0, count: k)
                    }
                }
                // Heap sort: the worst goes last, then the next worst before it.
                var count = k
                while count > 1 {
                    count -= 1
                    heap.swapAt(0, count)
                    siftDown(0, count: count)
                }
                let y = output.data + o * k * inner + i
                for r in 0..<k {
                    y[r * inner] = p.output == .values ? value(heap[r]) : heap[r]
                }
            }
        }
    }
}

extension UnsafeMutablePointer {
    @inline(__always)
    fileprivate func swapAt(_ a: Int, _ b: Int) {
        let held = self[a]
        self[a] = self[b]
        self[b] = held
    }
}
