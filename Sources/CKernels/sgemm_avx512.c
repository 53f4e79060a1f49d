// AVX-512 single-precision GEMM; see include/dl_sgemm.h.
//
// Blocking: for each NC-wide block of C's columns and each KC-deep slice of
// K, B's (KC, NC) block is packed into NR-wide panels (k-major, zero-padded
// past n) that stay in L2. A is not packed: an MR x NR micro-kernel reads six
// rows of A in place (each contiguous in k; a last partial group of rows is
// copied and zero-padded first) and keeps its C tile in 24 zmm registers for
// the whole slice: per k, four 16-float loads of B, six broadcasts of A, 24
// fused multiply-adds. Narrower kernels (48, 32, 16 columns) finish a last
// panel narrower than NR. The first K slice stores C, later ones add to it,
// and the last adds the bias and applies the ReLU if asked.
//
// Why A stays unpacked: a convolution's weights are A, used once per call and
// usually cold in cache; packing them costs about as much as the product
// itself when n is small (ResNet-50's last stage has n = 49).
#include "dl_sgemm.h"
#include "sgemm_pool.h"
#include "ckernels.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

// TAIL_MAX: last columns of a block that leave a 16-lane vector mostly empty
// (1 to TAIL_MAX of them: ResNet-50's n = 49 and 196, a fully connected
// layer's n = 1) go to kernel_dot, which vectorizes along k instead.
enum { MR = 6, NR = 64, KC = 256, NC = 8 * NR, TAIL_MAX = 4 };

/// Packing buffers of one thread: A's last (MR, KC) rows, B's (KC, NC) block and its tail.
typedef struct {
    float *a;
    float *b;
    float *tail;  // the last few columns of B's block, k-contiguous (TAIL_MAX, KC)
} Panels;

static pthread_key_t panels_key;
static pthread_once_t panels_once = PTHREAD_ONCE_INIT;

static void panels_free(void *p) {
    Panels *panels = p;
    free(panels->a);
    free(panels->b);
    free(panels->tail);
    free(panels);
}

static void panels_key_create(void) { pthread_key_create(&panels_key, panels_free); }

/// This thread's packing buffers, allocated on its first call; NULL if that failed.
static Panels *thread_panels(void) {
    pthread_once(&panels_once, panels_key_create);
    Panels *panels = pthread_getspecific(panels_key);
    if (panels) return panels;
    panels = calloc(1, sizeof *panels);
    if (!panels) return NULL;
    panels->a = aligned_alloc(64, sizeof(float) * MR * KC);
    panels->b = aligned_alloc(64, sizeof(float) * KC * NC);
    panels->tail = aligned_alloc(64, sizeof(float) * TAIL_MAX * KC);
    if (!panels->a || !panels->b || !panels->tail || pthread_setspecific(panels_key, panels) != 0) {
        panels_free(panels);
        return NULL;
    }
    return panels;
}

/// One product, shared by the threads that take its pieces (see run).
typedef struct {
    int m, n, k;
    const float *a, *b;
    float *c;
    int lda, ldb, ldc;
    const float *row_bias;  // added to each row of C after the last K slice, or NULL
    int relu;               // then max(·, 0)
    int accumulate;         // 1: add the product to C's contents instead of overwriting them
    const DLConvGeometry *conv;  // when set, B is the column matrix of this convolution of `b` (not stored)
    int split_columns;  // 1: pieces are column panels (NR wide), 0: row groups (MR rows)
    int units;          // panels or row groups in all
    int pieces;         // pieces the units are dealt into, as evenly as whole units allow
    int next_piece;     // the next piece to take (atomic)
    int failed;         // set by a thread whose buffers could not be allocated (atomic)
} Job;

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f")))

int dl_sgemm_available(void) {
    if (dl_kernels_forced_portable()) return 0;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f");
}

/// Copies the last `rows` (< MR) rows of A's k-range into an MR-row block
/// with row stride `depth`, zero below them, so the micro-kernel never reads
/// past A's last row.
static void pack_a_tail(const float *a, int lda, int rows, int depth, float *out) {
    for (int i = 0; i < MR; i++) {
        if (i < rows) memcpy(out + i * depth, a + (long)i * lda, sizeof(float) * depth);
        else memset(out + i * depth, 0, sizeof(float) * depth);
    }
}

