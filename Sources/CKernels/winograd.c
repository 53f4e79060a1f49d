// 3x3 stride-1 convolution by Winograd's minimal filtering (Lavin and Gray, "Fast Algorithms for
// Convolutional Neural Networks", 2015), in two variants picked by the geometry (tile_of):
// F(2x2, 3x3), each 2x2 block of outputs ("tile") from a 4x4 window, 16 multiply-adds per tile and input
// channel instead of 36 (2.25 times fewer), and F(4x4, 3x3), 4x4 tiles from 6x6 windows, 36 instead of 144
// (4 times fewer). The products are independent GEMMs (16 or 36, one per point ξ of the transformed tile)
// run by CKernels' own dl_sgemm_isa_ex. See dl_sgemm.h. For F(2x2, 3x3):
//
//   U[ξ] (M, C)  = (G g G^T)[ξ] for each filter g (3x3)      weights, per call (or once: dl_conv2d_winograd_prepare)
//   V[ξ] (C, T)  = (B^T d B)[ξ] for each input tile d (4x4)  a block of tiles at a time
//   P[ξ] (M, T)  = U[ξ] · V[ξ]                               16 GEMMs per block
//   y tile (2x2) = A^T P A + bias, then ReLU if asked
//
// with ξ the 16 positions of the 4x4 transformed tile and
//   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1], G = [1 0 0; ½ ½ ½; ½ -½ ½; 0 0 1],
//   A^T = [1 1 1 0; 0 1 -1 -1].
// F(4x4, 3x3) is the same with 6x6 windows, 36 points and the matrices given above its transforms.
//
// Accuracy: the transforms add and subtract values of the size of the
// inputs, so the rounding error is a few times that of the direct sum (about
// 1e-6 relative to Σ|w·x| for F(2x2, 3x3), 3e-6 for F(4x4, 3x3), whose
// transforms scale by up to 8), well inside the operators' 1e-4.
//
// Exactness: every step is a fixed sequence of float operations (no
// contraction into fused multiply-adds in the transforms: FP_CONTRACT OFF),
// blocks of tiles are cut by the geometry alone (never by the thread count
// or the number of output channels), the variant too, and dl_sgemm_isa_ex is
// exact to itself, so 1 and N threads and any cut of the output channels give
// the same bits.
//
// Memory: U takes 16·M·C floats (16/9 of the weights; F(4x4, 3x3): 36·M·C, 4 times) and each thread a
// block of V and P (16 or 36 ·Tb·(C + M) floats, Tb about 32768 / C tiles). Each thread
// keeps up to RETAINED_BYTES of them from call to call (fresh pages cost a
// fault and a clearing each, which showed as a tenth of YOLOv8n's time); what
// is beyond is allocated for the call and freed before it returns. A U made
// once by dl_conv2d_winograd_prepare (what a resident session keeps) lives in
// its own pages until dl_conv2d_winograd_release.
//
// Measured against the direct GEMM (dl_conv2d_gemm_isa) at ResNet-50's 3x3
// stride-1 shapes, one thread, AMD EPYC Zen 4, AVX-512 set, F(2x2, 3x3): 64 channels at
// 56x56 0.67-0.69 of its time, 128 at 28x28 0.61-0.65, 256 at 14x14 0.82-0.88
// (alone; at 14x14 the AVX-512 set runs the AVX2 set's GEMMs, see
// dl_conv2d_winograd_isa). F(4x4, 3x3) against F(2x2, 3x3): see tile_of.
#include "dl_sgemm.h"
#include "sgemm_core.h"
#include "sgemm_pool.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

/// The most bytes of transformed weights (U) one call holds; larger layers run in runs of output channels.
#define WEIGHT_TRANSFORM_BYTES (4L << 20)

/// Bytes of scratch a thread keeps between calls: every Winograd layer of ResNet-50 and YOLOv8n fits.
enum { RETAINED_BYTES = 8 << 20 };

/// `bytes` of scratch: this thread's kept buffer (dl_thread_buffer) up to RETAINED_BYTES, else a fresh
/// allocation for the call alone, which release_scratch frees. NULL if allocation failed.
static void *scratch(size_t bytes) {
    if (bytes <= RETAINED_BYTES) return dl_thread_buffer(DL_BUFFER_WINOGRAD, bytes);
    void *data = malloc(bytes);
    if (data) dl_kernel_scratch_add((long)bytes);
    return data;
}

/// Gives back what scratch(bytes) returned.
static void release_scratch(void *data, size_t bytes) {
    if (bytes <= RETAINED_BYTES) return;
    free(data);
    dl_kernel_scratch_add(-(long)bytes);
}

/// One call, shared by the threads that take its blocks of tiles.
typedef struct {
    DLSgemmISA isa;
    const DLConvGeometry *g;
    int m;
    const float *x, *bias;
    const float *addend;  // laid out as y, added after the bias and before the ReLU, or NULL
    float *y;
    int ldy, relu;
    const float *u;      // (planes, m, channels)
    int tile, alpha;     // the variant: tile x tile outputs from alpha x alpha windows (2 and 4, or 4 and 6)
    int planes;          // alpha², the transformed tile's points ξ: U, V and P have that many planes
    int tiles_w, tiles;  // tiles per row of tiles, in all
    int block;           // the most tiles a block holds (its V and P buffers' width)
    int blocks;
    int units;           // when not 0: blocks are cut at whole 16-tile units, `units` of them dealt as evenly
                         // as they allow, the larger blocks first, the last block taking the tiles past them
    int v_in_panels;     // 1: one K slice (up to KC channels) and the set's panels CHUNK tiles wide, so blocks
                         // may keep V in them (packed_v)
    int next_block;      // atomic
    int failed;          // atomic
} Job;

/// The distance between the 16 planes of U, V or P: `floats` rounded up to a
/// cache line, plus one, so that the 16 streams a transform writes or reads do
/// not fall into the same L1 set when `floats` is a large power of two.
static long padded_plane(long floats) { return (floats + 15) / 16 * 16 + 16; }

/// Most tiles (or channels) a transform handles per inner loop: its local rows. TILE_MAX and ALPHA_MAX:
/// the larger variant's output tile (4x4) and input window (6x6).
enum { CHUNK = 64, TILE_MAX = 4, ALPHA_MAX = 6 };

/// Whether a block of `count` tiles keeps V in the GEMM's packed panels, so that its GEMMs
/// (dl_sgemm_packed_b_isa) read it as it is instead of packing a copy: where the job allows it
/// (`v_in_panels`) and the block has more than TAIL_MAX tiles. Per channel and plane, a panel's row is
/// then CHUNK tiles (zero past the block's last), the panels one after another, each the channels' rows.
/// The same kernels read the same values: the same bits.
static int packed_v(const Job *job, int count) { return job->v_in_panels && count > TAIL_MAX; }

/// The distance between V's planes for a block of `count` tiles (see packed_v).
static long v_plane(const Job *job, int count) {
    long width = packed_v(job, count) ? (count + CHUNK - 1) / CHUNK * CHUNK : count;
    return padded_plane(width * job->g->channels);
}

