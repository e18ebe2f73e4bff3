#!/bin/sh
# The tutorial's operator (examples/replicate, docs/writing-an-operator.md)
# as a user builds it: libpeerop installed into a temporary prefix (make
# install DESTDIR=...), the example built out of tree by its own Makefile with
# pkg-config alone, then run against the installed peerop-devcluster and
# driven with kubectl. Every wait polls with a deadline.
set -eu
: "${top_builddir:?}" "${top_srcdir:?}"
kubectl=${KUBECTL:-kubectl}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/replicate-test-XXXXXX")
dcpid=
oppid=
cleanup() {
	[ -z "$oppid" ] || kill -9 "$oppid" 2>/dev/null || true
	[ -z "$dcpid" ] || kill "$dcpid" 2>/dev/null || true
	[ -z "$dcpid" ] || wait "$dcpid" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*" >&2
	for f in replicate.log devcluster.log; do
		[ -s "$tmp/$f" ] && { echo "--- $f:" >&2; tail -n 40 "$tmp/$f" >&2; }
	done
	exit 1
}
poll() {
	_deadline=$(( $(date +%s) + $1 )); shift
	until "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -lt "$_deadline" ] || return 1
		sleep 0.1
	done
}

# 0. the tutorial shows the code that runs: every line of its C blocks is a
#    line of replicate.c
doc="$top_srcdir/docs/writing-an-operator.md"
src="$top_srcdir/examples/replicate/replicate.c"
awk '/^```c$/ { inc = 1; next } /^```/ { inc = 0 } inc && NF' "$doc" > "$tmp/doc-lines"
[ -s "$tmp/doc-lines" ] || fail "no C block in $doc"
while IFS= read -r line; do
	grep -Fxq -- "$line" "$src" || fail "writing-an-operator.md shows a line replicate.c does not have: $line"
done < "$tmp/doc-lines"
echo "ok: the tutorial's $(wc -l < "$tmp/doc-lines") lines of C are replicate.c's"

# 1. install into a temporary prefix
make -C "$top_builddir" install DESTDIR="$tmp/root" >"$tmp/install.log" 2>&1 || {
	tail -n 30 "$tmp/install.log" >&2; fail "make install DESTDIR=$tmp/root"; }
pc="$top_builddir/pkgconfig/libpeerop.pc"
libdir=$tmp/root$(pkg-config --variable=libdir "$pc")
bindir=$tmp/root$(sed -n 's/^prefix=//p' "$pc")/bin
[ -f "$libdir/pkgconfig/libpeerop.pc" ] || fail "no libpeerop.pc installed in $libdir/pkgconfig"
echo "ok: installed into $tmp/root"

# 2. build out of tree: a copy of the example, its Makefile, pkg-config
cp -R "$top_srcdir/examples/replicate" "$tmp/src"
chmod -R u+w "$tmp/src"
rm -f "$tmp/src/replicate"
PKG_CONFIG_PATH="$libdir/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$tmp/root" \
	make -C "$tmp/src" CFLAGS="-O1 -g ${SAN_CFLAGS:-}" LDFLAGS="${SAN_LDFLAGS:-}" >"$tmp/build.log" 2>&1 || {
	cat "$tmp/build.log" >&2; fail "the out-of-tree build"; }
echo "ok: built with pkg-config alone"

# 3. run it against the installed local control plane
export LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
"$bindir/peerop-devcluster" --listen 127.0.0.1:0 --kubeconfig-out "$tmp/kc" >"$tmp/devcluster.log" 2>&1 &
dcpid=$!
poll 30 test -s "$tmp/kc" || fail "peerop-devcluster did not start"
k() { "$kubectl" --kubeconfig "$tmp/kc" "$@"; }
"$tmp/src/replicate" --kubeconfig "$tmp/kc" >"$tmp/replicate.log" 2>&1 &
oppid=$!
poll 30 grep -q "caches synced" "$tmp/replicate.log" || fail "replicate did not start"
echo "ok: replicate runs"

data_is() { [ "$(k get cm settings -n "$1" -o jsonpath='{.data.level}')" = "$2" ]; }
gone() { ! k get cm settings -n "$1" >/dev/null 2>&1; }

k create namespace team-a >/dev/null
k create namespace team-b >/dev/null
k create configmap settings -n team-a --from-literal=level=info >/dev/null
k label configmap settings -n team-a replicate.peerop.io/role=source >/dev/null
for ns in team-b default; do
	poll 60 data_is $ns info || fail "no copy in $ns"
done
echo "ok: copied into every other namespace"
[ "$(k get cm settings -n team-a -o jsonpath='{.metadata.finalizers[0]}')" = replicate.peerop.io/copies ] ||
	fail "the source has no finalizer"
echo "ok: the source carries the finalizer"

k patch configmap settings -n team-a --type merge -p '{"data":{"level":"debug"}}' >/dev/null
poll 60 data_is team-b debug || fail "a change to the source did not reach team-b"
echo "ok: a change to the source reaches the copies"

k patch configmap settings -n team-b --type merge -p '{"data":{"level":"tampered"}}' >/dev/null
poll 60 data_is team-b debug || fail "a copy edited by hand was not put right"
k delete configmap settings -n team-b >/dev/null
poll 60 data_is team-b debug || fail "a copy deleted by hand was not put back"
echo "ok: copies edited or deleted by hand are put right"

k create namespace team-c >/dev/null
poll 60 data_is team-c debug || fail "no copy in a new namespace"
echo "ok: a new namespace gets a copy"

k delete configmap settings -n team-a --wait=false >/dev/null
for ns in team-a team-b team-c default; do
	poll 60 gone $ns || fail "ConfigMap settings still in $ns after the source was deleted"
done
echo "ok: deleting the source deletes every copy, then the source"

kill -TERM "$oppid"
rc=0; wait "$oppid" || rc=$?
oppid=
[ $rc = 0 ] || fail "replicate exited $rc after SIGTERM"
if grep -E ' (ERROR|WARN) ' "$tmp/replicate.log" | grep -v 'PEEROP_ECONFLICT' >&2; then
	fail "replicate logged errors (above)"
fi
echo "ok: SIGTERM stops it cleanly"
echo "replicate-test: 1 passed, 0 failed"
