// Times single operators at the sizes real models run them (BERT-base at
// sequence 128, YOLOv8n at 640, PP-OCR detection, ResNet-50). Built by
// Tools/kernel-bench.sh together with the DemandTensor sources into one
// optimized binary; prints one line per case: median milliseconds and the
// rate it implies (GB/s of tensor traffic, or GFLOP/s for matrix products).
#if canImport(Glibc)
import Glibc
#endif

struct BenchCase {
    let name: String
    let type: String
    let attributes: [String: AttributeValue]
    let inputs: [Shape]
    /// Floating-point operations per run, for matrix products; 0 to report bandwidth instead.
    var flops: Double = 0
    /// Values each input holds, when uniform in [-1, 1) would not do (index inputs).
    var indexRange: Int? = nil
}

func seconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) * 1e-9
}

let cases: [BenchCase] = [
    BenchCase(name: "bert linear 128x768 · 768x768", type: "MatMul", attributes: [:], inputs: [[1, 128, 768], [768, 768]], flops: 2 * 128 * 768 * 768),
    BenchCase(name: "bert ffn 128x768 · 768x3072", type: "MatMul", attributes: [:], inputs: [[1, 128, 768], [768, 3072]], flops: 2 * 128 * 768 * 3072),
    BenchCase(name: "bert scores 12x(128x64 · 64x128)", type: "MatMul", attributes: [:], inputs: [[1, 12, 128, 64], [1, 12, 64, 128]], flops: 2 * 12 * 128 * 64 * 128),
    BenchCase(name: "bert context 12x(128x128 · 128x64)", type: "MatMul", attributes: [:], inputs: [[1, 12, 128, 128], [1, 12, 128, 64]], flops: 2 * 12 * 128 * 64 * 128),
    BenchCase(name: "bert layernorm 128x768", type: "LayerNormalization", attributes: [:], inputs: [[1, 128, 768], [768], [768]]),
    BenchCase(name: "bert softmax 12x128x128", type: "Softmax", attributes: [:], inputs: [[1, 12, 128, 128]]),
    BenchCase(name: "bert gelu 128x3072", type: "Gelu", attributes: [:], inputs: [[1, 128, 3072]]),
    BenchCase(name: "bert erf 128x3072", type: "Erf", attributes: [:], inputs: [[1, 128, 3072]]),
    BenchCase(name: "bert add bias 128x3072 + 3072", type: "Add", attributes: [:], inputs: [[1, 128, 3072], [3072]]),
    BenchCase(name: "bert mul 128x3072 same shape", type: "Mul", attributes: [:], inputs: [[1, 128, 3072], [1, 128, 3072]]),
    BenchCase(name: "bert div scores by scalar", type: "Div", attributes: [:], inputs: [[1, 12, 128, 128], [1]]),
    BenchCase(name: "bert mask add (1,1,1,128)", type: "Add", attributes: [:], inputs: [[1, 12, 128, 128], [1, 1, 1, 128]]),
    BenchCase(name: "bert transpose heads (0,2,1,3)", type: "Transpose", attributes: ["perm": .ints([0, 2, 1, 3])], inputs: [[1, 128, 12, 64]]),
    BenchCase(name: "bert transpose keys (0,1,3,2)", type: "Transpose", attributes: ["perm": .ints([0, 1, 3, 2])], inputs: [[1, 12, 128, 64]]),
    BenchCase(name: "bert gather embeddings 128 of 30522x768", type: "Gather", attributes: [:], inputs: [[30522, 768], [1, 128]], indexRange: 30522),
    BenchCase(name: "bert reducemean 128x768 axis -1", type: "ReduceMean", attributes: ["axes": .ints([-1])], inputs: [[1, 128, 768]]),
    BenchCase(name: "bert pow 2 128x768", type: "Pow", attributes: [:], inputs: [[1, 128, 768], [1]]),
    BenchCase(name: "yolo mul 64x160x160 (silu gate)", type: "Mul", attributes: [:], inputs: [[1, 64, 160, 160], [1, 64, 160, 160]]),
    BenchCase(name: "yolo sigmoid 64x160x160", type: "Sigmoid", attributes: [:], inputs: [[1, 64, 160, 160]]),
    BenchCase(name: "yolo resize nearest x2 256x20x20", type: "Resize",
              attributes: ["mode": .string("nearest"), "coordinate_transformation_mode": .string("asymmetric"), "nearest_mode": .string("floor"),
                           "scales": .floats([1, 1, 2, 2])], inputs: [[1, 256, 20, 20]]),
    BenchCase(name: "yolo upsample x2 256x20x20 (for comparison)", type: "Upsample", attributes: ["scales": .floats([1, 1, 2, 2])],
              inputs: [[1, 256, 20, 20]]),
    BenchCase(name: "yolo resize nearest x2 128x40x40", type: "Resize",
              attributes: ["mode": .string("nearest"), "scales": .floats([1, 1, 2, 2])], inputs: [[1, 128, 40, 40]]),
    BenchCase(name: "yolo slice channel half 64x160x160", type: "Slice", attributes: ["starts": .ints([32]), "ends": .ints([64]), "axes": .ints([1])],
              inputs: [[1, 64, 160, 160]]),
    BenchCase(name: "yolo dfl softmax axis 1 (1,4,16,8400)", type: "Softmax", attributes: ["axis": .int(1)], inputs: [[1, 4, 16, 8400]]),
    BenchCase(name: "yolo dfl transpose (0,2,1,3)", type: "Transpose", attributes: ["perm": .ints([0, 2, 1, 3])], inputs: [[1, 4, 16, 8400]]),
    BenchCase(name: "yolo pad maxpool border 128x20x20", type: "Pad", attributes: ["pads": .ints([0, 0, 2, 2, 0, 0, 2, 2])], inputs: [[1, 128, 20, 20]]),
    BenchCase(name: "ocr convtranspose 64→64 2x2 s2 80x80", type: "ConvTranspose", attributes: ["strides": .ints([2, 2])],
              inputs: [[1, 64, 80, 80], [64, 64, 2, 2], [64]], flops: 2 * 64 * 64 * 4 * 80 * 80),
    BenchCase(name: "ocr convtranspose's sgemm alone", type: "MatMul", attributes: [:], inputs: [[256, 64], [64, 6400]],
              flops: 2 * 64 * 64 * 4 * 80 * 80),
    BenchCase(name: "ocr convtranspose 24→24 3x3 s2 p1 160x160", type: "ConvTranspose",
              attributes: ["strides": .ints([2, 2]), "pads": .ints([1, 1, 1, 1]), "output_padding": .ints([1, 1])],
              inputs: [[1, 24, 160, 160], [24, 24, 3, 3], [24]], flops: 2 * 24 * 24 * 9 * 160 * 160),
    BenchCase(name: "ocr hardswish 96x80x80", type: "HardSwish", attributes: [:], inputs: [[1, 96, 80, 80]]),
    BenchCase(name: "ocr resize linear x2 96x80x80", type: "Resize", attributes: ["mode": .string("linear"), "scales": .floats([1, 1, 2, 2])],
              inputs: [[1, 96, 80, 80]]),
    BenchCase(name: "resnet batchnorm 256x56x56", type: "BatchNormalization", attributes: [:], inputs: [[1, 256, 56, 56], [256], [256], [256], [256]]),
    BenchCase(name: "resnet reducemean spatial 2048x7x7", type: "ReduceMean", attributes: ["axes": .ints([2, 3])], inputs: [[1, 2048, 7, 7]]),
]

