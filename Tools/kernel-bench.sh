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
module CKernels {
    header "$root/Sources/CKernels/include/ckernels.h"
    header "$root/Sources/CKernels/include/dl_sgemm.h"
    export *
}
MAP
rm -f "$work/kernel-bench"
objects=""
for file in kernels cpu_level sgemm sgemm_avx512 sgemm_avx2 sgemm_pool sgemv_rows; do
    clang -O2 -c -I"$root/Sources/CKernels/include" "$root/Sources/CKernels/$file.c" -o "$work/$file.o"
    objects="$objects $work/$file.o"
done
swiftc -O -wmo -module-name KernelBench -package-name demandlayer -Xcc -fmodule-map-file="$work/module.modulemap" \
    $(find "$root/Sources/DemandTensor" -name '*.swift') "$root/Tools/kernel-bench/main.swift" \
    $objects -Xlinker -lopenblas -o "$work/kernel-bench"
exec "$work/kernel-bench" "$@"
