// curing.h: the C shims under DemandIO.
//
// This header is what Swift imports, so it includes nothing but <stddef.h>
// and <stdint.h>. liburing.h and libaio.h stay inside the .c files: importing
// liburing.h into Swift breaks on a clean build (it defines _GNU_SOURCE before
// glibc's headers, and Swift's Glibc module then disagrees about fd_set).
//
// Conventions, for every function below:
//   - Handles are opaque (`dl_uring`, `dl_aio`); create with `*_create`, free
//     with `*_destroy`.
//   - Results are 0 (or a count) on success and -errno on failure.
//   - EINTR is retried inside; no function returns -EINTR.
//   - A handle is used by one thread at a time (DemandIO's read thread).
//
// The completion contract (io_uring and libaio alike): every read accepted by
// `*_prep_read` yields exactly one completion from `*_wait`, carrying the
// caller's `user_data` unchanged and a result that is the byte count read
// (>= 0) or -errno. A read the kernel refused to take at submit time (for
// example -EAGAIN that persisted after reaping and retrying) also completes
// that way, with the refusal as its result, so callers never have to guess
// which reads of a batch are in flight.
#ifndef CURING_H
#define CURING_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// MARK: - io_uring

/// An io_uring instance plus the bookkeeping that makes the completion
/// contract hold (reads prepared, in the kernel, and completions stashed while
/// making room). Opaque.
typedef struct dl_uring dl_uring;

/// Creates a ring whose submission queue holds at least `entries` reads
/// (io_uring_queue_init; the completion queue is twice that). At most
/// `entries` reads may be prepared or in flight at once.
/// Returns 0 and sets `*out`, or -errno: -ENOSYS (kernel without io_uring),
/// -EPERM (kernel.io_uring_disabled, or seccomp in a container), -ENOMEM
/// (RLIMIT_MEMLOCK too small for the rings on kernels before 5.12), -EINVAL
/// (`entries` is 0 or above 32768).
int dl_uring_create(unsigned entries, dl_uring **out);

/// Waits for every read still in flight (the kernel may otherwise write into
/// the caller's buffers after the ring is gone), then tears the ring down
/// (io_uring_queue_exit) and frees the handle. NULL is ignored.
void dl_uring_destroy(dl_uring *ring);

/// Registers [base, base+len) as fixed buffers for READ_FIXED
/// (io_uring_register_buffers). The kernel caps one registered buffer at
/// 1 GiB, so the range is registered as consecutive pieces of at most 1 GiB
/// (at most 16 pieces). Registration pins the pages and charges them to
/// RLIMIT_MEMLOCK unless the process has CAP_IPC_LOCK: `ulimit -l` must cover
/// `len`, or this returns -ENOMEM and the caller should read without
/// registration. Replaces an earlier registration. Call it with no reads in
/// flight. Returns 0 or -errno (-ENOMEM, -EFAULT for unmapped memory, -E2BIG
/// for more than 16 GiB, -EBUSY with reads in flight).
int dl_uring_register_buffer(dl_uring *ring, void *base, size_t len);

/// Drops the registration made by `dl_uring_register_buffer`, if any.
/// Returns 0 or -errno.
int dl_uring_unregister_buffer(dl_uring *ring);

/// Queues a read of `len` bytes at `offset` of `fd` into `buf`; nothing is
/// sent to the kernel until `dl_uring_submit`. `user_data` is opaque to this
/// layer and comes back verbatim with the completion (DemandIO's scheduler
/// documents what it packs). When `fixed` is nonzero and [buf, buf+len) lies
/// within one registered piece, the read is IORING_OP_READ_FIXED with that
/// piece's index (0 for a registration under 1 GiB); otherwise it is a plain
/// IORING_OP_READ. Returns 0, or -EBUSY when `entries` reads are already
/// prepared or in flight.
int dl_uring_prep_read(dl_uring *ring, int fd, void *buf, unsigned len, uint64_t offset,
                       uint64_t user_data, int fixed);

