// The worker threads dl_sgemm splits one product across (private to CKernels).
#ifndef DL_SGEMM_POOL_H
#define DL_SGEMM_POOL_H

/// Threads a product may use (dl_sgemm_set_threads), at least 1.
int dl_sgemm_pool_threads(void);

/// Calls work(context, part, parts) for every part in 0..<parts and returns
/// when all have finished. Part 0 runs on the caller; the others on pool
/// threads, or on the caller too when the pool is busy with another caller
/// or a thread could not be started.
void dl_sgemm_pool_run(void (*work)(void *context, int part, int parts), void *context, int parts);

#endif