/// taps[tap][c] = g[c·9 + tap] for c < n: n filters' nine taps, transposed for the weight transform.
static void taps_plain(const float *g, int n, float (*taps)[CHUNK]) {
    for (int c = 0; c < n; c++)
        for (int tap = 0; tap < 9; tap++) taps[tap][c] = g[c * 9 + tap];
}

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>

/// taps_plain, eight filters at a time: their first eight taps (eight unaligned rows) through an 8x8
/// transpose in registers, the ninth by single loads (the compilers made the plain loop one insert per
/// float). The whole transform of a 256x256 layer, weights in cache, Zen 4: 0.26 -> 0.22-0.24 ms; with
/// the GEMMs, 128 channels at 28x28 1.50 -> 1.42 ms (the AVX-512 build's plain loop was the slower one).
__attribute__((target("avx2"))) static void taps_avx2(const float *g, int n, float (*taps)[CHUNK]) {
    int c = 0;
    for (; c + 8 <= n; c += 8) {
        const float *f = g + c * 9;
        __m256 r[8], t[8], s[8];
        for (int i = 0; i < 8; i++) r[i] = _mm256_loadu_ps(f + 9 * i);
        for (int i = 0; i < 8; i += 2) {
            t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
            t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
        }
        for (int h = 0; h < 8; h += 4) {
            s[h] = _mm256_shuffle_ps(t[h], t[h + 2], _MM_SHUFFLE(1, 0, 1, 0));
            s[h + 1] = _mm256_shuffle_ps(t[h], t[h + 2], _MM_SHUFFLE(3, 2, 3, 2));
            s[h + 2] = _mm256_shuffle_ps(t[h + 1], t[h + 3], _MM_SHUFFLE(1, 0, 1, 0));
            s[h + 3] = _mm256_shuffle_ps(t[h + 1], t[h + 3], _MM_SHUFFLE(3, 2, 3, 2));
        }
        for (int j = 0; j < 4; j++) {
            _mm256_storeu_ps(taps[j] + c, _mm256_permute2f128_ps(s[j], s[4 + j], 0x20));
            _mm256_storeu_ps(taps[4 + j] + c, _mm256_permute2f128_ps(s[j], s[4 + j], 0x31));
        }
        _mm256_storeu_ps(taps[8] + c, _mm256_setr_ps(f[8], f[17], f[26], f[35], f[44], f[53], f[62], f[71]));
    }
    taps_plain(g + c * 9, n - c, (float (*)[CHUNK])(&taps[0][c]));
}
#endif

/// (G g)[0..4) of the three taps g0, g1, g2, for F(2x2, 3x3).
#define DL_WINOGRAD2_WEIGHTS(g0, g1, g2, u)                                   \
    do {                                                                      \
        float half_sum_ = (g0 + g2) * 0.5f, half_middle_ = g1 * 0.5f;         \
        u[0] = g0;                                                            \
        u[1] = half_sum_ + half_middle_;                                      \
        u[2] = half_sum_ - half_middle_;                                      \
        u[3] = g2;                                                            \
    } while (0)

/// `name`: U[ξ][i][c] = (G g G^T)[ξ] for output channels [i0, i1), ξ over alpha x alpha points, with
/// ROW(g0, g1, g2, u) giving (G g)[0..alpha) of three values: down the filter's columns, then along the rows,
/// each a loop along the channels with unit strides (which compilers vectorize). For F(4x4, 3x3): filter by
/// filter, the transform of 128x128 filters took 0.33 ms a call, half the time its GEMMs save at 28x28; so,
/// 0.08-0.10 (256x256: 1.33 -> 0.31-0.33; AMD EPYC Zen 3, clang, one thread).
#define DL_WINOGRAD_WEIGHTS(name, target, gather_taps, alpha, ROW)                                              \
    target static void name(const float *w, int i0, int i1, int channels, float *u, long plane) {               \
        float taps[9][CHUNK], t[alpha][3][CHUNK];                                                               \
        for (int i = i0; i < i1; i++) {                                                                         \
            for (int c0 = 0; c0 < channels; c0 += CHUNK) {                                                      \
                int n = channels - c0 < CHUNK ? channels - c0 : CHUNK;                                          \
                gather_taps(w + ((long)i * channels + c0) * 9, n, taps);                                        \
                float *to = u + (long)i * channels + c0;                                                        \
                for (int j = 0; j < 3; j++) {                                                                   \
                    const float *g0 = taps[j], *g1 = taps[3 + j], *g2 = taps[6 + j];                            \
                    for (int c = 0; c < n; c++) {                                                               \
                        float row[alpha];                                                                       \
                        ROW(g0[c], g1[c], g2[c], row);                                                          \
                        for (int r = 0; r < alpha; r++) t[r][j][c] = row[r];                                    \
                    }                                                                                           \
                }                                                                                               \
                for (int r = 0; r < alpha; r++) {                                                               \
                    float *plane_row = to + (long)r * alpha * plane;                                            \
                    for (int c = 0; c < n; c++) {                                                               \
                        float row[alpha];                                                                       \
                        ROW(t[r][0][c], t[r][1][c], t[r][2][c], row);                                           \
                        for (int s = 0; s < alpha; s++) plane_row[s * plane + c] = row[s];                      \
                    }                                                                                           \
                }                                                                                               \
            }                                                                                                   \
        }                                                                                                       \
    }

