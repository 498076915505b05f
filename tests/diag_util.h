/*
 * Warning capture for the reader tests: diag(&d) readies d and counts the warnings it
 * raises (n_warn), keeping the last one's message and line.
 */
#ifndef ICTAL_TEST_DIAG_UTIL_H
#define ICTAL_TEST_DIAG_UTIL_H

#include <stdint.h>
#include <stdio.h>

#include "ictal/error.h"

static int n_warn;
static char last_warning[ICTAL_DIAG_MESSAGE_MAX];
static int64_t last_warning_line;

static void on_warning(void *user, const ictal_diag *w)
{
    (void)user;
    n_warn++;
    snprintf(last_warning, sizeof(last_warning), "%s", w->message);
    last_warning_line = w->line;
}

static void diag(ictal_diag *d)
{
    ictal_diag_init(d);
    d->on_warning = on_warning;
    n_warn = 0;
    last_warning[0] = '\0';
    last_warning_line = -1;
}

#endif
