/*
 * NumPy .npy back-end of ictal/recording.h. The format
 * (numpy.org/devdocs/reference/generated/numpy.lib.format.html): the magic
 * "\x93NUMPY", a major and minor version byte, the header length (2 bytes little-endian
 * in v1, 4 bytes in v2 and v3), then a Python dict literal such as
 *   {'descr': '<f8', 'fortran_order': False, 'shape': (23, 2561), }
 * padded with spaces to a multiple of 64 bytes and ended by '\n', then the raw data.
 * A C-order (channels, samples) array stores each channel contiguously, so a read of N
 * frames gathers N values from each channel's run.
 */
#include "rec_internal.h"
#include "textio.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NPY_MAX_CHANNELS 4096
#define NPY_MAX_HEADER (1 << 20)

static const char *find_key(const char *s, size_t n, const char *key)
{
    size_t k = strlen(key);
    for (size_t i = 0; i + k + 2 <= n; i++) {
        if ((s[i] == '\'' || s[i] == '"') && memcmp(s + i + 1, key, k) == 0 &&
            s[i + 1 + k] == s[i]) {
            size_t j = i + k + 2;
            while (j < n && s[j] == ' ')
                j++;
            if (j < n && s[j] == ':') {
                j++;
                while (j < n && s[j] == ' ')
                    j++;
                return j < n ? s + j : NULL;
            }
        }
    }
    return NULL;
}

