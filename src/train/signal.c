/*
 * Running libictal over a recording held in memory: features-only mode to build the
 * feature table (so training sees exactly what detection computes), and detection
 * mode to collect hops and events for evaluation.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ictal/ictal.h"
#include "ictal/train.h"

const uint64_t ICTAL_TRAIN_ABSOLUTE_FEATURES =
    (1u << ICTAL_F_LOG_LINE_LENGTH) | (1u << ICTAL_F_LOG_VARIANCE) | (1u << ICTAL_F_LOG_DELTA) |
    (1u << ICTAL_F_LOG_THETA) | (1u << ICTAL_F_LOG_ALPHA) | (1u << ICTAL_F_LOG_BETA) |
    (1u << ICTAL_F_LOG_GAMMA) | (1u << ICTAL_F_LOG_NONLINEAR_ENERGY);

void ictal_train_template_set(ictal_model_info *tmpl, int feature_set)
{
    ictal_train_template(tmpl);
    tmpl->feature_set = (uint16_t)feature_set;
    tmpl->n_features = (uint16_t)ictal_feature_count(feature_set);
}

void ictal_train_template(ictal_model_info *tmpl)
{
    ictal_config cfg;
    ictal_config_init(&cfg);
    memset(tmpl, 0, sizeof *tmpl);
    tmpl->kind = ICTAL_MODEL_TREES;
    tmpl->feature_set = ICTAL_FEATURE_SET;
    tmpl->n_features = ICTAL_N_FEATURES;
    tmpl->rate_hz = (float)ICTAL_INTERNAL_RATE_HZ;
    tmpl->window_s = cfg.window_s;
    tmpl->hop_s = cfg.hop_s;
    tmpl->aggregation = ICTAL_AGG_MAX;
    tmpl->top_k = 1;
    ictal_postproc_default(&tmpl->post);
}

float ictal_hop_label(double t_s, double window_s, const ictal_interval *sz, size_t n_sz)
{
    double a = t_s - window_s, overlap = 0;
    for (size_t i = 0; i < n_sz; i++) {
        double lo = sz[i].onset_s > a ? sz[i].onset_s : a;
        double hi = sz[i].offset_s < t_s ? sz[i].offset_s : t_s;
        if (hi > lo)
            overlap += hi - lo;
    }
    if (overlap <= 0)
        return 0.0f;
    return overlap >= 0.5 * window_s ? 1.0f : NAN;
}

/* Aligned detector memory for cfg. */
static ictal_detector *detector_new(const ictal_config *cfg, ictal_diag *d, int *rc)
{
    *rc = ictal_config_check(cfg, d);
    if (*rc)
        return NULL;
    size_t size = ictal_detector_size(cfg);
    size_t rounded = (size + ICTAL_DETECTOR_ALIGN - 1) / ICTAL_DETECTOR_ALIGN * ICTAL_DETECTOR_ALIGN;
    void *mem = aligned_alloc(ICTAL_DETECTOR_ALIGN, rounded);
    if (mem == NULL) {
        *rc = ICTAL_ENOMEM;
        return NULL;
    }
    *rc = ictal_detector_init(mem, rounded, cfg);
    if (*rc) {
        free(mem);
        return NULL;
    }
    return mem;
}

/* Pushes the signal in one-second chunks (the output does not depend on the chunking). */
static int push_all(ictal_detector *det, const ictal_signal *sig)
{
    size_t chunk = (size_t)ceil(sig->rate_hz);
    for (size_t f = 0; f < sig->n_frames; f += chunk) {
        size_t n = sig->n_frames - f < chunk ? sig->n_frames - f : chunk;
        int rc = ictal_detector_push(det, sig->frames_uv + f * (size_t)sig->n_channels, n);
        if (rc)
            return rc;
    }
    return 0;
}

/* Artefact amplitude thresholds scaled by k (intracranial EEG is several times larger). */
static void scale_artefacts(ictal_config *cfg, float k)
{
    if (!(k > 0) || k == 1.0f)
        return;
    cfg->jump_uv *= k;
    cfg->drift_uv *= k;
    cfg->movement_uv *= k;
    cfg->disconnect_uv *= k;
    cfg->muscle_uv2 *= k * k;
}