/// Packs the (depth, columns) block of B into NR-wide panels: panel q holds,
/// for each k, the NR values B[k][q·NR + j] (0 past `columns`).
static void pack_b(const float *b, int ldb, int depth, int columns, float *out) {
    for (int q = 0; q < columns; q += NR) {
        int valid = columns - q < NR ? columns - q : NR;
        for (int k = 0; k < depth; k++) {
            const float *row = b + (long)k * ldb + q;
            float *to = out + k * NR;
            memcpy(to, row, sizeof(float) * valid);
            if (valid < NR) memset(to + valid, 0, sizeof(float) * (NR - valid));
        }
        out += NR * depth;
    }
}

/// The output positions o in [0, count) whose input column o·stride + offset
/// lies in [0, length): [*lower, *upper).
static void valid_span(int count, int stride, int offset, int length, int *lower, int *upper) {
    int lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
    int last = length - 1 - offset;
    int hi = last < 0 ? 0 : last / stride + 1;
    if (lo > count) lo = count;
    if (hi > count) hi = count;
    if (hi < lo) hi = lo;
    *lower = lo;
    *upper = hi;
}

/// A run of output pixels in one output row and one packed panel, for pack_conv.
typedef struct {
    int to;      // offset in the packed block of the first one (panel · NR · depth + column in panel)
    int oh, ow;  // the output pixel it starts at
    int count;
} Run;

/// `count` (≤ 16) output columns starting at o, of which [a, b) read inside
/// the input row: d[l] = row[(o + l)·stride], or 0 outside [a, b); masked
/// 16-lane loads never touch memory outside the valid range.
static inline __attribute__((always_inline)) AVX512 void gather_chunk(const float *row, int stride, int o, int count, int a, int b,
                                                                      float *d) {
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
        const __m512i evens = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        value = _mm512_permutex2var_ps(low, evens, high);
    }
    _mm512_mask_storeu_ps(d, store, value);
}

/// Packs the (depth, columns) block at (k0, j0) of a convolution's column
/// matrix straight from its input x, in pack_b's layout: row k = (channel,
/// kh, kw) of the matrix holds, for output pixel j = (oh, ow), the input pixel
/// that tap multiplies, or 0 in the padding. No column matrix is ever stored.
/// The block's columns are first cut into runs within one output row and one
/// panel (the same for every k); each k then fills its runs 16 lanes at a time.
static AVX512 void pack_conv(const DLConvGeometry *g, const float *x, int k0, int depth, int j0, int columns, float *out) {
    Run runs[NC + NC / NR + 1];
    int run_count = 0;
    for (int q = 0; q < columns; q += NR) {
        int valid = columns - q < NR ? columns - q : NR;
        int j = j0 + q, filled = 0;
        while (filled < valid) {
            int oh = j / g->out_width, ow = j % g->out_width;
            int count = g->out_width - ow < valid - filled ? g->out_width - ow : valid - filled;
            runs[run_count++] = (Run){q * depth + filled, oh, ow, count};
            filled += count;
            j += count;
        }
    }
    int taps = g->kernel_height * g->kernel_width, stride = g->stride_width;
    long plane = (long)g->in_height * g->in_width;
    int vector_stride = stride == 1 || stride == 2;
    for (int kk = 0; kk < depth; kk++) {
        int k = k0 + kk, channel = k / taps, tap = k % taps;
        int kh = tap / g->kernel_width, kw = tap % g->kernel_width;
        int offset_w = kw * g->dilation_width - g->pad_left;
        int lower, upper;
        valid_span(g->out_width, stride, offset_w, g->in_width, &lower, &upper);
        const float *source_plane = x + channel * plane;
        for (int r = 0; r < run_count; r++) {
            Run run = runs[r];
            float *d = out + run.to + kk * NR;  // d[o - ow] is output column o of this row
            int ih = run.oh * g->stride_height - g->pad_top + kh * g->dilation_height;
            if (ih < 0 || ih >= g->in_height) {
                memset(d, 0, sizeof(float) * run.count);
                continue;
            }
            const float *row = source_plane + (long)ih * g->in_width;  // column o reads row[o·stride + offset_w]
            int end = run.ow + run.count;
            if (vector_stride) {
                // Masked loads address row + offset_w + o·stride only where valid.
                for (int o = run.ow; o < end; o += 16) {
                    int count = end - o < 16 ? end - o : 16;
                    gather_chunk(row + offset_w, stride, o, count, lower, upper, d + (o - run.ow));
                }
            } else {
                for (int o = run.ow; o < end; o++)
                    d[o - run.ow] = o >= lower && o < upper ? row[o * stride + offset_w] : 0;
            }
        }
    }
    // Columns past `columns` in the last panel are 0.
    int valid = columns % NR;
    if (valid) {
        float *last = out + (columns - valid) * depth;
        for (int kk = 0; kk < depth; kk++) memset(last + kk * NR + valid, 0, sizeof(float) * (NR - valid));
    }
}

