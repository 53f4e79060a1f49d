// npy.h: just enough of NumPy's .npy format (version 1.0, little-endian
// float32, C order) for the examples to exchange tensors with
// `demandlayer run` and numpy. Header-only; every function returns 0 on
// success and -1 with a message on stderr on failure.
#ifndef DL_EXAMPLE_NPY_H
#define DL_EXAMPLE_NPY_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Writes `count` floats with shape `shape[rank]` to `path`.
static int npy_write(const char *path, const float *data, const int64_t *shape, size_t rank) {
    char header[256];
    int length = snprintf(header, sizeof header, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
    size_t count = 1;
    for (size_t axis = 0; axis < rank; axis++) {
        length += snprintf(header + length, sizeof header - (size_t)length, "%lld,%s", (long long)shape[axis],
                           axis + 1 < rank ? " " : "");
        count *= (size_t)shape[axis];
    }
    length += snprintf(header + length, sizeof header - (size_t)length, "), }");
    // Magic (6) + version (2) + header length (2) + header, padded with spaces
    // and a newline to a multiple of 64 bytes.
    size_t total = 10 + (size_t)length + 1;
    size_t padded = (total + 63) / 64 * 64;
    FILE *file = fopen(path, "wb");
    if (!file) { perror(path); return -1; }
    uint16_t header_bytes = (uint16_t)(padded - 10);
    unsigned char preamble[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                                  (unsigned char)(header_bytes & 0xFF), (unsigned char)(header_bytes >> 8)};
    fwrite(preamble, 1, sizeof preamble, file);
    fwrite(header, 1, (size_t)length, file);
    for (size_t pad = total; pad < padded; pad++) fputc(' ', file);
    fputc('\n', file);
    fwrite(data, sizeof(float), count, file);
    if (fclose(file) != 0) { perror(path); return -1; }
    return 0;
}

// Reads a float32 .npy from `path`: its shape into `shape` (at most
// `max_rank` dimensions, count in `*rank`) and its values into a malloc'd
// array in `*data_out` (`*count_out` floats; free it).
static int npy_read(const char *path, float **data_out, size_t *count_out, int64_t *shape, size_t max_rank, size_t *rank) {
    FILE *file = fopen(path, "rb");
    if (!file) { perror(path); return -1; }
    unsigned char preamble[10];
    char header[4096];
    if (fread(preamble, 1, 10, file) != 10 || memcmp(preamble, "\x93NUMPY", 6) != 0 || preamble[6] != 1) {
        fprintf(stderr, "%s: not a version 1 .npy file\n", path);
        fclose(file);
        return -1;
    }
    size_t header_bytes = (size_t)preamble[8] | (size_t)preamble[9] << 8;
    if (header_bytes >= sizeof header || fread(header, 1, header_bytes, file) != header_bytes) {
        fprintf(stderr, "%s: .npy header is truncated or too long\n", path);
        fclose(file);
        return -1;
    }
    header[header_bytes] = '\0';
    if (!strstr(header, "'descr': '<f4'") || !strstr(header, "'fortran_order': False")) {
        fprintf(stderr, "%s: only little-endian float32 in C order is read (header: %s)\n", path, header);
        fclose(file);
        return -1;
    }
    const char *cursor = strstr(header, "'shape': (");
    if (!cursor) { fprintf(stderr, "%s: .npy header has no shape\n", path); fclose(file); return -1; }
    cursor += strlen("'shape': (");
    size_t count = 1;
    *rank = 0;
    while (*cursor != ')') {
        char *end;
        long long dimension = strtoll(cursor, &end, 10);
        if (end == cursor || dimension < 0 || *rank == max_rank) {
            fprintf(stderr, "%s: cannot read the shape in the .npy header\n", path);
            fclose(file);
            return -1;
        }
        shape[(*rank)++] = dimension;
        count *= (size_t)dimension;
        cursor = end;
        while (*cursor == ',' || *cursor == ' ') cursor++;
    }
    float *data = malloc(count * sizeof(float) + 1);
    if (!data || fread(data, sizeof(float), count, file) != count) {
        fprintf(stderr, "%s: expected %zu floats of data\n", path, count);
        free(data);
        fclose(file);
        return -1;
    }
    fclose(file);
    *data_out = data;
    *count_out = count;
    return 0;
}

#endif
