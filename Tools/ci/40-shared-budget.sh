#!/usr/bin/env bash
# Several models on one shared budget, under a real memory limit: the built-in
# resnet152, yolov3 and vgg16 (994 MiB of weights together) serve a mixed
# workload from 4 client threads in one process, sharing a 128 MiB weight
# budget (`bench --models ... --setups alone,shared`), inside a cgroup v1
# memory group of 320 MiB (256 until the Winograd and depthwise kernels'
# per-thread scratch, outside the budget, raised the shared process's peak
# RSS to about 250 MiB; the kernels' peak scratch is printed below). It must
# finish with every output bit-identical to
# the model's run alone and no request failed (the bench checks both and exits
# non-zero otherwise), and its peak weight bytes must be within the budget.
# Then the same models as three resident sessions (`--setups resident`) in the
# same group must be killed by the kernel.
#
# Needs the cgroup v1 memory controller writable (root, /sys/fs/cgroup/memory):
# fails, saying so, where it is not (CI runs as root). Release build, shared
# with 30-onnx-real.sh; the models are made once into $DL_MODELS (default
# .build/ci-models, about 1 GiB, a minute or two the first time), and their
# profiles measured outside the group (`demandlayer plan`). About 2 minutes after that.
set -euo pipefail
cd "$(dirname "$0")/../.."

scratch="${DL_SCRATCH:-.build}"
models="${DL_MODELS:-$scratch/ci-models}"
controller=/sys/fs/cgroup/memory
limit=$((320 << 20))
budget=128MiB

group="$controller/demandlayer-ci-$$"
if ! mkdir "$group" 2>/dev/null; then
    echo "error: cannot make a memory cgroup under $controller: this check needs the cgroup v1 memory controller and root" >&2
    exit 1
fi
trap 'rmdir "$group" 2>/dev/null || true' EXIT
echo "$limit" > "$group/memory.limit_in_bytes"

echo "building the release CLI (scratch $scratch)" >&2
swift build -c release --product demandlayer --scratch-path "$scratch" >&2
cli="$(swift build -c release --product demandlayer --scratch-path "$scratch" --show-bin-path)/demandlayer"

mkdir -p "$models"
for model in resnet152 yolov3 vgg16; do
    # Outside the group: making the model and measuring its profile are not what is tested.
    "$cli" plan "$model" --cache "$models" --budget "$budget" >/dev/null
done

in_group() { sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$group" "$@"; }

echo "--- shared: three models, one $budget budget, 4 clients, in a $((limit >> 20)) MiB group" >&2
echo 0 > "$group/memory.max_usage_in_bytes"
in_group "$cli" bench --cache "$models" --models resnet152,yolov3,vgg16 --budget "$budget" --setups alone,shared \
    --clients 4 --arrivals closed --duration 15s --json > "$scratch/shared-budget.json"
peak_group=$(cat "$group/memory.max_usage_in_bytes")
python3 - "$scratch/shared-budget.json" "$peak_group" <<'EOF'
import json, sys
report = json.load(open(sys.argv[1]))
summary = report["summary"]
shared = next(s for s in summary["setups"] if s["setup"] == "shared")
budget = summary["budget_bytes"]
assert summary["outputs_bit_identical"], "outputs differ"
assert shared["all"]["failed"] == 0 and shared["all"]["requests"] >= 3, shared["all"]
assert shared["peak_weight_bytes"] <= budget, f"peak weights {shared['peak_weight_bytes']} over the budget {budget}"
for model in report["models"]:
    figures = model["setups"]["shared"]
    assert figures["requests"] >= 1, f"{model['name']} served no request"
    print(f"{model['name']:10} {figures['requests']:3} requests, p50 {figures['p50_ms']:.1f} ms, "
          f"service p50 {figures['service_p50_ms']:.1f} ms = {figures['service_p50_over_alone']:.2f} x alone")
print(f"shared: {shared['all']['requests']} requests, outputs bit-identical to alone across {summary['outputs_compared']}, "
      f"peak weights {shared['peak_weight_bytes'] / 2**20:.1f} MiB of {budget / 2**20:.0f} MiB, "
      f"kernel scratch peak {shared['peak_kernel_scratch_bytes'] / 2**20:.1f} MiB, group peak {int(sys.argv[2]) / 2**20:.0f} MiB")
EOF

echo "--- resident: the same three models, every weight held, in the same group" >&2
status=0
in_group "$cli" bench --cache "$models" --models resnet152,yolov3,vgg16 --budget "$budget" --setups resident \
    --clients 4 --duration 5s >/dev/null 2>"$scratch/resident-in-group.err" || status=$?
if [ "$status" -ne 137 ]; then
    echo "error: three resident sessions (994 MiB of weights) in a $((limit >> 20)) MiB group exited $status instead of being killed (137)" >&2
    tail -5 "$scratch/resident-in-group.err" >&2
    exit 1
fi
echo "resident: killed by the kernel in the $((limit >> 20)) MiB group (exit 137), as expected"
