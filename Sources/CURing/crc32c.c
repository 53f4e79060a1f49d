// crc32c.c: CRC-32C (Castagnoli) for checksumming weight files as they load.
//
// Representation: CRCs are "reflected": bit 31 of a 32-bit word is the
// coefficient of x^0 and bit 0 that of x^31, and the polynomial is 0x82F63B78.
// The functions below work on the raw register; the public entry points apply
// the initial and final inversion (~crc in, ~crc out), which is what makes
// dl_crc32c_update(dl_crc32c_update(0, a), b) == crc(a ‖ b).
//
// Hardware path (SSE4.2). crc32q has a latency of 3 cycles and a throughput of
// one per cycle, so a single dependent chain runs at a third of the unit's
// speed. A long buffer is therefore cut into blocks of three equal lanes that
// are checksummed side by side, lane 1 and 2 starting from a zero register:
//     crc(A ‖ B ‖ C) = shift(shift(crc(A), |B|) ^ crc0(B), |C|) ^ crc0(C)
// where shift(c, n) appends n zero bytes, i.e. multiplies c by x^(8n) mod P.
// That multiplication is linear in c, so for each fixed lane length it is four
// table lookups (one 256-entry table per byte of c). The tables (2 lane
// lengths × 4 × 256 words = 8 KiB) are built once, at the first call, from
// x^(8n) mod P computed by square-and-multiply (multmodp below).
//
// Software path: slicing-by-8 (eight 256-entry tables, 8 KiB, built once).
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "curing.h"

#if defined(__x86_64__)
#include <cpuid.h>
#include <nmmintrin.h>
#define DL_CRC_X86 1
#endif

#define POLY 0x82F63B78u

// Lane lengths in bytes: a long block is 3 × 8 KiB, a short one 3 × 256 bytes.
enum { long_lane = 8192, short_lane = 256 };

static uint32_t slice_table[8][256];
static uint32_t x2n_table[32];         // x^(2^k) mod P
static uint32_t long_shift[4][256];    // c ↦ c · x^(8·long_lane) mod P, by byte of c
static uint32_t short_shift[4][256];   // c ↦ c · x^(8·short_lane) mod P
static int has_sse42;
static pthread_once_t once = PTHREAD_ONCE_INIT;

// a · b mod P for reflected polynomials (bit 31 is x^0).
static uint32_t multmodp(uint32_t a, uint32_t b) {
    uint32_t m = 1u << 31;
    uint32_t p = 0;
    for (;;) {
        if (a & m) {
            p ^= b;
            if ((a & (m - 1)) == 0) break;
        }
        m >>= 1;
        b = b & 1 ? (b >> 1) ^ POLY : b >> 1;
    }
    return p;
}

// x^(8n) mod P: the operator that appends n zero bytes.
static uint32_t zeros_operator(size_t n) {
    uint32_t p = 1u << 31; // x^0
    unsigned k = 3;        // 8n = n · 2^3
    while (n) {
        if (n & 1) p = multmodp(x2n_table[k & 31], p);
        n >>= 1;
        k++;
    }
    return p;
}

static void build_shift_table(uint32_t table[4][256], size_t lane_bytes) {
    uint32_t op = zeros_operator(lane_bytes);
    for (unsigned byte = 0; byte < 4; byte++) {
        for (uint32_t value = 0; value < 256; value++) {
            table[byte][value] = multmodp(op, value << (8 * byte));
        }
    }
}

static void initialize(void) {
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ POLY : c >> 1;
        slice_table[0][n] = c;
    }
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = slice_table[0][n];
        for (int k = 1; k < 8; k++) {
            c = slice_table[0][c & 0xff] ^ (c >> 8);
            slice_table[k][n] = c;
        }
    }
    x2n_table[0] = 1u << 30; // x^1
    for (int k = 1; k < 32; k++) x2n_table[k] = multmodp(x2n_table[k - 1], x2n_table[k - 1]);
    build_shift_table(long_shift, long_lane);
    build_shift_table(short_shift, short_lane);
#if DL_CRC_X86
    unsigned eax, ebx, ecx, edx;
    has_sse42 = __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & bit_SSE4_2) != 0;
#endif
}

