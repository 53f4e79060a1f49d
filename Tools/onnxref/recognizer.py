"""A pretrained CNN + bidirectional LSTM text recognizer (CRNN with a CTC
head): ddddocr's common.onnx (ddddocr==1.4.11 on PyPI, MIT licence), as a
case under .models/real (not committed; the wheel is installed by
environment.install_model_wheels).

The model: 21 convolutions with SiLU (Sigmoid·Mul) on a 1×1×64×W grey line,
a Transpose/Reshape to a sequence, one bidirectional LSTM (hidden 512, input
512, 16 MiB of W and R), a Gemm to 8210 classes (33 MiB) and ArgMax. The
input is a seeded synthetic text line with ddddocr's preprocessing
(grey, /255, (x − 0.5)/0.5). The graph is given one more output, `logits`
(the Gemm's scores before ArgMax), so that the comparison does not rest on
ArgMax alone; the script checks that every step's top score leads the
runner-up by far more than the fp32 bound, so the indices are stable too.
"""

import numpy as np

from . import environment, images
from .cases import FP32_TOLERANCE, prepare_directory, rng, write_case

DISTRIBUTION = "ddddocr"
FILE = "ddddocr/common.onnx"
WIDTH = 192
LOGITS = "387"  # the Reshape after the Gemm: (steps, 1, classes)


def write(root, name):
    import onnx
    from onnx import TensorProto, helper
    source = environment.package_file(DISTRIBUTION, FILE)
    model = onnx.load(str(source))
    lstm = [node for node in model.graph.node if node.op_type == "LSTM"]
    if len(lstm) != 1 or not any(node.output[0] == LOGITS for node in model.graph.node):
        raise SystemExit(f"error: {name}: {FILE} is not the CRNN this case was written for (one LSTM, scores '{LOGITS}')")
    model.graph.output.append(helper.make_tensor_value_info(LOGITS, TensorProto.FLOAT, None))
    picture = images.text_lines(rng(name), 64, WIDTH, lines=1).mean(axis=0)
    line = ((picture - 0.5) / 0.5)[None, None].astype(np.float32)
    directory = prepare_directory(root / name)
    onnx.save(model, str(directory / "model.onnx"))
    inputs = {"input1": line}
    outputs = write_case(directory, None, inputs, convert_args=["--input-shape", f"input1=1x1x64x{WIDTH}"])
    scores = np.sort(outputs[LOGITS].reshape(-1, outputs[LOGITS].shape[-1]), axis=-1)
    margin = float(np.min(scores[:, -1] - scores[:, -2]))
    scale = max(1.0, float(np.max(np.abs(outputs[LOGITS]))))
    if margin <= 100 * FP32_TOLERANCE * scale:
        raise SystemExit(f"error: {name}: the top two scores of a step are {margin:.2e} apart; "
                         f"ArgMax would not be a stable output (bound {FP32_TOLERANCE * scale:.1e})")
    from importlib import metadata
    return {"source": f"{DISTRIBUTION}=={metadata.version(DISTRIBUTION)}:{FILE} (plus output '{LOGITS}', the scores before ArgMax)",
            "smallest_top_score_margin": margin}, inputs, outputs
