/*
 * ictal/wire.h - the device protocol's binary sample frame (docs/protocol.md).
 *
 * A device streams EEG to `ictal serve` over WebSocket: one JSON hello (text message),
 * then one binary message per frame. A frame is a 32-byte header followed by the
 * payload, all little-endian:
 *
 *   offset size  field
 *    0      4    magic "ICTF"
 *    4      1    version (ICTAL_WIRE_VERSION = 1)
 *    5      1    sample format: 1 = int16 (value_uv = sample * scale_uv), 2 = float32 µV
 *    6      2    n_channels (u16), 1..ICTAL_WIRE_MAX_CHANNELS
 *    8      8    seq (u64): 0, 1, 2, ... per device, never reused
 *   16      8    device timestamp of the first sample (i64, µs since the Unix epoch)
 *   24      4    n_samples per channel (u32), 1..ICTAL_WIRE_MAX_SAMPLES
 *   28      4    scale_uv (f32): µV per int16 step; must be finite and > 0 for int16,
 *                0 for float32
 *   32      ...  payload: n_samples frames of n_channels samples, frame-major
 *                (payload[s * n_channels + c]), 2 or 4 bytes each
 *
 * The message length must equal 32 + n_samples * n_channels * sample size exactly,
 * and never exceed ICTAL_WIRE_MAX_FRAME_BYTES.
 *
 * Parsing reads only the given buffer and never allocates: the payload stays where
 * it is and is decoded on demand with ictal_wire_decode_uv(). Part of ictal-server,
 * but free of dependencies so that device firmware can reuse it.
 */
#ifndef ICTAL_WIRE_H
#define ICTAL_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "ictal/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ICTAL_WIRE_VERSION 1
#define ICTAL_WIRE_HEADER_BYTES 32
#define ICTAL_WIRE_MAX_CHANNELS 32
#define ICTAL_WIRE_MAX_SAMPLES 4096          /* per channel and frame */
#define ICTAL_WIRE_MAX_FRAME_BYTES 65536     /* header + payload */

typedef enum ictal_wire_format {
    ICTAL_WIRE_INT16 = 1,
    ICTAL_WIRE_FLOAT32 = 2
} ictal_wire_format;

typedef struct ictal_wire_frame {
    uint64_t seq;
    int64_t device_time_us;
    ictal_wire_format format;
    int n_channels;
    uint32_t n_samples;      /* per channel */
    float scale_uv;          /* int16 only */
    const uint8_t *payload;  /* points into the parsed buffer */
    size_t payload_bytes;
} ictal_wire_frame;

/* Bytes of one sample in a format (2 or 4), or 0 for an unknown format. */
size_t ictal_wire_sample_bytes(int format);

/* Total message size for a frame of this shape, or 0 when the shape is out of limits. */
size_t ictal_wire_frame_bytes(int format, int n_channels, uint32_t n_samples);

/*
 * Parses and validates one binary message of size bytes. On success fills *out
 * (payload pointing into buf). Errors: ICTAL_ETRUNC (shorter than the header or
 * than the header says), ICTAL_EFORMAT (bad magic, format, scale, trailing bytes),
 * ICTAL_EVERSION, ICTAL_ERANGE (channels or samples outside the limits, message too
 * big); d (may be NULL) gets the field and byte offset.
 */
int ictal_wire_parse(const void *buf, size_t size, ictal_wire_frame *out, ictal_diag *d);

/*
 * Writes the header of f (payload ignored) then copies payload_bytes from f->payload
 * into buf (size bytes). Returns the message size, or a negative ICTAL_E* code:
 * ICTAL_ERANGE for a shape out of limits, ICTAL_EINVAL for a payload size that does not
 * match, ICTAL_ENOMEM when buf is too small.
 */
long ictal_wire_encode(void *buf, size_t size, const ictal_wire_frame *f);

/* Decodes the payload of a parsed frame into n_samples * n_channels floats in µV. */
void ictal_wire_decode_uv(const ictal_wire_frame *f, float *out_uv);

#ifdef __cplusplus
}
#endif
#endif /* ICTAL_WIRE_H */
