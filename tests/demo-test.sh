#!/bin/sh
# demo-test.sh: the README's first command's main job, end to end
# (scripts/demo-cluster.sh with PEEROP_DEMO_ONCE=1): 5 servers run as pods
# on the local control plane, ping each other and log pongs carrying the
# others' identities; after scaling to 1 the ConfigMap lists one peer and
# the remaining server reloaded it without a restart. Needs root (pods get
# their own mount namespaces) and kubectl.
set -eu
top="${top_srcdir:-..}"
build="${top_builddir:-..}"
[ "$(id -u)" = 0 ] || { echo "not root: skipped"; exit 77; }
command -v kubectl >/dev/null 2>&1 || { echo "kubectl not found: skipped"; exit 77; }
out=$(mktemp "${TMPDIR:-/tmp}/demo-test-XXXXXX")
trap 'rm -f "$out"' EXIT
fail() { echo "FAIL: $*" >&2; cat "$out" >&2; exit 1; }

PEEROP_DEMO_ONCE=1 timeout 600 sh "$top/scripts/demo-cluster.sh" "$build" >"$out" 2>&1 || fail "demo exit status $?"
grep -Eq '^web +5 +5 ' "$out" || fail "no HTTPServer with 5 of 5 ready"
# pongs carry the identities of the other servers (web-<hash>-<id>)
n=$(grep -Eo 'Response: pong from web-[a-z0-9]+-[a-z0-9]+' "$out" | sort -u | wc -l)
[ "$n" -ge 3 ] || fail "pongs from $n distinct servers, expected several"
grep -Eq '^web +1 +1 ' "$out" || fail "not scaled to 1 of 1 ready"
[ "$(grep -c '"id":"web-' "$out")" = 1 ] || fail "the peers ConfigMap should list exactly one server"
grep -Eq 'without a restart \(restartCount 0\)' "$out" || fail "the remaining server restarted"
grep -Eq 'Loaded 1 peers from /etc/peerop/peers.json' "$out" || fail "no reload of the peer list"
grep -q '^demo: done' "$out" || fail "the demo did not stop cleanly"
echo "demo-test: ok"
