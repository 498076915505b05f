#!/bin/bash
# The detector's output does not depend on how libictal was compiled: the release
# library (vectorised, with its AVX2 variant where the CPU has one) and a -O0 build of
# the same sources without CPU dispatch give bit-identical features, probabilities and
# quality flags on the real chb05_06 excerpt at 256, 173.61 and 500 Hz (with a notch),
# and the features of feature set 2 at 256 and 173.61 Hz.
set -uo pipefail
SRC=${ICTAL_SOURCE_DIR:-.}
BUILD=${ICTAL_BUILD_DIR:-.}
SHARED=${ICTAL_SHARED:-$SRC/../shared}
npy="$SHARED/data/chbmit-continuous/chb05_06_excerpt_uV_f32.npy"
[ -f "$npy" ] || { echo "SKIP: needs $npy"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/hash.c" <<'C'
#include <stdint.h>
#include "detect_util.h"
#include "ictal/ictal.h"
static uint64_t h = 1469598103934665603ull;
static void mix(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ull;
}
static void on_hop(void *u, const ictal_hop *x)
{
    (void)u;
    mix(x->features, sizeof(float) * (size_t)x->n_channels * (size_t)x->n_features);
    mix(x->chan_prob, sizeof(float) * (size_t)x->n_channels);
    mix(x->quality, sizeof(uint16_t) * (size_t)x->n_channels);
    mix(&x->prob_smooth, sizeof x->prob_smooth);
}
int main(int argc, char **argv)
{
    int nch, ns;
    float *fr = du_load_npy_frames(argv[1], &nch, &ns);
    static unsigned char mb[4096];
    size_t ml = du_line_length_model(mb, sizeof mb, 3.8f, 4.0f);
    ictal_model m;
    if (fr == NULL || argc < 2 || ictal_model_parse(&m, mb, ml, NULL) != 0)
        return 1;
    const double rates[] = {256, 173.61, 500};
    for (int r = 0; r < 5; r++) { /* 3, 4: features-only, feature set 2 */
        ictal_config cfg;
        ictal_config_init(&cfg);
        cfg.n_channels = nch;
        cfg.rate_hz = rates[r % 3];
        cfg.model = r < 3 ? &m : NULL;
        cfg.feature_set = r < 3 ? 1 : 2;
        cfg.notch_hz = r == 2 ? 50 : 0;
        cfg.on_hop = on_hop;
        ictal_detector *d = du_detector_new(&cfg, NULL);
        if (d == NULL)
            return 1;
        for (int s = 0; s < ns; s += 777)
            ictal_detector_push(d, fr + (size_t)s * (size_t)nch, (size_t)(ns - s < 777 ? ns - s : 777));
        free(d);
    }
    printf("%016llx\n", (unsigned long long)h);
    free(fr);
    return 0;
}
C
inc="-I$SRC/include -I$SRC/src -I$SRC/src/core -I$SRC/tests"
san=""
nm "$BUILD/libictal.a" >"$tmp/nm.txt" 2>/dev/null # (not piped into grep -q: pipefail + SIGPIPE)
grep -q "__asan_" "$tmp/nm.txt" && san="-fsanitize=address,undefined"
cc -std=c11 -O2 $san $inc "$tmp/hash.c" "$BUILD/libictal.a" -lm -o "$tmp/h_release" || exit 1
cc -std=c11 -O0 -DICTAL_NO_MULTIVERSION $inc "$tmp/hash.c" "$SRC"/src/core/*.c -lm -o "$tmp/h_o0" || exit 1
a=$("$tmp/h_release" "$npy") || exit 1
b=$("$tmp/h_o0" "$npy") || exit 1
echo "release library: $a; -O0 without dispatch: $b"
[ "$a" = "$b" ]