/// The transforms are written as loops along tiles (or channels) with unit
/// strides, which compilers vectorize; each is built for baseline x86-64 (or
/// ARM64) and again for AVX2 and AVX-512, picked with the GEMM's set. They only
/// add, subtract and halve, so every build gives the same bits.
#define DL_WINOGRAD_TRANSFORMS(suffix, target, gather_taps)                                                             \
    /* U[ξ][i][c] = (G g G^T)[ξ] for output channels [i0, i1), filter by filter (F(2x2, 3x3)'s G·g is cheap enough \
       that two passes along the channels, as DL_WINOGRAD_WEIGHTS makes, took longer: 128x128 filters 0.04 -> 0.06 ms) */ \
    target static void transform_weights##suffix(const float *w, int i0, int i1, int channels, float *u, long plane) { \
        float taps[9][CHUNK];                                                                                         \
        for (int i = i0; i < i1; i++) {                                                                               \
            for (int c0 = 0; c0 < channels; c0 += CHUNK) {                                                            \
                int n = channels - c0 < CHUNK ? channels - c0 : CHUNK;                                                \
                gather_taps(w + ((long)i * channels + c0) * 9, n, taps);                                              \
                float *to = u + (long)i * channels + c0;                                                              \
                for (int c = 0; c < n; c++) {                                                                         \
                    float t[4][3], row[4];                                                                            \
                    for (int j = 0; j < 3; j++) {                                                                     \
                        DL_WINOGRAD2_WEIGHTS(taps[j][c], taps[3 + j][c], taps[6 + j][c], row);                        \
                        for (int r = 0; r < 4; r++) t[r][j] = row[r];                                                 \
                    }                                                                                                 \
                    for (int r = 0; r < 4; r++) {                                                                     \
                        DL_WINOGRAD2_WEIGHTS(t[r][0], t[r][1], t[r][2], row);                                         \
                        for (int s = 0; s < 4; s++) to[(r * 4 + s) * plane + c] = row[s];                             \
                    }                                                                                                 \
                }                                                                                                     \
            }                                                                                                         \
        }                                                                                                             \
    }                                                                                                                 \
    /* V[ξ][c][t] = (B^T d B)[ξ] for n tiles t, from their 4x4 windows by column: tile t's window row r is         \
       columns[0..4)[r][t]. Rows first, then columns, each a loop along the tiles with unit strides (which          \
       compilers vectorize; tile by tile, with the window in registers, they did not). */                           \
    target static void transform_inputs##suffix(const float (*columns)[ALPHA_MAX][CHUNK], int n, float *to, long plane) { \
        float h[4][4][CHUNK];                                                                                         \
        for (int r = 0; r < 4; r++) {                                                                                 \
            const float *p0 = columns[0][r], *p1 = columns[1][r], *p2 = columns[2][r], *p3 = columns[3][r];           \
            float *h0 = h[r][0], *h1 = h[r][1], *h2 = h[r][2], *h3 = h[r][3];                                         \
            for (int t = 0; t < n; t++) {                                                                             \
                float d0 = p0[t], d1 = p1[t], d2 = p2[t], d3 = p3[t];                                                 \
                h0[t] = d0 - d2;                                                                                      \
                h1[t] = d1 + d2;                                                                                      \
                h2[t] = d2 - d1;                                                                                      \
                h3[t] = d1 - d3;                                                                                      \
            }                                                                                                         \
        }                                                                                                             \
        for (int s = 0; s < 4; s++) {                                                                                 \
            const float *g0 = h[0][s], *g1 = h[1][s], *g2 = h[2][s], *g3 = h[3][s];                                   \
            float *t0 = to + (0 * 4 + s) * plane, *t1 = to + (1 * 4 + s) * plane;                                     \
            float *t2 = to + (2 * 4 + s) * plane, *t3 = to + (3 * 4 + s) * plane;                                     \
            for (int t = 0; t < n; t++) {                                                                             \
                t0[t] = g0[t] - g2[t];                                                                                \
                t1[t] = g1[t] + g2[t];                                                                                \
                t2[t] = g2[t] - g1[t];                                                                                \
                t3[t] = g1[t] - g3[t];                                                                                \
            }                                                                                                         \
        }                                                                                                             \
    }                                                                                                                 \
    /* The 2x2 outputs of n tiles of one output channel from P (16 planes, unit stride along tiles):                \
       out[r][s][t] = (A^T q A)[r][s] + bias, then ReLU if asked. Columns first, then rows, as loops along the      \
       tiles. */                                                                                                      \
    target static void transform_outputs##suffix(const float *from, long plane, int n, float bias, int has_bias,       \
                                                 int relu, float (*out)[TILE_MAX][CHUNK]) {                           \
        float e[2][4][CHUNK];                                                                                         \
        for (int s = 0; s < 4; s++) {                                                                                 \
            const float *q0 = from + (0 * 4 + s) * plane, *q1 = from + (1 * 4 + s) * plane;                           \
            const float *q2 = from + (2 * 4 + s) * plane, *q3 = from + (3 * 4 + s) * plane;                           \
            float *e0 = e[0][s], *e1 = e[1][s];                                                                       \
            for (int t = 0; t < n; t++) {                                                                             \
                e0[t] = q0[t] + q1[t] + q2[t];                                                                        \
                e1[t] = q1[t] - q2[t] - q3[t];                                                                        \
            }                                                                                                         \
        }                                                                                                             \
        for (int r = 0; r < 2; r++) {                                                                                 \
            const float *f0 = e[r][0], *f1 = e[r][1], *f2 = e[r][2], *f3 = e[r][3];                                   \
            float *o0 = out[r][0], *o1 = out[r][1];                                                                   \
            for (int t = 0; t < n; t++) {                                                                             \
                float z0 = f0[t] + f1[t] + f2[t], z1 = f1[t] - f2[t] - f3[t];                                         \
                if (has_bias) {                                                                                       \
                    z0 = z0 + bias;                                                                                   \
                    z1 = z1 + bias;                                                                                   \
                }                                                                                                     \
                if (relu) {                                                                                           \
                    z0 = z0 > 0 ? z0 : 0;                                                                             \
                    z1 = z1 > 0 ? z1 : 0;                                                                             \
                }                                                                                                     \
                o0[t] = z0;                                                                                           \
                o1[t] = z1;                                                                                           \
            }                                                                                                         \
        }                                                                                                             \
    }

// F(4x4, 3x3): 4x4 output tiles from 6x6 windows, 36 multiply-adds per tile and input channel instead of
// F(2x2, 3x3)'s 4 x 16 = 64 (direct: 144), with the interpolation points 0, 1, -1, 2, -2 and infinity:
//   B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]
//   G   = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1]
//   A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
// Each is applied along one axis, then the other, as the fixed sequences of operations below (every build,
// with contraction off, gives the same bits). Its rounding error is larger than F(2x2, 3x3)'s (the
// transforms scale values by up to 5 and 8): see dl_conv2d_winograd_isa in dl_sgemm.h for the bound.

/// (B^T d)[0..6) of the six values d0...d5.
#define DL_WINOGRAD4_IN(d0, d1, d2, d3, d4, d5, v)        \
    do {                                                  \
        float a_ = d4 - 4.0f * d2, b_ = d3 - 4.0f * d1;   \
        float c_ = d4 - d2, e_ = 2.0f * (d3 - d1);        \
        v[0] = (4.0f * d0 - 5.0f * d2) + d4;              \
        v[1] = a_ + b_;                                   \
        v[2] = a_ - b_;                                   \
        v[3] = c_ + e_;                                   \
        v[4] = c_ - e_;                                   \
        v[5] = (4.0f * d1 - 5.0f * d3) + d5;              \
    } while (0)

/// (A^T q)[0..4) of the six values q0...q5.
#define DL_WINOGRAD4_OUT(q0, q1, q2, q3, q4, q5, y)       \
    do {                                                  \
        float a_ = q1 + q2, b_ = q1 - q2;                 \
        float c_ = q3 + q4, d_ = q3 - q4;                 \
        y[0] = (q0 + a_) + c_;                            \
        y[1] = b_ + 2.0f * d_;                            \
        y[2] = a_ + 4.0f * c_;                            \
        y[3] = (b_ + 8.0f * d_) + q5;                     \
    } while (0)

/// (G g)[0..6) of the three taps g0, g1, g2.
#define DL_WINOGRAD4_WEIGHTS(g0, g1, g2, u)                       \
    do {                                                          \
        float quarter_ = g0 * 0.25f, half_ = g1 * 0.5f;           \
        u[0] = quarter_;                                          \
        u[1] = ((g0 + g1) + g2) * (-1.0f / 6.0f);                 \
        u[2] = ((g0 - g1) + g2) * (-1.0f / 6.0f);                 \
        u[3] = ((quarter_ + half_) + g2) * (1.0f / 6.0f);         \
        u[4] = ((quarter_ - half_) + g2) * (1.0f / 6.0f);         \
        u[5] = g2;                                                \
    } while (0)

