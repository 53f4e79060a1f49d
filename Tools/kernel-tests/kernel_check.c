// Checks CKernels' C kernels on their own, without Swift, on whichever kernel
// sets this CPU (or emulator) runs: NEON on ARM64, AVX-512 and AVX2 on x86-64,
// and the portable paths under DEMANDLAYER_PORTABLE_KERNELS=1. Built and run
// by Tools/ci/16-neon-kernels.sh, natively and as an ARM64 binary under
// qemu-aarch64.
//
// GEMM (dl_sgemm_isa_ex), over a table of shapes with every tail (m, n, k not
// multiples of the 6x16 tile or of the 256-deep slice, k = 1, n = 1...4, n
// past a 256-column block), each plain, with the fused bias + ReLU and
// accumulating into C:
//   - within 1e-6 of a double-precision reference, relative to Σ|a·b| + |bias|
//     + |C before| (the scale of a float sum's rounding error; a plain relative
//     error means nothing where the sum cancels to near 0);
//   - bit for bit the same on 1 and 2 threads, and when the rows are computed
//     in pieces by separate calls (what a split layer does);
//   - C's columns past n untouched.
// Convolution (dl_conv2d_gemm_isa, B packed straight from the image): bit for
// bit the GEMM on an explicit im2col matrix, within the same tolerance of the
// double reference, the same on 1 and 2 threads and in row pieces, and with
// the image against unreadable pages on both sides (the gather reads only the
// image). dl_sgemv_rows (portable C on every CPU): tolerance and row pieces.
// The product on B already in the kernels' panels (dl_sgemm_packed_b_isa, what Winograd's GEMMs run):
// bit for bit dl_sgemm_isa_ex on the same B in rows, over its tails (rows past a 6-row group, the dot
// kernel's 1-4 columns, partial tiles and panels).
// Winograd (dl_conv2d_winograd_isa), each geometry's own variant, then F(4x4,
// 3x3) forced on the others: within 1e-5 (F(4x4, 3x3) forced: 3e-5) of the double
// reference's Σ|w·x| (its transforms round a few more times than the direct
// sum), bit for bit on 1 and 2 threads and in output-channel pieces.
// Depthwise convolution (dl_depthwise_conv2d, every level this CPU allows and
// portable): within the tolerance of a double reference, bit for bit the same
// on 1 and 2 threads and in channel pieces, with the image against unreadable
// pages on both sides.
// Max pooling (dl_avx2_max_pool or dl_neon_max_pool): bit for bit a scalar
// model of the portable loops, NaNs and signed zeros included.
// Elementwise (dl_avx2_* or dl_neon_*): bit for bit a scalar model of the
// AVX2 steps (fmaf where they fuse), so NEON and AVX2 agree exactly; the
// model (and so each path) within its stated accuracy of libm in double.
//
// Build with -ffp-contract=off: the model must not have its own a·b + c fused.
#include "ckernels.h"
#include "dl_sgemm.h"
#include "sgemm_core.h"

#include <math.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int failures;
static long checks;

#define CHECK(condition, ...)                                                  \
    do {                                                                       \
        checks++;                                                              \
        if (!(condition)) {                                                    \
            if (++failures <= 25) {                                            \
                fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);           \
                fprintf(stderr, __VA_ARGS__);                                  \
                fputc('\n', stderr);                                           \
            }                                                                  \
        }                                                                      \
    } while (0)

static uint64_t random_state = 0x9E3779B97F4A7C15ull;