/* Streams sig through a features-only detector of tmpl's feature set, window and hop,
 * calling on_hop(user, hop) for every hop. */
static int stream_features(const ictal_signal *sig, const ictal_model_info *tmpl,
                           ictal_hop_fn on_hop, void *user, ictal_diag *d)
{
    ictal_config cfg;
    ictal_config_init(&cfg);
    cfg.n_channels = sig->n_channels;
    cfg.rate_hz = sig->rate_hz;
    cfg.labels = sig->labels;
    cfg.window_s = tmpl->window_s;
    cfg.hop_s = tmpl->hop_s;
    cfg.feature_set = tmpl->feature_set;
    scale_artefacts(&cfg, sig->artefact_scale);
    cfg.on_hop = on_hop;
    cfg.user = user;
    int rc;
    ictal_detector *det = detector_new(&cfg, d, &rc);
    if (det == NULL)
        return rc;
    rc = push_all(det, sig);
    free(det);
    return rc;
}

struct feature_ctx {
    ictal_dataset *ds;
    int record;
    const ictal_interval *sz;
    size_t n_sz;
    double window_s;
    int neg_stride;
    uint64_t n_neg;
    int rc;
};

static void on_feature_hop(void *user, const ictal_hop *hop)
{
    struct feature_ctx *c = user;
    if (c->rc)
        return;
    float y = ictal_hop_label(hop->t_s, c->window_s, c->sz, c->n_sz);
    if (isnan(y))
        return;
    if (y < 0.5f && (c->n_neg++ % (uint64_t)c->neg_stride) != 0)
        return;
    for (int ch = 0; ch < hop->n_channels; ch++) {
        if (!(hop->usable & (1u << ch)))
            continue;
        int rc = ictal_dataset_add_row(c->ds, c->record, ch, (float)hop->t_s,
                                       hop->features + (size_t)ch * (size_t)hop->n_features, y);
        if (rc) {
            c->rc = rc;
            return;
        }
    }
}

static int check_signal(const ictal_signal *sig, ictal_diag *d)
{
    if (sig == NULL || sig->frames_uv == NULL || sig->n_channels <= 0 ||
        sig->n_channels > ICTAL_MAX_CHANNELS)
        return ictal_diag_error(d, ICTAL_EINVAL, "a signal needs 1 to %d channels",
                                ICTAL_MAX_CHANNELS);
    return 0;
}

int ictal_dataset_add_signal(ictal_dataset *ds, int record, const ictal_signal *sig,
                             const ictal_interval *sz, size_t n_sz,
                             const ictal_model_info *tmpl, int neg_stride, ictal_diag *d)
{
    int rc = check_signal(sig, d);
    if (rc)
        return rc;
    if (record < 0 || (size_t)record >= ds->n_records ||
        ds->n_features != ictal_feature_count(tmpl->feature_set))
        return ictal_diag_error(d, ICTAL_EINVAL, "bad record, or a table of %d features for "
                                "feature set %u", ds->n_features, (unsigned)tmpl->feature_set);
    struct feature_ctx ctx = {ds, record, sz, n_sz, tmpl->window_s, neg_stride > 1 ? neg_stride : 1,
                              0, 0};
    rc = stream_features(sig, tmpl, on_feature_hop, &ctx, d);
    if (rc == 0)
        rc = ctx.rc;
    if (rc == 0) {
        ds->records[record].duration_s = (double)sig->n_frames / sig->rate_hz;
        ds->records[record].n_channels = sig->n_channels;
        for (size_t i = 0; i < n_sz; i++)
            if (sz[i].offset_s > sz[i].onset_s)
                ds->records[record].has_seizure = 1;
    }
    return rc;
}

void ictal_detection_init(ictal_detection *r)
{
    memset(r, 0, sizeof *r);
}

