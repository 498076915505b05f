/* The front end on sine sweeps: pass band at every supported rate, anti-aliasing stop band
 * (tones above the internal Nyquist that would fold into 0-45 Hz), band filters, notch. */
#include "core/dsp.h"
#include "detect_util.h"
#include "ictal/ictal.h"
#include "test.h"

/* Variance (µV^2) and relative band powers the detector reports for a sine of f_hz and
 * amplitude amp_uv at rate fs, after 10 s. */
static double sine_variance(double fs, double f_hz, double amp_uv, int notch, float *rel)
{
    ictal_config cfg;
    ictal_config_init(&cfg);
    cfg.n_channels = 2;
    cfg.rate_hz = fs;
    cfg.notch_hz = notch;
    ictal_detector *det = du_detector_new(&cfg, NULL);
    if (det == NULL)
        return NAN;
    int n = (int)(10.0 * fs);
    float *x = malloc(sizeof(float) * 2 * (size_t)n);
    for (int i = 0; i < n; i++) {
        double s = amp_uv * sin(2.0 * 3.14159265358979323846 * f_hz * i / fs);
        x[2 * i] = (float)s;
        x[2 * i + 1] = (float)(0.5 * s);
    }
    ictal_detector_push(det, x, (size_t)n);
    const ictal_hop *h = ictal_detector_last_hop(det);
    double v = h ? pow(10.0, h->features[ICTAL_F_LOG_VARIANCE]) - 1.0 : NAN;
    if (h && rel)
        for (int b = 0; b < 5; b++)
            rel[b] = h->features[ICTAL_F_REL_DELTA + b];
    free(x);
    free(det);
    return v;
}

int main(void)
{
    const double rates[] = {100, 128, 160, 173.61, 200, 250, 256, 400, 500, 512, 1000, 2048};
    const double amp = 100.0, full = amp * amp / 2.0;
    int n_stop = 0;
    double worst_pass_db = 0, worst_stop_db = -1000;
    for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++) {
        double fs = rates[i];
        /* Pass band: 3 to 30 Hz within 1 dB (0.5 dB from 160 Hz up). */
        for (double f = 3.0; f <= 30.0; f += 9.0) {
            double db = 10.0 * log10(sine_variance(fs, f, amp, 0, NULL) / full);
            double tol = fs >= 160 ? 0.5 : 1.0;
            CHECK_MSG(fabs(db) <= tol, "fs %g, %g Hz: %.2f dB", fs, f, db);
            if (fabs(db) > fabs(worst_pass_db))
                worst_pass_db = db;
        }
        /* Stop band: every tone from 83 Hz to Nyquist that folds into 0-45 Hz at 128 Hz,
         * in 7 Hz steps, at least 40 dB down. */
        for (double f = 83.0; f < fs / 2.0 - 1.0; f += 7.0) {
            double alias = fabs(f - 128.0 * floor(f / 128.0 + 0.5));
            if (alias > 45.0)
                continue;
            double db = 10.0 * log10(sine_variance(fs, f, amp, 0, NULL) / full);
            CHECK_MSG(db <= -40.0, "fs %g, %g Hz (folds to %g Hz): %.1f dB", fs, f, alias, db);
            if (db > worst_stop_db)
                worst_stop_db = db;
            n_stop++;
        }
    }
    printf("pass band worst %.2f dB; %d stop-band tones, worst %.1f dB\n", worst_pass_db, n_stop,
           worst_stop_db);
    CHECK(n_stop > 100);

    /* Band filters: a tone lands in its band. */
    const double tone[5] = {2.0, 6.0, 10.5, 20.0, 38.0};
    for (int b = 0; b < 5; b++) {
        float rel[5];
        sine_variance(256.0, tone[b], amp, 0, rel);
        int top = 0;
        for (int k = 1; k < 5; k++)
            top = rel[k] > rel[top] ? k : top;
        CHECK_MSG(top == b && rel[b] > 0.45f, "%g Hz: band %d has %.2f", tone[b], b, rel[b]);
    }
    /* Notch: 50 Hz (half through the anti-aliasing already) at least 20 dB lower again. */
    double v0 = sine_variance(256.0, 50.0, amp, 0, NULL), v1 = sine_variance(256.0, 50.0, amp, 50, NULL);
    CHECK_MSG(10.0 * log10(v1 / v0) <= -20.0, "notch: %.1f dB", 10.0 * log10(v1 / v0));
    double v2 = sine_variance(500.0, 60.0, amp, 60, NULL);
    CHECK(10.0 * log10(v2 / full) <= -30.0);
    /* And leaves 10 Hz alone. */
    CHECK_NEAR(10.0 * log10(sine_variance(256.0, 10.0, amp, 50, NULL) / full), 0.0, 0.3);

    /* The designed sections: 8th-order Butterworth, -3 dB at the corner. */
    ictal__biquad aa[4];
    for (int s = 0; s < 4; s++)
        ictal__biquad_lowpass(&aa[s], 45.0, 256.0, ictal__butter_q(4, s));
    double g45 = 1.0, g10 = 1.0;
    for (int s = 0; s < 4; s++) {
        g45 *= ictal__biquad_gain(&aa[s], 45.0, 256.0);
        g10 *= ictal__biquad_gain(&aa[s], 10.0, 256.0);
    }
    CHECK_NEAR(20.0 * log10(g45), -3.01, 0.05);
    CHECK_NEAR(g10, 1.0, 1e-4);
    return test_summary();
}
