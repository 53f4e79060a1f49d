// NEON versions of kernels.c's AVX2 + FMA functions, for ARM64; see
// include/ckernels.h. Same constants and steps as kernels.c, fused where it
// fuses (vfmaq/vfmsq for _mm256_fmadd/_fnmadd), rounded to nearest even
// (vrndnq for _mm256_round_ps), so each value is bit for bit the AVX2 one.
// Eight lanes are kept as two float32x4_t, so the sums of exp_sum add the
// same lanes in the same order as the AVX2 path. The last partial vector goes
// through a zero-padded copy (NEON has no masked loads).
//
// Built with floating-point contraction off: an a·b + c the compiler fused
// on its own would round differently from the x86 path.
#include "ckernels.h"

#if defined(__aarch64__)
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif
#include <arm_neon.h>
#include <string.h>

int dl_kernels_have_neon(void) { return dl_cpu_level() == DL_CPU_NEON; }

/// Eight floats: lanes 0-3 and 4-7 of one AVX2 register.
typedef struct {
    float32x4_t lo, hi;
} V8;

static inline float32x4_t splat(float v) { return vdupq_n_f32(v); }

// e^x within about 2 ulp; x clamped to [-87.34, 88.38]; NaN stays NaN (FMAX/FMIN propagate it).
static inline float32x4_t exp4(float32x4_t x) {
    float32x4_t c = vminq_f32(vmaxq_f32(x, splat(-87.33654f)), splat(88.37626f));
    float32x4_t n = vrndnq_f32(vmulq_f32(c, splat(1.44269504f)));
    float32x4_t r = vfmsq_f32(c, n, splat(0.693359375f));
    r = vfmaq_f32(r, n, splat(2.1219444e-4f));
    float32x4_t p = splat(1.98756915e-4f);
    p = vfmaq_f32(splat(1.39819995e-3f), p, r);
    p = vfmaq_f32(splat(8.3334519e-3f), p, r);
    p = vfmaq_f32(splat(4.16657959e-2f), p, r);
    p = vfmaq_f32(splat(1.66666655e-1f), p, r);
    p = vfmaq_f32(splat(5.00000012e-1f), p, r);
    float32x4_t e = vaddq_f32(vfmaq_f32(r, p, vmulq_f32(r, r)), splat(1.0f));
    int32x4_t bits = vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)), 23);
    return vmulq_f32(e, vreinterpretq_f32_s32(bits));
}

static inline float32x4_t sigmoid4(float32x4_t x) {
    return vdivq_f32(splat(1.0f), vaddq_f32(splat(1.0f), exp4(vsubq_f32(vdupq_n_f32(0), x))));
}

static inline float32x4_t tanh4(float32x4_t x) {
    return vsubq_f32(splat(1.0f), vdivq_f32(splat(2.0f), vaddq_f32(exp4(vaddq_f32(x, x)), splat(1.0f))));
}

// Abramowitz–Stegun 7.1.26 on |x|, sign restored.
static inline float32x4_t erf4(float32x4_t x) {
    uint32x4_t sign = vandq_u32(vreinterpretq_u32_f32(x), vdupq_n_u32(0x80000000u));
    float32x4_t a = vreinterpretq_f32_u32(veorq_u32(vreinterpretq_u32_f32(x), sign));
    float32x4_t t = vdivq_f32(splat(1.0f), vfmaq_f32(splat(1.0f), splat(0.3275911f), a));
    float32x4_t p = splat(1.061405429f);
    p = vfmaq_f32(splat(-1.453152027f), p, t);
    p = vfmaq_f32(splat(1.421413741f), p, t);
    p = vfmaq_f32(splat(-0.284496736f), p, t);
    p = vfmaq_f32(splat(0.254829592f), p, t);
    float32x4_t e = exp4(vsubq_f32(vdupq_n_f32(0), vmulq_f32(a, a)));
    float32x4_t y = vfmsq_f32(splat(1.0f), vmulq_f32(p, t), e);
    return vreinterpretq_f32_u32(veorq_u32(vreinterpretq_u32_f32(y), sign));
}

static inline float32x4_t silu4(float32x4_t x) { return vmulq_f32(x, sigmoid4(x)); }
static inline float32x4_t gelu4(float32x4_t x) {
    float32x4_t half = vmulq_f32(splat(0.5f), x);
    return vfmaq_f32(half, half, erf4(vmulq_f32(x, splat(0.70710678f))));
}
static inline float32x4_t gelu_tanh4(float32x4_t x) {
    float32x4_t cube = vmulq_f32(vmulq_f32(x, x), x);
    float32x4_t inner = vmulq_f32(splat(0.79788456f), vfmaq_f32(x, splat(0.044715f), cube));
    float32x4_t half = vmulq_f32(splat(0.5f), x);
    return vfmaq_f32(half, half, tanh4(inner));
}