/// Hands every prepared read to the kernel (io_uring_submit). On -EAGAIN or
/// -EBUSY from the kernel (no memory for requests, or completions backed up)
/// it first reaps completions into an internal stash, waiting for one if any
/// read is in flight, and retries; after repeated refusals the reads not yet
/// taken are withdrawn from the submission queue and complete with the
/// refusal as their result. Returns 0 when every prepared read reached the
/// kernel, otherwise the -errno that stopped submission (the reads concerned
/// still complete, as described above).
int dl_uring_submit(dl_uring *ring);

/// Reaps between `min_complete` and `max` completions, blocking until at
/// least `min_complete` are available (io_uring_peek_cqe, then
/// io_uring_wait_cqe). `min_complete` is lowered to the number of reads
/// outstanding, so it never waits for a read that does not exist; 0 polls.
/// Prepared reads not yet submitted are submitted first. Completion i is
/// written to `user_data_out[i]` and `res_out[i]` (bytes read, or -errno).
/// Returns the number reaped, or -errno if the ring itself failed before any
/// completion was reaped.
int dl_uring_wait(dl_uring *ring, unsigned min_complete, unsigned max,
                  uint64_t *user_data_out, int32_t *res_out);

/// Reads prepared, in the kernel, or completed but not yet returned by
/// `dl_uring_wait`.
unsigned dl_uring_outstanding(const dl_uring *ring);

// MARK: - libaio (Linux native AIO)

/// A libaio context with a pool of `entries` control blocks. Opaque.
typedef struct dl_aio dl_aio;

/// Creates a context for at most `entries` reads in flight (io_setup).
/// Returns 0 and sets `*out`, or -errno: -EAGAIN when `entries` exceeds what
/// /proc/sys/fs/aio-max-nr still allows, -ENOSYS without AIO, -EPERM under
/// seccomp, -EINVAL when `entries` is 0.
int dl_aio_create(unsigned entries, dl_aio **out);

/// Waits for every read in flight, then releases the context (io_destroy)
/// and frees the handle. NULL is ignored.
void dl_aio_destroy(dl_aio *ctx);

/// Queues a read (io_prep_pread) of `len` bytes at `offset` of `fd` into
/// `buf`; `user_data` comes back verbatim with its completion. Nothing is sent
/// until `dl_aio_submit`. Returns 0, or -EBUSY when `entries` reads are
/// already prepared or in flight. With a file not opened O_DIRECT the kernel
/// performs the read synchronously inside io_submit.
int dl_aio_prep_read(dl_aio *ctx, int fd, void *buf, size_t len, int64_t offset, uint64_t user_data);

/// Submits every prepared read (io_submit, as one batch while the kernel takes
/// them). -EAGAIN is met by reaping completions into a stash and retrying; a
/// read the kernel rejects outright (io_submit failing on that control block,
/// e.g. -EINVAL for a misaligned O_DIRECT read on some filesystems) completes
/// with that error, and the rest of the batch is still submitted. Returns 0,
/// or the first -errno met (the reads concerned still complete).
int dl_aio_submit(dl_aio *ctx);

/// Reaps between `min_complete` and `max` completions (io_getevents),
/// blocking until `min_complete` are available; `min_complete` is lowered to
/// the number of reads outstanding. Prepared reads are submitted first.
/// Completion i goes to `user_data_out[i]` and `res_out[i]` (bytes read, or
/// -errno). Returns the number reaped, or -errno if the context failed before
/// any completion was reaped.
int dl_aio_wait(dl_aio *ctx, unsigned min_complete, unsigned max,
                uint64_t *user_data_out, int64_t *res_out);

/// Reads prepared, in the kernel, or completed but not yet returned.
unsigned dl_aio_outstanding(const dl_aio *ctx);

// MARK: - Files

/// The O_DIRECT open flag (Swift's Glibc module does not export it).
int dl_o_direct_flag(void);

/// Drops the page cache of the whole file: posix_fadvise(fd, 0, 0,
/// POSIX_FADV_DONTNEED). Only clean pages go, so fsync first after writing.
/// Returns 0 or -errno.
int dl_fadvise_dontneed(int fd);

/// Tells the kernel `fd` will be read sequentially (POSIX_FADV_SEQUENTIAL:
/// larger readahead for buffered reads). Returns 0 or -errno.
int dl_fadvise_sequential(int fd);

