// Quantized weights → float32 for the restore stage: value = (q - zero) * scale.
//
// Each function dequantizes `count` values that share one scale and zero point
// (`step` 0: a run of one channel or block) or that each have their own
// (`step` 1: a row whose scales vary along the last axis). AVX2 (8 values per
// step) where the CPU has it, NEON on ARM64 (always present there), a plain
// loop otherwise; `*_portable` are the plain loops, exported for tests.
// Results are bit-identical on every path: (q - zero) is an exact integer in
// float32 and the one multiply rounds the same way everywhere.
#include "curing.h"

#if defined(__x86_64__)
#include <immintrin.h>
#elif defined(__aarch64__)
#include <arm_neon.h>
#endif

void dl_dequantize_s8_portable(const int8_t *source, const int8_t *zero, const float *scale, size_t step, float *destination, size_t count) {
    for (size_t index = 0; index < count; index++) {
        size_t at = index * step;
        int32_t z = zero ? zero[at] : 0;
        destination[index] = (float)((int32_t)source[index] - z) * scale[at];
    }
}

void dl_dequantize_u8_portable(const uint8_t *source, const uint8_t *zero, const float *scale, size_t step, float *destination, size_t count) {
    for (size_t index = 0; index < count; index++) {
        size_t at = index * step;
        int32_t z = zero ? zero[at] : 0;
        destination[index] = (float)((int32_t)source[index] - z) * scale[at];
    }
}

static inline int32_t nibble(const uint8_t *packed, size_t element) {
    uint8_t byte = packed[element >> 1];
    return (element & 1) ? byte >> 4 : byte & 0x0F;
}

void dl_dequantize_u4_portable(const uint8_t *packed, size_t first, const uint8_t *zero, const float *scale, size_t step, float *destination, size_t count) {
    for (size_t index = 0; index < count; index++) {
        size_t at = index * step;
        int32_t z = zero ? zero[at] : 0;
        destination[index] = (float)(nibble(packed, first + index) - z) * scale[at];
    }
}

#if defined(__x86_64__)
// Eight int32 lanes (q - zero) times eight scales (broadcast when step is 0).
__attribute__((target("avx2")))
static inline void store8(float *destination, __m256i values, __m256i zero, __m256 scale) {
    _mm256_storeu_ps(destination, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(values, zero)), scale));
}

__attribute__((target("avx2")))
static void dequantize_s8_avx2(const int8_t *source, const int8_t *zero, const float *scale, size_t step, float *destination, size_t count) {
    size_t index = 0;
    __m256i z = _mm256_set1_epi32(zero && step == 0 ? zero[0] : 0);
    __m256 s = _mm256_set1_ps(scale[0]);
    for (; index + 8 <= count; index += 8) {
        __m256i q = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(source + index)));
        if (step) {
            s = _mm256_loadu_ps(scale + index);
            if (zero) z = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(zero + index)));
        }
        store8(destination + index, q, z, s);
    }
    dl_dequantize_s8_portable(source + index, zero ? zero + index * step : NULL, scale + index * step, step, destination + index, count - index);
}

__attribute__((target("avx2")))
static void dequantize_u8_avx2(const uint8_t *source, const uint8_t *zero, const float *scale, size_t step, float *destination, size_t count) {
    size_t index = 0;
    __m256i z = _mm256_set1_epi32(zero && step == 0 ? zero[0] : 0);
    __m256 s = _mm256_set1_ps(scale[0]);
    for (; index + 8 <= count; index += 8) {
        __m256i q = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(source + index)));
        if (step) {
            s = _mm256_loadu_ps(scale + index);
            if (zero) z = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(zero + index)));
        }
        store8(destination + index, q, z, s);
    }
    dl_dequantize_u8_portable(source + index, zero ? zero + index * step : NULL, scale + index * step, step, destination + index, count - index);
}

