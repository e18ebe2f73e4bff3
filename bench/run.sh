#!/bin/sh
# Runs every benchmark in bench/ and prints one table each.
# Called by `make bench`; each bench-*.sh is self-contained and measures its
# peer (nginx, jansson, a naive loop) in the same run.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
status=0
found=0
for b in "$here"/bench-*.sh; do
	[ -f "$b" ] || continue
	found=1
	echo "== $(basename "$b" .sh)"
	sh "$b" || { echo "$(basename "$b"): FAILED" >&2; status=1; }
	echo
done
[ "$found" = 1 ] || echo "no benchmarks yet"
exit $status