/// Applies `f` to x + bias over the array; the last partial vector is read
/// from and written through a zero-padded copy.
#define MAP(name, f, with_bias)                                                     \
    void name(const float *x, float *y, size_t count BIAS_PARAM_##with_bias) {      \
        float32x4_t shift = splat(BIAS_VALUE_##with_bias);                          \
        size_t i = 0;                                                               \
        for (; i + 4 <= count; i += 4) vst1q_f32(y + i, f(vaddq_f32(vld1q_f32(x + i), shift))); \
        if (i < count) {                                                            \
            float part[4] = {0};                                                    \
            memcpy(part, x + i, sizeof(float) * (count - i));                       \
            vst1q_f32(part, f(vaddq_f32(vld1q_f32(part), shift)));                  \
            memcpy(y + i, part, sizeof(float) * (count - i));                       \
        }                                                                           \
    }
#define BIAS_PARAM_1 , float bias
#define BIAS_PARAM_0
#define BIAS_VALUE_1 bias
#define BIAS_VALUE_0 0.0f

MAP(dl_neon_sigmoid, sigmoid4, 1)
MAP(dl_neon_silu, silu4, 1)
MAP(dl_neon_tanh, tanh4, 0)
MAP(dl_neon_erf, erf4, 0)
MAP(dl_neon_gelu, gelu4, 0)
MAP(dl_neon_gelu_tanh, gelu_tanh4, 0)
MAP(dl_neon_exp, exp4, 0)

float dl_neon_exp_sum(const float *x, float *y, size_t count, float shift) {
    float32x4_t m = splat(shift);
    V8 total = {vdupq_n_f32(0), vdupq_n_f32(0)};
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        float32x4_t lo = exp4(vsubq_f32(vld1q_f32(x + i), m)), hi = exp4(vsubq_f32(vld1q_f32(x + i + 4), m));
        vst1q_f32(y + i, lo);
        vst1q_f32(y + i + 4, hi);
        total.lo = vaddq_f32(total.lo, lo);
        total.hi = vaddq_f32(total.hi, hi);
    }
    if (i < count) {
        // Lanes past count are 0 in the sum, as the AVX2 path's masked ones.
        size_t left = count - i;
        float part[8] = {0};
        memcpy(part, x + i, sizeof(float) * left);
        float32x4_t lo = exp4(vsubq_f32(vld1q_f32(part), m)), hi = exp4(vsubq_f32(vld1q_f32(part + 4), m));
        vst1q_f32(part, lo);
        vst1q_f32(part + 4, hi);
        memcpy(y + i, part, sizeof(float) * left);
        memset(part + left, 0, sizeof(float) * (8 - left));
        total.lo = vaddq_f32(total.lo, vld1q_f32(part));
        total.hi = vaddq_f32(total.hi, vld1q_f32(part + 4));
    }
    // The AVX2 order: lane l + lane l+4, then (0+2, 1+3), then 0+1.
    float32x4_t half = vaddq_f32(total.lo, total.hi);
    float32x2_t two = vadd_f32(vget_low_f32(half), vget_high_f32(half));
    return vget_lane_f32(two, 0) + vget_lane_f32(two, 1);
}

void dl_neon_softmax_line(const float *x, float *y, size_t count) {
    float32x4_t m = vdupq_n_f32(x[0]);
    size_t i = 0;
    for (; i + 4 <= count; i += 4) m = vmaxq_f32(m, vld1q_f32(x + i));
    float maximum = vmaxvq_f32(m);
    for (; i < count; i++) maximum = x[i] > maximum ? x[i] : maximum;
    float scale = 1.0f / dl_neon_exp_sum(x, y, count, maximum);
    float32x4_t s = splat(scale);
    for (i = 0; i + 4 <= count; i += 4) vst1q_f32(y + i, vmulq_f32(vld1q_f32(y + i), s));
    for (; i < count; i++) y[i] *= scale;
}

void dl_neon_exp_accumulate(const float *x, const float *maxima, float *y, float *sums, size_t count) {
    size_t i = 0;
    for (; i + 4 <= count; i += 4) {
        float32x4_t e = exp4(vsubq_f32(vld1q_f32(x + i), vld1q_f32(maxima + i)));
        vst1q_f32(y + i, e);
        vst1q_f32(sums + i, vaddq_f32(vld1q_f32(sums + i), e));
    }
    for (; i < count; i++) {
        float px[4] = {x[i]}, pm[4] = {maxima[i]};
        float e = vgetq_lane_f32(exp4(vsubq_f32(vld1q_f32(px), vld1q_f32(pm))), 0);
        y[i] = e;
        sums[i] = sums[i] + e;
    }
}

#else
// Not ARM64: the AVX2 or Swift kernels are used; these are never called.
int dl_kernels_have_neon(void) { return 0; }
void dl_neon_sigmoid(const float *x, float *y, size_t count, float bias) { (void)x; (void)y; (void)count; (void)bias; }
void dl_neon_silu(const float *x, float *y, size_t count, float bias) { (void)x; (void)y; (void)count; (void)bias; }
void dl_neon_tanh(const float *x, float *y, size_t count) { (void)x; (void)y; (void)count; }
void dl_neon_erf(const float *x, float *y, size_t count) { (void)x; (void)y; (void)count; }
void dl_neon_gelu(const float *x, float *y, size_t count) { (void)x; (void)y; (void)count; }
void dl_neon_gelu_tanh(const float *x, float *y, size_t count) { (void)x; (void)y; (void)count; }
void dl_neon_exp(const float *x, float *y, size_t count) { (void)x; (void)y; (void)count; }
float dl_neon_exp_sum(const float *x, float *y, size_t count, float shift) { (void)x; (void)y; (void)count; (void)shift; return 0; }
void dl_neon_softmax_line(const float *x, float *y, size_t count) { (void)x; (void)y; (void)count; }
void dl_neon_exp_accumulate(const float *x, const float *maxima, float *y, float *sums, size_t count) {
    (void)x; (void)maxima; (void)y; (void)sums; (void)count;
}
#endif
