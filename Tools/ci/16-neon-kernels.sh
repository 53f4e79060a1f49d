#!/usr/bin/env bash
# The C kernels on their own, without Swift: Tools/kernel-tests/kernel_check.c
# linked with every C file of Sources/CKernels, run twice natively (the x86
# kernel sets this CPU has, then the portable paths under
# DEMANDLAYER_PORTABLE_KERNELS=1) and once as a static ARM64 binary under
# qemu-aarch64, where the NEON kernels run: GEMM, convolution (packed,
# Winograd and depthwise) against a double-precision reference, bit-identical
# on 1 and 2 threads and in row (channel) pieces; elementwise maths bit for
# bit the AVX2 steps; and the restore stage's dequantize kernels
# (Tools/kernel-tests/dequantize_check.c: NEON, AVX2 and portable bit for
# bit). Most users' boards are ARM64, and this machine is not.
#
# Needs gcc-aarch64-linux-gnu, libc6-dev-arm64-cross and qemu-user
# (Tools/install-deps.sh installs them); fails, naming what is missing,
# without them. On an ARM64 machine the native runs test NEON and no emulator
# is needed. With clang on PATH (the Swift toolchain's), the ARM64 checks are
# repeated with clang, the compiler the package builds its C with.
#
# The two full NEON runs under qemu (the GCC and the clang build, about 50 s
# each, on one core apiece) run side by side in the background, each to its
# own log, while the native checks run here; their logs are printed after, and
# either failing fails the step. That DEMANDLAYER_CPU=avx2 is ignored on ARM64
# is checked on the level it leads to (KERNEL_CHECK_LEVEL_ONLY=1): every check
# depends on the level alone, and the full run at that level is the GCC one.
# About 75 s on 2 cores here, nearly all of it qemu.
set -euo pipefail
cd "$(dirname "$0")/../.."

native_arm64=0
[ "$(uname -m)" = aarch64 ] && native_arm64=1
missing=()
command -v cc >/dev/null || missing+=("cc (a native C compiler)")
if ((!native_arm64)); then
    command -v aarch64-linux-gnu-gcc >/dev/null || missing+=("aarch64-linux-gnu-gcc (package gcc-aarch64-linux-gnu)")
    command -v qemu-aarch64 >/dev/null || command -v qemu-aarch64-static >/dev/null || missing+=("qemu-aarch64 (package qemu-user)")