/// Uniform in [-1, 1).
static float uniform(void) {
    random_state ^= random_state << 13;
    random_state ^= random_state >> 7;
    random_state ^= random_state << 17;
    return (float)((random_state >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
}

static void fill(float *p, long count) {
    for (long i = 0; i < count; i++) p[i] = uniform();
}

static void *allocate(size_t bytes) {
    void *p = malloc(bytes ? bytes : 1);
    if (!p) {
        fprintf(stderr, "kernel_check: out of memory\n");
        exit(2);
    }
    return p;
}

static const char *isa_name(DLSgemmISA isa) {
    switch (isa) {
    case DL_SGEMM_AVX512: return "avx512";
    case DL_SGEMM_AVX2: return "avx2";
    case DL_SGEMM_NEON: return "neon";
    }
    return "?";
}

// ---------------------------------------------------------------- GEMM

/// ref (m, n) = A·B (+ c0) (+ bias) (then ReLU) in double, and scale = the
/// sum of the magnitudes that went into each element.
static void reference(int m, int n, int k, const float *a, int lda, const float *b, int ldb, const float *c0, int ldc0,
                      const float *bias, int relu, double *ref, double *scale) {
    for (int i = 0; i < m; i++) {
        for (int j = 0; j < n; j++) {
            double sum = 0, magnitude = 0;
            for (int p = 0; p < k; p++) {
                double product = (double)a[(long)i * lda + p] * b[(long)p * ldb + j];
                sum += product;
                magnitude += fabs(product);
            }
            if (c0) {
                sum += c0[(long)i * ldc0 + j];
                magnitude += fabs(c0[(long)i * ldc0 + j]);
            }
            if (bias) {
                sum += bias[i];
                magnitude += fabs(bias[i]);
            }
            if (relu) sum = sum > 0 ? sum : 0;
            ref[(long)i * n + j] = sum;
            scale[(long)i * n + j] = magnitude;
        }
    }
}

static double tolerance = 1e-6;

/// Checks c against ref within tolerance · scale; returns the worst relative error.
static double check_close(const char *what, const float *c, int ldc, const double *ref, const double *scale, int m, int n) {
    double worst = 0;
    int bad_i = -1, bad_j = -1;
    for (int i = 0; i < m; i++) {
        for (int j = 0; j < n; j++) {
            double error = fabs(c[(long)i * ldc + j] - ref[(long)i * n + j]);
            double allowed = tolerance * scale[(long)i * n + j];
            if (!(error <= allowed) && bad_i < 0) bad_i = i, bad_j = j;
            if (scale[(long)i * n + j] > 0 && error / scale[(long)i * n + j] > worst) worst = error / scale[(long)i * n + j];
        }
    }
    CHECK(bad_i < 0, "%s: C[%d][%d] = %.9g, double reference %.9g (relative error %.2g > %.0e)", what, bad_i, bad_j,
          bad_i < 0 ? 0 : c[(long)bad_i * ldc + bad_j], bad_i < 0 ? 0 : ref[(long)bad_i * n + bad_j], worst, tolerance);
    return worst;
}

static void check_same(const char *what, const float *x, const float *y, int ldc, int m, int n) {
    for (int i = 0; i < m; i++) {
        if (memcmp(x + (long)i * ldc, y + (long)i * ldc, sizeof(float) * n) != 0) {
            int j = 0;
            while (memcmp(x + (long)i * ldc + j, y + (long)i * ldc + j, sizeof(float)) == 0) j++;
            CHECK(0, "%s: C[%d][%d] = %.9g vs %.9g (not bit-identical)", what, i, j, x[(long)i * ldc + j], y[(long)i * ldc + j]);
            return;
        }
    }
    checks++;
}

static const float sentinel = 1234.5f;

static void check_padding(const char *what, const float *c, int ldc, int m, int n) {
    int touched = 0;
    for (int i = 0; i < m; i++)
        for (int j = n; j < ldc; j++) touched |= c[(long)i * ldc + j] != sentinel;
    CHECK(!touched, "%s: a column past n was written", what);
}

/// Runs one product on `threads` threads into c (its padding set to the sentinel first).
static int run_gemm(DLSgemmISA isa, int threads, int m, int n, int k, const float *a, int lda, const float *b, int ldb,
                    const float *c0, float *c, int ldc, int accumulate, const float *bias, int relu) {
    dl_sgemm_set_threads(threads);
    for (long p = 0; p < (long)m * ldc; p++) c[p] = c0 ? c0[p] : sentinel;
    for (int i = 0; i < m; i++)
        for (int j = n; j < ldc; j++) c[(long)i * ldc + j] = sentinel;
    return dl_sgemm_isa_ex(isa, m, n, k, a, lda, b, ldb, c, ldc, accumulate, bias, relu);
}

typedef struct {
    int m, n, k;
} Shape;

// Tails of every kind: the tile is 6 x 16 (x86 AVX-512: 6 x 64), panels 64
// wide, blocks 256 (AVX-512: 512) wide, slices 256 deep, the dot kernel takes
// a block's last 1-4 columns; a last row group of 1-2 or 3-4 rows runs on the x86
// sets' 2- and 4-row tiles (m = 1, 2, 7, 8, 13, 14, 19, 25, 200 and 3, 4, 9, 70);
// products ≥ 2^20 multiply-adds use the second thread
// (48x300x80 splits by rows, 12x1100x90 by columns, 12x640x140 by columns on AVX2 and
// NEON and by rows on AVX-512, which wants 8 column units per thread). Up to 64 rows and K 160, B's
// full panels are read in place (the AVX-512 and NEON sets' direct kernels; AVX2
// packs), beyond that packed: 70x130x100 is packed whole and direct in its row
// pieces, which must agree bit for bit. The
// AVX-512 set also reads B in place up to 256 rows with K up to 256: 300x70x250 is
// packed whole and in place in its row pieces; 200x596x200 is in place in 2-thread
// column pieces cut at 16 columns, one ending in the dot kernel's 4-column tail.
static const Shape shapes[] = {
    {1, 1, 1},    {6, 16, 1},   {7, 17, 3},   {5, 1, 9},    {13, 2, 31},   {6, 3, 257},  {11, 4, 64},  {1, 64, 1},
    {2, 5, 7},    {6, 20, 8},   {9, 21, 300}, {4, 33, 2},   {8, 48, 16},   {7, 49, 70},  {12, 52, 5},  {3, 63, 17},
    {6, 65, 4},   {5, 68, 1},   {14, 80, 33}, {19, 99, 13}, {3, 130, 9},   {6, 196, 40}, {2, 260, 3},  {7, 515, 6},
    {1, 7, 513},  {25, 12, 1},  {48, 300, 80}, {12, 640, 140}, {70, 130, 100}, {300, 70, 250}, {200, 596, 200}, {12, 1100, 90},
};

/// expected[i][j] = ReLU (if relu) of expected[i][j] + addend[i·ld + j]: the Add and ReLU passes a fused
/// addend epilogue must equal bit for bit.
static void add_then_relu(float *expected, const float *addend, int ld, int m, int n, int relu) {
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            float value = expected[(long)i * ld + j] + addend[(long)i * ld + j];
            expected[(long)i * ld + j] = relu && !(value > 0) ? 0 : value;
        }
}

/// The addend epilogue (dl_sgemm_isa_fused): bit for bit the bias-only product followed by the Add and
/// ReLU passes, on 1 and 2 threads, nothing past n written.
static void check_gemm_addend(DLSgemmISA isa, int m, int n, int k, const float *a, int lda, const float *b, int ldb, int ldc,
                              const float *bias) {
    float *addend = allocate(sizeof(float) * m * ldc), *expected = allocate(sizeof(float) * m * ldc);
    float *fused = allocate(sizeof(float) * m * ldc);
    fill(addend, (long)m * ldc);
    for (int relu = 0; relu < 2; relu++) {
        CHECK(run_gemm(isa, 1, m, n, k, a, lda, b, ldb, NULL, expected, ldc, 0, bias, 0) == 0, "%s gemm: failed", isa_name(isa));
        add_then_relu(expected, addend, ldc, m, n, relu);
        for (int threads = 1; threads <= 2; threads++) {
            char what[200];
            snprintf(what, sizeof what, "%s gemm m=%d n=%d k=%d bias+addend%s, %d threads, vs the separate Add", isa_name(isa), m,
                     n, k, relu ? "+relu" : "", threads);
            run_gemm(isa, threads, m, n, k, a, lda, b, ldb, NULL, fused, ldc, 0, NULL, 0);  // sets the padding's sentinel
            CHECK(dl_sgemm_isa_fused(isa, m, n, k, a, lda, b, ldb, fused, ldc, 0, bias, addend, relu) == 0, "%s: failed", what);
            check_same(what, expected, fused, ldc, m, n);
            check_padding(what, fused, ldc, m, n);
        }
    }
    dl_sgemm_set_threads(1);
    free(addend), free(expected), free(fused);
}

static void check_gemm_isa(DLSgemmISA isa) {
    int shape_count = (int)(sizeof shapes / sizeof shapes[0]);
    for (int s = 0; s < shape_count; s++) {
        Shape shape = shapes[s];
        int m = shape.m, n = shape.n, k = shape.k;
        int lda = k + 3, ldb = n + 1, ldc = n + 2;
        float *a = allocate(sizeof(float) * m * lda), *b = allocate(sizeof(float) * k * ldb);
        float *bias = allocate(sizeof(float) * m), *c0 = allocate(sizeof(float) * m * ldc);
        float *c1 = allocate(sizeof(float) * m * ldc), *c2 = allocate(sizeof(float) * m * ldc), *c3 = allocate(sizeof(float) * m * ldc);
        double *ref = allocate(sizeof(double) * m * n), *scale = allocate(sizeof(double) * m * n);
        fill(a, (long)m * lda);
        fill(b, (long)k * ldb);
        fill(bias, m);
        fill(c0, (long)m * ldc);
        for (int variant = 0; variant < 3; variant++) {
            // 0: C = A·B; 1: C = ReLU(A·B + bias); 2: C = C + A·B + bias.
            int accumulate = variant == 2, relu = variant == 1;
            const float *row_bias = variant ? bias : NULL;
            const float *before = accumulate ? c0 : NULL;
            char what[160];
            snprintf(what, sizeof what, "%s gemm m=%d n=%d k=%d %s", isa_name(isa), m, n, k,
                     variant == 0 ? "plain" : variant == 1 ? "bias+relu" : "accumulate+bias");
            reference(m, n, k, a, lda, b, ldb, before, ldc, row_bias, relu, ref, scale);
            CHECK(run_gemm(isa, 1, m, n, k, a, lda, b, ldb, before, c1, ldc, accumulate, row_bias, relu) == 0, "%s: failed", what);
            check_close(what, c1, ldc, ref, scale, m, n);
            check_padding(what, c1, ldc, m, n);
            CHECK(run_gemm(isa, 2, m, n, k, a, lda, b, ldb, before, c2, ldc, accumulate, row_bias, relu) == 0, "%s: failed", what);
            char also[400];
            snprintf(also, sizeof also, "%s, 2 threads vs 1", what);
            check_same(also, c1, c2, ldc, m, n);
            // Four threads on this machine's cores: a thread that gets its core late leaves part of its
            // column piece to the others (sgemm.c's shared pieces), wherever the cuts fall the same bits.
            CHECK(run_gemm(isa, 4, m, n, k, a, lda, b, ldb, before, c2, ldc, accumulate, row_bias, relu) == 0, "%s: failed", what);
            snprintf(also, sizeof also, "%s, 4 threads vs 1", what);
            check_same(also, c1, c2, ldc, m, n);
            // Rows in three pieces by separate calls, cut off the tile's 6-row grid.
            for (long p = 0; p < (long)m * ldc; p++) c3[p] = accumulate ? c0[p] : sentinel;
            int cuts[4] = {0, m / 3 + 1 < m ? m / 3 + 1 : m, 0, m};
            cuts[2] = cuts[1] + (m - cuts[1]) / 2;
            dl_sgemm_set_threads(1);
            for (int piece = 0; piece < 3; piece++) {
                int r0 = cuts[piece], r1 = cuts[piece + 1];
                if (r1 <= r0) continue;
                CHECK(dl_sgemm_isa_ex(isa, r1 - r0, n, k, a + (long)r0 * lda, lda, b, ldb, c3 + (long)r0 * ldc, ldc, accumulate,
                                      row_bias ? row_bias + r0 : NULL, relu) == 0,
                      "%s: piece failed", what);
            }
            snprintf(also, sizeof also, "%s, rows in pieces [0,%d) [%d,%d) [%d,%d) vs whole", what, cuts[1], cuts[1], cuts[2],
                     cuts[2], m);
            check_same(also, c1, c3, ldc, m, n);
        }
        check_gemm_addend(isa, m, n, k, a, lda, b, ldb, ldc, bias);
        free(a), free(b), free(bias), free(c0), free(c1), free(c2), free(c3), free(ref), free(scale);
    }
    dl_sgemm_set_threads(1);
    printf("  gemm %-6s %d shapes x 3 epilogues: double reference, 1 vs 2 and 4 threads, row pieces; addend = separate Add\n",
           isa_name(isa), shape_count);
}

// ---------------------------------------------------------------- convolution

typedef struct {
    int channels, in_height, in_width, kernel, stride, dilation, pad, m;
} Conv;

static const Conv convs[] = {
    {3, 9, 11, 3, 1, 1, 1, 7},  {2, 10, 13, 3, 2, 1, 1, 5}, {4, 8, 8, 1, 1, 1, 0, 13}, {3, 15, 17, 7, 2, 1, 3, 6},
    {5, 7, 9, 3, 1, 2, 2, 4},   {1, 6, 5, 5, 3, 1, 2, 3},   {30, 5, 6, 3, 1, 1, 1, 8}, {2, 20, 21, 3, 1, 1, 0, 12},
    {3, 33, 35, 3, 2, 1, 1, 9}, {4, 12, 12, 2, 2, 1, 0, 6},
    // Stride 2 and K above the direct path's 160: packed from the input's prepared copy.
    {20, 13, 15, 3, 2, 1, 1, 70}, {24, 17, 16, 5, 2, 1, 2, 9}, {19, 21, 20, 3, 2, 2, 2, 8},
    // Stride 1, output rows narrower than 16, past the direct path: also from the prepared copy.
    {64, 7, 7, 3, 1, 1, 1, 70}, {24, 9, 9, 3, 1, 2, 2, 66},
    // 1x1 stride 2 and 3 without padding: a plain product of the subsampled input.
    {170, 14, 15, 1, 2, 1, 0, 70}, {9, 13, 17, 1, 3, 1, 0, 5},
    // Few columns, enough rows and work for two threads: row pieces (one block of B and a 1-column tail;
    // on AVX2 two blocks and a 4-column tail), K in several slices.
    {64, 9, 9, 3, 1, 1, 1, 40}, {32, 18, 18, 3, 1, 1, 1, 24},
};

static DLConvGeometry geometry_of(Conv c) {
    DLConvGeometry g = {c.channels, c.in_height, c.in_width, c.kernel, c.kernel, c.stride, c.stride, c.dilation, c.dilation,
                        c.pad, c.pad, 0, 0};
    g.out_height = (c.in_height + 2 * c.pad - c.dilation * (c.kernel - 1) - 1) / c.stride + 1;
    g.out_width = (c.in_width + 2 * c.pad - c.dilation * (c.kernel - 1) - 1) / c.stride + 1;
    return g;
}

/// The im2col matrix (channels·kH·kW, oh·ow) of x.
static void im2col(const DLConvGeometry *g, const float *x, float *columns) {
    int n = g->out_height * g->out_width;
    for (int ch = 0; ch < g->channels; ch++)
        for (int kh = 0; kh < g->kernel_height; kh++)
            for (int kw = 0; kw < g->kernel_width; kw++) {
                long row = ((long)ch * g->kernel_height + kh) * g->kernel_width + kw;
                for (int oh = 0; oh < g->out_height; oh++)
                    for (int ow = 0; ow < g->out_width; ow++) {
                        int ih = oh * g->stride_height - g->pad_top + kh * g->dilation_height;
                        int iw = ow * g->stride_width - g->pad_left + kw * g->dilation_width;
                        int inside = ih >= 0 && ih < g->in_height && iw >= 0 && iw < g->in_width;
                        columns[row * n + oh * g->out_width + ow] =
                            inside ? x[((long)ch * g->in_height + ih) * g->in_width + iw] : 0;
                    }
            }
}

/// `bytes` of memory with an unreadable page right before it (at_end 0) or
/// right after it (at_end 1); release with release_guarded.
static float *guarded(size_t bytes, int at_end, void **base, size_t *length) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t body = (bytes + page - 1) / page * page;
    *length = body + 2 * page;
    char *p = mmap(NULL, *length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        fprintf(stderr, "kernel_check: mmap failed\n");
        exit(2);
    }
    mprotect(p, page, PROT_NONE);
    mprotect(p + page + body, page, PROT_NONE);
    *base = p;
    return (float *)(at_end ? p + page + body - bytes : p + page);
}

