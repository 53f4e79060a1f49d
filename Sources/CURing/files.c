// files.c: open flags, fadvise and fstatfs, which Swift's Glibc module cannot
// see (they need _GNU_SOURCE or Linux headers).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/vfs.h>

#include "curing.h"

int dl_o_direct_flag(void) {
    return O_DIRECT;
}

// posix_fadvise returns the error number itself (it does not set errno).
int dl_fadvise_dontneed(int fd) {
    return -posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
}

int dl_fadvise_sequential(int fd) {
    return -posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
}

int dl_filesystem_type(int fd, int64_t *type_out) {
    struct statfs info;
    int ret;
    do {
        ret = fstatfs(fd, &info);
    } while (ret != 0 && errno == EINTR);
    if (ret != 0) return -errno;
    *type_out = (int64_t)info.f_type;
    return 0;
}

