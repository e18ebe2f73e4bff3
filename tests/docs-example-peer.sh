#!/bin/sh
# docs/examples/peer-aware-server.c (shown in docs/peer-ping.md) compiles
# with -std=c99 -pedantic -Werror and links against the built library.
set -eu
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
inc="-I$top_builddir/include -I$top_srcdir/include $(pkg-config --cflags jansson)"
${CC:-cc} -std=c99 -D_POSIX_C_SOURCE=200809L -pedantic -Wall -Wextra -Werror $inc -c \
	"$top_srcdir/docs/examples/peer-aware-server.c" -o "$tmp/ex.o"
# a library built with sanitizers needs them at link time too
san=
if ${NM:-nm} -D "$top_builddir/lib/.libs/libpeerop.so" | grep -q ' U __asan_'; then
	san=-fsanitize=address,undefined
fi
${CC:-cc} $san "$tmp/ex.o" -o "$tmp/ex" -L"$top_builddir/lib/.libs" -lpeerop -pthread $(pkg-config --libs jansson)
echo "docs-example-peer: ok"
