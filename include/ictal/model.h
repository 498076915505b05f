/*
 * ictal/model.h - the seizure model: file format, parsing, evaluation, export.
 *
 * A model maps ONE channel's feature vector (ictal.h, "Features") to a seizure
 * probability. The detector evaluates it on every channel and aggregates across
 * channels (max, or the mean of the top k), so one model serves 2 to 32 channels.
 *
 * Two kinds:
 *  - tree ensemble (gradient-boosted trees exported from XGBoost), XGBoost semantics:
 *    at an internal node go left when x < threshold (strict), right otherwise; a
 *    missing value (NaN) follows the node's default direction; the margin is
 *    base_score + the sum of the reached leaves; probability = 1 / (1 + exp(-margin)).
 *    base_score is stored in logit (margin) space, as XGBoost's "base_margin".
 *  - logistic regression on standardised features: z_i = (x_i - mean_i) / scale_i
 *    (a NaN x_i counts as z_i = 0), margin = base_score + sum w_i z_i, then the sigmoid.
 *
 * The file format (version 1) is documented byte by byte in docs/model-format.md: a
 * 96-byte little-endian header (magic "ICTALMDL", version, kind, feature set, sizes,
 * internal rate, window, hop, aggregation, default post-processing, CRC-32 of the file),
 * then the tree table or the weights, then UTF-8 provenance text (data, date, measured
 * results). All multi-byte fields are little-endian whatever the host; floats are
 * IEEE-754 binary32.
 *
 * ictal_model_parse() validates everything (sizes, CRC, every node's feature and child
 * indices, tree shapes: children always have larger indices than their parent, so a
 * walk ends within the tree) and then gives a read-only VIEW over the caller's bytes:
 * nothing is copied, nothing allocated; keep the bytes alive while the model is used.
 * A corrupt or incompatible file gives ICTAL_EFORMAT / ICTAL_ETRUNC / ICTAL_EVERSION
 * with a message saying where (byte offset, node) and what; never a crash.
 *
 * ictal_model_serialize() writes a model file from a plain description (used by
 * `ictal train` to export, and by the tests). `ictal model --c-array FILE` turns a
 * model file into a C array for firmware, which ictal_model_parse() reads as it is.
 *
 * Part of libictal: C11 + libm, no allocation, no global state.
 */
#ifndef ICTAL_MODEL_H
#define ICTAL_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "ictal/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ICTAL_MODEL_MAGIC "ICTALMDL"  /* 8 bytes, no NUL */
#define ICTAL_MODEL_VERSION 1         /* format version written; parse accepts 1 */
#define ICTAL_MODEL_HEADER_SIZE 96    /* bytes */
#define ICTAL_MODEL_NODE_SIZE 16      /* bytes per tree node in the file */
#define ICTAL_MODEL_MAX_NODES 1000000 /* sanity bound on the node count */
#define ICTAL_MODEL_MAX_TREES 100000

typedef enum ictal_model_kind {
    ICTAL_MODEL_TREES = 1,   /* gradient-boosted tree ensemble */
    ICTAL_MODEL_LOGISTIC = 2 /* logistic regression on standardised features */
} ictal_model_kind;

/* How per-channel probabilities become the overall probability. */
typedef enum ictal_aggregation {
    ICTAL_AGG_MAX = 0,     /* the largest channel probability */
    ICTAL_AGG_TOPK_MEAN = 1 /* mean of the k largest (k = top_k, clipped to the channels) */
} ictal_aggregation;

/*
 * Post-processing of the overall probability into alarms (see ictal.h, "Decisions").
 * A model carries defaults; ictal_config can override each field.
 */
typedef struct ictal_postproc {
    float threshold_on;   /* smoothed probability >= this starts a candidate event */
    float threshold_off;  /* below this the candidate / event ends (hysteresis), <= on */
    float smooth_s;       /* causal moving average over this many seconds of hops */
    float min_duration_s; /* above threshold this long before the alarm is raised */
    float merge_gap_s;    /* an event that drops below threshold_off and rises again
                             within this many seconds continues as the same event */
    float refractory_s;   /* no new alarm for this long after an event ended */
} ictal_postproc;

/*
 * A tree node as ictal_model_serialize() takes it and ictal_model_node() returns it.
 * Node indices are global over the whole ensemble; a tree is the range of nodes from
 * its root to the next tree's root. In the file a node is 16 bytes:
 *   u16 feature (0xFFFF = leaf) | u8 flags (bit 0: missing goes left) | u8 zero |
 *   f32 threshold (internal) or leaf value (leaf) | u32 left | u32 right (0 for leaves).
 */
