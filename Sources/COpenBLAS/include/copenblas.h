// The few CBLAS and OpenBLAS entry points the kernels use, declared here so the
// build does not depend on where a distribution puts cblas.h (Debian keeps it
// behind update-alternatives). Signatures follow OpenBLAS 0.3's cblas.h.
#ifndef COPENBLAS_H
#define COPENBLAS_H

enum CBLAS_ORDER { CblasRowMajor = 101, CblasColMajor = 102 };
enum CBLAS_TRANSPOSE { CblasNoTrans = 111, CblasTrans = 112 };

void cblas_sgemm(enum CBLAS_ORDER order, enum CBLAS_TRANSPOSE transA, enum CBLAS_TRANSPOSE transB,
                 int m, int n, int k, float alpha, const float *a, int lda,
                 const float *b, int ldb, float beta, float *c, int ldc);

void openblas_set_num_threads(int threadCount);
int openblas_get_num_threads(void);
char *openblas_get_config(void);

#endif
