/*
 * The session hop log: the detector's output for every hop of a session (end of the
 * hop in seconds from the session start, smoothed probability, burden), one file per
 * session next to its frame log (DATA/sessions/<id>.hops), so that a past session can
 * be reviewed as a timeline.
 *
 * Layout: a sequence of 12-byte entries, three little-endian IEEE-754 f32 (t_s, prob,
 * burden); prob and burden are NaN without a model. A trailing partial entry (the
 * process died inside a write) is ignored.
 *
 * Durability. Like the EDF+ recording it is derived from the frame log (seslog.h):
 * written with one plain write per hop as frames are analysed, handed to the syncer
 * with the log, and truncated and rewritten when a session resumes after a restart
 * (the detector is deterministic, so the replay of the log yields the same hops, with
 * none missing or duplicated).
 */
#ifndef ICTAL_SERVER_HOPLOG_H
#define ICTAL_SERVER_HOPLOG_H

#include <stddef.h>

#include <jansson.h>

#include "ictal/error.h"

#define ICTAL__HOPLOG_ENTRY 12

/* Encodes one entry. */
void ictal__hoplog_encode(unsigned char out[ICTAL__HOPLOG_ENTRY], float t_s, float prob,
                          float burden);

/*
 * Reads path's entries with from_s <= t_s <= to_s and decimates them to at most
 * max_points (>= 1): the entries are split into max_points runs of equal count and each
 * run is represented by its entry of highest probability, so that a short peak stays
 * visible. *hops gets the number of entries in the range before decimation. Returns an
 * array of [t_s, prob, burden] (null for NaN), or NULL with ICTAL_ENOENT / ICTAL_EIO
 * in *rc.
 */
json_t *ictal__hoplog_json(const char *path, double from_s, double to_s, size_t max_points,
                           size_t *hops, int *rc);

#endif
