// The NEON micro-kernels of CKernels' sgemm (driver: sgemm.c), for ARM64
// CPUs (Cortex-A53/A55/A72/A76/A78AE: Raspberry Pi, RK3588, Jetson), where
// NEON is always present (ARMv8-A). On other targets this file is empty.
//
// Tile: 6 rows x 16 columns in 24 of the 32 q registers (four per row); per
// k, four 4-float loads of the packed B panel (one 64-byte line), six scalars
// of A read in place, 24 fused multiply-adds by element (FMLA v.4s, v.s[0]).
// B is packed in the same 64-wide panels as the x86 paths, so the driver's
// packing, convolution gather and thread split are shared unchanged: a panel
// is four 16-column tiles, the last narrowed to 12, 8 or 4 columns when fewer
// are left, and the last 1 to 4 columns of a block go to a dot-product kernel
// along k (ResNet-50's n = 49 and 196).
//
// Every tile width sums an element's products the same way (one fused
// multiply-add per k, k ascending, from 0), and the dot kernel's order is
// fixed by the depth alone, so an element's bits depend on its column and K
// only: any thread count and any cut of A's rows give the same bits.
//
// Blocks of B are 256 columns wide (256 KiB per 256-deep slice): the L2 of a
// Cortex-A76 core is 256-512 KiB, and an A55's is shared or absent.
#include "sgemm_core.h"

#if defined(__aarch64__)
#include <arm_neon.h>

#define INLINE inline __attribute__((always_inline))

enum { NR = 64 };

/// `count` (≤ 4) output columns starting at o, of which [a, b) read inside
/// the input row: d[l] = row[(o + l)·stride], or 0 outside [a, b). Only
/// chunks wholly inside use vector loads (stride 2 reads one float past its
/// last column, so it needs one more valid column); the others go lane by
/// lane, never touching memory outside the valid range.
static INLINE void gather_chunk(const float *row, int stride, int o, int count, int a, int b, float *d) {
    if (count == 4 && o >= a) {
        if (stride == 1 && o + 4 <= b) {
            vst1q_f32(d, vld1q_f32(row + o));
            return;
        }
        if (stride == 2 && o + 5 <= b) {
            vst1q_f32(d, vld2q_f32(row + 2 * o).val[0]);
            return;
        }
    }
    for (int l = 0; l < count; l++) d[l] = o + l >= a && o + l < b ? row[(o + l) * stride] : 0;
}

static void gather_row(const float *row, int stride, int begin, int end, int lower, int upper, float *d) {
    for (int o = begin; o < end; o += 4) gather_chunk(row, stride, o, end - o < 4 ? end - o : 4, lower, upper, d + (o - begin));
}

/// One run of copy_runs: 4-float pieces, then one float at a time.
static inline __attribute__((always_inline)) void copy_run(float *to, const float *from, int count) {
    int j = 0;
    for (; j + 4 <= count; j += 4) vst1q_f32(to + j, vld1q_f32(from + j));
    for (; j < count; j++) to[j] = from[j];
}

DL_SGEMM_COPY_RUNS(, copy_run)

/// Stores lanes [0, count) of v at d (count ≤ 4).
static INLINE void store_first(float *d, float32x4_t v, int count) {
    if (count == 4) {
        vst1q_f32(d, v);
        return;
    }
    if (count >= 2) vst1_f32(d, vget_low_f32(v));
    if (count == 3) d[2] = vgetq_lane_f32(v, 2);
    if (count == 1) d[0] = vgetq_lane_f32(v, 0);
}

/// Loads lanes [0, count) from p, 0 in the others (count ≤ 4).
static INLINE float32x4_t load_first(const float *p, int count) {
    if (count == 4) return vld1q_f32(p);
    float part[4] = {0, 0, 0, 0};
    for (int l = 0; l < count; l++) part[l] = p[l];
    return vld1q_f32(part);
}

/// One finished vector of a tile: acc, plus C's old value (if accumulating),
/// the bias, the addend, then the ReLU, in that order.
static INLINE float32x4_t finish_vector(float32x4_t value, float32x4_t old, float32x4_t addend, float bias, Epilogue epilogue) {
    const float32x4_t zero = vdupq_n_f32(0);
    if (epilogue.accumulate) value = vaddq_f32(old, value);
    if (epilogue.last && epilogue.bias) value = vaddq_f32(value, vdupq_n_f32(bias));
    if (epilogue.last && epilogue.addend) value = vaddq_f32(value, addend);
    // x > 0 ? x : 0, like the Swift pass: NaN and -0 become +0 (FMAX would keep NaN).
    if (epilogue.last && epilogue.relu) value = vbslq_f32(vcgtq_f32(value, zero), value, zero);
    return value;
}

