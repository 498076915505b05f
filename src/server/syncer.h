/*
 * The server's one helper thread: it fdatasync()s session logs so that the event loop
 * never waits on the disk (1,000 streams synced every second would stall the loop for
 * hundreds of milliseconds, and alarms with it). The loop hands over a dup() of a log's
 * descriptor; the thread syncs and closes it. Acknowledged frames are written (write())
 * before the ack, so they survive a crash of the server process at once, and an OS
 * crash or power loss once synced, within about a second.
 */
#ifndef ICTAL_SERVER_SYNCER_H
#define ICTAL_SERVER_SYNCER_H

typedef struct ictal__syncer ictal__syncer;

/*
 * db_path (may be NULL): a SQLite database in WAL mode whose checkpoints the thread
 * runs too (PASSIVE, every second, on its own connection), so that the loop's
 * connection can run with wal_autocheckpoint=0 and never fsync the database itself.
 */
int ictal__syncer_create(ictal__syncer **out, const char *db_path);
/* Queues fd (a dup the syncer then owns and closes). Never blocks on the disk. */
void ictal__syncer_push(ictal__syncer *s, int fd);
/* Syncs what is queued, stops the thread, frees s. */
void ictal__syncer_destroy(ictal__syncer *s);

#endif