#define DL_WINOGRAD4_TRANSFORMS(suffix, target, gather_taps)                                                          \
    /* U[ξ][i][c] = (G g G^T)[ξ] for output channels [i0, i1), 36 planes */                                          \
    DL_WINOGRAD_WEIGHTS(transform_weights4##suffix, target, gather_taps, 6, DL_WINOGRAD4_WEIGHTS)                      \
    /* V[ξ][c][t] for n tiles t, from their 6x6 windows by column: tile t's window row r is columns[0..6)[r][t].    \
       Rows first, then columns, each a loop along the tiles with unit strides (which compilers vectorize). */      \
    target static void transform_inputs4##suffix(const float (*columns)[ALPHA_MAX][CHUNK], int n, float *to, long plane) { \
        float h[6][6][CHUNK];                                                                                         \
        for (int r = 0; r < 6; r++) {                                                                                 \
            const float *p0 = columns[0][r], *p1 = columns[1][r], *p2 = columns[2][r], *p3 = columns[3][r];           \
            const float *p4 = columns[4][r], *p5 = columns[5][r];                                                     \
            float *h0 = h[r][0], *h1 = h[r][1], *h2 = h[r][2], *h3 = h[r][3], *h4 = h[r][4], *h5 = h[r][5];           \
            for (int t = 0; t < n; t++) {                                                                             \
                float v[6];                                                                                           \
                DL_WINOGRAD4_IN(p0[t], p1[t], p2[t], p3[t], p4[t], p5[t], v);                                         \
                h0[t] = v[0], h1[t] = v[1], h2[t] = v[2], h3[t] = v[3], h4[t] = v[4], h5[t] = v[5];                   \
            }                                                                                                         \
        }                                                                                                             \
        for (int s = 0; s < 6; s++) {                                                                                 \
            float *t0 = to + (0 * 6 + s) * plane, *t1 = to + (1 * 6 + s) * plane, *t2 = to + (2 * 6 + s) * plane;    \
            float *t3 = to + (3 * 6 + s) * plane, *t4 = to + (4 * 6 + s) * plane, *t5 = to + (5 * 6 + s) * plane;    \
            for (int t = 0; t < n; t++) {                                                                             \
                float v[6];                                                                                           \
                DL_WINOGRAD4_IN(h[0][s][t], h[1][s][t], h[2][s][t], h[3][s][t], h[4][s][t], h[5][s][t], v);            \
                t0[t] = v[0], t1[t] = v[1], t2[t] = v[2], t3[t] = v[3], t4[t] = v[4], t5[t] = v[5];                   \
            }                                                                                                         \
        }                                                                                                             \
    }                                                                                                                 \
    /* The 4x4 outputs of n tiles of one output channel from P (36 planes): out[r][s][t] = (A^T q A)[r][s] + bias,  \
       then ReLU if asked. Columns first, then rows, as loops along the tiles. */                                     \
    target static void transform_outputs4##suffix(const float *from, long plane, int n, float bias, int has_bias,      \
                                                  int relu, float (*out)[TILE_MAX][CHUNK]) {                          \
        float e[4][6][CHUNK];                                                                                         \
        for (int s = 0; s < 6; s++) {                                                                                 \
            const float *q0 = from + (0 * 6 + s) * plane, *q1 = from + (1 * 6 + s) * plane;                           \
            const float *q2 = from + (2 * 6 + s) * plane, *q3 = from + (3 * 6 + s) * plane;                           \
            const float *q4 = from + (4 * 6 + s) * plane, *q5 = from + (5 * 6 + s) * plane;                           \
            float *e0 = e[0][s], *e1 = e[1][s], *e2 = e[2][s], *e3 = e[3][s];                                         \
            for (int t = 0; t < n; t++) {                                                                             \
                float y[4];                                                                                           \
                DL_WINOGRAD4_OUT(q0[t], q1[t], q2[t], q3[t], q4[t], q5[t], y);                                        \
                e0[t] = y[0], e1[t] = y[1], e2[t] = y[2], e3[t] = y[3];                                               \
            }                                                                                                         \
        }                                                                                                             \
        for (int r = 0; r < 4; r++) {                                                                                 \
            float *o0 = out[r][0], *o1 = out[r][1], *o2 = out[r][2], *o3 = out[r][3];                                 \
            for (int t = 0; t < n; t++) {                                                                             \
                float z[4];                                                                                           \
                DL_WINOGRAD4_OUT(e[r][0][t], e[r][1][t], e[r][2][t], e[r][3][t], e[r][4][t], e[r][5][t], z);          \
                if (has_bias) z[0] = z[0] + bias, z[1] = z[1] + bias, z[2] = z[2] + bias, z[3] = z[3] + bias;         \
                if (relu) {                                                                                           \
                    z[0] = z[0] > 0 ? z[0] : 0, z[1] = z[1] > 0 ? z[1] : 0;                                           \
                    z[2] = z[2] > 0 ? z[2] : 0, z[3] = z[3] > 0 ? z[3] : 0;                                           \
                }                                                                                                     \
                o0[t] = z[0], o1[t] = z[1], o2[t] = z[2], o3[t] = z[3];                                               \
            }                                                                                                         \
        }                                                                                                             \
    }

/// Both variants' transforms, each for baseline x86-64 (or ARM64), AVX2 and AVX-512.
#define DL_WINOGRAD_INSTANCES(suffix, target, gather_taps)     \
    DL_WINOGRAD_TRANSFORMS(suffix, target, gather_taps)        \
    DL_WINOGRAD4_TRANSFORMS(suffix, target, gather_taps)

DL_WINOGRAD_INSTANCES(_base, , taps_plain)
#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
DL_WINOGRAD_INSTANCES(_avx2, __attribute__((target("avx2,fma"))), taps_avx2)
DL_WINOGRAD_INSTANCES(_avx512, __attribute__((target("avx512f"))), taps_avx2)
#endif

typedef void (*WeightTransform)(const float *, int, int, int, float *, long);
typedef void (*InputTransform)(const float (*)[ALPHA_MAX][CHUNK], int, float *, long);
typedef void (*OutputTransform)(const float *, long, int, float, int, int, float (*)[TILE_MAX][CHUNK]);

typedef struct {
    WeightTransform weights;
    InputTransform inputs;
    OutputTransform outputs;
} Transforms;

/// The transforms of the variant with `tile`x`tile` output tiles (2 or 4) built for `isa`.
static Transforms transforms_for(DLSgemmISA isa, int tile) {
#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
    if (isa == DL_SGEMM_AVX512 && tile == 4)
        return (Transforms){transform_weights4_avx512, transform_inputs4_avx512, transform_outputs4_avx512};
    if (isa == DL_SGEMM_AVX512) return (Transforms){transform_weights_avx512, transform_inputs_avx512, transform_outputs_avx512};
    if (isa == DL_SGEMM_AVX2 && tile == 4) return (Transforms){transform_weights4_avx2, transform_inputs4_avx2, transform_outputs4_avx2};
    if (isa == DL_SGEMM_AVX2) return (Transforms){transform_weights_avx2, transform_inputs_avx2, transform_outputs_avx2};
#endif
    (void)isa;
    if (tile == 4) return (Transforms){transform_weights4_base, transform_inputs4_base, transform_outputs4_base};
    return (Transforms){transform_weights_base, transform_inputs_base, transform_outputs_base};
}

