// uring.c: io_uring behind the opaque `dl_uring` handle (see curing.h).
//
// Every read is in exactly one of three places, and the counters say how
// many are in each:
//   prepared   an SQE filled by dl_uring_prep_read, not yet taken by the kernel
//   in_kernel  taken by io_uring_enter, its CQE not yet reaped
//   stash      reaped (or completed here after a refused submit), waiting for
//              dl_uring_wait to hand it out
// Their sum never exceeds `capacity`, which is what keeps the SQ from
// overflowing and the CQ (twice the SQ) from ever backing up in normal use.
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>

#include <liburing.h>

#include "curing.h"
#include "stash.h"

enum {
    // The kernel refuses a single registered buffer over 1 GiB.
    piece_max_bytes = 1u << 30,
    piece_max_count = 16,
    // How many times a submit refused with -EAGAIN/-EBUSY is retried.
    submit_attempts = 100,
};

struct dl_uring {
    struct io_uring ring;
    unsigned capacity;
    unsigned prepared;
    unsigned in_kernel;
    dl_stash stash;
    char *registered_base;
    size_t registered_len;
    unsigned piece_count;
};

int dl_uring_create(unsigned entries, dl_uring **out) {
    *out = NULL;
    if (entries == 0 || entries > 32768) return -EINVAL;
    dl_uring *r = calloc(1, sizeof *r);
    if (!r) return -ENOMEM;
    int ret = io_uring_queue_init(entries, &r->ring, 0);
    if (ret < 0) {
        free(r);
        return ret;
    }
    r->capacity = entries;
    if (dl_stash_init(&r->stash, entries) != 0) {
        io_uring_queue_exit(&r->ring);
        free(r);
        return -ENOMEM;
    }
    *out = r;
    return 0;
}

unsigned dl_uring_outstanding(const dl_uring *r) {
    return r->prepared + r->in_kernel + r->stash.count;
}

// Moves every CQE the kernel has posted into the stash; with `wait` set and
// nothing posted yet, first blocks for one. Returns how many moved, or -errno.
static int reap_into_stash(dl_uring *r, int wait) {
    int moved = 0;
    for (;;) {
        struct io_uring_cqe *cqe = NULL;
        int ret = io_uring_peek_cqe(&r->ring, &cqe);
        if (ret == -EAGAIN) {
            if (moved > 0 || !wait || r->in_kernel == 0) return moved;
            ret = io_uring_wait_cqe(&r->ring, &cqe);
            if (ret == -EINTR) continue;
        }
        if (ret < 0) return moved > 0 ? moved : ret;
        dl_stash_push(&r->stash, cqe->user_data, cqe->res);
        io_uring_cqe_seen(&r->ring, cqe);
        r->in_kernel--;
        moved++;
    }
}

// Takes back the SQEs the kernel has not consumed and completes each with
// `error`. Safe because the ring has no SQPOLL thread: the kernel reads the SQ
// tail only inside io_uring_enter, which this thread is not in. liburing keeps
// sq->array as the identity map, so position p uses sqes[p & mask].
static void withdraw_unsubmitted(dl_uring *r, int error) {
    struct io_uring_sq *sq = &r->ring.sq;
    unsigned head = *sq->khead;
    for (unsigned position = head; position != sq->sqe_tail; position++) {
        struct io_uring_sqe *sqe = &sq->sqes[position & sq->ring_mask];
        dl_stash_push(&r->stash, sqe->user_data, error);
    }
    io_uring_smp_store_release(sq->ktail, head);
    sq->sqe_head = head;
    sq->sqe_tail = head;
    r->prepared = 0;
}

int dl_uring_submit(dl_uring *r) {
    int attempts = 0;
    while (r->prepared > 0) {
        int ret = io_uring_submit(&r->ring);
        if (ret > 0) {
            unsigned taken = (unsigned)ret > r->prepared ? r->prepared : (unsigned)ret;
            r->prepared -= taken;
            r->in_kernel += taken;
            attempts = 0;
            continue;
        }
        if (ret == -EINTR) continue;
        if (ret == 0) ret = -EAGAIN;
        if ((ret == -EAGAIN || ret == -EBUSY) && ++attempts < submit_attempts) {
            // Make room: completions the kernel holds may be what it waits on.
            int moved = reap_into_stash(r, 1);
            if (moved <= 0) {
                struct timespec pause = {0, 1000000}; // 1 ms
                nanosleep(&pause, NULL);
            }
            continue;
        }
        withdraw_unsubmitted(r, ret);
        return ret;
    }
    return 0;
}

