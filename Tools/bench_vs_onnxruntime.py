#!/usr/bin/env python3
"""Times demandlayer (resident and pipelined) and onnxruntime on one model,
same input, same thread count, rounds interleaved in one run.

    Tools/bench_vs_onnxruntime.py MODEL.onnx --threads N --runs R
        [--dlm MODEL.dlm] [--input-shape NAME=1x3x224x224 ...] [--cli PATH]
        [--baseline-cli PATH] [--depth D] [--ort-optimization all|basic] [--json]

Converts MODEL.onnx with `demandlayer convert` (unless --dlm names an
already converted model; --input-shape, or the convert_args of a case.json
beside the model, are passed on). Then R rounds; in each, in alternating order:

  demandlayer bench --model M.dlm --policies resident,pipelined --threads N --runs 1 --json
      (a fresh process: each policy opens a session, runs once to warm up, once timed)
  onnxruntime, intra_op_num_threads=N: one warm-up run, one timed run
      (one session kept for the whole run, created before the first round)

The input is the one `bench` makes: SplitMix64 seeded with 42, uniform in
[-1, 1), one draw per manifest input in order (an integer input gets those
values truncated toward zero, which `bench` itself refuses for token ids:
Gather wants whole numbers). Prints resident, pipelined and onnxruntime
median milliseconds over the rounds and the resident/onnxruntime ratio of
the medians, and beside it the median of the rounds' own ratios (each
round's resident time over the same round's onnxruntime time: the host's
slow stretches, which last seconds, then slow both sides of a round alike).
With --baseline-cli, each round also runs that executable's bench on the same
model (the order of the three rotating from round to round), and its resident
time and ratio are printed beside: a before/after comparison whose noise is
shared, for a machine whose speed drifts from minute to minute.
onnxruntime runs at ORT_ENABLE_ALL (what a user gets) unless told otherwise.

It also reports the CPU (its model name and SIMD flags, from /proc/cpuinfo)
and what each runtime runs on it: demandlayer's GEMM path as `bench` reports
it (avx512, avx2 or openblas; DEMANDLAYER_CPU=avx2 in the environment narrows
it, and is passed on), and the kernels onnxruntime's MLAS picks from the same
CPUID flags (AVX-512F, else AVX2 + FMA ("FMA3"), else SSE; it has no switch to
narrow them, so on an AVX-512 CPU onnxruntime stays on AVX-512 whatever
DEMANDLAYER_CPU says).
"""

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from onnxref import environment  # noqa: E402

environment.ensure()

import numpy as np  # noqa: E402

BENCH_SEED = 42
MASK64 = (1 << 64) - 1


def splitmix_signed(count, seed=BENCH_SEED):
    """The first `count` values of Sources/DemandZoo/SeededRandom.swift's nextSigned() stream, and the next state."""
    with np.errstate(over="ignore"):
        steps = np.arange(1, count + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        z = np.uint64(seed) + steps
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    top = (z >> np.uint64(40)).astype(np.int64) - (1 << 23)
    values = top.astype(np.float32) * np.float32(1.0 / (1 << 23))
    next_seed = (seed + count * 0x9E3779B97F4A7C15) & MASK64
    return values, next_seed


def integer_bound(manifest, name):
    """The smallest dimension of a weight a Gather indexes with input `name`, else 2 (as bench does)."""
    bound = None
    for layer in manifest["layers"]:
        weights = {weight["name"]: weight["shape"] for weight in layer.get("weights", [])}
        for node in layer.get("nodes", []):
            if node["op"] != "Gather" or len(node["inputs"]) < 2 or node["inputs"][1] != name:
                continue
            shape = weights.get(node["inputs"][0])
            if shape is None:
                continue
            axis = node.get("attributes", {}).get("axis", {}).get("i", 0)
            if axis < 0:
                axis += len(shape)
            if 0 <= axis < len(shape):
                bound = shape[axis] if bound is None else min(bound, shape[axis])
    return max(bound if bound is not None else 2, 1)


def bench_inputs(manifest):
    """{name: float32 array} as `demandlayer bench` fills them (one generator across inputs, in order):
    float inputs uniform in [-1, 1); integer inputs whole numbers in [0, bound)."""
    seed = BENCH_SEED
    inputs = {}
    for entry in manifest["inputs"]:
        count = int(np.prod(entry["shape"]))
        values, seed = splitmix_signed(count, seed)
        if entry.get("dtype", "float32") in ("int64", "int32"):
            bound = np.float32(integer_bound(manifest, entry["name"]))
            values = np.floor(np.minimum((values * np.float32(0.5) + np.float32(0.5)) * bound, bound - 1))
        inputs[entry["name"]] = values.reshape(entry["shape"])
    return inputs


SIMD_FLAGS = ("sse4_2", "avx", "fma", "avx2", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16", "amx_tile")


def cpu_description():
    """(model name, the SIMD flags of SIMD_FLAGS the CPU has) from /proc/cpuinfo."""
    name, flags = "unknown", set()
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and name == "unknown":
                name = value.strip()
            elif key.strip() == "flags" and not flags:
                flags = set(value.split())
    except OSError:
        pass
    return name, [flag for flag in SIMD_FLAGS if flag in flags]


def onnxruntime_kernels(flags):
    """The float kernels onnxruntime's MLAS dispatches to on a CPU with `flags` (its platform.cpp checks CPUID the same way)."""
    if "avx512f" in flags:
        return "AVX-512F"
    if "avx2" in flags and "fma" in flags:
        return "AVX2 + FMA (FMA3)"
    return "SSE"


def default_cli():
    return str(environment.REPO_ROOT / ".build" / "release" / "demandlayer")


def convert(cli, model, arguments, directory):
    output = pathlib.Path(directory) / (pathlib.Path(model).stem + ".dlm")
    command = [cli, "convert", str(model), str(output)]
    case = pathlib.Path(model).parent / "case.json"
    shapes = [f"--input-shape={shape}" for shape in arguments.input_shape]
    if not shapes and case.exists():
        shapes = json.loads(case.read_text()).get("convert_args", [])
    print("+ " + " ".join(command + shapes), file=sys.stderr)
    subprocess.run(command + shapes, check=True, stdout=subprocess.DEVNULL)
    return output


def ort_session(model, threads, optimization):
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = {"all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
                                        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC}[optimization]
    options.log_severity_level = 3
    return ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])