/// Row r of the windows of n tiles of one tile row, by window column, from column j0 of `columns` on:
/// columns[q][r][j0 + j] = row[left + tile·j + q] for q < tile + 2 and j < n, 0 outside [0, width). The
/// row goes through a zero-padded copy first, then one interleaved pass (which compilers vectorize) deals
/// it out: reading every fourth float of the row once per column took F(4x4, 3x3) longer than the
/// transform itself. Columns tile and tile + 1 of a window are the next window's 0 and 1, stored again,
/// so that windows from several tile rows can lie side by side.
static void window_columns(const float *row, int left, int n, int width, int tile, float (*columns)[ALPHA_MAX][CHUNK], int r, int j0) {
    float padded[TILE_MAX * (CHUNK + 1)];
    int count = tile * (n + 1);
    int lower = left < 0 ? -left : 0, upper = width - left < count ? width - left : count;
    if (lower > count) lower = count;
    if (upper < lower) upper = lower;
    for (int j = 0; j < lower; j++) padded[j] = 0;
    memcpy(padded + lower, row + left + lower, sizeof(float) * (upper - lower));
    for (int j = upper; j < count; j++) padded[j] = 0;
    float *d0 = columns[0][r] + j0, *d1 = columns[1][r] + j0, *d2 = columns[2][r] + j0, *d3 = columns[3][r] + j0;
    if (tile == 2) {
        for (int j = 0; j < n; j++) {
            d0[j] = padded[2 * j];
            d1[j] = padded[2 * j + 1];
            d2[j] = padded[2 * j + 2];
            d3[j] = padded[2 * j + 3];
        }
        return;
    }
    float *d4 = columns[4][r] + j0, *d5 = columns[5][r] + j0;
    for (int j = 0; j < n; j++) {
        d0[j] = padded[4 * j];
        d1[j] = padded[4 * j + 1];
        d2[j] = padded[4 * j + 2];
        d3[j] = padded[4 * j + 3];
        d4[j] = padded[4 * j + 4];
        d5[j] = padded[4 * j + 5];
    }
}

/// V[ξ][c][t − first] for the tiles [first, first + count) and channels [c0, c1), 0 outside the image:
/// up to CHUNK tiles per transform call, across tile rows (ResNet-50's 28x28 and 14x14 images have rows
/// of 7 tiles, too few for the transforms' vector loops alone).
static void transform_block_inputs(const Job *job, int first, int count, float *v, int c0, int c1) {
    const DLConvGeometry *g = job->g;
    long plane = v_plane(job, count);
    int packed = packed_v(job, count), padding = (CHUNK - count % CHUNK) % CHUNK;
    InputTransform transform = transforms_for(job->isa, job->tile).inputs;
    int tile_size = job->tile, alpha = job->alpha;
    float columns[ALPHA_MAX][ALPHA_MAX][CHUNK];
    for (int c = c0; c < c1; c++) {
        const float *image = job->x + (long)c * g->in_height * g->in_width;
        for (int t = 0; t < count;) {
            int filled = 0;
            while (filled < CHUNK && t + filled < count) {
                int tile = first + t + filled, ty = tile / job->tiles_w, tx = tile % job->tiles_w;
                int n = job->tiles_w - tx < count - t - filled ? job->tiles_w - tx : count - t - filled;
                if (n > CHUNK - filled) n = CHUNK - filled;
                // Window columns of tiles tx ..< tx + n: input columns left + tile·j + q.
                int top = tile_size * ty - g->pad_top, left = tile_size * tx - g->pad_left;
                for (int r = 0; r < alpha; r++) {
                    int ih = top + r;
                    if (ih < 0 || ih >= g->in_height) {
                        for (int q = 0; q < alpha; q++) memset(columns[q][r] + filled, 0, sizeof(float) * n);
                        continue;
                    }
                    window_columns(image + (long)ih * g->in_width, left, n, g->in_width, tile_size, columns, r, filled);
                }
                filled += n;
            }
            // t is a multiple of CHUNK: packed, the chunk is one panel's row.
            float *to = packed ? v + (long)t * g->channels + (long)c * CHUNK : v + (long)c * count + t;
            transform((const float (*)[ALPHA_MAX][CHUNK])columns, filled, to, plane);
            t += filled;
        }
        if (packed && padding)
            for (int xi = 0; xi < job->planes; xi++)
                memset(v + xi * plane + (long)(count - count % CHUNK) * g->channels + (long)c * CHUNK + count % CHUNK, 0,
                       sizeof(float) * padding);
    }
}

/// The output tiles [first, first + count) of output channels [i0, i1) from P (planes, m, count).
static void transform_block_outputs(const Job *job, int first, int count, const float *p, int i0, int i1) {
    const DLConvGeometry *g = job->g;
    long plane = padded_plane((long)job->m * count);
    OutputTransform transform = transforms_for(job->isa, job->tile).outputs;
    int tile_size = job->tile;
    float out[TILE_MAX][TILE_MAX][CHUNK];
    // With an addend the ReLU comes after it, here rather than in the transform.
    int relu_in_transform = job->relu && !job->addend;
    for (int i = i0; i < i1; i++) {
        float *y = job->y + (long)i * job->ldy;
        const float *addend = job->addend ? job->addend + (long)i * job->ldy : NULL;
        for (int t = 0; t < count;) {
            // Up to CHUNK tiles per transform call, across tile rows (see transform_block_inputs).
            int n = count - t < CHUNK ? count - t : CHUNK;
            transform(p + (long)i * count + t, plane, n, job->bias ? job->bias[i] : 0, job->bias != NULL, relu_in_transform, out);
            for (int j0 = 0; j0 < n;) {
                int tile = first + t + j0, ty = tile / job->tiles_w, tx = tile % job->tiles_w;
                int segment = job->tiles_w - tx < n - j0 ? job->tiles_w - tx : n - j0;
                int oh = tile_size * ty, ow = tile_size * tx;
                int columns = g->out_width - ow < tile_size * segment ? g->out_width - ow : tile_size * segment;
                for (int r = 0; r < tile_size && oh + r < g->out_height; r++) {
                    long at = (long)(oh + r) * g->out_width + ow;
                    float *row = y + at;
                    // The tiles' columns interleaved in one pass (which compilers vectorize), then the addend.
                    float line[TILE_MAX * CHUNK];
                    const float *e0 = out[r][0] + j0, *e1 = out[r][1] + j0, *e2 = out[r][2] + j0, *e3 = out[r][3] + j0;
                    if (tile_size == 2) {
                        for (int j = 0; j < segment; j++) {
                            line[2 * j] = e0[j];
                            line[2 * j + 1] = e1[j];
                        }
                    } else {
                        for (int j = 0; j < segment; j++) {
                            line[4 * j] = e0[j];
                            line[4 * j + 1] = e1[j];
                            line[4 * j + 2] = e2[j];
                            line[4 * j + 3] = e3[j];
                        }
                    }
                    if (addend) {
                        const float *add = addend + at;
                        for (int o = 0; o < columns; o++) {
                            float value = line[o] + add[o];
                            row[o] = job->relu && !(value > 0) ? 0 : value;
                        }
                    } else {
                        memcpy(row, line, sizeof(float) * columns);
                    }
                }
                j0 += segment;
            }
            t += n;
        }
    }
}

