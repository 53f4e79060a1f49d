#!/usr/bin/env bash
# Builds the libFuzzer targets and runs one of them for a bounded time.
#
#   Tools/fuzz/run.sh [TARGET] [SECONDS]      TARGET: manifest (default); SECONDS: 60
#
# The library modules are built by SwiftPM with fuzzer and address-sanitizer
# instrumentation (scratch path .build-fuzz); the target file in Tools/fuzz/ is
# then compiled and linked with swiftc against those modules and objects. (A
# SwiftPM executable target cannot be used: SwiftPM renames its `main`, which
# clashes with the `main` libFuzzer brings.)
#
# Inputs start from fixtures/fuzz/TARGET/seeds; new interesting inputs go to a
# scratch corpus under .build-fuzz/. A crash leaves its input in
# .build-fuzz/TARGET-artifacts/ and makes this script fail: copy the input
# to fixtures/fuzz/TARGET/crashes/ (the regression tests replay every file
# there), then fix the bug.
set -euo pipefail
cd "$(dirname "$0")/../.."
target=${1:-manifest}
seconds=${2:-60}
case "$target" in
    manifest) source_file=Tools/fuzz/ManifestFuzz.swift; modules=(CURing COpenBLAS DemandIO DemandTensor DemandFormat DemandZoo) ;;
    *) echo "unknown fuzz target '$target' (known: manifest)" >&2; exit 2 ;;
esac

scratch=.build-fuzz
build=$scratch/debug
swift build --scratch-path "$scratch" --sanitize=fuzzer --sanitize=address --target DemandZoo >&2

objects=()
for module in "${modules[@]}"; do objects+=("$build/$module.build"/*.o); done
# ld.gold warns about every asan symbol it cannot export; those lines are noise.
swiftc -sanitize=fuzzer,address -parse-as-library -g -Onone \
    -I "$build/Modules" \
    -Xcc -fmodule-map-file="$build/CURing.build/module.modulemap" \
    -Xcc -fmodule-map-file="$build/COpenBLAS.build/module.modulemap" \
    -Xcc -I -Xcc Sources/CURing/include -Xcc -I -Xcc Sources/COpenBLAS/include \
    "$source_file" "${objects[@]}" -luring -laio -lopenblas \
    -o "$build/$target-fuzz" 2> >(grep -v "Cannot export local symbol" >&2)

corpus=$scratch/$target-corpus
artifacts=$scratch/$target-artifacts
mkdir -p "$corpus" "$artifacts" "$scratch/work"
echo "fuzzing $target for $seconds s" >&2
FUZZ_WORK_DIR="$PWD/$scratch/work" "$build/$target-fuzz" \
    -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=4096 \
    -dict=Tools/fuzz/$target.dict -artifact_prefix="$artifacts/" -print_final_stats=1 \
    "$corpus" "fixtures/fuzz/$target/seeds" "fixtures/fuzz/$target/crashes"
