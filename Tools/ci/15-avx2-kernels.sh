#!/usr/bin/env bash
# On a CPU with AVX-512, the GEMM runs its AVX-512 kernels; the AVX2 + FMA ones
# are what CPUs without AVX-512 run. Run the kernel and runtime tests again with
# DEMANDLAYER_CPU=avx2, so that path runs whole sessions (split layers
# included) here too. On a CPU without AVX-512 this repeats the default run; on
# one without AVX2 it prints one warning and runs the portable paths.
# Reuses the build `swift test` just made.
set -euo pipefail
cd "$(dirname "$0")/../.."
DEMANDLAYER_CPU=avx2 swift test --skip-build --filter 'DemandTensorTests|DemandLayerTests' --skip RuntimeTests
# RuntimeTests alone: it compares bits with resident runs, and other suites change the process-wide BLAS thread count.
DEMANDLAYER_CPU=avx2 swift test --skip-build --filter RuntimeTests
