// A row-major single-precision GEMM for AVX-512 and for AVX2 + FMA CPUs,
// picked at run time.
//
// Why it exists: Debian's OpenBLAS (0.3.21, DYNAMIC_ARCH) chooses its core
// when it loads, and on CPUs it does not recognise (AMD Zen 4/5) it falls back
// to its AVX2 Haswell kernels: about half the AVX-512 rate; on AVX2 CPUs its
// Haswell/Zen kernels ran ResNet-50 at 2.5x onnxruntime's time. Only an
// environment variable read at load time changes OpenBLAS's choice, which a
// library cannot rely on. So convolution's GEMMs come here when the CPU has
// AVX2 + FMA (or AVX-512F); elsewhere the library keeps calling OpenBLAS.
//
// On ARM64 (Raspberry Pi, RK3588, Jetson CPU cores) NEON is always present,
// and a NEON kernel set takes the same place.
//
// Three kernel sets share one driver (sgemm.c): AVX-512 (6x64 tiles), AVX2
// and NEON (6x16 tiles). They round differently from each other, but each is exact to
// itself: the work is split by output columns (or rows), never along K, and
// every output element sums its K products in an order fixed by its column,
// so 1 and N threads, and any cut of A's rows into separate calls, give
// identical bits.
#ifndef DL_SGEMM_H
#define DL_SGEMM_H

#include "ckernels.h"

/// The kernel sets.
typedef enum {
    DL_SGEMM_AVX512 = 0,  // needs dl_cpu_level() ≥ DL_CPU_AVX512 (x86-64)
    DL_SGEMM_AVX2 = 1,    // needs dl_cpu_level() ≥ DL_CPU_AVX2 (x86-64)
    DL_SGEMM_NEON = 2,    // needs dl_cpu_level() == DL_CPU_NEON (ARM64)
} DLSgemmISA;

/// 1 when this process may use `isa`'s kernels (the CPU has it, the compiler
/// could build it, and DEMANDLAYER_CPU / DEMANDLAYER_PORTABLE_KERNELS allow it), else 0.
int dl_sgemm_isa_available(DLSgemmISA isa);

/// 1 when any kernel set is available, else 0.
int dl_sgemm_available(void);

/// The widest available set (DL_SGEMM_AVX2 when none is).
DLSgemmISA dl_sgemm_best_isa(void);

/// Sets how many threads dl_sgemm may use (values below 1 mean 1); process-wide,
/// like openblas_set_num_threads. Extra threads are started on first use.
void dl_sgemm_set_threads(int threadCount);

/// The thread count dl_sgemm_set_threads last set (1 until it is called).
int dl_sgemm_threads(void);

/// Wakes the pool's sleeping threads ahead of work about to come (they spin
/// for a while, as after a job): a caller that knows it will start a product
/// soon (a session starting an inference) hides their wake-up behind its own
/// setup. Does nothing when no pool thread has been started.
void dl_sgemm_pool_wake(void);

/// Bytes of the kernels' own scratch held now, across all threads: the GEMM's
/// per-thread packing buffers, Winograd's and the depthwise kernel's per-thread
/// scratch, and what a running call allocated for itself. None of it is part
/// of a session's budget.
long dl_kernel_scratch_bytes(void);

/// The most dl_kernel_scratch_bytes() has been since the start or the last
/// dl_kernel_scratch_reset_peak() (which sets it to the bytes held now).
long dl_kernel_scratch_peak_bytes(void);
void dl_kernel_scratch_reset_peak(void);

/// Calls fn(context, start, end) for consecutive ranges of [0, count), each
/// `grain` long (the last shorter), on the caller and the GEMM's pool threads
/// (dl_sgemm_set_threads), and returns when all have returned. The ranges do
/// not depend on the thread count, so work that touches only its own range
/// gives the same bits on any number of threads. A busy pool (another caller's
/// product) leaves the caller to run every range itself.
void dl_parallel_ranges(long count, long grain, void (*fn)(void *context, long start, long end), void *context);

/// C (m, n) = A (m, k) · B (k, n), all row-major with row strides lda, ldb, ldc
/// in floats; C is overwritten, on dl_sgemm_best_isa(); returns -1 at once when
/// dl_sgemm_available() returns 0.
/// Any number of callers may call at once (a busy pool makes a call run on
/// the caller's thread alone). Needs per-thread packing buffers of about
/// 520 KiB, allocated once per thread on first use; returns 0, or -1 if that
/// allocation failed (C's contents are then unspecified: fall back to another GEMM).
int dl_sgemm(int m, int n, int k, const float *a, int lda, const float *b, int ldb, float *c, int ldc);