/// What the micro-kernel does with its tile: the first K slice stores it, later
/// ones add it to C; the last one also adds `bias[i]` to row i (if given) and
/// clamps at 0 (if `relu`), in that order, as the separate pass would.
typedef struct {
    int accumulate;
    int last;
    const float *bias;
    int relu;
} Epilogue;

/// C tile (rows, columns) ⟵ or += the product of an A panel and the first
/// 16·vectors columns of a B panel over `depth`; `vectors` is a constant at
/// each call below, so the loops unroll into registers. Fewer vectors serve a
/// last panel narrower than NR, so ResNet's 196 columns cost 208, not 256.
static inline __attribute__((always_inline)) AVX512 void kernel_6xv(int vectors, int depth, const float *a, long lda, const float *b,
                                                                    float *c, long ldc, int rows, int columns, Epilogue epilogue) {
    __m512 acc[MR][4];
    for (int i = 0; i < MR; i++)
        for (int v = 0; v < vectors; v++) acc[i][v] = _mm512_setzero_ps();
    for (int k = 0; k < depth; k++) {
        __m512 bv[4];
        for (int v = 0; v < vectors; v++) bv[v] = _mm512_load_ps(b + 16 * v);
        for (int i = 0; i < MR; i++) {
            __m512 ai = _mm512_set1_ps(a[i * lda + k]);
            for (int v = 0; v < vectors; v++) acc[i][v] = _mm512_fmadd_ps(ai, bv[v], acc[i][v]);
        }
        b += NR;
    }
    const __m512 zero = _mm512_setzero_ps();
    for (int i = 0; i < rows; i++) {
        float *row = c + i * ldc;
        for (int v = 0; v < vectors; v++) {
            int left = columns - 16 * v;
            if (left <= 0) break;
            __mmask16 mask = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
            __m512 value = acc[i][v];
            if (epilogue.accumulate) value = _mm512_add_ps(_mm512_maskz_loadu_ps(mask, row + 16 * v), value);
            if (epilogue.last && epilogue.bias) value = _mm512_add_ps(value, _mm512_set1_ps(epilogue.bias[i]));
            // max with 0 second: NaN and -0 become +0, like the Swift pass's x > 0 ? x : 0.
            if (epilogue.last && epilogue.relu) value = _mm512_max_ps(value, zero);
            _mm512_mask_storeu_ps(row + 16 * v, mask, value);
        }
    }
}

// One function per panel width (in 16-float vectors), so that each inlined
// kernel_6xv sees a constant `vectors`.
#define KERNEL_6XV(vectors)                                                                                     \
    static AVX512 void kernel_6x##vectors##v(int depth, const float *a, long lda, const float *b, float *c, long ldc, \
                                             int rows, int columns, Epilogue e) {                             \
        kernel_6xv(vectors, depth, a, lda, b, c, ldc, rows, columns, e);                                     \
    }
KERNEL_6XV(1)
KERNEL_6XV(2)
KERNEL_6XV(3)
KERNEL_6XV(4)
#undef KERNEL_6XV

typedef void (*Kernel)(int, const float *, long, const float *, float *, long, int, int, Epilogue);
/// The micro-kernel for a panel of `columns` (1...NR) valid columns.
static const Kernel kernels[4] = {kernel_6x1v, kernel_6x2v, kernel_6x3v, kernel_6x4v};

/// C tile (rows, columns ≤ TAIL_MAX) ⟵ or += A panel · B columns over `depth`,
/// with B's columns stored k-contiguous (`bt`, one row of `depth` per column):
/// 16 k at a time into rows x columns accumulators, summed across lanes at
/// the end, then the same epilogue as kernel_6xv. `columns` is a constant at
/// each call below.
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
    for (int i = 0; i < rows; i++) {
        for (int j = 0; j < columns; j++) {
            float value = _mm512_reduce_add_ps(acc[i][j]);
            float *to = c + i * ldc + j;
            if (epilogue.accumulate) value = *to + value;
            if (epilogue.last && epilogue.bias) value = value + epilogue.bias[i];
            if (epilogue.last && epilogue.relu) value = value > 0 ? value : 0;
            *to = value;
        }
    }
}

