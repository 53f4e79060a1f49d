#!/usr/bin/env bash
# The test command: installs the system packages, runs the unit and
# integration tests, then every check in Tools/ci/ in name order (examples,
# the onnxruntime comparison, sanitizers, bounded fuzzing). Each of those
# scripts says what it needs and fails loudly when it cannot run.
set -euo pipefail
cd "$(dirname "$0")/.."
Tools/install-deps.sh
swift test
for check in Tools/ci/*.sh; do
    [ -e "$check" ] || continue
    echo "==> $check" >&2
    start=$(date +%s)
    bash "$check"
    echo "<== $check passed in $(( $(date +%s) - start )) s" >&2
done
