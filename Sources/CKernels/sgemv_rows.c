// A fully connected layer on one sample, c (n) = alpha · B (n, k) · a (k),
// for CPUs without the AVX-512 GEMM; see include/dl_sgemm.h.
//
// Why it exists: a large fully connected layer may be streamed in pieces of
// output rows (the runtime's split layers), and each piece must give the same
// bits as the whole layer. OpenBLAS does not promise that: products below
// about 10^6 multiply-adds go to a small-matrix kernel that rounds
// differently, so a piece and the whole layer can differ in the last bit.
// Here every output is one row's dot product with a fixed order (16 running
// sums over k, added pairwise, then the k % 16 tail in order), whatever the
// rows around it: any cut of the rows gives the same bits, on any thread count.
// It is memory-bound (each weight is used once), so plain C, vectorised by
// the compiler for the baseline (SSE2 here, NEON on ARM64), is enough.
#include "dl_sgemm.h"

enum { LANES = 16 };

void dl_sgemv_rows(int n, int k, const float *a, const float *b, int ldb, float *c, float alpha, int accumulate) {
    int body = k / LANES * LANES;
    for (int j = 0; j < n; j++) {
        const float *row = b + (long)j * ldb;
        float sums[LANES] = {0};
        for (int p = 0; p < body; p += LANES) {
            for (int l = 0; l < LANES; l++) sums[l] += row[p + l] * a[p + l];
        }
        for (int width = LANES / 2; width > 0; width /= 2) {
            for (int l = 0; l < width; l++) sums[l] += sums[l + width];
        }
        float total = sums[0];
        for (int p = body; p < k; p++) total += row[p] * a[p];
        c[j] = accumulate ? c[j] + alpha * total : alpha * total;
    }
}
