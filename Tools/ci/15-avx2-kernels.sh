#!/usr/bin/env bash
# On a CPU with AVX-512, the GEMM runs its AVX-512 kernels; the AVX2 + FMA ones
# are what CPUs without AVX-512 run. Run the kernel and runtime tests again with
# DEMANDLAYER_CPU=avx2, so that path runs whole sessions (split layers
# included) here too. Reuses the build `swift test` just made.
#
# DEMANDLAYER_CPU only ever lowers the level the kernels pick for the CPU
# (Sources/CKernels/cpu_level.c), so avx2 changes anything only where that
# level is avx512 (AVX-512F with AVX2 and FMA). Elsewhere (an AVX2 CPU, or one
# without AVX2, where the setting is ignored with a warning) this would repeat
# the default `swift test` run exactly, and the step is skipped, saying so. The
# level is asked of cpu_level.c itself, built with the system's C compiler.
set -euo pipefail
cd "$(dirname "$0")/../.."

compiler="$(command -v cc || command -v clang || true)"
if [ -n "$compiler" ]; then
    probe=$(mktemp -d)
    trap 'rm -rf "$probe"' EXIT
    printf '#include "ckernels.h"\n#include <stdio.h>\nint main(void) { puts(dl_cpu_level_name(dl_cpu_level())); return 0; }\n' \
        > "$probe/level.c"
    "$compiler" -O1 -ISources/CKernels/include "$probe/level.c" Sources/CKernels/cpu_level.c -o "$probe/level" -lpthread
    level=$(env -u DEMANDLAYER_CPU -u DEMANDLAYER_PORTABLE_KERNELS "$probe/level")
    if [ "$level" != avx512 ]; then
        echo "15-avx2-kernels: skipped: the kernels' level on this CPU is $level, not avx512, so DEMANDLAYER_CPU=avx2 would repeat the default swift test run"
        exit 0
    fi
else
    echo "15-avx2-kernels: no C compiler to ask the kernels' level; running the tests" >&2
fi

DEMANDLAYER_CPU=avx2 swift test --skip-build --filter 'DemandTensorTests|DemandLayerTests' --skip RuntimeTests
# RuntimeTests alone: it compares bits with resident runs, and other suites change the process-wide BLAS thread count.
DEMANDLAYER_CPU=avx2 swift test --skip-build --filter RuntimeTests
