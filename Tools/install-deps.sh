#!/usr/bin/env bash
# Installs the system libraries demandlayer links against (Debian/Ubuntu):
# liburing (io_uring), libaio (the fallback engine), OpenBLAS (GEMM); and, on
# other CPUs than ARM64, an ARM64 cross compiler and qemu-user, with which
# Tools/ci/16-neon-kernels.sh tests the NEON kernels most users' boards run.
# Safe to run again: it does nothing when they are already installed.
set -euo pipefail
packages=(liburing-dev libaio-dev libopenblas-dev pkg-config)
[ "$(uname -m)" = aarch64 ] || packages+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    echo "installing: ${missing[*]}" >&2
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq "${missing[@]}" >&2
fi
