#!/usr/bin/env bash
# The test command: installs the system packages, runs the unit and
# integration tests, then every check in Tools/ci/ in name order (examples,
# the onnxruntime comparison, sanitizers, bounded fuzzing). Each of those
# scripts says what it needs and fails loudly when it cannot run.
set -euo pipefail
cd "$(dirname "$0")/.."
Tools/install-deps.sh
# RuntimeTests compares outputs bit for bit with resident runs; BLAS thread
# counts are process-wide and other suites set them, so it runs in a process
# of its own.
swift test --skip RuntimeTests
swift test --skip-build --filter RuntimeTests
for check in Tools/ci/*.sh; do
    [ -e "$check" ] || continue
    echo "==> $check" >&2
    start=$(date +%s)
    bash "$check"
    echo "<== $check passed in $(( $(date +%s) - start )) s" >&2
done
