/* Model files (ictal/model.h): round trip, XGBoost tree semantics, logistic regression,
 * the exact byte layout, and corrupt or incompatible files. */
#include "ictal/ictal.h"
#include "ictal/model.h"
#include "test.h"

#include <stdint.h>

/* Two small trees over 3 features (the shapes XGBoost dumps):
 * tree 0: f0 < 1.5 ? (f2 < -2 ? 0.3 : -0.1) : 0.7, missing f0 -> right, missing f2 -> left
 * tree 1: f1 < 0 ? -0.25 : 0.125, missing -> left */
static const ictal_tree_node nodes[] = {
    {0, 1.5f, 1, 2, 0},   {2, -2.0f, 3, 4, 1}, {-1, 0.7f, -1, -1, 0},
    {-1, 0.3f, -1, -1, 0}, {-1, -0.1f, -1, -1, 0},
    {1, 0.0f, 6, 7, 1},   {-1, -0.25f, -1, -1, 0}, {-1, 0.125f, -1, -1, 0},
};
static const uint32_t roots[] = {0, 5};

static void tree_info(ictal_model_info *in)
{
    memset(in, 0, sizeof *in);
    in->kind = ICTAL_MODEL_TREES;
    in->feature_set = 1;
    in->n_features = 3;
    in->rate_hz = 128.0f;
    in->window_s = 4.0f;
    in->hop_s = 0.5f;
    in->aggregation = ICTAL_AGG_TOPK_MEAN;
    in->top_k = 2;
    in->base_score = -1.0f;
    ictal_postproc_default(&in->post);
    in->n_trees = 2;
    in->n_nodes = 8;
    in->tree_roots = roots;
    in->nodes = nodes;
    in->provenance = "test trees";
    in->provenance_len = strlen(in->provenance);
}

/* Straightforward reference of the XGBoost walk for the two trees above. */
static double ref_margin(const float *x)
{
    double m = -1.0;
    if (isnan(x[0]) || !(x[0] < 1.5f))
        m += 0.7;
    else if (isnan(x[2]) || x[2] < -2.0f)
        m += 0.3;
    else
        m += -0.1;
    m += (isnan(x[1]) || x[1] < 0.0f) ? -0.25 : 0.125;
    return m;
}

static uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

static void fix_crc(unsigned char *b, size_t n)
{
    memset(b + 76, 0, 4);
    uint32_t c = ictal_crc32(0, b, n);
    b[76] = (unsigned char)c;
    b[77] = (unsigned char)(c >> 8);
    b[78] = (unsigned char)(c >> 16);
    b[79] = (unsigned char)(c >> 24);
}

