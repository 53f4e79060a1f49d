// Single-precision GEMM for AVX-512, AVX2 + FMA and ARM64 NEON CPUs: the
// driver they share (blocking, packing, the thread split); see
// include/dl_sgemm.h. The micro-kernels are in sgemm_avx512.c, sgemm_avx2.c
// and sgemm_neon.c, behind sgemm_core.h.
//
// Blocking: for each NC-wide block of C's columns and each KC-deep slice of
// K, B's (KC, NC) block is packed into NR-wide panels (k-major, zero-padded
// past n) that stay in L2. A is not packed: an MR x NR micro-kernel reads six
// rows of A in place (each contiguous in k; a last partial group of rows is
// copied and zero-padded first) and keeps its C tile in registers for the
// whole slice (AVX-512: 6x64 in 24 zmm; AVX2: 6x16 in 12 ymm; NEON: 6x16
// in 24 q registers). Narrower
// kernels finish a last panel narrower than NR, and a dot-product kernel its
// last 1 to TAIL_MAX columns. The first K slice stores C, later ones add to
// it, and the last adds the bias and applies the ReLU if asked.
//
// Why A stays unpacked: a convolution's weights are A, used once per call and
// usually cold in cache; packing them costs about as much as the product
// itself when n is small (ResNet-50's last stage has n = 49).
//
// Every output element is summed in an order fixed by its column and K alone
// (which kernel computes a column depends only on n), never by the rows or
// columns around it, so any thread count and any cut of A's rows give the
// same bits.
#include "sgemm_core.h"
#include "sgemm_pool.h"
#include "ckernels.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/// Packing buffers of one thread, sized for the widest blocking of any set:
/// A's last (MR, KC) rows, B's (KC, NC) block and its tail.
typedef struct {
    float *a;
    float *b;
    float *tail;  // the last few columns of B's block, k-contiguous (TAIL_MAX, KC)
} Panels;

static pthread_key_t panels_key;
static pthread_once_t panels_once = PTHREAD_ONCE_INIT;

/// Bytes of one thread's packing buffers.
#define PANELS_BYTES ((long)sizeof(float) * (MR * KC + KC * NC_MAX + TAIL_MAX * KC))

static void panels_free(void *p) {
    Panels *panels = p;
    if (panels->a && panels->b && panels->tail) dl_kernel_scratch_add(-PANELS_BYTES);
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
    panels->b = aligned_alloc(64, sizeof(float) * KC * NC_MAX);
    panels->tail = aligned_alloc(64, sizeof(float) * TAIL_MAX * KC);
    if (!panels->a || !panels->b || !panels->tail) {
        panels_free(panels);
        return NULL;
    }
    dl_kernel_scratch_add(PANELS_BYTES);
    if (pthread_setspecific(panels_key, panels) != 0) {
        panels_free(panels);
        return NULL;
    }
    return panels;
}

/// The most pieces a product is cut into (one per thread).
enum { MAX_PIECES = 64 };

/// One product, shared by the threads that take its pieces (see run).
typedef struct {
    const SgemmKernels *kernels;
    int m, n, k;
    const float *a, *b;
    float *c;
    int lda, ldb, ldc;
    const float *row_bias;  // added to each row of C after the last K slice, or NULL
    const float *addend;    // then this matrix (laid out as C, row stride ldc), or NULL
    int relu;               // then max(·, 0)
    int accumulate;         // 1: add the product to C's contents instead of overwriting them
    const DLConvGeometry *conv;  // when set, B is the column matrix of this convolution of `b` (not stored)
    const long *b_offsets;  // when set, B's full panels are read in place by the direct kernels: row k at k·ldb (k < KC)
    const float *prepared;  // when set (with `conv`), the input's prepared copy (see prepare_input) that pack_conv copies from
    const long *prepared_offsets;
    long prepared_row_floats;
    const float *packed_b;  // when set (k up to one slice), B already in the set's panels, read instead of packed: B's
                            // panel q at packed_b + q·nr·k (dl_sgemm_packed_b_isa)
    int split_columns;  // 1: pieces are column units (SPLIT_UNIT wide), 0: row groups (MR rows)
    int units;          // column units or row groups in all
    int pieces;         // pieces the units are dealt into, as evenly as whole units allow
    int next_piece;     // the next piece to take (atomic)
    int shared;         // 1: threads done early take column units from the ends of the others' pieces
    uint64_t left[MAX_PIECES];  // piece p's units not yet taken: first << 32 | end (atomic)
    int failed;         // set by a thread whose buffers could not be allocated (atomic)
    int a_sliced;       // 1: A is in the slice layout (dl_sgemm_sliced_from_rows), lda unused
    // One piece per thread: piece 0 is the caller's, sized for its measured speed (see run).
    int weighted;
    pthread_t caller;
    long piece_ns[MAX_PIECES];      // how long each piece's first claim took the thread that took the piece
    int piece_units[MAX_PIECES];    // and how many units it was
    int piece_by_caller[MAX_PIECES];
} Job;

/// The row group of A at `a` (`rows` rows of a k-range `depth` long, row
/// stride `lda`) as the micro-kernels read it: a whole group (MR rows) in
/// place; a last, shorter one copied into `out`, an MR-row block with row
/// stride `depth` and zeros below, so no kernel reads past A's last row.
/// Sets *ld to the row stride to read with.
static const float *a_group(const float *a, long lda, int rows, int depth, float *out, long *ld) {
    *ld = lda;
    if (rows == MR) return a;
    for (int i = 0; i < MR; i++) {
        if (i < rows) memcpy(out + i * depth, a + i * lda, sizeof(float) * depth);
        else memset(out + i * depth, 0, sizeof(float) * depth);
    }
    *ld = depth;
    return out;
}

/// Packs the (depth, columns) block of B into `nr`-wide panels: panel q holds,
/// for each k, the nr values B[k][q·nr + j] (0 past `columns`).
static void pack_b(const float *b, int ldb, int depth, int columns, int nr, float *out) {
    for (int q = 0; q < columns; q += nr) {
        int valid = columns - q < nr ? columns - q : nr;
        for (int k = 0; k < depth; k++) {
            const float *row = b + (long)k * ldb + q;
            float *to = out + k * nr;
            memcpy(to, row, sizeof(float) * valid);
            if (valid < nr) memset(to + valid, 0, sizeof(float) * (nr - valid));
        }
        out += nr * depth;
    }
}

static void pack_conv_gather(const SgemmKernels *kernels, const DLConvGeometry *g, const float *x, int k0, int depth,
                             const struct Run *runs, int run_count, int nr, float *out);

