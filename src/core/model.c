/* Model files: parse (a validated view), evaluate, serialize (see include/ictal/model.h
 * and docs/model-format.md). C11 + libm, no allocation. */
#include "ictal/model.h"

#include <math.h>
#include <string.h>

#define LEAF_FEATURE 0xFFFFu

/* Little-endian field access, whatever the host and alignment. */
static uint16_t rd16(const unsigned char *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}
static uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}
static float rdf(const unsigned char *p)
{
    uint32_t u = rd32(p);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}
static void wr16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}
static void wr32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}
static void wrf(unsigned char *p, float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    wr32(p, u);
}

uint32_t ictal_crc32(uint32_t crc, const void *bytes, size_t n)
{
    /* Bitwise (no table, so no global): models are parsed once, a few KB. */
    const unsigned char *p = bytes;
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

void ictal_postproc_default(ictal_postproc *p)
{
    p->threshold_on = 0.5f;
    p->threshold_off = 0.35f;
    p->smooth_s = 3.0f;
    p->min_duration_s = 2.0f;
    p->merge_gap_s = 30.0f;
    p->refractory_s = 0.0f;
}

enum {
    H_MAGIC = 0,
    H_VERSION = 8,
    H_KIND = 10,
    H_FSET = 12,
    H_NFEAT = 14,
    H_RATE = 16,
    H_WINDOW = 20,
    H_HOP = 24,
    H_AGG = 28,
    H_TOPK = 30,
    H_BASE = 32,
    H_TON = 36,
    H_TOFF = 40,
    H_SMOOTH = 44,
    H_MINDUR = 48,
    H_MERGE = 52,
    H_REFRAC = 56,
    H_NTREES = 60,
    H_NNODES = 64,
    H_PROVLEN = 68,
    H_SIZE = 72,
    H_CRC = 76
};

static int fin(float f)
{
    return isfinite(f);
}

/* Checks the fields shared by parse and serialize; returns 0 or an error in d. */
static int check_info(const ictal_model_info *in, ictal_diag *d)
{
    if (in->kind != ICTAL_MODEL_TREES && in->kind != ICTAL_MODEL_LOGISTIC)
        return ictal_diag_error(d, ICTAL_EFORMAT, "model kind %d is neither trees (1) nor "
                                "logistic regression (2)", (int)in->kind);
    if (in->n_features == 0 || in->n_features >= LEAF_FEATURE)
        return ictal_diag_error(d, ICTAL_EFORMAT, "feature count %u out of range",
                                (unsigned)in->n_features);
    if (!fin(in->rate_hz) || in->rate_hz < 1.0f || in->rate_hz > 100000.0f)
        return ictal_diag_error(d, ICTAL_EFORMAT, "internal rate %g Hz out of range",
                                (double)in->rate_hz);
    if (!fin(in->window_s) || !fin(in->hop_s) || in->hop_s <= 0.0f ||
        in->window_s < in->hop_s || in->window_s > 3600.0f)
        return ictal_diag_error(d, ICTAL_EFORMAT, "window %g s / hop %g s out of range",
                                (double)in->window_s, (double)in->hop_s);
    if (in->aggregation != ICTAL_AGG_MAX && in->aggregation != ICTAL_AGG_TOPK_MEAN)
        return ictal_diag_error(d, ICTAL_EFORMAT, "aggregation %d unknown", (int)in->aggregation);
    if (in->aggregation == ICTAL_AGG_TOPK_MEAN && in->top_k == 0)
        return ictal_diag_error(d, ICTAL_EFORMAT, "top-k aggregation with k = 0");
    if (!fin(in->base_score))
        return ictal_diag_error(d, ICTAL_EFORMAT, "base_score is not finite");
    const ictal_postproc *p = &in->post;
    if (!fin(p->threshold_on) || !fin(p->threshold_off) || p->threshold_on < 0.0f ||
        p->threshold_on > 1.0f || p->threshold_off < 0.0f || p->threshold_off > p->threshold_on)
        return ictal_diag_error(d, ICTAL_EFORMAT, "thresholds on %g / off %g: need "
                                "0 <= off <= on <= 1", (double)p->threshold_on,
                                (double)p->threshold_off);
    const float durs[4] = {p->smooth_s, p->min_duration_s, p->merge_gap_s, p->refractory_s};
    for (int i = 0; i < 4; i++)
        if (!fin(durs[i]) || durs[i] < 0.0f || durs[i] > 86400.0f)
            return ictal_diag_error(d, ICTAL_EFORMAT, "post-processing duration %g s out "
                                    "of range", (double)durs[i]);
    if (in->kind == ICTAL_MODEL_TREES) {
        if (in->n_trees == 0 || in->n_trees > ICTAL_MODEL_MAX_TREES)
            return ictal_diag_error(d, ICTAL_EFORMAT, "tree count %u out of range",
                                    (unsigned)in->n_trees);
        if (in->n_nodes < in->n_trees || in->n_nodes > ICTAL_MODEL_MAX_NODES)
            return ictal_diag_error(d, ICTAL_EFORMAT, "node count %u out of range for %u "
                                    "trees", (unsigned)in->n_nodes, (unsigned)in->n_trees);
    } else if (in->n_trees != 0 || in->n_nodes != 0) {
        return ictal_diag_error(d, ICTAL_EFORMAT, "a logistic model has no trees");
    }
    if (in->provenance_len > 1000000)
        return ictal_diag_error(d, ICTAL_EFORMAT, "provenance of %zu bytes is too long",
                                in->provenance_len);
    return 0;
}

/* Checks one tree node (index i in tree [lo, hi)). */
static int check_node(const ictal_tree_node *n, uint32_t i, uint32_t lo, uint32_t hi,
                      unsigned n_features, ictal_diag *d)
{
    if (!fin(n->value))
        return ictal_diag_error(d, ICTAL_EFORMAT, "node %u: value is not finite", (unsigned)i);
    if (n->feature < 0)
        return 0;
    if ((unsigned)n->feature >= n_features)
        return ictal_diag_error(d, ICTAL_EFORMAT, "node %u: feature %d out of range (%u "
                                "features)", (unsigned)i, (int)n->feature, n_features);
    /* Children after the parent and inside the tree: every walk ends in the tree. */
    if (n->left <= (int64_t)i || n->right <= (int64_t)i || (uint32_t)n->left >= hi ||
        (uint32_t)n->right >= hi || (uint32_t)n->left < lo || (uint32_t)n->right < lo)
        return ictal_diag_error(d, ICTAL_EFORMAT, "node %u: children %d/%d outside %u..%u",
                                (unsigned)i, (int)n->left, (int)n->right, (unsigned)i + 1,
                                (unsigned)hi - 1);
    return 0;
}

static void decode_node(const unsigned char *p, ictal_tree_node *n)
{
    uint16_t f = rd16(p);
    n->value = rdf(p + 4);
    n->default_left = (uint8_t)(p[2] & 1u);
    if (f == LEAF_FEATURE) {
        n->feature = -1;
        n->left = n->right = -1;
    } else {
        n->feature = f;
        uint32_t l = rd32(p + 8), r = rd32(p + 12);
        /* Out-of-int range values become -1, which check_node rejects. */
        n->left = l > 0x7FFFFFFFu ? -1 : (int32_t)l;
        n->right = r > 0x7FFFFFFFu ? -1 : (int32_t)r;
    }
}

int ictal_model_parse(ictal_model *m, const void *bytes, size_t size, ictal_diag *d)
{
    if (m == NULL || (bytes == NULL && size > 0))
        return ictal_diag_error(d, ICTAL_EINVAL, "NULL model or bytes");
    memset(m, 0, sizeof *m);
    const unsigned char *b = bytes;
    if (d)
        d->offset = 0;
    if (size < 8 || memcmp(b, ICTAL_MODEL_MAGIC, 8) != 0)
        return ictal_diag_error(d, size < 8 ? ICTAL_ETRUNC : ICTAL_EFORMAT,
                                "not an ictal model (magic 'ICTALMDL' expected)");
    if (size < ICTAL_MODEL_HEADER_SIZE)
        return ictal_diag_error(d, ICTAL_ETRUNC, "header needs %d bytes, file has %zu",
                                ICTAL_MODEL_HEADER_SIZE, size);
    uint16_t version = rd16(b + H_VERSION);
    if (d)
        d->offset = H_VERSION;
    if (version > ICTAL_MODEL_VERSION)
        return ictal_diag_error(d, ICTAL_EVERSION, "model format version %u, this ictal "
                                "reads up to %d", (unsigned)version, ICTAL_MODEL_VERSION);
    if (version == 0)
        return ictal_diag_error(d, ICTAL_EFORMAT, "model format version 0");
    uint32_t total = rd32(b + H_SIZE);
    if (d)
        d->offset = H_SIZE;
    if (total > size)
        return ictal_diag_error(d, ICTAL_ETRUNC, "file should be %u bytes, has %zu",
                                (unsigned)total, size);
    if (total < size)
        return ictal_diag_error(d, ICTAL_EFORMAT, "%zu bytes after the model's %u", size - total,
                                (unsigned)total);
    uint32_t crc_file = rd32(b + H_CRC);
    static const unsigned char zero4[4] = {0, 0, 0, 0};
    uint32_t crc = ictal_crc32(0, b, H_CRC);
    crc = ictal_crc32(crc, zero4, 4);
    crc = ictal_crc32(crc, b + H_CRC + 4, size - H_CRC - 4);
    if (d)
        d->offset = H_CRC;
    if (crc != crc_file)
        return ictal_diag_error(d, ICTAL_EFORMAT, "CRC-32 mismatch (file 0x%08x, computed "
                                "0x%08x): the file is corrupt", (unsigned)crc_file,
                                (unsigned)crc);

    ictal_model_info *in = &m->info;
    in->kind = (ictal_model_kind)rd16(b + H_KIND);
    in->feature_set = rd16(b + H_FSET);
    in->n_features = rd16(b + H_NFEAT);
    in->rate_hz = rdf(b + H_RATE);
    in->window_s = rdf(b + H_WINDOW);
    in->hop_s = rdf(b + H_HOP);
    in->aggregation = (ictal_aggregation)rd16(b + H_AGG);
    in->top_k = rd16(b + H_TOPK);
    in->base_score = rdf(b + H_BASE);
    in->post.threshold_on = rdf(b + H_TON);
    in->post.threshold_off = rdf(b + H_TOFF);
    in->post.smooth_s = rdf(b + H_SMOOTH);
    in->post.min_duration_s = rdf(b + H_MINDUR);
    in->post.merge_gap_s = rdf(b + H_MERGE);
    in->post.refractory_s = rdf(b + H_REFRAC);
    in->n_trees = rd32(b + H_NTREES);
    in->n_nodes = rd32(b + H_NNODES);
    in->provenance_len = rd32(b + H_PROVLEN);
    if (d)
        d->offset = H_KIND;
    int rc = check_info(in, d);
    if (rc)
        return rc;

    /* Section sizes in 64-bit arithmetic: the counts are bounded, so no overflow. */
    uint64_t body = in->kind == ICTAL_MODEL_TREES
                        ? 4ull * in->n_trees + (uint64_t)ICTAL_MODEL_NODE_SIZE * in->n_nodes
                        : 12ull * in->n_features;
    uint64_t need = ICTAL_MODEL_HEADER_SIZE + body + in->provenance_len;
    if (d)
        d->offset = ICTAL_MODEL_HEADER_SIZE;
    if (need != total)
        return ictal_diag_error(d, need > total ? ICTAL_ETRUNC : ICTAL_EFORMAT,
                                "sections need %llu bytes, file has %u",
                                (unsigned long long)need, (unsigned)total);
    m->bytes = b;
    m->size = size;
    const unsigned char *p = b + ICTAL_MODEL_HEADER_SIZE;
    if (in->kind == ICTAL_MODEL_TREES) {
        m->roots_at = p;
        m->nodes_at = p + 4ull * in->n_trees;
        for (uint32_t t = 0; t < in->n_trees; t++) {
            uint32_t lo = rd32(p + 4ull * t);
            uint32_t hi = t + 1 < in->n_trees ? rd32(p + 4ull * (t + 1)) : in->n_nodes;
            if (d)
                d->offset = (int64_t)(ICTAL_MODEL_HEADER_SIZE + 4ull * t);
            if ((t == 0 && lo != 0) || hi <= lo || hi > in->n_nodes)
                return ictal_diag_error(d, ICTAL_EFORMAT, "tree %u: node range %u..%u invalid "
                                        "(%u nodes)", (unsigned)t, (unsigned)lo, (unsigned)hi,
                                        (unsigned)in->n_nodes);
            for (uint32_t i = lo; i < hi; i++) {
                ictal_tree_node n;
                decode_node(m->nodes_at + (uint64_t)ICTAL_MODEL_NODE_SIZE * i, &n);
                if (d)
                    d->offset = (int64_t)(m->nodes_at - b) + (int64_t)ICTAL_MODEL_NODE_SIZE * i;
                rc = check_node(&n, i, lo, hi, in->n_features, d);
                if (rc)
                    return rc;
            }
        }
    } else {
        m->weights_at = p;
        for (unsigned i = 0; i < in->n_features; i++) {
            float w = rdf(p + 4 * i), mu = rdf(p + 4 * (in->n_features + i)),
                  sc = rdf(p + 4 * (2 * in->n_features + i));
            if (d)
                d->offset = (int64_t)(ICTAL_MODEL_HEADER_SIZE + 4 * i);
            if (!fin(w) || !fin(mu) || !fin(sc) || !(sc > 0.0f))
                return ictal_diag_error(d, ICTAL_EFORMAT, "feature %u: weight %g, mean %g, "
                                        "scale %g (need finite, scale > 0)", i, (double)w,
                                        (double)mu, (double)sc);
        }
    }
    m->provenance_at = (const char *)(b + ICTAL_MODEL_HEADER_SIZE + body);
    in->provenance = NULL;
    if (d)
        d->offset = -1;
    return 0;
}

float ictal_model_margin(const ictal_model *m, const float *x)
{
    const ictal_model_info *in = &m->info;
    float margin = in->base_score;
    if (in->kind == ICTAL_MODEL_LOGISTIC) {
        const unsigned char *w = m->weights_at;
        unsigned n = in->n_features;
        for (unsigned i = 0; i < n; i++) {
            if (isnan(x[i]))
                continue;
            margin += rdf(w + 4 * i) * ((x[i] - rdf(w + 4 * (n + i))) / rdf(w + 4 * (2 * n + i)));
        }
        return margin;
    }
    for (uint32_t t = 0; t < in->n_trees; t++) {
        uint32_t i = rd32(m->roots_at + 4ull * t);
        for (;;) {
            const unsigned char *p = m->nodes_at + (uint64_t)ICTAL_MODEL_NODE_SIZE * i;
            uint16_t f = rd16(p);
            if (f == LEAF_FEATURE) {
                margin += rdf(p + 4);
                break;
            }
            float v = x[f];
            int left = isnan(v) ? (p[2] & 1) : (v < rdf(p + 4));
            i = rd32(p + (left ? 8 : 12)); /* validated: > i, inside the tree */
        }
    }
    return margin;
}

float ictal_model_predict(const ictal_model *m, const float *features)
{
    float z = ictal_model_margin(m, features);
    return 1.0f / (1.0f + expf(-z));
}

int ictal_model_node(const ictal_model *m, uint32_t i, ictal_tree_node *out)
{
    if (m == NULL || out == NULL || m->info.kind != ICTAL_MODEL_TREES || i >= m->info.n_nodes)
        return ICTAL_ERANGE;
    decode_node(m->nodes_at + (uint64_t)ICTAL_MODEL_NODE_SIZE * i, out);
    return 0;
}

int ictal_model_tree_root(const ictal_model *m, uint32_t t, uint32_t *root)
{
    if (m == NULL || root == NULL || m->info.kind != ICTAL_MODEL_TREES || t >= m->info.n_trees)
        return ICTAL_ERANGE;
    *root = rd32(m->roots_at + 4ull * t);
    return 0;
}

int ictal_model_weight(const ictal_model *m, uint32_t i, float *weight, float *mean,
                       float *scale)
{
    if (m == NULL || m->info.kind != ICTAL_MODEL_LOGISTIC || i >= m->info.n_features)
        return ICTAL_ERANGE;
    unsigned n = m->info.n_features;
    if (weight)
        *weight = rdf(m->weights_at + 4 * i);
    if (mean)
        *mean = rdf(m->weights_at + 4 * (n + i));
    if (scale)
        *scale = rdf(m->weights_at + 4 * (2 * n + i));
    return 0;
}

static uint64_t body_size(const ictal_model_info *in)
{
    return in->kind == ICTAL_MODEL_TREES
               ? 4ull * in->n_trees + (uint64_t)ICTAL_MODEL_NODE_SIZE * in->n_nodes
               : 12ull * in->n_features;
}

/* Full validation of a description, as the parser would do on its file. */
static int check_desc(const ictal_model_info *in, ictal_diag *d)
{
    int rc = check_info(in, d);
    if (rc)
        return rc;
    if (in->provenance_len > 0 && in->provenance == NULL)
        return ictal_diag_error(d, ICTAL_EINVAL, "provenance length without text");
    if (in->kind == ICTAL_MODEL_TREES) {
        if (in->tree_roots == NULL || in->nodes == NULL)
            return ictal_diag_error(d, ICTAL_EINVAL, "tree model without roots or nodes");
        for (uint32_t t = 0; t < in->n_trees; t++) {
            uint32_t lo = in->tree_roots[t];
            uint32_t hi = t + 1 < in->n_trees ? in->tree_roots[t + 1] : in->n_nodes;
            if ((t == 0 && lo != 0) || hi <= lo || hi > in->n_nodes)
                return ictal_diag_error(d, ICTAL_EINVAL, "tree %u: node range %u..%u invalid",
                                        (unsigned)t, (unsigned)lo, (unsigned)hi);
            for (uint32_t i = lo; i < hi; i++) {
                rc = check_node(&in->nodes[i], i, lo, hi, in->n_features, d);
                if (rc)
                    return rc;
            }
        }
    } else {
        if (in->weights == NULL || in->mean == NULL || in->scale == NULL)
            return ictal_diag_error(d, ICTAL_EINVAL, "logistic model without coefficients");
        for (unsigned i = 0; i < in->n_features; i++)
            if (!fin(in->weights[i]) || !fin(in->mean[i]) || !fin(in->scale[i]) ||
                !(in->scale[i] > 0.0f))
                return ictal_diag_error(d, ICTAL_EINVAL, "feature %u: bad coefficient", i);
    }
    if (ICTAL_MODEL_HEADER_SIZE + body_size(in) + in->provenance_len > 0xFFFFFFFFull)
        return ictal_diag_error(d, ICTAL_EINVAL, "model too large");
    return 0;
}

size_t ictal_model_serialized_size(const ictal_model_info *info)
{
    if (info == NULL || check_desc(info, NULL) != 0)
        return 0;
    return (size_t)(ICTAL_MODEL_HEADER_SIZE + body_size(info) + info->provenance_len);
}

int ictal_model_serialize(const ictal_model_info *in, void *buf, size_t cap, size_t *len,
                          ictal_diag *d)
{
    if (in == NULL || len == NULL)
        return ictal_diag_error(d, ICTAL_EINVAL, "NULL argument");
    int rc = check_desc(in, d);
    if (rc) {
        if (d)
            d->code = ICTAL_EINVAL; /* a bad description, not a bad file: keep the message */
        return ICTAL_EINVAL;
    }
    uint64_t total = ICTAL_MODEL_HEADER_SIZE + body_size(in) + in->provenance_len;
    *len = (size_t)total;
    if (buf == NULL || cap < total)
        return ictal_diag_error(d, ICTAL_ENOMEM, "model needs %llu bytes, buffer has %zu",
                                (unsigned long long)total, cap);
    unsigned char *b = buf;
    memset(b, 0, ICTAL_MODEL_HEADER_SIZE);
    memcpy(b, ICTAL_MODEL_MAGIC, 8);
    wr16(b + H_VERSION, ICTAL_MODEL_VERSION);
    wr16(b + H_KIND, (uint16_t)in->kind);
    wr16(b + H_FSET, in->feature_set);
    wr16(b + H_NFEAT, in->n_features);
    wrf(b + H_RATE, in->rate_hz);
    wrf(b + H_WINDOW, in->window_s);
    wrf(b + H_HOP, in->hop_s);
    wr16(b + H_AGG, (uint16_t)in->aggregation);
    wr16(b + H_TOPK, in->top_k);
    wrf(b + H_BASE, in->base_score);
    wrf(b + H_TON, in->post.threshold_on);
    wrf(b + H_TOFF, in->post.threshold_off);
    wrf(b + H_SMOOTH, in->post.smooth_s);
    wrf(b + H_MINDUR, in->post.min_duration_s);
    wrf(b + H_MERGE, in->post.merge_gap_s);
    wrf(b + H_REFRAC, in->post.refractory_s);
    wr32(b + H_NTREES, in->n_trees);
    wr32(b + H_NNODES, in->n_nodes);
    wr32(b + H_PROVLEN, (uint32_t)in->provenance_len);
    wr32(b + H_SIZE, (uint32_t)total);
    unsigned char *p = b + ICTAL_MODEL_HEADER_SIZE;
    if (in->kind == ICTAL_MODEL_TREES) {
        for (uint32_t t = 0; t < in->n_trees; t++, p += 4)
            wr32(p, in->tree_roots[t]);
        for (uint32_t i = 0; i < in->n_nodes; i++, p += ICTAL_MODEL_NODE_SIZE) {
            const ictal_tree_node *n = &in->nodes[i];
            int leaf = n->feature < 0;
            wr16(p, leaf ? (uint16_t)LEAF_FEATURE : (uint16_t)n->feature);
            p[2] = (unsigned char)(n->default_left ? 1 : 0);
            p[3] = 0;
            wrf(p + 4, n->value);
            wr32(p + 8, leaf ? 0u : (uint32_t)n->left);
            wr32(p + 12, leaf ? 0u : (uint32_t)n->right);
        }
    } else {
        unsigned n = in->n_features;
        for (unsigned i = 0; i < n; i++) {
            wrf(p + 4 * i, in->weights[i]);
            wrf(p + 4 * (n + i), in->mean[i]);
            wrf(p + 4 * (2 * n + i), in->scale[i]);
        }
        p += 12 * n;
    }
    if (in->provenance_len)
        memcpy(p, in->provenance, in->provenance_len);
    wr32(b + H_CRC, ictal_crc32(0, b, (size_t)total));
    return 0;
}
