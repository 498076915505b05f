/* Internals shared by the EDF reader and writer (src/io/edf_*.c). */
#ifndef ICTAL_EDF_INTERNAL_H
#define ICTAL_EDF_INTERNAL_H

#include <stdint.h>

/* Days since 1970-01-01 of a proleptic Gregorian date, and back. */
int64_t ictal__days_from_civil(int64_t y, int m, int d);
void ictal__civil_from_days(int64_t z, int *y, int *m, int *d);

/* Three-letter English month abbreviation ("JAN") of month 1..12. */
const char *ictal__month_abbrev(int month);

#endif
