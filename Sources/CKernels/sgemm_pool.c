// A small fixed pool for dl_sgemm (see sgemm_pool.h).
//
// Ownership and threads: process-wide, like OpenBLAS's own pool. Workers are
// started on first need, up to the thread count minus one, and live until the
// process ends, each blocked on `start` between jobs. One caller at a time owns
// the pool (`owner`, taken with trylock); a second concurrent caller runs its
// parts itself, which gives the same results since parts never share outputs.
#include "sgemm_pool.h"
#include "dl_sgemm.h"

#include <pthread.h>

enum { MAX_WORKERS = 63 };

static int wanted_threads = 1;
static pthread_mutex_t owner = PTHREAD_MUTEX_INITIALIZER;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t start = PTHREAD_COND_INITIALIZER;
static pthread_cond_t finished = PTHREAD_COND_INITIALIZER;
static unsigned long generation;  // bumped for each job, under `lock`
static int worker_count;          // started workers, changed only by the owner
static int pending;               // workers still on the current job
static void (*job_work)(void *, int, int);
static void *job_context;
static int job_parts;
static unsigned long start_generation[MAX_WORKERS];

void dl_sgemm_set_threads(int threadCount) {
    if (threadCount < 1) threadCount = 1;
    if (threadCount > MAX_WORKERS + 1) threadCount = MAX_WORKERS + 1;
    __atomic_store_n(&wanted_threads, threadCount, __ATOMIC_RELAXED);
}

int dl_sgemm_pool_threads(void) { return __atomic_load_n(&wanted_threads, __ATOMIC_RELAXED); }

static void *worker_main(void *argument) {
    int part = (int)(long)argument;  // worker i runs part i + 1
    pthread_mutex_lock(&lock);
    // The generation when this worker was created (under `lock`, before the
    // job that needed it was posted), so a late start cannot miss that job.
    unsigned long seen = start_generation[part - 1];
    for (;;) {
        while (generation == seen) pthread_cond_wait(&start, &lock);
        seen = generation;
        void (*work)(void *, int, int) = job_work;
        void *context = job_context;
        int parts = job_parts;
        pthread_mutex_unlock(&lock);
        if (part < parts) work(context, part, parts);
        pthread_mutex_lock(&lock);
        if (--pending == 0) pthread_cond_signal(&finished);
    }
    return NULL;
}

void dl_sgemm_pool_run(void (*work)(void *context, int part, int parts), void *context, int parts) {
    if (parts <= 1 || pthread_mutex_trylock(&owner) != 0) {
        for (int part = 0; part < parts; part++) work(context, part, parts);
        return;
    }
    while (worker_count < parts - 1) {
        pthread_t thread;
        pthread_mutex_lock(&lock);
        start_generation[worker_count] = generation;
        int started = pthread_create(&thread, NULL, worker_main, (void *)(long)(worker_count + 1)) == 0;
        if (started) worker_count++;
        pthread_mutex_unlock(&lock);
        if (!started) break;
        pthread_detach(thread);
    }
    int helpers = worker_count < parts - 1 ? worker_count : parts - 1;
    pthread_mutex_lock(&lock);
    job_work = work;
    job_context = context;
    job_parts = helpers + 1;
    pending = worker_count;
    generation++;
    pthread_cond_broadcast(&start);
    pthread_mutex_unlock(&lock);

    work(context, 0, helpers + 1);

    pthread_mutex_lock(&lock);
    while (pending > 0) pthread_cond_wait(&finished, &lock);
    pthread_mutex_unlock(&lock);
    pthread_mutex_unlock(&owner);
}
