#!/bin/sh
# devcluster-rbac-operator.sh: the chart's least-privilege RBAC, judged.
# The real peerop-operator runs as a process with a TokenRequest token of
# the chart's ServiceAccount (its kubeconfig holds the token, not its
# command line), under the chart's Role and RoleBinding only (rendered by
# helm), against peerop-devcluster --run-pods enforcing RBAC, in a namespace
# labelled pod-security.kubernetes.io/enforce=restricted. Through create,
# scale 5 to 1, repair (a deleted Deployment and ConfigMap come back) and
# delete, its metrics count no 403 (rest_client_requests_total). Then one
# rule is taken out of the Role: the operator says which call was
# forbidden, and recovers once the rule is back. Root only (mounts).
set -eu
. "${srcdir:-.}/devcluster-kubectl-lib.sh"
[ "$(id -u)" = 0 ] || { echo "not root: skipped"; exit 77; }
HELM=${HELM:-$(command -v helm || true)}
[ -n "$HELM" ] || { echo "helm not found: skipped"; exit 77; }
KUBECTL=${KUBECTL:-$(command -v kubectl || true)}
[ -n "$KUBECTL" ] || { echo "kubectl not found: skipped"; exit 77; }
unset KUBERNETES_SERVICE_HOST || true
builddir=$(cd "${top_builddir:-..}" && pwd)
DEVCLUSTER_FLAGS="--run-pods --image peerop-server=$builddir/examples/peerop-server"
K=$KUBECTL
KLABEL="rbac operator"
NS=ops
op=

stop_operator() {
	if [ -n "$op" ]; then kill -TERM "$op" 2>/dev/null || true; wait "$op" 2>/dev/null || true; fi
	op=
}
metrics() { curl -sf "http://127.0.0.1:$mport/metrics" >"$tmp/metrics"; }
# no_403: the operator's client never got a 403
no_403() {
	metrics || fail "no metrics"
	grep -q '^rest_client_requests_total{' "$tmp/metrics" || fail "no rest_client_requests_total in the metrics"
	if grep -E '^rest_client_requests_total\{[^}]*code="403"[^}]*\} [1-9]' "$tmp/metrics" >&2; then
		echo "--- operator log:" >&2
		grep -i forbidden "$tmp/operator.log" | head -n 20 >&2
		fail "the operator was refused (403) by the chart's own RBAC"
	fi
}
ready_is() { [ "$("$K" -n $NS get hs web -o jsonpath='{.status.readyReplicas}' 2>/dev/null)" = "$1" ]; }
pods_are() { [ "$("$K" -n $NS get pods -l app.kubernetes.io/instance=web --no-headers 2>/dev/null | grep -c . || true)" -eq "$1" ]; }

start_server
run "$K" apply -f "$CRD_FILE"
poll 60 "$K" get httpservers || fail "the CRD is not served"
run "$K" create namespace $NS
run "$K" label namespace $NS pod-security.kubernetes.io/enforce=restricted
# the chart's ServiceAccount, Roles and RoleBindings, nothing more
"$HELM" template op "$srcroot/charts/peerop" --namespace $NS --show-only templates/serviceaccount.yaml \
	--show-only templates/rbac.yaml >"$tmp/rbac.yaml" 2>"$tmp/err" || fail "helm template"
run "$K" -n $NS apply -f "$tmp/rbac.yaml"
run "$K" -n $NS get sa -o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}'
sa=$(grep -v '^default$' "$tmp/out" | head -n 1)
[ -n "$sa" ] || fail "the chart made no ServiceAccount"
run "$K" -n $NS get role -o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}'
role=$(grep -v leader "$tmp/out" | head -n 1)
[ -n "$role" ] || fail "the chart made no Role"
tok=$("$K" -n $NS create token "$sa" --duration 2h) || fail "kubectl create token"
python3 - "$KUBECONFIG" "$tmp/op-kc" "$tok" $NS <<'PY' || fail "kubeconfig"
import json, os, sys
k = json.load(open(sys.argv[1]))
k["users"] = [{"name": "operator", "user": {"token": sys.argv[3]}}]
k["contexts"] = [{"name": "operator", "context": {"cluster": k["clusters"][0]["name"], "user": "operator",
                  "namespace": sys.argv[4]}}]
