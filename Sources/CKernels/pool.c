// Max pooling over NCHW planes with AVX2 (x86-64) or NEON (ARM64); see
// dl_max_pool in include/ckernels.h. The same steps as Pool.swift's portable
// loops (which the library itself, built for baseline x86-64, runs four lanes
// at a time): for each output row, the window's input rows are reduced into
// one row, then each output reduces its columns of that row. Every maximum is
// `next > value ? next : value` taken in window order (rows, then columns), so
// a NaN is kept only where it comes first, and the three paths give the same
// bits. Whole windows run eight (AVX2) or four (NEON) outputs at a time for
// strides 1 and 2, the last few as one more vector that ends where they end
// (over outputs already done: the same values again), and so do the rows'
// last columns; window edges and other strides run one output at a time.
// One loop (max_pool_planes) serves both sets; each gives it its two vector
// steps: a window's rows reduced into `row`, and whole windows of that row.
#include "ckernels.h"

/// The input range [*lower, *upper) the window of output `o` covers along one axis.
static inline void window(int o, int stride, int kernel, int pad, int length, int *lower, int *upper) {
    int start = o * stride - pad, end = start + kernel;
    *lower = start < 0 ? 0 : start;
    *upper = end > length ? length : end;
}

/// The outputs along one axis whose whole window lies inside the input: [*lower, *upper).
static inline void interior(int count, int stride, int kernel, int pad, int length, int *lower, int *upper) {
    int lo = (pad + stride - 1) / stride;
    if (lo > count) lo = count;
    int last = length - kernel + pad;
    int hi = last < 0 ? 0 : last / stride + 1;
    if (hi > count) hi = count;
    *lower = lo;
    *upper = hi < lo ? lo : hi;
}

/// Output `o` of a reduced row, its window clipped to the row, one maximum at a time.
static inline float edge(const float *row, int o, int stride, int kernel, int pad, int width) {
    int lower, upper;
    window(o, stride, kernel, pad, width, &lower, &upper);
    float value = row[lower];
    for (int w = lower + 1; w < upper; w++) value = row[w] > value ? row[w] : value;
    return value;
}

/// A set's vector steps. reduce_rows: row[w] for w below the returned column (a multiple of its lanes),
/// the maximum of plane's rows [first, end) at column w. reduce_windows: out[o] for o from `lower` up to
/// the returned output (at most `upper`, and `lower` itself for strides other than 1 and 2), each the
/// maximum of its whole window in `row`.
typedef int (*ReduceRows)(const float *plane, int first, int end, int width, float *row);
typedef int (*ReduceWindows)(const float *row, float *out, int lower, int upper, const DLPoolGeometry *g);

/// The max pool of `planes` planes with a set's vector steps; the rest one value at a time.
__attribute__((unused)) static void max_pool_planes(const float *x, float *y, long planes, const DLPoolGeometry *g, float *row, ReduceRows reduce_rows,
                            ReduceWindows reduce_windows) {
    int lower_out, upper_out;
    interior(g->out_width, g->stride_width, g->kernel_width, g->pad_left, g->in_width, &lower_out, &upper_out);
    for (long p = 0; p < planes; p++) {
        const float *plane = x + p * g->in_height * g->in_width;
        float *out = y + p * g->out_height * g->out_width;
        for (int oh = 0; oh < g->out_height; oh++, out += g->out_width) {
            int first, end;
            window(oh, g->stride_height, g->kernel_height, g->pad_top, g->in_height, &first, &end);
            for (int w = reduce_rows(plane, first, end, g->in_width, row); w < g->in_width; w++) {
                float value = plane[(long)first * g->in_width + w];
                for (int h = first + 1; h < end; h++) {
                    float next = plane[(long)h * g->in_width + w];
                    value = next > value ? next : value;
                }
                row[w] = value;
            }
            int o = reduce_windows(row, out, lower_out, upper_out, g);
            for (int e = 0; e < lower_out; e++) out[e] = edge(row, e, g->stride_width, g->kernel_width, g->pad_left, g->in_width);
            for (; o < g->out_width; o++) out[o] = edge(row, o, g->stride_width, g->kernel_width, g->pad_left, g->in_width);
        }
    }
}

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma")))

/// Eight floats from p at stride 2, in the lane order 0 2 8 10 4 6 12 14 of p
/// (an unpermuted shuffle; the caller puts the lanes in order once, at the end).
static inline AVX2 __m256 evens_shuffled(const float *p) {
    return _mm256_shuffle_ps(_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8), _MM_SHUFFLE(2, 0, 2, 0));
}

static AVX2 void reduce_rows_at(const float *plane, int first, int end, int width, float *row, int w) {
    __m256 value = _mm256_loadu_ps(plane + (long)first * width + w);
    for (int h = first + 1; h < end; h++) value = _mm256_max_ps(_mm256_loadu_ps(plane + (long)h * width + w), value);
    _mm256_storeu_ps(row + w, value);
}