/// dl_sgemm, then C[i][j] += row_bias[i] (when row_bias is not NULL), then
/// C[i][j] = max(C[i][j], 0) when relu is not 0 (NaN becomes 0), applied to
/// each tile as it is finished: a convolution's bias and ReLU without a
/// second pass over C. Same rounding as those steps done separately.
int dl_sgemm_bias_relu(int m, int n, int k, const float *a, int lda, const float *b, int ldb, float *c, int ldc,
                       const float *row_bias, int relu);

/// The general form: C = A·B, or C += A·B when `accumulate` is not 0, then
/// the row bias and ReLU as in dl_sgemm_bias_relu.
int dl_sgemm_ex(int m, int n, int k, const float *a, int lda, const float *b, int ldb, float *c, int ldc,
                int accumulate, const float *row_bias, int relu);

/// dl_sgemm_ex on the kernel set `isa`; returns -1 at once when it is not available.
int dl_sgemm_isa_ex(DLSgemmISA isa, int m, int n, int k, const float *a, int lda, const float *b, int ldb, float *c, int ldc,
                    int accumulate, const float *row_bias, int relu);

/// The most K a product sums in one slice (256): with K up to this each
/// element of C is written once, by the epilogue that reads its addend.
int dl_sgemm_slice_depth(void);

/// dl_sgemm_isa_ex with an addend: after the row bias, C[i][j] += addend[i·ldc
/// + j] (when addend is not NULL; laid out as C, row stride ldc), then the
/// ReLU: a residual connection's Add (and its ReLU) fused into the product that
/// feeds it. Same rounding as the bias, the Add and the ReLU done separately,
/// so bit for bit those passes. The addend may be C itself (addend == c, the
/// same layout) when k is at most dl_sgemm_slice_depth() and `accumulate` is
/// 0: each element is then stored once, after its addend was read. Otherwise
/// it may not overlap C.
int dl_sgemm_isa_fused(DLSgemmISA isa, int m, int n, int k, const float *a, int lda, const float *b, int ldb, float *c, int ldc,
                       int accumulate, const float *row_bias, const float *addend, int relu);

/// The slice layout of a product's A (m rows of k), the order in which the
/// product reads it. With w = m / 6 · 6 (the rows in whole groups of six):
/// for each K slice [p, p + s) (s = min(dl_sgemm_slice_depth(), k − p)), in
/// order, the slice's part of the w rows, row i at a[p·w + i·s ..< + s]; then
/// the last m − w rows whole, row i at a[w·k + (i − w)·k ..< + k]. m·k floats.
/// 1 when a product of (m, n, k) reads A in this layout faster than in rows
/// (k a multiple of 1024: rows a multiple of 4 KiB apart collide in the L1
/// cache), else 0.
int dl_sgemm_sliced_wanted(int m, int n, int k);

/// Rearranges a row-major A (m, k; row stride k) into the slice layout, in
/// place: with k a multiple of dl_sgemm_slice_depth(), through one slice of
/// one row and a bitmap of about m·k/256 bits; otherwise through a copy of A (freed
/// before it returns). 0, or -1 (A unchanged) if that memory could not be
/// allocated.
int dl_sgemm_sliced_from_rows(int m, int k, float *a);

/// dl_sgemm_isa_fused with A in the slice layout (what dl_sgemm_sliced_from_rows
/// makes of A with row stride k): the same bits as that call on the rows.
int dl_sgemm_isa_fused_sliced(DLSgemmISA isa, int m, int n, int k, const float *a, const float *b, int ldb, float *c, int ldc,
                              int accumulate, const float *row_bias, const float *addend, int relu);

/// c[j] = alpha · Σ_p b[j·ldb + p] · a[p] for j < n (c[j] += that when
/// `accumulate` is not 0): a fully connected layer on one sample with its
/// weight stored (n, k). Portable C on every CPU; each row's sum has a fixed
/// order, so any cut of the rows gives the same bits (see sgemv_rows.c).
void dl_sgemv_rows(int n, int k, const float *a, const float *b, int ldb, float *c, float alpha, int accumulate);

