import DemandTensor
import Foundation

/// Checks a decoded manifest against the files beside it and against itself:
/// file sizes, weight placement, names, operators and shapes. Names the layer
/// and the field at fault.
struct Validator {
    let directory: String
    let manifestPath: String
    let manifest: Manifest

    struct Result {
        var operators: [[Operator]]
        var shapes: [String: Shape]
    }

    func run() throws(FormatError) -> Result {
        var shapes: [String: Shape] = [:]
        guard !manifest.layers.isEmpty else { throw graphError("the model has no layers") }
        guard !manifest.inputs.isEmpty else { throw graphError("the model declares no inputs") }
        for input in manifest.inputs {
            guard input.shape.dims.allSatisfy({ $0 > 0 }) else {
                throw graphError("input '\(input.name)' has shape \(input.shape); every dimension must be positive")
            }
            if let problem = ModelLimits.problem(with: input.shape) { throw graphError("input '\(input.name)': \(problem)") }
            guard input.dtype == .float32 || input.dtype == .int64 || input.dtype == .int32 else {
                throw graphError("input '\(input.name)' is \(input.dtype.rawValue); graph inputs are float32, int64 or int32")
            }
            guard shapes.updateValue(input.shape, forKey: input.name) == nil else {
                throw graphError("input name '\(input.name)' is used twice")
            }
        }
        var operators: [[Operator]] = []
        var seenPaths = Set<String>()
        var weightLayers: [String: Int] = [:]
        for (index, layer) in manifest.layers.enumerated() {
            let place = (index: index, name: layer.name)
            try checkFiles(layer, place: place, seenPaths: &seenPaths)
            try checkWeights(layer, place: place, shapes: &shapes)
            for weight in layer.weights { weightLayers[weight.name] = index }
            operators.append(try checkNodes(layer, place: place, shapes: &shapes, weightLayers: weightLayers))
        }
        for output in manifest.outputs {
            guard output.dtype.isOutputType else {
                throw graphError("output '\(output.name)' is \(output.dtype.rawValue); graph outputs are float32, int64, int32, int8, uint8 or bool")
            }
            guard output.dtype == .float32 || manifest.version >= Manifest.typedOutputsVersion else {
                throw graphError("output '\(output.name)' is \(output.dtype.rawValue), which needs format version \(Manifest.typedOutputsVersion) "
                                 + "(the manifest says \(manifest.version)); convert the model again with this build")
            }
            guard let inferred = shapes[output.name] else {
                throw graphError("output '\(output.name)' is not produced by any node")
            }
            guard inferred == output.shape else {
                throw graphError("output '\(output.name)' is declared \(output.shape) but the graph computes \(inferred)")
            }
        }
        return Result(operators: operators, shapes: shapes)
    }

    private func graphError(_ message: String, layer: (index: Int, name: String)? = nil) -> FormatError {
        FormatError(.invalidGraph, message, path: manifestPath, layer: layer)
    }