int ictal__npy_parse_header(const unsigned char *buf, size_t len, ictal__npy_header *h,
                            ictal_diag *d)
{
    memset(h, 0, sizeof(*h));
    if (d != NULL)
        d->offset = 0;
    if (len < 10 || memcmp(buf, "\x93NUMPY", 6) != 0)
        return ictal_diag_error(d, len < 10 ? ICTAL_ETRUNC : ICTAL_EFORMAT,
                                "not a NumPy .npy file (no \\x93NUMPY magic)");
    h->major = buf[6];
    size_t hlen, start;
    if (h->major == 1) {
        hlen = (size_t)buf[8] | ((size_t)buf[9] << 8);
        start = 10;
    } else if (h->major == 2 || h->major == 3) {
        if (len < 12)
            return ictal_diag_error(d, ICTAL_ETRUNC, "file ends inside the .npy preamble");
        hlen = (size_t)buf[8] | ((size_t)buf[9] << 8) | ((size_t)buf[10] << 16) |
               ((size_t)buf[11] << 24);
        start = 12;
    } else {
        if (d != NULL)
            d->offset = 6;
        return ictal_diag_error(d, ICTAL_EVERSION, ".npy version %d.%d: expected 1.x, 2.x or 3.x",
                                buf[6], buf[7]);
    }
    if (hlen > NPY_MAX_HEADER)
        return ictal_diag_error(d, ICTAL_EFORMAT, ".npy header of %zu bytes: too long", hlen);
    if (start + hlen > len) {
        if (d != NULL)
            d->offset = (int64_t)len;
        return ictal_diag_error(d, ICTAL_ETRUNC,
                                "file ends inside the .npy header (%zu of %zu bytes)",
                                len - start, hlen);
    }
    const char *s = (const char *)buf + start;
    h->data_offset = (int64_t)(start + hlen);
    if (d != NULL)
        d->offset = (int64_t)start;

    const char *v = find_key(s, hlen, "descr");
    if (v == NULL || (*v != '\'' && *v != '"'))
        return ictal_diag_error(d, ICTAL_EFORMAT, ".npy header without a 'descr' string");
    char q = *v++;
    size_t k = 0;
    while (v + k < s + hlen && v[k] != q && k < sizeof(h->descr) - 1)
        k++;
    if (v + k >= s + hlen || v[k] != q)
        return ictal_diag_error(d, ICTAL_EFORMAT, ".npy 'descr' is not a short dtype string");
    memcpy(h->descr, v, k);
    h->descr[k] = '\0';
    static const struct {
        const char *descr;
        int kind, size, big;
    } dtypes[] = {{"<f8", 'f', 8, 0}, {"<f4", 'f', 4, 0}, {"<i2", 'i', 2, 0}, {">f8", 'f', 8, 1},
                  {">f4", 'f', 4, 1}, {">i2", 'i', 2, 1}, {"|i1", 'i', 1, 0}, {"<i4", 'i', 4, 0},
                  {">i4", 'i', 4, 1}};
    for (size_t i = 0; i < sizeof(dtypes) / sizeof(dtypes[0]); i++)
        if (strcmp(h->descr, dtypes[i].descr) == 0) {
            h->kind = dtypes[i].kind;
            h->size = dtypes[i].size;
            h->big_endian = dtypes[i].big;
        }
    if (h->kind == 0)
        return ictal_diag_error(d, ICTAL_ENOTSUP,
                                ".npy dtype '%s' is not supported: expected <f8, <f4 or <i2 "
                                "(also >f8 >f4 >i2 <i4 >i4 |i1)",
                                h->descr);

    v = find_key(s, hlen, "fortran_order");
    if (v != NULL && (size_t)(s + hlen - v) >= 4 && memcmp(v, "True", 4) == 0)
        h->fortran = 1;
    else if (v == NULL || (size_t)(s + hlen - v) < 5 || memcmp(v, "False", 5) != 0)
        return ictal_diag_error(d, ICTAL_EFORMAT,
                                ".npy header without 'fortran_order': True or False");

    v = find_key(s, hlen, "shape");
    if (v == NULL || *v != '(')
        return ictal_diag_error(d, ICTAL_EFORMAT, ".npy header without a 'shape' tuple");
    v++;
    const char *end = s + hlen;
    h->ndim = 0;
    for (;;) {
        while (v < end && *v == ' ')
            v++;
        if (v < end && *v == ')')
            break;
        if (v >= end || *v < '0' || *v > '9')
            return ictal_diag_error(d, ICTAL_EFORMAT, ".npy 'shape' is not a tuple of sizes");
        int64_t x = 0;
        while (v < end && *v >= '0' && *v <= '9') {
            if (x > (INT64_C(1) << 40))
                return ictal_diag_error(d, ICTAL_ERANGE, ".npy 'shape' holds a size too large");
            x = x * 10 + (*v - '0');
            v++;
        }
        if (h->ndim == 2)
            return ictal_diag_error(d, ICTAL_ENOTSUP,
                                    ".npy array of more than 2 dimensions: expected (channels, "
                                    "samples) or (samples,)");
        h->shape[h->ndim++] = x;
        while (v < end && *v == ' ')
            v++;
        if (v < end && *v == ',')
            v++;
    }
    if (h->ndim == 0)
        return ictal_diag_error(d, ICTAL_ENOTSUP, ".npy scalar: expected (channels, samples)");
    return 0;
}