/// One group of a 2-D convolution over one image, in NCHW: the input planes
/// a product reads, the kernel window and the output plane.
typedef struct {
    int channels, in_height, in_width;  // x is (channels, in_height, in_width), contiguous
    int kernel_height, kernel_width;
    int stride_height, stride_width, dilation_height, dilation_width;
    int pad_top, pad_left;
    int out_height, out_width;
} DLConvGeometry;

/// y (m, out_height·out_width; row stride ldy) = w (m, channels·kH·kW) ·
/// columns, where columns is the convolution's im2col matrix of x (row
/// (channel, kh, kw), column (oh, ow); 0 in the padding), then row bias and
/// ReLU as in dl_sgemm_bias_relu. The columns are packed from x block by block
/// as the product needs them, never stored whole. Same results as im2col
/// followed by dl_sgemm_bias_relu, bit for bit; same return values.
int dl_conv2d_gemm(const DLConvGeometry *geometry, int m, const float *w, const float *x, float *y, int ldy,
                   const float *row_bias, int relu);

/// dl_conv2d_gemm on the kernel set `isa` (bit for bit dl_sgemm_isa_ex on its im2col matrix).
int dl_conv2d_gemm_isa(DLSgemmISA isa, const DLConvGeometry *geometry, int m, const float *w, const float *x, float *y, int ldy,
                       const float *row_bias, int relu);

/// dl_conv2d_gemm_isa with an addend as in dl_sgemm_isa_fused (laid out as y, row stride ldy;
/// it may be y itself when K = channels·kH·kW is at most dl_sgemm_slice_depth()).
int dl_conv2d_gemm_isa_fused(DLSgemmISA isa, const DLConvGeometry *geometry, int m, const float *w, const float *x, float *y,
                             int ldy, const float *row_bias, const float *addend, int relu);

/// dl_conv2d_gemm_isa_fused with w (m, channels·kH·kW) in the slice layout
/// (see dl_sgemm_sliced_wanted): the same bits as that call on the rows.
int dl_conv2d_gemm_isa_fused_sliced(DLSgemmISA isa, const DLConvGeometry *geometry, int m, const float *w, const float *x, float *y,
                                    int ldy, const float *row_bias, const float *addend, int relu);

/// dl_conv2d_gemm_isa_fused's result, bit for bit, computed without packing
/// the columns: the input is copied once (zero-padded, columns split by
/// phase for stride 2) and the set's direct kernels read each column run
/// where it lies. dl_conv2d_gemm_isa_fused takes this path itself for up to
/// 64 output channels and a K (channels·kH·kW) of up to 160. Every set (AVX-512,
/// AVX2, NEON) has direct kernels. Returns -1 when `isa` is not available, the
/// stride is not 1 or 2, the output is narrower than 16 columns, or memory for
/// the copy could not be allocated.
int dl_conv2d_direct_isa(DLSgemmISA isa, const DLConvGeometry *geometry, int m, const float *w, const float *x, float *y, int ldy,
                         const float *row_bias, const float *addend, int relu);

/// dl_conv2d_gemm_isa's result for a 3x3 convolution with stride 1 and
/// dilation 1 (any padding), computed by Winograd's F(4x4, 3x3) (4 times
/// fewer multiply-adds, 36 GEMMs; up to 128 input channels from 24x24
/// outputs, up to 256 from 48x48) or F(2x2, 3x3) (2.25 times fewer, 16
/// GEMMs), run on `isa`'s kernels. Not bit for bit the direct product: within
/// 1e-5 of Σ|w·x| of it (measured: about 1e-6 for F(2x2, 3x3), 3e-6 for
/// F(4x4, 3x3); winograd.c); exact to itself over thread counts and cuts of
/// the m output channels (the variant depends on the geometry alone). Needs
/// 16 or 36 ·m·channels floats for the transformed weights and a few MiB per thread
/// for blocks of tiles; each thread keeps up to 8 MiB of this scratch between
/// calls (allocated on first use), larger needs are allocated for the call. Returns 0; -1 when `isa` is not available,
/// the geometry is not 3x3 stride 1 dilation 1, or an allocation failed (y is
/// then unspecified).
int dl_conv2d_winograd_isa(DLSgemmISA isa, const DLConvGeometry *geometry, int m, const float *w, const float *x, float *y,
                           int ldy, const float *row_bias, int relu);

