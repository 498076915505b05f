/*
 * PhysioNet WFDB annotation files in MIT format, as CHB-MIT's *.edf.seizures (see
 * include/ictal/annot.h). The file is a sequence of 16-bit little-endian words: the top
 * 6 bits are a code A, the low 10 bits a number I.
 *   A = 1..49   an annotation of type A, I samples after the previous one
 *   A = 59      SKIP: the next two words are a 32-bit signed interval, high word first,
 *               added to the time (I unused)
 *   A = 60..62  NUM, SUB, CHN: fields of the previous annotation, value in I
 *   A = 63      AUX: I bytes of text follow, padded to an even length
 *   A = 0, I = 0  end of file; A = 0, I != 0 an annotation of type 0 (no meaning here)
 * Codes 32 and 33 mark seizure onset and offset. The first annotation is usually a note
 * whose text is "## time resolution: 256", the number of time steps per second.
 */
#include "ictal/annot.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "textio.h"

#define SEIZURES_MAX_BYTES (16u << 20)

enum { CODE_ONSET = 32, CODE_OFFSET = 33, SKIP = 59, NUM = 60, SUB = 61, CHN = 62, AUX = 63 };

/* The number in "## time resolution: 256", or 0. */
static double time_resolution(const unsigned char *text, size_t n)
{
    static const char key[] = "time resolution:";
    size_t k = sizeof(key) - 1;
    for (size_t i = 0; i + k <= n; i++) {
        if (memcmp(text + i, key, k) != 0)
            continue;
        size_t j = i + k;
        while (j < n && text[j] == ' ')
            j++;
        double v = 0;
        int nd = 0;
        while (j < n && text[j] >= '0' && text[j] <= '9' && nd < 9) {
            v = v * 10 + (text[j] - '0');
            j++;
            nd++;
        }
        if (j < n && text[j] == '.') {
            double scale = 0.1;
            j++;
            while (j < n && text[j] >= '0' && text[j] <= '9' && nd < 18) {
                v += (text[j] - '0') * scale;
                scale /= 10;
                j++;
                nd++;
            }
        }
        return nd > 0 ? v : 0;
    }
    return 0;
}

static int add_seizure(ictal_annotations *a, int64_t on, int64_t off)
{
    ictal_event e;
    memset(&e, 0, sizeof(e));
    /* Times are in steps for now; scaled to seconds once the resolution is known. */
    e.onset_s = (double)on;
    e.duration_s = (double)(off - on);
    strcpy(e.event_type, "sz");
    e.confidence = NAN;
    return ictal_annotations_add(a, &e);
}

