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
#            are what it finds), but the real ONNX models that
#            Tools/ci/30-onnx-real.sh leaves in .models (minutes under ASan;
#            the operator fixtures cover the same kernels); leaks are checked
#            at exit, with the toolchain's own leaks suppressed by
#            Tools/ci/lsan.supp.
#
# The builds carry no debug info (-gnone, -g0): 12% off the address build
# and 5% off the thread build here. Reports still name every function; ours
# are printed mangled, and `swift demangle < LOG` reads them. The address
# build also carries libFuzzer's coverage instrumentation, so that
# 60-fuzz.sh links its targets against it rather than building the library
# a third time (Tools/fuzz/address-build.sh: its flags, shared by both); the
# address tests take about 10% longer for it.
#
# The thread tests keep about one core of two busy, so they run in the
# background while the address build runs; the address tests run last. Each
# build and each test run writes its own log (.build-SANITIZER-san/build.log,
# test.log); the summary lines are printed from them. Each build and each test
# run is killed after 10 minutes.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
source Tools/fuzz/address-build.sh

# Given to the test runs only: a build with other environment variables than
# the last one in the same scratch path compiles parts of it again (seen
# here), and 60-fuzz.sh builds in the address one without these.
sanitizer_options=(TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1"
    ASAN_OPTIONS="detect_leaks=1 abort_on_error=0"
    LSAN_OPTIONS="suppressions=$root/Tools/ci/lsan.supp print_suppressions=0")

# The test runs get the same flags as the builds: `swift test --skip-build`
# plans the build again with the flags it is given, and with others the next
# build in that scratch path (60-fuzz.sh's, in the address one) compiles again.
thread_flags=(--sanitize=thread -Xswiftc -gnone -Xcc -g0)

build() {
    local sanitizer=$1 start=$(date +%s)
    local log=".build-$sanitizer-san/build.log"
    local status=0
    if [ "$sanitizer" = address ]; then
        address_build_prepare
        echo "--- swift build --build-tests ${address_build_flags[*]}" >&2
        address_build timeout 600 > "$log" 2>&1 || status=$?
    else
        mkdir -p ".build-$sanitizer-san"
        echo "--- swift build --build-tests ${thread_flags[*]}" >&2
        timeout 600 swift build --build-tests --scratch-path ".build-$sanitizer-san" "${thread_flags[@]}" > "$log" 2>&1 \
            || status=$?
    fi
    if [ "$status" -ne 0 ]; then
        tail -30 "$log" >&2
        echo "the $sanitizer sanitizer build failed: see $log" >&2
        return 1
    fi
    echo "--- $sanitizer: built in $(( $(date +%s) - start )) s" >&2
}

run() {
    local sanitizer=$1 filter=$2 skip=${3:-}
    local start=$(date +%s)
    local log=".build-$sanitizer-san/test.log"
    local flags=("${thread_flags[@]}")
    [ "$sanitizer" = address ] && flags=("${address_build_flags[@]}")
    set +e
    env "${sanitizer_options[@]}" timeout 600 swift test --skip-build --scratch-path ".build-$sanitizer-san" "${flags[@]}" \
        ${filter:+--filter "$filter"} ${skip:+--skip "$skip"} > "$log" 2>&1
    local status=$?
    set -e
    echo "--- swift test --sanitize=$sanitizer ${filter:+--filter '$filter'} ${skip:+--skip '$skip'}" >&2
    grep -E "Test run with|✘|WARNING: ThreadSanitizer|ERROR: (Address|Leak)Sanitizer|SUMMARY" "$log" >&2 || true
    if grep -qE "WARNING: ThreadSanitizer|ERROR: (Address|Leak)Sanitizer" "$log"; then
        echo "$sanitizer sanitizer reported a problem: see $log" >&2
        return 1
    fi
    [ "$status" -eq 0 ] || { echo "swift test --sanitize=$sanitizer failed ($status): see $log" >&2; return 1; }
    echo "--- $sanitizer: clean in $(( $(date +%s) - start )) s" >&2
}

# Stops a background job and its children (timeout, swift test, the test binary).
stop_tree() {
    local child
    for child in $(pgrep -P "$1" || true); do stop_tree "$child"; done
    kill "$1" 2>/dev/null || true
}

build thread
# Its summary goes to a file, printed once the address build is done.
run thread "DemandLayerTests|DemandIOTests|DemandFormatTests|CLITests" 2> .build-thread-san/summary.txt &
thread_tests=$!
trap 'stop_tree "$thread_tests"' EXIT
build address
thread_status=0
wait "$thread_tests" || thread_status=$?
trap - EXIT
cat .build-thread-san/summary.txt >&2
run address "" "largeModelMatchesOnnxruntime"
exit "$thread_status"
