#!/bin/sh
# Quick start, command 2: install what is missing, build with -Werror and
# AddressSanitizer + UndefinedBehaviorSanitizer, and run every test.
#
#   ./test.sh            (as root on Debian 12, or with sudo available)
#
# Builds out of tree in _build/test. `make distcheck` then checks the
# tarball: it builds, tests, installs and builds a consumer against the
# installed library with pkg-config alone.
set -eu
. "$(dirname "$0")/scripts/common.sh"
peerop_prepare test
build="$top/_build/test"
peerop_configure "$build" --enable-werror --enable-sanitizers=address,undefined
peerop_reachable "$build"

show_failures() {
	for f in $(find . -name test-suite.log); do
		echo "==== $f" >&2
		cat "$f" >&2
	done
}

make -j"$jobs" >/dev/null
# The container images, built once per run (podman's layer cache keeps what
# did not change) for tests/image-test.sh, which runs them.
if [ "$(id -u)" = 0 ]; then
	t0=$(date +%s)
	"$top/scripts/images.sh"
	PEEROP_IMAGES=$("$top/scripts/images.sh" --print-tags)
	export PEEROP_IMAGES
	echo "test.sh: images ready in $(( $(date +%s) - t0 )) s: $PEEROP_IMAGES"
else
	echo "test.sh: not root: no container images (rootful podman); tests/image-test.sh skips"
fi
if ! make -j"$jobs" check; then
	show_failures
	echo "test.sh: FAILED (logs above; build tree: $build)" >&2
	exit 1
fi
# (the tarball's tests need not run the same images again)
if ! PEEROP_IMAGES= make -j"$jobs" distcheck >distcheck.log 2>&1; then
	tail -n 80 distcheck.log >&2
	echo "test.sh: make distcheck FAILED (full log: $build/distcheck.log)" >&2
	exit 1
fi
grep -E '^(PASS|FAIL|XFAIL|ERROR|SKIP):|consumer:' distcheck.log | sort | uniq -c | sort -rn | head -n 5 || true
echo "test.sh: all tests passed"
