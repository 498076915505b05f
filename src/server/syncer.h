/*
 * The server's one helper thread: it fdatasync()s session logs so that the event loop
 * never waits on the disk (1,000 streams synced every second would stall the loop for
 * hundreds of milliseconds, and alarms with it), and runs SQLite's WAL checkpoints.
 * The loop hands over a dup() of a log's descriptor with the seq written so far; the
 * thread syncs, closes it, and reports (session, seq) back: the loop then acks that
 * seq. So an acknowledged frame is on stable storage and survives a power loss.
 */
#ifndef ICTAL_SERVER_SYNCER_H
#define ICTAL_SERVER_SYNCER_H

typedef struct ictal__syncer ictal__syncer;

/*
 * db_path (may be NULL): a SQLite database in WAL mode whose checkpoints the thread
 * runs too (PASSIVE, every second, on its own connection), so that the loop's
 * connection can run with wal_autocheckpoint=0 and never fsync the database itself.
 */
#include <stdint.h>

/* Called on the syncer thread after syncs complete, to wake the loop (which then calls
 * ictal__syncer_done). */
typedef void (*ictal__syncer_wake_fn)(void *user);

int ictal__syncer_create(ictal__syncer **out, const char *db_path, ictal__syncer_wake_fn wake,
                         void *user);
/* Queues fd (a dup the syncer then owns and closes) holding session_id's log up to seq.
 * Never blocks on the disk. */
void ictal__syncer_push(ictal__syncer *s, int fd, int64_t session_id, int64_t seq);
/* Takes up to max completed syncs: returns the count. */
int ictal__syncer_done(ictal__syncer *s, int64_t *session_id, int64_t *seq, int max);
/* Syncs what is queued, stops the thread, frees s. */
void ictal__syncer_destroy(ictal__syncer *s);

#endif
