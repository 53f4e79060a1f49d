// The AVX2 + FMA micro-kernels of CKernels' sgemm (driver: sgemm.c), for the
// CPUs without AVX-512 (AMD Zen 1 to 3, Intel client cores since Haswell).
//
// Tile: 6 rows x 16 columns in 12 of the 16 ymm registers (the others hold
// two B vectors and one broadcast of A); per k, two 8-float loads of the
// packed B panel (one 64-byte line), six broadcasts of A read in place, 12
// fused multiply-adds. B is packed in the AVX-512 path's 64-wide panels, so
// both share the packing (each 64-float row copied or gathered at once, not
// four 16-float pieces); a panel is then four 16-column tiles, the last
// narrowed to a 6x8 kernel when 8 or fewer of its columns are left, and the
// last 1 to 4 columns of a block go to a dot-product kernel along k
// (ResNet-50's n = 49 and 196), as on the AVX-512 path.
//
// A is read in place, and a convolution's weights are cold (ResNet-50's 98 MiB
// stream from memory once per image). A 6x16 tile does a quarter of the
// AVX-512 tile's work per line of A, so its first pass over a row group
// waited on those lines: the kernel prefetches the next row group's A (one
// line per row every 16 k), which hides that stream behind the current
// group's 16 tile calls over a 256-column block. Measured on an AMD EPYC Zen 4 under
// DEMANDLAYER_CPU=avx2, ResNet-50 resident, 1 thread: 0.93 of the time
// without it in the same alternated run; plain GEMMs with warm A unchanged.
// Prefetching past A's last row is harmless (prefetches never fault).
// The prefetch goes to L2, not L1: with K a multiple of 1024, A's rows lie
// 4 KiB apart, so a group's six rows and the next group's six all fall into
// one 8-way L1 set and evicted each other. ResNet-50 resident, forced AVX2,
// 1 thread, alternated: its K 1024 and 2048 layers 1.10-1.18 -> 1.02-1.09
// ms, the whole 79.2 -> 77.9 ms.
//
// Blocks of B are 256 columns wide (256 KiB per 256-deep slice), half the
// AVX-512 path's, so that a block stays in a Zen 2/3 core's 512 KiB L2.
#include "sgemm_core.h"

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma")))
#define INLINE inline __attribute__((always_inline))

enum { NR = 64 };

/// Lanes l of a maskload/maskstore mask with lower ≤ l + offset < upper.
static INLINE AVX2 __m256i lane_mask(int offset, int lower, int upper) {
    __m256i lanes = _mm256_add_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(offset));
    __m256i above = _mm256_cmpgt_epi32(lanes, _mm256_set1_epi32(lower - 1));
    return _mm256_and_si256(above, _mm256_cmpgt_epi32(_mm256_set1_epi32(upper), lanes));
}

/// Stores the first `count` (< 8) lanes of v at d with at most three plain
/// stores: AMD's Zen cores microcode masked stores (vmaskmovps) at several
/// cycles each, and a convolution's runs end in a partial chunk at every k.
static INLINE AVX2 void store_first(float *d, __m256 v, int count) {
    __m128 part = _mm256_castps256_ps128(v);
    if (count >= 4) {
        _mm_storeu_ps(d, part);
        part = _mm256_extractf128_ps(v, 1);
        d += 4;
        count -= 4;
    }
    if (count >= 2) {
        _mm_storel_pi((__m64 *)d, part);
        part = _mm_movehl_ps(part, part);
        d += 2;
        count -= 2;
    }
    if (count) _mm_store_ss(d, part);
}

/// `count` (≤ 8) output columns starting at o, of which [a, b) read inside
/// the input row: d[l] = row[(o + l)·stride], or 0 outside [a, b); masked
/// loads never touch memory outside the valid range; chunks wholly inside
/// it use plain loads.
static INLINE AVX2 void gather_chunk(const float *row, int stride, int o, int count, int a, int b, float *d) {
    __m256 value;
    if (stride == 1 && o >= a && o + 8 <= b) {
        value = _mm256_loadu_ps(row + o);
    } else if (stride == 1) {
        value = _mm256_maskload_ps(row + o, lane_mask(o, a, b));
    } else {  // stride 2: the even floats of 16, from floats [2a, 2b) only (all 16 when column o + 8 is valid too)
        const __m256i evens = _mm256_setr_epi32(-1, 0, -1, 0, -1, 0, -1, 0);
        __m256 low, high;
        if (o >= a && o + 8 < b) {
            low = _mm256_loadu_ps(row + 2 * o);
            high = _mm256_loadu_ps(row + 2 * o + 8);
        } else {
            low = _mm256_maskload_ps(row + 2 * o, _mm256_and_si256(evens, lane_mask(2 * o, 2 * a, 2 * b)));
            high = _mm256_maskload_ps(row + 2 * o + 8, _mm256_and_si256(evens, lane_mask(2 * o + 8, 2 * a, 2 * b)));
        }
        // Per 128-bit half: low's floats 0, 2 and high's 0, 2; then the halves' 64-bit pairs reordered.
        __m256 mixed = _mm256_shuffle_ps(low, high, _MM_SHUFFLE(2, 0, 2, 0));
        value = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(mixed), _MM_SHUFFLE(3, 1, 2, 0)));
    }
    if (count == 8) _mm256_storeu_ps(d, value);
    else store_first(d, value, count);
}

