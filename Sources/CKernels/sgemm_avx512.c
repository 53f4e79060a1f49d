// The AVX-512 micro-kernels of CKernels' sgemm (driver: sgemm.c).
//
// Tile: 6 rows x 64 columns in 24 zmm registers; per k, four 16-float loads
// of the packed B panel, six broadcasts of A (read in place), 24 fused
// multiply-adds. Narrower kernels (48, 32, 16 columns) finish a last panel
// narrower than 64, so ResNet's 196 columns cost 208, not 256; the last 1 to 4
// columns go to a dot-product kernel that vectorizes along k instead.
//
// A (the weights, read in place and usually cold) is prefetched one row
// group ahead, as on the AVX2 path (sgemm_avx2.c says why): each tile call
// prefetches the next group's lines for its k range, one per row every 16 k.
#include "sgemm_core.h"

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f")))

enum { NR = 64 };

/// `count` (≤ 16) output columns starting at o, of which [a, b) read inside
/// the input row: d[l] = row[(o + l)·stride], or 0 outside [a, b); masked
/// 16-lane loads never touch memory outside the valid range. Whole chunks
/// wholly inside it use plain loads (stride 2 reads one float past its last
/// column, so it needs one more valid column), without the masks' arithmetic.
static inline __attribute__((always_inline)) AVX512 void gather_chunk(const float *row, int stride, int o, int count, int a, int b,
                                                                      float *d) {
    const __m512i evens = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    if (count == 16 && o >= a) {
        if (stride == 1 && o + 16 <= b) {
            _mm512_storeu_ps(d, _mm512_loadu_ps(row + o));
            return;
        }
        if (stride == 2 && o + 16 < b) {
            _mm512_storeu_ps(d, _mm512_permutex2var_ps(_mm512_loadu_ps(row + 2 * o), evens, _mm512_loadu_ps(row + 2 * o + 16)));
            return;
        }
    }
    int la = a - o < 0 ? 0 : (a - o > count ? count : a - o);
    int lb = b - o < la ? la : (b - o > count ? count : b - o);
    __mmask16 store = (__mmask16)((1u << count) - 1);
    __m512 value;
    if (stride == 1) {
        __mmask16 load = (__mmask16)(((1u << lb) - 1) & ~((1u << la) - 1));
        value = _mm512_maskz_loadu_ps(load, row + o);
    } else {  // stride 2: the even floats of 32
        unsigned long long span = ((1ull << (2 * lb)) - 1) & ~((1ull << (2 * la)) - 1);
        unsigned int even = (unsigned int)(span & 0x55555555ull);
        __m512 low = _mm512_maskz_loadu_ps((__mmask16)(even & 0xFFFF), row + 2 * o);
        __m512 high = _mm512_maskz_loadu_ps((__mmask16)(even >> 16), row + 2 * o + 16);
        value = _mm512_permutex2var_ps(low, evens, high);
    }
    _mm512_mask_storeu_ps(d, store, value);
}

static AVX512 void gather_row(const float *row, int stride, int begin, int end, int lower, int upper, float *d) {
    for (int o = begin; o < end; o += 16) gather_chunk(row, stride, o, end - o < 16 ? end - o : 16, lower, upper, d + (o - begin));
}

/// One run of copy_runs: 16-float pieces, the last one masked.
static inline __attribute__((always_inline)) AVX512 void copy_run(float *to, const float *from, int count) {
    int j = 0;
    for (; j + 16 <= count; j += 16) _mm512_storeu_ps(to + j, _mm512_loadu_ps(from + j));
    if (j < count) {
        __mmask16 mask = (__mmask16)((1u << (count - j)) - 1);
        _mm512_mask_storeu_ps(to + j, mask, _mm512_maskz_loadu_ps(mask, from + j));
    }
}

DL_SGEMM_COPY_RUNS(AVX512, copy_run)

/// One finished vector of a tile: acc, plus C's old value (if accumulating),
/// the bias, the addend, then the ReLU, in that order; `old` and `addend` are
/// read only where asked.
static inline __attribute__((always_inline)) AVX512 __m512 finish_vector(__m512 value, __m512 old, __m512 addend, float bias,
                                                                         Epilogue epilogue) {
    if (epilogue.accumulate) value = _mm512_add_ps(old, value);
    if (epilogue.last && epilogue.bias) value = _mm512_add_ps(value, _mm512_set1_ps(bias));
    if (epilogue.last && epilogue.addend) value = _mm512_add_ps(value, addend);
    // max with 0 second: NaN and -0 become +0, like the Swift pass's x > 0 ? x : 0.
    if (epilogue.last && epilogue.relu) value = _mm512_max_ps(value, _mm512_setzero_ps());
    return value;
}

