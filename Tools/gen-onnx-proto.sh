#!/usr/bin/env bash
# Regenerates Sources/DemandONNX/Generated/onnx.pb.swift from Tools/onnx/onnx.proto.
#
# Needs protoc (installed with apt as `protobuf-compiler` when missing) and
# protoc-gen-swift, built here from the swift-protobuf 1.39.0 package (the
# version Package.swift resolves). The first build takes a few minutes; the
# plugin is kept in .build-protoc/ for the next run. The generated file is
# committed, so ordinary builds need neither tool.
set -euo pipefail
cd "$(dirname "$0")/.."

version=1.39.0
work=.build-protoc
plugin="$work/swift-protobuf/.build/release/protoc-gen-swift"

if ! command -v protoc >/dev/null; then
    echo "installing protobuf-compiler" >&2
    apt-get install -y --no-install-recommends protobuf-compiler >&2 \
        || { apt-get update >&2 && apt-get install -y --no-install-recommends protobuf-compiler >&2; }
fi

if [ ! -x "$plugin" ]; then
    mkdir -p "$work"
    if [ ! -d "$work/swift-protobuf" ]; then
        git clone --quiet --depth 1 --branch "$version" https://github.com/apple/swift-protobuf "$work/swift-protobuf"
    fi
    echo "building protoc-gen-swift $version (a few minutes)" >&2
    swift build --package-path "$work/swift-protobuf" -c release --product protoc-gen-swift >&2
fi

out=Sources/DemandONNX/Generated
mkdir -p "$out"
protoc --plugin=protoc-gen-swift="$plugin" \
    --swift_out="$out" --swift_opt=Visibility=Public \
    -I Tools/onnx Tools/onnx/onnx.proto
echo "wrote $out/onnx.pb.swift" >&2
