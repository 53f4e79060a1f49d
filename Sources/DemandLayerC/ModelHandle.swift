import CDemandLayer
import DemandLayer
import Glibc

/// What a `dl_model *` points to: the opened model and the C strings and
/// shape arrays the introspection functions hand out, allocated once at open
/// and freed when the handle is closed (which is why they stay valid until then).
final class ModelHandle {
    let model: Model
    let name: UnsafeMutablePointer<CChar>
    let inputs: [Value]
    let outputs: [Value]
    let layerNames: [UnsafeMutablePointer<CChar>]

    /// A graph input or output in C form.
    struct Value {
        let info: TensorInfo
        let name: UnsafeMutablePointer<CChar>
        let shape: UnsafeMutableBufferPointer<Int64>

        init(_ info: TensorInfo) {
            self.info = info
            name = strdup(info.name)
            shape = .allocate(capacity: max(info.shape.rank, 1))
            for (axis, dimension) in info.shape.dims.enumerated() { shape[axis] = Int64(dimension) }
        }

        var cValue: dl_value_info {
            dl_value_info(name: name, rank: info.shape.rank, shape: shape.baseAddress, element_count: info.shape.elementCount)
        }

        func free() {
            Glibc.free(name)
            shape.deallocate()
        }
    }

    init(_ model: Model) {
        self.model = model
        name = strdup(model.name)
        inputs = model.inputs.map(Value.init)
        outputs = model.outputs.map(Value.init)
        layerNames = model.layerNames.map { strdup($0) }
    }

    deinit {
        free(name)
        for value in inputs + outputs { value.free() }
        for layerName in layerNames { free(layerName) }
    }
}

/// The model behind `handle`, or a failure when it is NULL or not open.
func model(_ handle: OpaquePointer?) throws(Failure) -> ModelHandle {
    guard handle != nil else { throw .argument("model is NULL") }
    guard let model = models.lookup(handle) else { throw .argument("model is not an open dl_model (already closed?)") }
    return model
}

/// Opens the model directory at `path`; see demandlayer.h.
@_cdecl("dl_model_open")
public func dlModelOpen(_ path: UnsafePointer<CChar>?, _ modelOut: UnsafeMutablePointer<OpaquePointer?>?) -> dl_status {
    reporting("dl_model_open") { () throws(Failure) in
        let path = try string(path, "path")
        guard let modelOut else { throw .argument("model_out is NULL") }
        let opened: Model
        do throws(FormatError) { opened = try Model.open(path) } catch { throw Failure(error) }
        modelOut.pointee = models.insert(ModelHandle(opened))
    }
}

/// Releases a model handle; see demandlayer.h.
@_cdecl("dl_model_close")
public func dlModelClose(_ handle: OpaquePointer?) {
    _ = models.remove(handle)
}

/// The model's name; see demandlayer.h.
@_cdecl("dl_model_name")
public func dlModelName(_ handle: OpaquePointer?) -> UnsafePointer<CChar>? {
    models.lookup(handle).map { UnsafePointer($0.name) }
}

/// Number of graph inputs; see demandlayer.h.
@_cdecl("dl_model_input_count")
public func dlModelInputCount(_ handle: OpaquePointer?) -> Int {
    models.lookup(handle)?.inputs.count ?? 0
}

/// Number of graph outputs; see demandlayer.h.
@_cdecl("dl_model_output_count")
public func dlModelOutputCount(_ handle: OpaquePointer?) -> Int {
    models.lookup(handle)?.outputs.count ?? 0
}

/// Describes one graph input; see demandlayer.h.
@_cdecl("dl_model_input")
public func dlModelInput(_ handle: OpaquePointer?, _ index: Int, _ infoOut: UnsafeMutablePointer<dl_value_info>?) -> dl_status {
    reporting("dl_model_input") { () throws(Failure) in
        let values = try model(handle).inputs
        guard let infoOut else { throw .argument("info_out is NULL") }
        guard values.indices.contains(index) else { throw .argument("input index \(index) is out of range: the model has \(values.count) input(s)") }
        infoOut.pointee = values[index].cValue
    }
}

/// Describes one graph output; see demandlayer.h.
@_cdecl("dl_model_output")
public func dlModelOutput(_ handle: OpaquePointer?, _ index: Int, _ infoOut: UnsafeMutablePointer<dl_value_info>?) -> dl_status {
    reporting("dl_model_output") { () throws(Failure) in
        let values = try model(handle).outputs
        guard let infoOut else { throw .argument("info_out is NULL") }
        guard values.indices.contains(index) else { throw .argument("output index \(index) is out of range: the model has \(values.count) output(s)") }
        infoOut.pointee = values[index].cValue
    }
}

/// Number of layers; see demandlayer.h.
@_cdecl("dl_model_layer_count")
public func dlModelLayerCount(_ handle: OpaquePointer?) -> Int {
    models.lookup(handle)?.layerNames.count ?? 0
}

/// One layer's name; see demandlayer.h.
@_cdecl("dl_model_layer_name")
public func dlModelLayerName(_ handle: OpaquePointer?, _ index: Int) -> UnsafePointer<CChar>? {
    guard let names = models.lookup(handle)?.layerNames, names.indices.contains(index) else { return nil }
    return UnsafePointer(names[index])
}

/// Bytes of all weight files; see demandlayer.h.
@_cdecl("dl_model_weight_bytes")
public func dlModelWeightBytes(_ handle: OpaquePointer?) -> UInt64 {
    models.lookup(handle).map { UInt64($0.model.weightByteCount) } ?? 0
}