/// Row group `ir` (`rows` rows) of the job's A over the K slice [pc, pc + kc), as the kernels read it (see
/// a_group): in row layout, the rows in place; in the slice layout, a whole group's block of that slice in
/// place (its rows kc apart), a last short group copied from the rows stored after the whole groups.
static const float *a_rows(const Job *job, int ir, int rows, int pc, int kc, float *out, long *ld) {
    if (!job->a_sliced) return a_group(job->a + (long)ir * job->lda + pc, job->lda, rows, kc, out, ld);
    long whole = (long)job->m / MR * MR;
    if (ir < whole) {
        *ld = kc;
        return job->a + pc * whole + (long)ir * kc;
    }
    return a_group(job->a + whole * job->k + (ir - whole) * (long)job->k + pc, job->k, rows, kc, out, ld);
}

/// Packs the (depth, columns) block at (k0, j0) of a convolution's column
/// matrix straight from its input x, in pack_b's layout: row k = (channel,
/// kh, kw) of the matrix holds, for output pixel j = (oh, ow), the input pixel
/// that tap multiplies, or 0 in the padding. No column matrix is ever stored.
/// The block's columns are first cut into runs within one output row and one
/// panel (the same for every k); each k then fills its runs with the set's
/// vector gather (strides 1 and 2) or a plain loop.
static void pack_conv(const SgemmKernels *kernels, const DLConvGeometry *g, const float *x, const float *prepared,
                      const long *prepared_offsets, long row_floats, int k0, int depth, int j0, int columns, float *out) {
    int nr = kernels->panel_width;
    Run runs[NC_MAX];  // each run holds at least one of the block's ≤ NC_MAX columns
    int run_count = 0;
    for (int q = 0; q < columns; q += nr) {
        int valid = columns - q < nr ? columns - q : nr;
        int j = j0 + q, filled = 0;
        while (filled < valid) {
            int oh = j / g->out_width, ow = j % g->out_width;
            int count = g->out_width - ow < valid - filled ? g->out_width - ow : valid - filled;
            runs[run_count++] = (Run){q * depth + filled, oh, ow, count, (long)g->stride_height * oh * row_floats + ow};
            filled += count;
            j += count;
        }
    }
    if (prepared) {
        // Every run lies contiguous in the prepared copy, padding included: a plain copy each, by the set's
        // vector copy (a call to memcpy per run cost about as much as the copy: runs are an output row long,
        // 7 to 28 floats in ResNet-50's stride-2 layers).
        kernels->copy_runs(prepared, prepared_offsets + k0, depth, runs, run_count, nr, out);
    } else {
        pack_conv_gather(kernels, g, x, k0, depth, runs, run_count, nr, out);
    }
    // Columns past `columns` in the last panel are 0.
    int valid = columns % nr;
    if (valid) {
        float *last = out + (columns - valid) * depth;
        for (int kk = 0; kk < depth; kk++) memset(last + kk * nr + valid, 0, sizeof(float) * (nr - valid));
    }
}

/// pack_conv's runs filled straight from the input x, each k's with the set's vector gather (strides 1
/// and 2) or a plain loop, bounds checked.
static void pack_conv_gather(const SgemmKernels *kernels, const DLConvGeometry *g, const float *x, int k0, int depth,
                             const Run *runs, int run_count, int nr, float *out) {
    int taps = g->kernel_height * g->kernel_width, stride = g->stride_width;
    long plane = (long)g->in_height * g->in_width;
    int vector_stride = stride == 1 || stride == 2;
    for (int kk = 0; kk < depth; kk++) {
        int k = k0 + kk, channel = k / taps, tap = k % taps;
        int kh = tap / g->kernel_width, kw = tap % g->kernel_width;
        int offset_w = kw * g->dilation_width - g->pad_left;
        int lower, upper;
        dl_valid_span(g->out_width, stride, offset_w, g->in_width, &lower, &upper);
        const float *source_plane = x + channel * plane;
        for (int r = 0; r < run_count; r++) {
            Run run = runs[r];
            float *d = out + run.to + kk * nr;  // d[o - ow] is output column o of this row
            int ih = run.oh * g->stride_height - g->pad_top + kh * g->dilation_height;
            if (ih < 0 || ih >= g->in_height) {
                memset(d, 0, sizeof(float) * run.count);
                continue;
            }
            const float *row = source_plane + (long)ih * g->in_width;  // column o reads row[o·stride + offset_w]
            int end = run.ow + run.count;
            if (stride == 1 && run.ow >= lower && end <= upper) {
                // Wholly inside the row (most runs of a stride-1 convolution): a plain copy.
                memcpy(d, row + offset_w + run.ow, sizeof(float) * run.count);
            } else if (vector_stride) {
                // The gather addresses row + offset_w + o·stride only where valid.
                kernels->gather(row + offset_w, stride, run.ow, end, lower, upper, d);
            } else {
                for (int o = run.ow; o < end; o++)
                    d[o - run.ow] = o >= lower && o < upper ? row[o * stride + offset_w] : 0;
            }
        }
    }
}

/// Copies the last `columns` (≤ TAIL_MAX) columns of a packed B panel (`nr`
/// wide), which start at panel column `first`, k-contiguous into `bt`.
static void transpose_tail(const float *panel, int depth, int nr, int first, int columns, float *bt) {
    for (int j = 0; j < columns; j++)
        for (int k = 0; k < depth; k++) bt[(long)j * depth + k] = panel[(long)k * nr + first + j];
}

/// gemm_block for a block that is all the dot kernel's (at most TAIL_MAX columns: a fully connected layer
/// on a sample or a few): each row group goes through every K slice before the next group starts, so A
/// streams row after row. K slice by K slice, the rows were read in 1 KiB pieces 8 KiB apart, at half the
/// memory's speed (1000 x 2048, one column, Zen 4, weights cold: 17.4 GB/s, where a plain pass over them
/// reads 31-39). The same slices, B's columns k-contiguous per slice as transpose_tail lays them out, the
/// same kernel and epilogues, so the same bits. -1 if its buffer could not be allocated.
static int gemm_dot_block(const Job *job, int row0, int row1, int jc, int nc, Panels *panels) {
    const SgemmKernels *kernels = job->kernels;
    int slices = (job->k + KC - 1) / KC;
    float *columns = dl_thread_buffer(DL_BUFFER_DOT_COLUMNS, sizeof(float) * (size_t)slices * TAIL_MAX * KC);
    if (!columns) return -1;
    // B's rows read as one panel ldb wide: transpose_tail lays out each slice's columns as gemm_block has them.
    for (int pc = 0; pc < job->k; pc += KC)
        transpose_tail(job->b + (long)pc * job->ldb + jc, job->k - pc < KC ? job->k - pc : KC, job->ldb, 0, nc,
                       columns + (long)(pc / KC) * TAIL_MAX * KC);
    for (int ir = row0; ir < row1; ir += MR) {
        int rows = row1 - ir < MR ? row1 - ir : MR;
        for (int pc = 0; pc < job->k; pc += KC) {
            int kc = job->k - pc < KC ? job->k - pc : KC;
            long lda;
            const float *ap = a_rows(job, ir, rows, pc, kc, panels->a, &lda);
            Epilogue epilogue = {pc > 0 || job->accumulate, pc + kc == job->k, job->row_bias ? job->row_bias + ir : NULL,
                                 job->addend ? job->addend + (long)ir * job->ldc + jc : NULL, job->relu};
            kernels->tail_kernels[nc - 1](kc, ap, lda, columns + (long)(pc / KC) * TAIL_MAX * KC, job->c + (long)ir * job->ldc + jc,
                                          job->ldc, rows, epilogue);
        }
    }
    return 0;
}

