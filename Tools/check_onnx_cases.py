#!/usr/bin/env python3
"""Runs ONNX cases through the demandlayer CLI and compares with onnxruntime.

    Tools/check_onnx_cases.py --cli PATH [--dtype fp32|fp16|int8] [--only a,b] [--work DIR]
                              [--bad DIR] CASES...

CASES are case directories (with case.json) or folders of them
(Tools/onnx_reference.py writes both). For each case:

    demandlayer convert CASE/model.onnx WORK/NAME.dlm <case.json convert_args> [--dtype fp16]
    demandlayer run WORK/NAME.dlm --input NAME=CASE/input_K.npy ... --output WORK/NAME.out
    Tools/compare_outputs.py CASE WORK/NAME.out --dtype DTYPE

A case without a tolerance for --dtype is skipped and says so, except with
--dtype int8 (weight-only): there the error against float onnxruntime, the
accuracy drop, is reported (and a 2-D output's top-1 class compared) without
judging, unless case.json states an "int8" bound. Before any
case, the first one's references are compared with themselves (must pass)
and with one value moved by twice the bound (must fail). With --bad
DIR, every model there must be refused by `convert`: exit status 1..127
(no crash), each "expect_error" substring in its message, and nothing left
in WORK. Ends with "N passed, N failed" and exits 1 if anything failed.
"""

import argparse
import json
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from compare_outputs import compare  # noqa: E402

TIMEOUT_SECONDS = 300


def case_directories(paths):
    found = []
    for path in map(pathlib.Path, paths):
        if (path / "case.json").exists():
            found.append(path)
        elif path.is_dir():
            found.extend(sorted(p.parent for p in path.glob("*/case.json")))
        else:
            sys.exit(f"error: {path} is neither a case directory nor a folder of them")
    return found


def run(command):
    start = time.monotonic()
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        return None, f"timed out after {TIMEOUT_SECONDS} s: {' '.join(command)}", TIMEOUT_SECONDS
    return result.returncode, (result.stderr + result.stdout).strip(), time.monotonic() - start


def describe_failure(step, command, code, text):
    tail = "\n      ".join(text.splitlines()[-8:])
    how = "was killed by signal %d" % -code if code is not None and code < 0 else f"exited {code}"
    return f"{step} {how}: {' '.join(map(str, command))}\n      {tail}"


def check_case(cli, case, work, dtype):
    """Returns (status, lines) with status "pass", "fail" or "skip"."""
    description = json.loads((case / "case.json").read_text())
    name = case.name
    # int8 (weight-only, `convert --dtype int8`) runs every case: where case.json states no int8 bound,
    # the error against float onnxruntime (the accuracy drop) is reported, not judged.
    reported = dtype == "int8" and "int8" not in description.get("tolerance", {})
    if dtype not in description.get("tolerance", {}) and not reported:
        return "skip", [f"skip {name}: no {dtype} tolerance stated in case.json"]
    model = work / f"{name}.{dtype}.dlm"
    outputs = work / f"{name}.{dtype}.out"
    for stale in (model, outputs):
        shutil.rmtree(stale, ignore_errors=True)
    convert = [cli, "convert", str(case / "model.onnx"), str(model), *description.get("convert_args", [])]
    if dtype != "fp32":
        convert += ["--dtype", dtype]
    code, text, convert_seconds = run(convert)
    if code != 0:
        return "fail", [f"FAIL {name}: " + describe_failure("convert", convert, code, text)]
    command = [cli, "run", str(model), "--output", str(outputs)]
    for entry in description["inputs"]:
        command += ["--input", f"{entry['name']}={case / entry['file']}"]
    code, text, run_seconds = run(command)
    if code != 0:
        return "fail", [f"FAIL {name}: " + describe_failure("run", command, code, text)]
    if reported:
        passed, lines = True, ["report (no int8 bound stated): " + line.split(" ", 1)[1]
                               for line in compare(case, outputs, dtype="report", tolerance=float("inf"))[1]]
    else:
        passed, lines = compare(case, outputs, dtype=dtype)
    timing = f"(convert {convert_seconds:.1f} s, run {run_seconds:.1f} s)"
    shutil.rmtree(model, ignore_errors=True)
    return ("pass" if passed else "fail"), [f"{'ok  ' if passed else 'FAIL'} {name} [{dtype}] {timing}"] + \
        [f"     {line}" for line in lines]


