/*
 * A session's recording as EDF+, made from its frame log (seslog.h) with ictal's
 * streaming EDF writer (ictal/edf.h). One EDF record per device frame when every frame
 * has the same length (so that a gap in device time, an EDF+D discontinuity, always
 * falls on a record boundary and nothing is padded); otherwise 1 s records, with a
 * partial record before a gap padded with zeros and marked by an annotation.
 * Alarms become annotations ("seizure alarm N", onset and duration).
 * int16 sessions keep their digital values exactly (physical range from the first
 * frame's scale); float32 sessions are quantised to 16 bits over +-3276.7 µV.
 */
#ifndef ICTAL_SERVER_EXPORT_H
#define ICTAL_SERVER_EXPORT_H

#include <jansson.h>

#include "ictal/error.h"

/* session: the row of /api/sessions/{id}; alarms: its alarms (array, may be NULL). */
int ictal__export_edf(const char *log_path, const char *out_path, json_t *session, json_t *alarms,
                      ictal_diag *d);

#endif