void ictal_detection_free(ictal_detection *r)
{
    free(r->t_s);
    free(r->prob);
    free(r->prob_smooth);
    free(r->any_usable);
    free(r->alarms);
    memset(r, 0, sizeof *r);
}

double ictal_detection_mean_prob(const ictal_detection *r, size_t *n_used)
{
    double sum = 0;
    size_t n = 0;
    for (size_t h = 0; h < r->n_hops; h++) {
        if (!r->any_usable[h])
            continue;
        sum += r->prob[h];
        n++;
    }
    if (n_used)
        *n_used = n;
    return n ? sum / (double)n : 0.0;
}

struct detect_ctx {
    ictal_detection *out;
    size_t cap_hops;
    int rc;
};

static void on_detect_hop(void *user, const ictal_hop *hop)
{
    struct detect_ctx *c = user;
    ictal_detection *o = c->out;
    if (c->rc)
        return;
    if (o->n_hops == c->cap_hops) {
        size_t cap = c->cap_hops ? c->cap_hops * 2 : 1024;
        double *t = realloc(o->t_s, cap * sizeof *t);
        if (t)
            o->t_s = t;
        float *p = realloc(o->prob, cap * sizeof *p);
        if (p)
            o->prob = p;
        float *ps = realloc(o->prob_smooth, cap * sizeof *ps);
        if (ps)
            o->prob_smooth = ps;
        uint8_t *u = realloc(o->any_usable, cap * sizeof *u);
        if (u)
            o->any_usable = u;
        if (!t || !p || !ps || !u) {
            c->rc = ICTAL_ENOMEM;
            return;
        }
        c->cap_hops = cap;
    }
    size_t i = o->n_hops++;
    o->t_s[i] = hop->t_s;
    o->prob[i] = hop->prob;
    o->prob_smooth[i] = hop->prob_smooth;
    o->any_usable[i] = hop->usable != 0;
}

static void on_detect_alarm(void *user, const ictal_alarm *ev)
{
    struct detect_ctx *c = user;
    ictal_detection *o = c->out;
    if (c->rc)
        return;
    if (ev->kind == ICTAL_ALARM_RAISED) {
        if (o->n_alarms == o->cap_alarms) {
            size_t cap = o->cap_alarms ? o->cap_alarms * 2 : 16;
            ictal_train_alarm *a = realloc(o->alarms, cap * sizeof *a);
            if (a == NULL) {
                c->rc = ICTAL_ENOMEM;
                return;
            }
            o->alarms = a;
            o->cap_alarms = cap;
        }
        ictal_train_alarm *a = &o->alarms[o->n_alarms++];
        a->onset_s = ev->onset_s;
        a->alarm_s = ev->alarm_s;
        a->offset_s = -1;
        a->peak_prob = ev->peak_prob;
        a->channels = ev->channels;
    } else if (ev->kind == ICTAL_ALARM_END && o->n_alarms > 0) {
        ictal_train_alarm *a = &o->alarms[o->n_alarms - 1];
        a->offset_s = ev->offset_s;
        a->peak_prob = ev->peak_prob;
        a->channels = ev->channels;
    }
}

int ictal_detect_signal(const ictal_model *m, const ictal_postproc *post,
                        const ictal_signal *sig, ictal_detection *out, ictal_diag *d)
{
    int rc = check_signal(sig, d);
    if (rc)
        return rc;
    if (m == NULL)
        return ictal_diag_error(d, ICTAL_EINVAL, "detection needs a model");
    ictal_detection_free(out);
    struct detect_ctx ctx = {out, 0, 0};
    ictal_config cfg;
    ictal_config_init(&cfg);
    cfg.n_channels = sig->n_channels;
    cfg.rate_hz = sig->rate_hz;
    cfg.labels = sig->labels;
    cfg.model = m;
    cfg.window_s = m->info.window_s;
    cfg.hop_s = m->info.hop_s;
    if (post)
        cfg.post = *post;
    scale_artefacts(&cfg, sig->artefact_scale);
    cfg.on_hop = on_detect_hop;
    cfg.on_alarm = on_detect_alarm;
    cfg.user = &ctx;
    ictal_detector *det = detector_new(&cfg, d, &rc);
    if (det == NULL)
        return rc;
    rc = push_all(det, sig);
    /* the end of the recording ends an open event, as `ictal detect` ends it */
    ictal_detector_reset(det, (double)sig->n_frames / sig->rate_hz);
    free(det);
    if (rc == 0)
        rc = ctx.rc;
    out->duration_s = (double)sig->n_frames / sig->rate_hz;
    out->window_s = m->info.window_s;
    /* an event still open at the end closes at the last hop */
    for (size_t i = 0; i < out->n_alarms; i++)
        if (out->alarms[i].offset_s < 0)
            out->alarms[i].offset_s = out->n_hops ? out->t_s[out->n_hops - 1] : out->duration_s;
    return rc;
}