    private func checkFiles(_ layer: Manifest.Layer, place: (index: Int, name: String), seenPaths: inout Set<String>) throws(FormatError) {
        for (fileIndex, file) in layer.files.enumerated() {
            let components = file.path.split(separator: "/")
            guard !file.path.hasPrefix("/"), !components.contains(".."), !components.isEmpty else {
                throw FormatError(.invalidLayout, "files[\(fileIndex)].path '\(file.path)' must be a relative path inside the model directory", path: manifestPath, layer: place)
            }
            guard seenPaths.insert(file.path).inserted else {
                throw FormatError(.invalidLayout, "file '\(file.path)' is listed twice", path: manifestPath, layer: place)
            }
            guard file.byteCount > 0, file.byteCount % Layout.fileAlignment == 0 else {
                throw FormatError(.invalidLayout, "files[\(fileIndex)].byteCount \(file.byteCount) is not a positive multiple of \(Layout.fileAlignment)", path: manifestPath, layer: place)
            }
            if file.chunkBytes != nil || file.chunkCRC32C != nil {
                guard manifest.version >= 2 else {
                    throw FormatError(.invalidLayout, "files[\(fileIndex)] has chunk checksums, which need format version 2 (the manifest says \(manifest.version))", path: manifestPath, layer: place)
                }
                guard let chunkBytes = file.chunkBytes, let sums = file.chunkCRC32C, chunkBytes > 0, chunkBytes % Layout.fileAlignment == 0,
                      sums.count == (file.byteCount + chunkBytes - 1) / chunkBytes else {
                    throw FormatError(.invalidLayout, "files[\(fileIndex)]: chunkBytes must be a positive multiple of \(Layout.fileAlignment) and chunkCRC32C hold one checksum per chunk of the file (chunkBytes \(file.chunkBytes.map(String.init) ?? "missing"), \(file.chunkCRC32C.map { "\($0.count) checksums" } ?? "chunkCRC32C missing"))", path: manifestPath, layer: place)
                }
            }
            let fullPath = directory + "/" + file.path
            var status = stat()
            guard stat(fullPath, &status) == 0 else {
                throw FormatError(.layerFileMissing, "layer file is missing (\(String(cString: strerror(errno))))", path: fullPath, layer: place)
            }
            guard (status.st_mode & S_IFMT) == S_IFREG else {
                throw FormatError(.layerFileMissing, "layer file is not a regular file", path: fullPath, layer: place)
            }
            guard Int(status.st_size) == file.byteCount else {
                throw FormatError(.layerFileSize, "layer file is \(status.st_size) bytes, the manifest says \(file.byteCount); the file is truncated or was replaced", path: fullPath, layer: place)
            }
        }
    }

    private func checkWeights(_ layer: Manifest.Layer, place: (index: Int, name: String), shapes: inout [String: Shape]) throws(FormatError) {
        var extents: [[Range<Int>]] = Array(repeating: [], count: layer.files.count)
        for weight in layer.weights {
            func fail(_ message: String) -> FormatError {
                FormatError(.invalidLayout, "weight '\(weight.name)': \(message)", path: manifestPath, layer: place)
            }
            guard layer.files.indices.contains(weight.file) else {
                throw fail("file index \(weight.file) is out of range (the layer has \(layer.files.count) files)")
            }
            guard weight.shape.dims.allSatisfy({ $0 > 0 }) else { throw fail("shape \(weight.shape) has a non-positive dimension") }
            if let problem = ModelLimits.problem(with: weight.shape) { throw fail(problem) }
            guard weight.dtype.isWeightType else {
                throw fail("dtype \(weight.dtype.rawValue) is not a weight type; weights are float32, float16, int8, uint8 or uint4")
            }
            let expectedBytes = weight.dtype.byteCount(elementCount: weight.shape.elementCount)
            guard weight.byteCount == expectedBytes else {
                throw fail("byteCount \(weight.byteCount) does not match shape \(weight.shape) of \(weight.dtype.rawValue) (\(expectedBytes) bytes)")
            }
            let fileBytes = layer.files[weight.file].byteCount
            // Checks `byteCount` bytes at `offsetBytes` lie inside the file, aligned, overlapping nothing placed so far.
            func claim(_ what: String, offsetBytes: Int, byteCount: Int) throws(FormatError) {
                guard offsetBytes >= 0, offsetBytes % Layout.tensorAlignment == 0 else {
                    throw fail("\(what)offsetBytes \(offsetBytes) is not a multiple of \(Layout.tensorAlignment)")
                }
                guard offsetBytes <= fileBytes - byteCount else {   // not offset + count: that can overflow
                    throw fail("\(what)\(byteCount) bytes from offset \(offsetBytes) run past the end of its \(fileBytes)-byte file")
                }
                let extent = offsetBytes..<(offsetBytes + byteCount)
                guard !extents[weight.file].contains(where: { $0.overlaps(extent) }) else {
                    throw fail("\(what)overlaps another weight in the same file")
                }
                extents[weight.file].append(extent)
            }
            try claim("", offsetBytes: weight.offsetBytes, byteCount: weight.byteCount)
            try checkQuantization(of: weight, version: manifest.version, fail: fail) { what, offsetBytes, byteCount throws(FormatError) in
                try claim(what, offsetBytes: offsetBytes, byteCount: byteCount)
            }
            guard shapes.updateValue(weight.shape, forKey: weight.name) == nil else {
                throw fail("the name is already used by another value")
            }
        }
    }

