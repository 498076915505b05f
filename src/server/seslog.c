/* The session frame log (seslog.h). */
#include "server/seslog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return ICTAL_EIO;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Walks fd from offset 0; *good_end gets the offset after the last complete entry. */
static int walk_fd(int fd, const char *path, ictal__seslog_fn fn, void *user, int64_t *good_end,
                   ictal_diag *d)
{
    FILE *f = fdopen(dup(fd), "rb");
    if (f == NULL)
        return ictal_diag_error(d, ICTAL_EIO, "%s: %s", path, strerror(errno));
    uint8_t *buf = malloc(ICTAL_WIRE_MAX_FRAME_BYTES);
    int rc = buf ? 0 : ICTAL_ENOMEM;
    int64_t off = 0;
    int64_t prev_seq = -1;
    while (rc == 0) {
        uint8_t lenb[4];
        if (fread(lenb, 1, 4, f) != 4)
            break;
        uint32_t len = (uint32_t)lenb[0] | ((uint32_t)lenb[1] << 8) | ((uint32_t)lenb[2] << 16) |
                       ((uint32_t)lenb[3] << 24);
        if (len > ICTAL_WIRE_MAX_FRAME_BYTES) {
            if (d) {
                d->source = path;
                d->offset = off;
            }
            rc = ictal_diag_error(d, ICTAL_EFORMAT, "entry length %u exceeds the frame limit", len);
            break;
        }
        if (fread(buf, 1, len, f) != len)
            break; /* torn tail */
        ictal_wire_frame fr;
        rc = ictal_wire_parse(buf, len, &fr, d);
        if (rc == 0 && prev_seq >= 0 && fr.seq != (uint64_t)prev_seq + 1)
            rc = ictal_diag_error(d, ICTAL_EFORMAT, "seq %llu follows seq %lld",
                                  (unsigned long long)fr.seq, (long long)prev_seq);
        if (rc != 0) {
            if (d) {
                d->source = path;
                d->offset = off + 4;
            }
            break;
        }
        prev_seq = (int64_t)fr.seq;
        off += 4 + (int64_t)len;
        if (fn && fn(user, &fr) != 0)
            break;
    }
    if (good_end)
        *good_end = off;
    free(buf);
    fclose(f);
    return rc;
}

struct recover {
    ictal__seslog *log;
    double rate_hz;
};

static int recover_cb(void *user, const ictal_wire_frame *f)
{
    struct recover *r = user;
    r->log->last_seq = (int64_t)f->seq;
    r->log->frames++;
    r->log->samples += f->n_samples;
    r->log->last_time_us = f->device_time_us + (int64_t)((double)f->n_samples * 1e6 / r->rate_hz);
    return 0;
}

int ictal__seslog_open(ictal__seslog *log, const char *path, double rate_hz, ictal_diag *d)
{
    memset(log, 0, sizeof *log);
    log->last_seq = -1;
    log->last_time_us = INT64_MIN;
    log->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (log->fd < 0)
        return ictal_diag_error(d, ICTAL_EIO, "%s: %s", path, strerror(errno));
    struct recover r = {log, rate_hz};
    int64_t end = 0;
    int rc = walk_fd(log->fd, path, recover_cb, &r, &end, d);
    if (rc == 0 && ftruncate(log->fd, end) != 0)
        rc = ictal_diag_error(d, ICTAL_EIO, "%s: truncate: %s", path, strerror(errno));
    if (rc == 0 && lseek(log->fd, end, SEEK_SET) < 0)
        rc = ictal_diag_error(d, ICTAL_EIO, "%s: seek: %s", path, strerror(errno));
    if (rc != 0) {
        close(log->fd);
        log->fd = -1;
        return rc;
    }
    log->bytes = end;
    return 0;
}

int ictal__seslog_append(ictal__seslog *log, const void *frame, size_t size,
                         const ictal_wire_frame *parsed, double rate_hz)
{
    if ((int64_t)parsed->seq != log->last_seq + 1)
        return ICTAL_ESTATE;
    uint8_t lenb[4] = {(uint8_t)size, (uint8_t)(size >> 8), (uint8_t)(size >> 16),
                       (uint8_t)(size >> 24)};
    /* One buffer, one write: a crash leaves at most one torn entry at the end. */
    uint8_t *tmp = malloc(size + 4);
    if (tmp == NULL)
        return ICTAL_ENOMEM;
    memcpy(tmp, lenb, 4);
    memcpy(tmp + 4, frame, size);
    int rc = write_all(log->fd, tmp, size + 4);
    free(tmp);
    if (rc != 0) {
        /* Cut back to the last good entry so the log stays consistent. */
        if (ftruncate(log->fd, log->bytes) == 0)
            (void)lseek(log->fd, log->bytes, SEEK_SET);
        return rc;
    }
    log->bytes += (int64_t)size + 4;
    log->last_seq = (int64_t)parsed->seq;
    log->frames++;
    log->samples += parsed->n_samples;
    log->last_time_us = parsed->device_time_us + (int64_t)((double)parsed->n_samples * 1e6 / rate_hz);
    log->dirty = 1;
    return 0;
}

int ictal__seslog_sync(ictal__seslog *log)
{
    if (log->fd < 0 || !log->dirty)
        return 0;
    log->dirty = 0;
    return fdatasync(log->fd) == 0 ? 0 : ICTAL_EIO;
}

void ictal__seslog_close(ictal__seslog *log)
{
    if (log->fd >= 0) {
        ictal__seslog_sync(log);
        close(log->fd);
    }
    log->fd = -1;
}

int ictal__seslog_walk(const char *path, ictal__seslog_fn fn, void *user, ictal_diag *d)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ictal_diag_error(d, errno == ENOENT ? ICTAL_ENOENT : ICTAL_EIO, "%s: %s", path,
                                strerror(errno));
    int rc = walk_fd(fd, path, fn, user, NULL, d);
    close(fd);
    return rc;
}
