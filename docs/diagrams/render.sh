#!/bin/sh
# Renders each docs/diagrams/*.dot to an SVG beside it, stamped with the
# SHA-256 of its source so that `make check` (check.sh) can tell a stale
# SVG from a fresh one without depending on Graphviz's exact output, which
# varies between versions. Run it after editing a .dot; commit both.
set -eu
cd "$(dirname "$0")"
for src in *.dot; do
	svg=${src%.dot}.svg
	sum=$(sha256sum "$src" | cut -d' ' -f1)
	dot -Tsvg "$src" | sed "1a <!-- rendered from $src (sha256 $sum) by docs/diagrams/render.sh -->" > "$svg.tmp"
	mv "$svg.tmp" "$svg"
	echo "render: $svg"
done
