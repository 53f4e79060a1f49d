// The worker threads dl_sgemm shares one product with (private to CKernels).
#ifndef DL_SGEMM_POOL_H
#define DL_SGEMM_POOL_H

#include <stddef.h>

/// Threads a product may use (dl_sgemm_set_threads), at least 1.
int dl_sgemm_pool_threads(void);

/// Runs work(context) on the caller and on up to helpers pool threads at
/// once, and returns when every call that started has returned. `work` must
/// take pieces of the job from a shared counter until none are left, so that
/// the caller alone finishes the job when no helper gets a core in time: a
/// helper that arrives after the caller has finished does not start it.
void dl_sgemm_pool_run(void (*work)(void *context), void *context, int helpers);

/// CLOCK_MONOTONIC in nanoseconds: the pool's spin limits, and sgemm.c's timing of row and column pieces.
long dl_now_nanoseconds(void);

/// Counts `bytes` (negative: freed) of kernel scratch: per-thread packing,
/// transform and band buffers, and memory a call holds only while it runs.
void dl_kernel_scratch_add(long bytes);

/// The kinds of buffer a thread keeps between kernel calls (dl_thread_buffer).
typedef enum { DL_BUFFER_WINOGRAD, DL_BUFFER_DEPTHWISE, DL_BUFFER_CONV_INPUT, DL_BUFFER_DOT_COLUMNS, DL_BUFFER_KINDS } DLThreadBufferKind;

/// This thread's buffer of `kind`, of at least `bytes` (64-byte aligned): kept
/// from call to call, grown when a call needs more (its contents are not kept
/// then), counted in dl_kernel_scratch_bytes and freed when the thread exits.
/// NULL if it could not be allocated.
void *dl_thread_buffer(DLThreadBufferKind kind, size_t bytes);

#endif
