// sgemm GFLOP/s at ResNet-50's convolution shapes: CKernels' dl_sgemm on each
// kernel set this process may use (AVX-512, AVX2 or, on ARM64, NEON;
// DEMANDLAYER_CPU narrows them) beside OpenBLAS (whichever core it picked at load; OPENBLAS_CORETYPE
// changes it), same matrices, best of 7, with the largest relative difference
// of each from OpenBLAS.
//
//   clang -O2 -ISources/CKernels/include -ISources/CKernels Tools/sgemm_probe.c Sources/CKernels/sgemm.c \
//       Sources/CKernels/sgemm_avx512.c Sources/CKernels/sgemm_avx2.c Sources/CKernels/sgemm_neon.c \
//       Sources/CKernels/sgemm_pool.c Sources/CKernels/cpu_level.c -lopenblas -lpthread -lm -o /tmp/sgemm-probe
//   /tmp/sgemm-probe [threads]
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ckernels.h"
#include "dl_sgemm.h"

void cblas_sgemm(int order, int transA, int transB, int m, int n, int k, float alpha, const float *a, int lda,
                 const float *b, int ldb, float beta, float *c, int ldc);
void openblas_set_num_threads(int threadCount);
char *openblas_get_corename(void);

static double seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

enum { SETS = 3 };
static const DLSgemmISA sets[SETS] = {DL_SGEMM_AVX512, DL_SGEMM_AVX2, DL_SGEMM_NEON};
static const char *const set_names[SETS] = {"AVX-512", "AVX2", "NEON"};

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    if (!dl_sgemm_available()) {
        fprintf(stderr, "this CPU lacks AVX2 + FMA (or DEMANDLAYER_CPU / DEMANDLAYER_PORTABLE_KERNELS forbid them): dl_sgemm is not used here\n");
        return 77;
    }
    dl_sgemm_set_threads(threads);
    openblas_set_num_threads(threads);
    printf("threads %d, CPU level %s, OpenBLAS core %s\n", threads, dl_cpu_level_name(dl_cpu_level()), openblas_get_corename());
    // (M, N, K) = (out channels, out pixels, in channels · kH · kW), from the stem to the last stage.
    static const int shapes[][3] = {
        {64, 12544, 147}, {64, 3136, 64}, {64, 3136, 576}, {256, 3136, 64}, {64, 3136, 256},
        {128, 784, 1152}, {512, 784, 128}, {128, 784, 512}, {256, 196, 2304}, {1024, 196, 256},
        {256, 196, 1024}, {512, 49, 4608}, {2048, 49, 512}, {512, 49, 2048},
    };
    double total[SETS + 1] = {0};
    printf("%-21s", "    M x     N x     K");
    for (int s = 0; s < SETS; s++)
        if (dl_sgemm_isa_available(sets[s])) printf(" | %-7s ms GFLOP/s  diff  ", set_names[s]);
    printf(" | OpenBLAS ms GFLOP/s\n");
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
        float *a = malloc(sizeof(float) * m * k), *b = malloc(sizeof(float) * k * n);
        float *c = malloc(sizeof(float) * m * n), *r = malloc(sizeof(float) * m * n);
        for (long i = 0; i < (long)m * k; i++) a[i] = (float)((i * 7) % 13) * 0.1f - 0.6f;
        for (long i = 0; i < (long)k * n; i++) b[i] = (float)((i * 5) % 11) * 0.1f - 0.5f;
        double best[SETS + 1] = {1e9, 1e9, 1e9, 1e9}, difference[SETS] = {0};
        for (int round = 0; round < 7; round++) {
            double t = seconds();
            cblas_sgemm(101, 111, 111, m, n, k, 1, a, k, b, n, 0, r, n);
            t = seconds() - t;
            if (t < best[SETS]) best[SETS] = t;
        }
        double flop = 2.0 * m * n * k;
        printf("%5d x %5d x %5d", m, n, k);
        for (int set = 0; set < SETS; set++) {
            if (!dl_sgemm_isa_available(sets[set])) continue;
            for (int round = 0; round < 7; round++) {
                double t = seconds();
                dl_sgemm_isa_ex(sets[set], m, n, k, a, k, b, n, c, n, 0, NULL, 0);
                t = seconds() - t;
                if (t < best[set]) best[set] = t;
            }
            for (long i = 0; i < (long)m * n; i++) difference[set] = fmax(difference[set], fabs(c[i] - r[i]) / (1 + fabs(r[i])));
            printf(" | %7.3f %6.1f %.0e", best[set] * 1e3, flop / best[set] / 1e9, difference[set]);
            total[set] += best[set];
        }
        printf(" | %7.3f %6.1f\n", best[SETS] * 1e3, flop / best[SETS] / 1e9);
        total[SETS] += best[SETS];
        free(a), free(b), free(c), free(r);
    }
    printf("sum of best times:");
    for (int set = 0; set < SETS; set++)
        if (dl_sgemm_isa_available(sets[set])) printf(" %s %.2f ms,", set_names[set], total[set] * 1e3);
    printf(" OpenBLAS %.2f ms\n", total[SETS] * 1e3);
    return 0;
}
