#!/usr/bin/env bash
# Builds the C API library and installs it under PREFIX:
#   PREFIX/lib/libdemandlayer.so, PREFIX/include/demandlayer.h,
#   PREFIX/lib/pkgconfig/demandlayer.pc
# Then: cc app.c $(PKG_CONFIG_PATH=PREFIX/lib/pkgconfig pkg-config --cflags --libs demandlayer)
#
# usage: Tools/install-lib.sh PREFIX [-c release|debug] [--scratch-path DIR]
# (release by default; CI passes `-c debug` to reuse the test build.)
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=""
configuration=release
scratch=()
while (($#)); do
    case "$1" in
        -c) configuration="$2"; shift 2 ;;
        --scratch-path) scratch=(--scratch-path "$2"); shift 2 ;;
        -*) echo "install-lib.sh: unknown option $1" >&2; exit 2 ;;
        *) prefix="$1"; shift ;;
    esac
done
[ -n "$prefix" ] || { echo "usage: Tools/install-lib.sh PREFIX [-c release|debug] [--scratch-path DIR]" >&2; exit 2; }
mkdir -p "$prefix"
prefix="$(cd "$prefix" && pwd)"

swift build -c "$configuration" "${scratch[@]}" --product DemandLayerC >&2
bin="$(swift build -c "$configuration" "${scratch[@]}" --show-bin-path)"
version="$(git describe --tags --always 2>/dev/null || echo 0)"

install -d "$prefix/lib/pkgconfig" "$prefix/include"
# Copied, not linked: the library has no SONAME, so programs record the
# installed name (libdemandlayer.so) and never look in the build directory.
install -m 0755 "$bin/libDemandLayerC.so" "$prefix/lib/libdemandlayer.so"
install -m 0644 Sources/CDemandLayer/include/demandlayer.h "$prefix/include/demandlayer.h"
sed -e "s|@PREFIX@|$prefix|" -e "s|@VERSION@|$version|" Tools/demandlayer.pc.in > "$prefix/lib/pkgconfig/demandlayer.pc"
echo "installed libdemandlayer ($configuration) under $prefix" >&2
