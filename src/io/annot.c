/* The in-memory annotation list shared by every format (see include/ictal/annot.h). */
#include "ictal/annot.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void ictal_annotations_init(ictal_annotations *a)
{
    memset(a, 0, sizeof(*a));
    a->recording_duration_s = NAN;
}

void ictal_annotations_free(ictal_annotations *a)
{
    free(a->events);
    ictal_annotations_init(a);
}

int ictal_annotations_add(ictal_annotations *a, const ictal_event *e)
{
    if (a->count == a->capacity) {
        size_t cap = a->capacity ? a->capacity * 2 : 16;
        ictal_event *grown = realloc(a->events, cap * sizeof(*grown));
        if (grown == NULL)
            return ICTAL_ENOMEM;
        a->events = grown;
        a->capacity = cap;
    }
    a->events[a->count++] = *e;
    return 0;
}

int ictal_event_is_seizure(const ictal_event *e)
{
    return strncmp(e->event_type, "sz", 2) == 0;
}

/* Insertion sort: stable, and annotation lists are short and nearly sorted. */
void ictal_annotations_sort(ictal_annotations *a)
{
    for (size_t i = 1; i < a->count; i++) {
        ictal_event key = a->events[i];
        size_t j = i;
        while (j > 0 && (a->events[j - 1].onset_s > key.onset_s ||
                         (a->events[j - 1].onset_s == key.onset_s &&
                          a->events[j - 1].duration_s > key.duration_s))) {
            a->events[j] = a->events[j - 1];
            j--;
        }
        a->events[j] = key;
    }
}
