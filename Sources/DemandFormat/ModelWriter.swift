import DemandTensor
import Foundation

/// Writes a model directory one layer at a time.
///
/// Everything goes into a hidden temporary directory beside the destination
/// (`.NAME.dlm.partial-PID`), which `finish()` renames into place once the
/// manifest is written and the result opens cleanly. A writer that is
/// abandoned, fails or is released before `finish()` removes its temporary
/// directory, so a failed write never leaves a half-written model behind.
///
/// Shapes are inferred as nodes are added, so a graph error surfaces at the
/// node that causes it. Not thread-safe: one thread writes.
public final class ModelWriter {
    /// The `NAME.dlm` directory being written.
    public let destination: String
    private let temporaryDirectory: String
    private let name: String
    private var inputs: [Manifest.ValueInfo] = []
    private var outputs: [Manifest.ValueInfo] = []
    private var layers: [Manifest.Layer] = []
    private var shapes: [String: Shape] = [:]
    private var finished = false

    // The layer being written.
    private var current: Manifest.Layer?
    private var currentBytes: [UInt8] = []

    /// Starts a model at `destination` (a `NAME.dlm` path that must not exist yet).
    public init(destination: String, name: String) throws(FormatError) {
        let trimmed = destination.hasSuffix("/") ? String(destination.dropLast()) : destination
        self.destination = trimmed
        self.name = name
        let parent = (trimmed as NSString).deletingLastPathComponent
        self.temporaryDirectory = Self.temporaryDirectory(for: trimmed)
        guard !FileManager.default.fileExists(atPath: trimmed) else {
            throw FormatError(.writeFailed, "already exists; remove it or choose another output path", path: trimmed)
        }
        do {
            try? FileManager.default.removeItem(atPath: temporaryDirectory)
            try FileManager.default.createDirectory(atPath: temporaryDirectory + "/layers", withIntermediateDirectories: true)
        } catch {
            throw FormatError(.writeFailed, "cannot create the output directory: \(error.localizedDescription)", path: parent)
        }
    }

    /// Where this process writes `destination` before renaming it into place:
    /// `.NAME.dlm.partial-PID` beside it. A signal handler that must clean up
    /// after an interrupted write removes this path.
    public static func temporaryDirectory(for destination: String) -> String {
        let trimmed = destination.hasSuffix("/") ? String(destination.dropLast()) : destination
        let parent = (trimmed as NSString).deletingLastPathComponent
        let base = (trimmed as NSString).lastPathComponent
        return (parent.isEmpty ? "." : parent) + "/.\(base).partial-\(getpid())"
    }

    deinit {
        if !finished { try? FileManager.default.removeItem(atPath: temporaryDirectory) }
    }

    /// The shape of a value added so far.
    public func shape(of value: String) -> Shape? { shapes[value] }

    /// Declares a graph input. `dtype` is what callers pass (float32, or
    /// int64/int32 for ids and indices, held as float32 at run time).
    public func addInput(_ name: String, shape: Shape, dtype: DType = .float32) {
        inputs.append(.init(name: name, dtype: dtype, shape: shape))
        shapes[name] = shape
    }

    /// Declares the value `name` (already produced) a graph output, delivered
    /// as `dtype` (a typed output makes the manifest version 3).
    public func addOutput(_ name: String, dtype: DType = .float32) throws(FormatError) {
        guard let shape = shapes[name] else { throw FormatError(.invalidGraph, "output '\(name)' is not a value of the graph") }
        outputs.append(.init(name: name, dtype: dtype, shape: shape))
    }

    /// Starts a layer; the previous one must have been ended.
    public func beginLayer(_ name: String) {
        precondition(current == nil, "beginLayer before endLayer")
        current = Manifest.Layer(name: name)
        currentBytes.removeAll(keepingCapacity: true)
    }

    /// Appends a weight tensor to the current layer's file, stored as `dtype`
    /// (float32, or float16 rounded to nearest even; the runtime widens it back).
    public func addWeight(_ name: String, shape: Shape, values: UnsafeBufferPointer<Float>, dtype: DType = .float32) {
        precondition(current != nil, "addWeight outside a layer")
        precondition(dtype == .float32 || dtype == .float16, "weight \(name): \(dtype) is not a float weight type (quantized weights: addWeight(_:quantized:))")
        precondition(values.count == shape.elementCount, "weight \(name): \(values.count) values for \(shape)")
        let offset = Layout.roundUp(currentBytes.count, to: Layout.tensorAlignment)
        currentBytes.append(contentsOf: repeatElement(0, count: offset - currentBytes.count))
        if dtype == .float16 {
            currentBytes.reserveCapacity(currentBytes.count + values.count * 2)
            for value in values {
                let bits = Float16(value).bitPattern
                currentBytes.append(UInt8(bits & 0xFF))
                currentBytes.append(UInt8(bits >> 8))
            }
        } else {
            currentBytes.append(contentsOf: UnsafeRawBufferPointer(values))
        }
        let byteCount = values.count * dtype.byteWidth
        current!.weights.append(.init(name: name, dtype: dtype, shape: shape, file: 0, offsetBytes: offset, byteCount: byteCount))
        shapes[name] = shape
    }