/// Stores (or adds) the finished tile acc, rows x columns of it, with the
/// epilogue. A whole tile touches acc with constant indices only (the loops
/// unroll), so the accumulators stay in registers; the compiler kept them on
/// the stack around the k loop while a row or column count indexed them,
/// which cost about 5% with K = 64. A partial tile (the matrix's last rows or
/// columns) goes through a copy on the stack instead, with the same steps.
static inline __attribute__((always_inline)) AVX512 void store_tile(int height, int vectors, __m512 acc[MR][4], float *c, long ldc,
                                                                    int rows, int columns, Epilogue epilogue) {
    if (rows == height && columns == 16 * vectors) {
        _Pragma("GCC unroll 6") for (int i = 0; i < height; i++) {
            float *row = c + i * ldc;
            const float *addend = epilogue.addend ? epilogue.addend + i * ldc : NULL;
            float bias = epilogue.bias ? epilogue.bias[i] : 0;
            _Pragma("GCC unroll 4") for (int v = 0; v < vectors; v++) {
                __m512 old = epilogue.accumulate ? _mm512_loadu_ps(row + 16 * v) : _mm512_setzero_ps();
                __m512 add = epilogue.last && addend ? _mm512_loadu_ps(addend + 16 * v) : _mm512_setzero_ps();
                _mm512_storeu_ps(row + 16 * v, finish_vector(acc[i][v], old, add, bias, epilogue));
            }
        }
        return;
    }
    __attribute__((aligned(64))) float tile[MR][64];
    _Pragma("GCC unroll 6") for (int i = 0; i < height; i++)
        _Pragma("GCC unroll 4") for (int v = 0; v < vectors; v++) _mm512_store_ps(tile[i] + 16 * v, acc[i][v]);
    for (int i = 0; i < rows; i++) {
        float *row = c + i * ldc;
        for (int v = 0; v < vectors; v++) {
            int left = columns - 16 * v;
            if (left <= 0) break;
            __mmask16 mask = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
            __m512 old = epilogue.accumulate ? _mm512_maskz_loadu_ps(mask, row + 16 * v) : _mm512_setzero_ps();
            __m512 add = epilogue.last && epilogue.addend ? _mm512_maskz_loadu_ps(mask, epilogue.addend + i * ldc + 16 * v)
                                                         : _mm512_setzero_ps();
            __m512 value = finish_vector(_mm512_load_ps(tile[i] + 16 * v), old, add, epilogue.bias ? epilogue.bias[i] : 0, epilogue);
            _mm512_mask_storeu_ps(row + 16 * v, mask, value);
        }
    }
}

/// C tile (rows ≤ height, columns) ⟵ or += the product of an A panel
/// (`height` rows of it) and the first 16·vectors columns of B over `depth`:
/// B's row k is a packed panel's (b + k·NR) or, with `offsets`, read where it
/// lies (b + offsets[k], unaligned); each column gets the same operations
/// either way, and whatever the height, so the same bits. `height`, `vectors`
/// and whether `offsets` is NULL are constants at each instance below, so the
/// loops unroll into registers.
static inline __attribute__((always_inline)) AVX512 void kernel_tile(int height, int vectors, int depth, const float *a, long lda,
                                                                     const float *b, const long *offsets, float *c, long ldc, int rows,
                                                                     int columns, Epilogue epilogue) {
    __m512 acc[MR][4];
    for (int i = 0; i < height; i++)
        for (int v = 0; v < vectors; v++) acc[i][v] = _mm512_setzero_ps();
    // The next row group's A (a + MR·lda, same k range) is prefetched, one
    // line per row every 16 k: see the comment at the top. A short tile is a
    // matrix's last rows: nothing follows.
    const float *next = a + MR * lda;
    for (int k = 0; k < depth; k++) {
        if (height == MR && (k & 15) == 0)
            for (int i = 0; i < MR; i++) _mm_prefetch((const char *)(next + i * lda + k), _MM_HINT_T0);
        const float *row = offsets ? b + offsets[k] : b + (long)k * NR;
        __m512 bv[4];
        for (int v = 0; v < vectors; v++) bv[v] = _mm512_loadu_ps(row + 16 * v);
        for (int i = 0; i < height; i++) {
            __m512 ai = _mm512_set1_ps(a[i * lda + k]);
            for (int v = 0; v < vectors; v++) acc[i][v] = _mm512_fmadd_ps(ai, bv[v], acc[i][v]);
        }
    }
    store_tile(height, vectors, acc, c, ldc, rows, columns, epilogue);
}