def check_bad(cli, case, work):
    description = json.loads((case / "case.json").read_text())
    name = case.name
    target = work / f"bad-{name}.dlm"
    shutil.rmtree(target, ignore_errors=True)
    before = set(work.iterdir())
    command = [cli, "convert", str(case / "model.onnx"), str(target), *description.get("convert_args", [])]
    code, text, _ = run(command)
    problems = []
    if code is None:
        problems.append("convert hung")
    elif code == 0:
        problems.append("convert accepted it")
    elif code < 0 or code >= 128:
        problems.append(f"convert crashed (status {code})")
    missing = [expected for expected in description["expect_error"] if expected.lower() not in text.lower()]
    if missing:
        problems.append(f"message lacks {missing}")
    left = sorted(str(p) for p in set(work.iterdir()) - before)
    if left:
        problems.append(f"left behind {left}")
    message = text.splitlines()[-1] if text else "(no message)"
    if problems:
        return "fail", [f"FAIL bad/{name}: {'; '.join(problems)}\n      message: {message}"]
    return "pass", [f"ok   bad/{name}: refused: {message}"]


def self_test(case):
    """The comparison can fail: the case's own references pass, and the same
    with one value moved by twice the bound do not. Exits if not."""
    import numpy as np
    description = json.loads((case / "case.json").read_text())
    tolerance = description["tolerance"]["fp32"]
    with tempfile.TemporaryDirectory() as scratch:
        for output in description["outputs"]:
            shutil.copyfile(case / output["file"], pathlib.Path(scratch) / (output["name"].replace("/", "_") + ".npy"))
        exact, _ = compare(case, scratch, dtype="fp32")
        first = description["outputs"][0]
        path = pathlib.Path(scratch) / (first["name"].replace("/", "_") + ".npy")
        values = np.load(path).astype(np.float32)
        flat = values.reshape(-1)
        flat[flat.size // 2] += 2 * tolerance * max(1.0, float(np.max(np.abs(values))))
        np.save(path, values)
        perturbed, _ = compare(case, scratch, dtype="fp32")
    if not exact or perturbed:
        sys.exit(f"error: compare_outputs is broken on {case}: exact copy {'passes' if exact else 'fails'}, "
                 f"perturbed copy {'passes' if perturbed else 'fails'}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("cases", nargs="*")
    parser.add_argument("--cli", required=True, help="the demandlayer executable")
    parser.add_argument("--dtype", default="fp32", choices=["fp32", "fp16", "int8"])
    parser.add_argument("--only", help="comma-separated case names")
    parser.add_argument("--bad", help="a folder of models convert must refuse")
    parser.add_argument("--work", default=".models/check", help="where converted models and outputs go")
    arguments = parser.parse_args()
    work = pathlib.Path(arguments.work)
    work.mkdir(parents=True, exist_ok=True)
    cases = case_directories(arguments.cases)
    if arguments.only:
        wanted = set(arguments.only.split(","))
        cases = [case for case in cases if case.name in wanted]
    if cases:
        self_test(cases[0])
    counts = {"pass": 0, "fail": 0, "skip": 0}
    failed = []
    for case in cases:
        status, lines = check_case(arguments.cli, case, work, arguments.dtype)
        counts[status] += 1
        if status == "fail":
            failed.append(case.name)
        print("\n".join(lines), flush=True)
    if arguments.bad:
        for case in case_directories([arguments.bad]):
            status, lines = check_bad(arguments.cli, case, work)
            counts[status] += 1
            if status == "fail":
                failed.append(f"bad/{case.name}")
            print("\n".join(lines), flush=True)
    if failed:
        print(f"failed: {', '.join(failed)}")
    print(f"{counts['pass']} passed, {counts['fail']} failed, {counts['skip']} skipped")
    sys.exit(1 if counts["fail"] else 0)


if __name__ == "__main__":
    main()
