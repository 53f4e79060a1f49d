// demandlayer_error.h: how the Swift side of the C API records a failure for
// dl_last_error(). Not installed: callers of libdemandlayer only read errors.
#ifndef DEMANDLAYER_ERROR_H
#define DEMANDLAYER_ERROR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Copies `byte_count` bytes of `message` (not NUL-terminated) into the
/// calling thread's error buffer, truncated to fit, and NUL-terminates it.
void dl_error_set(const char *message, size_t byte_count);

#ifdef __cplusplus
}
#endif

#endif
