// Elementwise kernels built for AVX2 + FMA and chosen at run time: the
// library itself targets baseline x86-64 (SSE2), where Swift's SIMD8<Float>
// runs four lanes at a time without fused multiply-add. Each function is
// compiled with __attribute__((target("avx2,fma"))), so the rest of the
// binary still runs on older CPUs; call one only when dl_kernels_have_avx2()
// returns 1. The formulas match DemandTensor's VectorMath (Swift) exactly.
// On ARM64 the dl_neon_* versions below take their place (kernels_neon.c).
//
// Every function reads x[0..count) and writes y[0..count); x and y may be
// the same pointer. `bias` is added to each x first (a conv's per-channel
// bias fused into its activation).
#ifndef CKERNELS_H
#define CKERNELS_H

#include <stddef.h>

/// Instruction-set levels of CKernels' run-time paths. On x86-64 each includes
/// the ones below it; NEON is ARM64's one level above portable (compare it
/// with ==, not ≥).
typedef enum {
    DL_CPU_PORTABLE = 0,  // baseline: portable maths, OpenBLAS for GEMM
    DL_CPU_AVX2 = 1,      // AVX2 + FMA: these elementwise kernels and the AVX2 sgemm
    DL_CPU_AVX512 = 2,    // AVX-512F (with AVX2 + FMA): the AVX-512 sgemm
    DL_CPU_NEON = 3,      // ARM64 (always has NEON): the NEON elementwise kernels and sgemm
} DLCpuLevel;

/// The widest level this process may use: the CPU's, lowered to
/// DEMANDLAYER_CPU (avx512, avx2, neon or portable; read once; a value that is
/// unknown or above the CPU's is ignored with one warning on stderr), and to
/// portable when dl_kernels_forced_portable(). See cpu_level.c.
DLCpuLevel dl_cpu_level(void);
/// "portable", "avx2", "avx512" or "neon".
const char *dl_cpu_level_name(DLCpuLevel level);

/// 1 when dl_cpu_level() allows AVX2 and FMA (the CPU has them and the compiler could build the kernels), else 0.
int dl_kernels_have_avx2(void);
/// 1 when DEMANDLAYER_PORTABLE_KERNELS is set (to anything but 0; read once):
/// every run-time CPU check then answers no, so the portable paths run and can be tested.
int dl_kernels_forced_portable(void);

/// y = 1 / (1 + e^-(x + bias))
void dl_avx2_sigmoid(const float *x, float *y, size_t count, float bias);
/// y = (x + bias) · sigmoid(x + bias)
void dl_avx2_silu(const float *x, float *y, size_t count, float bias);
/// y = tanh(x)
void dl_avx2_tanh(const float *x, float *y, size_t count);
/// y = erf(x)
void dl_avx2_erf(const float *x, float *y, size_t count);
/// y = x/2 · (1 + erf(x/√2))
void dl_avx2_gelu(const float *x, float *y, size_t count);
/// y = x/2 · (1 + tanh(√(2/π)·(x + 0.044715·x³)))
void dl_avx2_gelu_tanh(const float *x, float *y, size_t count);
/// y = e^x
void dl_avx2_exp(const float *x, float *y, size_t count);
/// y = e^(x − shift); returns Σ y (one softmax line).
float dl_avx2_exp_sum(const float *x, float *y, size_t count, float shift);
/// y = softmax(x) over one contiguous line of count ≥ 1 values (max-subtracted).
void dl_avx2_softmax_line(const float *x, float *y, size_t count);
/// y = e^(x − maxima); sums += y, elementwise (one row of a strided softmax).
void dl_avx2_exp_accumulate(const float *x, const float *maxima, float *y, float *sums, size_t count);

/// The same functions with NEON on ARM64 (kernels_neon.c), bit for bit the
/// AVX2 ones: same steps, fused where those fuse, and sums over eight lanes
/// added in the same order. Call one only when dl_kernels_have_neon() returns 1.
int dl_kernels_have_neon(void);
void dl_neon_sigmoid(const float *x, float *y, size_t count, float bias);
void dl_neon_silu(const float *x, float *y, size_t count, float bias);
void dl_neon_tanh(const float *x, float *y, size_t count);
void dl_neon_erf(const float *x, float *y, size_t count);
void dl_neon_gelu(const float *x, float *y, size_t count);
void dl_neon_gelu_tanh(const float *x, float *y, size_t count);
void dl_neon_exp(const float *x, float *y, size_t count);
float dl_neon_exp_sum(const float *x, float *y, size_t count, float shift);
void dl_neon_softmax_line(const float *x, float *y, size_t count);
void dl_neon_exp_accumulate(const float *x, const float *maxima, float *y, float *sums, size_t count);

/// One max pool's shape: planes of in_height x in_width, a kernel_height x
/// kernel_width window moved by the strides, `pad_top` and `pad_left` rows and
/// columns of padding before the input (padding is never a maximum: windows are
/// clipped to the input, and each clipped window must keep at least one pixel).
typedef struct {
    int in_height, in_width, out_height, out_width;
    int kernel_height, kernel_width, stride_height, stride_width, pad_top, pad_left;
} DLPoolGeometry;

/// Max pooling of `planes` consecutive (in_height, in_width) planes of x into
/// (out_height, out_width) planes of y, bit for bit DemandTensor's portable
/// Pool.swift loops: every maximum is `next > value ? next : value` in window
/// order (rows, then columns), so NaNs and zeros' signs come out the same.
/// `row` is scratch of in_width + 16 floats, its last 16 initialized (a vector
/// load reads one float past the row and discards it). dl_avx2_max_pool only
/// when dl_kernels_have_avx2() returns 1, dl_neon_max_pool only when
/// dl_kernels_have_neon() does (pool.c).
void dl_avx2_max_pool(const float *x, float *y, long planes, const DLPoolGeometry *geometry, float *row);
void dl_neon_max_pool(const float *x, float *y, long planes, const DLPoolGeometry *geometry, float *row);

#endif