/// One transform of a block (input or output one), dealt out by channels with dl_parallel_ranges: each
/// channel's values are computed the same way whichever thread takes it.
typedef struct {
    const Job *job;
    int first, count;
    float *data;  // V (inputs) or P (outputs)
    int outputs;  // 1: transform P back into y, 0: the input tiles into V
} BlockTransform;

static void transform_channels(void *context, long start, long end) {
    const BlockTransform *t = context;
    if (t->outputs) transform_block_outputs(t->job, t->first, t->count, t->data, (int)start, (int)end);
    else transform_block_inputs(t->job, t->first, t->count, t->data, (int)start, (int)end);
}

/// A block's input or output transform, on the pool when it is free (a block run while other threads
/// run other blocks finds it busy and transforms alone).
static void transform_block(const Job *job, int first, int count, float *data, int outputs) {
    BlockTransform t = {job, first, count, data, outputs};
    long step = 8192 / (job->planes * count);  // about 8192 floats of V or P per piece
    dl_parallel_ranges(outputs ? job->m : job->g->channels, step < 1 ? 1 : step, transform_channels, &t);
}

/// A block's 16 GEMMs (one per point ξ of the 4x4 tile), dealt to the pool by ξ: each is the same
/// product whichever thread takes it, and a 20x20 image's GEMMs (n = 64, under the size at which one
/// GEMM splits itself) still use every thread.
typedef struct {
    const Job *job;
    int count;
    const float *v;
    float *p;
    int failed;  // atomic
} BlockProducts;

static void block_products(void *context, long start, long end) {
    BlockProducts *b = context;
    const Job *job = b->job;
    int channels = job->g->channels, count = b->count, packed = packed_v(job, count);
    long v_step = v_plane(job, count);
    for (long xi = start; xi < end; xi++) {
        const float *u = job->u + xi * padded_plane((long)job->m * channels), *v = b->v + xi * v_step;
        float *p = b->p + xi * padded_plane((long)job->m * count);
        int status = packed ? dl_sgemm_packed_b_isa(job->isa, job->m, count, channels, u, channels, v, p, count)
                            : dl_sgemm_isa_ex(job->isa, job->m, count, channels, u, channels, v, count, p, count, 0, NULL, 0);
        if (status != 0) __atomic_store_n(&b->failed, 1, __ATOMIC_RELAXED);
    }
}

/// The first tile of block `index` (index = job->blocks: the number of tiles).
static int block_first(const Job *job, int index) {
    if (index >= job->blocks) return job->tiles;
    if (!job->units) return index * job->block;
    int each = job->units / job->blocks, extra = job->units % job->blocks;
    return 16 * (index * each + (index < extra ? index : extra));
}

/// Tiles in block `index`.
static int block_count(const Job *job, int index) { return block_first(job, index + 1) - block_first(job, index); }

/// One block of tiles: transform, 16 GEMMs, transform back. 0, or -1 if a GEMM failed.
static int run_block(Job *job, int index, float *v, float *p) {
    int first = block_first(job, index), count = block_count(job, index);
    transform_block(job, first, count, v, 0);
    BlockProducts products = {job, count, v, p, 0};
    dl_parallel_ranges(job->planes, 1, block_products, &products);
    if (products.failed) return -1;
    transform_block(job, first, count, p, 1);
    return 0;
}

/// Runs blocks until none is left, with V and P in `vp` (the caller's, after U) or, when NULL, in this
/// thread's scratch (a pool thread's).
static void run_blocks(Job *job, float *vp) {
    size_t v_floats = job->planes * (size_t)v_plane(job, job->block);
    size_t p_floats = job->planes * (size_t)padded_plane((long)job->block * job->m);
    float *own = NULL;
    for (;;) {
        int index = __atomic_fetch_add(&job->next_block, 1, __ATOMIC_RELAXED);
        if (index >= job->blocks) break;
        if (!vp) vp = own = scratch(sizeof(float) * (v_floats + p_floats));
        if (!vp || run_block(job, index, vp, vp + v_floats) != 0) {
            __atomic_store_n(&job->failed, 1, __ATOMIC_RELAXED);
            break;
        }
    }
    if (own) release_scratch(own, sizeof(float) * (v_floats + p_floats));
}

/// The weight transform, dealt to the pool in pieces of WEIGHT_ROWS output channels.
enum { WEIGHT_ROWS = 16 };

typedef struct {
    WeightTransform transform;
    const float *w;
    int channels;
    float *u;
    long plane;
} WeightJob;

static void weight_rows(void *context, long start, long end) {
    const WeightJob *job = context;
    job->transform(job->w, (int)start, (int)end, job->channels, job->u, job->plane);
}

/// The pool's share of a call: the caller (the thread that owns `vp`) and helpers take blocks alike.
typedef struct {
    Job *job;
    float *vp;
    pthread_t caller;
} Shared;

static void shared_blocks(void *context) {
    Shared *shared = context;
    run_blocks(shared->job, pthread_equal(pthread_self(), shared->caller) ? shared->vp : NULL);
}

/// Whether whole blocks dealt in turn to `threads` threads keep them about equally busy (the busiest
/// within 15% of an even share): four blocks of 64, 64, 64 and 4 tiles would be split 128:68 by two
/// threads. Otherwise each block's transforms and 16 GEMMs are shared instead. Two threads, Zen 4, 64
/// channels at 56x56 (blocks of 208, 208, 208 and 160): 0.83-0.90 ms whole, 0.96 shared; 128 channels at
/// 28x28, two blocks of 98: 0.69 whole.
static int blocks_balance(const Job *job, int threads) {
    long busiest = 0;
    for (int t = 0; t < threads; t++) {
        long load = 0;
        for (int b = t; b < job->blocks; b += threads) load += block_count(job, b);
        if (load > busiest) busiest = load;
    }
    return busiest * threads <= (long)job->tiles * 115 / 100;
}

int dl_conv2d_winograd_isa(DLSgemmISA isa, const DLConvGeometry *g, int m, const float *w, const float *x, float *y, int ldy,
                           const float *row_bias, int relu) {
    return dl_conv2d_winograd_isa_fused(isa, g, m, w, x, y, ldy, row_bias, NULL, relu);
}

/// 0, or the variant dl_conv2d_winograd_set_variant forces.
static int forced_tile = 0;

void dl_conv2d_winograd_set_variant(int tile) { forced_tile = tile == 2 || tile == 4 ? tile : 0; }