static AVX2 int reduce_rows_avx2(const float *plane, int first, int end, int width, float *row) {
    int w = 0;
    for (; w + 8 <= width; w += 8) reduce_rows_at(plane, first, end, width, row, w);
    // The last columns: one more vector ending at the row's end, over columns already done (the same values).
    if (w < width && width >= 8) {
        reduce_rows_at(plane, first, end, width, row, width - 8);
        w = width;
    }
    return w;
}

/// out[o ..< o + 8], each the maximum of its whole window in `row`.
static AVX2 void reduce_windows_at(const float *row, float *out, int o, const DLPoolGeometry *g) {
    const float *start = row + o * g->stride_width - g->pad_left;
    __m256 value;
    if (g->stride_width == 1) {
        value = _mm256_loadu_ps(start);
        for (int k = 1; k < g->kernel_width; k++) value = _mm256_max_ps(_mm256_loadu_ps(start + k), value);
    } else {
        value = evens_shuffled(start);
        for (int k = 1; k < g->kernel_width; k++) value = _mm256_max_ps(evens_shuffled(start + k), value);
        value = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(value), _MM_SHUFFLE(3, 1, 2, 0)));
    }
    _mm256_storeu_ps(out + o, value);
}

static AVX2 int reduce_windows_avx2(const float *row, float *out, int lower, int upper, const DLPoolGeometry *g) {
    int o = lower;
    if (g->stride_width != 1 && g->stride_width != 2) return o;
    for (; o + 8 <= upper; o += 8) reduce_windows_at(row, out, o, g);
    // The last whole windows: one more vector ending at `upper`, over outputs already done (the same values).
    if (o < upper && upper - lower >= 8) {
        reduce_windows_at(row, out, upper - 8, g);
        o = upper;
    }
    return o;
}

void dl_avx2_max_pool(const float *x, float *y, long planes, const DLPoolGeometry *g, float *row) {
    max_pool_planes(x, y, planes, g, row, reduce_rows_avx2, reduce_windows_avx2);
}

#else
void dl_avx2_max_pool(const float *x, float *y, long planes, const DLPoolGeometry *g, float *row) {
    (void)x; (void)y; (void)planes; (void)g; (void)row;
}
#endif

#if defined(__aarch64__)
#include <arm_neon.h>

/// next > value ? next : value, lane by lane (vmaxq_f32 would return NaN for a NaN in either).
static inline float32x4_t max_next(float32x4_t next, float32x4_t value) {
    return vbslq_f32(vcgtq_f32(next, value), next, value);
}

static void reduce_rows_at_neon(const float *plane, int first, int end, int width, float *row, int w) {
    float32x4_t value = vld1q_f32(plane + (long)first * width + w);
    for (int h = first + 1; h < end; h++) value = max_next(vld1q_f32(plane + (long)h * width + w), value);
    vst1q_f32(row + w, value);
}

static int reduce_rows_neon(const float *plane, int first, int end, int width, float *row) {
    int w = 0;
    for (; w + 4 <= width; w += 4) reduce_rows_at_neon(plane, first, end, width, row, w);
    if (w < width && width >= 4) {  // as on AVX2: one more vector ending at the row's end
        reduce_rows_at_neon(plane, first, end, width, row, width - 4);
        w = width;
    }
    return w;
}

static void reduce_windows_at_neon(const float *row, float *out, int o, const DLPoolGeometry *g) {
    const float *start = row + o * g->stride_width - g->pad_left;
    float32x4_t value;
    if (g->stride_width == 1) {
        value = vld1q_f32(start);
        for (int k = 1; k < g->kernel_width; k++) value = max_next(vld1q_f32(start + k), value);
    } else {  // vld2q_f32's first register: the even floats of eight
        value = vld2q_f32(start).val[0];
        for (int k = 1; k < g->kernel_width; k++) value = max_next(vld2q_f32(start + k).val[0], value);
    }
    vst1q_f32(out + o, value);
}

static int reduce_windows_neon(const float *row, float *out, int lower, int upper, const DLPoolGeometry *g) {
    int o = lower;
    if (g->stride_width != 1 && g->stride_width != 2) return o;
    for (; o + 4 <= upper; o += 4) reduce_windows_at_neon(row, out, o, g);
    if (o < upper && upper - lower >= 4) {  // as on AVX2: one more vector ending at `upper`
        reduce_windows_at_neon(row, out, upper - 4, g);
        o = upper;
    }
    return o;
}

void dl_neon_max_pool(const float *x, float *y, long planes, const DLPoolGeometry *g, float *row) {
    max_pool_planes(x, y, planes, g, row, reduce_rows_neon, reduce_windows_neon);
}

#else
void dl_neon_max_pool(const float *x, float *y, long planes, const DLPoolGeometry *g, float *row) {
    (void)x; (void)y; (void)planes; (void)g; (void)row;
}
#endif