/// C[row0..<row1, col0..<col1] = A[row0..<row1, :] · B[:, col0..<col1].
static void gemm_block(Job *job, int row0, int row1, int col0, int col1, Panels *panels) {
    const SgemmKernels *kernels = job->kernels;
    int nr = kernels->panel_width, block = kernels->block_width, lanes = kernels->lanes;
    for (int jc = col0; jc < col1; jc += block) {
        int nc = col1 - jc < block ? col1 - jc : block;
        if (nc <= TAIL_MAX && nc < lanes && !job->conv && !job->packed_b) {
            if (gemm_dot_block(job, row0, row1, jc, nc, panels) != 0) __atomic_store_n(&job->failed, 1, __ATOMIC_RELAXED);
            continue;
        }
        for (int pc = 0; pc < job->k; pc += KC) {
            int kc = job->k - pc < KC ? job->k - pc : KC;
            // The block's last panel: its vector columns for the vector kernels, then `tail` for the dot kernel.
            // Blocks start at multiples of NR, so only the matrix's last panel is partial.
            int last_panel = (nc - 1) / nr * nr, last_columns = nc - last_panel;
            // With B read in place (see run), only a partial last panel is packed.
            int in_place_end = job->b_offsets ? (last_columns == nr ? nc : last_panel) : 0;
            const float *b_block = job->b + (long)pc * job->ldb + jc;
            const float *b_panels = job->packed_b ? job->packed_b + (long)jc * kc : panels->b;
            // Packed B (dl_sgemm_packed_b_isa) is read where it lies.
            if (job->conv && !job->packed_b)
                pack_conv(kernels, job->conv, job->b, job->prepared, job->prepared_offsets, job->prepared_row_floats, pc, kc, jc, nc,
                          panels->b);
            else if (!job->packed_b && in_place_end < nc)
                pack_b(b_block + in_place_end, job->ldb, kc, nc - in_place_end, nr, panels->b + (long)in_place_end * kc);
            int tail = last_columns % lanes <= TAIL_MAX ? last_columns % lanes : 0;
            if (tail) transpose_tail(b_panels + last_panel * kc, kc, nr, last_columns - tail, tail, panels->tail);
            for (int ir = row0; ir < row1; ir += MR) {
                int rows = row1 - ir < MR ? row1 - ir : MR;
                long lda;
                const float *ap = a_rows(job, ir, rows, pc, kc, panels->a, &lda);
                Epilogue epilogue = {pc > 0 || job->accumulate, pc + kc == job->k, job->row_bias ? job->row_bias + ir : NULL,
                                     job->addend ? job->addend + (long)ir * job->ldc + jc : NULL, job->relu};
                for (int jr = 0; jr < nc; jr += nr) {
                    int columns = nc - jr < nr ? nc - jr : nr;
                    float *c = job->c + (long)ir * job->ldc + jc + jr;
                    Epilogue tile = dl_sgemm_shifted(epilogue, jr);
                    int tail_here = jr == last_panel ? tail : 0;
                    columns -= tail_here;
                    if (columns > 0 && jr < in_place_end)
                        dl_sgemm_pick_direct(kernels, rows, (columns - 1) / lanes)(kc, ap, lda, b_block + jr, job->b_offsets, c,
                                                                                   job->ldc, rows, columns, tile);
                    else if (columns > 0)
                        dl_sgemm_pick(kernels, rows, (columns - 1) / lanes)(kc, ap, lda, b_panels + jr * kc, c, job->ldc, rows,
                                                                            columns, tile);
                    // The dot kernel after the vector ones, which bring the row group's A into L1 (the first kernel
                    // to touch a cold A waits on it, and a 1-column kernel has nothing to do meanwhile).
                    if (tail_here)
                        kernels->tail_kernels[tail - 1](kc, ap, lda, panels->tail, c + columns, job->ldc, rows,
                                                        dl_sgemm_shifted(tile, columns));
                }
            }
        }
    }
}

/// Units a claim on `left` units takes: all of them, unless the job is shared: then a piece's first
/// claim leaves its last quarter, and later claims (and a claim on another piece's end) take half
/// of what is left; each in whole 64-column panels (PANEL_UNITS), all of it when little is left.
enum { PANEL_UNITS = SPLIT_COLUMNS / SPLIT_UNIT };
static int claim_size(const Job *job, int left, int first_claim) {
    if (!job->shared || left <= 2 * PANEL_UNITS) return left;
    int keep = first_claim ? left / 4 : left / 2;
    keep = keep / PANEL_UNITS * PANEL_UNITS;
    return keep < PANEL_UNITS ? left : left - keep;
}