__attribute__((target("avx2")))
static void dequantize_u4_avx2(const uint8_t *packed, size_t first, const uint8_t *zero, const float *scale, size_t step, float *destination, size_t count) {
    size_t index = 0;
    if (first & 1) {   // start on a byte boundary
        if (count == 0) return;
        dl_dequantize_u4_portable(packed, first, zero, scale, step, destination, 1);
        index = 1;
    }
    __m256i z = _mm256_set1_epi32(zero && step == 0 ? zero[0] : 0);
    __m256 s = _mm256_set1_ps(scale[0]);
    const __m256i low = _mm256_set1_epi32(0x0F);
    // Four bytes hold eight values: each byte's low then high nibble. Broadcast
    // the 32 bits, shift lane k right by 4k, keep 4 bits.
    const __m256i shifts = _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28);
    for (; index + 8 <= count; index += 8) {
        uint32_t word;
        __builtin_memcpy(&word, packed + ((first + index) >> 1), sizeof word);
        __m256i q = _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32((int)word), shifts), low);
        if (step) {
            s = _mm256_loadu_ps(scale + index);
            if (zero) z = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(zero + index)));
        }
        store8(destination + index, q, z, s);
    }
    dl_dequantize_u4_portable(packed, first + index, zero ? zero + index * step : NULL, scale + index * step, step, destination + index, count - index);
}
#elif defined(__aarch64__)
static inline void store4(float *destination, int32x4_t values, int32x4_t zero, float32x4_t scale) {
    vst1q_f32(destination, vmulq_f32(vcvtq_f32_s32(vsubq_s32(values, zero)), scale));
}

static void dequantize_s8_neon(const int8_t *source, const int8_t *zero, const float *scale, size_t step, float *destination, size_t count) {
    size_t index = 0;
    int32x4_t z = vdupq_n_s32(zero && step == 0 ? zero[0] : 0);
    float32x4_t s = vdupq_n_f32(scale[0]);
    for (; index + 8 <= count; index += 8) {
        int16x8_t q = vmovl_s8(vld1_s8(source + index));
        int32x4_t z0 = z, z1 = z;
        float32x4_t s0 = s, s1 = s;
        if (step) {
            s0 = vld1q_f32(scale + index); s1 = vld1q_f32(scale + index + 4);
            if (zero) { int16x8_t zz = vmovl_s8(vld1_s8(zero + index)); z0 = vmovl_s16(vget_low_s16(zz)); z1 = vmovl_s16(vget_high_s16(zz)); }
        }
        store4(destination + index, vmovl_s16(vget_low_s16(q)), z0, s0);
        store4(destination + index + 4, vmovl_s16(vget_high_s16(q)), z1, s1);
    }
    dl_dequantize_s8_portable(source + index, zero ? zero + index * step : NULL, scale + index * step, step, destination + index, count - index);
}

static void dequantize_u8_neon(const uint8_t *source, const uint8_t *zero, const float *scale, size_t step, float *destination, size_t count) {
    size_t index = 0;
    int32x4_t z = vdupq_n_s32(zero && step == 0 ? zero[0] : 0);
    float32x4_t s = vdupq_n_f32(scale[0]);
    for (; index + 8 <= count; index += 8) {
        int16x8_t q = vreinterpretq_s16_u16(vmovl_u8(vld1_u8(source + index)));
        int32x4_t z0 = z, z1 = z;
        float32x4_t s0 = s, s1 = s;
        if (step) {
            s0 = vld1q_f32(scale + index); s1 = vld1q_f32(scale + index + 4);
            if (zero) { int16x8_t zz = vreinterpretq_s16_u16(vmovl_u8(vld1_u8(zero + index))); z0 = vmovl_s16(vget_low_s16(zz)); z1 = vmovl_s16(vget_high_s16(zz)); }
        }
        store4(destination + index, vmovl_s16(vget_low_s16(q)), z0, s0);
        store4(destination + index + 4, vmovl_s16(vget_high_s16(q)), z1, s1);
    }
    dl_dequantize_u8_portable(source + index, zero ? zero + index * step : NULL, scale + index * step, step, destination + index, count - index);
}

