// Depthwise 2-D convolution (groups = channels in = channels out, NCHW), the
// MobileNet-style layer: one (kH, kW) filter per channel, kH·kW multiply-adds
// per output, so it is bound by loads, not by arithmetic; see dl_sgemm.h.
//
// How: a band of output rows at a time, the input rows that band reads are
// copied once into a zero-padded scratch ("phases"): for stride s, phase p of
// a padded row holds its columns p, p + s, p + 2s, ...; output column o's tap
// kw then reads phase (kw·d mod s) at o + kw·d div s, a unit-stride load, so
// strides 1 and 2 (and any other) vectorize the same way and the padding
// needs no tests in the inner loop. Each vector of outputs keeps its sum in a
// register over all kH·kW taps and is stored once.
//
// Every output is bias (or 0), then + tap·x for each tap in (kh, kw) order,
// padding included as 0·tap; fused multiply-adds on the AVX2, AVX-512 and
// NEON sets, a multiply then an add in the portable set. The order depends on
// nothing but the tap, so any cut of the channels (threads, layer splits)
// gives the same bits. Channels are dealt to the GEMM's thread pool.
#include "dl_sgemm.h"
#include "ckernels.h"
#include "sgemm_pool.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#define DL_X86 1
#elif defined(__aarch64__)
#include <arm_neon.h>
#endif

/// Scratch floats per band: 64 KiB, so a band's phases stay in L2 next to its output.
enum { BAND_FLOATS = 16384, VECTOR_MAX = 16, CHANNELS_PER_PIECE = 4 };

/// The padded, phase-split rows of one band.
typedef struct {
    int stride, dilation_w;
    int phase_length;  // floats per phase row (a multiple of VECTOR_MAX, plus VECTOR_MAX of slack)
    int row_floats;    // stride · phase_length
} Phases;

/// One call, shared by the threads that take its channels.
typedef struct {
    DLCpuLevel level;
    const DLConvGeometry *g;
    const float *w, *x, *bias;
    float *y;
    int relu;
    Phases phases;
    int band_rows;      // output rows per band
    int padded_rows;    // padded input rows a band of band_rows output rows reads, at most
    int next_piece;     // atomic
    int pieces;
    int failed;         // atomic
} Job;

/// This thread's band scratch of at least `floats` (BAND_FLOATS, or more for
/// one very wide row), kept from call to call; NULL if it could not be allocated.
static float *thread_scratch(long floats) {
    return dl_thread_buffer(DL_BUFFER_DEPTHWISE, sizeof(float) * (size_t)(floats < BAND_FLOATS ? BAND_FLOATS : floats));
}

/// Copies padded input rows [first, first + count) of one channel plane into
/// `out` in phase layout; rows and columns outside the input are 0.
static void fill_phases(const Job *job, const float *plane, int first, int count, float *out) {
    const DLConvGeometry *g = job->g;
    Phases p = job->phases;
    for (int r = 0; r < count; r++) {
        float *row = out + (long)r * p.row_floats;
        int ih = first + r - g->pad_top;
        if (ih < 0 || ih >= g->in_height) {
            memset(row, 0, sizeof(float) * p.row_floats);
            continue;
        }
        const float *source = plane + (long)ih * g->in_width;
        for (int phase = 0; phase < p.stride; phase++) {
            float *to = row + (long)phase * p.phase_length;
            // to[i] = padded column phase + i·stride = input column phase + i·stride − pad_left, valid for i in [lower, upper)
            int offset = phase - g->pad_left;
            int lower = offset >= 0 ? 0 : (-offset + p.stride - 1) / p.stride;
            int upper = g->in_width - offset <= 0 ? 0 : (g->in_width - 1 - offset) / p.stride + 1;
            if (lower > p.phase_length) lower = p.phase_length;
            if (upper > p.phase_length) upper = p.phase_length;
            if (upper < lower) upper = lower;
            memset(to, 0, sizeof(float) * lower);
            if (p.stride == 1) {
                memcpy(to + lower, source + lower + offset, sizeof(float) * (upper - lower));
            } else {
                for (int i = lower; i < upper; i++) to[i] = source[i * p.stride + offset];
            }
            memset(to + upper, 0, sizeof(float) * (p.phase_length - upper));
        }
    }
}

/// out[0..<lanes) for `lanes` consecutive outputs of one row: the sums over
/// the taps, each tap reading `rows[kh]` (a padded row in phase layout).
#define DL_TAP(kh, kw) (rows[kh] + (long)((kw) * dw % s) * phase_length + (kw) * dw / s)

static void row_portable(const Job *job, const float *const *rows, const float *w, float initial, float *y, int out_width) {
    const DLConvGeometry *g = job->g;
    int s = job->phases.stride, dw = job->phases.dilation_w, phase_length = job->phases.phase_length;
    for (int o = 0; o < out_width; o++) {
        float sum = initial;
        for (int kh = 0; kh < g->kernel_height; kh++)
            for (int kw = 0; kw < g->kernel_width; kw++) {
                float product = w[kh * g->kernel_width + kw] * DL_TAP(kh, kw)[o];
                sum = sum + product;
            }
        y[o] = job->relu ? (sum > 0 ? sum : 0) : sum;
    }
}