/// Takes units off the front (the piece's own thread) or the end (another thread) of piece p's
/// units left: [*first, *end), or 0 when none are left.
static int claim(Job *job, int p, int from_end, int first_claim, int *first, int *end) {
    uint64_t state = __atomic_load_n(&job->left[p], __ATOMIC_ACQUIRE);
    for (;;) {
        int lo = (int)(state >> 32), hi = (int)(state & 0xFFFFFFFFu);
        if (lo >= hi) return 0;
        int take = claim_size(job, hi - lo, first_claim);
        uint64_t next = from_end ? (uint64_t)lo << 32 | (uint32_t)(hi - take) : (uint64_t)(lo + take) << 32 | (uint32_t)hi;
        if (__atomic_compare_exchange_n(&job->left[p], &state, next, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            *first = from_end ? hi - take : lo;
            *end = from_end ? hi : lo + take;
            return 1;
        }
    }
}

/// Runs units [first, end) of the job (column units or row groups).
static void run_units(Job *job, int first, int end, Panels *panels) {
    int unit = job->split_columns ? SPLIT_UNIT : MR, extent = job->split_columns ? job->n : job->m;
    int lo = first * unit, hi = end * unit < extent ? end * unit : extent;
    if (lo >= hi) return;
    if (job->split_columns) gemm_block(job, 0, job->m, lo, hi, panels);
    else gemm_block(job, lo, hi, 0, job->n, panels);
}

/// Takes a piece of the job (a run of SPLIT_UNIT-wide column units or of MR-row groups) and runs it
/// front to back; then, when the job is shared, takes units from the end of the piece with the most
/// left until none are: a thread that runs slower (its core shared with another program, or a
/// smaller core) leaves part of its piece to the others. Run by the caller and by pool threads at once.
static void gemm_pieces(void *context) {
    Job *job = context;
    Panels *panels = thread_panels();
    if (!panels) {
        __atomic_store_n(&job->failed, 1, __ATOMIC_RELAXED);
        return;
    }
    int first, end;
    // A weighted job's caller runs piece 0 (sized for it) and pool threads take the others from 1 on;
    // then any thread takes a piece no thread has begun. Each piece's first claim is timed.
    int caller = job->weighted && pthread_equal(pthread_self(), job->caller);
    for (int piece = caller ? 0 : __atomic_fetch_add(&job->next_piece, 1, __ATOMIC_RELAXED); piece < job->pieces;
         piece = __atomic_fetch_add(&job->next_piece, 1, __ATOMIC_RELAXED))
        for (int first_claim = 1; claim(job, piece, 0, first_claim, &first, &end); first_claim = 0) {
            long start = first_claim ? dl_now_nanoseconds() : 0;
            run_units(job, first, end, panels);
            if (first_claim) {
                job->piece_ns[piece] = dl_now_nanoseconds() - start;
                job->piece_units[piece] = end - first;
                job->piece_by_caller[piece] = caller;
            }
        }
    while (job->shared) {
        int victim = -1, most = 0;
        for (int p = 0; p < job->pieces; p++) {
            uint64_t state = __atomic_load_n(&job->left[p], __ATOMIC_RELAXED);
            int left = (int)(state & 0xFFFFFFFFu) - (int)(state >> 32);
            if (left > most) most = left, victim = p;
        }
        if (victim < 0) return;
        if (claim(job, victim, 1, 0, &first, &end)) run_units(job, first, end, panels);
    }
}

/// The caller's speed against a pool thread's, in thousandths (1000: the same), as last measured on
/// products cut a piece per thread: how much of the next such product the caller's own piece takes (see
/// run). Shared by all callers.
static int caller_speed = 1000;

/// Cuts `job` into pieces and runs them on the caller and the pool.
static int run(Job *job) {
    int threads = dl_sgemm_pool_threads();
    int column_units = (job->n + SPLIT_COLUMNS - 1) / SPLIT_COLUMNS, row_units = (job->m + MR - 1) / MR;
    // Column units when there are at least four per thread (the AVX-512 set:
    // eight, see column_units_per_thread): each piece packs only its own
    // columns. One piece per thread, each as wide as the units allow: the
    // pieces write C in row segments as wide as the piece (and read
    // an in-place residual the same way), and narrow segments at 256 places at
    // once starved the hardware prefetcher. Zen 4, two threads, ResNet-50's
    // 56x56 pointwise layers (bench --trace, alternated): 0.61-0.65 ms with four
    // pieces per thread, 0.52-0.53 with one. A thread that gets its core late
    // still costs little: a piece nobody has begun goes to whoever asks first.
    // With fewer units (a small image: 14x14 is four 64-wide units, which two
    // threads would split 3:1), row groups, one piece per thread, since each
    // packs all of B's (then few) columns. Each column piece reads all of A, so
    // that choice counts 64-wide units whatever the panel width. Units are dealt
    // into pieces as evenly as whole units allow. A product below about 2 MFLOP
    // runs on the caller alone.
    // Column pieces are shared out: each thread runs three quarters of its own
    // piece first, then halves of what is left, and a thread done early takes
    // halves of the largest remainder from its end (gemm_pieces). Same speed
    // when both cores are free (ResNet-50, 2 threads, alternated with
    // onnxruntime: 39.8 ms against 40.4 before, AVX2 set 41.2 against 41.0);
    // with a busy loop sharing the second CPU, 66-72 ms against 76-80 (one
    // thread alone: 75).
    // (A convolution's columns, gathered while packing, cost more to pack twice: it keeps four.)
    int per_thread = job->conv ? 4 : job->kernels->column_units_per_thread;
    job->split_columns = threads == 1 || column_units >= per_thread * threads || row_units < threads;
    // The pieces themselves are cut at SPLIT_UNIT columns, so that they balance: 28x28 is 12.25 units of
    // 64, which two threads would share 7:6 (the larger piece 14% over half); in units of 16 it is 25:24.
    job->units = job->split_columns ? (job->n + SPLIT_UNIT - 1) / SPLIT_UNIT : row_units;
    job->pieces = threads < job->units ? threads : job->units;
    if (job->pieces > MAX_PIECES) job->pieces = MAX_PIECES;
    int helpers = threads - 1 < job->pieces - 1 ? threads - 1 : job->pieces - 1;
    if ((long)job->m * job->n * job->k < (1L << 20)) helpers = 0;
    // Column pieces are shared out (see gemm_pieces); row pieces each pack all of B, so they stay whole.
    // With a piece per thread, the caller's (piece 0) is sized for the speed measured on earlier pieces:
    // on a shared host one CPU can run a quarter slower than the other for seconds (another guest's load),
    // and an even cut then leaves the faster thread waiting at the end of every product.
    job->shared = helpers > 0 && job->split_columns;
    job->weighted = helpers > 0 && job->pieces == helpers + 1;
    int first_end = job->units / job->pieces;
    if (job->weighted) {
        int speed = __atomic_load_n(&caller_speed, __ATOMIC_RELAXED);
        first_end = (int)(((long)job->units * speed + (long)(job->pieces - 1) * 500) / (speed + 1000L * (job->pieces - 1)));
        if (first_end < 1) first_end = 1;
        if (first_end > job->units - (job->pieces - 1)) first_end = job->units - (job->pieces - 1);
        job->caller = pthread_self();
        job->next_piece = 1;
    }
    for (int p = 0; p < job->pieces; p++) {
        long lo = p == 0 ? 0 : first_end + (long)(p - 1) * (job->units - first_end) / (job->pieces - 1);
        long hi = p == 0 ? first_end : first_end + (long)p * (job->units - first_end) / (job->pieces - 1);
        job->left[p] = (uint64_t)lo << 32 | (uint32_t)hi;
    }
    dl_sgemm_pool_run(gemm_pieces, job, helpers);
    if (job->weighted && job->piece_by_caller[0] && !job->piece_by_caller[1] && job->piece_ns[0] > 50000 && job->piece_ns[1] > 50000) {
        // Units per second, caller against pool thread, folded into the running estimate (a quarter weight).
        double observed = (double)job->piece_units[0] / job->piece_ns[0] * job->piece_ns[1] / job->piece_units[1];
        int now = __atomic_load_n(&caller_speed, __ATOMIC_RELAXED);
        int next = (int)(0.75 * now + 250 * observed);
        __atomic_store_n(&caller_speed, next < 500 ? 500 : next > 2000 ? 2000 : next, __ATOMIC_RELAXED);
    }
    return job->failed ? -1 : 0;
}

/// The kernels of `isa` when this process may use them, else NULL.
static const SgemmKernels *kernels_for(DLSgemmISA isa) {
#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
    if (isa == DL_SGEMM_AVX512 && dl_cpu_level() >= DL_CPU_AVX512) return &dl_sgemm_avx512_kernels;
    if (isa == DL_SGEMM_AVX2 && dl_cpu_level() >= DL_CPU_AVX2) return &dl_sgemm_avx2_kernels;
#elif defined(__aarch64__)
    if (isa == DL_SGEMM_NEON && dl_cpu_level() == DL_CPU_NEON) return &dl_sgemm_neon_kernels;
#endif
    (void)isa;
    return NULL;
}

int dl_sgemm_isa_available(DLSgemmISA isa) { return kernels_for(isa) != NULL; }

int dl_sgemm_slice_depth(void) { return KC; }

int dl_sgemm_available(void) {
    return dl_sgemm_isa_available(DL_SGEMM_AVX512) || dl_sgemm_isa_available(DL_SGEMM_AVX2) || dl_sgemm_isa_available(DL_SGEMM_NEON);
}

DLSgemmISA dl_sgemm_best_isa(void) {
    if (dl_sgemm_isa_available(DL_SGEMM_AVX512)) return DL_SGEMM_AVX512;
    return dl_sgemm_isa_available(DL_SGEMM_NEON) ? DL_SGEMM_NEON : DL_SGEMM_AVX2;
}

/// dl_sgemm_isa_fused with A in row layout (a_sliced 0, row stride lda) or in the slice layout (1).
static int sgemm_fused(DLSgemmISA isa, int m, int n, int k, const float *a, int lda, int a_sliced, const float *b, int ldb, float *c,
                       int ldc, int accumulate, const float *row_bias, const float *addend, int relu) {
    const SgemmKernels *kernels = kernels_for(isa);
    if (!kernels) return -1;
    if (m <= 0 || n <= 0) return 0;
    if (k <= 0) {
        Epilogue e = {0, 1, row_bias, addend, relu};
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) dl_sgemm_finish(accumulate ? c[(long)i * ldc + j] : 0, c, ldc, i, j, e);
        return 0;
    }
    Job job = {.kernels = kernels, .m = m, .n = n, .k = k, .a = a, .b = b, .c = c, .lda = lda, .ldb = ldb, .ldc = ldc,
               .row_bias = row_bias, .addend = addend, .relu = relu, .accumulate = accumulate != 0, .a_sliced = a_sliced};
    // Few rows of A (a pointwise convolution with few output channels): B's panels are reused too few times
    // to pay for packing, so the direct kernels read them where they lie (the same bits), up to as many
    // rows as the set says for K up to DIRECT_MAX_DEPTH and for K up to one slice.
    long offsets[KC];
    int in_place = m <= (k <= DIRECT_MAX_DEPTH ? kernels->in_place_short_rows : k <= KC ? kernels->in_place_rows : 0);
    if (kernels->direct[0] && in_place) {
        for (int kk = 0; kk < k; kk++) offsets[kk] = (long)kk * ldb;
        job.b_offsets = offsets;
    }
    return run(&job);
}

