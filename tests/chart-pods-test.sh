#!/bin/sh
# chart-pods-test.sh: the chart as a cluster user runs it, on the local
# control plane with --run-pods (root only: pods get namespaces): the
# chart's operator Deployment runs peerop-operator as a pod (in-cluster
# configuration, the service account token the kubelet mounts), which runs
# real peerop-server pods.
#   1. install the previous chart release (tests/chart-previous, 0.1.0)
#      and make an HTTPServer by hand;
#   2. upgrade as charts/peerop/README.md says (CRDs first, then the
#      chart): the hand-made HTTPServer's servers keep running, untouched;
#   3. the sample HTTPServer, and `helm test`: every member answers /ping
#      with "pong\n"; the test fails when a member is missing;
#   4. uninstall: the sample's servers go, the operator goes.
set -eu
. "${srcdir:-.}/devcluster-kubectl-lib.sh"
[ "$(id -u)" = 0 ] || { echo "not root: skipped"; exit 77; }
HELM=${HELM:-$(command -v helm || true)}
[ -n "$HELM" ] || { echo "helm not found: skipped"; exit 77; }
KUBECTL=${KUBECTL:-$(command -v kubectl || true)}
[ -n "$KUBECTL" ] || { echo "kubectl not found: skipped"; exit 77; }
builddir=$(cd "${top_builddir:-..}" && pwd)
CHART="$srcroot/charts/peerop"
PREV="$srcroot/tests/chart-previous/peerop"
export HELM_CACHE_HOME="$tmp/helm-cache" HELM_CONFIG_HOME="$tmp/helm-config" HELM_DATA_HOME="$tmp/helm-data"
DEVCLUSTER_FLAGS="--run-pods --image peerop-server=$builddir/examples/peerop-server --image peerop-operator=$builddir/examples/peerop-operator"
K=$KUBECTL
# On a failure too, stop the control plane with SIGTERM first: it stops
# every pod it runs, which a SIGKILL would leave behind (up to 30 s).
graceful_cleanup() {
	if [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null; then
		_n=0
		while kill -0 "$pid" 2>/dev/null && [ $_n -lt 300 ]; do sleep 0.1; _n=$((_n + 1)); done
	fi
	cleanup
}
trap graceful_cleanup EXIT

pods_of() { "$K" -n ops get pods -l "app.kubernetes.io/instance=$1" \
	-o jsonpath='{range .items[*]}{.metadata.uid} {.status.containerStatuses[0].restartCount}{"\n"}{end}' | sort; }
count_is() { [ "$("$K" -n ops get pods -l "app.kubernetes.io/instance=$1" --no-headers 2>/dev/null | grep -c . || true)" -eq "$2" ]; }
ready_is() { [ "$("$K" -n ops get hs "$1" -o jsonpath='{.status.readyReplicas}' 2>/dev/null)" = "$2" ]; }
pinging() { "$K" -n ops logs "$1" 2>/dev/null | grep -q "Response: pong from $2"; }
seen_pods() { "$K" -n ops get pods -o name >>"$tmp/pods" 2>/dev/null || true; }
oplog() { "$K" -n ops logs deploy/peerop 2>&1 | tail -n 40; }

suite() {
	# pods share the host's ports here (each has its own address, but the
	# operator listens on every address): a free port, not 8081, which
	# another test run on the machine may hold
	mport=$(python3 -c 'import socket; s = socket.socket(); s.bind(("", 0)); print(s.getsockname()[1])')
	run "$K" create namespace ops
	# ---- 1. the previous release, and an HTTPServer made by hand
	run "$HELM" install peerop "$PREV" --namespace ops --set metrics.port="$mport"
	expect out '^STATUS: deployed$'
	run "$K" -n ops rollout status deployment/peerop --timeout=120s
	cat >"$tmp/keep.yaml" <<'YAML'
apiVersion: peerop.io/v1alpha1
kind: HTTPServer
metadata: {name: keep}
spec: {replicas: 3, pingIntervalSeconds: 1}
YAML
	run "$K" -n ops apply -f "$tmp/keep.yaml"
	poll 120 ready_is keep 3 || fail "keep is not ready under 0.1.0: $(oplog)"
	seen_pods
	pods_of keep >"$tmp/keep.before"
	set -- $(cut -d' ' -f1 "$tmp/keep.before")
	[ $# -eq 3 ] || fail "expected 3 pods of keep: $(cat "$tmp/keep.before")"

	# ---- 2. upgrade: CRDs first (helm never upgrades crds/), then the chart;
	# helm 4 created the CRD by server-side apply: take its fields over
	run_fails "$K" apply --server-side -f "$CHART/crds/"
	expect err 'conflict with "helm"'
	run "$K" apply --server-side --force-conflicts -f "$CHART/crds/"
	run "$HELM" upgrade peerop "$CHART" --namespace ops --set metrics.port="$mport" --set sample.enabled=true \
		--set sample.pingIntervalSeconds=1 --set tests.timeoutSeconds=120
	expect out '^STATUS: deployed$'
	run "$HELM" -n ops history peerop
	expect out 'peerop-0\.1\.0'
	expect out 'peerop-0\.2\.0'
	run "$K" -n ops rollout status deployment/peerop --timeout=120s
	poll 120 ready_is web 3 || fail "the sample is not ready: $(oplog)"
	# keep's servers are the same pods, never restarted, and ping each other
	poll 60 ready_is keep 3 || fail "keep is not ready after the upgrade"
	pods_of keep >"$tmp/keep.after"
	cmp -s "$tmp/keep.before" "$tmp/keep.after" ||
		fail "keep's pods changed: $(cat "$tmp/keep.before") -> $(cat "$tmp/keep.after")"
	run "$K" -n ops get pods -l app.kubernetes.io/instance=keep -o jsonpath='{.items[*].metadata.name}'
	set -- $(cat "$tmp/out")
	poll 60 pinging "$1" "$2" || fail "$1 does not ping $2 after the upgrade"
	poll 60 pinging "$2" "$3" || fail "$2 does not ping $3 after the upgrade"

	seen_pods
	# ---- 3. helm test: each member of the sample answers "pong\n"
	run "$HELM" test peerop --namespace ops --logs --timeout 180s
	expect out 'Phase: +Succeeded'
	expect out 'OK: 3 peers answered pong: web-'
	# and it fails when a member is missing (the list has 2, 3 are expected)
	run "$HELM" upgrade peerop "$CHART" --namespace ops --reuse-values --set tests.timeoutSeconds=5
	run "$K" -n ops scale hs web --replicas=2
	poll 120 count_is web 2 || fail "web did not scale to 2"
	run_fails "$HELM" test peerop --namespace ops --logs --timeout 120s
	expect out '2 peers in the set, 3 expected'

	seen_pods
	# ---- 4. uninstall: what the release made goes; the CRD stays
	run "$HELM" uninstall peerop --namespace ops --wait --timeout 120s
	poll 120 count_is web 0 || fail "the sample's servers are still running"
	poll 120 sh -c "! '$K' -n ops get deploy peerop" || fail "the operator is still there"
	run "$K" get crd httpservers.peerop.io
	run "$K" -n ops delete hs keep --wait=true --timeout=60s
	poll 120 count_is keep 0 || fail "keep's pods are left"
}

unset KUBERNETES_SERVICE_HOST || true
KLABEL="chart pods, $K"
start_server
suite
stop_server
# every server and operator process of this test's pods is gone with its
# pod (other tests, of this build or another, run theirs meanwhile)
ps -eo pid,args | grep -v grep | grep -- "$builddir/examples/" >"$tmp/procs" || true
for p in $(sort -u "$tmp/pods"); do
	if grep -q -- "--id ${p#pod/} " "$tmp/procs"; then cat "$tmp/procs" >&2; fail "the process of $p is left"; fi
done
if grep -q -- "--namespace=ops .*--lease-namespace=ops" "$tmp/procs"; then
	cat "$tmp/procs" >&2
	fail "the operator's process is left"
fi
echo "chart-pods-test: ok"