typedef void (*TailKernel)(int, const float *, long, const float *, float *, long, int, Epilogue);
static AVX512 void kernel_dot1(int d, const float *a, long lda, const float *bt, float *c, long ldc, int rows, Epilogue e) {
    kernel_dot(1, d, a, lda, bt, c, ldc, rows, e);
}
static AVX512 void kernel_dot2(int d, const float *a, long lda, const float *bt, float *c, long ldc, int rows, Epilogue e) {
    kernel_dot(2, d, a, lda, bt, c, ldc, rows, e);
}
static AVX512 void kernel_dot3(int d, const float *a, long lda, const float *bt, float *c, long ldc, int rows, Epilogue e) {
    kernel_dot(3, d, a, lda, bt, c, ldc, rows, e);
}
static AVX512 void kernel_dot4(int d, const float *a, long lda, const float *bt, float *c, long ldc, int rows, Epilogue e) {
    kernel_dot(4, d, a, lda, bt, c, ldc, rows, e);
}
/// kernel_dot for 1...TAIL_MAX columns.
static const TailKernel tail_kernels[TAIL_MAX] = {kernel_dot1, kernel_dot2, kernel_dot3, kernel_dot4};

/// Copies the last `columns` (≤ TAIL_MAX) columns of a packed B panel, which
/// start at panel column `first`, k-contiguous into `bt`.
static void transpose_tail(const float *panel, int depth, int first, int columns, float *bt) {
    for (int j = 0; j < columns; j++)
        for (int k = 0; k < depth; k++) bt[(long)j * depth + k] = panel[(long)k * NR + first + j];
}

/// C[row0..<row1, col0..<col1] = A[row0..<row1, :] · B[:, col0..<col1].
static void gemm_block(const Job *job, int row0, int row1, int col0, int col1, Panels *panels) {
    for (int jc = col0; jc < col1; jc += NC) {
        int nc = col1 - jc < NC ? col1 - jc : NC;
        for (int pc = 0; pc < job->k; pc += KC) {
            int kc = job->k - pc < KC ? job->k - pc : KC;
            if (job->conv) pack_conv(job->conv, job->b, pc, kc, jc, nc, panels->b);
            else pack_b(job->b + (long)pc * job->ldb + jc, job->ldb, kc, nc, panels->b);
            // The block's last panel: `vector_columns` for the vector kernels, then `tail` for kernel_dot.
            int last_panel = (nc - 1) / NR * NR, last_columns = nc - last_panel;
            int tail = last_columns % 16 <= TAIL_MAX ? last_columns % 16 : 0;
            if (tail) transpose_tail(panels->b + last_panel * kc, kc, last_columns - tail, tail, panels->tail);
            for (int ir = row0; ir < row1; ir += MR) {
                // Full panels are read straight from A (six rows, each
                // contiguous in k): packing them would cost as much as the
                // product itself when n is small (ResNet's last stage has n = 49).
                int rows = row1 - ir < MR ? row1 - ir : MR;
                const float *ap = job->a + (long)ir * job->lda + pc;
                long lda = job->lda;
                if (rows < MR) {
                    pack_a_tail(ap, job->lda, rows, kc, panels->a);
                    ap = panels->a;
                    lda = kc;
                }
                Epilogue epilogue = {pc > 0 || job->accumulate, pc + kc == job->k, job->row_bias ? job->row_bias + ir : NULL, job->relu};
                for (int jr = 0; jr < nc; jr += NR) {
                    int columns = nc - jr < NR ? nc - jr : NR;
                    float *c = job->c + (long)ir * job->ldc + jc + jr;
                    if (jr == last_panel && tail) {
                        columns -= tail;
                        tail_kernels[tail - 1](kc, ap, lda, panels->tail, c + columns, job->ldc, rows, epilogue);
                        if (columns == 0) continue;
                    }
                    kernels[(columns - 1) / 16](kc, ap, lda, panels->b + jr * kc, c, job->ldc, rows, columns, epilogue);
                }
            }
        }
    }
}

/// Takes pieces of the job (runs of NR-wide column panels or of MR-row groups)
/// until none are left; run by the caller and by pool threads at once.
static void gemm_pieces(void *context) {
    Job *job = context;
    int unit = job->split_columns ? NR : MR;
    int extent = job->split_columns ? job->n : job->m;
    Panels *panels = NULL;
    for (;;) {
        int piece = __atomic_fetch_add(&job->next_piece, 1, __ATOMIC_RELAXED);
        if (piece >= job->pieces) return;
        int first = (int)((long)piece * job->units / job->pieces) * unit;
        int last = (int)((long)(piece + 1) * job->units / job->pieces) * unit;
        if (last > extent) last = extent;
        if (first >= last) continue;
        if (!panels && !(panels = thread_panels())) {
            __atomic_store_n(&job->failed, 1, __ATOMIC_RELAXED);
            return;
        }
        if (job->split_columns) gemm_block(job, 0, job->m, first, last, panels);
        else gemm_block(job, first, last, 0, job->n, panels);
    }
}

