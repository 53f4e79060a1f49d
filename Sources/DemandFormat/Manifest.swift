import DemandTensor

// # The model directory, version 3 (versions 1 and 2 are read too)
//
// A model is a directory `NAME.dlm/` holding:
//
//     manifest.json          the graph and the layer table (UTF-8 JSON, below)
//     layers/0000.bin        one weight file per read unit, in execution order
//     layers/0001.bin
//     ...
//
// ## Weight files
// 1. A weight file holds the raw little-endian bytes of one or more weight
//    tensors, each starting at an offset that is a multiple of 64 bytes
//    (`Layout.tensorAlignment`), zero bytes between them.
// 2. The file is zero-padded to a multiple of 4096 bytes (`Layout.fileAlignment`)
//    so it can be read whole with O_DIRECT; `byteCount` is that padded size.
// 3. `crc32c` is the CRC-32C (Castagnoli; crc32c("123456789") = 0xE3069283)
//    of all `byteCount` bytes, padding included.
// 3a. Version 2 adds, optionally per file, `chunkBytes` (a multiple of 4096)
//    and `chunkCRC32C`: the CRC-32C of each `chunkBytes` run of the file in
//    order (the last may be shorter), so part of a file can be read and still
//    be verified. Writers add them to a layer whose weight an embedding
//    Gather reads (the runtime then reads only the rows a run asks for).
//    A version 1 manifest has none; it is read as before.
// 3b. Version 3 adds quantized weights (item 9). Writers write version 3 only
//    for a model that has one, so other models stay readable by older builds.
//
// ## manifest.json
//     {
//       "format": "demandlayer-model",     must be exactly this
//       "version": 1,                      readers refuse versions they do not know
//       "name": "resnet152",
//       "inputs":  [{"name": "input", "dtype": "float32", "shape": [1, 3, 224, 224]}],
//       "outputs": [{"name": "logits", "dtype": "float32", "shape": [1, 1000]}],
//       "layers": [                        in execution order
//         {
//           "name": "conv1",
//           "files": [{"path": "layers/0000.bin", "byteCount": 40960, "crc32c": 305419896}],
//           "weights": [{"name": "conv1.weight", "dtype": "float32", "shape": [64, 3, 7, 7],
//                        "file": 0, "offsetBytes": 0, "byteCount": 37632}],
//           "nodes": [{"name": "conv1", "op": "Conv",
//                      "inputs": ["input", "conv1.weight", "conv1.bias"], "outputs": ["conv1.out"],
//                      "attributes": {"strides": {"ints": [2, 2]}, "activation": {"s": "relu"}}}]
//         }
//       ]
//     }
// 4. A layer is the unit of execution; a file is the unit of reading. A layer
//    lists zero or more files (today writers emit one per weighted layer; a large
//    layer may be split across several). `weights[].file` indexes the layer's
//    own `files` array.
// 5. Nodes use ONNX operator names and attribute meanings (see `Operator`), with
//    attributes encoded as one-key objects: {"i": 1}, {"f": 0.5}, {"ints": [1]},
//    {"floats": [0.5]}, {"s": "relu"}. Conv, Gemm and Add take an extra
//    "activation" attribute for a fused activation; a Conv with "residual"
//    {"i": 1} takes a fourth input R shaped as its output, added after the
//    bias and before the activation (a fused residual Add).
// 6. A node input names a graph input, a weight of the same layer, or an
//    output of an earlier node. Every value name is written once.
// 7. Paths are relative to the model directory and may not leave it.
// 8. dtypes: weights are "float32" or "float16" (IEEE binary16, little-endian;
//    the runtime widens them to float32 before use). Graph inputs may also be
//    "int64" or "int32"; the runtime holds every value as float32, so integer
//    inputs must stay below 2^24 in magnitude. Graph outputs are "float32",
//    or, from version 3, "int64", "int32", "int8", "uint8" or "bool" (the ONNX
//    output's declared type). The runtime computes a typed output as float32
//    and converts it at the edge, refusing a value that is not exact: for
//    int64 and int32 a whole number below 2^24 in magnitude, for int8 and
//    uint8 a whole number in the type's range, for bool 0 or 1.
//    Version 3 weights may also be "int8", "uint8" (one byte per value) or
//    "uint4" (two values per byte in row-major element order, the first in the
//    low nibble; byteCount is ceil(elements / 2)), each with a `quantization`:
// 9. Quantization. The runtime dequantizes a quantized weight to float32 in
//    the restore stage: value = (q - zeroPoint) * scale, with
//        "quantization": {"axis": 0, "blockSize": 32,
//                         "scales": {"offsetBytes": 4096, "count": 64},
//                         "zeroPoints": {"offsetBytes": 4352, "count": 64}}
//    - no `axis`: one scale for the whole tensor (`blockSize` not allowed);
//    - `axis` a (0 <= a < rank), no `blockSize`: one scale per index of
//      dimension a (shape[a] scales; "per channel");
//    - `axis` a and `blockSize` b > 0: each run of b indices along a shares a
//      scale; scales are laid out like the tensor with dimension a replaced
//      by ceil(shape[a] / b) (ONNX blocked quantization; MatMulNBits is axis
//      1 of its (N, K) matrix).
//    `scales` are float32, `zeroPoints` one byte each of the weight's type
//    (uint4 zero points unpacked, 0...15); both lie in the weight's file at
//    offsets that are multiples of 64, overlap nothing, and hold exactly as
//    many entries as the scheme needs. No `zeroPoints`: every zero point is 0.
// 10. Writers write version 3 only when a weight is quantized or an output
//    is typed, else version 2, so other models still open with a version 2
//    reader. A version 2 manifest with a typed output is refused.

