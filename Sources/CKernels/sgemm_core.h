// What the shared sgemm driver (sgemm.c) needs from each instruction set's
// micro-kernels (sgemm_avx512.c, sgemm_avx2.c, sgemm_neon.c); private to CKernels.
//
// The driver blocks, packs, splits the work among threads and calls these
// through one table per instruction set; the kernels hold every intrinsic.
#ifndef DL_SGEMM_CORE_H
#define DL_SGEMM_CORE_H

#include "dl_sgemm.h"

// MR: rows of C per micro-kernel tile (and per row piece of the thread split).
// KC: K per slice. TAIL_MAX: the most last columns of a block that go to the
// dot-product kernel. SPLIT_COLUMNS: the column unit by which the thread split
// decides between column and row pieces, a multiple of every set's panel
// width. SPLIT_UNIT: where column pieces are cut, every set's `lanes`, so
// that only the matrix's last piece has a tail for the dot kernel and every
// column gets the same kernel steps whatever the cut (the same bits).
enum { MR = 6, KC = 256, TAIL_MAX = 4, SPLIT_COLUMNS = 64, SPLIT_UNIT = 16, NC_MAX = 512 };

/// What a micro-kernel does with its tile: the first K slice stores it, later
/// ones add it to C; the last one also adds `bias[i]` to row i (if given),
/// then the addend's element (if given), and clamps at 0 (if `relu`), in that
/// order, as the separate passes would.
typedef struct {
    int accumulate;
    int last;
    const float *bias;
    const float *addend;  // the tile's first element in a matrix laid out as C (row stride ldc), or NULL
    int relu;
} Epilogue;

/// `e` for the part of its tile that starts `columns` columns to the right.
static inline Epilogue dl_sgemm_shifted(Epilogue e, int columns) {
    if (e.addend) e.addend += columns;
    return e;
}

/// C tile (rows ≤ MR, columns ≤ panel width) ⟵ or += A (rows, depth; row
/// stride lda, MR rows readable) · a packed B panel (depth, panel width).
typedef void (*SgemmKernel)(int depth, const float *a, long lda, const float *b, float *c, long ldc, int rows, int columns,
                            Epilogue epilogue);
/// C tile (rows, a fixed 1...TAIL_MAX columns) ⟵ or += A · B's last columns
/// stored k-contiguous (`bt`: one row of `depth` per column).
typedef void (*SgemmTailKernel)(int depth, const float *a, long lda, const float *bt, float *c, long ldc, int rows,
                                Epilogue epilogue);
/// The SgemmKernel's product with B's row k read at base + offsets[k]
/// (16·vectors floats readable there, any alignment) instead of a packed
/// panel: a convolution's input read where it lies (see dl_conv2d_direct_isa in
/// sgemm.c). Each column's sum is the same sequence of operations as the
/// packed kernel's, so the bits are the same.
typedef void (*SgemmDirectKernel)(int depth, const float *a, long lda, const float *base, const long *offsets, float *c, long ldc,
                                  int rows, int columns, Epilogue epilogue);
/// d[o − begin] for output columns o in [begin, end) of one convolution input
/// row: row[o·stride] where lower ≤ o < upper, else 0; stride is 1 or 2, and
/// no memory outside row[lower·stride ..< upper·stride] is read.
typedef void (*SgemmRowGather)(const float *row, int stride, int begin, int end, int lower, int upper, float *d);

/// A run of output pixels in one output row and one packed panel, for the convolution packing.
typedef struct Run {
    int to;      // offset in the packed block of the first one (panel · nr · depth + column in panel)
    int oh, ow;  // the output pixel it starts at
    int count;   // ≤ the panel width
    long from;   // where it starts in a prepared copy's row k, past that row's offset
} Run;

/// For each k < depth and each run: out[run.to + k·nr ..< + run.count] = (base + offsets[k] + run.from)[0 ..<
/// run.count]; nothing else is read or written.
typedef void (*SgemmCopyRuns)(const float *base, const long *offsets, int depth, const Run *runs, int run_count, int nr, float *out);

