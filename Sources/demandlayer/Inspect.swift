import Foundation
import ArgumentParser
import DemandFormat
import DemandLayer

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a model's layers, their sizes, and the ring each prefetch depth needs."
    )

    @Argument(help: ArgumentHelp("A built-in model name or a path to a NAME.dlm directory.", valueName: "name|path"))
    var model: String = "resnet152"

    @Option(name: .long, help: ArgumentHelp("Where built-in models are kept.", valueName: "dir"))
    var cache: String?

    @Flag(name: .long, help: "List every layer.")
    var layers = false

    func run() throws {
        let model = try ModelLocator.open(model, cache: cache)
        let bytes = model.layers.map(\.byteCount)
        print("model      \(model.name) (\(model.path))")
        print("inputs     \(model.manifest.inputs.map { "\($0.name) \($0.shape)" }.joined(separator: ", "))")
        // A typed output (int64, int32, bool) shows its dtype; float32 is the default and goes unsaid.
        print("outputs    \(model.manifest.outputs.map { "\($0.name) \($0.shape)" + ($0.dtype == .float32 ? "" : " \($0.dtype.rawValue)") }.joined(separator: ", "))")
        print("layers     \(model.layers.count), weights \(formatMiB(model.weightByteCount)), largest layer \(formatMiB(model.largestLayerByteCount))")
        for depth in [1, 2, 4, 8] {
            let capacity = BufferRing.minimumCapacity(layerBytes: bytes, depth: depth)
            let share = 100 * Double(capacity) / Double(max(model.weightByteCount, 1))
            print("depth \(depth)    ring \(formatMiB(capacity)) (\(String(format: "%.1f", share))% of the weights)")
        }
        if layers {
            print("")
            for (index, layer) in model.layers.enumerated() {
                let ops = layer.nodes.map(\.op).joined(separator: "+")
                let size = formatMiB(layer.byteCount)
                let number = String(repeating: " ", count: max(0, 4 - "\(index)".count)) + "\(index)"
                print("\(number)  \(layer.name.padding(toLength: 18, withPad: " ", startingAt: 0)) \(String(repeating: " ", count: max(0, 10 - size.count)))\(size)  \(ops)")
            }
        }
    }
}
