#!/bin/bash
# libictal (build/libictal.a) is C11 + libm and never allocates: every symbol it needs
# from outside must be a libm function or a small, allocation-free part of the C
# library (plus the sanitizers' hooks in sanitizer builds). malloc, calloc, realloc,
# free (or anything else) fail the test.
set -euo pipefail
lib="${ICTAL_BUILD_DIR:-.}/libictal.a"
[ -f "$lib" ] || { echo "no $lib"; exit 1; }
defined=$(nm -g --defined-only "$lib" 2>/dev/null | awk 'NF==3 {print $3}' | sort -u)
undefined=$(nm -u "$lib" | awk 'NF==2 && $1=="U" {print $2}' | sort -u)
allowed='^(__(asan|ubsan)_[a-z0-9_]+|__cpu_indicator_init|__cpu_model|_GLOBAL_OFFSET_TABLE_|mem(cpy|set|cmp|move|chr)|str(len|nlen|chr|rchr|cmp|ncmp|cpy|ncpy|cat|ncat|str|spn|cspn)|v?snprintf|__stack_chk_fail|__assert_fail|(exp|log|log10|log2|sqrt|sin|cos|sincos|tan|atan|atan2|pow|floor|ceil|round|fabs|fmin|fmax|fmod|hypot)f?)$'
bad=0
for s in $undefined; do
    if grep -qx "$s" <<<"$defined"; then continue; fi
    if [[ "$s" =~ $allowed ]]; then continue; fi
    echo "libictal needs '$s', which is not libm nor allocation-free libc"
    bad=1
done
for s in malloc calloc realloc free aligned_alloc posix_memalign; do
    if grep -qx "$s" <<<"$undefined"; then echo "libictal references $s"; bad=1; fi
done
n=$(wc -w <<<"$undefined")
echo "libictal.a: $n external symbols checked, allocation-free: $([ $bad = 0 ] && echo yes || echo NO)"
exit $bad
