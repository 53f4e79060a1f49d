# The AddressSanitizer build: Tools/ci/50-sanitizers.sh runs the tests in it,
# and Tools/fuzz/run.sh links its libFuzzer targets against its library
# modules, so the library is built once for both. Sourced by those two, not
# run.
#
# Besides --sanitize=address it carries libFuzzer's coverage instrumentation:
# for C, -fsanitize=fuzzer-no-link; for Swift, what -sanitize=fuzzer turns on
# as far as -sanitize-coverage can name it (edges as inline 8-bit counters
# with their PC table, indirect calls, comparisons; not the stack-depth
# feature). The fuzzers start from the same coverage as with a build of
# their own (1,336 and 7,931 edges). -Xswiftc -sanitize=fuzzer itself cannot
# be used: SwiftPM links with the same flags, and libFuzzer's `main` would
# clash with the test runner's. No debug info (-gnone, -g0), as in the thread
# build (see 50-sanitizers.sh).
#
# Both build it with the one command in address_build: a build of a single
# target there (--target) compiles with other arguments, and the next full
# build would then start over. SwiftPM does not rebuild Swift objects when
# only these flags change, so a scratch path built with other flags is
# emptied first.
address_scratch=.build-address-san
address_build_flags=(--sanitize=address -Xswiftc -gnone -Xcc -g0
    -Xswiftc -sanitize-coverage=edge,indirect-calls,trace-cmp,inline-8bit-counters,pc-table
    -Xcc -fsanitize=fuzzer-no-link)

# Empties the scratch path if it was built with other flags (call it before
# writing a log there).
address_build_prepare() {
    local stamp="$address_scratch/build-flags.txt"
    if [ -d "$address_scratch/debug" ] && [ "$(cat "$stamp" 2>/dev/null)" != "${address_build_flags[*]}" ]; then
        echo "$address_scratch was built with other flags: building it again from the start" >&2
        rm -rf "$address_scratch"
    fi
    mkdir -p "$address_scratch"
    echo "${address_build_flags[*]}" > "$stamp"
}

# Builds the library and the tests; arguments go before swift (e.g. timeout 600).
address_build() {
    address_build_prepare
    "$@" swift build --build-tests --scratch-path "$address_scratch" "${address_build_flags[@]}"
}
