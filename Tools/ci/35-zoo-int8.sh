#!/usr/bin/env bash
# ResNet-152 (the built-in model, seeded weights) stored as int8 against the
# same model stored as float32 (`demandlayer zoo compare`): bytes read per
# run must be at most 26% of float32's, and the top-1 class of 100 seeded
# inputs is compared.
#
# The agreement bound is 70 of 100, not 99: with seeded random weights the
# softmax is near uniform (median top-1 minus top-2 probability ~5e-4 over
# three distinct classes), the same size as int8's output difference
# (~4e-4), so 77 of 100 agree here; the command prints both figures and
# how many inputs have a gap wide enough to decide anything. A pretrained
# classifier's int8 agreement is checked on real weights by 30-onnx-real.sh.
#
# Release build (shared with 30-onnx-real.sh's); about 80 seconds on 2 cores
# (making both models, then 200 inferences).
set -euo pipefail
cd "$(dirname "$0")/../.."

scratch="${DL_SCRATCH:-.build}"
swift build -c release --product demandlayer --scratch-path "$scratch" >&2
cli="$(swift build -c release --product demandlayer --scratch-path "$scratch" --show-bin-path)/demandlayer"
work=$(mktemp -d "${TMPDIR:-/tmp}/dl-zoo-int8.XXXXXX")
trap 'rm -rf "$work"' EXIT
"$cli" zoo compare resnet152 --dtype int8 --out "$work" --inputs 100 --max-bytes-ratio 0.26 --min-agreement 70 2>/dev/null
