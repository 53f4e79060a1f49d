#!/usr/bin/env bash
# ResNet-152 (the built-in model) stored as int8 against the same model
# stored as float32 (`demandlayer zoo compare`): bytes read per run must be
# at most 26% of float32's, and the top-1 class of 100 seeded images must
# agree in at least 99, with the float32 model picking at least 5 distinct
# classes (agreement on inputs that all land on one class would say little).
#
# The built-in ResNet-152 is calibrated as it is made (BatchNorm statistics
# and a classifier from 8 seeded images, see `Zoo.resNet152`), so its top
# class depends on the input with a margin; with plain random weights it
# was a near tie decided by rounding. The command also prints the median
# top-1 minus top-2 gap against the median int8 difference, and how many
# inputs have a gap too wide for int8 to change.
#
# Release build (shared with 30-onnx-real.sh's); about 90 seconds on 2 cores
# (making both models, then 200 inferences).
set -euo pipefail
cd "$(dirname "$0")/../.."

scratch="${DL_SCRATCH:-.build}"
swift build -c release --product demandlayer --scratch-path "$scratch" >&2
cli="$(swift build -c release --product demandlayer --scratch-path "$scratch" --show-bin-path)/demandlayer"
work=$(mktemp -d "${TMPDIR:-/tmp}/dl-zoo-int8.XXXXXX")
trap 'rm -rf "$work"' EXIT
"$cli" zoo compare resnet152 --dtype int8 --out "$work" --inputs 100 --max-bytes-ratio 0.26 --min-agreement 99 --min-classes 5 2>/dev/null
