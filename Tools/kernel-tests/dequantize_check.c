// The restore stage's dequantize kernels (Sources/CURing/dequantize.c) on
// their own: the chosen path (AVX2 on x86-64 when the CPU has it, NEON on
// ARM64) against the portable loop and the plain formula (q - zero) * scale,
// bit for bit, for int8, uint8 and uint4 at every count up to 70, both
// nibble starts, shared and per-value scales, with and without zero points.
// Run natively and under qemu-aarch64 by Tools/ci/16-neon-kernels.sh.
#include "curing.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t state = 12345;
static uint32_t next(void) { state = state * 1664525u + 1013904223u; return state >> 8; }

int main(void) {
    enum { most = 70 };
    uint8_t bytes[most + 8], zeros[most + 8];
    float scales[most + 8], vector[most], portable[most], plain[most];
    int failures = 0, checked = 0;
    for (int round = 0; round < 20; round++) {
        for (size_t i = 0; i < sizeof bytes; i++) { bytes[i] = (uint8_t)next(); zeros[i] = (uint8_t)next(); scales[i] = (float)((int)(next() % 2001) - 1000) / 777.0f; }
        for (int type = 0; type < 3; type++) {
            for (size_t count = 0; count <= most; count++) {
                for (size_t first = 0; first <= (type == 2 ? 1u : 0u); first++) {
                    for (size_t step = 0; step <= 1; step++) {
                        for (int withZero = 0; withZero <= 1; withZero++) {
                            uint8_t nibbleZeros[most + 8];
                            for (size_t i = 0; i < sizeof nibbleZeros; i++) nibbleZeros[i] = zeros[i] & 0x0F;
                            const uint8_t *zero = withZero ? (type == 2 ? nibbleZeros : zeros) : NULL;
                            switch (type) {
                            case 0:
                                dl_dequantize_s8((const int8_t *)bytes, (const int8_t *)zero, scales, step, vector, count);
                                dl_dequantize_s8_portable((const int8_t *)bytes, (const int8_t *)zero, scales, step, portable, count);
                                break;
                            case 1:
                                dl_dequantize_u8(bytes, zero, scales, step, vector, count);
                                dl_dequantize_u8_portable(bytes, zero, scales, step, portable, count);
                                break;
                            default:
                                dl_dequantize_u4(bytes, first, zero, scales, step, vector, count);
                                dl_dequantize_u4_portable(bytes, first, zero, scales, step, portable, count);
                            }
                            for (size_t i = 0; i < count; i++) {
                                size_t element = first + i, at = i * step;
                                int q = type == 0 ? (int)(int8_t)bytes[element] : type == 1 ? bytes[element]
                                      : (element & 1) ? bytes[element / 2] >> 4 : bytes[element / 2] & 0x0F;
                                int z = !zero ? 0 : type == 0 ? (int)(int8_t)zero[at] : zero[at];
                                plain[i] = (float)(q - z) * scales[at];
                            }
                            checked++;
                            if (memcmp(vector, portable, count * sizeof(float)) || memcmp(portable, plain, count * sizeof(float))) {
                                if (failures++ < 5)
                                    fprintf(stderr, "FAIL dequantize type %d count %zu first %zu step %zu zero %d\n", type, count, first, step, withZero);
                            }
                        }
                    }
                }
            }
        }
    }
    printf("dequantize: %d cases, vector path %s, %d failures\n", checked, dl_dequantize_is_vector() ? "on" : "off", failures);
    return failures ? 1 : 0;
}
