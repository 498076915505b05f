/* EEG channel labels and montages (see include/ictal/montage.h). C11, no allocation. */
#include "ictal/montage.h"

#include <string.h>

#include "ictal/error.h"

const char *const ictal_montage_double_banana[18] = {
    "Fp1-F7", "F7-T7", "T7-P7", "P7-O1", /* left temporal chain */
    "Fp1-F3", "F3-C3", "C3-P3", "P3-O1", /* left parasagittal */
    "Fp2-F4", "F4-C4", "C4-P4", "P4-O2", /* right parasagittal */
    "Fp2-F8", "F8-T8", "T8-P8", "P8-O2", /* right temporal chain */
    "Fz-Cz",  "Cz-Pz",                   /* midline */
};

const char *const ictal_montage_wearable[4] = {"F7-T7", "T7-P7", "F8-T8", "T8-P8"};

/* Work buffer for one label; longer labels are never electrodes and are copied as-is. */
#define LBUF 64

static char up(char c)
{
    return (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int ieq(const char *a, size_t n, const char *b)
{
    size_t i;
    for (i = 0; i < n && b[i] != '\0'; i++)
        if (up(a[i]) != up(b[i]))
            return 0;
    return i == n && b[i] == '\0';
}

/*
 * Parses one electrode name s[0..n) (any case, old 10-20 names allowed) and writes its
 * canonical spelling to out (at least 8 bytes). Returns 1 if it is a scalp electrode of
 * the 10-10 system (or an ear/mastoid reference A1/A2/M1/M2), else 0.
 */
static int electrode(const char *s, size_t n, char *out)
{
    /* Longest prefixes first, so that "FC" wins over "F". */
    static const char *const prefixes[] = {"FP", "AF", "FC", "FT", "TP", "CP", "PO", "F",
                                           "T",  "C",  "P",  "O",  "I",  "A",  "M",  "N"};
    static const char *const spell[] = {"Fp", "AF", "FC", "FT", "TP", "CP", "PO", "F",
                                        "T",  "C",  "P",  "O",  "I",  "A",  "M",  "N"};
    if (n < 2 || n > 4)
        return 0;
    for (size_t p = 0; p < sizeof(prefixes) / sizeof(prefixes[0]); p++) {
        size_t k = strlen(prefixes[p]);
        if (n <= k || !ieq(s, k, prefixes[p]))
            continue;
        const char *rest = s + k;
        size_t rn = n - k;
        char pre0 = prefixes[p][0];
        if (rn == 1 && up(rest[0]) == 'Z') {
            /* Midline: Fpz, AFz, Fz, FCz, Cz, CPz, Pz, POz, Oz, Iz, Nz. */
            if (pre0 == 'T' || strcmp(prefixes[p], "FT") == 0 || (k == 1 && (pre0 == 'A' || pre0 == 'M')))
                return 0; /* no Tz, FTz, TPz, Az, Mz */
            strcpy(out, spell[p]);
            strcat(out, "z");
            return 1;
        }
        int num = 0;
        for (size_t i = 0; i < rn; i++) {
            if (!is_digit(rest[i]))
                return 0;
            num = num * 10 + (rest[i] - '0');
        }
        if (rest[0] == '0' || num < 1 || num > 10)
            return 0;
        if (pre0 == 'A' && k == 1 && num > 2)
            return 0; /* A1, A2: ears */
        if (pre0 == 'M' && num > 2)
            return 0; /* M1, M2: mastoids */
        if (pre0 == 'N' && k == 1)
            return 0; /* only Nz */
        if (pre0 == 'I' && num > 2)
            return 0; /* I1, I2, Iz */
        if (k == 1 && pre0 == 'T' && num >= 3 && num <= 6) {
            /* Old 10-20 names: T3/T4 are T7/T8, T5/T6 are P7/P8. */
            static const char *const modern[] = {"T7", "T8", "P7", "P8"};
            strcpy(out, modern[num - 3]);
            return 1;
        }
        strcpy(out, spell[p]);
        size_t o = strlen(out);
        if (num == 10) {
            out[o++] = '1';
            out[o++] = '0';
        } else {
            out[o++] = (char)('0' + num);
        }
        out[o] = '\0';
        return 1;
    }
    return 0;
}

/* A reference written after the electrode ("Fp1-REF", "T3-LE", "Fp1-A1"). */
static int reference_word(const char *s, size_t n)
{
    static const char *const words[] = {"REF", "LE",   "RE",   "AR",   "AV",  "AVG", "CAR",
                                        "CA",  "A1A2", "M1M2", "LINK", "LNK", "ML",  "EAR"};
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (ieq(s, n, words[i]))
            return 1;
    return 0;
}

static int ear(const char *canon)
{
    return strcmp(canon, "A1") == 0 || strcmp(canon, "A2") == 0 || strcmp(canon, "M1") == 0 ||
           strcmp(canon, "M2") == 0;
}

/* Normalises s[0..n) (trimmed, n < LBUF) into out (LBUF bytes). */
static void normalize(const char *s, size_t n, char *out)
{
    /* Dummy channels: "-", and "--0", "--1" as tools rename repeated dummies. */
    if (n >= 1 && s[0] == '-') {
        size_t i = 0;
        while (i < n && s[i] == '-')
            i++;
        while (i < n && is_digit(s[i]))
            i++;
        if (i == n) {
            strcpy(out, "-");
            return;
        }
    }
    const char *orig = s;
    size_t orig_n = n;
    if (n > 4 && ieq(s, 4, "EEG ")) {
        s += 4;
        n -= 4;
        while (n > 0 && is_space(s[0])) {
            s++;
            n--;
        }
    }
    while (n > 0 && s[n - 1] == '.')
        n--;

    /* Split on '-' into at most 3 parts. */
    const char *part[3];
    size_t plen[3];
    int np = 0;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == '-') {
            if (np == 3)
                goto verbatim;
            part[np] = s + start;
            plen[np] = i - start;
            np++;
            start = i + 1;
        }
    }
    /* Trim spaces around each part ("FP1 - F7"). */
    for (int i = 0; i < np; i++) {
        while (plen[i] > 0 && is_space(part[i][0])) {
            part[i]++;
            plen[i]--;
        }
        while (plen[i] > 0 && is_space(part[i][plen[i] - 1]))
            plen[i]--;
    }
    /* The repeat counter of a duplicated label: "T8-P8-0", "T8-P8-1". */
    if (np == 3) {
        for (size_t i = 0; i < plen[2]; i++)
            if (!is_digit(part[2][i]))
                goto verbatim;
        if (plen[2] == 0)
            goto verbatim;
        np = 2;
    }
    char a[8], b[8];
    if (np == 0 || !electrode(part[0], plen[0], a))
        goto verbatim;
    if (np == 1) {
        strcpy(out, a);
        return;
    }
    if (reference_word(part[1], plen[1])) {
        strcpy(out, a);
        return;
    }
    if (!electrode(part[1], plen[1], b))
        goto verbatim;
    if (ear(b) && !ear(a)) {
        strcpy(out, a); /* referenced to an ear or mastoid: referential */
        return;
    }
    strcpy(out, a);
    strcat(out, "-");
    strcat(out, b);
    return;

verbatim:
    memcpy(out, orig, orig_n);
    out[orig_n] = '\0';
}

