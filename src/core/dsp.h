/* Internal DSP helpers of libictal: biquad design and steady-state start. */
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

#endif
