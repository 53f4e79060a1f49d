#!/usr/bin/env python3
"""Compares `demandlayer run` outputs with a case's onnxruntime references.

    Tools/compare_outputs.py REF_CASE_DIR RUN_OUTPUT_DIR [--tolerance-scale S] [--dtype fp32|fp16]

REF_CASE_DIR holds case.json and output_K.npy (Tools/onnx_reference.py);
RUN_OUTPUT_DIR holds `<output name>.npy` per graph output, '/' in a name
written as '_' (what `demandlayer run --output DIR` writes). For every output:

    max |run - reference| <= tolerance x S x max(1, max |reference|)

where tolerance is case.json's "tolerance"[dtype] (fp32: 1e-4). An integer
or bool reference (ArgMax, TopK indices, a comparison) is compared exactly:
the run's file must have the reference's dtype (int64 `<i8`, int32 `<i4`,
bool `|b1`) and equal values. Prints one line per output and exits 1 if any
output is missing, has the wrong shape or dtype, has NaN where the reference
does not (or the reverse), or is over the bound. Needs only numpy (any
recent version).
"""

import argparse
import json
import pathlib
import sys

import numpy as np


def output_file(run_directory, name):
    return pathlib.Path(run_directory) / (name.replace("/", "_") + ".npy")


def compare_exact(actual, reference):
    """An integer or bool output: same dtype, equal values. Returns (ok, detail)."""
    if actual.dtype != reference.dtype:
        return False, f"dtype {actual.dtype.str}, reference {reference.dtype.str}"
    wrong = np.argwhere(np.array(actual != reference, ndmin=1))
    if wrong.size:
        first = tuple(map(int, wrong[0]))
        return False, (f"{len(wrong)} values differ ({reference.dtype.str}, exact); first at {list(first)}: "
                       f"{np.array(actual, ndmin=1)[first]} != {np.array(reference, ndmin=1)[first]}")
    return True, f"exact ({reference.dtype.str})"


def compare(case_directory, run_directory, scale=1.0, dtype="fp32", tolerance=None):
    """Returns (passed, lines). `tolerance` replaces case.json's for `dtype` (inf: only report)."""
    case_directory = pathlib.Path(case_directory)
    description = json.loads((case_directory / "case.json").read_text())
    tolerances = dict(description.get("tolerance", {}))
    if tolerance is not None:
        tolerances[dtype] = tolerance
    if dtype not in tolerances:
        return False, [f"{description['name']}: case.json states no {dtype} tolerance (has: {', '.join(tolerances)})"]
    tolerance = tolerances[dtype] * scale
    passed = True
    lines = []
    for output in description["outputs"]:
        name = output["name"]
        reference = np.load(case_directory / output["file"])
        path = output_file(run_directory, name)
        if not path.exists():
            passed = False
            lines.append(f"FAIL {name}: no {path}")
            continue
        actual = np.load(path)
        if tuple(actual.shape) != tuple(reference.shape):
            passed = False
            lines.append(f"FAIL {name}: shape {list(actual.shape)}, reference {list(reference.shape)}")
            continue
        if reference.dtype.kind in "iub":
            ok, detail = compare_exact(actual, reference)
            passed &= ok
            lines.append(f"{'ok  ' if ok else 'FAIL'} {name} {list(reference.shape)}: {detail}")
            continue
        reference = reference.astype(np.float64)
        actual = np.array(actual, dtype=np.float64, ndmin=1)
        reference = np.array(reference, ndmin=1)
        if reference.size == 0:
            lines.append(f"ok   {name}: empty")
            continue
        scale_value = max(1.0, float(np.max(np.abs(reference))))
        bound = tolerance * scale_value
        unexpected_nan = np.isnan(actual) != np.isnan(reference)
        difference = np.abs(actual - reference)
        difference[np.isnan(actual) & np.isnan(reference)] = 0
        error = float(np.nanmax(difference)) if not unexpected_nan.any() else float("nan")
        where = np.unravel_index(int(np.nanargmax(difference)), difference.shape) if not unexpected_nan.any() else None
        ok = not unexpected_nan.any() and error <= bound
        passed &= ok
        detail = (f"max abs error {error:.3e} (relative {error / scale_value:.2e}) at {list(map(int, where))}, "
                  f"bound {bound:.3e} = {tolerance:g} x {scale_value:.4g}" if where is not None
                  else f"NaN in one and not the other at {int(unexpected_nan.sum())} positions")
        lines.append(f"{'ok  ' if ok else 'FAIL'} {name} {list(reference.shape)}: {detail}")
        if description.get("top1_must_match") or (dtype == "report" and reference.ndim == 2 and reference.shape[1] > 1):
            # A classifier: the class each row picks must be onnxruntime's.
            picked, expected = actual.reshape(actual.shape[0], -1).argmax(1), reference.reshape(reference.shape[0], -1).argmax(1)
            same = bool(np.all(picked == expected))
            passed &= same
            lines.append(f"{'ok  ' if same else 'FAIL'} {name}: top-1 class {picked.tolist()}, onnxruntime's {expected.tolist()}")
    return passed, lines


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("case", help="reference case directory (has case.json)")
    parser.add_argument("run", help="directory `demandlayer run --output` wrote")
    parser.add_argument("--tolerance-scale", type=float, default=1.0, help="multiplies the case's tolerance")
    parser.add_argument("--dtype", default="fp32", help="which of case.json's tolerances applies (fp32, fp16)")
    arguments = parser.parse_args()
    passed, lines = compare(arguments.case, arguments.run, arguments.tolerance_scale, arguments.dtype)
    name = pathlib.Path(arguments.case).name
    for line in lines:
        print(f"{name}: {line}")
    sys.exit(0 if passed else 1)


if __name__ == "__main__":
    main()