/* --- segment descriptors ------------------------------------------------------------- */

_Static_assert(ICTAL_SEGMENT_N_FEATURES == ICTAL_SEGMENT_STATS * ICTAL_N_FEATURES,
               "segment descriptor size");
_Static_assert(ICTAL_SEGMENT_MAX_FEATURES == ICTAL_SEGMENT_STATS * ICTAL_N_FEATURES_SET2,
               "segment descriptor size of set 2");

/* The features of every judged (hop, channel), in hop order per channel. */
struct describe_ctx {
    int n_channels, nf;
    float *rows[ICTAL_MAX_CHANNELS]; /* [n_judged[c] * nf] */
    size_t n[ICTAL_MAX_CHANNELS], cap[ICTAL_MAX_CHANNELS];
    int rc;
};

static void on_describe_hop(void *user, const ictal_hop *hop)
{
    struct describe_ctx *c = user;
    if (c->rc)
        return;
    for (int ch = 0; ch < hop->n_channels && ch < c->n_channels; ch++) {
        /* the same rule as the detector's: a flagged or settling channel is not judged */
        if (!(hop->usable & (1u << ch)))
            continue;
        if (c->n[ch] == c->cap[ch]) {
            size_t cap = c->cap[ch] ? c->cap[ch] * 2 : 64;
            float *g = realloc(c->rows[ch], cap * (size_t)c->nf * sizeof *g);
            if (g == NULL) {
                c->rc = ICTAL_ENOMEM;
                return;
            }
            c->rows[ch] = g;
            c->cap[ch] = cap;
        }
        memcpy(c->rows[ch] + c->n[ch] * (size_t)c->nf,
               hop->features + (size_t)ch * (size_t)hop->n_features,
               (size_t)c->nf * sizeof(float));
        c->n[ch]++;
    }
}

int ictal_segment_describe(const ictal_signal *sig, const ictal_model_info *tmpl, float *desc,
                           int *n_judged, ictal_diag *d)
{
    int rc = check_signal(sig, d);
    if (rc)
        return rc;
    struct describe_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.n_channels = sig->n_channels;
    ctx.nf = ictal_feature_count(tmpl->feature_set);
    if (ctx.nf == 0)
        return ictal_diag_error(d, ICTAL_EINVAL, "feature set %u unknown",
                                (unsigned)tmpl->feature_set);
    rc = stream_features(sig, tmpl, on_describe_hop, &ctx, d);
    if (rc == 0)
        rc = ctx.rc;
    for (int ch = 0; ch < sig->n_channels; ch++) {
        const int nf = ctx.nf;
        float *out = desc + (size_t)ch * ICTAL_SEGMENT_STATS * (size_t)nf;
        for (int f = 0; f < nf; f++) {
            float st[ICTAL_SEGMENT_STATS];
            ictal_segment_stats(ctx.rows[ch] ? ctx.rows[ch] + f : NULL, ctx.n[ch], (size_t)nf,
                                st);
            for (int s = 0; s < ICTAL_SEGMENT_STATS; s++)
                out[s * nf + f] = st[s];
        }
        n_judged[ch] = (int)ctx.n[ch];
        free(ctx.rows[ch]);
    }
    return rc;
}
