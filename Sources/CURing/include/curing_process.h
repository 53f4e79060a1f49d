#ifndef CURING_PROCESS_H
#define CURING_PROCESS_H

// Process and thread calls Swift's Glibc module does not export (GNU extensions).

/// Names the calling thread (at most 15 characters are kept), as shown in
/// /proc/self/task/*/comm, top and debuggers. Returns 0 or -errno.
int dl_set_current_thread_name(const char *name);

/// Returns freed heap memory to the kernel (glibc malloc_trim(0)), so a
/// following peak-RSS measurement starts from what is really in use.
void dl_release_free_heap(void);

/// The kernel's id for the calling thread (gettid), as listed in /proc/self/task.
int dl_current_thread_id(void);

#endif