/// The filesystem type of `fd` (fstatfs(2)'s f_type, a magic number such as
/// 0x01021994 for tmpfs) in `*type_out`. Returns 0 or -errno.
int dl_filesystem_type(int fd, int64_t *type_out);

// MARK: - CRC-32C

/// Continues a CRC-32C (Castagnoli: reflected polynomial 0x82F63B78, initial
/// value and final xor 0xFFFFFFFF) over `len` bytes at `data`. Start with 0
/// and feed each result back in: dl_crc32c_update(dl_crc32c_update(0, a, n),
/// b, m) equals the CRC of a followed by b. crc32c("123456789") = 0xE3069283.
/// Uses SSE4.2 (three interleaved crc32q streams) when the CPU has it, chosen
/// at the first call; otherwise slicing-by-8 tables. Thread-safe.
uint32_t dl_crc32c_update(uint32_t crc, const void *data, size_t len);

/// The CRC of A followed by B, from A's CRC, B's CRC and B's length: so
/// chunks can be summed as they arrive, in any order, and joined later.
uint32_t dl_crc32c_combine(uint32_t crc_a, uint32_t crc_b, size_t len_b);

/// 1 when `dl_crc32c_update` uses the SSE4.2 instruction, else 0.
int dl_crc32c_is_hardware(void);

/// The slicing-by-8 software path, always (for tests and benchmarks).
uint32_t dl_crc32c_update_software(uint32_t crc, const void *data, size_t len);

/// The SSE4.2 path with three interleaved streams; falls back to software
/// when the CPU lacks SSE4.2 (for tests and benchmarks).
uint32_t dl_crc32c_update_hardware(uint32_t crc, const void *data, size_t len);

/// The SSE4.2 path with one dependent crc32q chain; falls back to software
/// when the CPU lacks SSE4.2 (for tests and benchmarks).
uint32_t dl_crc32c_update_hardware_serial(uint32_t crc, const void *data, size_t len);

/// Widens `count` IEEE binary16 values to float32 (exact: every binary16 value
/// is a float32 value). Uses F16C where the CPU has it.
void dl_widen_f16(const uint16_t *source, float *destination, size_t count);
/// 1 when `dl_widen_f16` uses F16C, else 0.
int dl_widen_f16_is_hardware(void);
/// The portable conversion, exported so tests can compare the two.
void dl_widen_f16_software(const uint16_t *source, float *destination, size_t count);

/// Dequantizes `count` int8 values: destination[i] = (source[i] - zero[i·step])
/// · scale[i·step]. `step` 0: one scale and zero point for all (a channel's or
/// a block's run); 1: one each (a row whose scales vary along the last axis).
/// `zero` NULL: zero points are 0. AVX2 where the CPU has it, NEON on ARM64.
void dl_dequantize_s8(const int8_t *source, const int8_t *zero, const float *scale, size_t step, float *destination, size_t count);
/// As `dl_dequantize_s8`, for uint8 values and zero points.
void dl_dequantize_u8(const uint8_t *source, const uint8_t *zero, const float *scale, size_t step, float *destination, size_t count);
/// As `dl_dequantize_u8`, for uint4 values packed two per byte, low nibble
/// first, starting at element `first` of `packed` (zero points one per byte).
void dl_dequantize_u4(const uint8_t *packed, size_t first, const uint8_t *zero, const float *scale, size_t step, float *destination, size_t count);
/// 1 when the dequantize functions use vector code (AVX2, NEON), else 0.
int dl_dequantize_is_vector(void);
/// The portable loops, exported so tests can compare them with the vector paths.
void dl_dequantize_s8_portable(const int8_t *source, const int8_t *zero, const float *scale, size_t step, float *destination, size_t count);
void dl_dequantize_u8_portable(const uint8_t *source, const uint8_t *zero, const float *scale, size_t step, float *destination, size_t count);
void dl_dequantize_u4_portable(const uint8_t *packed, size_t first, const uint8_t *zero, const float *scale, size_t step, float *destination, size_t count);

#ifdef __cplusplus
}
#endif

#endif // CURING_H
