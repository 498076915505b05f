/* Helpers shared by the annotation fuzz targets. */
#ifndef ICTAL_FUZZ_UTIL_H
#define ICTAL_FUZZ_UTIL_H

#include <stddef.h>
#include <string.h>

/* Copies the input's first line into record (size bytes) when it fits and holds no NUL,
 * so that the fuzzer can name the record whose block it reaches; otherwise record keeps
 * its default. */
static inline void fuzz_record_from_first_line(const char *text, size_t n, char *record,
                                               size_t size)
{
    const char *nl = memchr(text, '\n', n);
    size_t k = nl ? (size_t)(nl - text) : 0;
    if (k > 0 && k < size && memchr(text, '\0', k) == NULL) {
        memcpy(record, text, k);
        record[k] = '\0';
    }
}

#endif