/// A convolution entry point with an addend (dl_conv2d_gemm_isa_fused, dl_conv2d_winograd_isa_fused).
typedef int (*FusedConv)(DLSgemmISA, const DLConvGeometry *, int, const float *, const float *, float *, int, const float *,
                         const float *, int);

/// A residual addend through `conv`: its bias-only result, then the Add and ReLU passes, bit for bit, on
/// 1 and 2 threads (y and scratch hold m·n floats each).
static void check_conv_addend(FusedConv conv, const char *what, DLSgemmISA isa, const DLConvGeometry *g, int m, const float *w,
                              const float *x, const float *bias, int relu, float *y, float *scratch) {
    int n = g->out_height * g->out_width;
    float *addend = allocate(sizeof(float) * m * n);
    fill(addend, (long)m * n);
    dl_sgemm_set_threads(1);
    conv(isa, g, m, w, x, scratch, n, bias, NULL, 0);
    add_then_relu(scratch, addend, n, m, n, relu);
    for (int threads = 1; threads <= 2; threads++) {
        dl_sgemm_set_threads(threads);
        CHECK(conv(isa, g, m, w, x, y, n, bias, addend, relu) == 0, "%s: failed", what);
        char also[400];
        snprintf(also, sizeof also, "%s, bias+addend (%d threads) vs the separate Add", what, threads);
        check_same(also, scratch, y, n, m, n);
    }
    dl_sgemm_set_threads(1);
    free(addend);
}

static void check_conv_isa(DLSgemmISA isa) {
    int conv_count = (int)(sizeof convs / sizeof convs[0]);
    for (int s = 0; s < conv_count; s++) {
        DLConvGeometry g = geometry_of(convs[s]);
        int m = convs[s].m, n = g.out_height * g.out_width, k = g.channels * g.kernel_height * g.kernel_width;
        size_t x_count = (size_t)g.channels * g.in_height * g.in_width;
        float *w = allocate(sizeof(float) * m * k), *bias = allocate(sizeof(float) * m), *x = allocate(sizeof(float) * x_count);
        float *columns = allocate(sizeof(float) * k * n), *y_gemm = allocate(sizeof(float) * m * n);
        float *y = allocate(sizeof(float) * m * n), *y2 = allocate(sizeof(float) * m * n);
        double *ref = allocate(sizeof(double) * m * n), *scale = allocate(sizeof(double) * m * n);
        fill(w, (long)m * k);
        fill(bias, m);
        fill(x, (long)x_count);
        im2col(&g, x, columns);
        for (int fused = 0; fused < 2; fused++) {
            const float *row_bias = fused ? bias : NULL;
            char what[200];
            snprintf(what, sizeof what, "%s conv c=%d %dx%d k=%d s=%d d=%d p=%d m=%d%s", isa_name(isa), g.channels, g.in_height,
                     g.in_width, g.kernel_height, g.stride_width, g.dilation_width, g.pad_left, m, fused ? " bias+relu" : "");
            dl_sgemm_set_threads(1);
            CHECK(dl_sgemm_isa_ex(isa, m, n, k, w, k, columns, n, y_gemm, n, 0, row_bias, fused) == 0, "%s: gemm failed", what);
            reference(m, n, k, w, k, columns, n, NULL, 0, row_bias, fused, ref, scale);
            check_close(what, y_gemm, n, ref, scale, m, n);
            for (int at_end = 0; at_end < 2; at_end++) {
                void *base;
                size_t length;
                float *xg = guarded(sizeof(float) * x_count, at_end, &base, &length);
                memcpy(xg, x, sizeof(float) * x_count);
                for (int threads = 1; threads <= 2; threads++) {
                    dl_sgemm_set_threads(threads);
                    CHECK(dl_conv2d_gemm_isa(isa, &g, m, w, xg, y, n, row_bias, fused) == 0, "%s: failed", what);
                    char also[400];
                    snprintf(also, sizeof also, "%s, packed from the image (%d threads, image %s guard page) vs im2col", what,
                             threads, at_end ? "before a" : "after a");
                    check_same(also, y_gemm, y, n, m, n);
                }
                munmap(base, length);
            }
            // Output channels in two pieces.
            dl_sgemm_set_threads(1);
            int cut = m / 2 + 1 < m ? m / 2 + 1 : m;
            dl_conv2d_gemm_isa(isa, &g, cut, w, x, y2, n, row_bias, fused);
            if (cut < m) dl_conv2d_gemm_isa(isa, &g, m - cut, w + (long)cut * k, x, y2 + (long)cut * n, n, row_bias ? row_bias + cut : NULL, fused);
            char also[400];
            snprintf(also, sizeof also, "%s, channels [0,%d) and [%d,%d) vs whole", what, cut, cut, m);
            check_same(also, y_gemm, y2, n, m, n);
            check_conv_addend(dl_conv2d_gemm_isa_fused, what, isa, &g, m, w, x, bias, fused, y, y2);
        }
        free(w), free(bias), free(x), free(columns), free(y_gemm), free(y), free(y2), free(ref), free(scale);
    }
    printf("  conv %-6s %d geometries x 2 epilogues: im2col GEMM bit for bit, guard pages, double reference, pieces\n",
           isa_name(isa), conv_count);
}

// ---------------------------------------------------------------- the slice layout of A

// Products whose A is stored in the slice layout (dl_sgemm_sliced_from_rows): the layout as documented, and
// every product on it bit for bit the same product on the rows, on 1, 2 and 4 threads, plain, bias + ReLU,
// accumulating, with an addend. m: no whole group (5), whole groups only (12), groups and a 1- and 4-row
// remainder (13, 256, 70); k: one slice, a slice and a piece, four and a piece, and whole numbers of slices
// (made in place); n: the dot kernel's 1-4 columns, one tile, a block and a tail, past a block.
static const Shape sliced_shapes[] = {
    {5, 20, 1024}, {12, 17, 300}, {13, 196, 1030}, {256, 49, 1024}, {70, 300, 513}, {13, 3, 600}, {7, 1, 257}, {256, 196, 2048},
    // K a whole number of slices (rearranged in place, block by block): with a remainder of rows, and not.
    {13, 20, 768}, {70, 33, 512}, {12, 5, 256},
};

static void check_sliced_layout(int m, int k, const float *rows, const float *sliced) {
    long whole = (long)m / 6 * 6;
    int slice = dl_sgemm_slice_depth(), wrong = 0;
    for (long i = 0; i < m; i++)
        for (long j = 0; j < k; j++) {
            long p = j / slice * slice, s = k - p < slice ? k - p : slice;
            long at = i < whole ? p * whole + i * s + (j - p) : whole * k + (i - whole) * k + j;
            wrong += memcmp(&sliced[at], &rows[i * k + j], sizeof(float)) != 0;
        }
    CHECK(wrong == 0, "sliced layout m=%d k=%d: %d elements not where the header says", m, k, wrong);
}