static void dequantize_u4_neon(const uint8_t *packed, size_t first, const uint8_t *zero, const float *scale, size_t step, float *destination, size_t count) {
    size_t index = 0;
    if (first & 1) {
        if (count == 0) return;
        dl_dequantize_u4_portable(packed, first, zero, scale, step, destination, 1);
        index = 1;
    }
    int32x4_t z = vdupq_n_s32(zero && step == 0 ? zero[0] : 0);
    float32x4_t s = vdupq_n_f32(scale[0]);
    const int32x4_t shifts = {0, -4, -8, -12};   // vshlq with negative counts shifts right
    for (; index + 8 <= count; index += 8) {
        uint32_t word;
        __builtin_memcpy(&word, packed + ((first + index) >> 1), sizeof word);
        int32x4_t all = vdupq_n_s32((int32_t)word);
        int32x4_t q0 = vandq_s32(vreinterpretq_s32_u32(vshlq_u32(vreinterpretq_u32_s32(all), shifts)), vdupq_n_s32(0x0F));
        int32x4_t q1 = vandq_s32(vreinterpretq_s32_u32(vshlq_u32(vshrq_n_u32(vreinterpretq_u32_s32(all), 16), shifts)), vdupq_n_s32(0x0F));
        int32x4_t z0 = z, z1 = z;
        float32x4_t s0 = s, s1 = s;
        if (step) {
            s0 = vld1q_f32(scale + index); s1 = vld1q_f32(scale + index + 4);
            if (zero) { int16x8_t zz = vreinterpretq_s16_u16(vmovl_u8(vld1_u8(zero + index))); z0 = vmovl_s16(vget_low_s16(zz)); z1 = vmovl_s16(vget_high_s16(zz)); }
        }
        store4(destination + index, q0, z0, s0);
        store4(destination + index + 4, q1, z1, s1);
    }
    dl_dequantize_u4_portable(packed, first + index, zero ? zero + index * step : NULL, scale + index * step, step, destination + index, count - index);
}
#endif

int dl_dequantize_is_vector(void) {
#if defined(__x86_64__)
    static int vector = -1;
    if (vector < 0) {
        __builtin_cpu_init();
        vector = __builtin_cpu_supports("avx2") ? 1 : 0;
    }
    return vector;
#elif defined(__aarch64__)
    return 1;
#else
    return 0;
#endif
}

void dl_dequantize_s8(const int8_t *source, const int8_t *zero, const float *scale, size_t step, float *destination, size_t count) {
#if defined(__x86_64__)
    if (dl_dequantize_is_vector()) { dequantize_s8_avx2(source, zero, scale, step, destination, count); return; }
#elif defined(__aarch64__)
    dequantize_s8_neon(source, zero, scale, step, destination, count); return;
#endif
    dl_dequantize_s8_portable(source, zero, scale, step, destination, count);
}

void dl_dequantize_u8(const uint8_t *source, const uint8_t *zero, const float *scale, size_t step, float *destination, size_t count) {
#if defined(__x86_64__)
    if (dl_dequantize_is_vector()) { dequantize_u8_avx2(source, zero, scale, step, destination, count); return; }
#elif defined(__aarch64__)
    dequantize_u8_neon(source, zero, scale, step, destination, count); return;
#endif
    dl_dequantize_u8_portable(source, zero, scale, step, destination, count);
}

void dl_dequantize_u4(const uint8_t *packed, size_t first, const uint8_t *zero, const float *scale, size_t step, float *destination, size_t count) {
#if defined(__x86_64__)
    if (dl_dequantize_is_vector()) { dequantize_u4_avx2(packed, first, zero, scale, step, destination, count); return; }
#elif defined(__aarch64__)
    dequantize_u4_neon(packed, first, zero, scale, step, destination, count); return;
#endif
    dl_dequantize_u4_portable(packed, first, zero, scale, step, destination, count);
}