/// `static target void copy_runs(...)`, an SgemmCopyRuns around the set's always-inlined
/// `copy_run(float *to, const float *from, int count)`.
#define DL_SGEMM_COPY_RUNS(target, copy_run)                                                                        \
    static target void copy_runs(const float *base, const long *offsets, int depth, const Run *runs, int run_count, \
                                 int nr, float *out) {                                                              \
        for (int kk = 0; kk < depth; kk++) {                                                                        \
            const float *source = base + offsets[kk];                                                               \
            float *row = out + (long)kk * nr;                                                                       \
            for (int r = 0; r < run_count; r++) copy_run(row + runs[r].to, source + runs[r].from, runs[r].count);   \
        }                                                                                                           \
    }

/// One instruction set's kernels and the blocking they want.
typedef struct {
    int panel_width;   // NR: columns of B per packed panel, the widest kernel's width
    int block_width;   // NC: columns of B per packed block (a multiple of NR and SPLIT_COLUMNS, ≤ NC_MAX)
    int lanes;         // kernels[i] serves panels of up to (i + 1)·lanes valid columns; a block's last
                       // columns % lanes, when 1...TAIL_MAX, go to the tail kernels
    SgemmKernel kernels[4];
    // kernels[] for a matrix's last row group when it has 1-2 rows ([0]) or 3-4 ([1]): tiles that
    // compute only those rows (the same operations per element, so the same bits); NULL: kernels[].
    SgemmKernel short_kernels[2][4];
    SgemmTailKernel tail_kernels[TAIL_MAX];  // [j]: j + 1 columns
    SgemmRowGather gather;
    // The prepared input copy's rows (sgemm.c's prepare_channels) with this gather; NULL: memset, memcpy
    // and a plain loop.
    SgemmRowGather prepare_row;
    SgemmCopyRuns copy_runs;
    // The thread split cuts a product by columns when it has at least this many 64-wide column units per
    // thread, else by row groups (sgemm.c's run).
    int column_units_per_thread;
    SgemmDirectKernel direct[4];  // like kernels[], B read in place; NULL where the set has none
    SgemmDirectKernel short_direct[2][4];  // like short_kernels, for direct[]
    // dl_sgemm_isa_fused reads B in place (the direct kernels) for products of at most this many rows, with
    // K up to DIRECT_MAX_DEPTH and with K in (DIRECT_MAX_DEPTH, KC]; 0: never.
    int in_place_short_rows;
    int in_place_rows;
} SgemmKernels;

/// Where products read B in place instead of packing it (dl_conv2d_gemm_isa_fused, dl_sgemm_isa_fused): up to 64 output
/// channels and a K of 160, whose column runs (K x 64 floats) stay in L1 for every row group. One
/// thread, Zen 4, against packing: 16 channels 3x3 at 80x80 (K 144) 0.456 -> 0.370 ms, ResNet's 7x7
/// stride-2 stem (K 147) 2.68 -> 2.31 (AVX2 set: 0.60 -> 0.38, 3.0 -> 2.4); with K 288 or 576 it was
/// 3-24% slower (the runs leave L1).
enum { DIRECT_MAX_ROWS = 64, DIRECT_MAX_DEPTH = 160 };


/// The output positions o in [0, count) whose input column o·stride + offset
/// lies in [0, length): [*lower, *upper).
static inline void dl_valid_span(int count, int stride, int offset, int length, int *lower, int *upper) {
    int lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
    int last = length - 1 - offset;
    int hi = last < 0 ? 0 : last / stride + 1;
    if (lo > count) lo = count;
    if (hi > count) hi = count;
    if (hi < lo) hi = lo;
    *lower = lo;
    *upper = hi;
}

/// C (m, n) = A (m, k; row stride lda) · B, with B already packed in the set's panels (panel_width
/// columns each, k-major, panels one after another, zero past column n): dl_sgemm_isa_ex's product
/// (accumulate 0, no bias, no ReLU) bit for bit, on the calling thread alone, without packing B. For
/// k up to one slice (KC) and n above TAIL_MAX; -1 otherwise, or when `isa` is not available or the
/// thread's buffers could not be allocated. winograd.c writes its transformed inputs this way.
int dl_sgemm_packed_b_isa(DLSgemmISA isa, int m, int n, int k, const float *a, int lda, const float *b, float *c, int ldc);

/// The panel width dl_sgemm_packed_b_isa reads B in on `isa`, or 0 when `isa` is not available.
int dl_sgemm_panel_width(DLSgemmISA isa);

