// float16 → float32 widening for the restore stage: F16C (vcvtph2ps, 8 values
// per instruction) where the CPU has it, an exact bit-level conversion otherwise.
#include "curing.h"

#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>

__attribute__((target("f16c,avx")))
static void widen_f16c(const uint16_t *source, float *destination, size_t count) {
    size_t index = 0;
    for (; index + 8 <= count; index += 8) {
        __m128i half = _mm_loadu_si128((const __m128i *)(source + index));
        _mm256_storeu_ps(destination + index, _mm256_cvtph_ps(half));
    }
    for (; index < count; index++) {
        destination[index] = _cvtsh_ss(source[index]);
    }
}
#endif

void dl_widen_f16_software(const uint16_t *source, float *destination, size_t count) {
    for (size_t index = 0; index < count; index++) {
        uint32_t half = source[index];
        uint32_t sign = (half & 0x8000u) << 16;
        uint32_t exponent = (half >> 10) & 0x1Fu;
        uint32_t mantissa = half & 0x3FFu;
        uint32_t bits;
        if (exponent == 0x1Fu) {                       // infinity or NaN
            bits = sign | 0x7F800000u | (mantissa << 13);
        } else if (exponent != 0) {                    // normal
            bits = sign | ((exponent + 112u) << 23) | (mantissa << 13);
        } else if (mantissa == 0) {                    // zero
            bits = sign;
        } else {                                       // subnormal: normalize
            int shift = 0;
            while ((mantissa & 0x400u) == 0) { mantissa <<= 1; shift++; }
            mantissa &= 0x3FFu;
            bits = sign | ((uint32_t)(113 - shift) << 23) | (mantissa << 13);
        }
        memcpy(destination + index, &bits, sizeof bits);
    }
}

int dl_widen_f16_is_hardware(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("f16c") && __builtin_cpu_supports("avx");
#else
    return 0;
#endif
}

void dl_widen_f16(const uint16_t *source, float *destination, size_t count) {
#if defined(__x86_64__)
    static int hardware = -1;
    if (hardware < 0) hardware = dl_widen_f16_is_hardware();
    if (hardware) { widen_f16c(source, destination, count); return; }
#endif
    dl_widen_f16_software(source, destination, count);
}
