#!/bin/sh
# Checks the generated reference manual (make check, hence make distcheck):
# every function libpeerop.so exports has its own page and a doc comment,
# and every page renders with man and groff without a single warning, with a
# NAME section man-db's whatis parser (lexgrog) reads.
#
#   check-man.sh MAN3DIR LIBPEEROP.SO
set -eu
dir=$1
lib=$2
fail=0
for tool in man groff lexgrog; do
	command -v $tool >/dev/null 2>&1 || {
		echo "check-man: $tool not found: install man-db and groff-base (scripts/install-deps.sh test)" >&2
		exit 1; }
done
[ -f "$lib" ] || { echo "check-man: $lib not built" >&2; exit 1; }
[ -f "$dir/pages.list" ] || { echo "check-man: $dir/pages.list missing: pages not generated" >&2; exit 1; }

if [ -s "$dir/undocumented.list" ]; then
	echo "check-man: exported functions without a doc comment:" >&2
	sed 's/^/  /' "$dir/undocumented.list" >&2
	fail=1
fi

funcs=0
for f in $(${NM:-nm} -D --defined-only "$lib" | awk '$2 == "T" { print $3 }' | sed 's/@.*//' | sort -u); do
	funcs=$((funcs + 1))
	if [ ! -f "$dir/$f.3" ]; then
		echo "check-man: $f is exported but has no page $dir/$f.3" >&2
		fail=1
	elif ! grep -q "^$f(" "$dir/$f.3" && ! grep -q "[ *]$f(" "$dir/$f.3"; then
		echo "check-man: $dir/$f.3 has no synopsis of $f" >&2
		fail=1
	fi
done
[ "$funcs" -gt 0 ] || { echo "check-man: no function exported by $lib?" >&2; exit 1; }

pages=0
for p in $(cat "$dir/pages.list"); do
	pages=$((pages + 1))
	page="$dir/$p"
	# man -l as a reader would run it (no pager: stdout is not a terminal).
	out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings=w -l "$page" 2>&1 >/dev/null) || {
		echo "check-man: man -l $page failed: $out" >&2; fail=1; continue; }
	[ -z "$out" ] || { echo "check-man: man -l $page warns: $out" >&2; fail=1; }
	out=$(groff -man -Tutf8 -ww -z "$page" 2>&1) || true
	[ -z "$out" ] || { echo "check-man: groff -ww $page warns: $out" >&2; fail=1; }
	# A tag the generator does not know would show up raw.
	if grep -nE '(^|[^[:alnum:]])@(param|return|returns|brief|file|copydoc|see|note|code)([^[:alnum:]]|$)' "$page" >&2; then
		echo "check-man: $page shows a raw doc tag (above): mkman.pl does not handle it" >&2; fail=1
	fi
	lexgrog "$page" >/dev/null 2>&1 || { echo "check-man: $page: lexgrog finds no NAME section" >&2; fail=1; }
done

[ $fail = 0 ] || { echo "check-man: FAILED" >&2; exit 1; }
echo "check-man: $funcs exported functions, each with a page; $pages pages render without warnings"
