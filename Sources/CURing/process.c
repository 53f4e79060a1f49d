#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
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
