#define _GNU_SOURCE
// A small fixed pool for dl_sgemm (see sgemm_pool.h).
//
// Ownership and threads: process-wide, like OpenBLAS's own pool. Workers are
// started on first need, up to the thread count minus one, and live until the
// process ends. One caller at a time owns the pool (`owner`, taken with
// trylock); a concurrent caller runs its job alone, which gives the same
// results since pieces never share outputs.
//
// Joining: the machine may be shared, so a worker can be off its core for a
// whole scheduler slice. The caller therefore never waits for a worker that
// has not begun: `entry` packs the job's generation, a closed bit and how
// many workers are inside; a worker enters with a compare-and-swap that fails
// once the caller has closed the job (after its own call to `work` returned,
// when no pieces are left), and the caller waits only for those inside.
//
// Waiting: between jobs a worker spins on `generation` for up to 2 ms before
// it sleeps on `start` (a network's GEMMs come a fraction of a millisecond
// apart). The caller spins on `entry` for only 0.1 ms before it sleeps on
// `finished`: a worker still inside after that has usually lost its core, and
// a sleeping caller lets it have the caller's. Both spins yield the CPU
// (sched_yield) every 256 pauses: a thread woken on a spinner's CPU (the
// session's own stage threads, or another program's on a shared board)
// otherwise waited for the next tick, seen at 4 ms on the 2-vCPU machine.
// Spinning with nothing else runnable costs the same as before.
#include "sgemm_pool.h"
#include "dl_sgemm.h"

#include <pthread.h>
#include <stdlib.h>
#include <sched.h>
#include <stdint.h>
#include <unistd.h>
#include <time.h>

enum { MAX_WORKERS = 63 };
static const long WORKER_SPIN_NANOSECONDS = 2000000;
static const long CALLER_SPIN_NANOSECONDS = 100000;
static const uint64_t CLOSED = 1ull << 31;   // in `entry`: the job takes no more workers
static const uint64_t INSIDE = CLOSED - 1;   // in `entry`: workers inside the job

static int wanted_threads = 1;
static pthread_mutex_t owner = PTHREAD_MUTEX_INITIALIZER;

// `lock` guards only sleeping: a bump of `generation` and a last worker
// leaving a closed job are done under it, so that a sleeper cannot miss them.
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t start = PTHREAD_COND_INITIALIZER;
static pthread_cond_t finished = PTHREAD_COND_INITIALIZER;
static uint64_t generation;  // bumped for each job (release), read by workers (acquire)
static uint64_t wakes;       // bumped by dl_sgemm_pool_wake, under `lock`
static uint64_t entry;       // generation << 32 | CLOSED | workers inside
static int worker_count;     // started workers, changed only by the owner (stored atomically for dl_sgemm_pool_wake)
// The current job, written by the owner before it bumps `generation`; read
// by a worker only once it is inside.
static void (*job_work)(void *);
static void *job_context;
static uint64_t job_helpers;  // most workers the job takes

void dl_sgemm_set_threads(int threadCount) {
    if (threadCount < 1) threadCount = 1;
    if (threadCount > MAX_WORKERS + 1) threadCount = MAX_WORKERS + 1;
    __atomic_store_n(&wanted_threads, threadCount, __ATOMIC_RELAXED);
}

int dl_sgemm_pool_threads(void) { return __atomic_load_n(&wanted_threads, __ATOMIC_RELAXED); }

int dl_sgemm_threads(void) { return dl_sgemm_pool_threads(); }

long dl_now_nanoseconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000L + t.tv_nsec;
}

/// Spins while (*value & mask) == unchanged, for at most `limit` nanoseconds;
/// returns 1 if it changed.
static int spin_while(const uint64_t *value, uint64_t mask, uint64_t unchanged, long limit) {
    long deadline = 0;
    for (unsigned spins = 1;; spins++) {
        if ((__atomic_load_n(value, __ATOMIC_ACQUIRE) & mask) != unchanged) return 1;
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
        if (spins % 256 == 0) {
            sched_yield();
            long now = dl_now_nanoseconds();
            if (deadline == 0) deadline = now + limit;
            else if (now > deadline) return 0;
        }
    }
}

