// stash.h: a fixed-capacity FIFO of completions, shared by uring.c and aio.c.
//
// Completions land here instead of going straight to the caller when the
// engine must reap while submitting (to make room after -EAGAIN or -EBUSY),
// or when it completes a read itself because the kernel refused to take it.
// `*_wait` drains the stash before asking the kernel. The capacity equals the
// engine's read limit, and every read is in exactly one place (prepared, in
// the kernel, or stashed), so a push never finds the stash full.
#ifndef CURING_STASH_H
#define CURING_STASH_H

#include <stdint.h>
#include <stdlib.h>

typedef struct {
    uint64_t user_data;
    int64_t result;
} dl_completion;

typedef struct {
    dl_completion *items;
    unsigned capacity;
    unsigned head;   // index of the oldest completion
    unsigned count;
} dl_stash;

static inline int dl_stash_init(dl_stash *stash, unsigned capacity) {
    stash->items = calloc(capacity, sizeof(dl_completion));
    stash->capacity = capacity;
    stash->head = 0;
    stash->count = 0;
    return stash->items ? 0 : -1;
}

static inline void dl_stash_free(dl_stash *stash) {
    free(stash->items);
    stash->items = NULL;
}

static inline void dl_stash_push(dl_stash *stash, uint64_t user_data, int64_t result) {
    // Cannot overflow: see the header comment. A full stash would be a bug in
    // the engine's accounting, so fail loudly rather than drop a completion.
    if (stash->count == stash->capacity) abort();
    dl_completion *slot = &stash->items[(stash->head + stash->count) % stash->capacity];
    slot->user_data = user_data;
    slot->result = result;
    stash->count++;
}

static inline dl_completion dl_stash_pop(dl_stash *stash) {
    dl_completion completion = stash->items[stash->head];
    stash->head = (stash->head + 1) % stash->capacity;
    stash->count--;
    return completion;
}

#endif // CURING_STASH_H
