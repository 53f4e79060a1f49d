#!/usr/bin/env bash
# Bounded fuzzing: builds the libFuzzer targets for the model reader and the
# ONNX importer and runs each for at most 60 s (FUZZ_SECONDS to change) and at
# most the number of inputs one minute covers on the machine the figures in
# the README come from, from seed 1 (FUZZ_SEED): the same inputs in the same
# order on every machine, so CI does not turn red by luck. Longer or other-seed
# runs by hand look further (Tools/fuzz/run.sh TARGET SECONDS). Fails on any
# crash, hang, leak or sanitizer report; the input is left in
# .build-fuzz/TARGET-artifacts/ (see Tools/fuzz/run.sh for turning it into a
# regression test).
set -euo pipefail
cd "$(dirname "$0")/../.."
FUZZ_RUNS=${FUZZ_MANIFEST_RUNS:-100000} Tools/fuzz/run.sh manifest "${FUZZ_SECONDS:-60}"
FUZZ_RUNS=${FUZZ_ONNX_RUNS:-400000} Tools/fuzz/run.sh onnx "${FUZZ_SECONDS:-60}"