static AVX2 void gather_row(const float *row, int stride, int begin, int end, int lower, int upper, float *d) {
    for (int o = begin; o < end; o += 8) gather_chunk(row, stride, o, end - o < 8 ? end - o : 8, lower, upper, d + (o - begin));
}

/// One run of copy_runs: 8-float pieces, then 4, then one at a time (AMD's masked stores are slow: with
/// them ResNet-50's 3x3 stride-2 layers were 2% slower than with memcpy).
static INLINE AVX2 void copy_run(float *to, const float *from, int count) {
    int j = 0;
    for (; j + 8 <= count; j += 8) _mm256_storeu_ps(to + j, _mm256_loadu_ps(from + j));
    if (j + 4 <= count) _mm_storeu_ps(to + j, _mm_loadu_ps(from + j)), j += 4;
    for (; j < count; j++) to[j] = from[j];
}

DL_SGEMM_COPY_RUNS(AVX2, copy_run)

/// acc += A's column k (`height` rows) times one k row of B (8·vectors columns; any alignment).
static INLINE AVX2 void kernel_step(int height, int vectors, const float *a, long lda, int k, const float *b, __m256 acc[MR][2]) {
    __m256 bv[2];
    for (int v = 0; v < vectors; v++) bv[v] = _mm256_loadu_ps(b + 8 * v);
    for (int i = 0; i < height; i++) {
        __m256 ai = _mm256_broadcast_ss(a + i * lda + k);
        for (int v = 0; v < vectors; v++) acc[i][v] = _mm256_fmadd_ps(ai, bv[v], acc[i][v]);
    }
}

/// One finished vector of a tile: acc, plus C's old value (if accumulating),
/// the bias, the addend, then the ReLU, in that order.
static INLINE AVX2 __m256 finish_vector(__m256 value, __m256 old, __m256 addend, float bias, Epilogue epilogue) {
    if (epilogue.accumulate) value = _mm256_add_ps(old, value);
    if (epilogue.last && epilogue.bias) value = _mm256_add_ps(value, _mm256_set1_ps(bias));
    if (epilogue.last && epilogue.addend) value = _mm256_add_ps(value, addend);
    // max with 0 second: NaN and -0 become +0, like the Swift pass's x > 0 ? x : 0.
    if (epilogue.last && epilogue.relu) value = _mm256_max_ps(value, _mm256_setzero_ps());
    return value;
}

