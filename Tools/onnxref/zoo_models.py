"""Full-size model-zoo networks from the onnx package's light models
(onnx/backend/test/data/light/), as cases under .models/zoo (not committed).

The light files keep the real topology and shapes but fill every weight with a
ConstantOfShape node of one value. Each such node becomes a seeded random
initializer by the role of its consumer: Conv and Gemm weights He-normal
(std sqrt(2 / fan_in)), biases uniform in [-0.05, 0.05], BatchNormalization
scale in [0.8, 1.2] (a residual branch's last one x0.3, so sixteen residual
sums stay in range), shift and mean normal with std 0.1, variance in
[0.5, 1.5]; the per-channel scale and shift that DenseNet and Inception-v2
apply after BatchNormalization (Unsqueeze, then Mul or Add) likewise. The few
real initializers the light files keep stay as they are.

Then the classifier (the Conv or Gemm that makes the logits, found by walking
back from the output through Softmax, pooling, ReLU and reshapes) is rescaled
so the logits have standard deviation LOGIT_STD on the seeded input, as a
trained network's roughly do: He-scaled logits make the softmax one-hot,
which checks little. The models keep IR version 3: every initializer is also
listed as a graph input.
"""

import os
import sys
import time

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from . import images
from .cases import FP32_TOLERANCE, prepare_directory, rng, state_fp16_bound, write_case

LOGIT_STD = 3.0

MODELS = {
    # name: (light file, input shape)
    "resnet50": ("light_resnet50.onnx", (1, 3, 224, 224)),
    "vgg19": ("light_vgg19.onnx", (1, 3, 224, 224)),
    "densenet121": ("light_densenet121.onnx", (1, 3, 224, 224)),
    "inception_v1": ("light_inception_v1.onnx", (1, 3, 224, 224)),
    "inception_v2": ("light_inception_v2.onnx", (1, 3, 224, 224)),
    "squeezenet": ("light_squeezenet.onnx", (1, 3, 224, 224)),
    "shufflenet": ("light_shufflenet.onnx", (1, 3, 224, 224)),
    "alexnet": ("light_bvlc_alexnet.onnx", (1, 3, 224, 224)),
    "zfnet512": ("light_zfnet512.onnx", (1, 3, 224, 224)),
}

# Ops the classifier search walks back through: each is positively homogeneous,
# so scaling the classifier's weights and bias scales the logits by the same factor.
_PASS_THROUGH = {"Softmax", "Relu", "GlobalAveragePool", "AveragePool", "Reshape", "Flatten", "Dropout", "Identity"}


def light_path(file):
    import onnx.backend.test
    return os.path.join(os.path.dirname(onnx.backend.test.__file__), "data", "light", file)


def _normal(random, shape, std):
    return random.standard_normal(shape, dtype=np.float32) * np.float32(std)


def _fill(random, weight, consumer, index, shape, consumers):
    """Seeded values for the weight named `weight` of `shape`, input `index` of `consumer`."""
    op = consumer.op_type
    shape = tuple(int(d) for d in shape)
    label = consumer.name or consumer.output[0]
    attributes = {a.name: helper.get_attribute_value(a) for a in consumer.attribute}
    if op == "Conv" and index == 1:
        return _normal(random, shape, np.sqrt(2.0 / np.prod(shape[1:])))
    if op == "Gemm" and index == 1:
        return _normal(random, shape, np.sqrt(2.0 / (shape[1] if attributes.get("transB", 0) else shape[0])))
    if op == "Reshape" and index == 0:
        # A classifier weight stored 4-D and reshaped for Gemm (Inception-v1): (.., out, in).
        return _normal(random, shape, np.sqrt(2.0 / shape[-1]))
    if (op, index) in (("Conv", 2), ("Gemm", 2)):
        return random.uniform(-0.05, 0.05, size=shape).astype(np.float32)
    if op == "BatchNormalization":
        if index == 1:
            gain = 0.3 if "branch2c" in weight else 1.0
            return (random.uniform(0.8, 1.2, size=shape) * gain).astype(np.float32)
        if index in (2, 3):
            return _normal(random, shape, 0.1)
        if index == 4:
            return random.uniform(0.5, 1.5, size=shape).astype(np.float32)
    if op == "Unsqueeze" and index == 0:
        (user, _), = consumers[consumer.output[0]]
        if user.op_type == "Mul":
            return random.uniform(0.8, 1.2, size=shape).astype(np.float32)
        if user.op_type == "Add":
            return _normal(random, shape, 0.1)
    raise ValueError(f"no fill rule for input {index} of {op} ({label})")


def _consumers(graph):
    consumers = {}
    for node in graph.node:
        for index, value in enumerate(node.input):
            consumers.setdefault(value, []).append((node, index))
    return consumers