int dl_uring_prep_read(dl_uring *r, int fd, void *buf, unsigned len, uint64_t offset,
                       uint64_t user_data, int fixed) {
    if (dl_uring_outstanding(r) >= r->capacity) return -EBUSY;
    struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);
    if (!sqe) return -EBUSY;
    char *start = buf;
    size_t piece = 0;
    int use_fixed = 0;
    if (fixed && r->piece_count > 0 && start >= r->registered_base &&
        (size_t)(start - r->registered_base) + len <= r->registered_len) {
        size_t from = (size_t)(start - r->registered_base);
        piece = from / piece_max_bytes;
        use_fixed = (from + len - 1) / piece_max_bytes == piece || len == 0;
    }
    if (use_fixed) {
        io_uring_prep_read_fixed(sqe, fd, buf, len, offset, (int)piece);
    } else {
        io_uring_prep_read(sqe, fd, buf, len, offset);
    }
    sqe->user_data = user_data;
    r->prepared++;
    return 0;
}

int dl_uring_register_buffer(dl_uring *r, void *base, size_t len) {
    if (dl_uring_outstanding(r) > 0) return -EBUSY;
    if (len == 0) return -EINVAL;
    size_t count = (len + piece_max_bytes - 1) / piece_max_bytes;
    if (count > piece_max_count) return -E2BIG;
    dl_uring_unregister_buffer(r);
    struct iovec pieces[piece_max_count];
    for (size_t i = 0; i < count; i++) {
        size_t from = i * (size_t)piece_max_bytes;
        pieces[i].iov_base = (char *)base + from;
        pieces[i].iov_len = len - from < piece_max_bytes ? len - from : piece_max_bytes;
    }
    int ret;
    do {
        ret = io_uring_register_buffers(&r->ring, pieces, (unsigned)count);
    } while (ret == -EINTR);
    if (ret < 0) return ret;
    r->registered_base = base;
    r->registered_len = len;
    r->piece_count = (unsigned)count;
    return 0;
}

int dl_uring_unregister_buffer(dl_uring *r) {
    if (r->piece_count == 0) return 0;
    int ret;
    do {
        ret = io_uring_unregister_buffers(&r->ring);
    } while (ret == -EINTR);
    r->registered_base = NULL;
    r->registered_len = 0;
    r->piece_count = 0;
    return ret < 0 ? ret : 0;
}

int dl_uring_wait(dl_uring *r, unsigned min_complete, unsigned max,
                  uint64_t *user_data_out, int32_t *res_out) {
    if (r->prepared > 0) dl_uring_submit(r);
    unsigned available = r->in_kernel + r->stash.count;
    if (min_complete > available) min_complete = available;
    if (min_complete > max) min_complete = max;
    unsigned n = 0;
    while (n < max && r->stash.count > 0) {
        dl_completion c = dl_stash_pop(&r->stash);
        user_data_out[n] = c.user_data;
        res_out[n] = (int32_t)c.result;
        n++;
    }
    while (n < max && r->in_kernel > 0) {
        struct io_uring_cqe *cqe = NULL;
        int ret = io_uring_peek_cqe(&r->ring, &cqe);
        if (ret == -EAGAIN) {
            if (n >= min_complete) break;
            ret = io_uring_wait_cqe(&r->ring, &cqe);
            if (ret == -EINTR) continue;
        }
        if (ret < 0) return n > 0 ? (int)n : ret;
        user_data_out[n] = cqe->user_data;
        res_out[n] = cqe->res;
        io_uring_cqe_seen(&r->ring, cqe);
        r->in_kernel--;
        n++;
    }
    return (int)n;
}

void dl_uring_destroy(dl_uring *r) {
    if (!r) return;
    if (r->prepared > 0) dl_uring_submit(r);
    // Reads in flight still target the caller's memory: wait them out.
    while (r->in_kernel > 0) {
        struct io_uring_cqe *cqe = NULL;
        int ret = io_uring_wait_cqe(&r->ring, &cqe);
        if (ret == -EINTR) continue;
        if (ret < 0) break;
        io_uring_cqe_seen(&r->ring, cqe);
        r->in_kernel--;
    }
    dl_uring_unregister_buffer(r);
    io_uring_queue_exit(&r->ring);
    dl_stash_free(&r->stash);
    free(r);
}
