#!/bin/sh
# The public headers are self-contained, strict C99 and C++-safe.
set -eu
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
inc="-I$top_builddir/include -I$top_srcdir/include"
printf '#include <peerop/peerop.h>\nint main(void) { return peerop_version() == 0; }\n' > "$tmp/h.c"
${CC:-cc} -std=c99 -pedantic -Wall -Wextra -Werror $inc $(pkg-config --cflags jansson) -fsyntax-only "$tmp/h.c"
# Every header alone, in any order.
for h in "$top_srcdir"/include/peerop/*.h "$top_srcdir"/include/peerop/sys/*.h; do
	[ -f "$h" ] || continue
	rel=${h#"$top_srcdir"/include/}
	printf '#include <%s>\n' "$rel" > "$tmp/one.c"
	${CC:-cc} -std=c99 -pedantic -Wall -Wextra -Werror $inc $(pkg-config --cflags jansson) -fsyntax-only "$tmp/one.c" \
		|| { echo "header-test: $rel does not compile alone" >&2; exit 1; }
done
if command -v g++ >/dev/null 2>&1; then
	cp "$tmp/h.c" "$tmp/h.cc"
	g++ -std=c++11 -pedantic -Wall -Werror $inc $(pkg-config --cflags jansson) -fsyntax-only "$tmp/h.cc"
fi
echo "header-test: ok"
