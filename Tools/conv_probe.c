// Milliseconds per ResNet-50 convolution shape on each x86 kernel set
// (AVX-512 and AVX2 + FMA; DEMANDLAYER_CPU narrows them), the way a session
// runs them: 1x1 stride-1 layers as dl_sgemm_isa_ex on the input, 3x3 stride-1
// ones large enough for it (on that set) through Winograd, the rest through
// dl_conv2d_gemm_isa (columns packed from the input), all with bias and ReLU.
//
// Two choices make the figures hold on a shared machine and match a real run:
// - the time is the calling thread's CPU time (CLOCK_THREAD_CPUTIME_ID), so a
//   round the scheduler interrupts is not counted (1 thread only; with more,
//   the helpers' time is not counted at all);
// - each call reads a different copy of the weights out of about 96 MiB of
//   them, so the weights come from memory as in a session (ResNet-50's 98 MiB
//   do not fit in cache), not from a cache warmed by the last round.
// The sets alternate round by round; medians, and the sum weighted by how
// many layers of ResNet-50 have each shape.
//
//   clang -O2 -ISources/CKernels/include -ISources/CKernels Tools/conv_probe.c Sources/CKernels/sgemm.c \
//       Sources/CKernels/sgemm_avx512.c Sources/CKernels/sgemm_avx2.c Sources/CKernels/sgemm_neon.c \
//       Sources/CKernels/sgemm_pool.c Sources/CKernels/cpu_level.c Sources/CKernels/winograd.c -lpthread -lm \
//       -o /tmp/conv-probe
//   /tmp/conv-probe [rounds] [shape name]
// DL_PROBE_MINIMUM=1 reports the fastest round instead of the median (wall-clock time on a busy host).
// DL_PROBE_RESIDUAL=1 adds a residual (an addend shaped as the output) in the epilogue, as a fused Add does.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dl_sgemm.h"

/// DL_PROBE_THREADS=N (default 1): threads per product; with more than one
/// the time is wall-clock time instead (helpers' CPU time is not the caller's).
static int probe_threads = 1;

