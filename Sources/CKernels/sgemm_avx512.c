// AVX-512 single-precision GEMM; see include/dl_sgemm.h.
//
// Blocking (the usual packed scheme): for each NC-wide block of C's columns
// and each KC-deep slice of K, B's (KC, NC) block is packed into NR-wide
// panels (k-major, zero-padded past n) that stay in L2; for each MC-row block
// of A, A's (MC, KC) block is packed into MR-row panels (k-major, zero-padded
// past m); then an MR x NR micro-kernel keeps its C tile in 24 zmm registers
// for the whole slice: per k, four 16-float loads of B, six broadcasts of A,
// 24 fused multiply-adds. The first K slice overwrites C, later ones add to it.
#include "dl_sgemm.h"
#include "sgemm_pool.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum { MR = 6, NR = 64, KC = 256, MC = 16 * MR, NC = 8 * NR };

/// Packing buffers of one thread: A's (MC, KC) block and B's (KC, NC) block.
typedef struct {
    float *a;
    float *b;
} Panels;

static pthread_key_t panels_key;
static pthread_once_t panels_once = PTHREAD_ONCE_INIT;

static void panels_free(void *p) {
    Panels *panels = p;
    free(panels->a);
    free(panels->b);
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
    panels->a = aligned_alloc(64, sizeof(float) * MC * KC);
    panels->b = aligned_alloc(64, sizeof(float) * KC * NC);
    if (!panels->a || !panels->b || pthread_setspecific(panels_key, panels) != 0) {
        panels_free(panels);
        return NULL;
    }
    return panels;
}

/// One GEMM and the part of C a worker computes: rows [row0, row1), columns [col0, col1).
typedef struct {
    int m, n, k;
    const float *a, *b;
    float *c;
    int lda, ldb, ldc;
    const float *row_bias;  // added to each row of C after the last K slice, or NULL
    int relu;               // then max(·, 0)
    int split_columns;  // 1: parts split the columns (in NR units), 0: the rows (in MR units)
    int failed;         // set by a part whose buffers could not be allocated
} Job;

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f")))

int dl_sgemm_available(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f");
}

