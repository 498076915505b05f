# Sourced by the shell tests that count checks (not a test itself): a temporary
# directory $TMP removed at exit, counters, and the check helpers. End with `summary`.
passed=0
failed=0
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
ok() { passed=$((passed + 1)); }
ko() { failed=$((failed + 1)); echo "FAIL: $*"; }
expect() { # description, command...
    local what=$1; shift
    if "$@"; then ok; else ko "$what"; fi
}
run() { # expected exit code, command... (stdout in $TMP/out, stderr in $TMP/err)
    local want=$1; shift
    "$@" >"$TMP/out" 2>"$TMP/err"
    local got=$?
    if [ "$got" -eq "$want" ]; then ok; else ko "exit $got (wanted $want): $* : $(head -c 300 "$TMP/err")"; fi
}
summary() { # the last line and the exit status of the test
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}