static void check_sliced_isa(DLSgemmISA isa) {
    int shape_count = (int)(sizeof sliced_shapes / sizeof sliced_shapes[0]);
    for (int s = 0; s < shape_count; s++) {
        int m = sliced_shapes[s].m, n = sliced_shapes[s].n, k = sliced_shapes[s].k;
        int ldb = n + 1, ldc = n + 2;
        float *a = allocate(sizeof(float) * m * k), *sliced = allocate(sizeof(float) * m * k);
        float *b = allocate(sizeof(float) * k * ldb), *bias = allocate(sizeof(float) * m), *addend = allocate(sizeof(float) * m * ldc);
        float *c0 = allocate(sizeof(float) * m * ldc), *c1 = allocate(sizeof(float) * m * ldc), *c2 = allocate(sizeof(float) * m * ldc);
        fill(a, (long)m * k);
        fill(b, (long)k * ldb);
        fill(bias, m);
        fill(addend, (long)m * ldc);
        fill(c0, (long)m * ldc);
        memcpy(sliced, a, sizeof(float) * m * k);
        CHECK(dl_sgemm_sliced_from_rows(m, k, sliced) == 0, "sliced layout m=%d k=%d: failed", m, k);
        check_sliced_layout(m, k, a, sliced);
        for (int variant = 0; variant < 4; variant++) {
            // 0: plain; 1: bias + ReLU; 2: accumulate + bias; 3: bias + addend + ReLU.
            int accumulate = variant == 2, relu = variant == 1 || variant == 3;
            const float *row_bias = variant ? bias : NULL, *add = variant == 3 ? addend : NULL;
            dl_sgemm_set_threads(1);
            for (long p = 0; p < (long)m * ldc; p++) c1[p] = accumulate && p % ldc < n ? c0[p] : sentinel;
            CHECK(dl_sgemm_isa_fused(isa, m, n, k, a, k, b, ldb, c1, ldc, accumulate, row_bias, add, relu) == 0, "rows failed");
            for (int threads = 1; threads <= 4; threads *= 2) {
                char what[200];
                snprintf(what, sizeof what, "%s gemm on sliced A m=%d n=%d k=%d variant %d, %d threads, vs rows", isa_name(isa), m, n,
                         k, variant, threads);
                dl_sgemm_set_threads(threads);
                for (long p = 0; p < (long)m * ldc; p++) c2[p] = accumulate && p % ldc < n ? c0[p] : sentinel;
                CHECK(dl_sgemm_isa_fused_sliced(isa, m, n, k, sliced, b, ldb, c2, ldc, accumulate, row_bias, add, relu) == 0,
                      "%s: failed", what);
                check_same(what, c1, c2, ldc, m, n);
                check_padding(what, c2, ldc, m, n);
            }
        }
        dl_sgemm_set_threads(1);
        free(a), free(sliced), free(b), free(bias), free(addend), free(c0), free(c1), free(c2);
    }
    // Convolutions with sliced weights: a 1x1 stride-2 one (the input subsampled, then the product) and a 3x3
    // stride-2 one (columns packed from the input), each bit for bit its row-layout twin.
    static const Conv sliced_convs[] = {{1030, 9, 8, 1, 2, 1, 0, 13}, {120, 10, 11, 3, 2, 1, 1, 70}};
    for (int s = 0; s < 2; s++) {
        Conv c = sliced_convs[s];
        DLConvGeometry g = {c.channels, c.in_height, c.in_width, c.kernel, c.kernel, c.stride, c.stride, c.dilation, c.dilation,
                            c.pad, c.pad, (c.in_height + 2 * c.pad - c.dilation * (c.kernel - 1) - 1) / c.stride + 1,
                            (c.in_width + 2 * c.pad - c.dilation * (c.kernel - 1) - 1) / c.stride + 1};
        int k = c.channels * c.kernel * c.kernel, n = g.out_height * g.out_width;
        float *w = allocate(sizeof(float) * c.m * k), *sliced = allocate(sizeof(float) * c.m * k);
        float *x = allocate(sizeof(float) * c.channels * c.in_height * c.in_width), *bias = allocate(sizeof(float) * c.m);
        float *y1 = allocate(sizeof(float) * c.m * n), *y2 = allocate(sizeof(float) * c.m * n);
        fill(w, (long)c.m * k);
        fill(x, (long)c.channels * c.in_height * c.in_width);
        fill(bias, c.m);
        memcpy(sliced, w, sizeof(float) * c.m * k);
        CHECK(dl_sgemm_sliced_from_rows(c.m, k, sliced) == 0, "sliced conv weights: failed");
        dl_sgemm_set_threads(1);
        CHECK(dl_conv2d_gemm_isa_fused(isa, &g, c.m, w, x, y1, n, bias, NULL, 1) == 0, "conv rows failed");
        for (int threads = 1; threads <= 2; threads++) {
            char what[200];
            snprintf(what, sizeof what, "%s conv on sliced weights %dx%d/%d m=%d k=%d, %d threads, vs rows", isa_name(isa), c.kernel,
                     c.kernel, c.stride, c.m, k, threads);
            dl_sgemm_set_threads(threads);
            CHECK(dl_conv2d_gemm_isa_fused_sliced(isa, &g, c.m, sliced, x, y2, n, bias, NULL, 1) == 0, "%s: failed", what);
            check_same(what, y1, y2, n, c.m, n);
        }
        dl_sgemm_set_threads(1);
        free(w), free(sliced), free(x), free(bias), free(y1), free(y2);
    }
    printf("  sliced %-6s %d products x 4 epilogues and 2 convolutions on A in the slice layout: the layout, same bits as rows\n",
           isa_name(isa), shape_count);
}

// ---------------------------------------------------------------- depthwise

typedef struct {
    int channels, in_height, in_width, kernel_height, kernel_width, stride, dilation, pad;
} Depthwise;

static const Depthwise depthwise_cases[] = {
    {3, 9, 11, 3, 3, 1, 1, 1},   {5, 10, 13, 3, 3, 2, 1, 1},  {4, 15, 17, 5, 5, 1, 1, 2}, {6, 15, 17, 5, 5, 2, 1, 2},
    {2, 7, 9, 3, 3, 1, 2, 2},    {9, 33, 35, 3, 3, 2, 1, 1},  {3, 6, 5, 3, 3, 3, 1, 1},   {7, 20, 21, 3, 3, 1, 1, 0},
    {2, 112, 112, 3, 3, 1, 1, 1}, {3, 113, 112, 3, 3, 2, 1, 1}, {1, 4, 300, 7, 1, 1, 1, 3}, {2, 300, 4, 1, 7, 1, 1, 3},
};

static const char *level_label(DLCpuLevel level) { return dl_cpu_level_name(level); }

static void check_depthwise_level(DLCpuLevel level) {
    int count = (int)(sizeof depthwise_cases / sizeof depthwise_cases[0]);
    for (int s = 0; s < count; s++) {
        Depthwise d = depthwise_cases[s];
        DLConvGeometry g = {d.channels, d.in_height, d.in_width, d.kernel_height, d.kernel_width, d.stride, d.stride,
                            d.dilation, d.dilation, d.pad, d.pad, 0, 0};
        g.out_height = (d.in_height + 2 * d.pad - d.dilation * (d.kernel_height - 1) - 1) / d.stride + 1;
        g.out_width = (d.in_width + 2 * d.pad - d.dilation * (d.kernel_width - 1) - 1) / d.stride + 1;
        int taps = d.kernel_height * d.kernel_width, plane = g.out_height * g.out_width;
        size_t x_count = (size_t)d.channels * d.in_height * d.in_width, y_count = (size_t)d.channels * plane;
        float *w = allocate(sizeof(float) * d.channels * taps), *bias = allocate(sizeof(float) * d.channels);
        float *x = allocate(sizeof(float) * x_count), *y = allocate(sizeof(float) * y_count), *y2 = allocate(sizeof(float) * y_count);
        double *ref = allocate(sizeof(double) * y_count), *scale = allocate(sizeof(double) * y_count);
        fill(w, (long)d.channels * taps);
        fill(bias, d.channels);
        fill(x, (long)x_count);
        for (int fused = 0; fused < 2; fused++) {
            for (int c = 0; c < d.channels; c++)
                for (int oh = 0; oh < g.out_height; oh++)
                    for (int ow = 0; ow < g.out_width; ow++) {
                        double sum = fused ? bias[c] : 0, magnitude = fused ? fabs(bias[c]) : 0;
                        for (int kh = 0; kh < d.kernel_height; kh++)
                            for (int kw = 0; kw < d.kernel_width; kw++) {
                                int ih = oh * d.stride - d.pad + kh * d.dilation, iw = ow * d.stride - d.pad + kw * d.dilation;
                                if (ih < 0 || ih >= d.in_height || iw < 0 || iw >= d.in_width) continue;
                                double product = (double)w[c * taps + kh * d.kernel_width + kw] * x[((long)c * d.in_height + ih) * d.in_width + iw];
                                sum += product;
                                magnitude += fabs(product);
                            }
                        long at = (long)c * plane + oh * g.out_width + ow;
                        ref[at] = fused && sum < 0 ? 0 : sum;
                        scale[at] = magnitude;
                    }
            char what[200];
            snprintf(what, sizeof what, "%s depthwise c=%d %dx%d k=%dx%d s=%d d=%d p=%d%s", level_label(level), d.channels, d.in_height,
                     d.in_width, d.kernel_height, d.kernel_width, d.stride, d.dilation, d.pad, fused ? " bias+relu" : "");
            dl_sgemm_set_threads(1);
            CHECK(dl_depthwise_conv2d(level, &g, w, x, y, fused ? bias : NULL, fused) == 0, "%s: failed", what);
            check_close(what, y, plane, ref, scale, d.channels, plane);
            for (int at_end = 0; at_end < 2; at_end++) {
                void *base;
                size_t length;
                float *xg = guarded(sizeof(float) * x_count, at_end, &base, &length);
                memcpy(xg, x, sizeof(float) * x_count);
                for (int threads = 1; threads <= 2; threads++) {
                    dl_sgemm_set_threads(threads);
                    memset(y2, 0, sizeof(float) * y_count);
                    CHECK(dl_depthwise_conv2d(level, &g, w, xg, y2, fused ? bias : NULL, fused) == 0, "%s: failed", what);
                    char also[400];
                    snprintf(also, sizeof also, "%s (%d threads, image %s guard page)", what, threads, at_end ? "before a" : "after a");
                    check_same(also, y, y2, plane, d.channels, plane);
                }
                munmap(base, length);
            }
            dl_sgemm_set_threads(1);
            int cut = d.channels / 2 + 1 < d.channels ? d.channels / 2 + 1 : d.channels;
            DLConvGeometry first = g, rest = g;
            first.channels = cut;
            rest.channels = d.channels - cut;
            dl_depthwise_conv2d(level, &first, w, x, y2, fused ? bias : NULL, fused);
            dl_depthwise_conv2d(level, &rest, w + (long)cut * taps, x + (long)cut * d.in_height * d.in_width, y2 + (long)cut * plane,
                                fused ? bias + cut : NULL, fused);
            char also[400];
            snprintf(also, sizeof also, "%s, channels [0,%d) and [%d,%d) vs whole", what, cut, cut, d.channels);
            check_same(also, y, y2, plane, d.channels, plane);
        }
        free(w), free(bias), free(x), free(y), free(y2), free(ref), free(scale);
    }
    printf("  depthwise %-8s %d geometries x 2 epilogues: double reference, 1 and 2 threads, guard pages, pieces\n",
           level_label(level), count);
}

static void check_depthwise(void) {
    const DLCpuLevel levels[] = {DL_CPU_PORTABLE, DL_CPU_AVX2, DL_CPU_AVX512, DL_CPU_NEON};
    for (int l = 0; l < 4; l++) {
        int allowed = levels[l] == DL_CPU_PORTABLE || (levels[l] == DL_CPU_NEON ? dl_cpu_level() == DL_CPU_NEON
                                                                                 : dl_cpu_level() != DL_CPU_NEON && dl_cpu_level() >= levels[l]);
        if (!allowed) {
            DLConvGeometry g = {1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1};
            float one = 1, out = 0;
            CHECK(dl_depthwise_conv2d(levels[l], &g, &one, &one, &out, NULL, 0) == -1,
                  "depthwise %s is unavailable but did not return -1", level_label(levels[l]));
            continue;
        }
        check_depthwise_level(levels[l]);
    }
}

