/* Biquad design (see dsp.h). Coefficients are designed in double and stored as float:
 * the recursions run in float so that channels fill SIMD lanes. */
#include "dsp.h"

#include <math.h>

#define PI 3.14159265358979323846

static void set(ictal__biquad *bq, double b0, double b1, double b2, double a0, double a1,
                double a2)
{
    bq->b0 = (float)(b0 / a0);
    bq->b1 = (float)(b1 / a0);
    bq->b2 = (float)(b2 / a0);
    bq->a1 = (float)(a1 / a0);
    bq->a2 = (float)(a2 / a0);
}

void ictal__biquad_lowpass(ictal__biquad *bq, double f_hz, double fs_hz, double q)
{
    double w = 2.0 * PI * f_hz / fs_hz, c = cos(w), al = sin(w) / (2.0 * q);
    set(bq, (1.0 - c) / 2.0, 1.0 - c, (1.0 - c) / 2.0, 1.0 + al, -2.0 * c, 1.0 - al);
}

void ictal__biquad_highpass(ictal__biquad *bq, double f_hz, double fs_hz, double q)
{
    double w = 2.0 * PI * f_hz / fs_hz, c = cos(w), al = sin(w) / (2.0 * q);
    set(bq, (1.0 + c) / 2.0, -(1.0 + c), (1.0 + c) / 2.0, 1.0 + al, -2.0 * c, 1.0 - al);
}

void ictal__biquad_notch(ictal__biquad *bq, double f_hz, double fs_hz, double q)
{
    double w = 2.0 * PI * f_hz / fs_hz, c = cos(w), al = sin(w) / (2.0 * q);
    set(bq, 1.0, -2.0 * c, 1.0, 1.0 + al, -2.0 * c, 1.0 - al);
}

double ictal__butter_q(int n_sections, int k)
{
    /* Poles of an order-N Butterworth: section k has Q = 1 / (2 sin((2k+1) pi / (2N))). */
    int n = 2 * n_sections;
    return 1.0 / (2.0 * sin((2.0 * k + 1.0) * PI / (2.0 * n)));
}

float ictal__biquad_steady(const ictal__biquad *bq, float u, float *s1, float *s2)
{
    float den = 1.0f + bq->a1 + bq->a2;
    float y = den != 0.0f ? u * (bq->b0 + bq->b1 + bq->b2) / den : 0.0f;
    *s2 = bq->b2 * u - bq->a2 * y;
    *s1 = bq->b1 * u - bq->a1 * y + *s2;
    /* y = b0 u + s1 holds up to rounding. */
    return bq->b0 * u + *s1;
}

double ictal__biquad_gain(const ictal__biquad *bq, double f_hz, double fs_hz)
{
    double w = 2.0 * PI * f_hz / fs_hz;
    double c1 = cos(w), s1 = sin(w), c2 = cos(2 * w), s2 = sin(2 * w);
    double nr = bq->b0 + bq->b1 * c1 + bq->b2 * c2, ni = -(bq->b1 * s1 + bq->b2 * s2);
    double dr = 1.0 + bq->a1 * c1 + bq->a2 * c2, di = -(bq->a1 * s1 + bq->a2 * s2);
    return sqrt((nr * nr + ni * ni) / (dr * dr + di * di));
}

static double plnp(double count, double n)
{
    double p = count / n;
    return p * log(p);
}

double ictal__perm_entropy(const double counts[ICTAL__N_PATTERNS], ictal__plnp_cache *cache)
{
    double n = 0.0, h = 0.0;
    for (int i = 0; i < ICTAL__N_PATTERNS; i++)
        n += counts[i];
    if (!(n > 0.0))
        return 0.0;
    if (cache && cache->n != n) {
        cache->n = n;
        for (int k = 0; k < ICTAL__PLNP_N; k++)
            cache->v[k] = 1.0;
    }
    for (int i = 0; i < ICTAL__N_PATTERNS; i++) {
        if (!(counts[i] > 0.0))
            continue;
        /* p ln p as a value of its own (never fused into the subtraction), so that the
         * cached and the computed term are the same bits. */
        double t;
        if (cache && counts[i] < (double)ICTAL__PLNP_N) {
            double *v = &cache->v[(int)counts[i]];
            if (*v > 0.0)
                *v = plnp(counts[i], n);
            t = *v;
        } else {
            t = plnp(counts[i], n);
        }
        h -= t;
    }
    return h / log((double)ICTAL__N_PATTERNS);
}

void ictal__shape_moments(double n, const double s[4], double *skew, double *exkurt)
{
    *skew = *exkurt = 0.0;
    if (!(n > 0.0))
        return;
    /* Raw moments to central ones. The signal is high-passed, so its mean is small next
     * to its spread and the cancellation costs few digits in double; a variance below
     * 1e-12 of the mean square is treated as lost to rounding. */
    double m = s[0] / n, e2 = s[1] / n, e3 = s[2] / n, e4 = s[3] / n, mm = m * m;
    double m2 = e2 - mm;
    if (!(m2 > 1e-9) || !(m2 > 1e-12 * e2))
        return;
    double m3 = e3 - 3.0 * m * e2 + 2.0 * m * mm;
    double m4 = e4 - 4.0 * m * e3 + 6.0 * mm * e2 - 3.0 * mm * mm;
    *skew = m3 / (m2 * sqrt(m2));
    *exkurt = m4 / (m2 * m2) - 3.0;
}
