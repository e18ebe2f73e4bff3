#!/bin/sh
# build-core.sh OUT.a CC "CFLAGS" SRCDIR BUILT...: compile base, the library
# and the local control plane's API server (every .c in SRCDIR/base,
# SRCDIR/lib and SRCDIR/devcluster/apiserver, so a new file needs no list
# kept in step, plus the BUILT sources) with clang's coverage
# instrumentation, once for every libFuzzer target, into one archive.
# Objects are rebuilt when their source or a header is newer, two at a
# time; the archive is rewritten only when an object changed, so the
# targets are not relinked for nothing.
set -eu
out=$1 cc=$2 cflags=$3 top=$4
shift 4
objdir="$out.d"
mkdir -p "$objdir"
newest_h=$(ls -t "$top"/base/*.h "$top"/lib/*.h "$top"/devcluster/apiserver/*.h "$top"/include/peerop/*.h* \
	2>/dev/null | head -n 1)
list="$objdir/list"
: >"$list.new"
todo="$objdir/todo"
: >"$todo"
for src in "$top"/base/*.c "$top"/lib/*.c "$top"/devcluster/apiserver/*.c "$@"; do
	obj="$objdir/$(basename "$(dirname "$src")")_$(basename "$src" .c).o"
	echo "$obj" >>"$list.new"
	if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || { [ -n "$newest_h" ] && [ "$newest_h" -nt "$obj" ]; }; then
		printf '%s %s\n' "$src" "$obj" >>"$todo"
	fi
done
xargs -r -n 2 -P 2 sh -c 'exec '"$cc $cflags"' -c "$0" -o "$1"' <"$todo"
if [ -s "$todo" ] || [ ! -f "$out" ] || ! cmp -s "$list" "$list.new"; then
	mv "$list.new" "$list"
	rm -f "$out"
	# shellcheck disable=SC2046
	ar rcs "$out" $(cat "$list")
else
	rm -f "$list.new"
fi
