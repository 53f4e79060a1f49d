"""Fixtures for the logic, selection and index operators: Not/And/Or/Xor,
TopK, Einsum, ScatterND, OneHot, NonZero (folded) and If (folded condition).
Registered into op_cases.CASES, so `onnx_reference.py ops` writes them with
the rest.
"""

import numpy as np

from .op_cases import case


def bools(g, *shape):
    return g.random.integers(0, 2, size=shape).astype(bool)


# MARK: logic (bools held as 0/1 floats)

def logical(name, op, a_shape, b_shape, opset=7):
    @case(name, opset)
    def _(g):
        a = g.input("a", bools(g, *a_shape))
        b = g.input("b", bools(g, *b_shape))
        g.output(g.node(op, [a, b]))


logical("and_broadcast", "And", (2, 3, 4), (3, 1))
logical("or_same_shape", "Or", (3, 5), (3, 5))
logical("xor_two_way", "Xor", (2, 1, 4), (3, 1))


@case("not_bool", 1)
def _(g):
    g.output(g.node("Not", [g.input("x", bools(g, 3, 4))]))


@case("logic_from_comparisons", 13)
def _(g):
    # A mask built from float comparisons, combined and used by Where, as attention masks are.
    a = g.input("a", g.integers(-2, 3, 2, 3, 4))
    b = g.input("b", g.integers(-2, 3, 3, 4))
    lo = g.node("Greater", [a, b])
    hi = g.node("Less", [a, g.floats("two", 2.0)])
    keep = g.node("And", [lo, g.node("Not", [hi])])
    either = g.node("Or", [keep, g.node("Xor", [lo, hi])])
    g.output(g.node("Where", [either, a, g.floats("zero", 0.0)]))


# MARK: TopK (values and int64 indices; ties go to the lower index, as onnxruntime breaks them)

def top_k(name, shape, k, opset=11, ties=False, **attributes):
    @case(name, opset)
    def _(g):
        x = g.integers(-2, 3, *shape) if ties else g.uniform(*shape)
        if opset >= 10:
            values, indices = g.node("TopK", [g.input("x", x), g.ints("k", [k])], outputs=2, **attributes)
        else:
            values, indices = g.node("TopK", [g.input("x", x)], outputs=2, k=k, **attributes)
        g.output(values)
        g.output(indices)


top_k("topk_last_axis", (3, 10), 4)
top_k("topk_axis1_smallest", (2, 6, 3), 3, axis=1, largest=0)
top_k("topk_negative_axis_ties", (4, 9), 5, ties=True, axis=-1)
top_k("topk_ties_smallest_axis0", (8, 5), 3, ties=True, axis=0, largest=0)
top_k("topk_k_equals_length", (2, 3, 4), 4, ties=True, axis=2)
top_k("topk_opset1_attribute_k", (3, 7), 2, opset=1, axis=1)


@case("topk_indices_gather", 13)
def _(g):
    # Only the indices are read: they pick rows of another tensor, as a
    # beam or a top-k router does.
    scores = g.input("scores", g.uniform(2, 8))
    _, indices = g.node("TopK", [scores, g.ints("k", [3])], outputs=2, axis=1)
    g.output(g.node("GatherElements", [g.input("table", g.uniform(2, 8)), indices], axis=1))


# MARK: Einsum (lowered at convert time to Transpose, Reshape, ReduceSum, MatMul)

def einsum(name, equation, *shapes, constant=None, opset=12):
    @case(name, opset)
    def _(g):
        operands = [g.weight(f"w{i}", g.uniform(*shape)) if i == constant else g.input(f"x{i}", g.uniform(*shape))
                    for i, shape in enumerate(shapes)]
        g.output(g.node("Einsum", operands, equation=equation))


einsum("einsum_matmul", "ij,jk->ik", (3, 4), (4, 5))
einsum("einsum_batched_matmul", "bij,bjk->bik", (2, 3, 4), (2, 4, 5))
einsum("einsum_attention_scores", "bhid,bhjd->bhij", (2, 3, 4, 8), (2, 3, 5, 8))
einsum("einsum_attention_context", "bhij,bhjd->bhid", (2, 3, 4, 5), (2, 3, 5, 8))
einsum("einsum_transpose", "ij->ji", (3, 5))
einsum("einsum_row_sum", "ij->i", (4, 6))
einsum("einsum_outer", "i,j->ij", (4,), (3,))
einsum("einsum_weight_implicit", "bsd,df", (2, 3, 4), (4, 6), constant=1)
einsum("einsum_permuted_output", "bik,kj->jbi", (2, 3, 4), (4, 5), opset=13)
einsum("einsum_sum_then_contract", "ijk,jl->li", (3, 4, 2), (4, 5))