int ictal_label_normalize(const char *in, char *out, size_t out_size)
{
    if (in == NULL || out == NULL || out_size == 0)
        return ICTAL_EINVAL;
    size_t n = strlen(in);
    size_t b = 0;
    while (b < n && is_space(in[b]))
        b++;
    while (n > b && (is_space(in[n - 1]) || in[n - 1] == '\0'))
        n--;
    const char *s = in + b;
    n -= b;
    char buf[LBUF];
    if (n >= LBUF) {
        /* Too long to be an electrode: copy trimmed. */
        if (n + 1 > out_size) {
            out[0] = '\0';
            return ICTAL_ENOMEM;
        }
        memmove(out, s, n);
        out[n] = '\0';
        return 0;
    }
    normalize(s, n, buf);
    size_t len = strlen(buf);
    if (len + 1 > out_size) {
        out[0] = '\0';
        return ICTAL_ENOMEM;
    }
    memcpy(out, buf, len + 1);
    return 0;
}

int ictal_label_is_eeg(const char *label)
{
    if (label == NULL)
        return 0;
    char buf[LBUF], tmp[8];
    if (ictal_label_normalize(label, buf, sizeof(buf)) != 0)
        return 0;
    char *dash = strchr(buf, '-');
    if (dash == NULL)
        return electrode(buf, strlen(buf), tmp);
    return electrode(buf, (size_t)(dash - buf), tmp) &&
           electrode(dash + 1, strlen(dash + 1), tmp);
}

