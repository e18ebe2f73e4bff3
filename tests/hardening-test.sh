#!/bin/sh
# hardening-test.sh: reads the ELF headers of the built programs and of the
# library (readelf, nothing run) and fails if one lacks a hardening
# configure.ac asks for:
#   PIE             programs: ELF type DYN with the PIE flag (DT_FLAGS_1)
#   full RELRO      a PT_GNU_RELRO segment ...
#   bind-now        ... and BIND_NOW (DT_FLAGS or DT_FLAGS_1 NOW): the GOT is
#                   made read-only before main runs
#   stack protector __stack_chk_fail imported (-fstack-protector-strong)
#   _FORTIFY_SOURCE at least one __*_chk function imported
#   NX stack        PT_GNU_STACK without the execute bit
#
#   tests/hardening-test.sh                 the build tree's programs (make check)
#   tests/hardening-test.sh FILE...         those files (the Dockerfile's build stage)
#
# A program that uses no fortifiable call would show no __*_chk import; these
# use snprintf and memcpy everywhere, so the absence means the flag is gone.
set -eu

READELF=${READELF:-readelf}
command -v "$READELF" >/dev/null 2>&1 || { echo "hardening-test: $READELF not found (binutils)" >&2; exit 1; }

if [ $# -eq 0 ]; then
	if [ "${HARDENING:-yes}" = no ]; then
		echo "hardening-test: configured with --disable-hardening: skipped"
		exit 77
	fi
	b=${top_builddir:-..}
	# libtool keeps the real programs of an uninstalled build in .libs/
	# (the top-level names may be wrapper scripts)
	for p in examples/peerop-server examples/peerop-operator devcluster/peerop-devcluster; do
		d=$(dirname "$p"); n=$(basename "$p")
		if [ -f "$b/$d/.libs/$n" ]; then set -- "$@" "$b/$d/.libs/$n"
		elif [ -f "$b/$p" ]; then set -- "$@" "$b/$p"
		else echo "hardening-test: $b/$p not built" >&2; exit 1
		fi
	done
	lib=$(ls "$b"/lib/.libs/libpeerop.so.*.*.* 2>/dev/null | head -n 1)
	[ -n "$lib" ] || { echo "hardening-test: $b/lib/.libs/libpeerop.so not built" >&2; exit 1; }
	set -- "$@" "$lib"
	self_test=1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/harden-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
bad=0
missing() { echo "FAIL: $1: $2" >&2; bad=1; fbad=1; }

check() {
	for f in "$@"; do
		fbad=0
		[ -f "$f" ] || { missing "$f" "no such file"; continue; }
		LC_ALL=C "$READELF" -h -l -d --dyn-syms -W "$f" >"$tmp/elf" 2>"$tmp/err" || {
			cat "$tmp/err" >&2; missing "$f" "not an ELF file"; continue; }
		grep -q 'Type: *DYN' "$tmp/elf" || missing "$f" "not position-independent (ELF type is not DYN)"
		# a shared library has a SONAME; a program must carry the PIE flag
		if ! grep -q '(SONAME)' "$tmp/elf"; then
			grep -Eq '\(FLAGS_1\).*\bPIE\b' "$tmp/elf" || missing "$f" "not a PIE (no PIE in DT_FLAGS_1)"
		fi
		grep -q 'GNU_RELRO' "$tmp/elf" || missing "$f" "no RELRO (no GNU_RELRO segment)"
		grep -Eq '\(BIND_NOW\)|\(FLAGS\).*\bBIND_NOW\b|\(FLAGS_1\).*\bNOW\b' "$tmp/elf" \
			|| missing "$f" "partial RELRO only (no BIND_NOW: link with -Wl,-z,now)"
		grep -q ' __stack_chk_fail' "$tmp/elf" || missing "$f" "no stack protector (__stack_chk_fail not imported)"
		grep -Eq ' __[a-z0-9_]+_chk(@|$)' "$tmp/elf" || missing "$f" "no _FORTIFY_SOURCE (no __*_chk function imported)"
		if grep -E 'GNU_STACK' "$tmp/elf" | grep -q 'RWE'; then missing "$f" "executable stack"; fi
		[ $fbad = 1 ] || echo "ok: $f: PIE, full RELRO, bind-now, stack protector, _FORTIFY_SOURCE, NX stack"
	done
}

# The checker itself must see each flag go missing: under make check, build a
# program without them and expect one complaint per property.
if [ -n "${self_test:-}" ] && [ -n "${CC:-}" ]; then
	cat >"$tmp/weak.c" <<'EOF'
#include <stdio.h>
#include <string.h>
int main(int argc, char **argv)
{
	char b[16];
	snprintf(b, sizeof b, "%s", argv[argc - 1]);
	memcpy(b, argv[0], strlen(argv[0]) % sizeof b);
	return b[0];
}
EOF
	# the sanitizers' runtime would bring its own imports: a plain link
	${CC%% *} -O2 -no-pie -fno-stack-protector -U_FORTIFY_SOURCE -Wl,-z,norelro -Wl,-z,lazy -Wl,-z,execstack \
		-o "$tmp/weak" "$tmp/weak.c"
	check "$tmp/weak" 2>"$tmp/weak.log" || true
	for want in 'not position-independent' 'not a PIE' 'no RELRO' 'no BIND_NOW' 'no stack protector' \
		'no _FORTIFY_SOURCE' 'executable stack'; do
		grep -q "$want" "$tmp/weak.log" || { cat "$tmp/weak.log" >&2
			echo "FAIL: the checker missed '$want' in an unhardened program" >&2; exit 1; }
	done
	bad=0
	echo "ok: an unhardened program fails each check"
fi

check "$@"
[ $bad = 0 ] || { echo "hardening-test: FAILED" >&2; exit 1; }
