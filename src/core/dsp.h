/* Internal DSP helpers of libictal: biquad design and steady-state start; the window
 * statistics of feature set 2 (ordinal patterns, moments). */
#ifndef ICTAL_CORE_DSP_H
#define ICTAL_CORE_DSP_H

/* A biquad in transposed direct form II, normalised (a0 = 1):
 *   y = b0 x + s1;  s1 = b1 x - a1 y + s2;  s2 = b2 x - a2 y. */
typedef struct ictal__biquad {
    float b0, b1, b2, a1, a2;
} ictal__biquad;

/* Butterworth sections (RBJ cookbook forms, bilinear with prewarping). q = 1/sqrt(2)
 * gives a 2nd-order Butterworth; the sections of an order-2M Butterworth use
 * ictal__butter_q(M, k). f_hz must be in (0, fs/2). */
void ictal__biquad_lowpass(ictal__biquad *bq, double f_hz, double fs_hz, double q);
void ictal__biquad_highpass(ictal__biquad *bq, double f_hz, double fs_hz, double q);
void ictal__biquad_notch(ictal__biquad *bq, double f_hz, double fs_hz, double q);
double ictal__butter_q(int n_sections, int k);

/* States (s1, s2) for which a constant input u is a fixed point; returns the output. */
float ictal__biquad_steady(const ictal__biquad *bq, float u, float *s1, float *s2);

/* Magnitude response |H(e^jw)| at f_hz (for tests and docs). */
double ictal__biquad_gain(const ictal__biquad *bq, double f_hz, double fs_hz);

/* --- feature set 2 --------------------------------------------------------------- */

#define ICTAL__N_PATTERNS 24 /* ordinal patterns of order 4 */

/* The ordinal pattern of four consecutive samples a, b, c, d (oldest first) as its
 * Lehmer code, 0..23: for each sample, how many later samples are smaller, weighted
 * 6, 2, 1. Equal samples: the earlier is the smaller, so a constant signal is pattern 0.
 * NaN compares false (never smaller): the code stays in range. The detector's
 * per-sample kernel computes the same expression inline. */
static inline int ictal__ordinal4(float a, float b, float c, float d)
{
    return 6 * ((b < a) + (c < a) + (d < a)) + 2 * ((c < b) + (d < b)) + (d < c);
}

/* p ln p for the pattern counts 0..ICTAL__PLNP_N-1 of a window of n patterns, each
 * computed when first needed: the 24 logarithms of every channel and hop were set 2's
 * largest cost, but n changes only while a window fills and counts recur. */
#define ICTAL__PLNP_N 257
typedef struct ictal__plnp_cache {
    double n;                  /* total the values are for; 0: none yet */
    double v[ICTAL__PLNP_N];   /* p ln p (<= 0), or 1 when not computed yet */
} ictal__plnp_cache;

/* Permutation entropy from the counts of the 24 patterns: -sum p ln p / ln 24, 0..1
 * (0 when there is no pattern). cache: NULL, or one kept across calls (zeroed before
 * its first use); the result is the same bits either way. */
double ictal__perm_entropy(const double counts[ICTAL__N_PATTERNS], ictal__plnp_cache *cache);

/* Skewness and excess kurtosis of n samples from their sums s[0..3] of x, x^2, x^3,
 * x^4 (accumulated in double); both 0 when the variance is at most 1e-9 (µV^2) or
 * lost to rounding. */
void ictal__shape_moments(double n, const double s[4], double *skew, double *exkurt);

#endif