// ---------------------------------------------------------------- winograd

// Direct convolution (dl_conv2d_direct_isa): outputs at least 16 wide; strides 1 and 2, dilation,
// K over one 256-deep slice, row groups cut short, the dot kernel's last 1-4 columns (n % 64 of 1-4
// and 17-20), including a last output row narrower than its tail would leave vectors for (65 wide).
static const Conv direct_convs[] = {
    {3, 20, 20, 3, 1, 1, 1, 16},   {16, 40, 41, 3, 1, 1, 1, 13}, {3, 33, 35, 3, 2, 1, 1, 9},  {30, 24, 40, 3, 2, 1, 1, 6},
    {3, 40, 38, 7, 2, 1, 3, 64},   {40, 20, 22, 3, 1, 2, 2, 7},  {4, 66, 65, 1, 1, 1, 0, 5},  {8, 17, 130, 5, 2, 1, 2, 70},
    {33, 18, 20, 3, 1, 1, 0, 11},  {2, 3, 66, 3, 1, 1, 1, 3},
    // More output channels with the dot kernel's last columns: 20 (three groups, the last of 2 rows) with a
    // 2-column tail, 33 (a last group of 3 rows) with a 4-column one.
    {4, 66, 65, 1, 1, 1, 0, 20},   {6, 34, 34, 3, 1, 1, 1, 33},
};

/// dl_conv2d_direct_isa: bit for bit the im2col product (what the packed path gives), with bias, addend and
/// ReLU, on 1 and 2 threads; refused (-1) by sets without direct kernels, which then fall back to packing.
static void check_direct_isa(DLSgemmISA isa) {
    int count = (int)(sizeof direct_convs / sizeof direct_convs[0]);
    // A 1x1 convolution of one 16-wide row: whether the set has direct kernels at all.
    float probe_w = 1, probe_x[16] = {0}, probe_y[16];
    DLConvGeometry probe = {1, 1, 16, 1, 1, 1, 1, 1, 1, 0, 0, 1, 16};
    int has_direct = dl_conv2d_direct_isa(isa, &probe, 1, &probe_w, probe_x, probe_y, 16, NULL, NULL, 0) == 0;
    if (!has_direct) {
        printf("  direct %-6s none (the packed path runs)\n", isa_name(isa));
        return;
    }
    for (int s = 0; s < count; s++) {
        DLConvGeometry g = geometry_of(direct_convs[s]);
        int m = direct_convs[s].m, n = g.out_height * g.out_width, k = g.channels * g.kernel_height * g.kernel_width;
        size_t x_count = (size_t)g.channels * g.in_height * g.in_width;
        float *w = allocate(sizeof(float) * m * k), *bias = allocate(sizeof(float) * m), *x = allocate(sizeof(float) * x_count);
        float *columns = allocate(sizeof(float) * k * n), *expected = allocate(sizeof(float) * m * n);
        float *y = allocate(sizeof(float) * m * n), *addend = allocate(sizeof(float) * m * n);
        fill(w, (long)m * k);
        fill(bias, m);
        fill(x, (long)x_count);
        fill(addend, (long)m * n);
        im2col(&g, x, columns);
        for (int variant = 0; variant < 3; variant++) {
            // 0: plain; 1: bias + ReLU; 2: bias + addend + ReLU.
            const float *row_bias = variant ? bias : NULL, *add = variant == 2 ? addend : NULL;
            int relu = variant != 0;
            char what[200];
            snprintf(what, sizeof what, "%s direct c=%d %dx%d k=%d s=%d d=%d p=%d m=%d variant %d", isa_name(isa), g.channels,
                     g.in_height, g.in_width, g.kernel_height, g.stride_width, g.dilation_width, g.pad_left, m, variant);
            dl_sgemm_set_threads(1);
            CHECK(dl_sgemm_isa_fused(isa, m, n, k, w, k, columns, n, expected, n, 0, row_bias, add, relu) == 0, "%s: gemm failed", what);
            for (int threads = 1; threads <= 2; threads++) {
                dl_sgemm_set_threads(threads);
                memset(y, 0, sizeof(float) * m * n);
                CHECK(dl_conv2d_direct_isa(isa, &g, m, w, x, y, n, row_bias, add, relu) == 0, "%s: failed", what);
                char also[400];
                snprintf(also, sizeof also, "%s, %d threads, vs the im2col product", what, threads);
                check_same(also, expected, y, n, m, n);
            }
        }
        free(w), free(bias), free(x), free(columns), free(expected), free(y), free(addend);
    }
    dl_sgemm_set_threads(1);
    DLConvGeometry narrow = geometry_of((Conv){2, 9, 9, 3, 1, 1, 1, 4});
    float one = 0;
    CHECK(dl_conv2d_direct_isa(isa, &narrow, 1, &one, &one, &one, 1, NULL, NULL, 0) == -1, "direct took an output 9 wide");
    printf("  direct %-6s %d geometries x 3 epilogues: bit for bit the im2col product, 1 and 2 threads\n", isa_name(isa), count);
}

/// The Winograd outputs' bound, relative to Σ|w·x| (see dl_conv2d_winograd_isa in dl_sgemm.h): F(2x2, 3x3)
/// measured up to about 1e-6, F(4x4, 3x3), whose transforms scale by up to 8, up to 9e-6 (3 channels, where
/// few terms leave Σ|w·x| small beside the transformed values; 2e-6 from 16 channels).
#define WINOGRAD_TOLERANCE(variant) ((variant) == 4 ? 3e-5 : 1e-5)

/// dl_sgemm_packed_b_isa against dl_sgemm_isa_ex: B packed by hand into 64-wide panels (zero past n).
static void check_packed_b_isa(DLSgemmISA isa) {
    static const Shape packed_shapes[] = {{64, 98, 64}, {128, 49, 128}, {13, 196, 256}, {7, 5, 9}, {6, 20, 1}, {70, 137, 200},
                                          {1, 64, 33}, {11, 300, 160}, {5, 8, 17}, {40, 12, 40}};
    int nr = dl_sgemm_panel_width(isa);
    CHECK(nr == 64, "%s packed B: panel width %d, not the 64 this check packs", isa_name(isa), nr);
    if (nr != 64) return;
    for (size_t s = 0; s < sizeof packed_shapes / sizeof packed_shapes[0]; s++) {
        int m = packed_shapes[s].m, n = packed_shapes[s].n, k = packed_shapes[s].k, ldc = n + 3, panels = (n + 63) / 64;
        float *a = allocate(sizeof(float) * m * k), *b = allocate(sizeof(float) * k * n);
        float *packed = allocate(sizeof(float) * panels * 64 * k);
        float *c0 = allocate(sizeof(float) * m * ldc), *c1 = allocate(sizeof(float) * m * ldc);
        fill(a, (long)m * k);
        fill(b, (long)k * n);
        memset(packed, 0, sizeof(float) * panels * 64 * k);
        for (int q = 0; q < panels; q++)
            for (int kk = 0; kk < k; kk++)
                for (int j = 0; j < 64 && q * 64 + j < n; j++) packed[((long)q * k + kk) * 64 + j] = b[(long)kk * n + q * 64 + j];
        for (long i = 0; i < (long)m * ldc; i++) c0[i] = c1[i] = sentinel;
        char what[160];
        snprintf(what, sizeof what, "%s packed B m=%d n=%d k=%d vs dl_sgemm_isa_ex", isa_name(isa), m, n, k);
        dl_sgemm_set_threads(1);
        int expected = n > 4 ? 0 : -1;
        CHECK(dl_sgemm_packed_b_isa(isa, m, n, k, a, k, packed, c1, ldc) == expected, "%s: status", what);
        if (expected == 0) {
            dl_sgemm_isa_ex(isa, m, n, k, a, k, b, n, c0, ldc, 0, NULL, 0);
            check_same(what, c1, c0, ldc, m, n);
            check_padding(what, c1, ldc, m, n);
        }
        free(a), free(b), free(packed), free(c0), free(c1);
    }
}

static const Conv winograd_convs[] = {
    {16, 12, 12, 3, 1, 1, 1, 16}, {17, 13, 15, 3, 1, 1, 1, 23}, {20, 14, 14, 3, 1, 1, 0, 33}, {40, 23, 21, 3, 1, 1, 1, 13},
    {300, 9, 10, 3, 1, 1, 1, 7},  {3, 5, 6, 3, 1, 1, 2, 4},     {64, 30, 31, 3, 1, 1, 1, 64}, {16, 92, 92, 3, 1, 1, 1, 17},
    // 1024 channels: the transformed weights of 150 filters pass 4 MiB, so the call runs 64 filters at a time.
    {1024, 6, 6, 3, 1, 1, 1, 150},
    // 130 channels at 48x49 outputs: F(4x4, 3x3) by the geometry's own pick (up to 256 channels from 48x48).
    {130, 48, 49, 3, 1, 1, 1, 5},
};