def ort_feeds(session, inputs):
    types = {"tensor(float)": np.float32, "tensor(int64)": np.int64, "tensor(int32)": np.int32,
             "tensor(float16)": np.float16, "tensor(double)": np.float64}
    feeds = {}
    for entry in session.get_inputs():
        if entry.name not in inputs:
            sys.exit(f"error: onnxruntime wants input {entry.name}, which the converted model does not have "
                     f"(it has {', '.join(inputs)})")
        value = inputs[entry.name]
        feeds[entry.name] = np.trunc(value).astype(types[entry.type]) if "int" in entry.type else value.astype(types[entry.type])
    return feeds


def bench_round(cli, dlm, arguments):
    command = [cli, "bench", "--model", str(dlm), "--policies", "resident,pipelined", "--threads",
               str(arguments.threads), "--runs", "1", "--depth", str(arguments.depth), "--json"]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"error: `{' '.join(command)}` failed ({result.returncode}):\n{result.stderr.strip()[-2000:]}")
    report = json.loads(result.stdout)
    times = {entry["policy"]: entry["latency_ms"]["median"] for entry in report["results"]}
    return times, report


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="the ONNX model")
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--runs", type=int, default=5, help="rounds")
    parser.add_argument("--dlm", help="an already converted model (skips convert)")
    parser.add_argument("--input-shape", action="append", default=[], metavar="NAME=SHAPE")
    parser.add_argument("--cli", default=default_cli(), help="the demandlayer executable (default .build/release/demandlayer)")
    parser.add_argument("--baseline-cli", help="another demandlayer executable (e.g. a build before a change) run in every round too")
    parser.add_argument("--depth", type=int, default=2, help="pipelined prefetch depth")
    parser.add_argument("--ort-optimization", choices=["all", "basic"], default="all")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    arguments = parser.parse_args()
    if not os.access(arguments.cli, os.X_OK):
        sys.exit(f"error: no demandlayer executable at {arguments.cli}; build it with "
                 f"`swift build -c release --product demandlayer` or pass --cli")
    if arguments.threads < 1 or arguments.runs < 1:
        sys.exit("error: --threads and --runs must be at least 1")
    import onnxruntime

    with tempfile.TemporaryDirectory(prefix="dl-bench-", dir=environment.REPO_ROOT) as scratch:
        dlm = pathlib.Path(arguments.dlm) if arguments.dlm else convert(arguments.cli, arguments.model, arguments, scratch)
        manifest = json.loads((dlm / "manifest.json").read_text())
        session = ort_session(arguments.model, arguments.threads, arguments.ort_optimization)
        feeds = ort_feeds(session, bench_inputs(manifest))
        times = {"resident": [], "pipelined": [], "onnxruntime": []}
        steps = ["bench", "ort"]
        if arguments.baseline_cli:
            times.update({"baseline resident": [], "baseline pipelined": []})
            steps = ["bench", "baseline", "ort"]
        report = None
        for round_index in range(arguments.runs):
            shift = round_index % len(steps)
            order = steps[shift:] + steps[:shift]
            if len(steps) == 2 and round_index % 2 == 1:
                order = ["ort", "bench"]
            for step in order:
                if step == "bench":
                    round_times, report = bench_round(arguments.cli, dlm, arguments)
                    for policy, value in round_times.items():
                        times[policy].append(value)
                elif step == "baseline":
                    round_times, _ = bench_round(arguments.baseline_cli, dlm, arguments)
                    for policy, value in round_times.items():
                        times["baseline " + policy].append(value)
                else:
                    session.run(None, feeds)
                    start = time.perf_counter()
                    session.run(None, feeds)
                    times["onnxruntime"].append((time.perf_counter() - start) * 1000)
            print(f"round {round_index + 1}/{arguments.runs}: " +
                  ", ".join(f"{name} {values[-1]:.1f} ms" for name, values in times.items()), file=sys.stderr)

    cpu_name, cpu_flags = cpu_description()
    medians = {name: statistics.median(values) for name, values in times.items()}
    ratio = medians["resident"] / medians["onnxruntime"]

    def round_ratio(name):
        return statistics.median(a / b for a, b in zip(times[name], times["onnxruntime"]))
    summary = {
        "model": str(arguments.model), "threads": arguments.threads, "rounds": arguments.runs, "depth": arguments.depth,
        "onnxruntime": onnxruntime.__version__, "ort_optimization": arguments.ort_optimization,
        "cpu": {"name": cpu_name, "simd_flags": cpu_flags,
                "demandlayer_gemm": report.get("cpu", {}).get("gemm", "unknown") if report else "unknown",
                "demandlayer_cpu_env": os.environ.get("DEMANDLAYER_CPU"),
                "onnxruntime_kernels": onnxruntime_kernels(cpu_flags)},
        "weight_bytes": report["model"]["weight_bytes"] if report else None,
        "median_ms": medians, "min_ms": {name: min(values) for name, values in times.items()},
        "max_ms": {name: max(values) for name, values in times.items()},
        "resident_over_onnxruntime": ratio,
        "pipelined_over_onnxruntime": medians["pipelined"] / medians["onnxruntime"],
        "median_round_ratio": {"resident": round_ratio("resident"), "pipelined": round_ratio("pipelined")},
    }
    if arguments.baseline_cli:
        summary["baseline_cli"] = arguments.baseline_cli
        summary["baseline_resident_over_onnxruntime"] = medians["baseline resident"] / medians["onnxruntime"]
        summary["median_round_ratio"]["baseline resident"] = round_ratio("baseline resident")
    if arguments.json:
        print(json.dumps(summary, indent=1))
        return
    model = pathlib.Path(arguments.model)
    label = f"{model.parent.name}/{model.name}" if model.stem == "model" else model.name
    print(f"{label}: {summary['weight_bytes'] / 2**20:.1f} MiB of weights, "
          f"{arguments.threads} thread(s), {arguments.runs} rounds interleaved, depth {arguments.depth}, "
          f"onnxruntime {onnxruntime.__version__} ({arguments.ort_optimization})")
    cpu = summary["cpu"]
    forced = f", DEMANDLAYER_CPU={cpu['demandlayer_cpu_env']}" if cpu["demandlayer_cpu_env"] else ""
    print(f"cpu: {cpu['name']} ({' '.join(cpu['simd_flags'])}); demandlayer GEMM {cpu['demandlayer_gemm']}{forced}; "
          f"onnxruntime MLAS {cpu['onnxruntime_kernels']}")
    print(f"{'':<18} {'median ms':>10} {'min':>9} {'max':>9}")
    for name in times:
        print(f"{name:<18} {medians[name]:>10.1f} {summary['min_ms'][name]:>9.1f} {summary['max_ms'][name]:>9.1f}")
    per_round = summary["median_round_ratio"]
    print(f"resident / onnxruntime: {ratio:.2f}x (median of round ratios {per_round['resident']:.2f}x); "
          f"pipelined / onnxruntime: {summary['pipelined_over_onnxruntime']:.2f}x")
    if arguments.baseline_cli:
        print(f"baseline resident / onnxruntime: {summary['baseline_resident_over_onnxruntime']:.2f}x "
              f"(median of round ratios {per_round['baseline resident']:.2f}x; baseline {arguments.baseline_cli})")


if __name__ == "__main__":
    main()
