#!/usr/bin/env bash
# Bounded fuzzing: builds the libFuzzer targets for the model reader and the
# ONNX importer and runs each for at most 70 s (FUZZ_SECONDS to change) and at
# most the number of inputs one minute covers on the machine the figures in
# the README come from, from seed 1 (FUZZ_SEED): the same inputs in the same
# order on every machine, so CI does not turn red by luck. Longer or other-seed
# runs by hand look further (Tools/fuzz/run.sh TARGET SECONDS). Fails on any
# crash, hang, leak or sanitizer report; the input is left in
# .build-fuzz/TARGET-artifacts/ (see Tools/fuzz/run.sh for turning it into a
# regression test).
#
# The targets are linked against 50-sanitizers.sh's address build, which
# carries their coverage instrumentation (Tools/fuzz/address-build.sh); run
# alone, this step first builds what they need of it. Then the two are fuzzed
# side by side: libFuzzer runs on one core, and CI has two. Each writes its
# own log (.build-fuzz/TARGET.log), printed whole once both have finished;
# either failing fails the step. Side by side each tried about 85% of the
# inputs per second it tries alone on a 2-core Zen 3, so each gets 70 s
# instead of 60 s: about as many inputs as one minute each, one after the
# other, tried there.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${FUZZ_SECONDS:-70}
Tools/fuzz/run.sh --build-only manifest
Tools/fuzz/run.sh --build-only onnx
mkdir -p .build-fuzz

running=()
trap 'for pid in "${running[@]}"; do kill "$pid" 2>/dev/null || true; done' EXIT
FUZZ_RUNS=${FUZZ_MANIFEST_RUNS:-100000} Tools/fuzz/run.sh --no-build manifest "$seconds" > .build-fuzz/manifest.log 2>&1 &
manifest=$!
running+=("$manifest")
FUZZ_RUNS=${FUZZ_ONNX_RUNS:-400000} Tools/fuzz/run.sh --no-build onnx "$seconds" > .build-fuzz/onnx.log 2>&1 &
onnx=$!
running+=("$onnx")

status=0
for target in manifest onnx; do
    pid=${!target}
    target_status=0
    wait "$pid" || target_status=$?
    echo "--- fuzzing $target (.build-fuzz/$target.log):" >&2
    cat ".build-fuzz/$target.log" >&2
    if [ "$target_status" -ne 0 ]; then
        echo "FAIL: fuzzing $target exited $target_status: see .build-fuzz/$target.log and .build-fuzz/$target-artifacts/" >&2
        status=1
    fi
done
running=()
exit "$status"
