/*
 * The session frame log: every accepted device frame, appended as it arrives, one
 * file per session (DATA/sessions/<id>.frames). It is what the server acknowledges:
 * a frame is acked only once it is written here, and on restart the log (not SQLite)
 * says which sequence number comes next, so a device resumes with no loss and no
 * duplicate. The EDF+ recording is produced from it.
 *
 * Layout: a sequence of entries, each a little-endian u32 length followed by that many
 * bytes of one wire frame (ictal/wire.h) exactly as received. A torn last entry (the
 * process died inside a write) is cut off when the log is reopened.
 */
#ifndef ICTAL_SERVER_SESLOG_H
#define ICTAL_SERVER_SESLOG_H

#include <stddef.h>
#include <stdint.h>

#include "ictal/error.h"
#include "ictal/wire.h"

typedef struct ictal__seslog {
    int fd;
    int64_t last_seq;      /* -1 when empty */
    uint64_t frames;       /* entries in the log */
    uint64_t samples;      /* samples per channel, summed over entries */
    int64_t last_time_us;  /* device time of the sample after the last one, or INT64_MIN */
    int64_t bytes;
    int dirty;             /* written since the last sync */
} ictal__seslog;

/* Called for each frame of a log, in order; a non-zero return stops the walk. */
typedef int (*ictal__seslog_fn)(void *user, const ictal_wire_frame *f);

/*
 * Opens (creating) a log, walks it to recover last_seq and the counts, and truncates a
 * torn tail. Each complete entry must parse and follow the previous one's seq + 1;
 * otherwise ICTAL_EFORMAT with the byte offset in d.
 */
int ictal__seslog_open(ictal__seslog *log, const char *path, double rate_hz, ictal_diag *d);

/* Appends one already-validated frame (its seq must be last_seq + 1). */
int ictal__seslog_append(ictal__seslog *log, const void *frame, size_t size,
                         const ictal_wire_frame *parsed, double rate_hz);

/* fdatasync when anything was written since the last call. */
int ictal__seslog_sync(ictal__seslog *log);
void ictal__seslog_close(ictal__seslog *log);

/* Walks a log file read-only (exports, tests). Stops at a torn tail silently. */
int ictal__seslog_walk(const char *path, ictal__seslog_fn fn, void *user, ictal_diag *d);

#endif
