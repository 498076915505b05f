/* The detector never allocates after init: this test replaces malloc and friends with
 * counting versions (forwarding to glibc's __libc_* functions), sets a detector up in a
 * static buffer, and runs ten minutes of real EEG through it with a model, NaN
 * samples, a reset, alarms and polling, then six more minutes with a feature-set-2 model:
 * the count must stay 0. (Sanitizer builds bring
 * their own allocator, so there the test is skipped; test_libictal_symbols.sh covers
 * them by proving libictal references no allocator at all.) */
#include "detect_util.h"
#include "ictal/ictal.h"
#include "test.h"

#if defined(__SANITIZE_ADDRESS__)
#define ICTAL_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ICTAL_TEST_SANITIZED 1
#endif
#endif

#if !defined(ICTAL_TEST_SANITIZED) && defined(__GLIBC__)
#define COUNTING 1
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);

static volatile int g_counting;
static volatile long g_calls;

void *malloc(size_t n);
void *calloc(size_t a, size_t b);
void *realloc(void *p, size_t n);
void free(void *p);

void *malloc(size_t n)
{
    if (g_counting)
        g_calls++;
    return __libc_malloc(n);
}
void *calloc(size_t a, size_t b)
{
    if (g_counting)
        g_calls++;
    return __libc_calloc(a, b);
}
void *realloc(void *p, size_t n)
{
    if (g_counting)
        g_calls++;
    return __libc_realloc(p, n);
}
void free(void *p)
{
    if (g_counting && p)
        g_calls++;
    __libc_free(p);
}
#endif

#ifdef COUNTING
static long g_hops, g_alarms;

static void on_hop(void *user, const ictal_hop *h)
{
    (void)user;
    (void)h;
    g_hops++;
}

static void on_alarm(void *user, const ictal_alarm *a)
{
    (void)user;
    (void)a;
    g_alarms++;
}
#endif

int main(void)
{
#ifndef COUNTING
    TEST_SKIP("a sanitizer or non-glibc build: allocation is checked by symbols instead");
#else
    const char *path = test_shared_path("data/chbmit-continuous/chb05_06_excerpt_uV_f32.npy");
    if (path == NULL)
        TEST_SKIP("needs ../shared/data/chbmit-continuous");
    int nch, ns;
    float *fr = du_load_npy_frames(path, &nch, &ns);
    CHECK(fr != NULL);
    if (fr == NULL)
        return test_summary();
    for (int s = 50 * 256; s < 51 * 256; s++)
        fr[(size_t)s * (size_t)nch + 2] = NAN;
    static unsigned char mb[4096];
    size_t ml = du_line_length_model(mb, sizeof mb, 3.8f, 4.0f);
    ictal_model m;
    CHECK(ml > 0 && ictal_model_parse(&m, mb, ml, NULL) == 0);

    _Alignas(16) static unsigned char mem[64 * 1024];
    ictal_config cfg;
    ictal_config_init(&cfg);
    cfg.n_channels = nch;
    cfg.rate_hz = 256;
    cfg.model = &m;
    cfg.on_hop = on_hop;
    cfg.on_alarm = on_alarm;
    size_t sz = ictal_detector_size(&cfg);
    CHECK(sz > 0 && sz <= sizeof mem);
    g_counting = 1;
    CHECK_EQ_INT(ictal_detector_init(mem, sz, &cfg), 0);
    ictal_detector *det = (ictal_detector *)mem;
    ictal_alarm a;
    long polled = 0;
    for (int round = 0; round < 4; round++) { /* 4 x 181 s, in pushes of 1000 frames */
        for (int s = 0; s < ns; s += 1000) {
            int n = ns - s < 1000 ? ns - s : 1000;
            ictal_detector_push(det, fr + (size_t)s * (size_t)nch, (size_t)n);
            while (ictal_detector_poll_alarm(det, &a))
                polled++;
        }
        if (round == 1)
            ictal_detector_reset(det, 1000.0);
    }
    g_counting = 0;
    CHECK_EQ_INT(g_calls, 0);
    CHECK(g_hops > 1400);
    CHECK(g_alarms >= 1); /* the line-length model fires on this seizure */
    CHECK(polled >= 1);
    printf("%ld hops, %ld alarm records, %ld allocator calls after init\n", g_hops, g_alarms,
           g_calls);

    /* The same with feature set 2 (a model on permutation entropy): its extra state is
     * laid out in the same buffer. */
    test_model t2;
    test_model_init(&t2);
    t2.feature_set = 2;
    t2.weights[ICTAL_F_PERM_ENTROPY] = -8.0f;
    t2.mean[ICTAL_F_PERM_ENTROPY] = 0.8f;
    static unsigned char mb2[4096];
    size_t ml2 = test_model_serialize(&t2, mb2, sizeof mb2);
    ictal_model m2;
    CHECK(ml2 > 0 && ictal_model_parse(&m2, mb2, ml2, NULL) == 0);
    cfg.model = &m2;
    sz = ictal_detector_size(&cfg);
    CHECK(sz > 0 && sz <= sizeof mem);
    long hops1 = g_hops;
    g_counting = 1;
    CHECK_EQ_INT(ictal_detector_init(mem, sz, &cfg), 0);
    for (int round = 0; round < 2; round++) {
        for (int s = 0; s < ns; s += 1000) {
            int n = ns - s < 1000 ? ns - s : 1000;
            ictal_detector_push(det, fr + (size_t)s * (size_t)nch, (size_t)n);
            while (ictal_detector_poll_alarm(det, &a))
                polled++;
        }
        ictal_detector_reset(det, 2000.0);
    }
    g_counting = 0;
    CHECK_EQ_INT(g_calls, 0);
    CHECK(g_hops - hops1 > 700);
    printf("set 2: %ld hops, %ld allocator calls after init\n", g_hops - hops1, g_calls);
    /* The counter counts: one allocation while counting is seen. */
    g_counting = 1;
    void *p = malloc(16);
    g_counting = 0;
    CHECK_EQ_INT(g_calls, 1);
    free(p);
    free(fr);
    return test_summary();
#endif
}
