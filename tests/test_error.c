/* Status codes and diagnostics (ictal/error.h). */
#include <string.h>

#include "ictal/error.h"
#include "test.h"

static int warnings_seen;
static void on_warning(void *user, const ictal_diag *w)
{
    (void)user;
    warnings_seen++;
    CHECK_STR(w->message, "odd value 7");
    CHECK_EQ_INT(w->line, 12);
}

int main(void)
{
    CHECK_STR(ictal_strerror(ICTAL_EFORMAT), "format error");
    CHECK_STR(ictal_strerror(12345), "unknown error");
    CHECK_STR(ictal_error_name(ICTAL_ETRUNC), "ICTAL_ETRUNC");
    CHECK_STR(ictal_error_name(ICTAL_EOF), "ICTAL_EOF");
    CHECK_STR(ictal_error_name(0), "ICTAL_OK");
    CHECK_STR(ictal_error_name(12345), "ICTAL_EUNKNOWN");
    /* Every code from ICTAL_EINVAL to ICTAL_EOF has a name of its own. */
    for (int c = ICTAL_EINVAL; c >= ICTAL_EOF; c--)
        CHECK(strcmp(ictal_error_name(c), "ICTAL_EUNKNOWN") != 0);

    ictal_diag d;
    ictal_diag_init(&d);
    d.source = "rec.edf";
    d.offset = 236;
    d.field = "number of data records";
    CHECK_EQ_INT(ictal_diag_error(&d, ICTAL_EFORMAT, "expected an integer, found '%s'", "-x"),
                 ICTAL_EFORMAT);
    char buf[512];
    CHECK_STR(ictal_diag_format(&d, buf, sizeof(buf)),
              "rec.edf: byte 236, field 'number of data records': expected an integer, "
              "found '-x' (format error)");

    ictal_diag_init(&d);
    d.on_warning = on_warning;
    d.line = 12;
    CHECK_EQ_INT(ictal_diag_warn(&d, "odd value %d", 7), 0);
    CHECK_EQ_INT(warnings_seen, 1);
    CHECK_EQ_INT(d.n_warnings, 1);
    CHECK_EQ_INT(d.code, 0);

    d.strict = 1;
    CHECK_EQ_INT(ictal_diag_warn(&d, "odd value %d", 7), ICTAL_ESTRICT);
    CHECK_EQ_INT(d.code, ICTAL_ESTRICT);
    CHECK_EQ_INT(warnings_seen, 1);

    /* A tiny buffer truncates, never overflows. */
    char small[8];
    ictal_diag_format(&d, small, sizeof(small));
    CHECK(strlen(small) == 7);
    return test_summary();
}
