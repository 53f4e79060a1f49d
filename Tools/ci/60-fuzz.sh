#!/usr/bin/env bash
# Bounded fuzzing: builds the libFuzzer target for the model reader and runs
# it for 60 s (FUZZ_SECONDS to change). Fails on any crash, hang, leak or
# sanitizer report; the input is left in .build-fuzz/manifest-artifacts/
# (see Tools/fuzz/run.sh for turning it into a regression test).
set -euo pipefail
cd "$(dirname "$0")/../.."
Tools/fuzz/run.sh manifest "${FUZZ_SECONDS:-60}"