/// The decoded `manifest.json` of a model directory.
public struct Manifest: Codable, Sendable, Equatable {
    /// The value of `format` in every manifest.
    public static let formatName = "demandlayer-model"
    /// The manifest version this writer writes; a newer one is refused.
    public static let currentVersion = 3
    /// The versions this reader reads (1: without chunk checksums; 2: without quantized weights or typed outputs).
    public static let readableVersions = 1...3
    /// The version writers write for a model with no quantized weight and no typed output.
    public static let unquantizedVersion = 2
    /// The first version whose outputs may be int64, int32 or bool.
    public static let typedOutputsVersion = 3

    /// Always `formatName`: tells a manifest from any other JSON file.
    public var format: String
    /// The format version the manifest was written with.
    public var version: Int
    /// The model's name (`resnet152`).
    public var name: String
    /// The graph inputs, in order.
    public var inputs: [ValueInfo]
    /// The graph outputs, in order.
    public var outputs: [ValueInfo]
    /// The layers in execution order: the unit of reading.
    public var layers: [Layer]

    /// A manifest of the current format, of the lowest version that holds
    /// it (2 unless a weight is quantized or an output is typed).
    public init(name: String, inputs: [ValueInfo], outputs: [ValueInfo], layers: [Layer]) {
        self.format = Self.formatName
        let quantized = layers.contains { $0.weights.contains { $0.quantization != nil } }
        let typed = !outputs.allSatisfy { $0.dtype == .float32 }
        self.version = quantized || typed ? Self.currentVersion : Self.unquantizedVersion
        self.name = name
        self.inputs = inputs
        self.outputs = outputs
        self.layers = layers
    }

    /// A graph input or output.
    public struct ValueInfo: Codable, Sendable, Equatable {
        /// The value's name in the graph.
        public var name: String
        /// The element type: what the caller supplies for an input, what the runtime delivers for an
        /// output (both held as float32 at run time).
        public var dtype: DType
        /// The value's static shape.
        public var shape: Shape

        /// A graph value called `name` of type `dtype` and shape `shape`.
        public init(name: String, dtype: DType = .float32, shape: Shape) {
            self.name = name
            self.dtype = dtype
            self.shape = shape
        }
    }

    /// One layer: the files read together and the nodes they feed.
    public struct Layer: Codable, Sendable, Equatable {
        /// The layer's name, used in errors, stats and traces.
        public var name: String
        /// The layer's weight files, read whole, in order.
        public var files: [File]
        /// The weight tensors the layer's files hold.
        public var weights: [Weight]
        /// The operators run for this layer, in order.
        public var nodes: [Node]

        /// A layer with the given files, weights and nodes.
        public init(name: String, files: [File] = [], weights: [Weight] = [], nodes: [Node] = []) {
            self.name = name
            self.files = files
            self.weights = weights
            self.nodes = nodes
        }

