#define _GNU_SOURCE
#include <malloc.h>
#include <stdint.h>
#include <sys/mman.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "curing_process.h"

int dl_set_current_thread_name(const char *name) {
    char truncated[16];
    strncpy(truncated, name, sizeof truncated - 1);
    truncated[sizeof truncated - 1] = '\0';
    return -pthread_setname_np(pthread_self(), truncated);
}

void dl_release_free_heap(void) {
    malloc_trim(0);
}

int dl_current_thread_id(void) {
    return (int)syscall(SYS_gettid);
}

// Anonymous memory whose 2 MiB-aligned part the kernel is asked to back with
// transparent huge pages (see curing_process.h for why).
enum { HUGE_PAGE_BYTES = 2 << 20, SMALL_PAGE_BYTES = 4096 };

void *dl_map_buffer(size_t byte_count, size_t *mapped_bytes) {
    size_t length = (byte_count + SMALL_PAGE_BYTES - 1) / SMALL_PAGE_BYTES * SMALL_PAGE_BYTES;
    if (length == 0) length = SMALL_PAGE_BYTES;
    size_t reserved = length + HUGE_PAGE_BYTES;
    if (reserved < length) return NULL;
    char *raw = mmap(NULL, reserved, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) return NULL;
    // Keep the 2 MiB-aligned `length` bytes inside the reservation, unmap the rest.
    char *start = (char *)(((uintptr_t)raw + HUGE_PAGE_BYTES - 1) & ~(uintptr_t)(HUGE_PAGE_BYTES - 1));
    if (start > raw) munmap(raw, (size_t)(start - raw));
    char *end = start + length;
    if (raw + reserved > end) munmap(end, (size_t)(raw + reserved - end));
    size_t huge = length / HUGE_PAGE_BYTES * HUGE_PAGE_BYTES;
    if (huge > 0) (void)madvise(start, huge, MADV_HUGEPAGE);   // advice only: without THP, small pages
    *mapped_bytes = length;
    return start;
}

void dl_unmap_buffer(void *address, size_t mapped_bytes) {
    munmap(address, mapped_bytes);
}

int dl_pin_current_thread(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return -pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

int dl_allowed_cpus(int *cpus, int capacity) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0) return 0;
    int count = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE && count < capacity; cpu++) {
        if (CPU_ISSET(cpu, &set)) cpus[count++] = cpu;
    }
    return count;
}
