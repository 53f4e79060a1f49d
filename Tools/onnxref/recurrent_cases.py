"""LSTM and GRU fixtures: forward, reverse and bidirectional; sequence_lens
(varied lengths in a batch, as an initializer and as an int32 graph input);
initial states; batch 1 (the runtime's GEMV path) and batch > 1 (its GEMM
path); peepholes, clip and input_forget (LSTM); linear_before_reset 0 and 1
(GRU); graphs that read only some of Y, Y_h, Y_c.
onnxruntime refuses layout 1 (batch first), so it has no fixture here.
Registered in op_cases.CASES like the rest; `write_bad` adds the recurrent
models the converter must refuse (non-default activations and their alpha).
"""

import numpy as np
from onnx import helper

from .bad_cases import _describe
from .cases import prepare_directory
from .graph import Graph
from .op_cases import case

SEQUENCE, BATCH, INPUT, HIDDEN = 5, 3, 4, 6


def _recurrent(g, op, direction="forward", hidden=HIDDEN, steps=SEQUENCE, batch=BATCH, input_size=INPUT,
               bias=True, lengths=None, lengths_as_input=False, initial=False, peepholes=False, layout=0,
               outputs=(True, True, True), **attributes):
    """One LSTM or GRU node on X (uniform in [-1, 1]) with weights in [-0.5, 0.5]; returns the read outputs."""
    gates = 4 if op == "LSTM" else 3
    directions = 2 if direction == "bidirectional" else 1
    x_shape = (steps, batch, input_size) if layout == 0 else (batch, steps, input_size)
    state_shape = (directions, batch, hidden) if layout == 0 else (batch, directions, hidden)
    inputs = [g.input("x", g.uniform(*x_shape)),
              g.weight("w", g.uniform(directions, gates * hidden, input_size, low=-0.5, high=0.5)),
              g.weight("r", g.uniform(directions, gates * hidden, hidden, low=-0.5, high=0.5))]
    inputs.append(g.weight("b", g.uniform(directions, 2 * gates * hidden, low=-0.5, high=0.5)) if bias else "")
    if lengths is None:
        inputs.append("")
    elif lengths_as_input:
        inputs.append(g.input("sequence_lens", np.asarray(lengths, np.int32)))
    else:
        inputs.append(g.weight("sequence_lens", np.asarray(lengths, np.int32)))
    inputs.append(g.input("initial_h", g.uniform(*state_shape)) if initial else "")
    if op == "LSTM":
        inputs.append(g.input("initial_c", g.uniform(*state_shape)) if initial else "")
        inputs.append(g.weight("p", g.uniform(directions, 3 * hidden, low=-0.5, high=0.5)) if peepholes else "")
    while inputs[-1] == "":
        inputs.pop()
    names = [name if wanted else "" for name, wanted in zip(["y", "y_h", "y_c"], outputs[: gates - 1])]
    if layout:
        attributes["layout"] = layout
    g.nodes.append(helper.make_node(op, inputs, names, name=f"{op.lower()}_0", direction=direction,
                                    hidden_size=hidden, **attributes))
    for name in names:
        if name:
            g.output(name)


# MARK: LSTM

@case("lstm_forward", 14)
def _(g):
    _recurrent(g, "LSTM")


@case("lstm_reverse_initial_states", 14)
def _(g):
    _recurrent(g, "LSTM", direction="reverse", initial=True)


@case("lstm_bidirectional_sequence_lens", 14)
def _(g):
    _recurrent(g, "LSTM", direction="bidirectional", lengths=[5, 3, 1], initial=True)


@case("lstm_reverse_sequence_lens_input", 14)
def _(g):
    # Reverse with unequal lengths: each row starts at its own last step.
    _recurrent(g, "LSTM", direction="reverse", lengths=[2, 5, 4], lengths_as_input=True)


@case("lstm_peepholes_no_bias", 14)
def _(g):
    # B and sequence_lens omitted before P: the converter fills the gap.
    _recurrent(g, "LSTM", bias=False, peepholes=True, initial=True)


@case("lstm_clip_input_forget", 14)
def _(g):
    _recurrent(g, "LSTM", direction="bidirectional", clip=0.4, input_forget=1, initial=True)


@case("lstm_only_y_h", 14)
def _(g):
    _recurrent(g, "LSTM", direction="bidirectional", outputs=(False, True, False))


@case("lstm_only_y_c_and_y", 7)
def _(g):
    _recurrent(g, "LSTM", outputs=(True, False, True), lengths=[4, 5, 2])