int dl_sgemm_panel_width(DLSgemmISA isa) {
    const SgemmKernels *kernels = kernels_for(isa);
    return kernels ? kernels->panel_width : 0;
}

int dl_sgemm_packed_b_isa(DLSgemmISA isa, int m, int n, int k, const float *a, int lda, const float *b, float *c, int ldc) {
    const SgemmKernels *kernels = kernels_for(isa);
    if (!kernels || k <= 0 || k > KC || m <= 0 || n <= TAIL_MAX) return -1;
    Panels *panels = thread_panels();
    if (!panels) return -1;
    // gemm_block over the whole product on this thread, reading B's panels where they lie: the same kernels,
    // tiles and dot-kernel columns as dl_sgemm_isa_ex, so each element gets the same operations.
    Job job = {.kernels = kernels, .m = m, .n = n, .k = k, .a = a, .lda = lda, .c = c, .ldc = ldc, .packed_b = b};
    gemm_block(&job, 0, m, 0, n, panels);
    return job.failed ? -1 : 0;
}

int dl_sgemm_isa_fused(DLSgemmISA isa, int m, int n, int k, const float *a, int lda, const float *b, int ldb, float *c, int ldc,
                       int accumulate, const float *row_bias, const float *addend, int relu) {
    return sgemm_fused(isa, m, n, k, a, lda, 0, b, ldb, c, ldc, accumulate, row_bias, addend, relu);
}

int dl_sgemm_isa_fused_sliced(DLSgemmISA isa, int m, int n, int k, const float *a, const float *b, int ldb, float *c, int ldc,
                              int accumulate, const float *row_bias, const float *addend, int relu) {
    return sgemm_fused(isa, m, n, k, a, k, 1, b, ldb, c, ldc, accumulate, row_bias, addend, relu);
}

int dl_sgemm_isa_ex(DLSgemmISA isa, int m, int n, int k, const float *a, int lda, const float *b, int ldb, float *c, int ldc,
                    int accumulate, const float *row_bias, int relu) {
    return dl_sgemm_isa_fused(isa, m, n, k, a, lda, b, ldb, c, ldc, accumulate, row_bias, NULL, relu);
}

// ---------------------------------------------------------------- direct convolution
//
// A convolution with few output channels reuses each packed column only m/6
// times, so packing the columns costs as much as a third of the product (16
// output channels: 38%). The direct form packs nothing: the input is copied
// once, zero-padded and, for stride 2, split into even and odd columns, into
// `prepared`; then for output row oh, the columns [ow0, ow0 + 64) of the
// matrix's row k = (channel, kh, kw) lie contiguous in it, at base(oh, ow0) +
// offsets[k], and the set's direct kernel (AVX-512, AVX2 and NEON each have
// one) reads them there. Each output is
// summed by the same sequence of operations as in the packed product (the
// same K slices; the matrix's last 1-4 columns by the same dot kernel), so
// the two give the same bits and the choice between them is speed alone.

/// Bytes of the prepared input a thread keeps between calls; larger ones are allocated for the call.
#define DIRECT_RETAINED_BYTES (8L << 20)
/// The largest prepared input a stride-2 product packs from; larger ones gather from the input.
#define PACKING_COPY_BYTES (2L << 20)

typedef struct {
    const SgemmKernels *kernels;
    const DLConvGeometry *g;
    int m, k, n;
    const float *w;
    float *y;
    int ldy;
    const float *row_bias, *addend;
    int relu;
    const float *prepared;  // per channel: rows of `stride_width` phases of `phase_width` floats
    const long *offsets;    // k → offset of the matrix row's first column in `prepared`, from base(oh, 0)
    long row_floats;        // floats per prepared row (all its phases)
    int tail;               // the matrix's last columns computed by the dot kernel (as in gemm_block)
    int failed;             // atomic
} DirectJob;