/* Whether the host stores numbers little-endian (as .npy's '<' types). */
static int host_little_endian(void)
{
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* Converts n items of the file's dtype at src into dst[i * stride] as float. Returns n,
 * or the index of the first value that is not finite (or beyond float's range). */
static size_t convert(const ictal_recording *r, const unsigned char *src, size_t n, float *dst,
                      size_t stride)
{
    size_t item = (size_t)r->dtype_size;
    int swap = r->big_endian == host_little_endian();
    /* The common cases in tight loops: native <f8, <f4, <i2. */
    if (!swap && r->dtype_kind == 'f' && item == 8) {
        for (size_t i = 0; i < n; i++) {
            double v;
            memcpy(&v, src + i * 8, 8);
            if (!(v >= -3.4e38 && v <= 3.4e38))
                return i;
            dst[i * stride] = (float)v;
        }
        return n;
    }
    if (!swap && r->dtype_kind == 'f' && item == 4) {
        for (size_t i = 0; i < n; i++) {
            float v;
            memcpy(&v, src + i * 4, 4);
            if (!(v >= -3.4e38f && v <= 3.4e38f))
                return i;
            dst[i * stride] = v;
        }
        return n;
    }
    if (!swap && item == 2) {
        for (size_t i = 0; i < n; i++) {
            int16_t v;
            memcpy(&v, src + i * 2, 2);
            dst[i * stride] = (float)v;
        }
        return n;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char b[8];
        const unsigned char *p = src + i * item;
        if (swap)
            for (size_t j = 0; j < item; j++)
                b[j] = p[item - 1 - j];
        else
            memcpy(b, p, item);
        double v;
        if (r->dtype_kind == 'f' && item == 8) {
            memcpy(&v, b, 8);
            if (!(v >= -3.4e38 && v <= 3.4e38))
                return i; /* NaN, infinite, or out of float's range */
        } else if (r->dtype_kind == 'f') {
            float x;
            memcpy(&x, b, 4);
            if (!(x >= -3.4e38f && x <= 3.4e38f))
                return i;
            v = x;
        } else if (item == 1) {
            v = (int8_t)b[0];
        } else if (item == 2) {
            int16_t x;
            memcpy(&x, b, 2);
            v = x;
        } else {
            int32_t x;
            memcpy(&x, b, 4);
            v = x;
        }
        dst[i * stride] = (float)v;
    }
    return n;
}

static int64_t npy_read(ictal_recording *r, float *frames, int64_t max_frames, ictal_diag *d)
{
    int64_t left = r->n_samples - r->pos;
    int64_t n = max_frames < left ? max_frames : left;
    if (n <= 0)
        return 0;
    int nc = r->info.n_channels;
    size_t item = (size_t)r->dtype_size;
    /* C order: one run per channel. Fortran order: frames are already interleaved. */
    int runs = r->fortran ? 1 : nc;
    size_t per_run = r->fortran ? (size_t)n * (size_t)nc : (size_t)n;
    size_t need = per_run * item;
    if (need > r->tmp_size) {
        unsigned char *t = realloc(r->tmp, need);
        if (t == NULL)
            return ictal_diag_error(d, ICTAL_ENOMEM, "out of memory");
        r->tmp = t;
        r->tmp_size = need;
    }
    for (int run = 0; run < runs; run++) {
        int64_t first = r->fortran ? r->pos * nc : (int64_t)run * r->n_samples + r->pos;
        int64_t off = r->data_offset + first * (int64_t)item;
        if (d != NULL)
            d->offset = off;
        if (fseeko(r->f, (off_t)off, SEEK_SET) != 0)
            return ictal_diag_error(d, ICTAL_EIO, "seek failed");
        size_t got = fread(r->tmp, 1, need, r->f);
        if (got != need) {
            if (d != NULL) {
                d->offset = off + (int64_t)got;
                d->signal = r->fortran ? -1 : run;
            }
            return ictal_diag_error(d, ICTAL_ETRUNC,
                                    "the .npy data end early: the shape needs %lld bytes of data",
                                    (long long)(r->n_samples * nc * (int64_t)item));
        }
        size_t stride = r->fortran ? 1 : (size_t)nc;
        float *dst = r->fortran ? frames : frames + run;
        size_t bad = convert(r, r->tmp, per_run, dst, stride);
        if (bad < per_run) {
            int ch = r->fortran ? (int)(bad % (size_t)nc) : run;
            int64_t s = r->pos + (int64_t)(r->fortran ? bad / (size_t)nc : bad);
            if (d != NULL) {
                d->signal = ch;
                d->offset = off + (int64_t)(bad * item);
            }
            return ictal_diag_error(d, ICTAL_ERANGE,
                                    "the value at channel %d, sample %lld is not a finite float",
                                    ch, (long long)s);
        }
    }
    r->pos += n;
    return n;
}

static int npy_rewind(ictal_recording *r, ictal_diag *d)
{
    (void)d;
    r->pos = 0;
    return 0;
}

static void npy_close(ictal_recording *r)
{
    if (r->f != NULL)
        fclose(r->f);
    r->f = NULL;
    free(r->tmp);
    r->tmp = NULL;
}

static const ictal__rec_ops npy_ops = {npy_read, npy_rewind, npy_close};

int ictal__rec_open_npy(ictal_recording *r, const ictal_recording_options *opt, ictal_diag *d)
{
    r->ops = &npy_ops;
    r->f = fopen(r->path, "rb");
    if (r->f == NULL)
        return ictal__open_error(d, errno);
    unsigned char pre[12];
    size_t n = fread(pre, 1, sizeof(pre), r->f);
    size_t hlen = 0;
    if (n >= 10 && pre[6] == 1)
        hlen = 10 + ((size_t)pre[8] | ((size_t)pre[9] << 8));
    else if (n >= 12)
        hlen = 12 + ((size_t)pre[8] | ((size_t)pre[9] << 8) | ((size_t)pre[10] << 16) |
                     ((size_t)pre[11] << 24));
    if (hlen > NPY_MAX_HEADER + 12)
        hlen = NPY_MAX_HEADER + 12;
    if (hlen < n)
        hlen = n;
    unsigned char *hdr = malloc(hlen);
    if (hdr == NULL)
        return ictal_diag_error(d, ICTAL_ENOMEM, "out of memory");
    memcpy(hdr, pre, n);
    size_t got = n + fread(hdr + n, 1, hlen - n, r->f);
    ictal__npy_header h;
    int rc = ictal__npy_parse_header(hdr, got, &h, d);
    free(hdr);
    if (rc != 0)
        return rc;
    int64_t nc = h.ndim == 1 ? 1 : h.shape[0];
    int64_t ns = h.ndim == 1 ? h.shape[0] : h.shape[1];
    if (nc < 1 || nc > NPY_MAX_CHANNELS)
        return ictal_diag_error(d, ICTAL_ENOTSUP,
                                ".npy shape (%lld, %lld): expected (channels, samples) with 1 to "
                                "%d channels%s",
                                (long long)nc, (long long)ns, NPY_MAX_CHANNELS,
                                ns > 0 && ns <= NPY_MAX_CHANNELS ? " (transpose the array?)" : "");
    /* The data must all be there. */
    if (fseeko(r->f, 0, SEEK_END) != 0)
        return ictal_diag_error(d, ICTAL_EIO, "seek failed");
    int64_t size = (int64_t)ftello(r->f);
    int64_t need = nc * ns * h.size;
    if (size - h.data_offset < need) {
        if (d != NULL)
            d->offset = size;
        return ictal_diag_error(d, ICTAL_ETRUNC,
                                "truncated .npy: shape (%lld, %lld) of %s needs %lld bytes of "
                                "data, the file holds %lld",
                                (long long)nc, (long long)ns, h.descr, (long long)need,
                                (long long)(size - h.data_offset));
    }
    r->data_offset = h.data_offset;
    r->n_samples = ns;
    r->dtype_kind = h.kind;
    r->dtype_size = h.size;
    r->big_endian = h.big_endian;
    r->fortran = h.fortran && h.ndim == 2;
    r->info.n_frames = ns;
    snprintf(r->layout, sizeof(r->layout), "npy %s (%lld, %lld)%s", h.descr, (long long)nc,
             (long long)ns, r->fortran ? " Fortran order" : "");
    if (nc == 23) {
        /* The CHB-MIT layout: its labels and rate unless the caller says otherwise. */
        r->info.sample_rate_hz = 256;
        r->info.rate_source = "default (CHB-MIT 256 Hz)";
    }
    rc = ictal__rec_set_labels(r, (int)nc, nc == 23 ? ictal_chbmit_labels : NULL, d);
    if (rc == 0)
        rc = ictal__rec_apply_option_labels(r, opt, d);
    if (d != NULL)
        d->offset = -1;
    return rc;
}
