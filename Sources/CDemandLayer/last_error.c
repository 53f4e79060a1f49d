// The thread-local message behind dl_last_error(). It lives in C because C
// has thread-local storage with no setup and no teardown: a fixed buffer per
// thread, written by dl_error_set on every failure and never freed.
#include "demandlayer.h"
#include "demandlayer_error.h"

#include <string.h>

enum { message_capacity = 4096 };

static _Thread_local char message[message_capacity];

const char *dl_last_error(void) {
    return message;
}

void dl_error_set(const char *text, size_t byte_count) {
    if (text == NULL) byte_count = 0;
    if (byte_count > message_capacity - 1) {
        byte_count = message_capacity - 1;
        // Do not end inside a UTF-8 sequence: back up over continuation bytes.
        while (byte_count > 0 && ((unsigned char)text[byte_count] & 0xC0) == 0x80) byte_count--;
    }
    if (byte_count > 0) memcpy(message, text, byte_count);
    message[byte_count] = '\0';
}