/// Output rows [first, end) of a direct job, every output channel.
static void direct_rows(void *context, long first, long end) {
    DirectJob *job = context;
    const SgemmKernels *kernels = job->kernels;
    const DLConvGeometry *g = job->g;
    Panels *panels = thread_panels();
    if (!panels) {
        __atomic_store_n(&job->failed, 1, __ATOMIC_RELAXED);
        return;
    }
    int nr = kernels->panel_width, lanes = kernels->lanes;
    for (long oh = first; oh < end; oh++) {
        const float *row_base = job->prepared + (long)g->stride_height * oh * job->row_floats;
        // The last row's last `tail` columns go to the dot kernel, as the packed product's last panel does.
        int vector_end = oh == g->out_height - 1 ? g->out_width - job->tail : g->out_width;
        for (int pc = 0; pc < job->k; pc += KC) {
            int kc = job->k - pc < KC ? job->k - pc : KC;
            const long *offsets = job->offsets + pc;
            int tail = oh == g->out_height - 1 ? job->tail : 0;
            if (tail)
                for (int j = 0; j < tail; j++)
                    for (int kk = 0; kk < kc; kk++) panels->tail[(long)j * kc + kk] = row_base[offsets[kk] + vector_end + j];
            for (int ir = 0; ir < job->m; ir += MR) {
                int rows = job->m - ir < MR ? job->m - ir : MR;
                long lda;
                const float *ap = a_group(job->w + (long)ir * job->k + pc, job->k, rows, kc, panels->a, &lda);
                long pixel = oh * g->out_width;
                Epilogue epilogue = {pc > 0, pc + kc == job->k, job->row_bias ? job->row_bias + ir : NULL,
                                     job->addend ? job->addend + (long)ir * job->ldy + pixel : NULL, job->relu};
                float *c = job->y + (long)ir * job->ldy + pixel;
                for (int ow0 = 0; ow0 < vector_end; ow0 += nr) {
                    int columns = vector_end - ow0 < nr ? vector_end - ow0 : nr;
                    dl_sgemm_pick_direct(kernels, rows, (columns - 1) / lanes)(kc, ap, lda, row_base + ow0, offsets, c + ow0, job->ldy,
                                                                               rows, columns, dl_sgemm_shifted(epilogue, ow0));
                }
                if (tail)
                    kernels->tail_kernels[tail - 1](kc, ap, lda, panels->tail, c + vector_end, job->ldy, rows,
                                                    dl_sgemm_shifted(epilogue, vector_end));
            }
        }
    }
}

/// The prepared copy of a direct convolution's input: see dl_conv2d_direct_isa.
typedef struct {
    const DLConvGeometry *g;
    const float *x;
    float *prepared;
    long rows, phase_width, row_floats, plane;
    SgemmRowGather gather;  // the set's prepare_row, or NULL
} Preparation;

/// Rows [first, end) of the prepared copy, counted across channels (row r of channel c is c·rows + r):
/// each padded row's columns by phase, 0 outside the image.
static void prepare_rows(void *context, long first, long end) {
    const Preparation *p = context;
    const DLConvGeometry *g = p->g;
    int s = g->stride_width;
    for (long index = first; index < end; index++) {
        long c = index / p->rows, r = index % p->rows;
        float *to = p->prepared + c * p->plane + r * p->row_floats;
        long ih = r - g->pad_top;
        if (ih < 0 || ih >= g->in_height) {
            memset(to, 0, sizeof(float) * p->row_floats);
            continue;
        }
        const float *from = p->x + (c * g->in_height + ih) * g->in_width;
        for (int phase = 0; phase < s; phase++) {
            // Column j of this phase is input column s·j + phase − pad_left, inside the row for j in [lower, upper):
            // d[j] = source[s·j] there, else 0.
            float *d = to + phase * p->phase_width;
            int lower, upper;
            dl_valid_span((int)p->phase_width, s, phase - g->pad_left, g->in_width, &lower, &upper);
            const float *source = from + phase - g->pad_left;
            if (p->gather) {
                p->gather(source, s, 0, (int)p->phase_width, lower, upper, d);
                continue;
            }
            memset(d, 0, sizeof(float) * lower);
            memset(d + upper, 0, sizeof(float) * (p->phase_width - upper));
            if (s == 1) memcpy(d + lower, source + lower, sizeof(float) * (upper - lower));
            else
                for (long j = lower; j < upper; j++) d[j] = source[2 * j];
        }
    }
}

int dl_sgemm_direct_depth(DLSgemmISA isa) {
    const SgemmKernels *kernels = kernels_for(isa);
    return kernels && kernels->direct[0] ? DIRECT_MAX_DEPTH : 0;
}

/// A convolution input's prepared copy and where each matrix row starts in it.
typedef struct {
    float *prepared;
    long *offsets;       // k → offset of the matrix row's first column in `prepared`, from base(oh, 0)
    long row_floats;     // floats per prepared row (all its phases)
    char *memory;        // what holds both
    size_t bytes;
    int retained;        // 1: this thread's buffer, kept; 0: allocated for the call
} PreparedInput;

/// The prepared copy's shape: padded rows and columns the outputs reach, the columns split into
/// stride_width phases of `phase_width`; `bytes` for the copy and its offsets table.
typedef struct {
    long rows, phase_width, row_floats, plane;
    size_t prepared_bytes, bytes;
} PreparedLayout;

static PreparedLayout prepared_layout(const DLConvGeometry *g) {
    int s = g->stride_width;
    PreparedLayout l;
    l.rows = (long)g->stride_height * (g->out_height - 1) + (long)g->dilation_height * (g->kernel_height - 1) + 1;
    long columns = (long)s * (g->out_width - 1) + (long)g->dilation_width * (g->kernel_width - 1) + 1;
    l.phase_width = (columns + s - 1) / s;
    l.row_floats = s * l.phase_width;
    l.plane = l.rows * l.row_floats;
    l.prepared_bytes = sizeof(float) * ((size_t)g->channels * l.plane + 64);  // + one vector row read past the end
    l.bytes = l.prepared_bytes + sizeof(long) * (size_t)g->channels * g->kernel_height * g->kernel_width;
    return l;
}

/// Copies x zero-padded, each row's columns split into stride_width phases (stride 1 or 2), the
/// channels dealt to the pool: then for output row oh, the columns [ow0, ow0 + count) of the matrix's
/// row k = (channel, kh, kw) lie contiguous at prepared + stride_height·oh·row_floats + offsets[k] + ow0.
/// 0, or -1 if its memory could not be allocated. Give it back with release_input.
static int prepare_input(const SgemmKernels *kernels, const DLConvGeometry *g, const float *x, PreparedInput *out) {
    int s = g->stride_width;
    long k = (long)g->channels * g->kernel_height * g->kernel_width;
    PreparedLayout l = prepared_layout(g);
    int retained = l.bytes <= (size_t)DIRECT_RETAINED_BYTES;
    char *memory = retained ? dl_thread_buffer(DL_BUFFER_CONV_INPUT, l.bytes) : malloc(l.bytes);
    if (!memory) return -1;
    if (!retained) dl_kernel_scratch_add((long)l.bytes);
    float *prepared = (float *)memory;
    long *offsets = (long *)(memory + l.prepared_bytes);
    // The copy, rows dealt to the pool (about 32768 floats a piece): a pass over the input the execute
    // thread would otherwise make alone. By rows, not channels: a stem's 3 channels made 3 pieces, which
    // two threads shared 2:1.
    Preparation preparation = {g, x, prepared, l.rows, l.phase_width, l.row_floats, l.plane, kernels->prepare_row};
    long rows_per_piece = 32768 / l.row_floats;
    dl_parallel_ranges(g->channels * l.rows, rows_per_piece < 1 ? 1 : rows_per_piece, prepare_rows, &preparation);
    memset(prepared + (long)g->channels * l.plane, 0, sizeof(float) * 64);
    long taps = (long)g->kernel_height * g->kernel_width;
    for (long kk = 0; kk < k; kk++) {
        long c = kk / taps, tap = kk % taps, kh = tap / g->kernel_width, kw = tap % g->kernel_width;
        long dw = kw * g->dilation_width;
        offsets[kk] = c * l.plane + kh * g->dilation_height * l.row_floats + (dw % s) * l.phase_width + dw / s;
    }
    *out = (PreparedInput){prepared, offsets, l.row_floats, memory, l.bytes, retained};
    return 0;
}

