import DemandFormat
import DemandIO
import DemandTensor

/// An embedding table read, each run, only in the rows the run asks for.
///
/// A layer qualifies when a Gather along axis 0 reads its float32 table
/// (rows, width) with indices that are a graph input, and its file carries
/// chunk checksums (format version 2; writers add them to such layers). When
/// a run starts, the read stage knows the indices, so it reads just the
/// checksummed chunks the asked-for rows touch (adjacent chunks as one
/// extent); restore checks each chunk's CRC-32C against the manifest; execute
/// copies each asked-for row into the Gather's output and runs the layer's
/// other nodes. The layer's other weights (a LayerNormalization's scale, say)
/// are read once at open, in whole chunks, checked, and held.
///
/// The ring must hold the most a run can ask for: `worstCaseBytes`, at most
/// the chunks `indexCount` rows can touch.
struct RowGather: Sendable {
    let layer: Int
    let node: Int
    let tableName: String
    /// The graph input holding the indices.
    let indicesName: String
    let indexCount: Int
    let rowCount: Int
    let rowBytes: Int
    /// Where the table starts in the file.
    let tableOffset: Int
    let chunkBytes: Int
    let fileBytes: Int
    let outputName: String
    let outputShape: Shape
    /// Chunk ranges of the file holding the layer's other weights, held from open.
    let held: [Range<Int>]

    /// Chunks one row can touch, at most.
    var chunksPerRow: Int { (rowBytes + chunkBytes - 1) / chunkBytes + 1 }
    /// The most bytes a run reads.
    var worstCaseBytes: Int { min(fileBytes, indexCount * chunksPerRow * chunkBytes) }

    static func make(_ model: Model, layer index: Int) -> RowGather? {
        let layer = model.layers[index]
        guard layer.files.count == 1, let chunkBytes = layer.files[0].chunkBytes, layer.files[0].chunkCRC32C != nil,
              layer.weights.allSatisfy({ $0.dtype == .float32 }) else { return nil }
        for (nodeIndex, node) in layer.nodes.enumerated() {
            guard case .gather(let axis) = model.operators[index][nodeIndex], axis == 0 || axis == -2, node.inputs.count == 2,
                  let table = layer.weights.first(where: { $0.name == node.inputs[0] }), table.shape.rank == 2,
                  let input = model.manifest.inputs.first(where: { $0.name == node.inputs[1] }),
                  let outputShape = model.shapes[node.outputs[0]],
                  layer.nodes.indices.allSatisfy({ $0 == nodeIndex || !layer.nodes[$0].inputs.contains(table.name) }) else { continue }
            // The other weights, in whole chunks (they are few and small).
            var held: [Range<Int>] = []
            for weight in layer.weights where weight.name != table.name {
                let start = weight.offsetBytes / chunkBytes * chunkBytes
                let end = min(Layout.roundUp(weight.offsetBytes + weight.byteCount, to: chunkBytes), layer.files[0].byteCount)
                if let last = held.last, last.upperBound >= start { held[held.count - 1] = last.lowerBound..<max(end, last.upperBound) } else { held.append(start..<end) }
            }
            return RowGather(layer: index, node: nodeIndex, tableName: table.name, indicesName: input.name,
                             indexCount: input.shape.elementCount, rowCount: table.shape[0], rowBytes: table.byteCount / max(table.shape[0], 1),
                             tableOffset: table.offsetBytes, chunkBytes: chunkBytes, fileBytes: layer.files[0].byteCount,
                             outputName: node.outputs[0], outputShape: outputShape, held: held.sorted { $0.lowerBound < $1.lowerBound })
        }
        return nil
    }

    /// The unit for a run whose indices are `indices`: the chunks the valid
    /// indices' rows touch, adjacent ones joined (an out-of-range index is
    /// left for execute to report).
    func unit(indices: Tensor) -> ReadUnit {
        var chunks = Set<Int>()
        for position in 0..<min(indices.elementCount, indexCount) {
            let value = indices.data[position]
            guard value.rounded(.towardZero) == value, value >= -Float(rowCount), value < Float(rowCount) else { continue }
            let row = Int(value) < 0 ? Int(value) + rowCount : Int(value)
            let start = tableOffset + row * rowBytes
            for chunk in (start / chunkBytes)...((start + rowBytes - 1) / chunkBytes) { chunks.insert(chunk) }
        }
        var extents: [ReadUnit.Extent] = []
        for chunk in chunks.sorted() {
            let offset = chunk * chunkBytes
            let length = min(chunkBytes, fileBytes - offset)
            if let last = extents.last, last.offsetBytes + last.byteCount == offset {
                extents[extents.count - 1] = .init(file: 0, offsetBytes: last.offsetBytes, byteCount: last.byteCount + length)
            } else {
                extents.append(.init(file: 0, offsetBytes: offset, byteCount: length))
            }
        }
        return ReadUnit(layer: layer, piece: 0, pieceCount: 1, rows: nil, extents: extents, isResident: false)
    }

    /// The unit a session is planned with: the worst case, for the ring's size.
    var plannedUnit: ReadUnit {
        ReadUnit(layer: layer, piece: 0, pieceCount: 1, rows: nil,
                 extents: [.init(file: 0, offsetBytes: 0, byteCount: worstCaseBytes)], isResident: false)
    }

    /// The first chunk of `extents` (read into `buffers`) whose CRC-32C is not the manifest's, as an error.
    func verify(_ model: Model, extents: [ReadUnit.Extent], buffers: [UnsafeMutableRawBufferPointer]) -> RuntimeError? {
        let file = model.layers[layer].files[0]
        let sums = file.chunkCRC32C!
        for (extent, buffer) in zip(extents, buffers) {
            var position = 0
            while position < extent.byteCount {
                let length = min(chunkBytes, extent.byteCount - position)
                let chunk = (extent.offsetBytes + position) / chunkBytes
                let actual = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: buffer[position..<(position + length)]))
                guard actual == sums[chunk] else {
                    return RuntimeError(
                        .checksumMismatch,
                        "checksum mismatch over bytes \(chunk * chunkBytes)..<\(chunk * chunkBytes + length) (chunk \(chunk)): CRC-32C is \(hex(actual)), the manifest says \(hex(sums[chunk])); the file is corrupt or changed since the model was written",
                        layer: (layer, model.layers[layer].name), path: model.filePath(file), offsetBytes: Int64(chunk * chunkBytes))
                }
                position += length
            }
        }
        return nil
    }

    /// Copies the asked-for rows into `output` (the Gather's (indices..., width)
    /// result): each row found in the extent of `extents` that holds it.
    func gather(indices: Tensor, tableShape: Shape, extents: [ReadUnit.Extent], buffers: [UnsafeMutableRawBufferPointer], output: Tensor) throws(OperatorError) {
        try Gather.check(indices, axis: 0, of: tableShape)
        let width = rowBytes / MemoryLayout<Float>.stride
        for position in 0..<indices.elementCount {
            var row = Int(indices.data[position])
            if row < 0 { row += rowCount }
            let start = tableOffset + row * rowBytes
            let extent = extents.firstIndex { $0.offsetBytes <= start && start + rowBytes <= $0.offsetBytes + $0.byteCount }!
            let source = (buffers[extent].baseAddress! + (start - extents[extent].offsetBytes)).assumingMemoryBound(to: Float.self)
            (output.data + position * width).update(from: source, count: width)
        }
    }
}
