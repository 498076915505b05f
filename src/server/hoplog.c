#include "server/hoplog.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put_f32(unsigned char *p, float v)
{
    uint32_t u;
    memcpy(&u, &v, 4);
    p[0] = (unsigned char)u;
    p[1] = (unsigned char)(u >> 8);
    p[2] = (unsigned char)(u >> 16);
    p[3] = (unsigned char)(u >> 24);
}

static float get_f32(const unsigned char *p)
{
    uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    float v;
    memcpy(&v, &u, 4);
    return v;
}

void ictal__hoplog_encode(unsigned char out[ICTAL__HOPLOG_ENTRY], float t_s, float prob,
                          float burden)
{
    put_f32(out, t_s);
    put_f32(out + 4, prob);
    put_f32(out + 8, burden);
}

static json_t *num_or_null(float v)
{
    return isnan(v) ? json_null() : json_real(v);
}

json_t *ictal__hoplog_json(const char *path, double from_s, double to_s, size_t max_points,
                           size_t *hops, int *rc)
{
    *hops = 0;
    *rc = 0;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        *rc = errno == ENOENT ? ICTAL_ENOENT : ICTAL_EIO;
        return NULL;
    }
    /* The entries in range, decoded (a day of 0.5 s hops is 2 MB). */
    float *e = NULL;
    size_t n = 0, cap = 0;
    unsigned char b[ICTAL__HOPLOG_ENTRY];
    while (fread(b, 1, sizeof b, f) == sizeof b) {
        float t = get_f32(b);
        if (!(t >= from_s && t <= to_s))
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 1024;
            float *ne = realloc(e, nc * 3 * sizeof *ne);
            if (ne == NULL) {
                free(e);
                fclose(f);
                *rc = ICTAL_ENOMEM;
                return NULL;
            }
            e = ne;
            cap = nc;
        }
        e[n * 3] = t;
        e[n * 3 + 1] = get_f32(b + 4);
        e[n * 3 + 2] = get_f32(b + 8);
        n++;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(e);
        *rc = ICTAL_EIO;
        return NULL;
    }
    *hops = n;
    if (max_points < 1)
        max_points = 1;
    size_t buckets = n < max_points ? n : max_points;
    json_t *a = json_array();
    for (size_t k = 0; k < buckets; k++) {
        size_t lo = k * n / buckets, hi = (k + 1) * n / buckets;
        size_t best = lo;
        for (size_t i = lo + 1; i < hi; i++)
            if (e[i * 3 + 1] > e[best * 3 + 1] || (isnan(e[best * 3 + 1]) && !isnan(e[i * 3 + 1])))
                best = i;
        json_array_append_new(a, json_pack("[f, o, o]", (double)e[best * 3],
                                           num_or_null(e[best * 3 + 1]),
                                           num_or_null(e[best * 3 + 2])));
    }
    free(e);
    return a;
}