/// Stores (or adds) the finished tile acc, rows x columns of it, with the
/// epilogue. A whole tile touches acc with constant indices only (the loops
/// unroll), so the accumulators stay in registers (see sgemm_avx512.c); a
/// partial one goes through a copy on the stack, with the same steps.
static INLINE AVX2 void store_tile(int height, int vectors, __m256 acc[MR][2], float *c, long ldc, int rows, int columns,
                                   Epilogue epilogue) {
    if (rows == height && columns == 8 * vectors) {
        _Pragma("GCC unroll 6") for (int i = 0; i < height; i++) {
            float *row = c + i * ldc;
            const float *addend = epilogue.addend ? epilogue.addend + i * ldc : NULL;
            float bias = epilogue.bias ? epilogue.bias[i] : 0;
            _Pragma("GCC unroll 2") for (int v = 0; v < vectors; v++) {
                __m256 old = epilogue.accumulate ? _mm256_loadu_ps(row + 8 * v) : _mm256_setzero_ps();
                __m256 add = epilogue.last && addend ? _mm256_loadu_ps(addend + 8 * v) : _mm256_setzero_ps();
                _mm256_storeu_ps(row + 8 * v, finish_vector(acc[i][v], old, add, bias, epilogue));
            }
        }
        return;
    }
    __attribute__((aligned(32))) float tile[MR][16];
    _Pragma("GCC unroll 6") for (int i = 0; i < height; i++)
        _Pragma("GCC unroll 2") for (int v = 0; v < vectors; v++) _mm256_store_ps(tile[i] + 8 * v, acc[i][v]);
    for (int i = 0; i < rows; i++) {
        float *row = c + i * ldc;
        for (int v = 0; v < vectors; v++) {
            int left = columns - 8 * v;
            if (left <= 0) break;
            __m256i mask = lane_mask(0, 0, left);
            __m256 old = _mm256_setzero_ps(), add = _mm256_setzero_ps();
            if (epilogue.accumulate) old = left >= 8 ? _mm256_loadu_ps(row + 8 * v) : _mm256_maskload_ps(row + 8 * v, mask);
            if (epilogue.last && epilogue.addend) {
                const float *addend = epilogue.addend + i * ldc + 8 * v;
                add = left >= 8 ? _mm256_loadu_ps(addend) : _mm256_maskload_ps(addend, mask);
            }
            __m256 value = finish_vector(_mm256_load_ps(tile[i] + 8 * v), old, add, epilogue.bias ? epilogue.bias[i] : 0, epilogue);
            if (left >= 8) _mm256_storeu_ps(row + 8 * v, value);
            else _mm256_maskstore_ps(row + 8 * v, mask, value);
        }
    }
}

/// C tile (rows ≤ height, columns) ⟵ or += the product of an A panel
/// (`height` rows of it) and the first 8·vectors columns of a B panel over
/// `depth`; `height` and `vectors` (1 or 2) are constants at each instance
/// below, so the loops unroll into registers. Each element gets the same
/// operations whatever the height, so the same bits.
static INLINE AVX2 void kernel_hxv(int height, int vectors, int depth, const float *a, long lda, const float *b, float *c, long ldc,
                                  int rows, int columns, Epilogue epilogue) {
    __m256 acc[MR][2];
    for (int i = 0; i < height; i++)
        for (int v = 0; v < vectors; v++) acc[i][v] = _mm256_setzero_ps();
    // The next row group's A (a + MR·lda, same k range) is prefetched, one
    // line per row every 16 k: see the comment at the top. A short tile is a
    // matrix's last rows: nothing follows.
    const float *next = a + MR * lda;
    int k = 0;
    for (; k + 16 <= depth; k += 16) {
        if (height == MR)
            for (int i = 0; i < MR; i++) _mm_prefetch((const char *)(next + i * lda + k), _MM_HINT_T1);
#pragma GCC unroll 16
        for (int kk = 0; kk < 16; kk++) kernel_step(height, vectors, a, lda, k + kk, b + kk * NR, acc);
        b += 16 * NR;
    }
    for (; k < depth; k++) {
        kernel_step(height, vectors, a, lda, k, b, acc);
        b += NR;
    }
    store_tile(height, vectors, acc, c, ldc, rows, columns, epilogue);
}

/// kernel_hxv with B's row k read at base + offsets[k]: the same operations
/// column by column (kernel_step), so the same bits. Its own loop: a
/// variable B stride inside kernel_hxv's 16-fold unrolling made the compiler
/// spill the accumulators.
static INLINE AVX2 void kernel_hxv_direct(int height, int vectors, int depth, const float *a, long lda, const float *base,
                                         const long *offsets, float *c, long ldc, int rows, int columns, Epilogue epilogue) {
    __m256 acc[MR][2];
    for (int i = 0; i < height; i++)
        for (int v = 0; v < vectors; v++) acc[i][v] = _mm256_setzero_ps();
    const float *next = a + MR * lda;
    for (int k = 0; k < depth; k++) {
        if (height == MR && (k & 15) == 0)
            for (int i = 0; i < MR; i++) _mm_prefetch((const char *)(next + i * lda + k), _MM_HINT_T1);
        kernel_step(height, vectors, a, lda, k, base + offsets[k], acc);
    }
    store_tile(height, vectors, acc, c, ldc, rows, columns, epilogue);
}