/// The packed and direct kernels of one tile height: kernel_<h>xv_1...4 and direct_<h>xv_1...4.
#define HEIGHT_KERNELS(h)                                                                                                   \
    static inline __attribute__((always_inline)) AVX512 void kernel_##h##xv(int vectors, int depth, const float *a, long lda, \
                                                                         const float *b, float *c, long ldc, int rows,      \
                                                                         int columns, Epilogue epilogue) {                  \
        kernel_tile(h, vectors, depth, a, lda, b, NULL, c, ldc, rows, columns, epilogue);                                  \
    }                                                                                                                       \
    static inline __attribute__((always_inline)) AVX512 void direct_##h##xv(int vectors, int depth, const float *a, long lda, \
                                                                         const float *base, const long *offsets, float *c,  \
                                                                         long ldc, int rows, int columns, Epilogue epilogue) { \
        kernel_tile(h, vectors, depth, a, lda, base, offsets, c, ldc, rows, columns, epilogue);                            \
    }                                                                                                                       \
    DL_SGEMM_KERNEL_INSTANCE(AVX512, kernel_##h##xv, 1)                                                                     \
    DL_SGEMM_KERNEL_INSTANCE(AVX512, kernel_##h##xv, 2)                                                                     \
    DL_SGEMM_KERNEL_INSTANCE(AVX512, kernel_##h##xv, 3)                                                                     \
    DL_SGEMM_KERNEL_INSTANCE(AVX512, kernel_##h##xv, 4)                                                                     \
    DL_SGEMM_DIRECT_INSTANCE(AVX512, direct_##h##xv, 1)                                                                     \
    DL_SGEMM_DIRECT_INSTANCE(AVX512, direct_##h##xv, 2)                                                                     \
    DL_SGEMM_DIRECT_INSTANCE(AVX512, direct_##h##xv, 3)                                                                     \
    DL_SGEMM_DIRECT_INSTANCE(AVX512, direct_##h##xv, 4)

HEIGHT_KERNELS(6)
HEIGHT_KERNELS(4)
HEIGHT_KERNELS(2)

/// C tile (rows, columns ≤ TAIL_MAX) ⟵ or += A panel · B columns over `depth`,
/// with B's columns stored k-contiguous: 16 k at a time into rows x columns
/// accumulators, summed across lanes at the end, then the same epilogue as
/// kernel_6xv. `columns` is a constant at each instance below.
static inline __attribute__((always_inline)) AVX512 void kernel_dot(int columns, int depth, const float *a, long lda,
                                                                    const float *bt, float *c, long ldc, int rows,
                                                                    Epilogue epilogue) {
    __m512 acc[MR][TAIL_MAX];
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < columns; j++) acc[i][j] = _mm512_setzero_ps();
    for (int k = 0; k < depth; k += 16) {
        __mmask16 mask = depth - k >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (depth - k)) - 1);
        __m512 bv[TAIL_MAX];
        for (int j = 0; j < columns; j++) bv[j] = _mm512_maskz_loadu_ps(mask, bt + (long)j * depth + k);
        for (int i = 0; i < MR; i++) {
            __m512 ai = _mm512_maskz_loadu_ps(mask, a + i * lda + k);
            for (int j = 0; j < columns; j++) acc[i][j] = _mm512_fmadd_ps(ai, bv[j], acc[i][j]);
        }
    }
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < columns; j++) dl_sgemm_finish(_mm512_reduce_add_ps(acc[i][j]), c, ldc, i, j, epilogue);
}

DL_SGEMM_TAIL_INSTANCE(AVX512, kernel_dot, 1)
DL_SGEMM_TAIL_INSTANCE(AVX512, kernel_dot, 2)
DL_SGEMM_TAIL_INSTANCE(AVX512, kernel_dot, 3)
DL_SGEMM_TAIL_INSTANCE(AVX512, kernel_dot, 4)

const SgemmKernels dl_sgemm_avx512_kernels = {
    .panel_width = NR,
    .block_width = 8 * NR,
    .lanes = 16,
    .kernels = {kernel_6xv_1, kernel_6xv_2, kernel_6xv_3, kernel_6xv_4},
    .short_kernels = {{kernel_2xv_1, kernel_2xv_2, kernel_2xv_3, kernel_2xv_4}, {kernel_4xv_1, kernel_4xv_2, kernel_4xv_3, kernel_4xv_4}},
    .tail_kernels = {kernel_dot_1, kernel_dot_2, kernel_dot_3, kernel_dot_4},
    .gather = gather_row,
    // Zen 4, one thread (Tools/conv_probe.c, five alternated runs): ResNet-50's 3x3 stride-2 layers 1-3%
    // faster (56x56: 2.37-2.41 -> 2.33-2.38 ms); the AVX2 set's gather made YOLOv8n's stride-2 stem 10%
    // slower (its masked loads), so that set keeps the plain loops.
    .prepare_row = gather_row,
    .copy_runs = copy_runs,
    // Eight: a 28x28 product (12.25 units) split by rows instead of columns, two threads, Zen 4, inputs in
    // cache: m 512 k 128 0.532 -> 0.473 ms, m 256 k 512 1.00 -> 0.96, m 128 k 512 the same. Each thread then
    // writes C in whole rows rather than 400-column segments. (The AVX2 set, four: 2% faster and 3% slower.)
    .column_units_per_thread = 8,
    .direct = {direct_6xv_1, direct_6xv_2, direct_6xv_3, direct_6xv_4},
    .short_direct = {{direct_2xv_1, direct_2xv_2, direct_2xv_3, direct_2xv_4}, {direct_4xv_1, direct_4xv_2, direct_4xv_3, direct_4xv_4}},
    .in_place_short_rows = DIRECT_MAX_ROWS,
    // Reading B in place instead of packing it, Zen 4, one thread: ResNet-50's pointwise layers with K 256
    // in a session (bench --trace, alternated), 64 channels 1.07 -> 0.99 ms, 128 channels 2.03 -> 1.97.
    // With K 512 or 1024 (several slices) they were 1-2% slower.
    .in_place_rows = 256,
};

#endif