/* The recording's labels, with a hash of each normalised label so that lookups
 * normalise only the candidates that may match (1 KB on the stack, no allocation). */
typedef struct inputs {
    const char *const *labels;
    int n;
    uint32_t hash[ICTAL_MONTAGE_INPUTS_MAX];
} inputs;

static uint32_t hash_label(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

/* Normalised label of input i (LBUF bytes); "" for a label that cannot be normalised. */
static void input_label(const inputs *in, int i, char *out)
{
    if (ictal_label_normalize(in->labels[i], out, LBUF) != 0)
        out[0] = '\0';
}

/* First input before limit whose normalised label equals want, or -1. */
static int find_input(const inputs *in, int limit, const char *want)
{
    char buf[LBUF];
    uint32_t h = hash_label(want);
    if (want[0] == '\0')
        return -1;
    for (int i = 0; i < limit; i++) {
        if (in->hash[i] != h)
            continue;
        input_label(in, i, buf);
        if (strcmp(buf, want) == 0)
            return i;
    }
    return -1;
}

static void copy_label(char *dst, const char *src)
{
    size_t n = strlen(src);
    if (n >= ICTAL_LABEL_MAX)
        n = ICTAL_LABEL_MAX - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* Resolves one wanted derivation (canonical) into m; returns 1 if it could be had. */
static int add_derivation(ictal_montage *m, const inputs *in, const char *want)
{
    int pos = find_input(in, in->n, want), neg = -1;
    uint8_t src = ICTAL_MONTAGE_FOUND;
    const char *dash = strchr(want, '-');
    if (pos < 0 && dash != NULL) {
        char a[ICTAL_LABEL_MAX], b[ICTAL_LABEL_MAX], rev[2 * ICTAL_LABEL_MAX];
        size_t an = (size_t)(dash - want);
        memcpy(a, want, an);
        a[an] = '\0';
        copy_label(b, dash + 1);
        strcpy(rev, b);
        strcat(rev, "-");
        strcat(rev, a);
        pos = find_input(in, in->n, rev);
        src = ICTAL_MONTAGE_INVERTED;
        if (pos < 0) {
            pos = find_input(in, in->n, a);
            neg = find_input(in, in->n, b);
            src = ICTAL_MONTAGE_DERIVED;
            if (pos < 0 || neg < 0)
                pos = neg = -1;
        }
    }
    if (pos < 0) {
        if (m->n_missing < ICTAL_MONTAGE_MAX)
            copy_label(m->missing[m->n_missing++], want);
        return 0;
    }
    int c = m->n_channels++;
    copy_label(m->labels[c], want);
    m->pos[c] = (int16_t)pos;
    m->neg[c] = (int16_t)neg;
    m->source[c] = src;
    return 1;
}

static void reset(ictal_montage *m)
{
    memset(m, 0, sizeof(*m));
}

static int build_list(ictal_montage *m, const inputs *in, const char *const *want,
                      int n_want)
{
    reset(m);
    int got = 0;
    for (int i = 0; i < n_want; i++)
        got += add_derivation(m, in, want[i]);
    return got;
}

/* Counts what the montage leaves unused, and the channels by source. */
static void tally(ictal_montage *m, const inputs *in)
{
    char buf[LBUF];
    for (int c = 0; c < m->n_channels; c++) {
        if (m->source[c] == ICTAL_MONTAGE_FOUND)
            m->n_found++;
        else if (m->source[c] == ICTAL_MONTAGE_DERIVED)
            m->n_derived++;
        else
            m->n_inverted++;
    }
    for (int i = 0; i < in->n; i++) {
        int used = 0;
        for (int c = 0; c < m->n_channels && !used; c++)
            used = m->pos[c] == i || m->neg[c] == i;
        if (used)
            continue;
        m->n_ignored++;
        input_label(in, i, buf);
        if (strcmp(buf, "-") == 0) {
            m->n_dummy++;
            continue;
        }
        if (!ictal_label_is_eeg(buf)) {
            m->n_non_eeg++;
            continue;
        }
        if (find_input(in, i, buf) >= 0)
            m->n_duplicate++;
    }
}

/* Parses the custom list into canonical items; returns the count or ICTAL_EINVAL. */
static int parse_custom(const char *custom, char items[ICTAL_MONTAGE_MAX][ICTAL_LABEL_MAX])
{
    int n = 0;
    const char *p = custom;
    for (;;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        while (len > 0 && is_space(*p)) {
            p++;
            len--;
        }
        while (len > 0 && is_space(p[len - 1]))
            len--;
        if (len > 0) {
            if (n == ICTAL_MONTAGE_MAX || len >= ICTAL_LABEL_MAX)
                return ICTAL_EINVAL;
            char raw[ICTAL_LABEL_MAX];
            memcpy(raw, p, len);
            raw[len] = '\0';
            if (ictal_label_normalize(raw, items[n], ICTAL_LABEL_MAX) != 0 ||
                items[n][0] == '\0')
                return ICTAL_EINVAL;
            n++;
        }
        if (e == NULL)
            break;
        p = e + 1;
    }
    return n == 0 ? ICTAL_EINVAL : n;
}

int ictal_montage_build(ictal_montage *m, ictal_montage_kind kind, const char *const *labels,
                        int n_inputs, const char *custom)
{
    if (m == NULL || n_inputs < 0 || n_inputs > ICTAL_MONTAGE_INPUTS_MAX ||
        (n_inputs > 0 && labels == NULL))
        return ICTAL_EINVAL;
    for (int i = 0; i < n_inputs; i++)
        if (labels[i] == NULL)
            return ICTAL_EINVAL;
    reset(m);
    inputs in;
    in.labels = labels;
    in.n = n_inputs;
    for (int i = 0; i < n_inputs; i++) {
        char buf[LBUF];
        input_label(&in, i, buf);
        in.hash[i] = hash_label(buf);
    }

    switch (kind) {
    case ICTAL_MONTAGE_DOUBLE_BANANA:
        build_list(m, &in, ictal_montage_double_banana, 18);
        break;
    case ICTAL_MONTAGE_WEARABLE:
        build_list(m, &in, ictal_montage_wearable, 4);
        break;
    case ICTAL_MONTAGE_CUSTOM: {
        if (custom == NULL)
            return ICTAL_EINVAL;
        char items[ICTAL_MONTAGE_MAX][ICTAL_LABEL_MAX];
        const char *want[ICTAL_MONTAGE_MAX];
        int n = parse_custom(custom, items);
        if (n < 0)
            return n;
        for (int i = 0; i < n; i++)
            want[i] = items[i];
        build_list(m, &in, want, n);
        break;
    }
    case ICTAL_MONTAGE_AUTO:
        if (build_list(m, &in, ictal_montage_double_banana, 18) == 18)
            break;
        if (build_list(m, &in, ictal_montage_wearable, 4) == 4)
            break;
        if (build_list(m, &in, ictal_montage_double_banana, 18) > 0)
            break;
        /* Nothing of the double banana: every EEG signal as it is. The missing list
         * still says what the double banana wanted. */
        {
            char buf[LBUF];
            for (int i = 0; i < n_inputs && m->n_channels < ICTAL_MONTAGE_MAX; i++) {
                input_label(&in, i, buf);
                if (!ictal_label_is_eeg(buf) || find_input(&in, i, buf) >= 0)
                    continue; /* not EEG, or a repeat of an earlier label */
                int c = m->n_channels++;
                copy_label(m->labels[c], buf);
                m->pos[c] = (int16_t)i;
                m->neg[c] = -1;
                m->source[c] = ICTAL_MONTAGE_FOUND;
            }
        }
        break;
    default:
        return ICTAL_EINVAL;
    }
    tally(m, &in);
    return m->n_channels > 0 ? 0 : ICTAL_ENOENT;
}

void ictal_montage_apply(const ictal_montage *m, const float *in, float *out)
{
    for (int c = 0; c < m->n_channels; c++) {
        float v = in[m->pos[c]];
        if (m->source[c] == ICTAL_MONTAGE_INVERTED)
            v = -v;
        else if (m->neg[c] >= 0)
            v -= in[m->neg[c]];
        out[c] = v;
    }
}