/// kernel_tiles_<h>_<n> (SgemmKernel) and direct_tiles_<h>_<n> (SgemmDirectKernel): panel_tiles_<h> over n tiles.
#define PANEL_INSTANCE(h, n)                                                                                                  \
    static AVX2 void kernel_tiles_##h##_##n(int depth, const float *a, long lda, const float *b, float *c, long ldc, int rows,  \
                                       int columns, Epilogue e) {                                                            \
        panel_tiles_##h(n, depth, a, lda, b, NULL, c, ldc, rows, columns, e);                                                 \
    }                                                                                                                         \
    static AVX2 void direct_tiles_##h##_##n(int depth, const float *a, long lda, const float *base, const long *offsets, float *c, \
                                       long ldc, int rows, int columns, Epilogue e) {                                        \
        panel_tiles_##h(n, depth, a, lda, base, offsets, c, ldc, rows, columns, e);                                           \
    }

/// One tile height's kernels: kernel_<h>x8, kernel_<h>x16 (packed) and their _direct twins, inlined
/// into the panel loop (a call per 16-column tile cost 3-4% with K of 64 or 128, where a tile runs only
/// 384-768 cycles: ResNet-50's 56x56 pointwise shapes alone, Zen 4, 1.09 -> 1.05 ms), then
/// panel_tiles_<h>: the first `columns` (≤ 16·tiles) columns of a panel, 16 at a time, packed
/// (offsets NULL) or read in place; and its instances kernel_tiles_<h>_1...4 and direct_tiles_<h>_1...4.
#define HEIGHT_KERNELS(h)                                                                                                     \
    static INLINE AVX2 void kernel_##h##x8(int depth, const float *a, long lda, const float *b, float *c, long ldc, int rows,       \
                                    int columns, Epilogue e) {                                                                \
        kernel_hxv(h, 1, depth, a, lda, b, c, ldc, rows, columns, e);                                                         \
    }                                                                                                                         \
    static INLINE AVX2 void kernel_##h##x16(int depth, const float *a, long lda, const float *b, float *c, long ldc, int rows,      \
                                     int columns, Epilogue e) {                                                               \
        kernel_hxv(h, 2, depth, a, lda, b, c, ldc, rows, columns, e);                                                         \
    }                                                                                                                         \
    static INLINE AVX2 void kernel_##h##x8_direct(int depth, const float *a, long lda, const float *base, const long *offsets,      \
                                           float *c, long ldc, int rows, int columns, Epilogue e) {                          \
        kernel_hxv_direct(h, 1, depth, a, lda, base, offsets, c, ldc, rows, columns, e);                                     \
    }                                                                                                                         \
    static INLINE AVX2 void kernel_##h##x16_direct(int depth, const float *a, long lda, const float *base, const long *offsets,     \
                                            float *c, long ldc, int rows, int columns, Epilogue e) {                         \
        kernel_hxv_direct(h, 2, depth, a, lda, base, offsets, c, ldc, rows, columns, e);                                     \
    }                                                                                                                         \
    static INLINE AVX2 void panel_tiles_##h(int tiles, int depth, const float *a, long lda, const float *b, const long *offsets,  \
                                       float *c, long ldc, int rows, int columns, Epilogue epilogue) {                       \
        for (int t = 0; t < tiles; t++) {                                                                                     \
            int left = columns - 16 * t, width = left < 16 ? left : 16;                                                       \
            Epilogue e = dl_sgemm_shifted(epilogue, 16 * t);                                                                  \
            if (offsets && left > 8) kernel_##h##x16_direct(depth, a, lda, b + 16 * t, offsets, c + 16 * t, ldc, rows, width, e); \
            else if (offsets) kernel_##h##x8_direct(depth, a, lda, b + 16 * t, offsets, c + 16 * t, ldc, rows, width, e);   \
            else if (left > 8) kernel_##h##x16(depth, a, lda, b + 16 * t, c + 16 * t, ldc, rows, width, e);                 \
            else kernel_##h##x8(depth, a, lda, b + 16 * t, c + 16 * t, ldc, rows, width, e);                                \
        }                                                                                                                     \
    }                                                                                                                         \
    PANEL_INSTANCE(h, 1)                                                                               \
    PANEL_INSTANCE(h, 2)                                                                               \
    PANEL_INSTANCE(h, 3)                                                                               \
    PANEL_INSTANCE(h, 4)

HEIGHT_KERNELS(6)
HEIGHT_KERNELS(4)
HEIGHT_KERNELS(2)

/// The sum of v's eight lanes, always in the same order.
static INLINE AVX2 float sum_lanes(__m256 v) {
    __m128 four = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    __m128 two = _mm_add_ps(four, _mm_movehl_ps(four, four));
    return _mm_cvtss_f32(_mm_add_ss(two, _mm_movehdup_ps(two)));
}