static void release_input(PreparedInput *input) {
    if (input->retained) return;
    free(input->memory);
    dl_kernel_scratch_add(-(long)input->bytes);
}

int dl_conv2d_direct_isa(DLSgemmISA isa, const DLConvGeometry *g, int m, const float *w, const float *x, float *y, int ldy,
                         const float *row_bias, const float *addend, int relu) {
    const SgemmKernels *kernels = kernels_for(isa);
    int s = g->stride_width;
    if (!kernels || !kernels->direct[0] || (s != 1 && s != 2) || g->out_width < 16 || m <= 0 || g->out_height <= 0 ||
        g->channels <= 0)
        return -1;
    int n = g->out_height * g->out_width;
    int k = g->channels * g->kernel_height * g->kernel_width;
    PreparedInput input;
    if (prepare_input(kernels, g, x, &input) != 0) return -1;
    // The dot kernel's columns: as gemm_block finds them in the matrix's last panel.
    int nr = kernels->panel_width, last_columns = n - (n - 1) / nr * nr;
    int tail = last_columns % kernels->lanes <= TAIL_MAX ? last_columns % kernels->lanes : 0;
    DirectJob job = {kernels, g, m, k, n, w, y, ldy, row_bias, addend, relu, input.prepared, input.offsets, input.row_floats, tail, 0};
    // Output rows dealt to the pool, about 32768 output floats per piece and at least four pieces per
    // thread: YOLOv8n's 16 channels at 80x80 made 25-row pieces, 25, 25, 25 and 5 rows, which two threads
    // split 50:30.
    long grain = 32768 / ((long)m * g->out_width);
    long threads = dl_sgemm_pool_threads(), even = (g->out_height + 4 * threads - 1) / (4 * threads);
    if (grain > even) grain = even;
    if ((long)m * n * k < (1L << 20)) direct_rows(&job, 0, g->out_height);
    else dl_parallel_ranges(g->out_height, grain < 1 ? 1 : grain, direct_rows, &job);
    release_input(&input);
    return job.failed ? -1 : 0;
}

/// A 1x1 convolution's column matrix: the input at every stride-th row and column.
typedef struct {
    const DLConvGeometry *g;
    const float *x;
    float *columns;  // (channels, out_height·out_width)
} Subsampling;

static void subsample_channels(void *context, long first, long end) {
    const Subsampling *p = context;
    const DLConvGeometry *g = p->g;
    long n = (long)g->out_height * g->out_width;
    for (long c = first; c < end; c++)
        for (long oh = 0; oh < g->out_height; oh++) {
            const float *row = p->x + (c * g->in_height + oh * g->stride_height) * g->in_width;
            float *to = p->columns + c * n + oh * g->out_width;
            if (g->stride_width == 2)
                for (long ow = 0; ow < g->out_width; ow++) to[ow] = row[2 * ow];
            else
                for (long ow = 0; ow < g->out_width; ow++) to[ow] = row[ow * g->stride_width];
        }
}

/// dl_conv2d_gemm_isa_fused with w in row layout (w_sliced 0) or in the slice layout (1).
static int conv_fused(DLSgemmISA isa, const DLConvGeometry *g, int m, const float *w, int w_sliced, const float *x, float *y, int ldy,
                      const float *row_bias, const float *addend, int relu) {
    const SgemmKernels *kernels = kernels_for(isa);
    if (!kernels) return -1;
    int n = g->out_height * g->out_width;
    int k = g->channels * g->kernel_height * g->kernel_width;
    if (m <= 0 || n <= 0 || k <= 0) return sgemm_fused(isa, m, n, k, w, k, w_sliced, x, n, y, ldy, 0, row_bias, addend, relu);
    // A 1x1 convolution without padding: its column matrix is the input itself (stride 1) or the input
    // subsampled, copied once (a fraction of the input), then a plain product, which packs it with memcpy
    // instead of gathering every s-th float of each run. Same bits: the same product of the same matrix.
    int pointwise = g->kernel_height == 1 && g->kernel_width == 1 && g->pad_top == 0 && g->pad_left == 0;
    if (pointwise && g->stride_height == 1 && g->stride_width == 1)
        return sgemm_fused(isa, m, n, k, w, k, w_sliced, x, n, y, ldy, 0, row_bias, addend, relu);
    // Few output channels: read the input where it lies (the same bits; falls back to packing if it cannot).
    // (Its kernels read w in row layout.)
    if (!w_sliced && m <= DIRECT_MAX_ROWS && k <= DIRECT_MAX_DEPTH &&
        dl_conv2d_direct_isa(isa, g, m, w, x, y, ldy, row_bias, addend, relu) == 0)
        return 0;
    if (pointwise && (long)sizeof(float) * g->channels * n <= PACKING_COPY_BYTES) {
        float *columns = dl_thread_buffer(DL_BUFFER_CONV_INPUT, sizeof(float) * (size_t)g->channels * n);
        if (columns) {
            Subsampling subsampling = {g, x, columns};
            long per_piece = 32768 / n;
            dl_parallel_ranges(g->channels, per_piece < 1 ? 1 : per_piece, subsample_channels, &subsampling);
            return sgemm_fused(isa, m, n, k, w, k, w_sliced, columns, n, y, ldy, 0, row_bias, addend, relu);
        }
    }
    Job job = {.kernels = kernels, .m = m, .n = n, .k = k, .a = w, .b = x, .c = y, .lda = k, .ldc = ldy, .row_bias = row_bias,
               .addend = addend, .relu = relu, .conv = g, .a_sliced = w_sliced};
    // Stride 2 with a wider kernel: packing straight from the input gathers every other column, bounds
    // checked, in runs of at most an output row, once per tap; from the prepared copy (made once) each run
    // is one plain copy. Tools/conv_probe.c, one thread, Zen 4: ResNet-50's 3x3 stride-2 at 56x56 2.54 ->
    // 2.49 ms on AVX-512, 2.74 -> 2.56 on AVX2; at 28x28 2.43 -> 2.43 and 2.60 -> 2.52; YOLOv8n's 32->64 at
    // 80x80 0.713 -> 0.690 and 0.784 -> 0.714. The panels hold the same values either way, so the same bits.
    // Only where the copy is small (ResNet-50's largest is 1.7 MiB): it is memory outside any budget, and
    // YOLOv3's first stride-2 layer would want 22 MiB (three models sharing a 128 MiB budget in a 320 MiB
    // cgroup ran out of memory with it).
    // Stride 1 with output rows narrower than 16: the gather's runs are an output row long, so its bounds
    // checks cost as much as the copy. ResNet-50's 3x3 convolutions at 7x7 (K 4608), AMD EPYC Zen 3, AVX2,
    // cold weights, alternated, minimum and median of 25: one thread 3.67 -> 3.45 and 3.05 -> 2.91 ms, two
    // 1.61 -> 1.52 and 1.96 -> 1.75 (with two threads each packs all of B: the rows are split).
    PreparedInput input;
    int copy_pays = g->stride_width == 2 || (g->stride_width == 1 && g->out_width < 16);
    int prepared = copy_pays && g->kernel_width > 1 && prepared_layout(g).bytes <= (size_t)PACKING_COPY_BYTES &&
                   prepare_input(kernels, g, x, &input) == 0;
    if (prepared) job.prepared = input.prepared, job.prepared_offsets = input.offsets, job.prepared_row_floats = input.row_floats;
    int status = run(&job);
    if (prepared) release_input(&input);
    return status;
}