/// dl_conv2d_winograd_isa with an addend as in dl_sgemm_isa_fused (laid out as y, row stride ldy;
/// it may be y itself: the output transform reads each element's addend just before it writes it).
int dl_conv2d_winograd_isa_fused(DLSgemmISA isa, const DLConvGeometry *geometry, int m, const float *w, const float *x, float *y,
                                 int ldy, const float *row_bias, const float *addend, int relu);

/// Floats of the transformed weights (U) dl_conv2d_winograd_prepare makes for
/// `m` filters of this geometry's channels (16/9 of the weights for F(2x2, 3x3),
/// 4 times them for F(4x4, 3x3), plus padding).
long dl_conv2d_winograd_prepared_floats(const DLConvGeometry *geometry, int m);

/// The transformed weights (U) of `m` 3x3 filters w (m, channels, 3, 3), made
/// once for dl_conv2d_winograd_prepared_isa to run with any number of times:
/// what dl_conv2d_winograd_isa_fused does at every call. Counted in
/// dl_kernel_scratch_bytes until dl_conv2d_winograd_release. NULL for a
/// geometry that is not 3x3 or memory that could not be allocated.
float *dl_conv2d_winograd_prepare(const DLConvGeometry *geometry, int m, const float *w);

/// Frees what dl_conv2d_winograd_prepare(geometry, m, ...) returned (NULL: nothing).
void dl_conv2d_winograd_release(const DLConvGeometry *geometry, int m, float *u);

/// dl_conv2d_winograd_isa_fused with the weights already transformed by
/// dl_conv2d_winograd_prepare (same geometry and m): the same bits, without
/// the transform or its 4 MiB of scratch. -1 as dl_conv2d_winograd_isa_fused.
int dl_conv2d_winograd_prepared_isa(DLSgemmISA isa, const DLConvGeometry *geometry, int m, const float *u, const float *x, float *y,
                                    int ldy, const float *row_bias, const float *addend, int relu);

/// The Winograd variant dl_conv2d_winograd_isa runs `geometry` with: the side
/// of its output tiles, 4 (F(4x4, 3x3)) or 2 (F(2x2, 3x3)). Weights prepared
/// for one geometry serve another only when both have the same variant and
/// channels (dl_conv2d_winograd_prepared_floats and the layout depend on them).
int dl_conv2d_winograd_variant(const DLConvGeometry *geometry);

/// Forces the Winograd variant for every geometry from now on, for tests and
/// measurements: 2 (F(2x2, 3x3)), 4 (F(4x4, 3x3)), or 0 to choose by the
/// geometry again (the default). Weights prepared under one variant must run
/// under the same one.
void dl_conv2d_winograd_set_variant(int tile);

/// 1 when dl_conv2d_winograd_isa takes this geometry and is likely faster than
/// dl_conv2d_gemm_isa on `isa` there (3x3, stride 1, dilation 1, at least 16
/// input channels (18: 16 run faster through dl_conv2d_direct_isa), and
/// 5x5 output tiles, i.e. 9x9 outputs), else 0. Does not depend on the output
/// channels, so every piece of a layer cut by output channels gets the same answer.
int dl_conv2d_winograd_wanted(DLSgemmISA isa, const DLConvGeometry *geometry);

/// Depthwise convolution over one image (groups = channels in = channels out,
/// NCHW): geometry->channels planes of x, each convolved with its own filter
/// w (channels, kernel_height, kernel_width) into y (channels, out_height,
/// out_width), contiguous; plus bias[c] when bias is not NULL, then max(·, 0)
/// when relu is not 0. On `level`'s kernels (DL_CPU_AVX512, DL_CPU_AVX2,
/// DL_CPU_NEON, or DL_CPU_PORTABLE: plain C on every CPU), channels dealt to
/// the sgemm thread pool; each output's sum has a fixed order, so any thread
/// count and any cut of the channels give the same bits (see depthwise.c).
/// Returns 0; -1 when `level` is not available here, the kernel is taller than
/// 64 rows, or its scratch (64 KiB per thread, more for rows wider than about
/// 8000 floats) could not be allocated, with y then unspecified.
int dl_depthwise_conv2d(DLCpuLevel level, const DLConvGeometry *geometry, const float *w, const float *x, float *y,
                        const float *bias, int relu);

#endif