def randomized(name, file):
    """The light model with each ConstantOfShape weight replaced by a seeded initializer."""
    model = onnx.load(light_path(file))
    graph = model.graph
    consumers = _consumers(graph)
    initializers = {tensor.name: tensor for tensor in graph.initializer}
    shape_inputs = set()
    keep = []
    added = []
    for node in graph.node:
        if node.op_type != "ConstantOfShape":
            keep.append(node)
            continue
        shape = numpy_helper.to_array(initializers[node.input[0]])
        shape_inputs.add(node.input[0])
        (consumer, index), = consumers[node.output[0]]
        values = _fill(rng(f"{name}/{node.output[0]}"), node.output[0], consumer, index, shape, consumers)
        added.append(numpy_helper.from_array(values, node.output[0]))
    del graph.node[:]
    graph.node.extend(keep)
    remaining = [tensor for tensor in graph.initializer if tensor.name not in shape_inputs]
    del graph.initializer[:]
    graph.initializer.extend(remaining + added)
    inputs = [value for value in graph.input if value.name not in shape_inputs]
    inputs += [helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)) for t in added]
    del graph.input[:]
    graph.input.extend(inputs)
    return model


def _classifier(graph):
    """(logits value name, the Conv or Gemm node making them) for the graph's first output."""
    producers = {output: node for node in graph.node for output in node.output}
    value = graph.output[0].name
    node = producers[value]
    if node.op_type == "Softmax":
        value = node.input[0]
        node = producers[value]
    logits = value
    while node.op_type in _PASS_THROUGH:
        node = producers[node.input[0]]
    if node.op_type not in ("Conv", "Gemm"):
        raise ValueError(f"no Conv or Gemm classifier before {logits} (found {node.op_type})")
    return logits, node


def _initializer_behind(graph, name):
    """The initializer a weight input comes from, through Reshape/Unsqueeze/Transpose."""
    initializers = {tensor.name: tensor for tensor in graph.initializer}
    producers = {output: node for node in graph.node for output in node.output}
    while name not in initializers:
        name = producers[name].input[0]
    return initializers[name]


def calibrate_classifier(model, feeds):
    """Scales the classifier so its logits have standard deviation LOGIT_STD. Returns the factor."""
    import onnxruntime as ort
    graph = model.graph
    logits, classifier = _classifier(graph)
    probe = logits != graph.output[0].name
    if probe:
        graph.output.append(helper.make_tensor_value_info(logits, TensorProto.FLOAT, None))
    try:
        options = ort.SessionOptions()
        options.log_severity_level = 3
        session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        values = session.run([logits], feeds)[0]
    finally:
        if probe:
            graph.output.pop()
    factor = LOGIT_STD / float(np.std(values))
    for name in classifier.input[1:]:
        tensor = _initializer_behind(graph, name)
        tensor.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(tensor) * np.float32(factor), tensor.name))
    return factor


def write_all(root, only=None, list_only=False):
    if list_only:
        print("\n".join(MODELS))
        return
    names = only.split(",") if only else list(MODELS)
    unknown = [name for name in names if name not in MODELS]
    if unknown:
        sys.exit(f"error: no zoo model named {', '.join(unknown)}; choose from {', '.join(MODELS)}")
    root.mkdir(parents=True, exist_ok=True)
    for name in names:
        start = time.monotonic()
        file, shape = MODELS[name]
        model = randomized(name, file)
        onnx.checker.check_model(model)
        directory = prepare_directory(root / name)
        picture = images.normalized(images.scene(rng(name), shape[2], shape[3]),
                                    [0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
        data_input = next(value.name for value in model.graph.input
                          if value.name not in {t.name for t in model.graph.initializer})
        factor = calibrate_classifier(model, {data_input: picture})
        outputs = write_case(directory, model, {data_input: picture}, check=False,
                             tolerance={"fp32": FP32_TOLERANCE},
                             notes=f"{file} from onnx {onnx.__version__}, ConstantOfShape weights replaced by seeded initializers, "
                                   f"classifier scaled by {factor:.4g} for logit std {LOGIT_STD}")
        description = state_fp16_bound(directory, {data_input: picture}, outputs)
        weight_bytes = sum(len(t.raw_data) for t in model.graph.initializer)
        summary = ", ".join(f"{k} {list(v.shape)} max {float(np.max(v)):.3g}" for k, v in outputs.items())
        print(f"{name}: {weight_bytes / 2**20:.0f} MiB of weights; {summary}; fp16 bound "
              f"{description['tolerance'].get('fp16', 'none')} [{time.monotonic() - start:.1f} s]",
              file=sys.stderr)
