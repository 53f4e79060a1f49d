#!/usr/bin/env python3
"""The best latency a read/execute pipeline with a ring of B bytes could reach.

Takes a trace written by `demandlayer bench --trace FILE` that holds a resident
run and a pipelined run, and models the pipeline as a fluid: the disk delivers
bytes at a steady RATE, in layer order; the reader may run ahead of the layer
executing only as far as the ring has room (bytes of layers not yet executed
never exceed BUDGET); each layer executes, for as long as it took in the
resident run, once all its bytes are in and the previous layer is done. Thread
hand-offs, first-read latency, request granularity and kernels slowed by
reads landing are all left out, so this is a lower bound on pipelined latency
for that ring and that disk rate, and `bound / this` an upper bound on the
efficiency any scheduling could show.

    python3 Tools/pipeline_bound.py TRACE --rate-gbs 2.8 --budget-mib 21.3 [--budget-mib 56.4 ...]

RATE is the read rate bench measured (229.7 MiB / io_only_ms for ResNet-152).
"""
import argparse
import json
import sys

MIB = 1 << 20


def layer_figures(trace):
    """(per-layer resident execute ms, per-layer bytes) from a bench trace."""
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    execute, size = {}, {}
    for event in events:
        if event.get("ph") != "X":
            continue
        run, layer = event["args"].get("run", ""), event["args"].get("layer")
        if run == "resident" and event.get("cat") == "execute":
            execute[layer] = event["dur"] / 1e3
        elif run.startswith("pipelined") and event.get("cat") == "read":
            size[layer] = event["args"]["bytes"]
    if not execute or len(size) != len(execute):
        sys.exit("the trace needs a resident and a pipelined run of the same model "
                 "(bench --policies resident,pipelined --trace FILE)")
    layers = sorted(execute)
    return [execute[i] for i in layers], [size[i] for i in layers]


def fluid_latency(execute_ms, layer_bytes, rate_bytes_per_ms, budget_bytes):
    """Milliseconds until the last layer has executed, in the fluid model."""
    if max(layer_bytes) > budget_bytes:
        raise ValueError(f"a layer of {max(layer_bytes)} bytes does not fit a budget of {budget_bytes}")
    read_clock = 0.0       # when the reader has delivered `read_position` bytes
    read_position = 0
    executed_end = 0.0     # when the previous layer finished executing
    freed = []             # (time, bytes of layers executed by then), in time order
    for layer, (duration, size) in enumerate(zip(execute_ms, layer_bytes)):
        target = read_position + size
        while read_position < target:
            released = 0
            for time, total in freed:
                if time <= read_clock:
                    released = total
            limit = released + budget_bytes
            if limit > read_position:
                step = min(target, limit) - read_position
                read_clock += step / rate_bytes_per_ms
                read_position += step
            else:
                read_clock = min(time for time, _ in freed if time > read_clock)
        start = max(executed_end, read_clock)
        executed_end = start + duration
        freed.append((executed_end, target))
    return executed_end


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("trace")
    parser.add_argument("--rate-gbs", type=float, required=True, help="disk read rate, GB/s (1e9 bytes)")
    parser.add_argument("--budget-mib", type=float, action="append", required=True, help="ring bytes, MiB; repeat to compare")
    arguments = parser.parse_args()
    with open(arguments.trace) as handle:
        execute_ms, layer_bytes = layer_figures(json.load(handle))
    resident = sum(execute_ms)
    rate = arguments.rate_gbs * 1e6
    io_only = sum(layer_bytes) / rate
    bound = max(resident, io_only)
    print(f"{len(layer_bytes)} layers, {sum(layer_bytes) / MIB:.1f} MiB; resident {resident:.1f} ms, "
          f"io_only at {arguments.rate_gbs} GB/s {io_only:.1f} ms, bound {bound:.1f} ms")
    for budget in arguments.budget_mib:
        best = fluid_latency(execute_ms, layer_bytes, rate, int(budget * MIB))
        print(f"budget {budget:6.1f} MiB: best pipelined {best:6.1f} ms, efficiency at most {bound / best:.3f}")


if __name__ == "__main__":
    main()
