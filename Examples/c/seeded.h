// seeded.h: the seeded input the examples make when given no .npy input, the
// same sequence Examples/swift/classify makes: splitmix64 from 42, each value
// mapped to [-1, 1). Header-only.
#ifndef DL_EXAMPLE_SEEDED_H
#define DL_EXAMPLE_SEEDED_H

#include <stdint.h>

// The next value of the sequence whose state is `*state` (start it at 42).
static float seeded_value(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (float)(z >> 40) * (2.0f / 16777216.0f) - 1.0f;
}

#endif
