#!/usr/bin/env bash
# Builds the libFuzzer targets and runs one of them for a bounded time.
#
#   Tools/fuzz/run.sh [TARGET] [SECONDS]      TARGET: manifest (default) or onnx; SECONDS: 60
#   Tools/fuzz/run.sh --build-only [TARGET]   build the target's binary, do not run it
#   Tools/fuzz/run.sh --no-build [TARGET] [SECONDS]
#                                             run the binary the last build left
#
# The two stages apart let CI link both targets first and then run the two
# fuzzers side by side (libFuzzer uses one core).
#
# The library modules come from the AddressSanitizer build that
# Tools/ci/50-sanitizers.sh tests, which also carries libFuzzer's coverage
# instrumentation (Tools/fuzz/address-build.sh; scratch path
# .build-address-san, tests included): after that step nothing is built
# again. The target file in Tools/fuzz/ is compiled and linked with swiftc
# against those modules and objects, into .build-fuzz/TARGET-fuzz. (A
# SwiftPM executable target cannot be used: SwiftPM renames its `main`,
# which clashes with the `main` libFuzzer brings.)
#
# Inputs start from fixtures/fuzz/TARGET/seeds; new interesting inputs go to a
# scratch corpus under .build-fuzz/. A crash leaves its input in
# .build-fuzz/TARGET-artifacts/ and makes this script fail: copy the input
# to fixtures/fuzz/TARGET/crashes/ (the regression tests replay every file
# there), then fix the bug.
set -euo pipefail
cd "$(dirname "$0")/../.."
stage=all
case "${1:-}" in
    --build-only) stage=build; shift ;;
    --no-build) stage=run; shift ;;
esac
target=${1:-manifest}
seconds=${2:-60}
# Per target: its source and the modules it needs (C ones first), in dependency order.
case "$target" in
    manifest)
        source_file=Tools/fuzz/ManifestFuzz.swift
        c_modules=(CURing COpenBLAS CKernels)
        swift_modules=(DemandIO DemandTensor DemandFormat DemandZoo)
        ;;
    onnx)
        source_file=Tools/fuzz/OnnxFuzz.swift
        c_modules=(CURing COpenBLAS CKernels)
        swift_modules=(SwiftProtobuf DemandIO DemandTensor DemandFormat DemandONNX)
        ;;
    *) echo "unknown fuzz target '$target' (known: manifest, onnx)" >&2; exit 2 ;;
esac

source Tools/fuzz/address-build.sh
scratch=.build-fuzz
build=$address_scratch/debug
fuzzer=$scratch/$target-fuzz
build_fuzzer() {
    address_build >&2

    objects=()
    flags=(-I "$build/Modules")
    for module in "${c_modules[@]}"; do
        flags+=(-Xcc -fmodule-map-file="$build/$module.build/module.modulemap" -Xcc -I -Xcc "Sources/$module/include")
        objects+=("$build/$module.build"/*.o)
    done
    for module in "${swift_modules[@]}"; do objects+=("$build/$module.build"/*.o); done
    # Linked again only when these scripts, the target file or an object is newer than the binary.
    if [ -x "$fuzzer" ] && [ -z "$(find Tools/fuzz/run.sh Tools/fuzz/address-build.sh "$source_file" "${objects[@]}" \
        -newer "$fuzzer" | head -1)" ]; then
        echo "$fuzzer is up to date" >&2
        return 0
    fi
    mkdir -p "$scratch"
    # ld.gold warns about every asan symbol it cannot export; those lines are noise.
    swiftc -sanitize=fuzzer,address -parse-as-library -g -Onone "${flags[@]}" \
        "$source_file" "${objects[@]}" -luring -laio -lopenblas -lm \
        -o "$fuzzer" 2> >(grep -v "Cannot export local symbol" >&2)
}
[ "$stage" = run ] || build_fuzzer
[ "$stage" = build ] && exit 0
if [ ! -x "$fuzzer" ]; then
    echo "no $fuzzer: build it first (Tools/fuzz/run.sh --build-only $target)" >&2
    exit 1
fi

corpus=$scratch/$target-corpus
artifacts=$scratch/$target-artifacts
mkdir -p "$corpus" "$artifacts" "$scratch/work"
inputs=("$corpus")
for directory in "fixtures/fuzz/$target/seeds" "fixtures/fuzz/$target/crashes"; do
    [ -d "$directory" ] && inputs+=("$directory")
done
if [ "$target" = onnx ]; then
    # The importer's test models are the seeds, gathered rather than copied into the tree.
    seeds=$scratch/onnx-seeds
    mkdir -p "$seeds"
    for model in fixtures/onnx/*/*/model.onnx; do cp "$model" "$seeds/$(basename "$(dirname "$model")").onnx"; done
    inputs+=("$seeds")
fi
# A fixed seed and an optional cap on runs make a CI run reproducible: the
# inputs tried are the same sequence on every machine, a slower one trying a
# prefix of it within the time limit.
options=(-max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=4096
         -seed="${FUZZ_SEED:-1}" -artifact_prefix="$artifacts/" -print_final_stats=1)
[ -n "${FUZZ_RUNS:-}" ] && options+=(-runs="$FUZZ_RUNS")
[ -f "Tools/fuzz/$target.dict" ] && options+=(-dict="Tools/fuzz/$target.dict")
echo "fuzzing $target for $seconds s" >&2
FUZZ_WORK_DIR="$PWD/$scratch/work" exec "$fuzzer" "${options[@]}" "${inputs[@]}"