    /// A quantized weight's scheme against its shape (item 9 of the format):
    /// a quantization exactly when the dtype is quantized, an axis inside the
    /// shape, a positive block size only with an axis, as many scales (and zero
    /// points) as the scheme needs, each table placed through `claim`.
    private func checkQuantization(of weight: Manifest.Weight, version: Int, fail: (String) -> FormatError,
                                   claim: (String, Int, Int) throws(FormatError) -> Void) throws(FormatError) {
        guard let quantization = weight.quantization else {
            guard !weight.dtype.isQuantized else {
                throw fail("dtype \(weight.dtype.rawValue) is quantized but the weight has no 'quantization' (scales, zero points)")
            }
            return
        }
        guard weight.dtype.isQuantized else {
            throw fail("has a 'quantization' but dtype \(weight.dtype.rawValue) is not quantized (int8, uint8 or uint4)")
        }
        guard version >= 3 else {
            throw fail("is quantized, which needs format version 3 (the manifest says \(version))")
        }
        let rank = weight.shape.rank
        if let axis = quantization.axis, !(0..<rank).contains(axis) {
            throw fail("quantization axis \(axis) is outside shape \(weight.shape) (0..<\(rank))")
        }
        if let blockSize = quantization.blockSize {
            guard quantization.axis != nil else { throw fail("quantization blockSize \(blockSize) needs an axis") }
            guard blockSize > 0 else { throw fail("quantization blockSize \(blockSize) is not positive") }
        }
        let expected = quantization.scaleCount(for: weight.shape)!
        guard quantization.scales.count == expected else {
            throw fail("quantization has \(quantization.scales.count) scales; shape \(weight.shape) with \(Self.describe(quantization)) needs \(expected)")
        }
        try claim("scales: ", quantization.scales.offsetBytes, expected * MemoryLayout<Float>.stride)
        if let zeroPoints = quantization.zeroPoints {
            guard zeroPoints.count == expected else {
                throw fail("quantization has \(zeroPoints.count) zero points; shape \(weight.shape) with \(Self.describe(quantization)) needs \(expected), one per scale")
            }
            try claim("zero points: ", zeroPoints.offsetBytes, expected)
        }
    }

    static func describe(_ quantization: Manifest.Quantization) -> String {
        guard let axis = quantization.axis else { return "one scale for the tensor" }
        guard let blockSize = quantization.blockSize else { return "one scale per index of axis \(axis)" }
        return "blocks of \(blockSize) along axis \(axis)"
    }

    private func checkNodes(_ layer: Manifest.Layer, place: (index: Int, name: String), shapes: inout [String: Shape], weightLayers: [String: Int]) throws(FormatError) -> [Operator] {
        guard !layer.nodes.isEmpty else {
            throw FormatError(.invalidGraph, "the layer has no nodes", path: manifestPath, layer: place)
        }
        var operators: [Operator] = []
        for node in layer.nodes {
            for input in node.inputs {
                if let owner = weightLayers[input], owner != place.index {
                    throw FormatError(.invalidGraph, "\(node.label): input '\(input)' is a weight of layer \(owner); a node may read only its own layer's weights",
                                      path: manifestPath, layer: place)
                }
            }
            let resolved: (op: Operator, outputShape: Shape)
            do { resolved = try node.resolve(shapes: shapes) } catch {
                throw FormatError(.invalidGraph, error.message, path: manifestPath, layer: place)
            }
            guard shapes.updateValue(resolved.outputShape, forKey: node.outputs[0]) == nil else {
                throw FormatError(.invalidGraph, "\(node.label): output '\(node.outputs[0])' is already used by another value",
                                  path: manifestPath, layer: place)
            }
            operators.append(resolved.op)
        }
        return operators
    }
}
