"""A small graph builder over onnx.helper, so each fixture reads as its nodes.

    g = Graph("conv_basic", opset=13)
    x = g.input("x", g.uniform(1, 3, 8, 8))
    w = g.weight("w", g.he(4, 3, 3, 3))
    g.output(g.node("Conv", [x, w], pads=[1, 1, 1, 1]))
    model, feeds = g.build()

Weights are initializers unless asked otherwise; values come from a generator
seeded from the case's name (cases.rng). Output types and shapes come from
onnx shape inference, so every graph output is fully typed.
"""

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .cases import rng

INT64_MAX = np.iinfo(np.int64).max
INT64_MIN = np.iinfo(np.int64).min


class Graph:
    def __init__(self, name, opset=17, ir_version=None):
        self.name = name
        self.opset = opset
        self.ir_version = ir_version
        self.random = rng(name)
        self.nodes = []
        self.initializers = []
        self.inputs = []
        self.feeds = {}
        self.outputs = []
        self._counter = 0
        # List the nodes last-first in the file (a graph not in topological order).
        self.reverse_nodes = False
        # What `demandlayer convert` needs besides the model (e.g. --input-shape), kept in case.json.
        self.convert_args = []
        # onnx's full check; off for graphs it refuses on purpose (an input type without a shape).
        self.full_check = True
        # Outputs onnx's shape inference leaves untyped are float32, shaped by a run (else an error).
        self.type_from_run = False

    # MARK: values

    def uniform(self, *shape, low=-1.0, high=1.0):
        return self.random.uniform(low, high, size=shape).astype(np.float32)

    def normal(self, *shape, std=1.0):
        return (self.random.standard_normal(size=shape) * std).astype(np.float32)

    def he(self, *shape):
        """He-normal weights for a (out, in, k...) or (in, out) layout: std sqrt(2 / fan_in)."""
        fan_in = int(np.prod(shape[1:])) if len(shape) > 2 else shape[0]
        return self.normal(*shape, std=float(np.sqrt(2.0 / max(1, fan_in))))

    def integers(self, low, high, *shape):
        """Integer-valued float32 (for Equal/Less/Greater, where ties must occur)."""
        return self.random.integers(low, high, size=shape).astype(np.float32)

    # MARK: graph parts

    def fresh(self, stem):
        self._counter += 1
        return f"{stem}_{self._counter}"

    def input(self, name, array):
        self.inputs.append(helper.make_tensor_value_info(
            name, helper.np_dtype_to_tensor_dtype(array.dtype), list(array.shape)))
        self.feeds[name] = array
        return name

    def weight(self, name, array):
        self.initializers.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def ints(self, name, values):
        return self.weight(name, np.asarray(values, dtype=np.int64))

    def floats(self, name, values):
        return self.weight(name, np.asarray(values, dtype=np.float32))

    def constant(self, name, array):
        """A Constant node instead of an initializer (how Paddle and some exporters store weights)."""
        self.nodes.append(helper.make_node("Constant", [], [name], name=f"{name}_constant",
                                           value=numpy_helper.from_array(np.asarray(array), name)))
        return name

    def node(self, op, inputs, outputs=1, domain="", **attributes):
        """Adds one node; returns its output name, or the list of names when outputs > 1 or a list."""
        names = outputs if isinstance(outputs, list) else [self.fresh(op.lower()) for _ in range(outputs)]
        self.nodes.append(helper.make_node(op, inputs, names, name=self.fresh(f"{op}_node"),
                                           domain=domain, **attributes))
        return names if isinstance(outputs, list) or outputs > 1 else names[0]

    def output(self, name, graph_name=None):
        """Marks `name` as a graph output; `graph_name` renames it through an Identity."""
        if graph_name is not None and graph_name != name:
            name = self.node("Identity", [name], [graph_name])[0]
        self.outputs.append(name)
        return name

    # MARK: building

    def build(self):
        if self.ir_version is not None and self.ir_version < 4:
            # IR 3 (the light model zoo's): every initializer is also a graph input.
            self.inputs.extend(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims))
                               for t in self.initializers)
        placeholder = [helper.make_tensor_value_info(name, TensorProto.UNDEFINED, None) for name in self.outputs]
        graph = helper.make_graph(self.nodes, self.name, self.inputs, placeholder, self.initializers)
        opsets = [helper.make_opsetid("", self.opset)]
        # Contrib operators (com.microsoft's MatMulNBits) need their domain imported too.
        opsets += [helper.make_opsetid(domain, 1) for domain in sorted({node.domain for node in self.nodes} - {"", "ai.onnx"})]
        model = helper.make_model(graph, opset_imports=opsets, producer_name="demandlayer-fixtures")
        model.ir_version = self.ir_version or min(model.ir_version, _ir_for_opset(self.opset))
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=not self.type_from_run, data_prop=True)
        known = {value.name: value for value in list(inferred.graph.value_info) + list(inferred.graph.output)}
        typed = []
        for name in self.outputs:
            value = known.get(name)
            if value is None or value.type.tensor_type.elem_type == TensorProto.UNDEFINED:
                if not self.type_from_run:
                    raise ValueError(f"{self.name}: shape inference gave no type for output {name}")
                # onnx infers nothing through some function-defined ops (GroupNormalization 18):
                # the type is float, the shape comes from a run below.
                value = helper.make_tensor_value_info(name, TensorProto.FLOAT, None)
            typed.append(value)
        del model.graph.output[:]
        model.graph.output.extend(typed)
        if self.reverse_nodes:
            # Typed while in order (shape inference walks the list once); then listed backwards.
            nodes = list(model.graph.node)
            del model.graph.node[:]
            model.graph.node.extend(reversed(nodes))
        if any(not value.type.tensor_type.HasField("shape") for value in typed):
            self._shapes_from_a_run(model)
        return model, dict(self.feeds)

    def _shapes_from_a_run(self, model):
        """Shape inference cannot see through Reshape targets computed from Shape
        (a static fact only once the input is known): take them from one run."""
        import onnxruntime as ort
        session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        results = session.run(self.outputs, self.feeds)
        for value, array in zip(model.graph.output, results):
            shape = value.type.tensor_type.shape
            shape.Clear()
            for size in array.shape:
                shape.dim.add().dim_value = size


def _ir_for_opset(opset):
    """The oldest IR version that carries `opset` (what an exporter of that time wrote)."""
    for limit, ir in [(9, 4), (10, 5), (11, 6), (14, 7), (18, 8), (20, 9), (22, 10)]:
        if opset <= limit:
            return ir
    return 11