static inline uint64_t load64(const unsigned char *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static uint32_t software(uint32_t crc, const unsigned char *p, size_t len) {
    while (len && ((uintptr_t)p & 7)) {
        crc = slice_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
        len--;
    }
    while (len >= 8) {
        // Little-endian: the low 32 bits of the word are the first four bytes.
        uint64_t word = load64(p) ^ crc;
        crc = slice_table[7][word & 0xff] ^ slice_table[6][(word >> 8) & 0xff] ^
              slice_table[5][(word >> 16) & 0xff] ^ slice_table[4][(word >> 24) & 0xff] ^
              slice_table[3][(word >> 32) & 0xff] ^ slice_table[2][(word >> 40) & 0xff] ^
              slice_table[1][(word >> 48) & 0xff] ^ slice_table[0][word >> 56];
        p += 8;
        len -= 8;
    }
    while (len--) crc = slice_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return crc;
}

#if DL_CRC_X86

static inline uint32_t shift(const uint32_t table[4][256], uint32_t c) {
    return table[0][c & 0xff] ^ table[1][(c >> 8) & 0xff] ^ table[2][(c >> 16) & 0xff] ^ table[3][c >> 24];
}

__attribute__((target("sse4.2")))
static uint32_t hardware_tail(uint32_t crc, const unsigned char *p, size_t len) {
    uint64_t c = crc;
    while (len >= 8) {
        c = _mm_crc32_u64(c, load64(p));
        p += 8;
        len -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (len--) c32 = _mm_crc32_u8(c32, *p++);
    return c32;
}

__attribute__((target("sse4.2")))
static uint32_t hardware_serial(uint32_t crc, const unsigned char *p, size_t len) {
    while (len && ((uintptr_t)p & 7)) {
        crc = _mm_crc32_u8(crc, *p++);
        len--;
    }
    return hardware_tail(crc, p, len);
}

// Checksums `blocks` blocks of three lanes of `lane` bytes each.
__attribute__((target("sse4.2"), always_inline))
static inline uint32_t three_lanes(uint32_t crc, const unsigned char **cursor, size_t blocks, size_t lane,
                                   const uint32_t table[4][256]) {
    const unsigned char *p = *cursor;
    while (blocks--) {
        uint64_t c0 = crc, c1 = 0, c2 = 0;
        const unsigned char *end = p + lane;
        do {
            c0 = _mm_crc32_u64(c0, load64(p));
            c1 = _mm_crc32_u64(c1, load64(p + lane));
            c2 = _mm_crc32_u64(c2, load64(p + 2 * lane));
            c0 = _mm_crc32_u64(c0, load64(p + 8));
            c1 = _mm_crc32_u64(c1, load64(p + lane + 8));
            c2 = _mm_crc32_u64(c2, load64(p + 2 * lane + 8));
            p += 16;
        } while (p < end);
        crc = shift(table, (uint32_t)c0) ^ (uint32_t)c1;
        crc = shift(table, crc) ^ (uint32_t)c2;
        p += 2 * lane;
    }
    *cursor = p;
    return crc;
}

__attribute__((target("sse4.2")))
static uint32_t hardware(uint32_t crc, const unsigned char *p, size_t len) {
    while (len && ((uintptr_t)p & 7)) {
        crc = _mm_crc32_u8(crc, *p++);
        len--;
    }
    size_t blocks = len / (3 * long_lane);
    crc = three_lanes(crc, &p, blocks, long_lane, long_shift);
    len -= blocks * 3 * long_lane;
    blocks = len / (3 * short_lane);
    crc = three_lanes(crc, &p, blocks, short_lane, short_shift);
    len -= blocks * 3 * short_lane;
    return hardware_tail(crc, p, len);
}

#endif

uint32_t dl_crc32c_update_software(uint32_t crc, const void *data, size_t len) {
    pthread_once(&once, initialize);
    return ~software(~crc, data, len);
}

uint32_t dl_crc32c_update_hardware(uint32_t crc, const void *data, size_t len) {
    pthread_once(&once, initialize);
#if DL_CRC_X86
    if (has_sse42) return ~hardware(~crc, data, len);
#endif
    return ~software(~crc, data, len);
}

uint32_t dl_crc32c_update_hardware_serial(uint32_t crc, const void *data, size_t len) {
    pthread_once(&once, initialize);
#if DL_CRC_X86
    if (has_sse42) return ~hardware_serial(~crc, data, len);
#endif
    return ~software(~crc, data, len);
}

uint32_t dl_crc32c_update(uint32_t crc, const void *data, size_t len) {
    return dl_crc32c_update_hardware(crc, data, len);
}

int dl_crc32c_is_hardware(void) {
    pthread_once(&once, initialize);
    return has_sse42;
}

uint32_t dl_crc32c_combine(uint32_t crc_a, uint32_t crc_b, size_t len_b) {
    pthread_once(&once, initialize);
    return multmodp(zeros_operator(len_b), crc_a) ^ crc_b;
}