static void test_trees(void)
{
    ictal_model_info in;
    tree_info(&in);
    unsigned char buf[1024];
    size_t len = 0;
    ictal_diag d;
    ictal_diag_init(&d);
    CHECK_EQ_INT(ictal_model_serialize(&in, buf, sizeof buf, &len, &d), 0);
    CHECK_EQ_INT(len, ictal_model_serialized_size(&in));
    CHECK_EQ_INT(len, 96 + 2 * 4 + 8 * 16 + 10);
    /* Layout, little-endian whatever the host. */
    CHECK(memcmp(buf, "ICTALMDL", 8) == 0);
    CHECK_EQ_INT(buf[8], 1);
    CHECK_EQ_INT(buf[9], 0);
    CHECK_EQ_INT(buf[10], ICTAL_MODEL_TREES);
    CHECK_EQ_INT(rd32(buf + 60), 2);
    CHECK_EQ_INT(rd32(buf + 72), len);
    CHECK_EQ_INT(rd32(buf + 96 + 4), 5);                    /* root of tree 1 */
    CHECK_EQ_INT(buf[104 + 16 * 2] | buf[105 + 16 * 2] << 8, 0xFFFF); /* node 2 is a leaf */
    CHECK_EQ_INT(buf[104 + 16 * 1 + 2], 1);                  /* node 1: missing goes left */
    CHECK(memcmp(buf + len - 10, "test trees", 10) == 0);
    CHECK_EQ_INT(ictal_crc32(0, "123456789", 9), 0xCBF43926u); /* the standard check value */

    ictal_model m;
    CHECK_EQ_INT(ictal_model_parse(&m, buf, len, &d), 0);
    CHECK_EQ_INT(m.info.n_trees, 2);
    CHECK_EQ_INT(m.info.top_k, 2);
    CHECK_EQ_INT(m.info.aggregation, ICTAL_AGG_TOPK_MEAN);
    CHECK_EQ_INT(m.info.provenance_len, 10);
    ictal_tree_node n;
    CHECK_EQ_INT(ictal_model_node(&m, 5, &n), 0);
    CHECK_EQ_INT(n.feature, 1);
    CHECK_EQ_INT(n.left, 6);
    CHECK_EQ_INT(ictal_model_node(&m, 8, &n), ICTAL_ERANGE);
    uint32_t r;
    CHECK_EQ_INT(ictal_model_tree_root(&m, 1, &r), 0);
    CHECK_EQ_INT(r, 5);

    /* Strict '<' at the threshold, NaN following the default direction. */
    const float v[] = {1.5f, 1.4999999f, -3.0f, -2.0f, 0.0f, -0.0f, NAN, 5.0f};
    int k = 0;
    for (size_t a = 0; a < 8; a++)
        for (size_t b = 0; b < 8; b++)
            for (size_t c = 0; c < 8; c++) {
                float x[3] = {v[a], v[b], v[c]};
                double mr = ref_margin(x);
                CHECK_NEAR(ictal_model_margin(&m, x), mr, 1e-6);
                CHECK_NEAR(ictal_model_predict(&m, x), 1.0 / (1.0 + exp(-mr)), 1e-6);
                k++;
            }
    CHECK_EQ_INT(k, 512);
    /* Serialized at any offset (unaligned) it parses and predicts the same. */
    unsigned char ub[1100];
    memcpy(ub + 3, buf, len);
    ictal_model m2;
    CHECK_EQ_INT(ictal_model_parse(&m2, ub + 3, len, NULL), 0);
    float x[3] = {0.0f, 1.0f, -5.0f};
    CHECK(ictal_model_margin(&m2, x) == ictal_model_margin(&m, x));

    /* Too small a buffer. */
    CHECK_EQ_INT(ictal_model_serialize(&in, buf, 100, &len, &d), ICTAL_ENOMEM);
}

static void test_logistic(void)
{
    float w[3] = {2.0f, -1.0f, 0.5f}, mu[3] = {1.0f, 0.0f, -1.0f}, sc[3] = {2.0f, 1.0f, 4.0f};
    ictal_model_info in;
    memset(&in, 0, sizeof in);
    in.kind = ICTAL_MODEL_LOGISTIC;
    in.feature_set = 1;
    in.n_features = 3;
    in.rate_hz = 128;
    in.window_s = 4;
    in.hop_s = 0.5f;
    in.base_score = 0.25f;
    ictal_postproc_default(&in.post);
    in.weights = w;
    in.mean = mu;
    in.scale = sc;
    unsigned char buf[512];
    size_t len;
    CHECK_EQ_INT(ictal_model_serialize(&in, buf, sizeof buf, &len, NULL), 0);
    CHECK_EQ_INT(len, 96 + 36);
    ictal_model m;
    CHECK_EQ_INT(ictal_model_parse(&m, buf, len, NULL), 0);
    float x[3] = {3.0f, 2.0f, NAN};
    double z = 0.25 + 2.0 * (3.0 - 1.0) / 2.0 - 1.0 * 2.0; /* NaN counts as the mean */
    CHECK_NEAR(ictal_model_margin(&m, x), z, 1e-6);
    CHECK_NEAR(ictal_model_predict(&m, x), 1.0 / (1.0 + exp(-z)), 1e-6);
    float wv, mv, sv;
    CHECK_EQ_INT(ictal_model_weight(&m, 2, &wv, &mv, &sv), 0);
    CHECK(wv == 0.5f && mv == -1.0f && sv == 4.0f);
    CHECK_EQ_INT(ictal_model_weight(&m, 3, &wv, &mv, &sv), ICTAL_ERANGE);

    /* Invalid descriptions are refused with a reason. */
    ictal_diag d;
    ictal_diag_init(&d);
    sc[1] = 0.0f;
    CHECK_EQ_INT(ictal_model_serialize(&in, buf, sizeof buf, &len, &d), ICTAL_EINVAL);
    CHECK(strstr(d.message, "feature 1") != NULL);
    CHECK_EQ_INT(ictal_model_serialized_size(&in), 0);
    sc[1] = 1.0f;
    in.post.threshold_off = 0.9f; /* above threshold_on */
    CHECK_EQ_INT(ictal_model_serialize(&in, buf, sizeof buf, &len, &d), ICTAL_EINVAL);
    CHECK(strstr(d.message, "threshold") != NULL);
}

