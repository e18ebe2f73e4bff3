#!/bin/sh
# The whole system on one machine, once built (see demo.sh): the local
# control plane running pods as local processes, peerop-operator, and an
# HTTPServer of 5 peerop-servers that ping each other; then `kubectl scale`
# to 1, and the remaining server's peer list shrinks without a restart.
#
#   scripts/demo-cluster.sh BUILD_DIR
#
# PEEROP_DEMO_ONCE=1 ends after the scale step (for tests) instead of
# following the remaining server's log until Ctrl-C. Needs root (pods get
# their own mount namespaces, as containers) and kubectl (fetched into
# .tools/bin by scripts/install-deps.sh).
set -eu
build=$1; shift
top=$(cd "$(dirname "$0")/.." && pwd)
dc="$build/devcluster/peerop-devcluster"
op="$build/examples/peerop-operator"
server="$build/examples/peerop-server"
crd="$top/charts/peerop/crds/httpservers.peerop.io.yaml"
for b in "$dc" "$op" "$server"; do
	[ -x "$b" ] || { echo "demo: $b is not built" >&2; exit 1; }
done
K=${KUBECTL:-$(command -v kubectl || true)}
[ -n "$K" ] || { echo "demo: kubectl not found (scripts/install-deps.sh demo fetches it)" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/peerop-demo-XXXXXX")
chmod 755 "$tmp"
dc_pid= op_pid= tail_pid=

stop() {
	trap - INT TERM EXIT
	echo
	echo "demo: stopping (the operator, then the control plane, which stops every pod)"
	for p in $tail_pid $op_pid; do kill -TERM "$p" 2>/dev/null || true; done
	for p in $tail_pid $op_pid; do wait "$p" 2>/dev/null || true; done
	status=0
	if [ -n "$dc_pid" ]; then
		kill -TERM "$dc_pid" 2>/dev/null || true
		wait "$dc_pid" || status=1
	fi
	rm -rf "$tmp"
	[ $status = 0 ] && echo "demo: done"
	exit $status
}
trap stop INT TERM EXIT

# poll SECONDS CMD...: retry until it succeeds or the time is up
poll() {
	_end=$(( $(date +%s) + $1 )); shift
	until "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -lt "$_end" ] || return 1
		sleep 0.2
	done
}
say() { printf '\n\033[1mdemo: %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }

# The "image": the server and its library staged where the pods' user (UID
# 65532, as the operator's pod template asks) can read them, whatever the
# permissions of the checkout (/root is 0700 on Debian).
stage="$tmp/images/peerop-server"
mkdir -p "$stage/lib"
if [ -x "$build/examples/.libs/peerop-server" ]; then
	# a libtool build: the real program is in .libs, its library in lib/.libs
	cp "$build/examples/.libs/peerop-server" "$stage/peerop-server.bin"
	cp -P "$build"/lib/.libs/libpeerop.so* "$stage/lib/"
	printf '#!/bin/sh\nLD_LIBRARY_PATH=%s/lib exec %s/peerop-server.bin "$@"\n' "$stage" "$stage" \
		>"$stage/peerop-server"
else
	cp "$server" "$stage/peerop-server"
fi
chmod -R a+rX "$tmp"
chmod 755 "$stage/peerop-server"

say "starting the local control plane (pods run as processes of $server)"
"$dc" --listen 127.0.0.1:0 --kubeconfig-out "$tmp/kubeconfig" --tls --data-dir "$tmp/data" \
	--run-pods --image "peerop-server=$stage/peerop-server" --log-level warn >"$tmp/devcluster.log" 2>&1 &
dc_pid=$!
poll 30 test -s "$tmp/kubeconfig" || { cat "$tmp/devcluster.log" >&2; exit 1; }
export KUBECONFIG="$tmp/kubeconfig" KUBECACHEDIR="$tmp/kube-cache"
show "$K" apply -f "$crd"
poll 30 "$K" get httpservers

say "starting peerop-operator"
"$op" --kubeconfig "$KUBECONFIG" --namespace default --metrics-listen 127.0.0.1:0 >"$tmp/operator.log" 2>&1 &
op_pid=$!

say "asking for 5 servers that ping each other every 3 s"
cat >"$tmp/web.yaml" <<'YAML'
apiVersion: peerop.io/v1alpha1
kind: HTTPServer
metadata:
  name: web
spec:
  replicas: 5
  pingIntervalSeconds: 3
YAML
show "$K" apply -f "$tmp/web.yaml"
show "$K" wait --for=condition=Ready httpserver/web --timeout=120s
show "$K" get httpservers
show "$K" get pods -o wide
first=$("$K" get pods -l app.kubernetes.io/instance=web -o jsonpath='{.items[0].metadata.name}')
say "each server pings the other four and logs who answered ($first):"
ready_pongs() { [ "$("$K" logs "$first" | grep -c 'Response: pong from')" -ge 8 ]; }
poll 60 ready_pongs || true
"$K" logs "$first" | grep 'Response: pong from' | tail -n 4

say "scaling 5 -> 1"
show "$K" scale httpserver web --replicas=1
one_pod() { [ "$("$K" get pods -l app.kubernetes.io/instance=web -o name | wc -l)" -eq 1 ]; }
poll 120 one_pod || { echo "demo: pods did not go" >&2; exit 1; }
show "$K" wait --for=condition=Ready httpserver/web --timeout=120s
show "$K" get httpservers
show "$K" get pods -o wide
left=$("$K" get pods -l app.kubernetes.io/instance=web -o jsonpath='{.items[0].metadata.name}')
show "$K" get configmap web-peers -o 'jsonpath={.data.peers\.json}'
echo
say "$left reloaded its peer list without a restart (restartCount $("$K" get pod "$left" -o 'jsonpath={.status.containerStatuses[0].restartCount}')):"
"$K" logs "$left" | grep -i 'peers' | tail -n 3

if [ "${PEEROP_DEMO_ONCE:-}" = 1 ]; then
	exit 0
fi
say "following $left's log; Ctrl-C stops everything"
"$K" logs -f "$left" &
tail_pid=$!
wait "$tail_pid" || true
