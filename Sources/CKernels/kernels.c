// AVX2 + FMA versions of DemandTensor's VectorMath; see include/ckernels.h.
// Same constants and steps as VectorMath.swift, eight lanes per register.
#include "ckernels.h"

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma")))

int dl_kernels_have_avx2(void) { return dl_cpu_level() >= DL_CPU_AVX2; }

static inline AVX2 __m256 splat(float v) { return _mm256_set1_ps(v); }

// e^x within about 2 ulp; x clamped to [-87.34, 88.38] (so 2^n stays finite
// and normal: n = round(x·log2 e) in [-126, 127]); NaN stays NaN.
static inline AVX2 __m256 exp8(__m256 x) {
    // max/min return their second operand when the first is NaN: keep x first.
    __m256 c = _mm256_min_ps(_mm256_max_ps(x, splat(-87.33654f)), splat(88.37626f));
    c = _mm256_blendv_ps(c, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(c, splat(1.44269504f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, splat(0.693359375f), c);
    r = _mm256_fmadd_ps(n, splat(2.1219444e-4f), r);
    __m256 p = splat(1.98756915e-4f);
    p = _mm256_fmadd_ps(p, r, splat(1.39819995e-3f));
    p = _mm256_fmadd_ps(p, r, splat(8.3334519e-3f));
    p = _mm256_fmadd_ps(p, r, splat(4.16657959e-2f));
    p = _mm256_fmadd_ps(p, r, splat(1.66666655e-1f));
    p = _mm256_fmadd_ps(p, r, splat(5.00000012e-1f));
    __m256 e = _mm256_add_ps(_mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r), splat(1.0f));
    __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(e, _mm256_castsi256_ps(bits));
}

static inline AVX2 __m256 sigmoid8(__m256 x) {
    return _mm256_div_ps(splat(1.0f), _mm256_add_ps(splat(1.0f), exp8(_mm256_sub_ps(_mm256_setzero_ps(), x))));
}

static inline AVX2 __m256 tanh8(__m256 x) {
    return _mm256_sub_ps(splat(1.0f), _mm256_div_ps(splat(2.0f), _mm256_add_ps(exp8(_mm256_add_ps(x, x)), splat(1.0f))));
}

// Abramowitz–Stegun 7.1.26 on |x|, sign restored.
static inline AVX2 __m256 erf8(__m256 x) {
    __m256 sign = _mm256_and_ps(x, _mm256_castsi256_ps(_mm256_set1_epi32((int)0x80000000u)));
    __m256 a = _mm256_xor_ps(x, sign);
    __m256 t = _mm256_div_ps(splat(1.0f), _mm256_fmadd_ps(splat(0.3275911f), a, splat(1.0f)));
    __m256 p = splat(1.061405429f);
    p = _mm256_fmadd_ps(p, t, splat(-1.453152027f));
    p = _mm256_fmadd_ps(p, t, splat(1.421413741f));
    p = _mm256_fmadd_ps(p, t, splat(-0.284496736f));
    p = _mm256_fmadd_ps(p, t, splat(0.254829592f));
    __m256 e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), _mm256_mul_ps(a, a)));
    __m256 y = _mm256_fnmadd_ps(_mm256_mul_ps(p, t), e, splat(1.0f));
    return _mm256_xor_ps(y, sign);
}

// Lanes [0, remaining) of a mask for maskload/maskstore.
static inline AVX2 __m256i tail_mask(size_t remaining) {
    __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)remaining), lanes);
}