/// Stores (or adds) the finished tile acc, rows x columns of it, with the
/// epilogue. A whole tile touches acc with constant indices only, so the
/// accumulators stay in registers (see sgemm_avx512.c); a partial one goes
/// through a copy on the stack, with the same steps.
static INLINE void store_tile(int vectors, float32x4_t acc[MR][4], float *c, long ldc, int rows, int columns, Epilogue epilogue) {
    const float32x4_t zero = vdupq_n_f32(0);
    if (rows == MR && columns == 4 * vectors) {
#pragma GCC unroll 6
        for (int i = 0; i < MR; i++) {
            float *row = c + i * ldc;
            const float *addend = epilogue.addend ? epilogue.addend + i * ldc : NULL;
            float bias = epilogue.bias ? epilogue.bias[i] : 0;
#pragma GCC unroll 4
            for (int v = 0; v < vectors; v++) {
                float32x4_t old = epilogue.accumulate ? vld1q_f32(row + 4 * v) : zero;
                float32x4_t add = epilogue.last && addend ? vld1q_f32(addend + 4 * v) : zero;
                vst1q_f32(row + 4 * v, finish_vector(acc[i][v], old, add, bias, epilogue));
            }
        }
        return;
    }
    float tile[MR][16];
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
        for (int v = 0; v < vectors; v++) vst1q_f32(tile[i] + 4 * v, acc[i][v]);
    for (int i = 0; i < rows; i++) {
        float *row = c + i * ldc;
        for (int v = 0; v < vectors; v++) {
            int left = columns - 4 * v;
            if (left <= 0) break;
            if (left > 4) left = 4;
            float32x4_t old = epilogue.accumulate ? load_first(row + 4 * v, left) : zero;
            float32x4_t add = epilogue.last && epilogue.addend ? load_first(epilogue.addend + i * ldc + 4 * v, left) : zero;
            float32x4_t value = finish_vector(vld1q_f32(tile[i] + 4 * v), old, add, epilogue.bias ? epilogue.bias[i] : 0, epilogue);
            store_first(row + 4 * v, value, left);
        }
    }
}

/// C tile (rows, columns) ⟵ or += the product of an A panel and the first
/// 4·vectors columns of B over `depth`: B's row k is a packed panel's
/// (b + k·NR) or, with `offsets`, read where it lies (b + offsets[k]); each
/// column gets the same operations either way, so the same bits. `vectors`
/// (1 to 4) and whether `offsets` is NULL are constants at each call below,
/// so the loops unroll into registers.
static INLINE void kernel_6xv(int vectors, int depth, const float *a, long lda, const float *b, const long *offsets, float *c, long ldc,
                              int rows, int columns, Epilogue epilogue) {
    // The unroll pragmas keep the tile in registers under GCC too, which
    // does not fully unroll these small loops at -O2 on its own.
    float32x4_t acc[MR][4];
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
        for (int v = 0; v < vectors; v++) acc[i][v] = vdupq_n_f32(0);
    for (int k = 0; k < depth; k++) {
        const float *row = offsets ? b + offsets[k] : b + (long)k * NR;
        float32x4_t bv[4];
#pragma GCC unroll 4
        for (int v = 0; v < vectors; v++) bv[v] = vld1q_f32(row + 4 * v);
#pragma GCC unroll 6
        for (int i = 0; i < MR; i++) {
            float32x4_t ai = vld1q_dup_f32(a + i * lda + k);
#pragma GCC unroll 4
            for (int v = 0; v < vectors; v++) acc[i][v] = vfmaq_f32(acc[i][v], bv[v], ai);
        }
    }
    store_tile(vectors, acc, c, ldc, rows, columns, epilogue);
}

/// kernel_6x<4·vectors> on a packed panel and kernel_6x<4·vectors>_direct on B in place.
#define DL_NEON_WIDTH(width, vectors)                                                                                        \
    static void kernel_6x##width(int depth, const float *a, long lda, const float *b, float *c, long ldc, int rows, int columns,   \
                                 Epilogue e) {                                                                                \
        kernel_6xv(vectors, depth, a, lda, b, NULL, c, ldc, rows, columns, e);                                                \
    }                                                                                                                         \
    static void kernel_6x##width##_direct(int depth, const float *a, long lda, const float *base, const long *offsets, float *c, \
                                          long ldc, int rows, int columns, Epilogue e) {                                      \
        kernel_6xv(vectors, depth, a, lda, base, offsets, c, ldc, rows, columns, e);                                          \
    }
DL_NEON_WIDTH(4, 1)
DL_NEON_WIDTH(8, 2)
DL_NEON_WIDTH(12, 3)
DL_NEON_WIDTH(16, 4)

