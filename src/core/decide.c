/* Alarm decisions: hysteresis, minimum duration, merge gap, refractory period. Causal:
 * each hop is decided from the past only. */
#include "decide.h"

#include <string.h>

void ictal__decider_init(ictal__decider *d, const ictal_postproc *post, float hop_s)
{
    memset(d, 0, sizeof *d);
    d->post = *post;
    d->hop_s = hop_s;
    d->next_id = 1;
    ictal__decider_clear(d);
}

void ictal__decider_clear(ictal__decider *d)
{
    d->state = ICTAL_STATE_IDLE;
    d->cand_onset_s = d->last_above_s = d->ended_s = 0.0;
    memset(&d->cur, 0, sizeof d->cur);
}

static void end_event(ictal__decider *d, ictal_alarm *ev)
{
    d->cur.kind = ICTAL_ALARM_END;
    d->cur.offset_s = d->last_above_s;
    *ev = d->cur;
    d->ended_s = d->last_above_s;
}

int ictal__decider_close(ictal__decider *d, ictal_alarm *ev)
{
    if (d->state != ICTAL_STATE_ALARM && d->state != ICTAL_STATE_ENDING)
        return 0;
    end_event(d, ev);
    d->state = ICTAL_STATE_IDLE;
    return 1;
}

int ictal__decider_step(ictal__decider *d, double t, float ps, uint32_t fired, ictal_alarm *ev)
{
    const ictal_postproc *p = &d->post;
    switch (d->state) {
    case ICTAL_STATE_REFRACTORY:
        if (t - d->ended_s < p->refractory_s)
            return 0;
        d->state = ICTAL_STATE_IDLE;
        /* fall through */
    case ICTAL_STATE_IDLE:
        if (!(ps >= p->threshold_on))
            return 0;
        /* A candidate starts at the beginning of the newest hop. */
        d->state = ICTAL_STATE_CANDIDATE;
        d->cand_onset_s = t - d->hop_s;
        memset(&d->cur, 0, sizeof d->cur);
        d->cur.onset_s = d->cand_onset_s;
        d->cur.peak_prob = ps;
        /* fall through */
    case ICTAL_STATE_CANDIDATE:
        if (!(ps >= p->threshold_off)) {
            d->state = ICTAL_STATE_IDLE;
            return 0;
        }
        d->last_above_s = t;
        d->cur.channels |= fired;
        if (ps > d->cur.peak_prob)
            d->cur.peak_prob = ps;
        if (t - d->cand_onset_s + 1e-9 < p->min_duration_s)
            return 0;
        d->state = ICTAL_STATE_ALARM;
        d->cur.kind = ICTAL_ALARM_RAISED;
        d->cur.id = d->next_id++;
        d->cur.alarm_s = t;
        d->cur.offset_s = -1.0;
        *ev = d->cur;
        return 1;
    case ICTAL_STATE_ALARM:
    case ICTAL_STATE_ENDING:
        if (ps > d->cur.peak_prob)
            d->cur.peak_prob = ps;
        /* Hysteresis: an alarm holds down to threshold_off; once ending, it takes
         * threshold_on again to continue (merge) the event. */
        if (d->state == ICTAL_STATE_ALARM ? ps >= p->threshold_off : ps >= p->threshold_on) {
            d->state = ICTAL_STATE_ALARM;
            d->last_above_s = t;
            d->cur.channels |= fired;
            return 0;
        }
        d->state = ICTAL_STATE_ENDING;
        if (t - d->last_above_s + 1e-9 < p->merge_gap_s)
            return 0;
        end_event(d, ev);
        d->state = p->refractory_s > 0.0f ? ICTAL_STATE_REFRACTORY : ICTAL_STATE_IDLE;
        return 1;
    default:
        return 0;
    }
}
