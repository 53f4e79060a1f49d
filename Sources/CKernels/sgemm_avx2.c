// The AVX2 + FMA micro-kernels of CKernels' sgemm (driver: sgemm.c), for the
// CPUs without AVX-512 (AMD Zen 1 to 3, Intel client cores since Haswell).
//
// Tile: 6 rows x 16 columns in 12 of the 16 ymm registers (the others hold
// two B vectors and one broadcast of A); per k, two 8-float loads of the
// packed B panel (16 floats: one cache line), six broadcasts of A read in
// place, 12 fused multiply-adds. A 6x8 kernel finishes a last panel of 5 to 8
// columns, and a dot-product kernel along k the last 1 to 4 columns of a
// block (ResNet-50's n = 49 and 196), as on the AVX-512 path.
//
// Blocks of B are 256 columns wide (256 KiB per 256-deep slice), half the
// AVX-512 path's, so that a block stays in a Zen 2/3 core's 512 KiB L2.
#include "sgemm_core.h"

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma")))
#define INLINE inline __attribute__((always_inline))

enum { NR = 16 };

/// Lanes l of a maskload/maskstore mask with lower ≤ l + offset < upper.
static INLINE AVX2 __m256i lane_mask(int offset, int lower, int upper) {
    __m256i lanes = _mm256_add_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(offset));
    __m256i above = _mm256_cmpgt_epi32(lanes, _mm256_set1_epi32(lower - 1));
    return _mm256_and_si256(above, _mm256_cmpgt_epi32(_mm256_set1_epi32(upper), lanes));
}

/// `count` (≤ 8) output columns starting at o, of which [a, b) read inside
/// the input row: d[l] = row[(o + l)·stride], or 0 outside [a, b); masked
/// loads never touch memory outside the valid range.
static INLINE AVX2 void gather_chunk(const float *row, int stride, int o, int count, int a, int b, float *d) {
    __m256 value;
    if (stride == 1) {
        value = _mm256_maskload_ps(row + o, lane_mask(o, a, b));
    } else {  // stride 2: the even floats of 16, from floats [2a, 2b) only
        const __m256i evens = _mm256_setr_epi32(-1, 0, -1, 0, -1, 0, -1, 0);
        __m256 low = _mm256_maskload_ps(row + 2 * o, _mm256_and_si256(evens, lane_mask(2 * o, 2 * a, 2 * b)));
        __m256 high = _mm256_maskload_ps(row + 2 * o + 8, _mm256_and_si256(evens, lane_mask(2 * o + 8, 2 * a, 2 * b)));
        // Per 128-bit half: low's floats 0, 2 and high's 0, 2; then the halves' 64-bit pairs reordered.
        __m256 mixed = _mm256_shuffle_ps(low, high, _MM_SHUFFLE(2, 0, 2, 0));
        value = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(mixed), _MM_SHUFFLE(3, 1, 2, 0)));
    }
    _mm256_maskstore_ps(d, lane_mask(0, 0, count), value);
}

static AVX2 void gather_row(const float *row, int stride, int begin, int end, int lower, int upper, float *d) {
    for (int o = begin; o < end; o += 8) gather_chunk(row, stride, o, end - o < 8 ? end - o : 8, lower, upper, d + (o - begin));
}

/// C tile (rows, columns) ⟵ or += the product of an A panel and the first
/// 8·vectors columns of a B panel over `depth`; `vectors` (1 or 2) is a
/// constant at each instance below, so the loops unroll into registers.
static INLINE AVX2 void kernel_6xv(int vectors, int depth, const float *a, long lda, const float *b, float *c, long ldc, int rows,
                                  int columns, Epilogue epilogue) {
    __m256 acc[MR][2];
    for (int i = 0; i < MR; i++)
        for (int v = 0; v < vectors; v++) acc[i][v] = _mm256_setzero_ps();
    for (int k = 0; k < depth; k++) {
        __m256 bv[2];
        for (int v = 0; v < vectors; v++) bv[v] = _mm256_load_ps(b + 8 * v);
        for (int i = 0; i < MR; i++) {
            __m256 ai = _mm256_broadcast_ss(a + i * lda + k);
            for (int v = 0; v < vectors; v++) acc[i][v] = _mm256_fmadd_ps(ai, bv[v], acc[i][v]);
        }
        b += NR;
    }
    const __m256 zero = _mm256_setzero_ps();
    for (int i = 0; i < rows; i++) {
        float *row = c + i * ldc;
        for (int v = 0; v < vectors; v++) {
            int left = columns - 8 * v;
            if (left <= 0) break;
            __m256i mask = lane_mask(0, 0, left);
            __m256 value = acc[i][v];
            if (epilogue.accumulate) value = _mm256_add_ps(_mm256_maskload_ps(row + 8 * v, mask), value);
            if (epilogue.last && epilogue.bias) value = _mm256_add_ps(value, _mm256_set1_ps(epilogue.bias[i]));
            // max with 0 second: NaN and -0 become +0, like the Swift pass's x > 0 ? x : 0.
            if (epilogue.last && epilogue.relu) value = _mm256_max_ps(value, zero);
            if (left >= 8) _mm256_storeu_ps(row + 8 * v, value);
            else _mm256_maskstore_ps(row + 8 * v, mask, value);
        }
    }
}