/// The first `columns` (≤ 16·tiles) columns of a panel, 16 at a time, the
/// last tile as narrow as its columns allow: a packed panel (offsets NULL) or B in place.
static INLINE void panel_tiles(int tiles, int depth, const float *a, long lda, const float *b, const long *offsets, float *c, long ldc,
                               int rows, int columns, Epilogue epilogue) {
    static const SgemmKernel packed[4] = {kernel_6x4, kernel_6x8, kernel_6x12, kernel_6x16};
    static const SgemmDirectKernel direct[4] = {kernel_6x4_direct, kernel_6x8_direct, kernel_6x12_direct, kernel_6x16_direct};
    for (int t = 0; t < tiles; t++) {
        int left = columns - 16 * t;
        if (left <= 0) break;
        if (left > 16) left = 16;
        Epilogue e = dl_sgemm_shifted(epilogue, 16 * t);
        if (offsets) direct[(left - 1) / 4](depth, a, lda, b + 16 * t, offsets, c + 16 * t, ldc, rows, left, e);
        else packed[(left - 1) / 4](depth, a, lda, b + 16 * t, c + 16 * t, ldc, rows, left, e);
    }
}

DL_SGEMM_PANEL_INSTANCE(panel_tiles, 1)
DL_SGEMM_PANEL_INSTANCE(panel_tiles, 2)
DL_SGEMM_PANEL_INSTANCE(panel_tiles, 3)
DL_SGEMM_PANEL_INSTANCE(panel_tiles, 4)

/// The sum of v's four lanes in a fixed order: (0 + 2) + (1 + 3).
static INLINE float sum_lanes(float32x4_t v) {
    float32x2_t two = vadd_f32(vget_low_f32(v), vget_high_f32(v));
    return vget_lane_f32(two, 0) + vget_lane_f32(two, 1);
}

/// Rows [first, first + height) of kernel_dot's tile: height x columns
/// accumulators of four k each.
static INLINE void kernel_dot_rows(int height, int columns, int first, int depth, const float *a, long lda, const float *bt,
                                   float *c, long ldc, int rows, Epilogue epilogue) {
    float32x4_t acc[MR][TAIL_MAX];
    for (int i = 0; i < height; i++)
        for (int j = 0; j < columns; j++) acc[i][j] = vdupq_n_f32(0);
    for (int k = 0; k < depth; k += 4) {
        // The last partial 4 lanes are zero in A and B.
        int count = depth - k < 4 ? depth - k : 4;
        float32x4_t ai[MR];
        for (int i = 0; i < height; i++) ai[i] = load_first(a + (first + i) * lda + k, count);
        for (int j = 0; j < columns; j++) {
            float32x4_t bv = load_first(bt + (long)j * depth + k, count);
            for (int i = 0; i < height; i++) acc[i][j] = vfmaq_f32(acc[i][j], ai[i], bv);
        }
    }
    for (int i = 0; i < height && first + i < rows; i++)
        for (int j = 0; j < columns; j++) dl_sgemm_finish(sum_lanes(acc[i][j]), c, ldc, first + i, j, epilogue);
}

/// C tile (rows, columns ≤ TAIL_MAX) ⟵ or += A panel · B columns over `depth`,
/// with B's columns stored k-contiguous: 4 k at a time, summed across lanes at
/// the end, then the same epilogue as kernel_6xv. Six rows at once for one or
/// two columns, three at a time for three or four (so accumulators, A and B
/// stay within the 32 q registers). `columns` is a constant at each instance.
static INLINE void kernel_dot(int columns, int depth, const float *a, long lda, const float *bt, float *c, long ldc, int rows,
                              Epilogue epilogue) {
    if (columns <= 2) {
        kernel_dot_rows(MR, columns, 0, depth, a, lda, bt, c, ldc, rows, epilogue);
        return;
    }
    kernel_dot_rows(3, columns, 0, depth, a, lda, bt, c, ldc, rows, epilogue);
    if (rows > 3) kernel_dot_rows(3, columns, 3, depth, a, lda, bt, c, ldc, rows, epilogue);
}

DL_SGEMM_TAIL_INSTANCE(, kernel_dot, 1)
DL_SGEMM_TAIL_INSTANCE(, kernel_dot, 2)
DL_SGEMM_TAIL_INSTANCE(, kernel_dot, 3)
DL_SGEMM_TAIL_INSTANCE(, kernel_dot, 4)

const SgemmKernels dl_sgemm_neon_kernels = {
    .panel_width = NR,
    .block_width = 4 * NR,
    .lanes = 16,
    .kernels = {kernel_tiles_1, kernel_tiles_2, kernel_tiles_3, kernel_tiles_4},
    .tail_kernels = {kernel_dot_1, kernel_dot_2, kernel_dot_3, kernel_dot_4},
    .gather = gather_row,
    .copy_runs = copy_runs,
    .column_units_per_thread = 4,
    .direct = {direct_tiles_1, direct_tiles_2, direct_tiles_3, direct_tiles_4},
    // Not timed on ARM64 hardware: as the sets were before they were told apart.
    .in_place_short_rows = DIRECT_MAX_ROWS,
    .in_place_rows = 0,
};

#endif