static double thread_seconds(void) {
    struct timespec t;
    clock_gettime(probe_threads > 1 ? CLOCK_MONOTONIC : CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int ascending(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

/// One convolution of ResNet-50 (224x224 input): m output channels, c input
/// channels at h x w, a k x k kernel with stride s and padding p; `layers` of them.
typedef struct {
    const char *name;
    int m, c, h, w, k, s, p, layers;
} Shape;

enum { SETS = 2, MAX_ROUNDS = 64 };

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 9;
    const char *only = argc > 2 ? argv[2] : NULL;
    if (rounds < 1 || rounds > MAX_ROUNDS) rounds = 9;
    static const Shape shapes[] = {
        {"stem 7x7/2", 64, 3, 224, 224, 7, 2, 3, 1},
        {"1x1 64-64 56", 64, 64, 56, 56, 1, 1, 0, 1},
        {"3x3 64 56", 64, 64, 56, 56, 3, 1, 1, 3},
        {"1x1 64-256 56", 256, 64, 56, 56, 1, 1, 0, 4},
        {"1x1 256-64 56", 64, 256, 56, 56, 1, 1, 0, 2},
        {"1x1/2 256-128", 128, 256, 56, 56, 1, 2, 0, 1},
        {"1x1/2 256-512", 512, 256, 56, 56, 1, 2, 0, 1},
        {"3x3 128 28", 128, 128, 28, 28, 3, 1, 1, 4},
        {"1x1 128-512 28", 512, 128, 28, 28, 1, 1, 0, 4},
        {"1x1 512-128 28", 128, 512, 28, 28, 1, 1, 0, 3},
        {"1x1/2 512-256", 256, 512, 28, 28, 1, 2, 0, 1},
        {"1x1/2 512-1024", 1024, 512, 28, 28, 1, 2, 0, 1},
        {"3x3 256 14", 256, 256, 14, 14, 3, 1, 1, 6},
        {"1x1 256-1024 14", 1024, 256, 14, 14, 1, 1, 0, 6},
        {"1x1 1024-256 14", 256, 1024, 14, 14, 1, 1, 0, 5},
        {"1x1/2 1024-512", 512, 1024, 14, 14, 1, 2, 0, 1},
        {"1x1/2 1024-2048", 2048, 1024, 14, 14, 1, 2, 0, 1},
        {"3x3 512 7", 512, 512, 7, 7, 3, 1, 1, 3},
        {"1x1 512-2048 7", 2048, 512, 7, 7, 1, 1, 0, 3},
        {"1x1 2048-512 7", 512, 2048, 7, 7, 1, 1, 0, 2},
        // Not ResNet-50's (counted 0 times in the sum): YOLOv8n's 3x3 at 20x20 (320x320 input).
        {"3x3 64 20", 64, 64, 20, 20, 3, 1, 1, 0},
        {"3x3/2 128 56", 128, 128, 56, 56, 3, 2, 1, 0},
        {"3x3/2 256 28", 256, 256, 28, 28, 3, 2, 1, 0},
        {"3x3/2 3-16 320", 16, 3, 320, 320, 3, 2, 1, 0},
        {"3x3/2 16-32 160", 32, 16, 160, 160, 3, 2, 1, 0},
        {"3x3 16 80", 16, 16, 80, 80, 3, 1, 1, 0},
        {"3x3/2 32-64 80", 64, 32, 80, 80, 3, 2, 1, 0},
        {"3x3/2 64-128 40", 128, 64, 40, 40, 3, 2, 1, 0},
        {"3x3 256-64 10", 64, 256, 10, 10, 3, 1, 1, 0},
    };
    static const DLSgemmISA sets[SETS] = {DL_SGEMM_AVX512, DL_SGEMM_AVX2};
    static const char *const set_names[SETS] = {"AVX-512", "AVX2"};
    if (!dl_sgemm_isa_available(DL_SGEMM_AVX2)) {
        fprintf(stderr, "conv_probe: no x86 kernel set available here (needs AVX2 + FMA)\n");
        return 77;
    }
    int both = dl_sgemm_isa_available(DL_SGEMM_AVX512);
    const int use_minimum = getenv("DL_PROBE_MINIMUM") && atoi(getenv("DL_PROBE_MINIMUM")) != 0;
    const int residual = getenv("DL_PROBE_RESIDUAL") && atoi(getenv("DL_PROBE_RESIDUAL")) != 0;
    if (getenv("DL_PROBE_THREADS")) probe_threads = atoi(getenv("DL_PROBE_THREADS")) > 1 ? atoi(getenv("DL_PROBE_THREADS")) : 1;
    dl_sgemm_set_threads(probe_threads);
    printf("%d thread(s), %s, cold weights, %s of %d rounds\n%-16s %10s %10s %7s  path\n", probe_threads,
           probe_threads > 1 ? "wall-clock time" : "thread CPU time", use_minimum ? "minimum" : "median", rounds, "shape",
           "AVX-512 ms", "AVX2 ms", "ratio");
    double total[SETS] = {0, 0};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        Shape q = shapes[s];
        if (only && strcmp(only, q.name) != 0) continue;
        DLConvGeometry g = {q.c, q.h, q.w, q.k, q.k, q.s, q.s, 1, 1, q.p, q.p,
                            (q.h + 2 * q.p - q.k) / q.s + 1, (q.w + 2 * q.p - q.k) / q.s + 1};
        long depth = (long)q.c * q.k * q.k, n = (long)g.out_height * g.out_width, weights = q.m * depth;
        int copies = (int)((96L << 20) / (4 * weights)) + 2;
        float *pool = malloc(sizeof(float) * weights * copies), *x = malloc(sizeof(float) * q.c * q.h * q.w);
        float *y = malloc(sizeof(float) * q.m * n), *bias = malloc(sizeof(float) * q.m);
        float *r = residual ? malloc(sizeof(float) * q.m * n) : NULL;
        if (!pool || !x || !y || !bias || (residual && !r)) return 1;
        for (long i = 0; residual && i < (long)q.m * n; i++) r[i] = (float)((i * 3) % 7) * 0.1f - 0.3f;
        for (long i = 0; i < weights; i++) pool[i] = (float)((i * 7) % 13) * 0.01f - 0.06f;
        for (int copy = 1; copy < copies; copy++) memcpy(pool + copy * weights, pool, sizeof(float) * weights);
        for (long i = 0; i < (long)q.c * q.h * q.w; i++) x[i] = (float)((i * 5) % 11) * 0.1f - 0.5f;
        for (int i = 0; i < q.m; i++) bias[i] = 0.01f * i;
        int pointwise = q.k == 1 && q.s == 1;
        int winograd[SETS] = {dl_conv2d_winograd_wanted(sets[0], &g), dl_conv2d_winograd_wanted(sets[1], &g)};
        const char *path = winograd[0] && winograd[1] ? "winograd" : winograd[1] ? "winograd on AVX2, else packed"
                           : pointwise                ? "sgemm"
                                                      : "packed";
        double seconds[SETS][MAX_ROUNDS];
        int next_copy = 0;
        for (int round = 0; round < rounds; round++) {
            for (int turn = 0; turn < SETS; turn++) {
                int set = round & 1 ? SETS - 1 - turn : turn;
                if (!both && set == 0) continue;
                const float *w = pool + (long)(next_copy++ % copies) * weights;
                double start = thread_seconds();
                if (winograd[set]) dl_conv2d_winograd_isa_fused(sets[set], &g, q.m, w, x, y, (int)n, bias, r, 1);
                else if (pointwise) dl_sgemm_isa_fused(sets[set], q.m, (int)n, q.c, w, q.c, x, (int)n, y, (int)n, 0, bias, r, 1);
                else dl_conv2d_gemm_isa_fused(sets[set], &g, q.m, w, x, y, (int)n, bias, r, 1);
                seconds[set][round] = thread_seconds() - start;
            }
        }
        double median[SETS] = {0, 0};
        for (int set = both ? 0 : 1; set < SETS; set++) {
            qsort(seconds[set], rounds, sizeof(double), ascending);
            median[set] = seconds[set][use_minimum ? 0 : rounds / 2];
            total[set] += median[set] * q.layers;
        }
        printf("%-16s %10.3f %10.3f %7.3f  %s x%d\n", q.name, median[0] * 1e3, median[1] * 1e3, both ? median[1] / median[0] : 0,
               path, q.layers);
        free(pool), free(x), free(y), free(bias), free(r);
    }
    printf("sum over ResNet-50's layers:");
    for (int set = both ? 0 : 1; set < SETS; set++) printf(" %s %.2f ms", set_names[set], total[set] * 1e3);
    if (both) printf(", AVX2 / AVX-512 %.3f", total[1] / total[0]);
    printf("\n");
    return 0;
}