/// Enters job `job_generation` if it is still open; returns 1 if inside.
static int enter(uint64_t job_generation) {
    uint64_t state = __atomic_load_n(&entry, __ATOMIC_ACQUIRE);
    for (;;) {
        if (state >> 32 != (job_generation & 0xFFFFFFFFu) || (state & CLOSED)) return 0;
        if ((state & INSIDE) >= __atomic_load_n(&job_helpers, __ATOMIC_RELAXED)) return 0;
        if (__atomic_compare_exchange_n(&entry, &state, state + 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) return 1;
    }
}

static void *worker_main(void *argument) {
    uint64_t seen = (uint64_t)(uintptr_t)argument;  // the generation before the job that started this worker
    // A new thread inherits its creator's CPU affinity, and the first caller
    // may be a session's execute thread pinned to one CPU: a worker stuck on
    // that CPU would only take turns with it. Workers serve every caller of the
    // process, so they take the process's own mask (its main thread's).
    pthread_setname_np(pthread_self(), "dl-sgemm");
    cpu_set_t process_cpus;
    if (sched_getaffinity(getpid(), sizeof process_cpus, &process_cpus) == 0) {
        pthread_setaffinity_np(pthread_self(), sizeof process_cpus, &process_cpus);
    }
    for (;;) {
        if (!spin_while(&generation, ~0ull, seen, WORKER_SPIN_NANOSECONDS)) {
            pthread_mutex_lock(&lock);
            uint64_t woken = wakes;
            while (__atomic_load_n(&generation, __ATOMIC_ACQUIRE) == seen && wakes == woken) pthread_cond_wait(&start, &lock);
            pthread_mutex_unlock(&lock);
        }
        uint64_t now = __atomic_load_n(&generation, __ATOMIC_ACQUIRE);
        if (now == seen) continue;  // woken ahead of a job (dl_sgemm_pool_wake): spin for it
        seen = now;
        if (!enter(seen)) continue;
        job_work(job_context);
        pthread_mutex_lock(&lock);
        uint64_t left = __atomic_sub_fetch(&entry, 1, __ATOMIC_ACQ_REL);
        if ((left & CLOSED) && (left & INSIDE) == 0) pthread_cond_signal(&finished);
        pthread_mutex_unlock(&lock);
    }
    return NULL;
}

void dl_sgemm_pool_wake(void) {
    if (__atomic_load_n(&worker_count, __ATOMIC_ACQUIRE) == 0) return;
    pthread_mutex_lock(&lock);
    wakes++;
    pthread_cond_broadcast(&start);
    pthread_mutex_unlock(&lock);
}

void dl_sgemm_pool_run(void (*work)(void *context), void *context, int helpers) {
    if (helpers <= 0 || pthread_mutex_trylock(&owner) != 0) {
        work(context);
        return;
    }
    while (worker_count < helpers) {
        pthread_t thread;
        void *argument = (void *)(uintptr_t)__atomic_load_n(&generation, __ATOMIC_ACQUIRE);
        if (pthread_create(&thread, NULL, worker_main, argument) != 0) break;
        pthread_detach(thread);
        __atomic_store_n(&worker_count, worker_count + 1, __ATOMIC_RELEASE);
    }
    job_work = work;
    job_context = context;
    __atomic_store_n(&job_helpers, (uint64_t)helpers, __ATOMIC_RELAXED);
    pthread_mutex_lock(&lock);
    uint64_t next = generation + 1;
    __atomic_store_n(&entry, (next & 0xFFFFFFFFu) << 32, __ATOMIC_RELEASE);
    __atomic_store_n(&generation, next, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&start);
    pthread_mutex_unlock(&lock);

    work(context);

    __atomic_or_fetch(&entry, CLOSED, __ATOMIC_ACQ_REL);
    for (;;) {
        uint64_t inside = __atomic_load_n(&entry, __ATOMIC_ACQUIRE) & INSIDE;
        if (inside == 0) break;
        if (!spin_while(&entry, INSIDE, inside, CALLER_SPIN_NANOSECONDS)) {
            pthread_mutex_lock(&lock);
            while (__atomic_load_n(&entry, __ATOMIC_ACQUIRE) & INSIDE) pthread_cond_wait(&finished, &lock);
            pthread_mutex_unlock(&lock);
            break;
        }
    }
    pthread_mutex_unlock(&owner);
}

typedef struct {
    void (*fn)(void *context, long start, long end);
    void *context;
    long count, grain;
    long next;  // the next range's start (atomic)
} Ranges;

static void range_work(void *argument) {
    Ranges *ranges = argument;
    for (;;) {
        long start = __atomic_fetch_add(&ranges->next, ranges->grain, __ATOMIC_RELAXED);
        if (start >= ranges->count) return;
        long end = ranges->count - start < ranges->grain ? ranges->count : start + ranges->grain;
        ranges->fn(ranges->context, start, end);
    }
}

void dl_parallel_ranges(long count, long grain, void (*fn)(void *context, long start, long end), void *context) {
    if (count <= 0) return;
    if (grain < 1) grain = 1;
    long pieces = (count + grain - 1) / grain;
    long helpers = dl_sgemm_pool_threads() - 1;
    if (helpers > pieces - 1) helpers = pieces - 1;
    Ranges ranges = {fn, context, count, grain, 0};
    dl_sgemm_pool_run(range_work, &ranges, (int)helpers);
}

static long scratch_held;  // atomic
static long scratch_peak;  // atomic

void dl_kernel_scratch_add(long bytes) {
    long now = __atomic_add_fetch(&scratch_held, bytes, __ATOMIC_RELAXED);
    long peak = __atomic_load_n(&scratch_peak, __ATOMIC_RELAXED);
    while (now > peak && !__atomic_compare_exchange_n(&scratch_peak, &peak, now, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
}

long dl_kernel_scratch_bytes(void) { return __atomic_load_n(&scratch_held, __ATOMIC_RELAXED); }

long dl_kernel_scratch_peak_bytes(void) { return __atomic_load_n(&scratch_peak, __ATOMIC_RELAXED); }

void dl_kernel_scratch_reset_peak(void) {
    __atomic_store_n(&scratch_peak, __atomic_load_n(&scratch_held, __ATOMIC_RELAXED), __ATOMIC_RELAXED);
}

typedef struct {
    size_t bytes[DL_BUFFER_KINDS];
    void *data[DL_BUFFER_KINDS];
} ThreadBuffers;

static pthread_key_t buffers_key;
static pthread_once_t buffers_once = PTHREAD_ONCE_INIT;

static void buffers_free(void *p) {
    ThreadBuffers *buffers = p;
    for (int kind = 0; kind < DL_BUFFER_KINDS; kind++) {
        dl_kernel_scratch_add(-(long)buffers->bytes[kind]);
        free(buffers->data[kind]);
    }
    free(buffers);
}

static void buffers_key_create(void) { pthread_key_create(&buffers_key, buffers_free); }

void *dl_thread_buffer(DLThreadBufferKind kind, size_t bytes) {
    pthread_once(&buffers_once, buffers_key_create);
    ThreadBuffers *buffers = pthread_getspecific(buffers_key);
    if (!buffers) {
        if (!(buffers = calloc(1, sizeof *buffers))) return NULL;
        if (pthread_setspecific(buffers_key, buffers) != 0) {
            free(buffers);
            return NULL;
        }
    }
    if (buffers->bytes[kind] >= bytes) return buffers->data[kind];
    size_t rounded = (bytes + 63) / 64 * 64;
    void *data = aligned_alloc(64, rounded);
    if (!data) return NULL;
    free(buffers->data[kind]);
    dl_kernel_scratch_add((long)rounded - (long)buffers->bytes[kind]);
    buffers->bytes[kind] = rounded;
    buffers->data[kind] = data;
    return data;
}
