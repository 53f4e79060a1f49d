"""One case directory, the layout every consumer reads:

    NAME/model.onnx        the model (plus any external-data files beside it)
    NAME/input_K.npy       the K-th graph input, in graph order, with its ONNX dtype
    NAME/output_K.npy      onnxruntime's K-th graph output for those inputs
    NAME/case.json         {"name", "inputs": [{"name", "file", "dtype", "shape"}],
                            "outputs": [same], "convert_args": [...],
                            "tolerance": {"fp32": 1e-4, ...}, plus provenance}

A run passes when, for every output, max |run - reference| <= tolerance *
max(1, max |reference|) (Tools/compare_outputs.py). References come from
onnxruntime on one thread with graph_optimization_level = ORT_ENABLE_BASIC:
higher levels have an optimizer bug on one position-embedding pattern.
"""

import json
import math
import pathlib
import shutil
import zlib

import numpy as np

FP32_TOLERANCE = 1e-4

# fp16 storage (`demandlayer convert --dtype fp16`): the bound is
# max(FP16_FLOOR, FP16_MARGIN x the error onnxruntime itself shows with every
# weight tensor rounded to float16), relative to max(1, max |reference|). A
# case whose bound would exceed FP16_CEILING states none (PP-OCRv4 det: its
# sigmoid map has edges that rounded weights alone move by 0.17), and fp16 is
# not checked on it. The runtime's own fp16 error differs from onnxruntime's
# with rounded weights (it folds BatchNormalization before rounding), hence
# the margin.
FP16_FLOOR = 1e-2
FP16_MARGIN = 4.0
FP16_CEILING = 0.1
GENERATOR = "Tools/onnx_reference.py"


def rng(name):
    """A generator seeded from a case's name, so adding a case changes no other."""
    return np.random.default_rng(zlib.crc32(name.encode()))


def reference_session(model_path, threads=1, optimization="basic"):
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.graph_optimization_level = {
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }[optimization]
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])


def run_reference(model_path, inputs):
    """onnxruntime's outputs as {name: array}, in graph order."""
    session = reference_session(model_path)
    names = [output.name for output in session.get_outputs()]
    return dict(zip(names, session.run(names, inputs)))


def _entry(name, file, array):
    return {"name": name, "file": file, "dtype": str(array.dtype), "shape": list(array.shape)}


def prepare_directory(directory):
    """An empty case directory (an old one is removed: stale files must not survive)."""
    directory = pathlib.Path(directory)
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    return directory


def write_case(directory, model=None, inputs=None, convert_args=(), tolerance=None, notes=None,
               check=True):
    """Writes model.onnx (unless `model` is None: the caller saved it already),
    the inputs, onnxruntime's outputs and case.json. Returns the outputs."""
    import onnx
    import onnxruntime
    directory = pathlib.Path(directory)
    model_path = directory / "model.onnx"
    if model is not None:
        if check:
            onnx.checker.check_model(model, full_check=True)
        onnx.save(model, str(model_path))
    inputs = dict(inputs or {})
    outputs = run_reference(model_path, inputs)
    description = {
        "name": directory.name,
        "inputs": [],
        "outputs": [],
        "convert_args": list(convert_args),
        "tolerance": dict(tolerance or {"fp32": FP32_TOLERANCE}),
        "generator": GENERATOR,
        "onnxruntime": onnxruntime.__version__,
        "onnx": onnx.__version__,
        "numpy": np.__version__,
    }
    if notes:
        description["notes"] = notes
    for index, (name, array) in enumerate(inputs.items()):
        file = f"input_{index}.npy"
        np.save(directory / file, array)
        description["inputs"].append(_entry(name, file, array))
    for index, (name, array) in enumerate(outputs.items()):
        file = f"output_{index}.npy"
        np.save(directory / file, array)
        description["outputs"].append(_entry(name, file, array))
    (directory / "case.json").write_text(json.dumps(description, indent=1) + "\n")
    return outputs


def _round_to_fp16(tensor):
    """A float32 weight tensor rounded to float16 and widened back, as fp16
    storage does; None for what stays float32 (scalars, which the converter
    folds into attributes, and values outside float16's range)."""
    import onnx
    from onnx import numpy_helper
    if tensor.data_type != onnx.TensorProto.FLOAT:
        return None
    values = numpy_helper.to_array(tensor)
    if values.size < 2 or not np.all(np.abs(values) <= np.finfo(np.float16).max):
        return None
    return numpy_helper.from_array(values.astype(np.float16).astype(np.float32), tensor.name)


def fp16_rounded_error(model_path, inputs, outputs):
    """The error onnxruntime itself shows when every float32 weight tensor is
    rounded to float16 and widened back: what fp16 storage costs at best,
    relative to max(1, max |reference|). Used to state the fp16 bound."""
    import onnx
    model = onnx.load(str(model_path))
    for initializer in model.graph.initializer:
        rounded = _round_to_fp16(initializer)
        if rounded is not None:
            initializer.CopyFrom(rounded)
    for node in model.graph.node:
        if node.op_type == "Constant":
            for attribute in node.attribute:
                rounded = _round_to_fp16(attribute.t) if attribute.name == "value" else None
                if rounded is not None:
                    attribute.t.CopyFrom(rounded)
    rounded_path = pathlib.Path(model_path).with_suffix(".fp16-rounded.onnx")
    onnx.save(model, str(rounded_path))
    try:
        rounded = run_reference(rounded_path, inputs)
    finally:
        rounded_path.unlink()
    worst = 0.0
    for name, reference in outputs.items():
        reference = reference.astype(np.float64)
        if reference.size == 0:
            continue
        error = float(np.max(np.abs(rounded[name].astype(np.float64) - reference)))
        worst = max(worst, error / max(1.0, float(np.max(np.abs(reference)))))
    return worst


def fp16_bound(measured):
    """max(FP16_FLOOR, FP16_MARGIN x measured), rounded up to two significant digits."""
    value = max(FP16_FLOOR, FP16_MARGIN * measured)
    digits = -int(math.floor(math.log10(value))) + 1
    return math.ceil(value * 10 ** digits) / 10 ** digits


def state_fp16_bound(directory, inputs, outputs):
    """Adds the fp16 tolerance (when it means something) and the measured
    rounded-weight error to DIRECTORY/case.json; returns the description."""
    directory = pathlib.Path(directory)
    measured = fp16_rounded_error(directory / "model.onnx", inputs, outputs)
    description = json.loads((directory / "case.json").read_text())
    description["fp16_rounded_weights_error"] = measured
    if fp16_bound(measured) <= FP16_CEILING:
        description["tolerance"]["fp16"] = fp16_bound(measured)
    (directory / "case.json").write_text(json.dumps(description, indent=1) + "\n")
    return description
