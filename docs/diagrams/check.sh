#!/bin/sh
# make check: every diagram source is valid Graphviz, and its committed SVG
# was rendered from the source as it is now (render.sh stamps the source's
# SHA-256 into the SVG).
#
#   check.sh DIAGRAMS_DIR
set -eu
dir=$1
command -v dot >/dev/null 2>&1 || {
	echo "check-diagrams: dot not found: install graphviz (scripts/install-deps.sh test)" >&2; exit 1; }
n=0
for src in "$dir"/*.dot; do
	svg=${src%.dot}.svg
	base=$(basename "$src")
	dot -Tsvg "$src" -o /dev/null || { echo "check-diagrams: $src does not render" >&2; exit 1; }
	[ -f "$svg" ] || { echo "check-diagrams: $svg missing: run docs/diagrams/render.sh" >&2; exit 1; }
	sum=$(sha256sum "$src" | cut -d' ' -f1)
	grep -q "rendered from $base (sha256 $sum)" "$svg" || {
		echo "check-diagrams: $svg is stale (not rendered from the current $base): run docs/diagrams/render.sh" >&2
		exit 1; }
	n=$((n + 1))
done
[ $n -gt 0 ] || { echo "check-diagrams: no diagram in $dir" >&2; exit 1; }
echo "check-diagrams: $n diagram(s), each SVG rendered from its current source"