static int run(Job *job);

int dl_sgemm_ex(int m, int n, int k, const float *a, int lda, const float *b, int ldb, float *c, int ldc,
                int accumulate, const float *row_bias, int relu) {
    if (m <= 0 || n <= 0) return 0;
    if (k <= 0) {
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                float value = accumulate ? c[(long)i * ldc + j] : 0;
                if (row_bias) value += row_bias[i];
                if (relu) value = value > 0 ? value : 0;
                c[(long)i * ldc + j] = value;
            }
        }
        return 0;
    }
    Job job = {m, n, k, a, b, c, lda, ldb, ldc, row_bias, relu, accumulate != 0, NULL, 1, 1, 1, 0, 0};
    return run(&job);
}

int dl_conv2d_gemm(const DLConvGeometry *g, int m, const float *w, const float *x, float *y, int ldy,
                   const float *row_bias, int relu) {
    int n = g->out_height * g->out_width;
    int k = g->channels * g->kernel_height * g->kernel_width;
    if (m <= 0 || n <= 0 || k <= 0) return dl_sgemm_ex(m, n, k, w, k, x, n, y, ldy, 0, row_bias, relu);
    Job job = {m, n, k, w, x, y, k, 0, ldy, row_bias, relu, 0, g, 1, 1, 1, 0, 0};
    return run(&job);
}

/// Cuts `job` into pieces and runs them on the caller and the pool.
static int run(Job *job) {
    int threads = dl_sgemm_pool_threads();
    int column_units = (job->n + NR - 1) / NR, row_units = (job->m + MR - 1) / MR;
    // Column panels when there are enough for about four pieces per thread:
    // each piece packs only its own columns, and several pieces per thread let
    // a thread that gets its core late still find work while one that never
    // does costs little. With fewer panels (a small image: 14x14 is four 64-wide
    // panels, which two threads would split 3:1), row groups, one piece per
    // thread, since each packs all of B's (then few) columns. Units are dealt
    // into pieces as evenly as whole units allow. A product below about
    // 2 MFLOP runs on the caller alone.
    job->split_columns = threads == 1 || column_units >= 4 * threads || row_units < threads;
    int wanted = job->split_columns ? 4 * threads : threads;
    job->units = job->split_columns ? column_units : row_units;
    job->pieces = wanted < job->units ? wanted : job->units;
    int helpers = threads - 1 < job->pieces - 1 ? threads - 1 : job->pieces - 1;
    if ((long)job->m * job->n * job->k < (1L << 20)) helpers = 0;
    dl_sgemm_pool_run(gemm_pieces, job, helpers);
    return job->failed ? -1 : 0;
}

#else

int dl_sgemm_available(void) { return 0; }

int dl_sgemm_ex(int m, int n, int k, const float *a, int lda, const float *b, int ldb, float *c, int ldc,
                int accumulate, const float *row_bias, int relu) {
    (void)m, (void)n, (void)k, (void)a, (void)lda, (void)b, (void)ldb, (void)c, (void)ldc;
    (void)accumulate, (void)row_bias, (void)relu;
    return -1;
}

int dl_conv2d_gemm(const DLConvGeometry *g, int m, const float *w, const float *x, float *y, int ldy,
                   const float *row_bias, int relu) {
    (void)g, (void)m, (void)w, (void)x, (void)y, (void)ldy, (void)row_bias, (void)relu;
    return -1;
}

#endif

// The two narrower entry points, for either build of dl_sgemm_ex.
int dl_sgemm(int m, int n, int k, const float *a, int lda, const float *b, int ldb, float *c, int ldc) {
    return dl_sgemm_ex(m, n, k, a, lda, b, ldb, c, ldc, 0, NULL, 0);
}

int dl_sgemm_bias_relu(int m, int n, int k, const float *a, int lda, const float *b, int ldb, float *c, int ldc,
                       const float *row_bias, int relu) {
    return dl_sgemm_ex(m, n, k, a, lda, b, ldb, c, ldc, 0, row_bias, relu);
}
