#!/usr/bin/env bash
# The subcommands that need the heavy libraries (XGBoost; the server's HTTP, TLS,
# database and broker stacks) are modules loaded only when they run (ICTAL_CMD_MODULES
# in CMakeLists.txt): the ictal binary itself must not depend on those libraries, so
# that detect, info, eval and model start in about 1 ms instead of about 10 ms. The
# modules must load, and a missing one must give a clear error, not a crash.
set -uo pipefail
ictal=${ICTAL:?}
fail=0
say() { echo "FAIL: $*"; fail=1; }

needed=$(readelf -d "$ictal" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
echo "ictal needs: $needed"
for lib in libxgboost libwebsockets libcurl libssl libcrypto libsqlite3 libmosquitto libnats libstdc++; do
    case " $needed" in *" $lib"*) say "ictal links $lib: a subcommand that needs it must be a module" ;; esac
done

# Every listed command has a summary: its module loaded.
help=$("$ictal" --help) || say "ictal --help failed"
echo "$help" | grep -q "not available" && say "a module did not load: $help"
for cmd in serve worker train replay; do
    echo "$help" | grep -Eq "^  $cmd +[a-z]" || say "ictal --help has no summary for $cmd"
    "$ictal" $cmd --help >/dev/null 2>&1 || say "ictal $cmd --help exited $?"
done

# A copy of the binary without its modules beside it: the light commands work, a
# module command says what is missing and exits 3 (cannot read).
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$ictal" "$tmp/ictal"
"$tmp/ictal" --version >/dev/null || say "a copy of ictal cannot print its version"
"$tmp/ictal" info --help >/dev/null || say "a copy of ictal cannot run info"
"$tmp/ictal" serve --help >/dev/null 2>"$tmp/err"
rc=$?
[ "$rc" = 3 ] || say "serve without its module exited $rc, expected 3"
grep -q "ictal serve: cannot load this command: no ictal-cmd-serve.so in" "$tmp/err" ||
    say "serve without its module: $(cat "$tmp/err")"
"$tmp/ictal" --help | grep -Eq "^  train +\(not available" || say "--help without modules"

[ "$fail" = 0 ] && echo "ok"
exit "$fail"
