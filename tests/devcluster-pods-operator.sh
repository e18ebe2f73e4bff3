#!/bin/sh
# devcluster-pods-operator.sh: the whole system on one machine. The real
# peerop-operator (unchanged, as for a real cluster) runs against
# peerop-devcluster --run-pods: an HTTPServer becomes a Deployment of
# hardened peerop-server pods (UID 65532, read-only root file system, the
# peers ConfigMap mounted read-only) that really run and ping each other;
# scaling to 1 kills two servers and the survivor's peers file follows;
# deleting the HTTPServer stops every process. Root only (mounts).
set -eu
. "${srcdir:-.}/devcluster-kubectl-lib.sh"
[ "$(id -u)" = 0 ] || { echo "not root: skipped"; exit 77; }
builddir=$(cd "${top_builddir:-..}" && pwd)
DEVCLUSTER_FLAGS="--run-pods --image peerop-server=$builddir/examples/peerop-server"
op=

stop_operator() {
	if [ -n "$op" ]; then kill -TERM "$op" 2>/dev/null || true; wait "$op" 2>/dev/null || true; fi
	op=
}
pods_are() { [ "$("$K" get pods -l app.kubernetes.io/instance=web --no-headers 2>/dev/null | grep -c . || true)" -eq "$1" ]; }
pinging() { "$K" logs "$1" 2>/dev/null | grep -q "Response: pong from $2"; }
peers_are() { [ "$("$K" get cm web-peers -o jsonpath='{.data.peers\.json}' | grep -c '"id"')" -eq "$1" ]; }

suite() {
	run "$K" apply -f "$CRD_FILE"
	poll 60 "$K" get httpservers || fail "the CRD is not served"
	"$builddir/examples/peerop-operator" --kubeconfig "$KUBECONFIG" --metrics-listen 127.0.0.1:0 \
		>"$tmp/operator.log" 2>&1 &
	op=$!
	bgpids="$bgpids $op"
	cat >"$tmp/hs.yaml" <<YAML
apiVersion: peerop.io/v1alpha1
kind: HTTPServer
metadata: {name: web}
spec:
  replicas: 3
  port: 8080
  pingIntervalSeconds: 1
YAML
	run "$K" apply -f "$tmp/hs.yaml"
	run "$K" rollout status deployment/web --timeout=120s
	poll 60 sh -c "[ \"\$('$K' get hs web -o jsonpath='{.status.readyReplicas}')\" = 3 ]" ||
		fail "the HTTPServer is not ready: $(cat "$tmp/operator.log")"
	run "$K" get pods -l app.kubernetes.io/instance=web -o jsonpath='{range .items[*]}{.metadata.name} {end}'
	set -- $(cat "$tmp/out")
	[ $# -eq 3 ] || fail "expected 3 pods: $*"
	# each one pings the others, through the peers file the operator wrote
	poll 60 pinging "$1" "$2" || fail "$1 does not ping $2"
	poll 60 pinging "$2" "$3" || fail "$2 does not ping $3"
	poll 60 pinging "$3" "$1" || fail "$3 does not ping $1"
	# hardened as the operator asks: UID 65532, a read-only root
	run "$K" get pod "$1" -o jsonpath='{.status.containerStatuses[0].ready} {.status.qosClass}'
	expect out '^true Guaranteed$'
	spid=$(for d in /proc/[0-9]*; do if { tr '\0' ' ' <"$d/cmdline"; } 2>/dev/null | grep -q -- "--id $1 "; then
		echo "${d#/proc/}"; fi; done | head -n 1)
	[ -n "$spid" ] || fail "no process for $1"
	[ "$(awk '/^Uid:/ {print $2}' "/proc/$spid/status")" = 65532 ] || fail "$1 does not run as 65532"

	# an image change rolls the servers: new pods of the new image replace
	# the old ones, which end; the new ones find each other
	run "$K" patch hs web --type=merge -p '{"spec":{"image":"peerop-server:0.2.0"}}'
	run "$K" rollout status deployment/web --timeout=120s
	poll 120 sh -c "[ \"\$('$K' get hs web -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status} {.status.image}')\" = 'True peerop-server:0.2.0' ]" ||
		fail "the HTTPServer is not ready on the new image: $("$K" get hs web -o yaml)"
	poll 120 pods_are 3 || fail "not 3 pods after the roll"
	run "$K" get pods -l app.kubernetes.io/instance=web -o jsonpath='{range .items[*]}{.metadata.name} {.spec.containers[0].image}{"\n"}{end}'
	expect_not out ' peerop-server:0\.1\.0$'
	for old in "$@"; do
		if grep -q "^$old " "$tmp/out"; then fail "$old survived the image change"; fi
	done
	set -- $(cut -d' ' -f1 "$tmp/out")
	poll 60 peers_are 3 || fail "the peers ConfigMap lists $("$K" get cm web-peers -o jsonpath='{.data.peers\.json}')"
	poll 60 pinging "$1" "$2" || fail "$1 does not ping $2 after the roll"
	poll 60 pinging "$3" "$1" || fail "$3 does not ping $1 after the roll"

	# 3 to 1: two servers stop, the survivor's peers file has itself only
	run "$K" scale hs web --replicas=1
	poll 60 pods_are 1 || fail "still $("$K" get pods --no-headers | wc -l) pods"
	poll 60 peers_are 1 || fail "the peers ConfigMap still lists $("$K" get cm web-peers -o jsonpath='{.data.peers\.json}')"
	survivor=$("$K" get pods -l app.kubernetes.io/instance=web -o jsonpath='{.items[0].metadata.name}')
	poll 60 sh -c "'$K' logs '$survivor' | grep -q 'Loaded 1 peers'" || fail "$survivor did not reload its peers"

	run "$K" delete hs web --wait=true --timeout=60s
	poll 60 pods_are 0 || fail "pods left after deleting the HTTPServer"
	stop_operator
	grep -q "caches synced" "$tmp/operator.log" || fail "the operator did not start: $(cat "$tmp/operator.log")"
}

# one kubectl is enough: the kubectl tests cover both builds
KUBECTL=${KUBECTL:-$(command -v kubectl || true)}
[ -n "$KUBECTL" ] || { echo "kubectl not found: skipped"; exit 77; }
unset KUBERNETES_SERVICE_HOST || true
K=$KUBECTL
KLABEL="$K"
start_server
suite
stop_server
# every server process is gone with the pods. Only this control plane's
# servers count: other tests of the same build tree (demo-test, in
# parallel) and other checkouts run pods of the same names, but each
# pod's environment names its own API server's port.
apiport=$(sed -n 's|.*"\{0,1\}server"\{0,1\}: *"\{0,1\}https\{0,1\}://[^:/]*:\([0-9][0-9]*\).*|\1|p' "$KUBECONFIG" | head -n 1)
[ -n "$apiport" ] || fail "no server port in $KUBECONFIG"
left=
for d in /proc/[0-9]*; do
	exe=$(readlink "$d/exe" 2>/dev/null) || continue
	case $exe in "$builddir"/*) ;; *) continue ;; esac
	{ tr '\0' '\n' <"$d/environ"; } 2>/dev/null | grep -qx "KUBERNETES_SERVICE_PORT=$apiport" || continue
	if { tr '\0' ' ' <"$d/cmdline"; } 2>/dev/null | grep -q -- "--id web-"; then
		left="$left ${d#/proc/}"
	fi
done
[ -z "$left" ] || fail "peerop-server processes left:$left"
echo "devcluster-pods-operator: ok"