DL_SGEMM_KERNEL_INSTANCE(AVX2, kernel_6xv, 1)
DL_SGEMM_KERNEL_INSTANCE(AVX2, kernel_6xv, 2)

/// The sum of v's eight lanes, always in the same order.
static INLINE AVX2 float sum_lanes(__m256 v) {
    __m128 four = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    __m128 two = _mm_add_ps(four, _mm_movehl_ps(four, four));
    return _mm_cvtss_f32(_mm_add_ss(two, _mm_movehdup_ps(two)));
}

/// Rows [first, first + 3) of kernel_dot's tile: 3 x columns accumulators
/// (12 ymm at most, with one B vector and three of A: all 16 registers).
static INLINE AVX2 void kernel_dot3(int columns, int first, int depth, const float *a, long lda, const float *bt, float *c, long ldc,
                                   int rows, Epilogue epilogue) {
    __m256 acc[3][TAIL_MAX];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < columns; j++) acc[i][j] = _mm256_setzero_ps();
    int body = depth / 8 * 8;
    for (int k = 0; k < depth; k += 8) {
        // The last partial 8 lanes are masked: zero in A and B.
        __m256i mask = k < body ? _mm256_set1_epi32(-1) : lane_mask(k, 0, depth);
        __m256 ai[3];
        for (int i = 0; i < 3; i++) ai[i] = _mm256_maskload_ps(a + (first + i) * lda + k, mask);
        for (int j = 0; j < columns; j++) {
            __m256 bv = _mm256_maskload_ps(bt + (long)j * depth + k, mask);
            for (int i = 0; i < 3; i++) acc[i][j] = _mm256_fmadd_ps(ai[i], bv, acc[i][j]);
        }
    }
    for (int i = 0; i < 3 && first + i < rows; i++) {
        for (int j = 0; j < columns; j++) {
            float *to = c + (first + i) * ldc + j;
            *to = dl_sgemm_finish(sum_lanes(acc[i][j]), to, first + i, epilogue);
        }
    }
}

/// C tile (rows, columns ≤ TAIL_MAX) ⟵ or += A panel · B columns over `depth`,
/// with B's columns stored k-contiguous: 8 k at a time, summed across lanes at
/// the end, then the same epilogue as kernel_6xv; three rows at a time, since
/// six rows of four columns would need 24 accumulators. `columns` is a
/// constant at each instance below.
static INLINE AVX2 void kernel_dot(int columns, int depth, const float *a, long lda, const float *bt, float *c, long ldc, int rows,
                                  Epilogue epilogue) {
    kernel_dot3(columns, 0, depth, a, lda, bt, c, ldc, rows, epilogue);
    if (rows > 3) kernel_dot3(columns, 3, depth, a, lda, bt, c, ldc, rows, epilogue);
}

DL_SGEMM_TAIL_INSTANCE(AVX2, kernel_dot, 1)
DL_SGEMM_TAIL_INSTANCE(AVX2, kernel_dot, 2)
DL_SGEMM_TAIL_INSTANCE(AVX2, kernel_dot, 3)
DL_SGEMM_TAIL_INSTANCE(AVX2, kernel_dot, 4)

const SgemmKernels dl_sgemm_avx2_kernels = {
    .panel_width = NR,
    .block_width = 16 * NR,
    .lanes = 8,
    .kernels = {kernel_6xv_1, kernel_6xv_2, NULL, NULL},
    .tail_kernels = {kernel_dot_1, kernel_dot_2, kernel_dot_3, kernel_dot_4},
    .gather = gather_row,
};

#endif