        /// Bytes read for this layer: the sum of its padded file sizes.
        public var byteCount: Int { files.reduce(0) { $0 + $1.byteCount } }
    }

    /// One weight file, read whole.
    public struct File: Codable, Sendable, Equatable {
        /// The file's path relative to the model directory (`layers/0003.bin`).
        public var path: String
        /// The file's size in bytes, a multiple of `Layout.fileAlignment`.
        public var byteCount: Int
        /// CRC-32C (Castagnoli) of the whole file, padding included.
        public var crc32c: UInt32
        /// Version 2: the length of each checksummed chunk (a multiple of 4096), when the file has chunk checksums.
        public var chunkBytes: Int?
        /// Version 2: the CRC-32C of each `chunkBytes` chunk of the file, in order (the last may be shorter).
        public var chunkCRC32C: [UInt32]?

        /// A file entry with its relative path, padded size and checksum.
        public init(path: String, byteCount: Int, crc32c: UInt32) {
            self.path = path
            self.byteCount = byteCount
            self.crc32c = crc32c
        }
    }

    /// One weight tensor: where its bytes lie in the layer's files.
    public struct Weight: Codable, Sendable, Equatable {
        /// The tensor's name, as nodes refer to it.
        public var name: String
        /// How the bytes are stored (`float32`, `float16`, or quantized: `int8`, `uint8`, `uint4`).
        public var dtype: DType
        /// The tensor's shape (a conv weight is outChannels, inChannels/groups, kH, kW).
        public var shape: Shape
        /// Index into the layer's `files`.
        public var file: Int
        /// Where the tensor starts in its file, a multiple of `Layout.tensorAlignment`.
        public var offsetBytes: Int
        /// The tensor's bytes: `dtype.byteCount(elementCount: shape.elementCount)`.
        public var byteCount: Int
        /// Version 3: how a quantized weight's values map back to float32 (nil for float weights).
        public var quantization: Quantization?

        /// A weight entry placing tensor `name` in file `file` of its layer.
        public init(name: String, dtype: DType = .float32, shape: Shape, file: Int, offsetBytes: Int, byteCount: Int,
                    quantization: Quantization? = nil) {
            self.name = name
            self.dtype = dtype
            self.shape = shape
            self.file = file
            self.offsetBytes = offsetBytes
            self.byteCount = byteCount
            self.quantization = quantization
        }
    }

    /// How a quantized weight is dequantized: value = (q - zeroPoint) * scale,
    /// the scale and zero point chosen by `axis` and `blockSize` (item 9 above).
    public struct Quantization: Codable, Sendable, Equatable {
        /// The dimension the scales vary along; nil: one scale for the tensor.
        public var axis: Int?
        /// How many consecutive indices along `axis` share a scale; nil: one each.
        public var blockSize: Int?
        /// The float32 scales, in the weight's file.
        public var scales: Placement
        /// The zero points (one byte each, the weight's type), in the weight's file; nil: all 0.
        public var zeroPoints: Placement?

        /// A table of `count` entries at `offsetBytes` in the weight's file.
        public struct Placement: Codable, Sendable, Equatable {
            /// Where the table starts in the file, a multiple of `Layout.tensorAlignment`.
            public var offsetBytes: Int
            /// How many entries it holds.
            public var count: Int

            /// A table of `count` entries starting `offsetBytes` into the weight's file.
            public init(offsetBytes: Int, count: Int) {
                self.offsetBytes = offsetBytes
                self.count = count
            }
        }

        /// A scheme with scales along `axis` (nil: one scale), in blocks of
        /// `blockSize` when given, with zero points when `zeroPoints` is given.
        public init(axis: Int?, blockSize: Int? = nil, scales: Placement, zeroPoints: Placement? = nil) {
            self.axis = axis
            self.blockSize = blockSize
            self.scales = scales
            self.zeroPoints = zeroPoints
        }

        /// How many scales a tensor of `shape` needs under this scheme, or nil
        /// when `axis` or `blockSize` does not fit the shape.
        public func scaleCount(for shape: Shape) -> Int? {
            guard let axis else { return blockSize == nil ? 1 : nil }
            guard shape.dims.indices.contains(axis) else { return nil }
            let length = shape[axis]
            guard let blockSize else { return length }
            guard blockSize > 0 else { return nil }
            return shape.elementCount / length * ((length + blockSize - 1) / blockSize)
        }
    }