static void test_corrupt(void)
{
    ictal_model_info in;
    tree_info(&in);
    unsigned char good[1024], b[1024];
    size_t len;
    CHECK_EQ_INT(ictal_model_serialize(&in, good, sizeof good, &len, NULL), 0);
    ictal_model m;
    ictal_diag d;
    ictal_diag_init(&d);

    /* Every truncation is refused. */
    int refused = 0;
    for (size_t n = 0; n < len; n++)
        refused += ictal_model_parse(&m, good, n, NULL) < 0;
    CHECK_EQ_INT(refused, len);
    /* Every single-bit flip is refused (the CRC, or a field check before it). */
    refused = 0;
    for (size_t i = 0; i < len; i++)
        for (int bit = 0; bit < 8; bit++) {
            memcpy(b, good, len);
            b[i] ^= (unsigned char)(1u << bit);
            refused += ictal_model_parse(&m, b, len, NULL) < 0;
        }
    CHECK_EQ_INT(refused, len * 8);
    /* Trailing garbage. */
    memcpy(b, good, len);
    b[len] = 0;
    CHECK_EQ_INT(ictal_model_parse(&m, b, len + 1, &d), ICTAL_EFORMAT);

    /* Structural damage with a valid CRC: each gives EFORMAT and says where. */
    struct {
        size_t off;
        uint8_t val;
        const char *msg;
    } cases[] = {
        {104 + 16 * 0 + 0, 7, "feature 7 out of range"},  /* node 0 reads feature 7 */
        {104 + 16 * 0 + 8, 0, "children"},                /* node 0 -> left child 0: a loop */
        {104 + 16 * 1 + 12, 6, "children"},               /* node 1 -> node 6 of tree 1 */
        {96 + 4, 9, "tree 0"},                            /* tree 1 rooted past the end */
        {10, 3, "kind"},
        {14, 0, "feature count"},
        {30, 0, "k = 0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memcpy(b, good, len);
        b[cases[i].off] = cases[i].val;
        fix_crc(b, len);
        ictal_diag_clear(&d);
        int rc = ictal_model_parse(&m, b, len, &d);
        CHECK_MSG(rc == ICTAL_EFORMAT, "case %zu: rc %d", i, rc);
        CHECK_MSG(strstr(d.message, cases[i].msg) != NULL, "case %zu: '%s'", i, d.message);
    }
    /* A NaN threshold. */
    memcpy(b, good, len);
    b[104 + 4 + 3] = 0x7F;
    b[104 + 4 + 2] = 0xC0;
    fix_crc(b, len);
    CHECK_EQ_INT(ictal_model_parse(&m, b, len, &d), ICTAL_EFORMAT);
    CHECK(strstr(d.message, "not finite") != NULL);
    /* A newer version. */
    memcpy(b, good, len);
    b[8] = 2;
    fix_crc(b, len);
    CHECK_EQ_INT(ictal_model_parse(&m, b, len, &d), ICTAL_EVERSION);
    /* Not a model at all. */
    CHECK_EQ_INT(ictal_model_parse(&m, "hello world, not a model at all", 31, &d), ICTAL_EFORMAT);
    CHECK(strstr(d.message, "magic") != NULL);
    CHECK_EQ_INT(ictal_model_parse(NULL, good, len, &d), ICTAL_EINVAL);

    /* A model the detector cannot use: another feature set. */
    ictal_model_info in2;
    tree_info(&in2);
    CHECK_EQ_INT(ictal_model_serialize(&in2, b, sizeof b, &len, NULL), 0);
    CHECK_EQ_INT(ictal_model_parse(&m, b, len, NULL), 0);
    ictal_config cfg;
    ictal_config_init(&cfg);
    cfg.n_channels = 4;
    cfg.rate_hz = 256;
    cfg.model = &m; /* 3 features, the detector computes ICTAL_N_FEATURES */
    CHECK_EQ_INT(ictal_config_check(&cfg, &d), ICTAL_EVERSION);
    CHECK(strstr(d.message, "feature set") != NULL);
    CHECK_EQ_INT(ictal_detector_size(&cfg), 0);
}

int main(void)
{
    test_trees();
    test_logistic();
    test_corrupt();
    return test_summary();
}