/// Which variant runs `g`: the side of its output tiles, 4 (F(4x4, 3x3)) or 2 (F(2x2, 3x3)). By the
/// geometry alone, so that a layer cut into pieces of output channels, and its prepared weights, take the
/// same one in every piece.
///
/// F(4x4, 3x3) does 36 multiply-adds per 16 outputs where F(2x2, 3x3) does 64, but its U is 36/16 as large
/// and a small image reuses it over few tiles; a U past WEIGHT_TRANSFORM_BYTES also runs in more runs of
/// output channels, each transforming the input again. AMD EPYC Zen 3, AVX2, one thread, resident sessions
/// switched run by run: ResNet-50's 64 channels at 56x56 2.22 -> 1.65 ms, 128 at 28x28 1.90 -> 1.27-1.42,
/// but 256 at 14x14 1.66 -> 2.5-4.3; YOLOv8n's 32-64 channels at 40x40 and 80x80 0.66-0.71 of the time;
/// VGG-19's 64 channels at 224x224 0.63, 128 at 112x112 0.65, 256 at 56x56 0.79-0.83, but 512 at 28x28
/// 1.06-1.18 and at 14x14 2.0. So F(4x4, 3x3) for up to 128 channels from 24x24 outputs, and up to 256
/// from 48x48.
static int tile_of(const DLConvGeometry *g) {
    if (forced_tile) return forced_tile;
    int side = g->out_width < g->out_height ? g->out_width : g->out_height;
    return (g->channels <= 128 && side >= 24) || (g->channels <= 256 && side >= 48) ? 4 : 2;
}

int dl_conv2d_winograd_variant(const DLConvGeometry *g) { return tile_of(g); }

/// Points of the variant's transformed tile: the planes of U, V and P.
static int planes_of(const DLConvGeometry *g) {
    int alpha = tile_of(g) + 2;
    return alpha * alpha;
}

/// Output channels per run: as many as WEIGHT_TRANSFORM_BYTES of U holds, at least 16.
static long rows_per_run(const DLConvGeometry *g) {
    long rows = WEIGHT_TRANSFORM_BYTES / ((long)planes_of(g) * (long)sizeof(float) * g->channels);
    return rows < 16 ? 16 : rows;
}

/// Floats of one run's U: its planes of rows x channels.
static long run_u_floats(const DLConvGeometry *g, long rows) { return planes_of(g) * padded_plane(rows * g->channels); }

/// The weight transform of filters [0, m) into u (one run's layout), dealt to the pool when large enough.
static void transform_run(WeightTransform transform, const DLConvGeometry *g, int m, const float *w, float *u) {
    WeightJob weights = {transform, w, g->channels, u, padded_plane((long)m * g->channels)};
    if ((long)m * g->channels >= 4096) dl_parallel_ranges(m, WEIGHT_ROWS, weight_rows, &weights);
    else weight_rows(&weights, 0, m);  // too small to hand out
}

/// One run of output channels (m ≤ rows_per_run): U transformed from w into scratch, or `prepared` (that
/// run's U, from dl_conv2d_winograd_prepare) when given.
static int winograd_run(DLSgemmISA isa, const DLConvGeometry *g, int m, const float *w, const float *prepared, const float *x, float *y,
                        int ldy, const float *row_bias, const float *addend, int relu) {
    Job job = {0};
    job.isa = isa, job.g = g, job.m = m, job.x = x, job.bias = row_bias, job.addend = addend, job.y = y, job.ldy = ldy, job.relu = relu != 0;
    job.tile = tile_of(g), job.alpha = job.tile + 2, job.planes = job.alpha * job.alpha;
    job.v_in_panels = g->channels <= KC && dl_sgemm_panel_width(isa) == CHUNK;
    job.tiles_w = (g->out_width + job.tile - 1) / job.tile;
    job.tiles = job.tiles_w * ((g->out_height + job.tile - 1) / job.tile);
    // About 128 KiB per plane of V (channels x block floats), so each GEMM's B stays in L2; cut by the
    // geometry alone, whatever the thread count or m (the GEMMs' bits depend on their n).
    // At least four blocks when there are 256 tiles or more, so that two threads share them evenly (the
    // transforms run inside the blocks, on the threads that take them).
    // From 128 to 255 tiles, two blocks of half each (their GEMMs then end in a few columns for the dot
    // kernel): ResNet-50's 28x28 layers were four blocks of 64, 64, 64 and 4 tiles, which two threads could
    // only share block by block, three round trips to the pool each. As two of 98, alone, Zen 4: one thread
    // 1.37 -> 1.33 ms, two 0.77 -> 0.69 (AVX2 1.48 -> 1.45 and 0.81 -> 0.75). Larger images keep blocks of
    // whole 16-column units: at 56x56, four blocks of 196 tiles took 5% longer than 208, 208, 208 and 160.
    int block = 32768 / g->channels / 16 * 16;
    int quarter = (job.tiles / 4 + 15) / 16 * 16;
    if (block > quarter) block = quarter;
    block = block < 64 ? 64 : block > 256 ? 256 : block;
    if (job.tiles >= 128 && job.tiles < 256) block = (job.tiles + 1) / 2;
    job.block = block < job.tiles ? block : job.tiles;
    job.blocks = (job.tiles + job.block - 1) / job.block;
    // Blocks of whole 16-tile units, dealt evenly: at 56x56 (49 units) 13, 12, 12 and 12 units instead of
    // 13, 13, 13 and 10, which two threads took as 26:23 units (the last, shorter block went to the thread
    // done first with its first block) and now take as 25:24. A block's GEMMs compute the same columns with
    // the same kernels either way (only the last block's last tiles % 16 columns can fall to the dot
    // kernel, as before), so the same bits.
    if (job.block % 16 == 0 && job.blocks > 1) job.units = job.tiles / 16;
    // U (unless prepared), then the caller's V and P, in one block.
    size_t u_floats = prepared ? 0 : (size_t)run_u_floats(g, m);
    size_t vp_floats = job.planes * (size_t)(v_plane(&job, job.block) + padded_plane((long)job.block * m));
    float *u = scratch(sizeof(float) * (u_floats + vp_floats));
    if (!u) return -1;
    int threads = dl_sgemm_pool_threads();
    if (!prepared) transform_run(transforms_for(isa, job.tile).weights, g, m, w, u);
    job.u = prepared ? prepared : u;
    if (threads > 1 && job.blocks >= threads && blocks_balance(&job, threads)) {
        // Whole blocks per thread; their GEMMs find the pool busy and run alone.
        Shared shared = {&job, u + u_floats, pthread_self()};
        dl_sgemm_pool_run(shared_blocks, &shared, threads - 1 < job.blocks - 1 ? threads - 1 : job.blocks - 1);
    } else {
        run_blocks(&job, u + u_floats);  // each block's 16 GEMMs dealt to the pool
    }
    release_scratch(u, sizeof(float) * (u_floats + vp_floats));
    return job.failed ? -1 : 0;
}