    /// Appends a quantized weight to the current layer's file: its packed
    /// values, then its float32 scales, then its zero points, each on a
    /// 64-byte boundary (the runtime dequantizes it when the layer is restored).
    public func addWeight(_ name: String, quantized tensor: QuantizedTensor) {
        precondition(current != nil, "addWeight outside a layer")
        func append(_ bytes: UnsafeRawBufferPointer) -> Int {
            let offset = Layout.roundUp(currentBytes.count, to: Layout.tensorAlignment)
            currentBytes.append(contentsOf: repeatElement(0, count: offset - currentBytes.count))
            currentBytes.append(contentsOf: bytes)
            return offset
        }
        let offset = tensor.bytes.withUnsafeBytes(append)
        let scales = Manifest.Quantization.Placement(offsetBytes: tensor.scales.withUnsafeBytes(append), count: tensor.scales.count)
        let zeroPoints = tensor.zeroPoints.map { points in
            Manifest.Quantization.Placement(offsetBytes: points.withUnsafeBytes(append), count: points.count)
        }
        let quantization = Manifest.Quantization(axis: tensor.axis, blockSize: tensor.blockSize, scales: scales, zeroPoints: zeroPoints)
        current!.weights.append(.init(name: name, dtype: tensor.dtype, shape: tensor.shape, file: 0, offsetBytes: offset,
                                      byteCount: tensor.bytes.count, quantization: quantization))
        shapes[name] = tensor.shape
    }

    /// Appends a node to the current layer, inferring its output shape.
    @discardableResult
    public func addNode(_ node: Manifest.Node) throws(FormatError) -> Shape {
        precondition(current != nil, "addNode outside a layer")
        let shape: Shape
        do { shape = try node.resolve(shapes: shapes).outputShape } catch {
            throw FormatError(.invalidGraph, error.message, layer: (layers.count, current!.name))
        }
        current!.nodes.append(node)
        shapes[node.outputs[0]] = shape
        return shape
    }

    /// Pads, checksums and writes the current layer's file.
    public func endLayer() throws(FormatError) {
        guard var layer = current else { preconditionFailure("endLayer without beginLayer") }
        current = nil
        if !layer.weights.isEmpty {
            let padded = Layout.roundUp(currentBytes.count, to: Layout.fileAlignment)
            currentBytes.append(contentsOf: repeatElement(0, count: padded - currentBytes.count))
            let relativePath = String(format: "layers/%04d.bin", layers.count)
            let crc = currentBytes.withUnsafeBytes { CRC32C.checksum($0) }
            try write(currentBytes, to: temporaryDirectory + "/" + relativePath)
            var file = Manifest.File(path: relativePath, byteCount: padded, crc32c: crc)
            // An embedding table: checksummed in chunks, so a run can read (and verify) only the rows it asks for.
            if layer.nodes.contains(where: { node in node.op == "Gather" && layer.weights.contains { $0.name == node.inputs.first } }) {
                let chunkBytes = Layout.chunkBytes
                file.chunkBytes = chunkBytes
                file.chunkCRC32C = currentBytes.withUnsafeBytes { bytes in
                    stride(from: 0, to: padded, by: chunkBytes).map { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[$0..<min($0 + chunkBytes, padded)])) }
                }
            }
            layer.files = [file]
        }
        layers.append(layer)
    }

    /// Writes the manifest, checks the result opens, and renames it into place.
    @discardableResult
    public func finish() throws(FormatError) -> Model {
        precondition(current == nil, "finish with a layer still open")
        let manifest = Manifest(name: name, inputs: inputs, outputs: outputs, layers: layers)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data: Data
        do { data = try encoder.encode(manifest) } catch {
            throw FormatError(.writeFailed, "cannot encode the manifest: \(error)")
        }
        try write(Array(data), to: temporaryDirectory + "/manifest.json")
        let checked = try Model.open(temporaryDirectory)
        guard rename(temporaryDirectory, destination) == 0 else {
            throw FormatError(.writeFailed, "cannot rename the finished model into place: \(String(cString: strerror(errno)))", path: destination)
        }
        finished = true
        return Model(path: destination, manifest: checked.manifest, operators: checked.operators, shapes: checked.shapes)
    }

    /// Removes everything written so far.
    public func abandon() {
        try? FileManager.default.removeItem(atPath: temporaryDirectory)
        finished = true
    }

    private func write(_ bytes: [UInt8], to path: String) throws(FormatError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw FormatError(.writeFailed, "cannot create file: \(String(cString: strerror(errno)))", path: path)
        }
        defer { close(fd) }
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress! + written, $0.count - written) }
            if result < 0 && errno == EINTR { continue }
            guard result > 0 else {
                throw FormatError(.writeFailed, "write failed at byte \(written): \(String(cString: strerror(errno)))", path: path)
            }
            written += result
        }
        guard fsync(fd) == 0 else {
            throw FormatError(.writeFailed, "fsync failed: \(String(cString: strerror(errno)))", path: path)
        }
    }
}
