/* The device protocol's binary frame: parse, encode, decode (ictal/wire.h). */
#include "ictal/wire.h"

#include <math.h>
#include <string.h>

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | ((uint64_t)rd32(p + 4) << 32); }
static void wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void wr32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static void wr64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static float f32_from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}
static uint32_t bits_from_f32(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

size_t ictal_wire_sample_bytes(int format)
{
    return format == ICTAL_WIRE_INT16 ? 2 : format == ICTAL_WIRE_FLOAT32 ? 4 : 0;
}

size_t ictal_wire_frame_bytes(int format, int n_channels, uint32_t n_samples)
{
    size_t sb = ictal_wire_sample_bytes(format);
    if (sb == 0 || n_channels < 1 || n_channels > ICTAL_WIRE_MAX_CHANNELS || n_samples < 1 ||
        n_samples > ICTAL_WIRE_MAX_SAMPLES)
        return 0;
    size_t total = ICTAL_WIRE_HEADER_BYTES + (size_t)n_samples * (size_t)n_channels * sb;
    return total <= ICTAL_WIRE_MAX_FRAME_BYTES ? total : 0;
}

/* Sets the diagnostic's location and records the error. */
static int fail(ictal_diag *d, int code, int64_t offset, const char *field, const char *msg,
                long long value)
{
    if (d) {
        d->offset = offset;
        d->field = field;
    }
    return ictal_diag_error(d, code, "%s (got %lld)", msg, value);
}

int ictal_wire_parse(const void *buf, size_t size, ictal_wire_frame *out, ictal_diag *d)
{
    const uint8_t *p = buf;
    if (buf == NULL || out == NULL)
        return ictal_diag_error(d, ICTAL_EINVAL, "NULL argument");
    if (size > ICTAL_WIRE_MAX_FRAME_BYTES)
        return fail(d, ICTAL_ERANGE, 0, "length", "frame larger than 65536 bytes", (long long)size);
    if (size < ICTAL_WIRE_HEADER_BYTES)
        return fail(d, ICTAL_ETRUNC, 0, "length", "frame shorter than its 32-byte header",
                    (long long)size);
    if (memcmp(p, "ICTF", 4) != 0)
        return fail(d, ICTAL_EFORMAT, 0, "magic", "expected magic \"ICTF\"", (long long)rd32(p));
    if (p[4] != ICTAL_WIRE_VERSION)
        return fail(d, ICTAL_EVERSION, 4, "version", "unsupported frame version, expected 1", p[4]);
    int format = p[5];
    if (ictal_wire_sample_bytes(format) == 0)
        return fail(d, ICTAL_EFORMAT, 5, "format", "sample format must be 1 (int16) or 2 (float32)",
                    format);
    int n_channels = rd16(p + 6);
    if (n_channels < 1 || n_channels > ICTAL_WIRE_MAX_CHANNELS)
        return fail(d, ICTAL_ERANGE, 6, "n_channels", "channel count must be 1..32", n_channels);
    uint32_t n_samples = rd32(p + 24);
    if (n_samples < 1 || n_samples > ICTAL_WIRE_MAX_SAMPLES)
        return fail(d, ICTAL_ERANGE, 24, "n_samples", "samples per channel must be 1..4096",
                    (long long)n_samples);
    float scale = f32_from_bits(rd32(p + 28));
    if (format == ICTAL_WIRE_INT16 && !(isfinite(scale) && scale > 0.0f))
        return fail(d, ICTAL_EFORMAT, 28, "scale_uv", "int16 frames need a finite scale > 0",
                    (long long)rd32(p + 28));
    if (format == ICTAL_WIRE_FLOAT32 && rd32(p + 28) != 0) /* +0 only: one encoding per frame */
        return fail(d, ICTAL_EFORMAT, 28, "scale_uv", "float32 frames must have scale 0",
                    (long long)rd32(p + 28));
    size_t want = ictal_wire_frame_bytes(format, n_channels, n_samples);
    if (want == 0)
        return fail(d, ICTAL_ERANGE, 24, "n_samples", "frame would exceed 65536 bytes",
                    (long long)n_samples);
    if (size < want)
        return fail(d, ICTAL_ETRUNC, (int64_t)size, "payload", "payload shorter than the header says",
                    (long long)size);
    if (size > want)
        return fail(d, ICTAL_EFORMAT, (int64_t)want, "payload", "trailing bytes after the payload",
                    (long long)size);
    out->seq = rd64(p + 8);
    out->device_time_us = (int64_t)rd64(p + 16);
    out->format = (ictal_wire_format)format;
    out->n_channels = n_channels;
    out->n_samples = n_samples;
    out->scale_uv = format == ICTAL_WIRE_INT16 ? scale : 0.0f;
    out->payload = p + ICTAL_WIRE_HEADER_BYTES;
    out->payload_bytes = want - ICTAL_WIRE_HEADER_BYTES;
    return 0;
}

long ictal_wire_encode(void *buf, size_t size, const ictal_wire_frame *f)
{
    if (buf == NULL || f == NULL)
        return ICTAL_EINVAL;
    size_t want = ictal_wire_frame_bytes(f->format, f->n_channels, f->n_samples);
    if (want == 0)
        return ICTAL_ERANGE;
    if (f->payload_bytes != want - ICTAL_WIRE_HEADER_BYTES || f->payload == NULL)
        return ICTAL_EINVAL;
    if (size < want)
        return ICTAL_ENOMEM;
    uint8_t *p = buf;
    memcpy(p, "ICTF", 4);
    p[4] = ICTAL_WIRE_VERSION;
    p[5] = (uint8_t)f->format;
    wr16(p + 6, (uint16_t)f->n_channels);
    wr64(p + 8, f->seq);
    wr64(p + 16, (uint64_t)f->device_time_us);
    wr32(p + 24, f->n_samples);
    wr32(p + 28, bits_from_f32(f->format == ICTAL_WIRE_INT16 ? f->scale_uv : 0.0f));
    memcpy(p + ICTAL_WIRE_HEADER_BYTES, f->payload, f->payload_bytes);
    return (long)want;
}

void ictal_wire_decode_uv(const ictal_wire_frame *f, float *out_uv)
{
    size_t n = (size_t)f->n_samples * (size_t)f->n_channels;
    const uint8_t *p = f->payload;
    if (f->format == ICTAL_WIRE_INT16) {
        for (size_t i = 0; i < n; i++)
            out_uv[i] = (float)(int16_t)rd16(p + 2 * i) * f->scale_uv;
    } else {
        for (size_t i = 0; i < n; i++)
            out_uv[i] = f32_from_bits(rd32(p + 4 * i));
    }
}
