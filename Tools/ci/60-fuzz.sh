#!/usr/bin/env bash
# Bounded fuzzing: builds the libFuzzer targets for the model reader and the
# ONNX importer and runs each for 60 s (FUZZ_SECONDS to change). Fails on any
# crash, hang, leak or sanitizer report; the input is left in
# .build-fuzz/TARGET-artifacts/ (see Tools/fuzz/run.sh for turning it into a
# regression test).
set -euo pipefail
cd "$(dirname "$0")/../.."
for target in manifest onnx; do
    Tools/fuzz/run.sh "$target" "${FUZZ_SECONDS:-60}"
done