int ictal_annot_parse_seizures(const unsigned char *data, size_t len, const char *source,
                               double sample_rate_hz, ictal_annotations *a, ictal_diag *d)
{
    if ((data == NULL && len > 0) || a == NULL || isnan(sample_rate_hz))
        return ictal_diag_error(d, ICTAL_EINVAL, "no data or annotation list");
    if (d != NULL) {
        ictal_diag_clear(d);
        d->source = source;
    }
    size_t first = a->count;
    int64_t t = 0, onset = -1, onset_at = -1;
    double file_rate = 0;
    size_t pos = 0;
    int ended = 0, rc;

#define FAIL(code, ...)                                                                            \
    do {                                                                                           \
        a->count = first;                                                                          \
        return ictal_diag_error(d, code, __VA_ARGS__);                                             \
    } while (0)

    while (pos + 2 <= len) {
        if (d != NULL)
            d->offset = (int64_t)pos;
        unsigned w = (unsigned)data[pos] | ((unsigned)data[pos + 1] << 8);
        unsigned code = w >> 10, num = w & 0x3ff;
        pos += 2;
        if (code == 0 && num == 0) {
            ended = 1;
            break;
        }
        switch (code) {
        case SKIP: {
            if (pos + 4 > len)
                FAIL(ICTAL_ETRUNC, "SKIP word without its 32-bit interval (file ends)");
            uint32_t hi = (uint32_t)data[pos] | ((uint32_t)data[pos + 1] << 8);
            uint32_t lo = (uint32_t)data[pos + 2] | ((uint32_t)data[pos + 3] << 8);
            int32_t skip = (int32_t)((hi << 16) | lo);
            pos += 4;
            t += skip;
            break;
        }
        case NUM:
        case SUB:
        case CHN:
            break;
        case AUX: {
            size_t padded = num + (num & 1u);
            if (pos + padded > len)
                FAIL(ICTAL_ETRUNC, "AUX text of %u bytes runs past the end of the file", num);
            double r = time_resolution(data + pos, num);
            if (r > 0 && file_rate == 0)
                file_rate = r;
            pos += padded;
            break;
        }
        default:
            t += num;
            if (t < 0)
                FAIL(ICTAL_EFORMAT, "annotation time %lld is negative", (long long)t);
            if (code == CODE_ONSET) {
                if (onset >= 0)
                    FAIL(ICTAL_EFORMAT,
                         "seizure onset at step %lld while the seizure that began at step %lld "
                         "has not ended",
                         (long long)t, (long long)onset);
                onset = t;
                onset_at = (int64_t)pos - 2;
            } else if (code == CODE_OFFSET) {
                if (onset < 0)
                    FAIL(ICTAL_EFORMAT, "seizure offset at step %lld without an onset",
                         (long long)t);
                if (t < onset)
                    FAIL(ICTAL_EFORMAT, "seizure offset at step %lld is before its onset at step %lld",
                         (long long)t, (long long)onset);
                if (add_seizure(a, onset, t) != 0)
                    FAIL(ICTAL_ENOMEM, "out of memory");
                onset = -1;
            }
            break;
        }
    }
    if (d != NULL)
        d->offset = (int64_t)pos;
    if (pos < len && !ended)
        FAIL(ICTAL_ETRUNC, "odd trailing byte: the file ends inside a 16-bit word");
    if (onset >= 0) {
        if (d != NULL)
            d->offset = onset_at;
        FAIL(ICTAL_EFORMAT, "seizure onset at step %lld without an offset", (long long)onset);
    }
    if (!ended) {
        rc = ictal_diag_warn(d, "no end-of-file word (0x0000): the file may be cut short");
        if (rc != 0) {
            a->count = first;
            return rc;
        }
    } else if (pos < len) {
        rc = ictal_diag_warn(d, "%zu bytes after the end-of-file word", len - pos);
        if (rc != 0) {
            a->count = first;
            return rc;
        }
    }

    double rate = sample_rate_hz;
    if (file_rate > 0 && rate > 0 && fabs(file_rate - rate) > 1e-9 * rate) {
        rc = ictal_diag_warn(d, "the file's time resolution is %g per second, not %g: using %g",
                             file_rate, rate, file_rate);
        if (rc != 0) {
            a->count = first;
            return rc;
        }
        rate = file_rate;
    } else if (rate <= 0) {
        rate = file_rate;
    }
    if (!(rate > 0) || !isfinite(rate))
        FAIL(ICTAL_EINVAL, "no sample rate given and no 'time resolution' note in the file");
    for (size_t i = first; i < a->count; i++) {
        a->events[i].onset_s /= rate;
        a->events[i].duration_s /= rate;
    }
#undef FAIL
    ictal_annotations_sort(a);
    return 0;
}

int ictal_annot_read_seizures(const char *path, double sample_rate_hz, ictal_annotations *a,
                              ictal_diag *d)
{
    if (path == NULL || a == NULL)
        return ictal_diag_error(d, ICTAL_EINVAL, "no path or annotation list");
    char *data;
    size_t len;
    int rc = ictal__read_file(path, SEIZURES_MAX_BYTES, &data, &len, d);
    if (rc != 0)
        return rc;
    rc = ictal_annot_parse_seizures((const unsigned char *)data, len, path, sample_rate_hz, a, d);
    free(data);
    return rc;
}