    /// One operator application, ONNX-style.
    public struct Node: Codable, Sendable, Equatable {
        /// The node's name, used in errors.
        public var name: String
        /// The ONNX operator type (`Conv`, `Gemm`, ...).
        public var op: String
        /// The values the node reads: graph inputs, weights or earlier nodes' outputs.
        public var inputs: [String]
        /// The values the node writes (one).
        public var outputs: [String]
        /// The operator's attributes by ONNX name.
        public var attributes: [String: AttributeValue]

        /// A node applying `op` to `inputs`, writing `outputs`.
        public init(name: String, op: String, inputs: [String], outputs: [String], attributes: [String: AttributeValue] = [:]) {
            self.name = name
            self.op = op
            self.inputs = inputs
            self.outputs = outputs
            self.attributes = attributes
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            name = try container.decode(String.self, forKey: .name)
            op = try container.decode(String.self, forKey: .op)
            inputs = try container.decode([String].self, forKey: .inputs)
            outputs = try container.decode([String].self, forKey: .outputs)
            attributes = try container.decodeIfPresent([String: AttributeValue].self, forKey: .attributes) ?? [:]
        }
    }
}

/// Element types of the format. Weights are `float32`, `float16` (widened to
/// float32 by the restore stage) or quantized `int8`, `uint8`, `uint4`
/// (dequantized by the restore stage); graph inputs may also be integer, held
/// as float32 at run time (exact for magnitudes below 2^24, e.g. token ids),
/// and graph outputs (version 3) may be int64, int32 or bool, converted exactly at the edge.
public enum DType: String, Codable, Sendable, CaseIterable {
    /// IEEE 754 single precision, 4 bytes.
    case float32
    /// IEEE 754 half precision, 2 bytes (weights only; widened at restore).
    case float16
    /// 64-bit signed integer (graph inputs and outputs).
    case int64
    /// 32-bit signed integer (graph inputs and outputs).
    case int32
    /// 8-bit signed integer (quantized weights; graph outputs from version 3).
    case int8
    /// 8-bit unsigned integer (quantized weights; graph outputs from version 3).
    case uint8
    /// 4-bit unsigned integer, two per byte, low nibble first (quantized weights only).
    case uint4
    /// Boolean, one byte, 0 or 1 (graph outputs only, version 3).
    case bool

    /// Bits per element.
    public var bitWidth: Int {
        switch self {
        case .float32, .int32: 32
        case .float16: 16
        case .int64: 64
        case .int8, .uint8: 8
        case .uint4: 4
        case .bool: 8
        }
    }

    /// Bytes per element of a whole-byte type (not `uint4`: see `byteCount(elementCount:)`).
    public var byteWidth: Int {
        precondition(self != .uint4, "uint4 packs two values per byte; use byteCount(elementCount:)")
        return bitWidth / 8
    }

    /// Bytes `elementCount` values take, packed (uint4: two per byte, rounded up).
    public func byteCount(elementCount: Int) -> Int { (elementCount * bitWidth + 7) / 8 }

    /// Whether a weight tensor may be stored with this type.
    public var isWeightType: Bool { self == .float32 || self == .float16 || isQuantized }

    /// Whether a weight of this type is quantized (needs a `Manifest.Quantization`).
    public var isQuantized: Bool { self == .int8 || self == .uint8 || self == .uint4 }

    /// Whether a graph output may be declared with this type.
    public var isOutputType: Bool { self != .float16 && self != .uint4 }

    /// The largest magnitude an integer value may have to be held exactly as float32.
    public static let exactIntegerLimit = 1 << 24
}

/// Alignment rules of the format (see the numbered layout above).
public enum Layout {
    /// Every weight file is padded to a multiple of this many bytes (O_DIRECT).
    public static let fileAlignment = 4096
    /// Every tensor starts at a multiple of this many bytes within its file.
    public static let tensorAlignment = 64
    /// The chunk length writers checksum embedding tables in (version 2, `chunkCRC32C`).
    public static let chunkBytes = 16384

    /// `value` rounded up to a multiple of `alignment`.
    public static func roundUp(_ value: Int, to alignment: Int) -> Int {
        (value + alignment - 1) / alignment * alignment
    }
}
