#!/bin/bash
# libictal builds for a Cortex-M4F microcontroller (clang, thumbv7em, hard float) with
# nothing but the C library's string functions, snprintf and libm (declared here by a
# minimal header shim, as a firmware SDK would provide them), and holds no mutable
# global state: every object has 0 bytes of .data and .bss. Prints the code size.
# Skipped (77) when clang or its ARM target is not available.
set -uo pipefail
SRC=${ICTAL_SOURCE_DIR:-.}
command -v clang >/dev/null && command -v llvm-size >/dev/null || { echo "SKIP: no clang/llvm-size"; exit 77; }
targets=$(clang -print-targets 2>/dev/null)
grep -qw thumb <<<"$targets" || { echo "SKIP: clang without ARM"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/shim"
cat >"$tmp/shim/math.h" <<'H'
#pragma once
#define INFINITY (__builtin_inff())
#define NAN (__builtin_nanf(""))
#define isnan(x) __builtin_isnan(x)
#define isfinite(x) __builtin_isfinite(x)
float fabsf(float); float expf(float); float log10f(float); float sqrtf(float);
double fabs(double); double log(double); double log10(double); double sqrt(double);
double floor(double); double ceil(double); double fmax(double, double);
double fmin(double, double); double sin(double); double cos(double); double exp(double);
double pow(double, double); long lrint(double);
H
cat >"$tmp/shim/string.h" <<'H'
#pragma once
#include <stddef.h>
void *memcpy(void *, const void *, size_t); void *memset(void *, int, size_t);
int memcmp(const void *, const void *, size_t); void *memmove(void *, const void *, size_t);
size_t strlen(const char *); char *strchr(const char *, int); int strcmp(const char *, const char *);
int strncmp(const char *, const char *, size_t); char *strcpy(char *, const char *);
char *strncpy(char *, const char *, size_t); size_t strspn(const char *, const char *);
char *strcat(char *, const char *); char *strstr(const char *, const char *);
H
cat >"$tmp/shim/stdio.h" <<'H'
#pragma once
#include <stddef.h>
#include <stdarg.h>
int snprintf(char *, size_t, const char *, ...);
int vsnprintf(char *, size_t, const char *, va_list);
H
res=$(clang -print-resource-dir)
fail=0
objs=()
for f in "$SRC"/src/core/*.c; do
    o="$tmp/$(basename "${f%.c}").o"
    if ! clang --target=thumbv7em-none-eabihf -mcpu=cortex-m4 -mfpu=fpv4-sp-d16 -mfloat-abi=hard \
        -Os -std=c11 -ffreestanding -nostdinc -isystem "$res/include" -isystem "$tmp/shim" \
        -Wall -Wextra -Werror -I"$SRC/include" -I"$SRC/src" -I"$SRC/src/core" -c "$f" -o "$o"; then
        echo "FAIL: $f does not build for Cortex-M4F"
        fail=1
        continue
    fi
    objs+=("$o")
done
[ ${#objs[@]} -gt 0 ] || exit 1
llvm-size "${objs[@]}"
# text / data / bss columns: data and bss must be 0 (no mutable globals, no static buffers).
if llvm-size "${objs[@]}" | awk 'NR > 1 && ($2 != 0 || $3 != 0) {bad = 1; print "FAIL: mutable state in " $6} END {exit bad}'; then
    echo "no .data or .bss in libictal for Cortex-M4F"
else
    fail=1
fi
exit $fail
