#!/bin/sh
# bench-operator-pods.sh: an HTTPServer of N real servers (default 1,000)
# converging on the local control plane with --run-pods: every pod a
# peerop-server process on its own loopback address.
#
# Measured: the time from `kubectl apply` until the HTTPServer is Ready with
# N of N, and until every server has pinged a complete peer list (its
# /metrics says peerop_peers N-1); the operator's resident memory then; the
# peers ConfigMap's writes. The peer, in the same run: the same N pods as a
# bare Deployment applied with kubectl (no operator, no peer list), until
# `kubectl rollout status` returns: the ratio is the operator's cost over
# the control plane's own.
#
# Root only (pods get namespaces). Heavy: N processes and, as the peer list
# fills in, N x (N-1) pings per round (pingIntervalSeconds 3600: only the
# rounds a new list starts). BENCH_POD_REPLICAS sets N (0 skips).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build="${top_builddir:-${BENCH_BUILDDIR:+$BENCH_BUILDDIR/..}}"
build=$(cd "${build:-$top}" && pwd)
N=${BENCH_POD_REPLICAS:-1000}
[ "$N" -gt 0 ] || { echo "bench-operator-pods: BENCH_POD_REPLICAS=0: skipped"; exit 0; }
[ "$(id -u)" = 0 ] || { echo "bench-operator-pods: not root: skipped"; exit 0; }
dc="$build/devcluster/peerop-devcluster"
op="$build/examples/peerop-operator"
srv="$build/examples/peerop-server"
[ -x "$dc" ] && [ -x "$op" ] && [ -x "$srv" ] || { echo "bench-operator-pods: build first"; exit 0; }
K=${KUBECTL:-$(command -v kubectl || true)}
for t in "$K" curl; do
	command -v "$t" >/dev/null 2>&1 || { echo "bench-operator-pods: $t missing (scripts/install-deps.sh bench)"; exit 0; }
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-oppods-XXXXXX")
dc_pid= op_pid=
cleanup() {
	[ -z "$op_pid" ] || kill "$op_pid" 2>/dev/null || true
	if [ -n "$dc_pid" ] && kill -TERM "$dc_pid" 2>/dev/null; then
		# SIGTERM: the control plane stops every pod it runs
		i=0; while kill -0 "$dc_pid" 2>/dev/null && [ $i -lt 1200 ]; do sleep 0.1; i=$((i + 1)); done
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP PIPE
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
# wait_for SECONDS CMD...: poll CMD (quietly) until it succeeds
wait_for() {
	_d=$(( $(date +%s) + $1 )); shift
	until "$@" >/dev/null 2>&1; do [ "$(date +%s)" -lt "$_d" ] || return 1; sleep 0.5; done
}
# the pod user (65532) must reach the programs
chmod o+x "$tmp"
"$dc" --listen 127.0.0.1:0 --kubeconfig-out "$tmp/kc" --run-pods --image "peerop-server=$srv" \
	--log-level warn >"$tmp/dc.log" 2>&1 &
dc_pid=$!
wait_for 30 test -s "$tmp/kc" || { echo "devcluster did not start"; exit 1; }
export KUBECONFIG="$tmp/kc" KUBECACHEDIR="$tmp/cache"
"$K" apply -f "$top/charts/peerop/crds/httpservers.peerop.io.yaml" >/dev/null
wait_for 30 "$K" get httpservers || { echo "CRD not served"; exit 1; }

# ---- the peer: a bare Deployment of N peerop-servers
cat >"$tmp/bare.yaml" <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: bare}
spec:
  replicas: $N
  selector: {matchLabels: {app: bare}}
  template:
    metadata: {labels: {app: bare}}
    spec:
      automountServiceAccountToken: false
      securityContext: {runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532}
      containers:
        - name: server
          image: peerop-server:bench
          args: ["--listen", "\$(POD_IP):8080", "--id", "\$(POD_NAME)", "--ping-interval", "3600"]
          env:
            - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
            - {name: POD_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
          readinessProbe: {httpGet: {path: /readyz, port: 8080}, periodSeconds: 5}
YAML
t0=$(now)
"$K" apply -f "$tmp/bare.yaml" >/dev/null
"$K" rollout status deployment/bare --timeout=1800s >/dev/null
bare_s=$(since "$t0")
"$K" delete deployment bare --wait=true --timeout=600s >/dev/null
wait_for 900 sh -c "[ -z \"\$('$K' get pods -l app=bare -o name)\" ]" || { echo "bare pods left"; exit 1; }

# ---- the HTTPServer
"$op" --kubeconfig "$tmp/kc" --namespace default --metrics-listen 127.0.0.1:0 >"$tmp/op.log" 2>&1 &
op_pid=$!
wait_for 30 grep -q "caches synced" "$tmp/op.log" || { cat "$tmp/op.log"; echo "operator did not start"; exit 1; }
"$K" get cm -w -o name >"$tmp/cmwatch" 2>/dev/null &
w_pid=$!
t0=$(now)
printf 'apiVersion: peerop.io/v1alpha1\nkind: HTTPServer\nmetadata: {name: web}\nspec: {replicas: %s, pingIntervalSeconds: 3600}\n' "$N" |
	"$K" apply -f - >/dev/null
ready() { [ "$("$K" get hs web -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status} {.status.readyReplicas} {.status.peers.count}')" = "True $N $N" ]; }
wait_for 1800 ready || { "$K" get hs web -o yaml | tail -30; echo "not ready"; exit 1; }
ready_s=$(since "$t0")
# every server's last round pinged N-1 peers (itself excluded)
complete() {
	"$K" get pods -l app.kubernetes.io/instance=web -o 'jsonpath={range .items[*]}{.status.podIP}{"\n"}{end}' >"$tmp/ips"
	[ "$(grep -c . "$tmp/ips")" -eq "$N" ] || return 1
	while read -r ip; do
		curl -sf --max-time 10 "http://$ip:8080/metrics" | grep -q "^peerop_peers $((N - 1))\$" || return 1
	done <"$tmp/ips"
}
wait_for 1800 complete || { echo "some server's peer list is incomplete"; exit 1; }
complete_s=$(since "$t0")
rss=$(awk '/^VmRSS:/ {printf "%.1f", $2 / 1024}' "/proc/$op_pid/status")
kill "$w_pid" 2>/dev/null || true
writes=$(grep -c '^configmap/web-peers$' "$tmp/cmwatch" || true)
echo "HTTPServer of $N servers (peerop-server processes) on the local control plane"
printf '%-44s %10s %10s\n' "" seconds "vs bare"
printf '%-44s %10s %10s\n' "bare Deployment, rollout status (peer)" "$bare_s" "1.00x"
printf '%-44s %10s %10s\n' "HTTPServer Ready $N/$N, peer list written" "$ready_s" "$(awk -v a="$ready_s" -v b="$bare_s" 'BEGIN { printf "%.2fx", a / b }')"
printf '%-44s %10s %10s\n' "every server pinged $((N - 1)) peers" "$complete_s" "$(awk -v a="$complete_s" -v b="$bare_s" 'BEGIN { printf "%.2fx", a / b }')"
echo "operator RSS at the end: $rss MiB; peers ConfigMap writes (events seen by a watch): $writes"