/// dl_conv2d_winograd_isa under `variant` (0: each geometry's own choice; 2 or 4: F(2x2, 3x3) or F(4x4,
/// 3x3) forced for all): within WINOGRAD_TOLERANCE of Σ|w·x| of the double reference (the transforms cost a
/// few roundings more than the direct sum, F(4x4, 3x3)'s more than F(2x2, 3x3)'s), bit for bit on 1 and 2
/// threads and in output-channel pieces. A forced variant skips the geometries that pick it themselves and
/// checks the others more lightly (no pieces, no addend, prepared weights on one thread): under qemu every
/// run counts.
static void check_winograd_isa(DLSgemmISA isa, int variant) {
    double worst = 0;
    int count = (int)(sizeof winograd_convs / sizeof winograd_convs[0]), checked = 0;
    for (int s = 0; s < count; s++) {
        DLConvGeometry g = geometry_of(winograd_convs[s]);
        dl_conv2d_winograd_set_variant(0);
        if (variant && dl_conv2d_winograd_variant(&g) == variant) continue;
        dl_conv2d_winograd_set_variant(variant);
        int full = variant == 0;
        checked++;
        int m = winograd_convs[s].m, n = g.out_height * g.out_width, k = g.channels * 9;
        size_t x_count = (size_t)g.channels * g.in_height * g.in_width;
        float *w = allocate(sizeof(float) * m * k), *bias = allocate(sizeof(float) * m), *x = allocate(sizeof(float) * x_count);
        float *columns = allocate(sizeof(float) * k * n), *y = allocate(sizeof(float) * m * n), *y2 = allocate(sizeof(float) * m * n);
        double *ref = allocate(sizeof(double) * m * n), *scale = allocate(sizeof(double) * m * n);
        fill(w, (long)m * k);
        fill(bias, m);
        fill(x, (long)x_count);
        im2col(&g, x, columns);
        for (int fused = 0; fused < 2; fused++) {
            const float *row_bias = fused ? bias : NULL;
            char what[200];
            snprintf(what, sizeof what, "%s winograd c=%d %dx%d p=%d m=%d%s", isa_name(isa), g.channels, g.in_height, g.in_width,
                     g.pad_left, m, fused ? " bias+relu" : "");
            dl_sgemm_set_threads(1);
            CHECK(dl_conv2d_winograd_isa(isa, &g, m, w, x, y, n, row_bias, fused) == 0, "%s: failed", what);
            reference(m, n, k, w, k, columns, n, NULL, 0, row_bias, fused, ref, scale);
            tolerance = WINOGRAD_TOLERANCE(variant);
            double error = check_close(what, y, n, ref, scale, m, n);
            if (error > worst) worst = error;
            tolerance = 1e-6;
            dl_sgemm_set_threads(2);
            CHECK(dl_conv2d_winograd_isa(isa, &g, m, w, x, y2, n, row_bias, fused) == 0, "%s: failed", what);
            char also[400];
            snprintf(also, sizeof also, "%s, 2 threads vs 1", what);
            check_same(also, y, y2, n, m, n);
            dl_sgemm_set_threads(1);
            if (full) {
                int cut = m / 2 + 1 < m ? m / 2 + 1 : m;
                memset(y2, 0, sizeof(float) * m * n);
                dl_conv2d_winograd_isa(isa, &g, cut, w, x, y2, n, row_bias, fused);
                if (cut < m)
                    dl_conv2d_winograd_isa(isa, &g, m - cut, w + (long)cut * k, x, y2 + (long)cut * n, n, row_bias ? row_bias + cut : NULL,
                                           fused);
                snprintf(also, sizeof also, "%s, channels [0,%d) and [%d,%d) vs whole", what, cut, cut, m);
                check_same(also, y, y2, n, m, n);
                check_conv_addend(dl_conv2d_winograd_isa_fused, what, isa, &g, m, w, x, bias, fused, y, y2);
            }
            // The weights transformed once (dl_conv2d_winograd_prepare): the same bits, with an addend too, 1 and 2 threads.
            long held = dl_kernel_scratch_bytes();
            float *u = dl_conv2d_winograd_prepare(&g, m, w), *addend = allocate(sizeof(float) * m * n);
            float *expected = allocate(sizeof(float) * m * n);
            fill(addend, (long)m * n);
            CHECK(u != NULL, "%s: prepare failed", what);
            CHECK(dl_kernel_scratch_bytes() - held == dl_conv2d_winograd_prepared_floats(&g, m) * (long)sizeof(float),
                  "%s: prepared weights not counted as kernel scratch", what);
            for (int with_addend = 0; with_addend < 1 + full; with_addend++) {
                const float *add = with_addend ? addend : NULL;
                dl_sgemm_set_threads(1);
                CHECK(dl_conv2d_winograd_isa_fused(isa, &g, m, w, x, expected, n, row_bias, add, fused) == 0, "%s: failed", what);
                for (int threads = 1; threads <= 1 + full; threads++) {
                    dl_sgemm_set_threads(threads);
                    for (long i = 0; i < (long)m * n; i++) y2[i] = sentinel;
                    CHECK(dl_conv2d_winograd_prepared_isa(isa, &g, m, u, x, y2, n, row_bias, add, fused) == 0, "%s: prepared failed", what);
                    snprintf(also, sizeof also, "%s, weights prepared once%s, %d threads, vs transformed per call", what,
                             with_addend ? ", addend" : "", threads);
                    check_same(also, expected, y2, n, m, n);
                }
            }
            dl_sgemm_set_threads(1);
            held = dl_kernel_scratch_bytes();
            dl_conv2d_winograd_release(&g, m, u);
            CHECK(held - dl_kernel_scratch_bytes() == dl_conv2d_winograd_prepared_floats(&g, m) * (long)sizeof(float),
                  "%s: prepared weights still counted after release", what);
            free(addend), free(expected);
        }
        free(w), free(bias), free(x), free(columns), free(y), free(y2), free(ref), free(scale);
    }
    DLConvGeometry strided = geometry_of((Conv){16, 12, 12, 3, 2, 1, 1, 16});
    float one = 0;
    CHECK(dl_conv2d_winograd_isa(isa, &strided, 1, &one, &one, &one, 1, NULL, 0) == -1, "winograd took a stride-2 convolution");
    float none = 0;
    CHECK(dl_conv2d_winograd_prepared_isa(isa, &strided, 1, &none, &one, &one, 1, NULL, NULL, 0) == -1,
          "prepared winograd took a stride-2 convolution");
    dl_conv2d_winograd_set_variant(0);
    if (variant == 0)
        printf("  winograd %-6s own pick  %d geometries x 2 epilogues: double reference (worst %.1e, bound %.0e), 1 and 2 threads, "
               "pieces, addend, weights prepared once\n", isa_name(isa), checked, worst, WINOGRAD_TOLERANCE(variant));
    else
        printf("  winograd %-6s %s forced on the other %d: double reference (worst %.1e, bound %.0e), 1 and 2 threads, weights "
               "prepared once\n", isa_name(isa), variant == 2 ? "F(2x2)" : "F(4x4)", checked, worst, WINOGRAD_TOLERANCE(variant));
}

// ---------------------------------------------------------------- sgemv_rows

static void check_sgemv_rows(void) {
    static const int sizes[][2] = {{1, 1}, {3, 15}, {7, 16}, {17, 33}, {64, 257}, {5, 1000}};
    int count = (int)(sizeof sizes / sizeof sizes[0]);
    for (int s = 0; s < count; s++) {
        int n = sizes[s][0], k = sizes[s][1], ldb = k + 1;
        float *a = allocate(sizeof(float) * k), *b = allocate(sizeof(float) * n * ldb);
        float *c = allocate(sizeof(float) * n), *c2 = allocate(sizeof(float) * n);
        double *ref = allocate(sizeof(double) * n), *scale = allocate(sizeof(double) * n);
        fill(a, k);
        fill(b, (long)n * ldb);
        dl_sgemv_rows(n, k, a, b, ldb, c, 1.0f, 0);
        reference(n, 1, k, b, ldb, a, 1, NULL, 0, NULL, 0, ref, scale);
        char what[80];
        snprintf(what, sizeof what, "sgemv_rows n=%d k=%d", n, k);
        check_close(what, c, 1, ref, scale, n, 1);
        int cut = n / 2;
        dl_sgemv_rows(cut, k, a, b, ldb, c2, 1.0f, 0);
        dl_sgemv_rows(n - cut, k, a, b + (long)cut * ldb, ldb, c2 + cut, 1.0f, 0);
        snprintf(what, sizeof what, "sgemv_rows n=%d k=%d, rows in two pieces", n, k);
        check_same(what, c, c2, 1, n, 1);
        free(a), free(b), free(c), free(c2), free(ref), free(scale);
    }
    printf("  sgemv_rows (portable C) %d sizes: double reference, row pieces\n", count);
}

// ---------------------------------------------------------------- elementwise

/// The AVX2 path's steps one value at a time, fused where it fuses.
static float model_exp(float x) {
    if (x != x) return x;
    float c = fminf(fmaxf(x, -87.33654f), 88.37626f);
    float n = nearbyintf(c * 1.44269504f);
    float r = fmaf(-n, 0.693359375f, c);
    r = fmaf(n, 2.1219444e-4f, r);
    float p = 1.98756915e-4f;
    p = fmaf(p, r, 1.39819995e-3f);
    p = fmaf(p, r, 8.3334519e-3f);
    p = fmaf(p, r, 4.16657959e-2f);
    p = fmaf(p, r, 1.66666655e-1f);
    p = fmaf(p, r, 5.00000012e-1f);
    float e = fmaf(p, r * r, r) + 1.0f;
    uint32_t bits = (uint32_t)((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return e * scale;
}
static float model_sigmoid(float x) { return 1.0f / (1.0f + model_exp(0.0f - x)); }
static float model_silu(float x) { return x * model_sigmoid(x); }
static float model_tanh(float x) { return 1.0f - 2.0f / (model_exp(x + x) + 1.0f); }
static float model_erf(float x) {
    uint32_t bits, sign;
    memcpy(&bits, &x, sizeof bits);
    sign = bits & 0x80000000u;
    bits ^= sign;
    float a;
    memcpy(&a, &bits, sizeof a);
    float t = 1.0f / fmaf(0.3275911f, a, 1.0f);
    float p = 1.061405429f;
    p = fmaf(p, t, -1.453152027f);
    p = fmaf(p, t, 1.421413741f);
    p = fmaf(p, t, -0.284496736f);
    p = fmaf(p, t, 0.254829592f);
    float e = model_exp(0.0f - a * a);
    float y = fmaf(-(p * t), e, 1.0f);
    memcpy(&bits, &y, sizeof bits);
    bits ^= sign;
    memcpy(&y, &bits, sizeof y);
    return y;
}
static float model_gelu(float x) {
    float half = 0.5f * x;
    return fmaf(half, model_erf(x * 0.70710678f), half);
}
static float model_gelu_tanh(float x) {
    float cube = (x * x) * x;
    float inner = 0.79788456f * fmaf(0.044715f, cube, x);
    float half = 0.5f * x;
    return fmaf(half, model_tanh(inner), half);
}
static float model_exp_sum(const float *x, float *y, size_t count, float shift) {
    float lanes[8] = {0};
    for (size_t i = 0; i < count; i++) {
        y[i] = model_exp(x[i] - shift);
        lanes[i % 8] = lanes[i % 8] + y[i];
    }
    float half[4];
    for (int l = 0; l < 4; l++) half[l] = lanes[l] + lanes[l + 4];
    return (half[0] + half[2]) + (half[1] + half[3]);
}

static double exact_sigmoid(double x) { return 1 / (1 + exp(-x)); }
static double exact_silu(double x) { return x / (1 + exp(-x)); }
static double exact_gelu(double x) { return x / 2 * (1 + erf(x / sqrt(2))); }
static double exact_gelu_tanh(double x) { return x / 2 * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x))); }

