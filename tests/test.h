/*
 * A minimal test harness: CHECK-style assertions that count and report, and helpers
 * to find data. Each tests/test_*.c is one executable and one ctest test; it ends with
 * `return test_summary();`, which prints "N passed, N failed" and returns non-zero on
 * failure. Exit code 77 means skipped (ctest SKIP_RETURN_CODE).
 */
#ifndef ICTAL_TEST_H
#define ICTAL_TEST_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test__passed, test__failed;

#define TEST_SKIP_CODE 77

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (cond) {                                                                                \
            test__passed++;                                                                        \
        } else {                                                                                   \
            test__failed++;                                                                        \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)

#define CHECK_MSG(cond, ...)                                                                       \
    do {                                                                                           \
        if (cond) {                                                                                \
            test__passed++;                                                                        \
        } else {                                                                                   \
            test__failed++;                                                                        \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond);               \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                         \
    do {                                                                                           \
        long long test__a = (long long)(a), test__b = (long long)(b);                              \
        CHECK_MSG(test__a == test__b, "%s = %lld, %s = %lld", #a, test__a, #b, test__b);           \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                                      \
    do {                                                                                           \
        double test__a = (double)(a), test__b = (double)(b);                                       \
        CHECK_MSG((isnan(test__a) && isnan(test__b)) || fabs(test__a - test__b) <= (tol),          \
                  "%s = %.12g, %s = %.12g", #a, test__a, #b, test__b);                             \
    } while (0)

#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *test__a = (a), *test__b = (b);                                                 \
        CHECK_MSG(test__a != NULL && test__b != NULL && strcmp(test__a, test__b) == 0,             \
                  "%s = \"%s\", %s = \"%s\"", #a, test__a ? test__a : "(null)", #b,                \
                  test__b ? test__b : "(null)");                                                   \
    } while (0)

/* Uniform in [0, 1) from a xorshift64 state (seeded by the caller, never 0): the same
 * sequence on every platform, so tests built on random data are reproducible. */
static inline double test_uniform(uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return (double)(*state >> 11) / 9007199254740992.0;
}

/* Removes a test's temporary directory and everything in it: 0, or -1 (said on stderr). */
static inline int test_remove_dir(const char *dir)
{
    char cmd[4200];
    if (strchr(dir, '\'') != NULL || (size_t)snprintf(cmd, sizeof cmd, "rm -rf -- '%s'", dir) >= sizeof cmd ||
        system(cmd) != 0) {
        fprintf(stderr, "could not remove %s\n", dir);
        return -1;
    }
    return 0;
}

static inline int test_summary(void)
{
    printf("%d passed, %d failed\n", test__passed, test__failed);
    return test__failed == 0 ? 0 : 1;
}

/* Path of a file under ../shared (ICTAL_SHARED), or NULL when it is not there. The
 * result is in a static buffer per call slot; copy it if you keep several. */
static inline const char *test_shared_path(const char *rel)
{
    static char bufs[8][1024];
    static int slot;
    const char *root = getenv("ICTAL_SHARED");
    if (root == NULL)
        return NULL;
    char *buf = bufs[slot++ % 8];
    snprintf(buf, sizeof(bufs[0]), "%s/%s", root, rel);
    FILE *f = fopen(buf, "rb");
    if (f == NULL)
        return NULL;
    fclose(f);
    return buf;
}

/* Path of a committed fixture under tests/fixtures (ICTAL_FIXTURES). */
static inline const char *test_fixture_path(const char *rel)
{
    static char bufs[8][1024];
    static int slot;
    const char *root = getenv("ICTAL_FIXTURES");
    char *buf = bufs[slot++ % 8];
    snprintf(buf, sizeof(bufs[0]), "%s/%s", root ? root : "tests/fixtures", rel);
    return buf;
}

/* Call when data a test needs is absent: says so and exits as skipped. */
#define TEST_SKIP(...)                                                                             \
    do {                                                                                           \
        printf("SKIP: ");                                                                          \
        printf(__VA_ARGS__);                                                                       \
        printf("\n");                                                                              \
        exit(TEST_SKIP_CODE);                                                                      \
    } while (0)

#endif
