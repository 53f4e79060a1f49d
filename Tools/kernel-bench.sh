#!/bin/sh
# Builds the DemandTensor kernels with a micro-benchmark into one optimized
# binary (no SwiftPM release build needed) and runs it.
# Usage: Tools/kernel-bench.sh [name-fragment]   e.g. Tools/kernel-bench.sh bert
set -e
root=$(cd "$(dirname "$0")/.." && pwd)
work=${TMPDIR:-/tmp}/demandlayer-kernel-bench
mkdir -p "$work"
cat > "$work/module.modulemap" <<MAP
module COpenBLAS {
    header "$root/Sources/COpenBLAS/include/copenblas.h"
    link "openblas"
    export *
}
MAP
swiftc -O -wmo -module-name KernelBench -Xcc -fmodule-map-file="$work/module.modulemap" \
    $(find "$root/Sources/DemandTensor" -name '*.swift') "$root/Tools/kernel-bench/main.swift" \
    -Xlinker -lopenblas -o "$work/kernel-bench" 2>&1 | grep -v "^$" || true
exec "$work/kernel-bench" "$@"
