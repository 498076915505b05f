/*
 * A session's recording as EDF+, written with ictal's streaming EDF writer (ictal/edf.h)
 * as frames are stored: live by the server, and from a frame log (seslog.h) when a
 * file has to be rebuilt.
 *
 * Layout. One EDF record per device frame when frames keep the first frame's length
 * (the usual case), so that a gap in device time, an EDF+D discontinuity, always falls
 * on a record boundary and nothing is padded; a frame of another length fills records
 * across frame boundaries, and a partial record before a gap is padded with zeros and
 * marked "padding (no data)". When the first frame's duration does not fit the header's
 * 8 characters, records last 1 s. int16 sessions keep their digital values exactly
 * (physical range from the first frame's scale); float32 sessions are quantised to
 * 16 bits over +-3276.7 µV. A gap gets the annotation "gap: no data for X s".
 *
 * Crash safety. The file is written with plain writes and never synced: the frame log
 * is the durable source. The header says -1 records until a clean close patches the
 * count, so a file still saying -1 when no recorder holds it was cut short by a crash
 * and is rebuilt from the log (ictal__recorder_rebuild).
 */
#ifndef ICTAL_SERVER_RECORDER_H
#define ICTAL_SERVER_RECORDER_H

#include <stdint.h>

#include <jansson.h>

#include "ictal/error.h"
#include "ictal/wire.h"

typedef struct ictal__recorder ictal__recorder;

/* What the EDF header needs to know about the session. */
typedef struct ictal__recorder_session {
    int64_t session_id;
    const char *device_id;
    json_t *labels;          /* array of channel labels (borrowed) */
    double rate_hz;
    int64_t start_time_us;   /* device time of the session's first sample */
} ictal__recorder_session;

/* Creates (truncating) path; the record length comes from first, the first frame,
 * which is not written (pass it to ictal__recorder_frame). */
int ictal__recorder_open(ictal__recorder **out, const char *path, const ictal__recorder_session *s,
                         const ictal_wire_frame *first, ictal_diag *d);

/* Appends one frame (in seq order); whole records are written as they fill, one write
 * each. uv: the frame decoded to µV (ictal_wire_decode_uv), n_samples x n_channels. */
int ictal__recorder_frame(ictal__recorder *r, const ictal_wire_frame *f, const float *uv,
                          ictal_diag *d);

/* Queues an annotation (seconds from the session start) for the next record. */
int ictal__recorder_annotate(ictal__recorder *r, double onset_s, double duration_s,
                             const char *text, ictal_diag *d);

/* Pads and writes a partial record, patches the record count, closes. NULL is a no-op. */
int ictal__recorder_close(ictal__recorder *r, ictal_diag *d);

/* The annotation texts of alarms, shared by the live server and rebuilds. */
void ictal__recorder_alarm_text(char *buf, size_t size, int64_t alarm_id, int raised,
                                double alarm_s, double peak_prob);

/*
 * Rebuilds path from the frame log: every frame, gap notes, and the alarms (array of
 * alarm rows with id, onset_s, alarm_s, offset_s, peak_prob; may be NULL) annotated as
 * the live server does. ICTAL_ENOENT when the log holds no frame.
 */
int ictal__recorder_rebuild(const char *log_path, const char *path, const ictal__recorder_session *s,
                            json_t *alarms, ictal_diag *d);

/*
 * Reads a recording for download: the bytes of its complete records with the header's
 * record count set to match (a live file says -1 until closed). *out is malloc'ed.
 * ICTAL_EFORMAT when the file is not an EDF the server wrote.
 */
int ictal__recorder_snapshot(const char *path, unsigned char **out, size_t *size, ictal_diag *d);

/* 1 when path exists and was closed cleanly (its header's record count is not -1). */
int ictal__recorder_is_closed(const char *path);

#endif
