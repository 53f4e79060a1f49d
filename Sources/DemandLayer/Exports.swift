// The types a user of `import DemandLayer` needs besides this module's own:
// the model to open, the tensors to pass, the element types of typed
// outputs, the IO engine to choose and the error opening can throw. Scoped re-exports, so the rest of DemandFormat,
// DemandTensor and DemandIO (the manifest, kernels, engines) stays out of the
// user's namespace. `Tests/DemandLayerTests/PublicAPIDocTests.swift` reads
// this list: every symbol re-exported here must carry a doc comment.
@_exported import class DemandFormat.Model
@_exported import struct DemandFormat.FormatError
@_exported import enum DemandFormat.DType
@_exported import struct DemandTensor.Tensor
@_exported import struct DemandTensor.Shape
@_exported import enum DemandIO.IOEngineChoice
@_exported import enum DemandIO.IOEngineKind
