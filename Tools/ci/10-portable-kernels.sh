#!/usr/bin/env bash
# The kernels choose AVX2 and AVX-512 paths at run time; a machine without
# them runs the portable maths and OpenBLAS instead. Run the kernel, runtime
# and importer tests again with every CPU check answering "no"
# (DEMANDLAYER_PORTABLE_KERNELS=1), so those paths stay tested on any machine.
# Reuses the build `swift test` just made.
set -euo pipefail
cd "$(dirname "$0")/../.."
DEMANDLAYER_PORTABLE_KERNELS=1 swift test --skip-build --filter 'DemandTensorTests|DemandLayerTests|DemandONNXTests' --skip RuntimeTests
# RuntimeTests alone: it compares bits with resident runs, and other suites change the process-wide BLAS thread count.
DEMANDLAYER_PORTABLE_KERNELS=1 swift test --skip-build --filter RuntimeTests
