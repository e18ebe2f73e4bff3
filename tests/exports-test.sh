#!/bin/sh
# The shared library exports exactly the symbols listed in tests/exports.txt:
# adding to the API is a deliberate act, and nothing internal leaks out.
set -eu
lib="$top_builddir/lib/.libs/libpeerop.so"
[ -f "$lib" ] || { echo "exports-test: $lib not built" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
${NM:-nm} -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVWiu]$/ { print $3 }' | sed 's/@.*//' | sort -u > "$tmp/actual"
grep -v '^#' "$srcdir/exports.txt" | sed '/^$/d' | sort -u > "$tmp/expected"
if ! diff -u "$tmp/expected" "$tmp/actual"; then
	echo "exports-test: libpeerop.so exports differ from tests/exports.txt (- listed, + exported)" >&2
	exit 1
fi
bad=$(grep -v '^peerop_[a-z]' "$tmp/actual" || true)
[ -z "$bad" ] || { echo "exports-test: non-peerop_ symbols exported: $bad" >&2; exit 1; }
echo "exports-test: $(wc -l < "$tmp/actual") symbols, as listed"