@case("lstm_batch1_bidirectional", 14)
def _(g):
    _recurrent(g, "LSTM", direction="bidirectional", batch=1, hidden=16, steps=7, input_size=10, initial=True)


# MARK: GRU

@case("gru_forward", 14)
def _(g):
    _recurrent(g, "GRU")


@case("gru_forward_linear_before_reset", 14)
def _(g):
    _recurrent(g, "GRU", linear_before_reset=1)


@case("gru_reverse_initial_h_linear_before_reset", 14)
def _(g):
    _recurrent(g, "GRU", direction="reverse", initial=True, linear_before_reset=1)


@case("gru_bidirectional_sequence_lens", 14)
def _(g):
    _recurrent(g, "GRU", direction="bidirectional", lengths=[5, 2, 3], initial=True)


@case("gru_bidirectional_sequence_lens_lbr", 14)
def _(g):
    _recurrent(g, "GRU", direction="bidirectional", lengths=[1, 4, 5], lengths_as_input=True, linear_before_reset=1)


@case("gru_only_y_h_clip", 14)
def _(g):
    _recurrent(g, "GRU", direction="reverse", outputs=(False, True), clip=0.3, initial=True)


@case("gru_no_bias_opset7", 7)
def _(g):
    _recurrent(g, "GRU", bias=False, initial=True)


@case("gru_batch1_bidirectional", 14)
def _(g):
    _recurrent(g, "GRU", direction="bidirectional", batch=1, hidden=16, steps=7, input_size=10, linear_before_reset=1)


@case("lstm_zero_length", 14)
def _(g):
    # onnxruntime gives an entry of length 0 zero final states, not its initial ones.
    _recurrent(g, "LSTM", direction="bidirectional", lengths=[0, 5, 3], initial=True)


@case("gru_zero_length", 14)
def _(g):
    _recurrent(g, "GRU", direction="bidirectional", lengths=[4, 0, 5], lengths_as_input=True, initial=True)


# MARK: stacked

@case("recurrent_stack_lstm_gru", 14)
def _(g):
    """A bidirectional LSTM, a GRU on its two directions' features and a
    MatMul to 80 classes: three weighted layers, so a session streams them."""
    x = g.input("x", g.uniform(6, 2, 8))
    y = g.node("LSTM", [x, g.weight("lstm_w", g.uniform(2, 64, 8, low=-0.4, high=0.4)),
                        g.weight("lstm_r", g.uniform(2, 64, 16, low=-0.4, high=0.4)),
                        g.weight("lstm_b", g.uniform(2, 128, low=-0.3, high=0.3))], outputs=["lstm_y"],
               direction="bidirectional", hidden_size=16)[0]
    features = g.node("Reshape", [g.node("Transpose", [y], perm=[0, 2, 1, 3]), g.ints("features", [6, 2, 32])])
    y = g.node("GRU", [features, g.weight("gru_w", g.uniform(1, 48, 32, low=-0.4, high=0.4)),
                       g.weight("gru_r", g.uniform(1, 48, 16, low=-0.4, high=0.4)),
                       g.weight("gru_b", g.uniform(1, 96, low=-0.3, high=0.3))], outputs=["gru_y", "gru_y_h"],
               hidden_size=16, linear_before_reset=1)[0]
    scores = g.node("MatMul", [g.node("Squeeze", [y, g.ints("direction_axis", [1])]),
                               g.weight("classes", g.uniform(16, 80, low=-0.5, high=0.5))])
    g.output(g.node("LogSoftmax", [scores], axis=-1))


# MARK: refused

def write_bad(root):
    """Recurrent nodes with activations the runtime does not implement."""
    written = []
    for name, op, attributes, expect in [
        ("lstm_activations", "LSTM", {"activations": ["Sigmoid", "Relu", "Tanh"]}, ["lstm_0", "LSTM", "activations", "Relu"]),
        ("gru_activation_alpha", "GRU", {"activations": ["HardSigmoid", "Tanh"], "activation_alpha": [0.3]},
         ["gru_0", "GRU", "activations", "HardSigmoid"]),
    ]:
        directory = prepare_directory(root / name)
        g = Graph(name, opset=14)
        _recurrent(g, op, **attributes)
        model, _ = g.build()
        import onnx
        onnx.save(model, str(directory / "model.onnx"))
        _describe(directory, expect, f"{op} with non-default activations: refused naming the node and the attribute")
        written.append(directory)
    return written