#if DL_X86
/// Stores the first `left` (at least 1) of the 8 lanes at y.
__attribute__((target("avx2,fma"))) static inline void store_avx2(float *y, __m256 sum, int left) {
    if (left >= 8) {
        _mm256_storeu_ps(y, sum);
    } else {
        float last[8];
        _mm256_storeu_ps(last, sum);
        memcpy(y, last, sizeof(float) * left);
    }
}

__attribute__((target("avx2,fma"))) static void row_avx2(const Job *job, const float *const *rows, const float *w, float initial,
                                                        float *y, int out_width) {
    const DLConvGeometry *g = job->g;
    int s = job->phases.stride, dw = job->phases.dilation_w, phase_length = job->phases.phase_length;
    const __m256 zero = _mm256_setzero_ps();
    for (int o = 0; o < out_width; o += 8) {
        __m256 sum = _mm256_set1_ps(initial);
        for (int kh = 0; kh < g->kernel_height; kh++)
            for (int kw = 0; kw < g->kernel_width; kw++)
                sum = _mm256_fmadd_ps(_mm256_set1_ps(w[kh * g->kernel_width + kw]), _mm256_loadu_ps(DL_TAP(kh, kw) + o), sum);
        if (job->relu) sum = _mm256_max_ps(sum, zero);
        store_avx2(y + o, sum, out_width - o);
    }
}

/// The common 3x3 case with its nine taps in registers.
__attribute__((target("avx2,fma"))) static void row_avx2_3x3(const Job *job, const float *const *rows, const float *w,
                                                            float initial, float *y, int out_width) {
    int s = job->phases.stride, dw = job->phases.dilation_w, phase_length = job->phases.phase_length;
    __m256 t[9];
    for (int i = 0; i < 9; i++) t[i] = _mm256_set1_ps(w[i]);
    const float *p[9];
    for (int kh = 0; kh < 3; kh++)
        for (int kw = 0; kw < 3; kw++) p[kh * 3 + kw] = DL_TAP(kh, kw);
    const __m256 zero = _mm256_setzero_ps();
    for (int o = 0; o < out_width; o += 8) {
        __m256 sum = _mm256_set1_ps(initial);
        for (int i = 0; i < 9; i++) sum = _mm256_fmadd_ps(t[i], _mm256_loadu_ps(p[i] + o), sum);
        if (job->relu) sum = _mm256_max_ps(sum, zero);
        store_avx2(y + o, sum, out_width - o);
    }
}

__attribute__((target("avx512f"))) static void row_avx512(const Job *job, const float *const *rows, const float *w, float initial,
                                                         float *y, int out_width) {
    const DLConvGeometry *g = job->g;
    int s = job->phases.stride, dw = job->phases.dilation_w, phase_length = job->phases.phase_length;
    const __m512 zero = _mm512_setzero_ps();
    for (int o = 0; o < out_width; o += 16) {
        __m512 sum = _mm512_set1_ps(initial);
        for (int kh = 0; kh < g->kernel_height; kh++)
            for (int kw = 0; kw < g->kernel_width; kw++)
                sum = _mm512_fmadd_ps(_mm512_set1_ps(w[kh * g->kernel_width + kw]), _mm512_loadu_ps(DL_TAP(kh, kw) + o), sum);
        if (job->relu) sum = _mm512_max_ps(sum, zero);
        int left = out_width - o;
        _mm512_mask_storeu_ps(y + o, left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1), sum);
    }
}
#endif

#if defined(__aarch64__)
static void row_neon(const Job *job, const float *const *rows, const float *w, float initial, float *y, int out_width) {
    const DLConvGeometry *g = job->g;
    int s = job->phases.stride, dw = job->phases.dilation_w, phase_length = job->phases.phase_length;
    const float32x4_t zero = vdupq_n_f32(0);
    for (int o = 0; o < out_width; o += 4) {
        float32x4_t sum = vdupq_n_f32(initial);
        for (int kh = 0; kh < g->kernel_height; kh++)
            for (int kw = 0; kw < g->kernel_width; kw++)
                sum = vfmaq_n_f32(sum, vld1q_f32(DL_TAP(kh, kw) + o), w[kh * g->kernel_width + kw]);
        if (job->relu) sum = vmaxq_f32(sum, zero);
        if (out_width - o >= 4) {
            vst1q_f32(y + o, sum);
        } else {
            float last[4];
            vst1q_f32(last, sum);
            memcpy(y + o, last, sizeof(float) * (out_width - o));
        }
    }
}
#endif

typedef void (*RowKernel)(const Job *, const float *const *, const float *, float, float *, int);

