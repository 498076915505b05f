#!/usr/bin/env bash
# Every option a subcommand's parser accepts is in its --help: the long options are
# read mechanically from the parser's source (each "--name" string literal of
# src/cli/cmd_NAME.c, and of main.c for `ictal --help`), so an option added to a parser
# without its help line fails here. Also: every command of `ictal --help` answers
# --help on stdout with exit 0 and a usage line.
set -u
ICTAL=${ICTAL:?set ICTAL to the ictal binary}
SRC=${ICTAL_SOURCE_DIR:?set ICTAL_SOURCE_DIR}
. "$(dirname "$0")/check.sh"

# $1 the help text, $2 the source file, $3 what to call it in messages.
check_options() {
    local help=$1 file=$2 what=$3 n=0
    for o in $(grep -oE '"--[a-z0-9][a-z0-9-]*' "$file" | tr -d '"' | sort -u); do
        n=$((n + 1))
        # The whole option, not a prefix of a longer one (--mqtt in --mqtt-user).
        if grep -qE -- "(^|[^a-z0-9-])$o([^a-z0-9-]|\$)" <<<"$help"; then ok; else ko "$what: $o is accepted but not in --help"; fi
    done
    [ "$n" -gt 0 ] || ko "$what: no option found in $file (has the parser moved?)"
}

top=$("$ICTAL" --help); rc=$?
[ $rc -eq 0 ] && ok || ko "ictal --help exits $rc"
check_options "$top" "$SRC/src/cli/main.c" "ictal"
commands=$(awk '/^commands:/ {on = 1; next} on && !NF {exit} on {print $1}' <<<"$top")
[ -n "$commands" ] && ok || ko "ictal --help lists no command"
for c in $commands; do
    src=$SRC/src/cli/cmd_$c.c
    [ -f "$src" ] && ok || { ko "no $src for ictal $c"; continue; }
    help=$("$ICTAL" "$c" --help 2>/dev/null); rc=$?
    [ $rc -eq 0 ] && ok || ko "ictal $c --help exits $rc"
    grep -q "usage: ictal $c" <<<"$help" && ok || ko "ictal $c --help has no usage line"
    check_options "$help" "$src" "ictal $c"
done
# Every src/cli/cmd_*.c is a listed command.
for f in "$SRC"/src/cli/cmd_*.c; do
    c=$(basename "$f" .c); c=${c#cmd_}
    grep -qx "$c" <<<"$commands" && ok || ko "ictal $c is not in ictal --help"
done

summary
