#!/usr/bin/env bash
# Runs the tests under ThreadSanitizer and AddressSanitizer (with
# LeakSanitizer), each with its own scratch path so neither rebuilds the
# other's or the main build. Any report fails the step.
#
#   thread   the suites with threads: runtime (sessions, faults, concurrency,
#            cancellation, hygiene), IO engines and scheduler, model format,
#            and the CLI end to end. The kernels are single-threaded and are
#            left out to keep the step short.
#   address  every suite, kernels included (out-of-bounds reads and writes
#            are what it finds); leaks are checked at exit, with the
#            toolchain's own leaks suppressed by Tools/ci/lsan.supp.
#
# Bounded: from clean scratch paths both took 2.5 minutes here, builds
# included; each is killed after 10 minutes.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1"
export ASAN_OPTIONS="detect_leaks=1 abort_on_error=0"
export LSAN_OPTIONS="suppressions=$root/Tools/ci/lsan.supp print_suppressions=0"

run() {
    local sanitizer=$1 filter=$2
    local start=$(date +%s)
    local log=".build-$sanitizer-san/test.log"
    mkdir -p ".build-$sanitizer-san"
    echo "--- swift test --sanitize=$sanitizer ${filter:+--filter '$filter'}" >&2
    set +e
    timeout 600 swift test --scratch-path ".build-$sanitizer-san" --sanitize="$sanitizer" ${filter:+--filter "$filter"} > "$log" 2>&1
    local status=$?
    set -e
    grep -E "Test run with|✘|WARNING: ThreadSanitizer|ERROR: (Address|Leak)Sanitizer|SUMMARY" "$log" >&2 || true
    if grep -qE "WARNING: ThreadSanitizer|ERROR: (Address|Leak)Sanitizer" "$log"; then
        echo "$sanitizer sanitizer reported a problem: see $log" >&2
        return 1
    fi
    [ "$status" -eq 0 ] || { echo "swift test --sanitize=$sanitizer failed ($status): see $log" >&2; return 1; }
    echo "--- $sanitizer: clean in $(( $(date +%s) - start )) s" >&2
}

run thread "DemandLayerTests|DemandIOTests|DemandFormatTests|CLITests"
run address ""
