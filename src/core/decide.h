/* Internal: the alarm decisions of libictal (see ictal.h, "Decisions"), kept apart so
 * that tests can drive them with crafted probability sequences. */
#ifndef ICTAL_CORE_DECIDE_H
#define ICTAL_CORE_DECIDE_H

#include "ictal/ictal.h"

typedef struct ictal__decider {
    ictal_postproc post;
    float hop_s;
    int state; /* ICTAL_STATE_IDLE, CANDIDATE, ALARM, ENDING, REFRACTORY */
    double cand_onset_s, last_above_s, ended_s;
    ictal_alarm cur;  /* the event being built */
    uint32_t next_id; /* id of the next event */
} ictal__decider;

void ictal__decider_init(ictal__decider *d, const ictal_postproc *post, float hop_s);

/* Clears the state (not the id counter). */
void ictal__decider_clear(ictal__decider *d);

/*
 * One hop at time t (end of the window) with smoothed probability ps and the channels
 * that fired. Returns 1 and fills *ev when the hop raises an alarm or ends an event
 * (at most one per hop), else 0.
 */
int ictal__decider_step(ictal__decider *d, double t, float ps, uint32_t fired, ictal_alarm *ev);

/* Ends an open event (for a reset or the end of a recording): 1 and *ev, or 0. */
int ictal__decider_close(ictal__decider *d, ictal_alarm *ev);

#endif