fi
if ((${#missing[@]})); then
    printf 'FAIL: cannot test the ARM64 NEON kernels: missing %s\n' "${missing[@]}" >&2
    echo "Run Tools/install-deps.sh (or apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user)." >&2
    exit 1
fi

work=$(mktemp -d)
background=()
cleanup() {
    local pid
    for pid in "${background[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
# -ffp-contract=off: the test's scalar model of the AVX2 steps must not be fused
# by the compiler (GCC fuses a·b + c across statements by default).
flags=(-O2 -ffp-contract=off -Wall -Wextra -Werror -ISources/CKernels/include -ISources/CKernels)
sources=(Tools/kernel-tests/kernel_check.c Sources/CKernels/*.c)
dequantize_flags=(-O2 -Wall -Wextra -Werror -ISources/CURing/include)

native_checks() {
    cc "${flags[@]}" "${sources[@]}" -o "$work/kernel_check" -lm -lpthread
    "$work/kernel_check"
    DEMANDLAYER_PORTABLE_KERNELS=1 "$work/kernel_check"
    # The restore stage's dequantize kernels (CURing): chosen path against portable and the plain formula.
    cc "${dequantize_flags[@]}" Tools/kernel-tests/dequantize_check.c Sources/CURing/dequantize.c -o "$work/dequantize_check"
    "$work/dequantize_check"
}

if ((native_arm64)); then
    native_checks
    DEMANDLAYER_CPU=portable "$work/kernel_check"
    exit 0
fi

qemu=$(command -v qemu-aarch64 || command -v qemu-aarch64-static)
have_clang=0
command -v clang >/dev/null && have_clang=1

# The full NEON runs first, in the background: GCC's build, then the kernels
# built as the package builds them, by the Swift toolchain's clang with the
# target's flags alone (-O2; the check itself keeps -ffp-contract=off), linked
# by the GCC cross driver for its static libc.
if ! aarch64-linux-gnu-gcc -march=armv8-a -static "${flags[@]}" "${sources[@]}" -o "$work/kernel_check-aarch64" -lm -lpthread; then
    echo "FAIL: aarch64-linux-gnu-gcc could not build the static test (is libc6-dev-arm64-cross installed?)" >&2
    exit 1
fi
"$qemu" "$work/kernel_check-aarch64" > "$work/neon-gcc.log" 2>&1 &
neon_gcc=$!
background+=("$neon_gcc")
if ((have_clang)); then
    clang_flags=(--target=aarch64-linux-gnu --sysroot=/usr/aarch64-linux-gnu -O2 -ISources/CKernels/include -ISources/CKernels)
    mkdir -p "$work/clang"
    clang "${clang_flags[@]}" -ffp-contract=off -c Tools/kernel-tests/kernel_check.c -o "$work/clang/kernel_check.o"
    for source in Sources/CKernels/*.c; do
        clang "${clang_flags[@]}" -c "$source" -o "$work/clang/$(basename "$source" .c).o"
    done
    aarch64-linux-gnu-gcc -static "$work"/clang/*.o -o "$work/kernel_check-aarch64-clang" -lm -lpthread
    "$qemu" "$work/kernel_check-aarch64-clang" > "$work/neon-clang.log" 2>&1 &
    neon_clang=$!
    background+=("$neon_clang")
fi

native_checks

# The package must build for ARM64: every C file of Sources/ compiles there
# (x86-only code stays behind #if defined(__x86_64__)). liburing.h and
# libaio.h are the same on every architecture and come from /usr/include.
# The same with the Swift toolchain's clang, which builds them in the package.
for source in $(find Sources -name '*.c' | sort); do
    directory=$(dirname "$source")
    aarch64-linux-gnu-gcc -march=armv8-a -fsyntax-only -Wall -Wextra -Werror -I"$directory" -I"$directory/include" "$source"
    if ((have_clang)); then
        clang --target=aarch64-linux-gnu --sysroot=/usr/aarch64-linux-gnu -idirafter /usr/include -fsyntax-only -Wall -Wextra \
            -Werror -I"$directory" -I"$directory/include" "$source"
    fi
done
echo "-fsyntax-only: $(find Sources -name '*.c' | wc -l) C files of Sources/ compile for ARM64 (aarch64-linux-gnu-gcc$( ((have_clang)) && echo ", clang"))"

aarch64-linux-gnu-gcc -march=armv8-a -static "${dequantize_flags[@]}" Tools/kernel-tests/dequantize_check.c Sources/CURing/dequantize.c \
    -o "$work/dequantize_check-aarch64"
"$qemu" "$work/dequantize_check-aarch64"
DEMANDLAYER_PORTABLE_KERNELS=1 "$qemu" "$work/kernel_check-aarch64"
DEMANDLAYER_CPU=portable "$qemu" "$work/kernel_check-aarch64"
# An x86 level named on ARM64 is ignored with a warning: NEON still runs.
level=$(DEMANDLAYER_CPU=avx2 KERNEL_CHECK_LEVEL_ONLY=1 "$qemu" "$work/kernel_check-aarch64" 2> "$work/level.err")
cat "$work/level.err" >&2
echo "$level (DEMANDLAYER_CPU=avx2)"
if ! grep -q "cpu level neon" <<<"$level" || ! grep -q "DEMANDLAYER_CPU=avx2 ignored" "$work/level.err"; then
    echo "FAIL: DEMANDLAYER_CPU=avx2 on ARM64 should be ignored with a warning, leaving NEON on" >&2
    exit 1
fi

status=0
neon_gcc_status=0
wait "$neon_gcc" || neon_gcc_status=$?
echo "--- NEON kernels, GCC build (qemu-aarch64):"
cat "$work/neon-gcc.log"
if [ "$neon_gcc_status" -ne 0 ]; then
    echo "FAIL: kernel_check-aarch64 (GCC) exited $neon_gcc_status" >&2
    status=1
fi
if ((have_clang)); then
    neon_clang_status=0
    wait "$neon_clang" || neon_clang_status=$?
    echo "--- NEON kernels built by $(clang --version | head -1):"
    if [ "$neon_clang_status" -eq 0 ]; then
        tail -1 "$work/neon-clang.log"
    else
        cat "$work/neon-clang.log"
        echo "FAIL: kernel_check-aarch64-clang exited $neon_clang_status" >&2
        status=1
    fi
else
    echo "note: no clang on PATH; the kernels were checked as GCC builds them only" >&2
fi
background=()
exit "$status"
