#!/usr/bin/env bash
# The linked library end to end: builds libdemandlayer (the C API) and
# installs it with its header and pkg-config file, builds the C example with
# pkg-config's flags and the Swift example, runs both on a built-in model, and
# checks that
#   - the C example's output equals `demandlayer run`'s on the same input
#     (Examples/c/classify.c --expect: max |difference| <= 1e-5 x max(1, max |ref|)),
#   - the C example reads that .npy input and gets the same answer again,
#   - the Swift example prints the same top-5 as the C example,
#   - the C runtime example (Examples/c/two_models.c) runs `tiny` and
#     `splitnet` from two threads at once in one budget below their weights'
#     sum: every run of a model gives the same output, equal to `demandlayer
#     run`'s on the same input exactly, and the peak stays within the budget,
#   - the Swift runtime example (Examples/swift/serve) does the same from two
#     threads per model, checking against each model alone in a session.
# Debug build, shared with `swift test` (so it costs one link); the model is
# `tiny` unless DL_EXAMPLES_MODEL names another built-in one (resnet152 takes
# a few minutes in debug). DL_SCRATCH picks the build directory (default .build).
set -euo pipefail
cd "$(dirname "$0")/../.."
model="${DL_EXAMPLES_MODEL:-tiny}"
scratch="${DL_SCRATCH:-.build}"
work="$scratch/examples-ci"        # on the package's disk: O_DIRECT needs a real filesystem, not tmpfs
rm -rf "$work"
mkdir -p "$work"

Tools/install-lib.sh "$work/prefix" -c debug --scratch-path "$scratch"
export PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig"
# Any C compiler: the system's cc, else the clang that ships with the Swift toolchain.
compiler="${CC:-$(command -v cc || command -v clang)}"
"$compiler" -std=c11 -O2 -Wall -Wextra -Werror -o "$work/classify" Examples/c/classify.c \
    $(pkg-config --cflags --libs demandlayer) -lm
"$compiler" -std=c11 -O2 -Wall -Wextra -Werror -o "$work/two_models" Examples/c/two_models.c \
    $(pkg-config --cflags --libs demandlayer) -lm -pthread
# The installed header alone compiles as strict C99 and as C++.
printf '#include <demandlayer.h>\nint main(void) { return DL_OK; }\n' > "$work/header.c"
"$compiler" -std=c99 -pedantic -Wall -Wextra -Werror -fsyntax-only $(pkg-config --cflags demandlayer) "$work/header.c"
if command -v c++ >/dev/null; then
    c++ -x c++ -std=c++11 -pedantic -Wall -Wextra -Werror -fsyntax-only $(pkg-config --cflags demandlayer) "$work/header.c"
fi
swift build --scratch-path "$scratch" --product demandlayer >&2
swift build --scratch-path "$scratch" --product classify-swift >&2
bin="$(swift build --scratch-path "$scratch" --show-bin-path)"

"$bin/demandlayer" zoo make "$model" --out "$work" >&2
echo "--- C example (seeded input)"
"$work/classify" "$work/$model.dlm" --save-input "$work/input.npy" --save-output "$work/c-output.npy" | tee "$work/c.txt"

echo "--- demandlayer run on the same input"
input_name="$("$bin/demandlayer" inspect "$work/$model.dlm" | awk '/^inputs/ {print $2; exit}')"
"$bin/demandlayer" run "$work/$model.dlm" --input "${input_name:-input}=$work/input.npy" --output "$work/run"
outputs=("$work"/run/*.npy)
[ "${#outputs[@]}" -ge 1 ] || { echo "demandlayer run wrote no output" >&2; exit 1; }

echo "--- C example on the .npy input, compared with demandlayer run's first output"
"$work/classify" "$work/$model.dlm" --input "$work/input.npy" --expect "$(ls "$work"/run/*.npy | head -1)" --runs 1 | tee "$work/c-npy.txt"

echo "--- Swift example"
"$bin/classify-swift" "$work/$model.dlm" | tee "$work/swift.txt"

top5() { sed -n '/^top-5/,/^stats/p' "$1" | grep -v '^stats'; }
if ! diff <(top5 "$work/c.txt") <(top5 "$work/swift.txt") >&2; then
    echo "20-examples: the C and Swift examples disagree on the top-5" >&2
    exit 1
fi
if ! diff <(top5 "$work/c.txt") <(top5 "$work/c-npy.txt") >&2; then
    echo "20-examples: the C example disagrees with itself on the seeded and the .npy input" >&2
    exit 1
fi

echo "--- C runtime example: tiny and splitnet in one budget, two threads"
[ -d "$work/tiny.dlm" ] || "$bin/demandlayer" zoo make tiny --out "$work" >&2
"$bin/demandlayer" zoo make splitnet --out "$work" >&2
budget=$((4 << 20))   # splitnet streams through 0.6 MiB at least
# `inspect` prints "layers N, weights 13.2 MiB, ..." (KiB, MiB or GiB).
sum="$(for m in tiny splitnet; do "$bin/demandlayer" inspect "$work/$m.dlm" | awk '/^layers/ {print $4, $5}'; done |
       awk '{ bytes += $1 * ($2 == "KiB" ? 1024 : $2 == "MiB" ? 1048576 : 1073741824) } END { printf "%d", bytes }')"
if [ "$budget" -ge "$sum" ]; then
    echo "20-examples: the runtime budget $budget is not below the two models' weights ($sum bytes)" >&2
    exit 1
fi
"$work/two_models" "$work/tiny.dlm" "$work/splitnet.dlm" --budget "$budget" --requests 8 \
    --save-input-a "$work/tiny-input.npy" --save-input-b "$work/splitnet-input.npy"
# The first input or output name `inspect` lists for model $1 ($2: inputs or outputs).
first() { "$bin/demandlayer" inspect "$work/$1.dlm" | awk -v kind="$2" '$1 == kind {print $2; exit}'; }
for m in tiny splitnet; do
    "$bin/demandlayer" run "$work/$m.dlm" --input "$(first "$m" inputs)=$work/$m-input.npy" --output "$work/run-$m" >&2
done
# `run` writes each output as DIR/<name>.npy, with '/' written as '_'.
"$work/two_models" "$work/tiny.dlm" "$work/splitnet.dlm" --budget "$budget" --requests 8 --scheduling shortest \
    --expect-a "$work/run-tiny/$(first tiny outputs | tr / _).npy" \
    --expect-b "$work/run-splitnet/$(first splitnet outputs | tr / _).npy"

echo "--- Swift runtime example: the same two models from two threads each, against each model alone"
swift build --scratch-path "$scratch" --product serve-swift >&2
"$bin/serve-swift" "$work/tiny.dlm" "$work/splitnet.dlm" --budget "$budget" --requests 4

echo "20-examples: C output equals demandlayer run's; C and Swift examples agree on the top-5; two models in one $budget-byte runtime equal demandlayer run's outputs within the budget, from C and from Swift"
