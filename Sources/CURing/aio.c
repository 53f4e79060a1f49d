// aio.c: Linux native AIO (libaio) behind the opaque `dl_aio` handle (see
// curing.h).
//
// Each read owns one control block from a fixed pool for its whole life: the
// kernel keeps a pointer to the iocb until the read completes, so blocks are
// returned to the free list only when their completion is reaped. A read is
// prepared (in `pending`), in the kernel, or stashed; the three counts never
// sum past `capacity`. libaio's functions return -errno themselves.
#include <errno.h>
#include <string.h>
#include <time.h>

#include <libaio.h>

#include "curing.h"
#include "stash.h"

enum {
    // How many times io_submit refused with -EAGAIN is retried.
    submit_attempts = 100,
};

// `cb` comes first so the iocb pointer in an io_event is the slot's address.
typedef struct {
    struct iocb cb;
    uint64_t user_data;
} dl_aio_slot;

struct dl_aio {
    io_context_t context;
    unsigned capacity;
    dl_aio_slot *slots;
    dl_aio_slot **free_slots;
    unsigned free_count;
    struct iocb **pending;
    unsigned pending_count;
    unsigned in_kernel;
    dl_stash stash;
    struct io_event *events;
};

static void release_slot(dl_aio *a, dl_aio_slot *slot) {
    a->free_slots[a->free_count++] = slot;
}

static void free_context(dl_aio *a) {
    free(a->slots);
    free(a->free_slots);
    free(a->pending);
    free(a->events);
    dl_stash_free(&a->stash);
    free(a);
}

int dl_aio_create(unsigned entries, dl_aio **out) {
    *out = NULL;
    if (entries == 0) return -EINVAL;
    dl_aio *a = calloc(1, sizeof *a);
    if (!a) return -ENOMEM;
    a->capacity = entries;
    a->slots = calloc(entries, sizeof *a->slots);
    a->free_slots = calloc(entries, sizeof *a->free_slots);
    a->pending = calloc(entries, sizeof *a->pending);
    a->events = calloc(entries, sizeof *a->events);
    if (!a->slots || !a->free_slots || !a->pending || !a->events || dl_stash_init(&a->stash, entries) != 0) {
        free_context(a);
        return -ENOMEM;
    }
    for (unsigned i = 0; i < entries; i++) release_slot(a, &a->slots[entries - 1 - i]);
    int ret = io_setup((int)entries, &a->context);
    if (ret < 0) {
        free_context(a);
        return ret;
    }
    *out = a;
    return 0;
}

unsigned dl_aio_outstanding(const dl_aio *a) {
    return a->pending_count + a->in_kernel + a->stash.count;
}

int dl_aio_prep_read(dl_aio *a, int fd, void *buf, size_t len, int64_t offset, uint64_t user_data) {
    if (a->free_count == 0) return -EBUSY;
    dl_aio_slot *slot = a->free_slots[--a->free_count];
    io_prep_pread(&slot->cb, fd, buf, len, offset);
    slot->user_data = user_data;
    a->pending[a->pending_count++] = &slot->cb;
    return 0;
}

// Reaps up to `max` events with io_getevents (at least `min`, retrying EINTR)
// and turns them into (user_data, result) pairs in `a->events` order.
// Returns how many, or -errno.
static int get_events(dl_aio *a, unsigned min, unsigned max) {
    if (max > a->in_kernel) max = a->in_kernel;
    if (min > max) min = max;
    if (max == 0) return 0;
    for (;;) {
        struct timespec zero = {0, 0};
        int ret = io_getevents(a->context, (long)min, (long)max, a->events, min == 0 ? &zero : NULL);
        if (ret == -EINTR) continue;
        if (ret > 0) a->in_kernel -= (unsigned)ret;
        return ret;
    }
}

// What event i says: the caller's user_data and the result (res is an
// unsigned long holding either a byte count or -errno).
static dl_completion take_event(dl_aio *a, unsigned i) {
    dl_aio_slot *slot = (dl_aio_slot *)a->events[i].obj;
    dl_completion c = {slot->user_data, (int64_t)(long)a->events[i].res};
    release_slot(a, slot);
    return c;
}

int dl_aio_submit(dl_aio *a) {
    int first_error = 0;
    int attempts = 0;
    unsigned done = 0;
    while (done < a->pending_count) {
        int ret = io_submit(a->context, (long)(a->pending_count - done), a->pending + done);
        if (ret > 0) {
            done += (unsigned)ret;
            a->in_kernel += (unsigned)ret;
            attempts = 0;
            continue;
        }
        if (ret == -EINTR) continue;
        if (ret == 0) ret = -EAGAIN;
        if (ret == -EAGAIN && ++attempts < submit_attempts) {
            int reaped = get_events(a, a->in_kernel > 0 ? 1 : 0, a->capacity);
            for (int i = 0; i < reaped; i++) {
                dl_completion c = take_event(a, (unsigned)i);
                dl_stash_push(&a->stash, c.user_data, c.result);
            }
            if (reaped <= 0) {
                struct timespec pause = {0, 1000000}; // 1 ms
                nanosleep(&pause, NULL);
            }
            continue;
        }
        // io_submit failed on the block at `done`: that read completes with
        // the error, and the rest of the batch is tried.
        dl_aio_slot *slot = (dl_aio_slot *)a->pending[done];
        dl_stash_push(&a->stash, slot->user_data, ret);
        release_slot(a, slot);
        done++;
        attempts = 0;
        if (first_error == 0) first_error = ret;
    }
    a->pending_count = 0;
    return first_error;
}

int dl_aio_wait(dl_aio *a, unsigned min_complete, unsigned max,
                uint64_t *user_data_out, int64_t *res_out) {
    if (a->pending_count > 0) dl_aio_submit(a);
    unsigned available = a->in_kernel + a->stash.count;
    if (min_complete > available) min_complete = available;
    if (min_complete > max) min_complete = max;
    unsigned n = 0;
    while (n < max && a->stash.count > 0) {
        dl_completion c = dl_stash_pop(&a->stash);
        user_data_out[n] = c.user_data;
        res_out[n] = c.result;
        n++;
    }
    if (n < max && a->in_kernel > 0) {
        unsigned want = min_complete > n ? min_complete - n : 0;
        int got = get_events(a, want, max - n);
        if (got < 0) return n > 0 ? (int)n : got;
        for (int i = 0; i < got; i++) {
            dl_completion c = take_event(a, (unsigned)i);
            user_data_out[n] = c.user_data;
            res_out[n] = c.result;
            n++;
        }
    }
    return (int)n;
}

void dl_aio_destroy(dl_aio *a) {
    if (!a) return;
    if (a->pending_count > 0) dl_aio_submit(a);
    // Reads in flight still target the caller's memory: wait them out.
    while (a->in_kernel > 0) {
        int got = get_events(a, 1, a->capacity);
        if (got < 0) break;
        for (int i = 0; i < got; i++) take_event(a, (unsigned)i);
    }
    io_destroy(a->context);
    free_context(a);
}