typedef struct ictal_tree_node {
    int32_t feature;      /* feature index, or -1 for a leaf */
    float value;          /* threshold (internal node: left when x < value) or leaf value */
    int32_t left, right;  /* child node indices (internal), -1 for leaves */
    uint8_t default_left; /* internal node: a NaN feature goes left (1) or right (0) */
} ictal_tree_node;

/*
 * Everything a model file records, as plain host data. Used to serialize a model and
 * filled by ictal_model_parse() (array pointers are then NULL: use the accessors,
 * since the file's bytes may be unaligned and of another endianness than the host).
 */
typedef struct ictal_model_info {
    ictal_model_kind kind;
    uint16_t feature_set;   /* feature set of ictal.h the model was trained on: 1 or 2 */
    uint16_t n_features;    /* per-channel features the model reads: 22 for set 1
                               (ICTAL_N_FEATURES), 25 for set 2 (ICTAL_N_FEATURES_SET2) */
    float rate_hz;          /* internal sample rate the features were computed at */
    float window_s, hop_s;  /* feature window and hop */
    ictal_aggregation aggregation;
    uint16_t top_k;         /* for ICTAL_AGG_TOPK_MEAN */
    float base_score;       /* margin (logit) added to the trees' sum, or the LR bias */
    ictal_postproc post;    /* default decisions */

    /* ICTAL_MODEL_TREES */
    uint32_t n_trees;
    uint32_t n_nodes;
    const uint32_t *tree_roots;     /* [n_trees], ascending, tree_roots[0] == 0 */
    const ictal_tree_node *nodes;   /* [n_nodes] */

    /* ICTAL_MODEL_LOGISTIC: arrays of n_features */
    const float *weights, *mean, *scale;

    const char *provenance; /* UTF-8 text, NUL-terminated for serialize */
    size_t provenance_len;  /* bytes (parse: length in the file, not NUL-terminated) */
} ictal_model_info;

/* A parsed model: a view over the caller's bytes. Treat the fields as private except
 * info, which describes the model (its array pointers are NULL). */
typedef struct ictal_model {
    ictal_model_info info;
    const unsigned char *bytes; /* the file, not owned */
    size_t size;
    const unsigned char *roots_at, *nodes_at, *weights_at; /* sections inside bytes */
    const char *provenance_at;                             /* provenance text in bytes */
} ictal_model;

/*
 * Parses and validates a model file held in memory (bytes may be unaligned). On
 * success m views the bytes (keep them alive). d may be NULL; on error it says where
 * (d->offset) and what. Returns 0, ICTAL_EFORMAT (bad magic, bad CRC, a field or node
 * out of range), ICTAL_ETRUNC (the file ends early), ICTAL_EVERSION (a newer format),
 * ICTAL_EINVAL (NULL arguments).
 */
int ictal_model_parse(ictal_model *m, const void *bytes, size_t size, ictal_diag *d);

/* The margin (logit) for one channel's feature vector of m->info.n_features values. */
float ictal_model_margin(const ictal_model *m, const float *features);

/* The probability 1/(1+exp(-margin)) for one channel's feature vector. */
float ictal_model_predict(const ictal_model *m, const float *features);

/* Node i of a tree model (bounds-checked: returns ICTAL_ERANGE past the end). */
int ictal_model_node(const ictal_model *m, uint32_t i, ictal_tree_node *out);

/* Root node index of tree t (ICTAL_ERANGE past the end). */
int ictal_model_tree_root(const ictal_model *m, uint32_t t, uint32_t *root);

/* Logistic-regression coefficients of feature i (ICTAL_ERANGE past the end). */
int ictal_model_weight(const ictal_model *m, uint32_t i, float *weight, float *mean,
                       float *scale);

/*
 * Bytes a serialized model of this description takes (0 if the description is
 * invalid; ictal_model_serialize() then says why).
 */
size_t ictal_model_serialized_size(const ictal_model_info *info);

/*
 * Writes the model file for info into buf (capacity cap) and sets *len. Validates the
 * description as the parser would (ICTAL_EINVAL with a message in d otherwise);
 * ICTAL_ENOMEM when cap is too small. The output parses back to the same model, bit
 * for bit, on any host.
 */
int ictal_model_serialize(const ictal_model_info *info, void *buf, size_t cap, size_t *len,
                          ictal_diag *d);

/* The default post-processing written into models that do not choose their own. */
void ictal_postproc_default(ictal_postproc *p);

/* CRC-32 (IEEE 802.3, as zlib's crc32) of n bytes, continuing from crc (start with 0). */
uint32_t ictal_crc32(uint32_t crc, const void *bytes, size_t n);

#ifdef __cplusplus
}
#endif
#endif /* ICTAL_MODEL_H */