/// Eight floats at p, or those of `mask` (0 elsewhere) when not `full`.
static INLINE AVX2 __m256 load8(const float *p, int full, __m256i mask) {
    return full ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, mask);
}

/// Rows [first, first + height) of kernel_dot's tile: height x columns
/// accumulators, at most 12 ymm, beside the A and B vectors.
static INLINE AVX2 void kernel_dot_rows(int height, int columns, int first, int depth, const float *a, long lda, const float *bt,
                                        float *c, long ldc, int rows, Epilogue epilogue) {
    __m256 acc[MR][TAIL_MAX];
    for (int i = 0; i < height; i++)
        for (int j = 0; j < columns; j++) acc[i][j] = _mm256_setzero_ps();
    int body = depth / 8 * 8;
    for (int k = 0; k < depth; k += 8) {
        // The last partial 8 lanes are masked: zero in A and B.
        int full = k < body;
        __m256i mask = lane_mask(k, 0, depth);
        __m256 ai[MR];
        for (int i = 0; i < height; i++) ai[i] = load8(a + (first + i) * lda + k, full, mask);
        for (int j = 0; j < columns; j++) {
            __m256 bv = load8(bt + (long)j * depth + k, full, mask);
            for (int i = 0; i < height; i++) acc[i][j] = _mm256_fmadd_ps(ai[i], bv, acc[i][j]);
        }
    }
    for (int i = 0; i < height && first + i < rows; i++)
        for (int j = 0; j < columns; j++) dl_sgemm_finish(sum_lanes(acc[i][j]), c, ldc, first + i, j, epilogue);
}

/// C tile (rows, columns ≤ TAIL_MAX) ⟵ or += A panel · B columns over `depth`,
/// with B's columns stored k-contiguous: 8 k at a time, summed across lanes at
/// the end, then the same epilogue as kernel_6xv. Six rows at once for one or
/// two columns, three at a time for three or four (six rows of four columns
/// would need 24 accumulators). `columns` is a constant at each instance below.
static INLINE AVX2 void kernel_dot(int columns, int depth, const float *a, long lda, const float *bt, float *c, long ldc, int rows,
                                  Epilogue epilogue) {
    if (columns <= 2) {
        kernel_dot_rows(MR, columns, 0, depth, a, lda, bt, c, ldc, rows, epilogue);
        return;
    }
    kernel_dot_rows(3, columns, 0, depth, a, lda, bt, c, ldc, rows, epilogue);
    if (rows > 3) kernel_dot_rows(3, columns, 3, depth, a, lda, bt, c, ldc, rows, epilogue);
}

DL_SGEMM_TAIL_INSTANCE(AVX2, kernel_dot, 1)
DL_SGEMM_TAIL_INSTANCE(AVX2, kernel_dot, 2)
DL_SGEMM_TAIL_INSTANCE(AVX2, kernel_dot, 3)
DL_SGEMM_TAIL_INSTANCE(AVX2, kernel_dot, 4)

const SgemmKernels dl_sgemm_avx2_kernels = {
    .panel_width = NR,
    .block_width = 4 * NR,
    .lanes = 16,
    .kernels = {kernel_tiles_6_1, kernel_tiles_6_2, kernel_tiles_6_3, kernel_tiles_6_4},
    .short_kernels = {{kernel_tiles_2_1, kernel_tiles_2_2, kernel_tiles_2_3, kernel_tiles_2_4},
                      {kernel_tiles_4_1, kernel_tiles_4_2, kernel_tiles_4_3, kernel_tiles_4_4}},
    .tail_kernels = {kernel_dot_1, kernel_dot_2, kernel_dot_3, kernel_dot_4},
    .gather = gather_row,
    .copy_runs = copy_runs,
    .column_units_per_thread = 4,
    .direct = {direct_tiles_6_1, direct_tiles_6_2, direct_tiles_6_3, direct_tiles_6_4},
    .short_direct = {{direct_tiles_2_1, direct_tiles_2_2, direct_tiles_2_3, direct_tiles_2_4},
                     {direct_tiles_4_1, direct_tiles_4_2, direct_tiles_4_3, direct_tiles_4_4}},
    // Plain products pack B: read in place, 64 rows with K 64 at 3136 columns took 0.34 ms against 0.29
    // packed (Zen 4, one thread), and the shapes the AVX-512 set reads in place with K up to 256 were
    // 10-40% slower. (Its direct convolutions, whose packing gathers, gain: see dl_conv2d_direct_isa.)
    .in_place_short_rows = 0,
    .in_place_rows = 0,
};

#endif
