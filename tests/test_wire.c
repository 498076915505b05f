/* The device frame codec (ictal/wire.h): round trips and every rejection. */
#include <stdint.h>
#include <string.h>

#include "ictal/wire.h"
#include "test.h"

static size_t make(uint8_t *buf, size_t cap, int format, int nch, uint32_t ns, float scale)
{
    static uint8_t payload[ICTAL_WIRE_MAX_FRAME_BYTES];
    size_t sb = ictal_wire_sample_bytes(format);
    for (size_t i = 0; i < ns * (size_t)nch * sb; i++)
        payload[i] = (uint8_t)(i * 7 + 3);
    ictal_wire_frame f = {42, 1700000000123456, (ictal_wire_format)format, nch, ns, scale, payload,
                          ns * (size_t)nch * sb};
    long n = ictal_wire_encode(buf, cap, &f);
    return n > 0 ? (size_t)n : 0;
}

static int parse_code(const uint8_t *buf, size_t n, const char **field)
{
    ictal_wire_frame f;
    ictal_diag d;
    ictal_diag_init(&d);
    int rc = ictal_wire_parse(buf, n, &f, &d);
    if (field)
        *field = d.field;
    return rc;
}

int main(void)
{
    static uint8_t buf[ICTAL_WIRE_MAX_FRAME_BYTES + 16];
    /* int16 round trip with the documented layout. */
    size_t n = make(buf, sizeof buf, ICTAL_WIRE_INT16, 4, 64, 0.5f);
    CHECK_EQ_INT(n, 32 + 64 * 4 * 2);
    CHECK(memcmp(buf, "ICTF", 4) == 0);
    CHECK_EQ_INT(buf[4], 1);
    CHECK_EQ_INT(buf[5], 1);
    CHECK_EQ_INT(buf[6] | (buf[7] << 8), 4);
    CHECK_EQ_INT(buf[8], 42);
    CHECK_EQ_INT(buf[24] | (buf[25] << 8), 64);
    ictal_wire_frame f;
    CHECK_EQ_INT(ictal_wire_parse(buf, n, &f, NULL), 0);
    CHECK_EQ_INT(f.seq, 42);
    CHECK_EQ_INT(f.device_time_us, 1700000000123456LL);
    CHECK_EQ_INT(f.n_channels, 4);
    CHECK_EQ_INT(f.n_samples, 64);
    CHECK_NEAR(f.scale_uv, 0.5, 0);
    float uv[64 * 4];
    ictal_wire_decode_uv(&f, uv);
    int16_t s0 = (int16_t)(buf[32] | (buf[33] << 8));
    CHECK_NEAR(uv[0], s0 * 0.5, 0);
    int16_t s5 = (int16_t)(buf[32 + 10] | (buf[33 + 10] << 8));
    CHECK_NEAR(uv[5], s5 * 0.5, 0); /* frame 1, channel 1: frame-major */

    /* float32 */
    n = make(buf, sizeof buf, ICTAL_WIRE_FLOAT32, 2, 3, 0);
    CHECK_EQ_INT(ictal_wire_parse(buf, n, &f, NULL), 0);
    CHECK_EQ_INT(f.format, ICTAL_WIRE_FLOAT32);

    /* The largest frame that fits, and one sample more. */
    CHECK(ictal_wire_frame_bytes(ICTAL_WIRE_INT16, 32, 1023) > 0);
    CHECK_EQ_INT(ictal_wire_frame_bytes(ICTAL_WIRE_INT16, 32, 1024), 0);
    CHECK_EQ_INT(ictal_wire_frame_bytes(ICTAL_WIRE_INT16, 33, 1), 0);
    CHECK_EQ_INT(ictal_wire_frame_bytes(ICTAL_WIRE_INT16, 0, 1), 0);
    CHECK_EQ_INT(ictal_wire_frame_bytes(3, 1, 1), 0);

    /* Rejections, each naming its field. */
    const char *field = NULL;
    n = make(buf, sizeof buf, ICTAL_WIRE_INT16, 4, 64, 0.5f);
    CHECK_EQ_INT(parse_code(buf, 31, &field), ICTAL_ETRUNC);
    CHECK_EQ_INT(parse_code(buf, n - 1, &field), ICTAL_ETRUNC);
    CHECK_STR(field, "payload");
    CHECK_EQ_INT(parse_code(buf, n + 1, &field), ICTAL_EFORMAT);
    CHECK_STR(field, "payload");
    CHECK_EQ_INT(parse_code(buf, sizeof buf, &field), ICTAL_ERANGE);
    buf[0] = 'X';
    CHECK_EQ_INT(parse_code(buf, n, &field), ICTAL_EFORMAT);
    CHECK_STR(field, "magic");
    buf[0] = 'I';
    buf[4] = 2;
    CHECK_EQ_INT(parse_code(buf, n, &field), ICTAL_EVERSION);
    buf[4] = 1;
    buf[5] = 9;
    CHECK_EQ_INT(parse_code(buf, n, &field), ICTAL_EFORMAT);
    CHECK_STR(field, "format");
    buf[5] = 1;
    buf[6] = 0;
    CHECK_EQ_INT(parse_code(buf, n, &field), ICTAL_ERANGE);
    CHECK_STR(field, "n_channels");
    buf[6] = 33;
    CHECK_EQ_INT(parse_code(buf, n, &field), ICTAL_ERANGE);
    buf[6] = 4;
    buf[24] = 0;
    CHECK_EQ_INT(parse_code(buf, n, &field), ICTAL_ERANGE);
    CHECK_STR(field, "n_samples");
    buf[24] = 64;
    float bad = -1.0f;
    memcpy(buf + 28, &bad, 4);
    CHECK_EQ_INT(parse_code(buf, n, &field), ICTAL_EFORMAT);
    CHECK_STR(field, "scale_uv");
    bad = 0.5f;
    memcpy(buf + 28, &bad, 4);
    CHECK_EQ_INT(parse_code(buf, n, NULL), 0);
    /* A float32 frame must carry scale 0 (one encoding per frame). */
    n = make(buf, sizeof buf, ICTAL_WIRE_FLOAT32, 2, 3, 0);
    memcpy(buf + 28, &bad, 4);
    CHECK_EQ_INT(parse_code(buf, n, &field), ICTAL_EFORMAT);
    float negzero = -0.0f; /* equal to 0, but another encoding */
    memcpy(buf + 28, &negzero, 4);
    CHECK_EQ_INT(parse_code(buf, n, &field), ICTAL_EFORMAT);

    /* Encoding checks its arguments. */
    ictal_wire_frame g = {0, 0, ICTAL_WIRE_INT16, 1, 1, 1.0f, buf, 3};
    CHECK_EQ_INT(ictal_wire_encode(buf, sizeof buf, &g), ICTAL_EINVAL);
    g.payload_bytes = 2;
    CHECK_EQ_INT(ictal_wire_encode(buf, 10, &g), ICTAL_ENOMEM);
    return test_summary();
}