/// Packs rows [0, rows) x k-range of A into MR-row panels: panel p holds, for
/// each k, the MR values A[p·MR + i][k] (0 past `rows`).
static void pack_a(const float *a, int lda, int rows, int depth, float *out) {
    for (int p = 0; p < rows; p += MR) {
        int valid = rows - p < MR ? rows - p : MR;
        for (int i = 0; i < MR; i++) {
            if (i < valid) {
                const float *row = a + (long)(p + i) * lda;
                for (int k = 0; k < depth; k++) out[k * MR + i] = row[k];
            } else {
                for (int k = 0; k < depth; k++) out[k * MR + i] = 0;
            }
        }
        out += MR * depth;
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

/// What the micro-kernel does with its tile: the first K slice stores it, later
/// ones add it to C; the last one also adds `bias[i]` to row i (if given) and
/// clamps at 0 (if `relu`), in that order, as the separate pass would.
typedef struct {
    int accumulate;
    int last;
    const float *bias;
    int relu;
} Epilogue;

/// C tile (rows, columns) ⟵ or += the product of an A panel and a B panel over `depth`.
static AVX512 void kernel_6x64(int depth, const float *a, const float *b, float *c, long ldc,
                               int rows, int columns, Epilogue epilogue) {
    __m512 acc[MR][4];
    for (int i = 0; i < MR; i++)
        for (int v = 0; v < 4; v++) acc[i][v] = _mm512_setzero_ps();
    for (int k = 0; k < depth; k++) {
        __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
        __m512 b2 = _mm512_load_ps(b + 32), b3 = _mm512_load_ps(b + 48);
        for (int i = 0; i < MR; i++) {
            __m512 ai = _mm512_set1_ps(a[i]);
            acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
            acc[i][2] = _mm512_fmadd_ps(ai, b2, acc[i][2]);
            acc[i][3] = _mm512_fmadd_ps(ai, b3, acc[i][3]);
        }
        a += MR;
        b += NR;
    }
    const __m512 zero = _mm512_setzero_ps();
    for (int i = 0; i < rows; i++) {
        float *row = c + i * ldc;
        for (int v = 0; v < 4; v++) {
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

/// C[row0..<row1, col0..<col1] = A[row0..<row1, :] · B[:, col0..<col1].
static void gemm_block(const Job *job, int row0, int row1, int col0, int col1, Panels *panels) {
    for (int jc = col0; jc < col1; jc += NC) {
        int nc = col1 - jc < NC ? col1 - jc : NC;
        for (int pc = 0; pc < job->k; pc += KC) {
            int kc = job->k - pc < KC ? job->k - pc : KC;
            pack_b(job->b + (long)pc * job->ldb + jc, job->ldb, kc, nc, panels->b);
            for (int ic = row0; ic < row1; ic += MC) {
                int mc = row1 - ic < MC ? row1 - ic : MC;
                pack_a(job->a + (long)ic * job->lda + pc, job->lda, mc, kc, panels->a);
                for (int ir = 0; ir < mc; ir += MR) {
                    const float *ap = panels->a + ir * kc;
                    int rows = mc - ir < MR ? mc - ir : MR;
                    Epilogue epilogue = {pc > 0, pc + kc == job->k, job->row_bias ? job->row_bias + ic + ir : NULL, job->relu};
                    for (int jr = 0; jr < nc; jr += NR) {
                        int columns = nc - jr < NR ? nc - jr : NR;
                        float *c = job->c + (long)(ic + ir) * job->ldc + jc + jr;
                        kernel_6x64(kc, ap, panels->b + jr * kc, c, job->ldc, rows, columns, epilogue);
                    }
                }
            }
        }
    }
}

/// Part `part` of `parts`: an even share of NR-wide column panels or MR-row panels.
static void gemm_part(void *context, int part, int parts) {
    Job *job = context;
    int unit = job->split_columns ? NR : MR;
    int extent = job->split_columns ? job->n : job->m;
    int units = (extent + unit - 1) / unit;
    int first = (int)((long)units * part / parts) * unit;
    int last = (int)((long)units * (part + 1) / parts) * unit;
    if (last > extent) last = extent;
    if (first >= last) return;
    Panels *panels = thread_panels();
    if (!panels) {
        __atomic_store_n(&job->failed, 1, __ATOMIC_RELAXED);
        return;
    }
    if (job->split_columns) gemm_block(job, 0, job->m, first, last, panels);
    else gemm_block(job, first, last, 0, job->n, panels);
}

int dl_sgemm(int m, int n, int k, const float *a, int lda, const float *b, int ldb, float *c, int ldc) {
    return dl_sgemm_bias_relu(m, n, k, a, lda, b, ldb, c, ldc, NULL, 0);
}

int dl_sgemm_bias_relu(int m, int n, int k, const float *a, int lda, const float *b, int ldb, float *c, int ldc,
                       const float *row_bias, int relu) {
    if (m <= 0 || n <= 0) return 0;
    if (k <= 0) {
        for (int i = 0; i < m; i++) {
            float value = row_bias ? row_bias[i] : 0;
            if (relu) value = value > 0 ? value : 0;
            for (int j = 0; j < n; j++) c[(long)i * ldc + j] = value;
        }
        return 0;
    }
    Job job = {m, n, k, a, b, c, lda, ldb, ldc, row_bias, relu, 1, 0};
    int column_units = (n + NR - 1) / NR, row_units = (m + MR - 1) / MR;
    int parts = dl_sgemm_pool_threads();
    // Split the columns when each thread gets at least one panel, else the rows;
    // a product below about 2 MFLOP is not worth waking a thread for.
    if (column_units < parts) job.split_columns = 0;
    int units = job.split_columns ? column_units : row_units;
    if (parts > units) parts = units;
    if ((long)m * n * k < (1L << 20)) parts = 1;
    dl_sgemm_pool_run(gemm_part, &job, parts);
    return job.failed ? -1 : 0;
}

#else

int dl_sgemm_available(void) { return 0; }

int dl_sgemm(int m, int n, int k, const float *a, int lda, const float *b, int ldb, float *c, int ldc) {
    return dl_sgemm_bias_relu(m, n, k, a, lda, b, ldb, c, ldc, NULL, 0);
}

int dl_sgemm_bias_relu(int m, int n, int k, const float *a, int lda, const float *b, int ldb, float *c, int ldc,
                       const float *row_bias, int relu) {
    (void)m, (void)n, (void)k, (void)a, (void)lda, (void)b, (void)ldb, (void)c, (void)ldc, (void)row_bias, (void)relu;
    return -1;
}

#endif