/// dl_conv2d_winograd_isa_fused and dl_conv2d_winograd_prepared_isa: w, or U prepared from it.
static int winograd(DLSgemmISA isa, const DLConvGeometry *g, int m, const float *w, const float *prepared, const float *x, float *y,
                    int ldy, const float *row_bias, const float *addend, int relu) {
    if (!dl_sgemm_isa_available(isa)) return -1;
    if (g->kernel_height != 3 || g->kernel_width != 3 || g->stride_height != 1 || g->stride_width != 1 ||
        g->dilation_height != 1 || g->dilation_width != 1)
        return -1;
    if (m <= 0 || g->out_height <= 0 || g->out_width <= 0) return 0;
    if (g->channels <= 0) {
        if (prepared) return -1;
        return dl_conv2d_gemm_isa_fused(isa, g, m, w, x, y, ldy, row_bias, addend, relu);
    }
    // Fewer than 10x10 tiles (14x14 outputs: 49): the 16 GEMMs have n = 49, which the AVX-512 set's 64-wide
    // panels run as a 48-wide block and a 1-column one and the AVX2 set's 16-wide panels as three and one.
    // Tools/conv_probe.c, one thread, cold weights, Zen 4, 256 channels at 14x14, against the AVX-512 direct
    // product: AVX-512 Winograd 0.83-0.91 of its time, AVX2 Winograd 0.66-0.79. So the AVX-512 set runs
    // these through the AVX2 kernels (still one fixed sequence per set: exact to itself).
    int tile = tile_of(g);
    if (isa == DL_SGEMM_AVX512 && (long)((g->out_width + tile - 1) / tile) * ((g->out_height + tile - 1) / tile) < 100 &&
        dl_sgemm_isa_available(DL_SGEMM_AVX2))
        isa = DL_SGEMM_AVX2;
    // The transformed weights U take 16/9 of the layer's weights, outside any session's budget: cut the
    // output channels into runs whose U stays within WEIGHT_TRANSFORM_BYTES (each run is what a layer split
    // into pieces of channels would compute, with the same bits), so a large 3x3 layer (VGG's 512x512, 9 MiB)
    // needs 4 MiB of transient memory, not 16. Prepared U lies run after run in the same layout.
    long per_run = rows_per_run(g), per_filter = (long)g->channels * 9;
    for (long first = 0; first < m; first += per_run) {
        int rows = (int)(m - first < per_run ? m - first : per_run);
        const float *run_u = prepared ? prepared + dl_conv2d_winograd_prepared_floats(g, (int)first) : NULL;
        int status = winograd_run(isa, g, rows, prepared ? NULL : w + first * per_filter, run_u, x, y + first * (long)ldy, ldy,
                                  row_bias ? row_bias + first : NULL, addend ? addend + first * (long)ldy : NULL, relu);
        if (status != 0) return status;
    }
    return 0;
}

int dl_conv2d_winograd_isa_fused(DLSgemmISA isa, const DLConvGeometry *g, int m, const float *w, const float *x, float *y,
                                 int ldy, const float *row_bias, const float *addend, int relu) {
    return winograd(isa, g, m, w, NULL, x, y, ldy, row_bias, addend, relu);
}

int dl_conv2d_winograd_prepared_isa(DLSgemmISA isa, const DLConvGeometry *g, int m, const float *u, const float *x, float *y,
                                    int ldy, const float *row_bias, const float *addend, int relu) {
    if (!u) return -1;
    return winograd(isa, g, m, NULL, u, x, y, ldy, row_bias, addend, relu);
}

long dl_conv2d_winograd_prepared_floats(const DLConvGeometry *g, int m) {
    if (m <= 0 || g->channels <= 0) return 0;
    long per_run = rows_per_run(g), full = m / per_run, last = m % per_run;
    return full * run_u_floats(g, per_run) + (last ? run_u_floats(g, last) : 0);
}

float *dl_conv2d_winograd_prepare(const DLConvGeometry *g, int m, const float *w) {
    if (m <= 0 || g->channels <= 0 || g->kernel_height != 3 || g->kernel_width != 3) return NULL;
    // Its own pages (not the heap's), so that releasing it gives them back to the system at once.
    long bytes = dl_conv2d_winograd_prepared_floats(g, m) * (long)sizeof(float);
    void *pages = mmap(NULL, (size_t)bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (pages == MAP_FAILED) return NULL;
    float *u = pages;
    dl_kernel_scratch_add(bytes);
    // Every build of the transform gives the same bits (it only adds, subtracts and halves); the fastest here.
    WeightTransform transform = transforms_for(DL_SGEMM_NEON, tile_of(g)).weights;
#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
    if (dl_sgemm_isa_available(DL_SGEMM_AVX2)) transform = transforms_for(DL_SGEMM_AVX2, tile_of(g)).weights;
#endif
    long per_run = rows_per_run(g), per_filter = (long)g->channels * 9;
    for (long first = 0; first < m; first += per_run) {
        int rows = (int)(m - first < per_run ? m - first : per_run);
        transform_run(transform, g, rows, w + first * per_filter, u + dl_conv2d_winograd_prepared_floats(g, (int)first));
    }
    return u;
}

void dl_conv2d_winograd_release(const DLConvGeometry *g, int m, float *u) {
    if (!u) return;
    long bytes = dl_conv2d_winograd_prepared_floats(g, m) * (long)sizeof(float);
    munmap(u, (size_t)bytes);
    dl_kernel_scratch_add(-bytes);
}

int dl_conv2d_winograd_wanted(DLSgemmISA isa, const DLConvGeometry *g) {
    if (g->kernel_height != 3 || g->kernel_width != 3 || g->stride_height != 1 || g->stride_width != 1 ||
        g->dilation_height != 1 || g->dilation_width != 1)
        return 0;
    long tiles = (long)((g->out_width + 1) / 2) * ((g->out_height + 1) / 2);
    // The weight transform (16 floats per filter, every call) must stay small beside the 20·tiles multiply-adds
    // per filter it saves, and the GEMMs want more columns than a small image has tiles. Measured on Zen 4: alone,
    // 14x14 outputs (49 tiles, 256 channels) took 0.82-0.88 of the direct time.
    // With n = 49 the AVX-512 set's GEMMs run a 48-wide kernel and a 1-column one, so below 10x10 tiles
    // dl_conv2d_winograd_isa runs the AVX2 set's (16-wide) instead: Tools/conv_probe.c, one thread, cold
    // weights, Zen 4, 256 channels at 14x14: 0.66-0.79 of the AVX-512 direct time (AVX-512 Winograd 0.83-0.91).
    // The output channels play no part, so a layer cut into pieces of channels takes the same path in
    // every piece.
    // Every set reads the input in place for K = 9·channels ≤ DIRECT_MAX_DEPTH, and takes 16 channels faster
    // that way (16 channels at 80x80, one thread, Zen 4: AVX-512 0.37 ms against Winograd's 0.49-0.52, AVX2
    // 0.38 against 0.49).
    if (g->channels * 9 <= dl_sgemm_direct_depth(isa)) return 0;
    // From 5x5 tiles (9x9 outputs) on. One thread, Zen 4, against the packed product (AVX-512): 10x10 outputs
    // with 128 channels 0.297 ms against 0.368, 64 of 256 channels 0.303 against 0.431, 12x12 with 128
    // channels 0.350 against 0.483; at 7x7 (16 tiles) 512 channels took 3.3 ms against 2.5 (the weight
    // transform, 16 MiB of U, dominates), so ResNet's last stage stays direct.
    return g->channels >= 16 && tiles >= 25;
}