/// DIRECT_MAX_DEPTH when `isa`'s set has direct kernels and this process may use it, else 0.
int dl_sgemm_direct_depth(DLSgemmISA isa);

/// The kernel tables; the x86 ones defined on x86-64 only, the NEON one on
/// ARM64 only; each used only when its level is allowed.
extern const SgemmKernels dl_sgemm_avx512_kernels;
extern const SgemmKernels dl_sgemm_avx2_kernels;
extern const SgemmKernels dl_sgemm_neon_kernels;

/// kernels->kernels[index], or its short_kernels for a last row group of `rows` ≤ 4 where the set has them.
static inline SgemmKernel dl_sgemm_pick(const SgemmKernels *kernels, int rows, int index) {
    SgemmKernel shorter = rows <= 4 ? kernels->short_kernels[(rows - 1) / 2][index] : NULL;
    return shorter ? shorter : kernels->kernels[index];
}

/// kernels->direct[index], or its short_direct for a last row group of `rows` ≤ 4 where the set has them.
static inline SgemmDirectKernel dl_sgemm_pick_direct(const SgemmKernels *kernels, int rows, int index) {
    SgemmDirectKernel shorter = rows <= 4 ? kernels->short_direct[(rows - 1) / 2][index] : NULL;
    return shorter ? shorter : kernels->direct[index];
}

/// The tail kernels' store of one finished sum into C tile element (row,
/// column) with row stride ldc (same steps as the vector epilogues).
static inline void dl_sgemm_finish(float value, float *c, long ldc, int row, int column, Epilogue epilogue) {
    float *to = c + row * ldc + column;
    if (epilogue.accumulate) value = *to + value;
    if (epilogue.last && epilogue.bias) value = value + epilogue.bias[row];
    if (epilogue.last && epilogue.addend) value = value + epilogue.addend[row * ldc + column];
    if (epilogue.last && epilogue.relu) value = value > 0 ? value : 0;
    *to = value;
}

/// One `static target void prefix##n(...)` per constant n, each calling the
/// always-inlined generic kernel with n fixed, so its loops unroll into registers.
#define DL_SGEMM_KERNEL_INSTANCE(target, generic, n)                                                                 \
    static target void generic##_##n(int depth, const float *a, long lda, const float *b, float *c, long ldc, int rows, \
                                     int columns, Epilogue e) {                                                     \
        generic(n, depth, a, lda, b, c, ldc, rows, columns, e);                                                     \
    }
#define DL_SGEMM_DIRECT_INSTANCE(target, generic, n)                                                                 \
    static target void generic##_##n(int depth, const float *a, long lda, const float *base, const long *offsets, float *c, \
                                     long ldc, int rows, int columns, Epilogue e) {                                 \
        generic(n, depth, a, lda, base, offsets, c, ldc, rows, columns, e);                                         \
    }
/// kernel_tiles_1...4 (SgemmKernel, packed panels) and direct_tiles_1...4
/// (SgemmDirectKernel, B in place) from one generic
/// `generic(tiles, depth, a, lda, b, offsets, c, ldc, rows, columns, epilogue)`
/// that takes offsets NULL for a packed panel.
#define DL_SGEMM_PANEL_INSTANCE(generic, n)                                                                           \
    static void kernel_tiles_##n(int depth, const float *a, long lda, const float *b, float *c, long ldc, int rows,    \
                                 int columns, Epilogue e) {                                                         \
        generic(n, depth, a, lda, b, NULL, c, ldc, rows, columns, e);                                               \
    }                                                                                                               \
    static void direct_tiles_##n(int depth, const float *a, long lda, const float *base, const long *offsets, float *c, \
                                 long ldc, int rows, int columns, Epilogue e) {                                     \
        generic(n, depth, a, lda, base, offsets, c, ldc, rows, columns, e);                                         \
    }
#define DL_SGEMM_TAIL_INSTANCE(target, generic, n)                                                                     \
    static target void generic##_##n(int depth, const float *a, long lda, const float *bt, float *c, long ldc, int rows, \
                                     Epilogue e) {                                                                    \
        generic(n, depth, a, lda, bt, c, ldc, rows, e);                                                               \
    }

#endif
