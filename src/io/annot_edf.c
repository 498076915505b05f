/*
 * EDF+ / BDF+ annotations as an ictal_annotations list (see include/ictal/annot.h).
 *
 * Texts that name a seizure become event type "sz" (SzCORE types such as "sz_foc_ia"
 * are kept as they are); other texts are kept, truncated to the event type's size on a
 * UTF-8 boundary. Seizures marked by two zero-length annotations ("Seizure start" ...
 * "Seizure end") become one event from the first to the second.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ictal/annot.h"
#include "ictal/edf.h"

/* Case-insensitive search for word in s. */
static const char *find_ci(const char *s, const char *word)
{
    size_t n = strlen(word);
    for (; *s; s++) {
        size_t i = 0;
        while (i < n && s[i] && tolower((unsigned char)s[i]) == word[i])
            i++;
        if (i == n)
            return s;
    }
    return NULL;
}

static int is_word_start(const char *s, const char *at)
{
    return at == s || !isalpha((unsigned char)at[-1]);
}

/* Non-zero when the text names a seizure (English, German, French; "sz" as a word). */
static int names_seizure(const char *text)
{
    static const char *const words[] = {"seizure", "anfall", "crise", "convulsion", "ictal"};
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        const char *at = find_ci(text, words[i]);
        while (at != NULL) {
            if (is_word_start(text, at))
                return 1; /* "preictal", "interictal", "postictal" do not start a word */
            at = find_ci(at + 1, words[i]);
        }
    }
    const char *at = find_ci(text, "sz");
    while (at != NULL) {
        if (is_word_start(text, at) && !isalpha((unsigned char)at[2]))
            return 1;
        at = find_ci(at + 1, "sz");
    }
    return 0;
}

static int marks_end(const char *text)
{
    return find_ci(text, "end") || find_ci(text, "offset") || find_ci(text, "stop");
}

static int marks_start(const char *text)
{
    return find_ci(text, "start") || find_ci(text, "onset") || find_ci(text, "begin");
}

/* Copies at most size-1 bytes of s without splitting a UTF-8 sequence. */
static void copy_utf8(char *out, size_t size, const char *s)
{
    size_t n = strlen(s);
    if (n >= size) {
        n = size - 1;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(out, s, n);
    out[n] = '\0';
}

int ictal_annot_read_edf(const char *path, ictal_annotations *a, ictal_diag *d)
{
    ictal_edf *r = NULL;
    int rc = ictal_edf_open(&r, path, NULL, d);
    if (rc)
        return rc;
    rc = ictal_annot_from_edf(ictal_edf_get_info(r), a, d);
    ictal_edf_close(r);
    return rc;
}

int ictal_annot_from_edf(const ictal_edf_info *in, ictal_annotations *a, ictal_diag *d)
{
    int rc = 0;
    a->recording_duration_s = in->duration_s;
    copy_utf8(a->date_time, sizeof(a->date_time), in->start_iso);
    ptrdiff_t open_start = -1; /* an unpaired "seizure start" event */
    for (size_t i = 0; i < in->n_annotations && rc == 0; i++) {
        const ictal_edf_annotation *x = &in->annotations[i];
        ictal_event e;
        memset(&e, 0, sizeof(e));
        e.onset_s = x->onset_s;
        e.duration_s = x->duration_s > 0 ? x->duration_s : 0;
        e.confidence = NAN;
        int sz = names_seizure(x->text);
        if (sz && e.duration_s == 0 && marks_end(x->text) && open_start >= 0) {
            ictal_event *s = &a->events[open_start];
            s->duration_s = x->onset_s - s->onset_s;
            open_start = -1;
            continue;
        }
        if (sz && strncmp(x->text, "sz", 2) != 0)
            strcpy(e.event_type, "sz");
        else
            copy_utf8(e.event_type, sizeof(e.event_type), x->text);
        rc = ictal_annotations_add(a, &e);
        if (rc)
            rc = ictal_diag_error(d, rc, "out of memory for annotations");
        else if (sz && e.duration_s == 0 && marks_start(x->text))
            open_start = (ptrdiff_t)a->count - 1;
    }
    return rc;
}