// Applies `f` to x + bias over the array, the last partial vector masked.
#define MAP(name, f, with_bias)                                                             \
    AVX2 void name(const float *x, float *y, size_t count BIAS_PARAM_##with_bias) {        \
        __m256 shift = splat(BIAS_VALUE_##with_bias);                                       \
        size_t i = 0;                                                                       \
        for (; i + 8 <= count; i += 8) {                                                    \
            __m256 v = _mm256_add_ps(_mm256_loadu_ps(x + i), shift);                        \
            _mm256_storeu_ps(y + i, f(v));                                                  \
        }                                                                                   \
        if (i < count) {                                                                    \
            __m256i mask = tail_mask(count - i);                                            \
            __m256 v = _mm256_add_ps(_mm256_maskload_ps(x + i, mask), shift);               \
            _mm256_maskstore_ps(y + i, mask, f(v));                                         \
        }                                                                                   \
    }
#define BIAS_PARAM_1 , float bias
#define BIAS_PARAM_0
#define BIAS_VALUE_1 bias
#define BIAS_VALUE_0 0.0f

static inline AVX2 __m256 silu8(__m256 x) { return _mm256_mul_ps(x, sigmoid8(x)); }
static inline AVX2 __m256 gelu8(__m256 x) {
    __m256 half = _mm256_mul_ps(splat(0.5f), x);
    return _mm256_fmadd_ps(half, erf8(_mm256_mul_ps(x, splat(0.70710678f))), half);
}
static inline AVX2 __m256 gelu_tanh8(__m256 x) {
    __m256 cube = _mm256_mul_ps(_mm256_mul_ps(x, x), x);
    __m256 inner = _mm256_mul_ps(splat(0.79788456f), _mm256_fmadd_ps(splat(0.044715f), cube, x));
    __m256 half = _mm256_mul_ps(splat(0.5f), x);
    return _mm256_fmadd_ps(half, tanh8(inner), half);
}

MAP(dl_avx2_sigmoid, sigmoid8, 1)
MAP(dl_avx2_silu, silu8, 1)
MAP(dl_avx2_tanh, tanh8, 0)
MAP(dl_avx2_erf, erf8, 0)
MAP(dl_avx2_gelu, gelu8, 0)
MAP(dl_avx2_gelu_tanh, gelu_tanh8, 0)
MAP(dl_avx2_exp, exp8, 0)

AVX2 float dl_avx2_exp_sum(const float *x, float *y, size_t count, float shift) {
    __m256 m = splat(shift), total = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), m));
        _mm256_storeu_ps(y + i, e);
        total = _mm256_add_ps(total, e);
    }
    if (i < count) {
        __m256i mask = tail_mask(count - i);
        __m256 e = exp8(_mm256_sub_ps(_mm256_maskload_ps(x + i, mask), m));
        _mm256_maskstore_ps(y + i, mask, e);
        total = _mm256_add_ps(total, _mm256_and_ps(e, _mm256_castsi256_ps(mask)));
    }
    __m128 half = _mm_add_ps(_mm256_castps256_ps128(total), _mm256_extractf128_ps(total, 1));
    half = _mm_add_ps(half, _mm_movehl_ps(half, half));
    half = _mm_add_ss(half, _mm_shuffle_ps(half, half, 1));
    return _mm_cvtss_f32(half);
}

static inline AVX2 float horizontal_max(__m256 v) {
    __m128 half = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    half = _mm_max_ps(half, _mm_movehl_ps(half, half));
    half = _mm_max_ss(half, _mm_shuffle_ps(half, half, 1));
    return _mm_cvtss_f32(half);
}

AVX2 void dl_avx2_softmax_line(const float *x, float *y, size_t count) {
    __m256 m = _mm256_set1_ps(x[0]);
    size_t i = 0;
    for (; i + 8 <= count; i += 8) m = _mm256_max_ps(m, _mm256_loadu_ps(x + i));
    float maximum = horizontal_max(m);
    for (; i < count; i++) maximum = x[i] > maximum ? x[i] : maximum;
    __m256 scale = splat(1.0f / dl_avx2_exp_sum(x, y, count, maximum));
    for (i = 0; i + 8 <= count; i += 8) _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(y + i), scale));
    float last = _mm256_cvtss_f32(scale);
    for (; i < count; i++) y[i] *= last;
}

AVX2 void dl_avx2_exp_accumulate(const float *x, const float *maxima, float *y, float *sums, size_t count) {
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(maxima + i)));
        _mm256_storeu_ps(y + i, e);
        _mm256_storeu_ps(sums + i, _mm256_add_ps(_mm256_loadu_ps(sums + i), e));
    }
    if (i < count) {
        __m256i mask = tail_mask(count - i);
        __m256 e = exp8(_mm256_sub_ps(_mm256_maskload_ps(x + i, mask), _mm256_maskload_ps(maxima + i, mask)));
        _mm256_maskstore_ps(y + i, mask, e);
        _mm256_maskstore_ps(sums + i, mask, _mm256_add_ps(_mm256_maskload_ps(sums + i, mask), e));
    }
}

#else
// Not x86-64: the NEON (ARM64) or Swift kernels are used; these are never called.
int dl_kernels_have_avx2(void) { return 0; }
void dl_avx2_sigmoid(const float *x, float *y, size_t count, float bias) { (void)x; (void)y; (void)count; (void)bias; }
void dl_avx2_silu(const float *x, float *y, size_t count, float bias) { (void)x; (void)y; (void)count; (void)bias; }
void dl_avx2_tanh(const float *x, float *y, size_t count) { (void)x; (void)y; (void)count; }
void dl_avx2_erf(const float *x, float *y, size_t count) { (void)x; (void)y; (void)count; }
void dl_avx2_gelu(const float *x, float *y, size_t count) { (void)x; (void)y; (void)count; }
void dl_avx2_gelu_tanh(const float *x, float *y, size_t count) { (void)x; (void)y; (void)count; }
void dl_avx2_exp(const float *x, float *y, size_t count) { (void)x; (void)y; (void)count; }
float dl_avx2_exp_sum(const float *x, float *y, size_t count, float shift) { (void)x; (void)y; (void)count; (void)shift; return 0; }
void dl_avx2_softmax_line(const float *x, float *y, size_t count) { (void)x; (void)y; (void)count; }
void dl_avx2_exp_accumulate(const float *x, const float *maxima, float *y, float *sums, size_t count) {
    (void)x; (void)maxima; (void)y; (void)sums; (void)count;
}
#endif