int dl_conv2d_gemm_isa_fused(DLSgemmISA isa, const DLConvGeometry *g, int m, const float *w, const float *x, float *y, int ldy,
                             const float *row_bias, const float *addend, int relu) {
    return conv_fused(isa, g, m, w, 0, x, y, ldy, row_bias, addend, relu);
}

int dl_conv2d_gemm_isa_fused_sliced(DLSgemmISA isa, const DLConvGeometry *g, int m, const float *w, const float *x, float *y, int ldy,
                                    const float *row_bias, const float *addend, int relu) {
    return conv_fused(isa, g, m, w, 1, x, y, ldy, row_bias, addend, relu);
}

// ---------------------------------------------------------------- the slice layout of A
//
// K slice by K slice, each row group's six rows of one slice are one product's stream of A: in row layout
// they lie k·4 bytes apart, in six places. With k a multiple of 1024 those are 4 KiB apart (or more), so
// every group's six rows of a slice fall into the same sets of an 8-way L1 (the next group's, prefetched,
// too), each in another page. The slice layout stores each slice's groups one after the other, each group's
// rows kc apart: the product reads A front to back, slice after slice. Same values, same kernels, same
// bits. AMD EPYC Zen 3, AVX2, one thread, weights cold: (m, n, k) = (256, 196, 1024) 1.39 -> 1.18 ms,
// (512, 49, 2048) 1.44 -> 1.20; with k of 512 or less, or k = 4608 (rows 18 KiB apart), nothing measurable.

int dl_sgemm_sliced_wanted(int m, int n, int k) { return m >= MR && n > TAIL_MAX && k % (4 * KC) == 0; }

/// The slice layout made in place when k is a whole number of slices: the whole groups' rows are then a
/// (rows, slices) matrix of KC-float blocks, which the layout stores transposed. Each cycle of that
/// transpose moves its blocks through one spare block; a bitmap marks the blocks already moved. The rows
/// past the whole groups are where the layout wants them already. -1 if the bitmap cannot be allocated.
static int sliced_in_place(long whole, long slices, float *a) {
    long count = whole * slices;  // blocks; block (r, c) at r·slices + c goes to c·whole + r
    unsigned char *moved = calloc((size_t)(count + 7) / 8, 1);
    if (!moved) return -1;
    float spare[KC];
    for (long start = 0; start < count; start++) {
        if (moved[start / 8] & (1u << (start % 8))) continue;
        memcpy(spare, a + start * KC, sizeof spare);
        for (long to = start;;) {
            moved[to / 8] |= (unsigned char)(1u << (to % 8));
            long from = (to % whole) * slices + to / whole;  // the block that belongs at `to`
            if (from == start) {
                memcpy(a + to * KC, spare, sizeof spare);
                break;
            }
            memcpy(a + to * KC, a + from * KC, sizeof spare);
            to = from;
        }
    }
    free(moved);
    return 0;
}

int dl_sgemm_sliced_from_rows(int m, int k, float *a) {
    if (m <= 0 || k <= 0) return 0;
    if (k % KC == 0) return sliced_in_place((long)m / MR * MR, k / KC, a);
    size_t bytes = sizeof(float) * (size_t)m * (size_t)k;
    float *copy = malloc(bytes);
    if (!copy) return -1;
    dl_kernel_scratch_add((long)bytes);
    memcpy(copy, a, bytes);
    long whole = (long)m / MR * MR;
    for (long pc = 0; pc < k; pc += KC) {
        long kc = k - pc < KC ? k - pc : KC;
        for (long i = 0; i < whole; i++) memcpy(a + pc * whole + i * kc, copy + i * k + pc, sizeof(float) * kc);
    }
    // The rows past the last whole group stay rows, after the groups.
    memcpy(a + whole * k, copy + whole * k, sizeof(float) * (size_t)(m - whole) * (size_t)k);
    free(copy);
    dl_kernel_scratch_add(-(long)bytes);
    return 0;
}

int dl_conv2d_gemm_isa(DLSgemmISA isa, const DLConvGeometry *g, int m, const float *w, const float *x, float *y, int ldy,
                       const float *row_bias, int relu) {
    return dl_conv2d_gemm_isa_fused(isa, g, m, w, x, y, ldy, row_bias, NULL, relu);
}

// The forms on the widest set this process may use.
int dl_sgemm_ex(int m, int n, int k, const float *a, int lda, const float *b, int ldb, float *c, int ldc,
                int accumulate, const float *row_bias, int relu) {
    return dl_sgemm_isa_ex(dl_sgemm_best_isa(), m, n, k, a, lda, b, ldb, c, ldc, accumulate, row_bias, relu);
}

int dl_sgemm(int m, int n, int k, const float *a, int lda, const float *b, int ldb, float *c, int ldc) {
    return dl_sgemm_ex(m, n, k, a, lda, b, ldb, c, ldc, 0, NULL, 0);
}

int dl_sgemm_bias_relu(int m, int n, int k, const float *a, int lda, const float *b, int ldb, float *c, int ldc,
                       const float *row_bias, int relu) {
    return dl_sgemm_ex(m, n, k, a, lda, b, ldb, c, ldc, 0, row_bias, relu);
}

int dl_conv2d_gemm(const DLConvGeometry *g, int m, const float *w, const float *x, float *y, int ldy,
                   const float *row_bias, int relu) {
    return dl_conv2d_gemm_isa(dl_sgemm_best_isa(), g, m, w, x, y, ldy, row_bias, relu);
}