typedef void (*Map)(const float *, float *, size_t);
typedef void (*MapBias)(const float *, float *, size_t, float);

typedef struct {
    const char *name;
    Map map;          // or
    MapBias map_bias;
    float (*model)(float);
    double (*exact)(double);
    double absolute, relative;  // allowed |y - exact| ≤ absolute + relative·|exact| (for x in [-20, 20])
} Function;

/// Both NaN, or the same bits.
static int same_value(float x, float y) { return (x != x && y != y) || memcmp(&x, &y, sizeof x) == 0; }

static const float specials[] = {0.0f, -0.0f, 1e-8f, -1e-8f, 88.0f, 89.0f, -87.0f, -88.0f, -100.0f, 100.0f,
                                 INFINITY, -INFINITY, NAN, 0.5f, -0.5f, 3.0f, -3.0f};

static void inputs(float *x, size_t count) {
    for (size_t i = 0; i < count; i++) x[i] = 12.0f * uniform();
    for (size_t i = 0; i < count && i < sizeof specials / sizeof specials[0]; i += 1) x[(i * 7) % count] = specials[i];
}

/// The scalar model of a max pool (Pool.swift's portable loops): each window
/// clipped to the input, maxima `next > value ? next : value` in row, then
/// column, order, the rows reduced first.
static float model_max_window(const float *plane, const DLPoolGeometry *g, int oh, int ow) {
    int h0 = oh * g->stride_height - g->pad_top, w0 = ow * g->stride_width - g->pad_left;
    int h1 = h0 + g->kernel_height > g->in_height ? g->in_height : h0 + g->kernel_height;
    int w1 = w0 + g->kernel_width > g->in_width ? g->in_width : w0 + g->kernel_width;
    if (h0 < 0) h0 = 0;
    if (w0 < 0) w0 = 0;
    float result = 0;
    for (int w = w0; w < w1; w++) {
        float column = plane[h0 * g->in_width + w];
        for (int h = h0 + 1; h < h1; h++) {
            float next = plane[h * g->in_width + w];
            column = next > column ? next : column;
        }
        result = w == w0 ? column : (column > result ? column : result);
    }
    return result;
}

/// dl_avx2_max_pool / dl_neon_max_pool bit for bit the scalar model, on rows
/// wide enough for the vector loops and their tails, strides 1, 2 and 3, with
/// NaNs and zeros of both signs in the input.
static void check_max_pool(const char *set, void (*pool)(const float *, float *, long, const DLPoolGeometry *, float *)) {
    static const DLPoolGeometry shapes[] = {
        {23, 45, 12, 23, 3, 3, 2, 2, 1, 1},  // ResNet's 3x3 stride 2 pad 1
        {9, 40, 9, 40, 5, 5, 1, 1, 2, 2},    // YOLO's SPPF 5x5 stride 1 pad 2
        {6, 19, 6, 19, 2, 2, 1, 1, 0, 0},    // 2x2 stride 1, padded at the end
        {10, 50, 3, 16, 3, 3, 3, 3, 0, 0},   // stride 3: one output at a time
        {10, 41, 5, 21, 3, 3, 2, 2, 0, 0},   // ceil mode: the last window clipped
        {8, 37, 9, 19, 2, 3, 1, 2, 1, 0},    // uneven kernel and strides
    };
    enum { PLANES = 3 };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const DLPoolGeometry *g = &shapes[s];
        long in_plane = (long)g->in_height * g->in_width, out_plane = (long)g->out_height * g->out_width;
        float *x = malloc(sizeof(float) * PLANES * in_plane), *y = malloc(sizeof(float) * PLANES * out_plane);
        float *row = calloc((size_t)g->in_width + 16, sizeof(float));
        if (!x || !y || !row) abort();
        fill(x, PLANES * in_plane);
        for (long i = 0; i < PLANES * in_plane; i += 7) x[i] = i % 3 == 0 ? NAN : (i % 2 == 0 ? 0.0f : -0.0f);
        pool(x, y, PLANES, g, row);
        long differing = 0, first = -1;
        for (long p = 0; p < PLANES; p++)
            for (int oh = 0; oh < g->out_height; oh++)
                for (int ow = 0; ow < g->out_width; ow++) {
                    float expected = model_max_window(x + p * in_plane, g, oh, ow);
                    float got = y[p * out_plane + oh * g->out_width + ow];
                    uint32_t a, b;
                    memcpy(&a, &expected, 4);
                    memcpy(&b, &got, 4);
                    if (a != b && differing++ == 0) first = p * out_plane + oh * g->out_width + ow;
                }
        CHECK(differing == 0, "%s max pool %dx%d stride %dx%d on %dx%d: %ld outputs differ from the model, the first at %ld", set,
              g->kernel_height, g->kernel_width, g->stride_height, g->stride_width, g->in_height, g->in_width, differing, first);
        free(x), free(y), free(row);
    }
}

static void check_elementwise(const char *set, const Function *functions, int function_count, float (*exp_sum)(const float *, float *, size_t, float),
                              void (*softmax_line)(const float *, float *, size_t),
                              void (*exp_accumulate)(const float *, const float *, float *, float *, size_t)) {
    static const size_t counts[] = {0, 1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 100, 1027};
    float x[1027], y[1027], expected[1027], maxima[1027], sums[1027], model_sums[1027];
    for (int f = 0; f < function_count; f++) {
        const Function *function = &functions[f];
        for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
            size_t count = counts[c];
            float bias = function->map_bias ? 0.25f : 0.0f;
            inputs(x, count);
            for (size_t i = 0; i < count; i++) expected[i] = function->model(x[i] + bias);
            if (function->map) function->map(x, y, count);
            else function->map_bias(x, y, count, bias);
            size_t i = 0;
            while (i < count && same_value(y[i], expected[i])) i++;
            CHECK(i == count, "%s %s count %zu: y[%zu] = %.9g for x %.9g, the AVX2 steps give %.9g", set, function->name, count, i,
                  i < count ? y[i] : 0, i < count ? x[i] : 0, i < count ? expected[i] : 0);
            // In place.
            memcpy(y, x, sizeof(float) * count);
            if (function->map) function->map(y, y, count);
            else function->map_bias(y, y, count, bias);
            for (i = 0; i < count && same_value(y[i], expected[i]); i++) {}
            CHECK(i == count, "%s %s count %zu in place: y[%zu] differs", set, function->name, count, i);
        }
    }
    for (size_t c = 1; c < sizeof counts / sizeof counts[0]; c++) {
        size_t count = counts[c];
        for (size_t i = 0; i < count; i++) x[i] = 20.0f * uniform();
        float total = exp_sum(x, y, count, 3.0f), model_total = model_exp_sum(x, expected, count, 3.0f);
        size_t i = 0;
        while (i < count && same_value(y[i], expected[i])) i++;
        CHECK(i == count && same_value(total, model_total), "%s exp_sum count %zu: sum %.9g vs %.9g, first difference at %zu", set,
              count, total, model_total, i);
        softmax_line(x, y, count);
        float maximum = x[0];
        for (i = 0; i < count; i++) maximum = x[i] > maximum ? x[i] : maximum;
        float scale = 1.0f / model_exp_sum(x, expected, count, maximum);
        for (i = 0; i < count; i++) expected[i] *= scale;
        for (i = 0; i < count && same_value(y[i], expected[i]); i++) {}
        CHECK(i == count, "%s softmax_line count %zu: y[%zu] = %.9g vs %.9g", set, count, i, i < count ? y[i] : 0,
              i < count ? expected[i] : 0);
        for (i = 0; i < count; i++) {
            maxima[i] = 20.0f * uniform();
            sums[i] = model_sums[i] = uniform() + 1.0f;
        }
        exp_accumulate(x, maxima, y, sums, count);
        for (i = 0; i < count; i++) {
            expected[i] = model_exp(x[i] - maxima[i]);
            model_sums[i] = model_sums[i] + expected[i];
        }
        for (i = 0; i < count && same_value(y[i], expected[i]) && same_value(sums[i], model_sums[i]); i++) {}
        CHECK(i == count, "%s exp_accumulate count %zu: differs at %zu", set, count, i);
    }
    printf("  elementwise %-6s %d functions + exp_sum, softmax_line, exp_accumulate: bit for bit the AVX2 steps\n", set,
           function_count);
}