k["current-context"] = "operator"
fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
os.write(fd, json.dumps(k).encode())
os.close(fd)
PY
unset tok
# the token is that ServiceAccount's, and may do only what the Role says
KUBECONFIG="$tmp/op-kc" "$K" auth whoami >"$tmp/out" 2>&1 || fail "whoami: $(cat "$tmp/out")"
expect out "system:serviceaccount:$NS:$sa"
[ "$(KUBECONFIG="$tmp/op-kc" "$K" auth can-i delete deployments || true)" = no ] || fail "the token may delete deployments"
mport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$builddir/examples/peerop-operator" --kubeconfig "$tmp/op-kc" --namespace $NS --leader-elect \
	--lease-namespace $NS --lease-name peerop-operator --metrics-listen "127.0.0.1:$mport" \
	>"$tmp/operator.log" 2>&1 &
op=$!
bgpids="$bgpids $op"
poll 60 metrics || fail "the operator serves no metrics: $(tail -n 20 "$tmp/operator.log")"

# create 5
cat >"$tmp/hs.yaml" <<YAML
apiVersion: peerop.io/v1alpha1
kind: HTTPServer
metadata: {name: web, namespace: $NS}
spec:
  replicas: 5
  port: 8080
  pingIntervalSeconds: 1
YAML
run "$K" apply -f "$tmp/hs.yaml"
poll 180 ready_is 5 || fail "not 5 ready: $(tail -n 30 "$tmp/operator.log")"
no_403
# scale 5 to 1
run "$K" -n $NS scale hs web --replicas=1
poll 120 pods_are 1 || fail "still $("$K" -n $NS get pods --no-headers | wc -l) pods"
poll 60 ready_is 1 || fail "not 1 ready"
no_403
# repair: what the operator owns comes back
run "$K" -n $NS delete deployment web
poll 120 "$K" -n $NS get deployment web || fail "the Deployment was not recreated"
run "$K" -n $NS delete configmap web-peers
poll 120 "$K" -n $NS get configmap web-peers || fail "the peers ConfigMap was not recreated"
poll 120 ready_is 1 || fail "not ready after the repair"
no_403

# one rule out: creating Services is forbidden; the operator says so
run "$K" -n $NS get role "$role" -o json
python3 - "$tmp/out" >"$tmp/role-cut.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
for rule in r["rules"]:
    if "services" in rule.get("resources", []):
        rule["resources"] = [x for x in rule["resources"] if x != "services"]
print(json.dumps(r))
PY
cp "$tmp/out" "$tmp/role-full.json"
run "$K" -n $NS replace -f "$tmp/role-cut.json"
sed 's/name: web,/name: web2,/' "$tmp/hs.yaml" >"$tmp/hs2.yaml"
run "$K" apply -f "$tmp/hs2.yaml"
poll 120 grep -q "services.*is forbidden: User \\\\\"system:serviceaccount:$NS:$sa\\\\\" cannot\|services.*is forbidden: User \"system:serviceaccount:$NS:$sa\" cannot" "$tmp/operator.log" ||
	fail "the operator does not say it was refused: $(tail -n 20 "$tmp/operator.log")"
echo "the operator said: $(grep -i forbidden "$tmp/operator.log" | grep services | head -n 1)"
metrics
grep -E '^rest_client_requests_total\{[^}]*code="403"[^}]*\} [1-9]' "$tmp/metrics" || fail "no 403 counted"
# the rule back: it recovers without a restart
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); [r["metadata"].pop(k, None) for k in ("resourceVersion","uid","managedFields")]; print(json.dumps(r))' \
	"$tmp/role-full.json" >"$tmp/role-back.json"
run "$K" -n $NS replace -f "$tmp/role-back.json"
poll 180 "$K" -n $NS get service web2 || fail "the operator did not recover: $(tail -n 20 "$tmp/operator.log")"
poll 180 sh -c "[ \"\$('$K' -n $NS get hs web2 -o jsonpath='{.status.readyReplicas}')\" = 5 ]" ||
	fail "web2 is not ready after the rule came back"

# delete
run "$K" -n $NS delete hs web web2 --wait=true --timeout=60s
poll 120 pods_are 0 || fail "pods left"
kill -0 "$op" || fail "the operator died: $(tail -n 20 "$tmp/operator.log")"
stop_operator
stop_server
echo "devcluster-rbac-operator: ok"
