import DemandFormat

/// What the read stage reads into one ring region, and the later stages
/// restore and execute as one step: a whole layer, one piece of a layer split
/// along its output dimension (`LayerSplit`), or a layer held resident for
/// good (nothing to read at run time).
///
/// A session turns its `StreamPlan` into units once, when it opens; every
/// inference walks the same units in the same order.
struct ReadUnit: Sendable, Equatable {
    /// A byte range of one of the layer's files, read into the region right
    /// after the extents before it.
    struct Extent: Sendable, Equatable {
        /// Index into the layer's `files`.
        let file: Int
        /// Where the range starts in the file (a multiple of 4096).
        let offsetBytes: Int
        /// The range's length (a multiple of 4096).
        let byteCount: Int
    }

    /// The layer this unit belongs to.
    let layer: Int
    /// Which piece of the layer (0 for a whole or resident layer).
    let piece: Int
    /// How many pieces the layer is read in (1: whole).
    let pieceCount: Int
    /// The rows of the split weight this piece holds; nil for a whole layer.
    let rows: Range<Int>?
    /// What to read, in region order (empty for a resident layer).
    let extents: [Extent]
    /// The layer's weights are held resident, read when the session opened.
    let isResident: Bool

    /// Bytes the unit takes in the ring.
    var byteCount: Int { extents.reduce(0) { $0 + $1.byteCount } }
    var isFirstPiece: Bool { piece == 0 }
    var isLastPiece: Bool { piece == pieceCount - 1 }
    var isPiece: Bool { rows != nil }

    /// Layer `index` read whole: each of its files, in order.
    static func whole(_ model: Model, layer index: Int) -> ReadUnit {
        let extents = model.layers[index].files.enumerated().map { Extent(file: $0.offset, offsetBytes: 0, byteCount: $0.element.byteCount) }
        return ReadUnit(layer: index, piece: 0, pieceCount: 1, rows: nil, extents: extents, isResident: false)
    }

    /// Every layer read whole, in order: the units of every policy but a planned pipeline.
    static func wholeLayers(_ model: Model) -> [ReadUnit] {
        model.layers.indices.map { whole(model, layer: $0) }
    }

    /// A layer whose weights were read when the session opened.
    static func resident(layer index: Int) -> ReadUnit {
        ReadUnit(layer: index, piece: 0, pieceCount: 1, rows: nil, extents: [], isResident: true)
    }
}