/// The model (so every vector path) within each function's stated accuracy of libm in double.
static void check_model_accuracy(const Function *functions, int function_count) {
    for (int f = 0; f < function_count; f++) {
        const Function *function = &functions[f];
        double worst = 0;
        float worst_at = 0;
        for (int i = 0; i <= 40000; i++) {
            float x = -20.0f + 40.0f * (float)i / 40000.0f;
            double exact = function->exact(x), error = fabs(function->model(x) - exact);
            double excess = error / (function->absolute + function->relative * fabs(exact));
            if (excess > worst) worst = excess, worst_at = x;
        }
        CHECK(worst <= 1, "%s: error %.3g of its allowance at x = %.9g", function->name, worst, worst_at);
    }
    printf("  elementwise model: %d functions within their stated accuracy of libm over [-20, 20]\n", function_count);
}

static double exact_exp(double x) { return exp(x); }
static double exact_tanh(double x) { return tanh(x); }
static double exact_erf(double x) { return erf(x); }

// ---------------------------------------------------------------- scratch accounting

typedef struct {
    DLSgemmISA isa;
    long held_inside;  // dl_kernel_scratch_bytes() just before the thread returns
} ScratchThread;

/// One Winograd and one packed convolution, as a session's layer would run them.
static void scratch_convs(DLSgemmISA isa) {
    static float x[32 * 30 * 30], w[40 * 32 * 9], y[40 * 30 * 30];
    for (int i = 0; i < (int)(sizeof x / sizeof x[0]); i++) x[i] = (float)((i * 7) % 11) * 0.1f - 0.5f;
    for (int i = 0; i < (int)(sizeof w / sizeof w[0]); i++) w[i] = (float)((i * 5) % 13) * 0.01f - 0.06f;
    DLConvGeometry g = {32, 30, 30, 3, 3, 1, 1, 1, 1, 1, 1, 30, 30};
    dl_conv2d_winograd_isa(isa, &g, 40, w, x, y, 30 * 30, NULL, 0);
    DLConvGeometry s = {32, 30, 30, 3, 3, 2, 2, 1, 1, 1, 1, 15, 15};
    dl_conv2d_gemm_isa(isa, &s, 40, w, x, y, 15 * 15, NULL, 0);
}

static void *scratch_thread(void *argument) {
    ScratchThread *t = argument;
    scratch_convs(t->isa);
    t->held_inside = dl_kernel_scratch_bytes();
    return NULL;
}

/// dl_kernel_scratch_bytes counts what the kernels keep: calls repeated on one thread leave it where the
/// first left it, a thread that runs kernels adds its buffers while it lives and gives them back when it
/// exits, and the peak covers what was held.
static void check_scratch_accounting(DLSgemmISA isa) {
    dl_sgemm_set_threads(1);
    scratch_convs(isa);
    long held = dl_kernel_scratch_bytes();
    CHECK(held >= 512 << 10, "%s scratch: %ld bytes held after two convolutions (packing buffers alone are 520 KiB)",
          isa_name(isa), held);
    for (int round = 0; round < 3; round++) scratch_convs(isa);
    CHECK(dl_kernel_scratch_bytes() == held, "%s scratch: %ld bytes after repeated calls, %ld after the first", isa_name(isa),
          dl_kernel_scratch_bytes(), held);
    ScratchThread t = {isa, 0};
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, scratch_thread, &t) == 0, "pthread_create");
    pthread_join(thread, NULL);
    CHECK(t.held_inside > held, "%s scratch: another thread's buffers were not counted (%ld, %ld before)", isa_name(isa),
          t.held_inside, held);
    CHECK(dl_kernel_scratch_bytes() == held, "%s scratch: %ld bytes after the thread exited, %ld before it started",
          isa_name(isa), dl_kernel_scratch_bytes(), held);
    CHECK(dl_kernel_scratch_peak_bytes() >= t.held_inside, "%s scratch: peak %ld below %ld", isa_name(isa),
          dl_kernel_scratch_peak_bytes(), t.held_inside);
    printf("  scratch %-6s held %ld bytes by this thread; counted while another thread lived, given back when it exited\n",
           isa_name(isa), held);
}

int main(void) {
    int forced = dl_kernels_forced_portable();
    printf("kernel_check: %s, cpu level %s%s\n",
#if defined(__aarch64__)
           "aarch64",
#elif defined(__x86_64__)
           "x86-64",
#else
           "other",
#endif
           dl_cpu_level_name(dl_cpu_level()), forced ? " (DEMANDLAYER_PORTABLE_KERNELS set)" : "");
    // KERNEL_CHECK_LEVEL_ONLY=1 stops after that line: CI checks which level a DEMANDLAYER_CPU
    // setting leads to without running every check again (they depend on the level alone).
    const char *level_only = getenv("KERNEL_CHECK_LEVEL_ONLY");
    if (level_only != NULL && level_only[0] != '\0' && strcmp(level_only, "0") != 0) return 0;

    const DLSgemmISA isas[] = {DL_SGEMM_NEON, DL_SGEMM_AVX512, DL_SGEMM_AVX2};
    int tested = 0;
    for (int s = 0; s < 3; s++) {
        if (!dl_sgemm_isa_available(isas[s])) {
            float one = 1, out = 0;
            CHECK(dl_sgemm_isa_ex(isas[s], 1, 1, 1, &one, 1, &one, 1, &out, 1, 0, NULL, 0) == -1,
                  "%s is unavailable but dl_sgemm_isa_ex did not return -1", isa_name(isas[s]));
            continue;
        }
        check_gemm_isa(isas[s]);
        check_sliced_isa(isas[s]);
        check_conv_isa(isas[s]);
        check_packed_b_isa(isas[s]);
        // Each geometry's own pick, then F(4x4, 3x3) forced on the geometries that pick F(2x2, 3x3) (which
        // the own picks cover on seven geometries).
        check_winograd_isa(isas[s], 0);
        check_winograd_isa(isas[s], 4);
        check_direct_isa(isas[s]);
        check_scratch_accounting(isas[s]);
        tested++;
    }
#if defined(__aarch64__)
    // ARMv8-A always has NEON: only DEMANDLAYER_CPU=portable or DEMANDLAYER_PORTABLE_KERNELS turn it off.
    const char *wanted = getenv("DEMANDLAYER_CPU");
    int portable_wanted = forced || (wanted && strcmp(wanted, "portable") == 0);
    CHECK(dl_cpu_level() == (portable_wanted ? DL_CPU_PORTABLE : DL_CPU_NEON), "aarch64 level %s with DEMANDLAYER_CPU=%s",
          dl_cpu_level_name(dl_cpu_level()), wanted ? wanted : "(unset)");
    CHECK(dl_sgemm_isa_available(DL_SGEMM_NEON) == !portable_wanted, "NEON sgemm availability");
    CHECK(dl_kernels_have_neon() == !portable_wanted, "NEON elementwise availability");
    CHECK(!dl_kernels_have_avx2() && !dl_sgemm_isa_available(DL_SGEMM_AVX2), "AVX2 reported on aarch64");
    if (!portable_wanted) CHECK(dl_sgemm_best_isa() == DL_SGEMM_NEON, "best set is not NEON on aarch64");
#endif
    if (forced) CHECK(!dl_sgemm_available() && !dl_kernels_have_neon() && !dl_kernels_have_avx2(), "a vector path is still available");
    if (!tested) printf("  gemm: no CKernels set on this CPU / environment (the library calls OpenBLAS)\n");
    CHECK(dl_sgemm_available() == (tested > 0), "dl_sgemm_available disagrees with the sets");

    check_sgemv_rows();
    check_depthwise();

    // Allowances: exp about 2 ulp; erf 4e-7 absolute (Abramowitz-Stegun 7.1.26 gives 1.5e-7; 1 - p·t·e^(-x²) loses
    // about 2 ulp of 1 near x = 0 in float); the rest inherit those through their formulas (GELU's x/2 factor included).
    Function functions[] = {
        {"sigmoid", NULL, NULL, model_sigmoid, exact_sigmoid, 1e-7, 3e-7},
        {"silu", NULL, NULL, model_silu, exact_silu, 1e-7, 3e-7},
        {"tanh", NULL, NULL, model_tanh, exact_tanh, 2e-7, 0},
        {"erf", NULL, NULL, model_erf, exact_erf, 4e-7, 0},
        {"gelu", NULL, NULL, model_gelu, exact_gelu, 6e-7, 2e-7},
        {"gelu_tanh", NULL, NULL, model_gelu_tanh, exact_gelu_tanh, 6e-7, 2e-7},
        {"exp", NULL, NULL, model_exp, exact_exp, 0, 2.4e-7},
    };
    int function_count = (int)(sizeof functions / sizeof functions[0]);
    check_model_accuracy(functions, function_count);
    if (dl_kernels_have_neon() || dl_kernels_have_avx2()) {
        int neon = dl_kernels_have_neon();
        MapBias sigmoid = neon ? dl_neon_sigmoid : dl_avx2_sigmoid, silu = neon ? dl_neon_silu : dl_avx2_silu;
        Map maps[] = {neon ? dl_neon_tanh : dl_avx2_tanh, neon ? dl_neon_erf : dl_avx2_erf, neon ? dl_neon_gelu : dl_avx2_gelu,
                      neon ? dl_neon_gelu_tanh : dl_avx2_gelu_tanh, neon ? dl_neon_exp : dl_avx2_exp};
        functions[0].map_bias = sigmoid;
        functions[1].map_bias = silu;
        for (int f = 2; f < function_count; f++) functions[f].map = maps[f - 2];
        check_elementwise(neon ? "neon" : "avx2", functions, function_count, neon ? dl_neon_exp_sum : dl_avx2_exp_sum,
                          neon ? dl_neon_softmax_line : dl_avx2_softmax_line, neon ? dl_neon_exp_accumulate : dl_avx2_exp_accumulate);
        check_max_pool(neon ? "neon" : "avx2", neon ? dl_neon_max_pool : dl_avx2_max_pool);
    } else {
        printf("  elementwise: no vector set on this CPU / environment (the library runs its Swift SIMD path)\n");
    }

    printf("kernel_check: %ld checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