var state: UInt64 = 0x9E37_79B9_7F4A_7C15
func nextUnit() -> Float {
    state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
    return Float(state >> 40) / Float(1 << 24)
}

func padded(_ text: String, _ width: Int) -> String { text + String(repeating: " ", count: max(0, width - text.count)) }

let filter = CommandLine.arguments.dropFirst().first
print(padded("case", 44), "median ms", "min ms   ", "  rate")
for benchCase in cases where filter.map({ benchCase.name.contains($0) }) ?? true {
    let op = try Operator(type: benchCase.type, attributes: benchCase.attributes)
    let outputShape = try op.outputShape(inputs: benchCase.inputs)
    let inputs = benchCase.inputs.enumerated().map { index, shape in
        let tensor = Tensor(zeros: shape)
        for i in 0..<tensor.elementCount {
            if index == 1, let range = benchCase.indexRange {
                tensor.data[i] = Float(Int(nextUnit() * Float(range)))
            } else {
                tensor.data[i] = benchCase.type == "BatchNormalization" && index == 4 ? 1 + nextUnit() : 2 * nextUnit() - 1
            }
        }
        return tensor
    }
    if benchCase.type == "Pow" { inputs[1].data[0] = 2 }
    let output = Tensor(zeros: outputShape)
    let workspace = Workspace(floatCount: op.workspaceFloatCount(inputs: benchCase.inputs))
    for _ in 0..<3 { try op.execute(inputs: inputs, output: output, workspace: workspace) }
    var times: [Double] = []
    let start = seconds()
    while times.count < 20 || (seconds() - start < 1 && times.count < 1000) {
        let t0 = seconds()
        try op.execute(inputs: inputs, output: output, workspace: workspace)
        times.append(seconds() - t0)
    }
    times.sort()
    let median = times[times.count / 2]
    let rate: String
    if benchCase.flops > 0 {
        rate = "\(Int(benchCase.flops / median / 1e9)) GFLOP/s"
    } else {
        let bytes = Double(4 * (inputs.reduce(0) { $0 + $1.elementCount } + output.elementCount))
        rate = "\(Int(bytes / median / 1e9 * 10) / 10) GB/s"
    }
    print(padded(benchCase.name, 44), padded("\(Double(Int(median * 1e6)) / 1000)", 9), padded("\(Double(Int(times[0] * 1e6)) / 1000)", 9), " ", rate)
}