static RowKernel row_kernel(const Job *job) {
#if DL_X86
    if (job->level == DL_CPU_AVX512) return row_avx512;
    if (job->level == DL_CPU_AVX2)
        return job->g->kernel_height == 3 && job->g->kernel_width == 3 ? row_avx2_3x3 : row_avx2;
#elif defined(__aarch64__)
    if (job->level == DL_CPU_NEON) return row_neon;
#endif
    return row_portable;
}

/// One channel, band by band.
static void channel(const Job *job, int c, float *scratch) {
    const DLConvGeometry *g = job->g;
    const float *plane = job->x + (long)c * g->in_height * g->in_width;
    const float *w = job->w + (long)c * g->kernel_height * g->kernel_width;
    float *out = job->y + (long)c * g->out_height * g->out_width;
    float initial = job->bias ? job->bias[c] : 0;
    RowKernel kernel = row_kernel(job);
    const float *rows[64];
    for (int band = 0; band < g->out_height; band += job->band_rows) {
        int count = g->out_height - band < job->band_rows ? g->out_height - band : job->band_rows;
        int first = band * g->stride_height;  // the first padded row the band reads
        int needed = (count - 1) * g->stride_height + (g->kernel_height - 1) * g->dilation_height + 1;
        fill_phases(job, plane, first, needed, scratch);
        for (int r = 0; r < count; r++) {
            for (int kh = 0; kh < g->kernel_height; kh++)
                rows[kh] = scratch + (long)(r * g->stride_height + kh * g->dilation_height) * job->phases.row_floats;
            kernel(job, rows, w, initial, out + (long)(band + r) * g->out_width, g->out_width);
        }
    }
}

static void pieces(void *context) {
    Job *job = context;
    float *scratch = NULL;
    for (;;) {
        int piece = __atomic_fetch_add(&job->next_piece, 1, __ATOMIC_RELAXED);
        if (piece >= job->pieces) return;
        if (!scratch && !(scratch = thread_scratch((long)job->padded_rows * job->phases.row_floats))) {
            __atomic_store_n(&job->failed, 1, __ATOMIC_RELAXED);
            return;
        }
        int end = (piece + 1) * CHANNELS_PER_PIECE < job->g->channels ? (piece + 1) * CHANNELS_PER_PIECE : job->g->channels;
        for (int c = piece * CHANNELS_PER_PIECE; c < end; c++) channel(job, c, scratch);
    }
}

static int level_available(DLCpuLevel level) {
    if (level == DL_CPU_PORTABLE) return 1;
#if DL_X86
    if (level == DL_CPU_AVX2 || level == DL_CPU_AVX512) return dl_cpu_level() >= level && dl_cpu_level() != DL_CPU_NEON;
#elif defined(__aarch64__)
    if (level == DL_CPU_NEON) return dl_cpu_level() == DL_CPU_NEON;
#endif
    return 0;
}

int dl_depthwise_conv2d(DLCpuLevel level, const DLConvGeometry *g, const float *w, const float *x, float *y, const float *bias,
                        int relu) {
    if (!level_available(level)) return -1;
    if (g->kernel_height > 64 || g->stride_width < 1 || g->stride_height < 1) return -1;
    if (g->channels <= 0 || g->out_height <= 0 || g->out_width <= 0) return 0;
    Job job = {level, g, w, x, bias, y, relu != 0, {0}, 0, 0, 0, 0, 0};
    int s = g->stride_width;
    // A phase row must reach the last vector's last lane at the widest tap: o + (kW−1)·dw/s for o < out_width
    // rounded up to VECTOR_MAX, plus one for the phase remainder.
    int widest = (g->kernel_width - 1) * g->dilation_width;
    int vectors_end = (g->out_width + VECTOR_MAX - 1) / VECTOR_MAX * VECTOR_MAX;
    job.phases = (Phases){s, g->dilation_width, vectors_end + widest / s + 1, 0};
    job.phases.row_floats = s * job.phases.phase_length;
    // Output rows per band: as many as keep the band's padded rows within BAND_FLOATS (at least one).
    int reach = (g->kernel_height - 1) * g->dilation_height + 1;
    int fit = BAND_FLOATS / job.phases.row_floats;
    job.band_rows = fit > reach ? (fit - reach) / g->stride_height + 1 : 1;
    if (job.band_rows > g->out_height) job.band_rows = g->out_height;
    job.padded_rows = (job.band_rows - 1) * g->stride_height + reach;
    job.pieces = (g->channels + CHANNELS_PER_PIECE - 1) / CHANNELS_PER_PIECE;
    int threads = dl_sgemm_pool_threads();
    int helpers = threads - 1 < job.pieces - 1 ? threads - 1 : job.pieces - 1;
    long work = (long)g->channels * g->out_height * g->out_width * g->kernel_height * g->kernel_width;
    if (work < (1L << 18)) helpers = 0;
    dl_sgemm_pool_run(pieces, &job, helpers);
    return job.failed ? -1 : 0;
}
