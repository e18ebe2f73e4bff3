#!/bin/sh
# chart-test.sh: the Helm chart charts/peerop with real helm 4: lint,
# what it renders (least-privilege RBAC, a hardened operator pod,
# Guaranteed QoS, leader election wiring, the optional objects, the
# refusals of values.schema.json), every optional object accepted by the
# local control plane (kubectl apply --dry-run=server --validate=strict),
# and install, upgrade and uninstall against it. tests/chart-pods-test.sh
# runs the chart's operator as a pod (helm test, upgrade from 0.1.0).
. "${srcdir:-.}/devcluster-kubectl-lib.sh"
HELM=${HELM:-$(command -v helm || true)}
[ -n "$HELM" ] || { echo "helm not found: skipped"; exit 77; }
CHART="$srcroot/charts/peerop"
export HELM_CACHE_HOME="$tmp/helm-cache" HELM_CONFIG_HOME="$tmp/helm-config" HELM_DATA_HOME="$tmp/helm-data"

render() { run "$HELM" template t "$CHART" --namespace ops "$@"; }

static_checks() {
	KLABEL="helm template"
	run "$HELM" lint --strict "$CHART"
	expect out '1 chart\(s\) linted, 0 chart\(s\) failed'

	render
	# namespaced RBAC only, and only the verbs the operator uses
	expect out '^kind: Role$'
	expect_not out '^kind: ClusterRole'
	expect_not out '"\*"'
	expect_not out '"delete"'
	expect_not out 'secrets'
	expect_not out 'cluster-admin'
	expect out 'resources: \["httpservers/status"\]'
	expect out 'verbs: \["patch"\]'
	expect out 'resourceNames: \["peerop-operator"\]'
	# the operator pod
	expect out 'runAsNonRoot: true'
	expect out 'readOnlyRootFilesystem: true'
	expect out 'allowPrivilegeEscalation: false'
	expect out 'drop: \["ALL"\]'
	expect out 'type: RuntimeDefault'
	expect out 'image: "peerop-operator:0.1.0"'
	expect out -- '- --namespace=ops'
	expect out -- '- --leader-elect'
	expect out -- '- --lease-namespace=ops'
	expect out 'path: /readyz'
	# requests == limits: Guaranteed QoS
	awk '/resources:/{r=1} r&&/requests:/{q=1;l=0} r&&/limits:/{l=1;q=0} q&&/cpu:/{rc=$2} q&&/memory:/{rm=$2} l&&/cpu:/{lc=$2} l&&/memory:/{lm=$2} END{exit !(rc!="" && rc==lc && rm==lm)}' \
		"$tmp/out" || fail "requests and limits differ"

	render --set watchNamespace='*'
	expect out '^kind: ClusterRole$'
	expect out '^kind: ClusterRoleBinding$'
	expect out -- '- --all-namespaces'
	expect_not out '"\*"'

	render --set watchNamespace=apps --set serverImage=registry.example/peerop-server:1.2.3
	expect out 'namespace: apps'
	expect out -- '- --namespace=apps'
	expect out -- '- --default-image=registry.example/peerop-server:1.2.3'

	run_fails "$HELM" template t "$CHART" --set replicaCount=2 --set leaderElection.enabled=false
	expect err 'replicaCount > 1 needs leaderElection.enabled'
	run_fails "$HELM" template t "$CHART" --set serviceAccount.create=false
	expect err 'serviceAccount.name is required'

	# values.schema.json: unknown keys (a typo is never ignored) and bad types
	run_fails "$HELM" template t "$CHART" --set replicacount=2
	expect err "additional properties 'replicacount' not allowed"
	run_fails "$HELM" template t "$CHART" --set metrics.servce.enabled=true
	expect err "at '/metrics': additional properties 'servce' not allowed"
	run_fails "$HELM" template t "$CHART" --set workers=many
	expect err "at '/workers': got string, want integer"
	run_fails "$HELM" template t "$CHART" --set logFormat=yaml
	expect err "at '/logFormat'"
	run_fails "$HELM" template t "$CHART" --set sample.replicas=1001
	expect err "at '/sample/replicas'"
	run_fails "$HELM" template t "$CHART" --set resources.limits.cpu=lots
	expect err "at '/resources/limits/cpu'"
	run_fails "$HELM" lint --strict "$CHART" --set image.pullPolicy=Sometimes
	expect out "at '/image/pullPolicy'"

	# defaults: none of the optional objects
	render
	for k in PodDisruptionBudget NetworkPolicy ServiceMonitor HTTPServer Service Pod; do
		expect_not out "^kind: $k\$"
	done
	# a PodDisruptionBudget only when there is more than one replica
	render --set replicaCount=2
	expect out '^kind: PodDisruptionBudget$'
	expect out 'maxUnavailable: 1'
	render --set replicaCount=2 --set podDisruptionBudget.enabled=false
	expect_not out '^kind: PodDisruptionBudget$'
	# the metrics Service: <fullname>-metrics, as the README says
	render --set metrics.service.enabled=true
	expect out '^  name: t-peerop-metrics$'
	run "$HELM" template peerop "$CHART" --set metrics.service.enabled=true
	expect out '^  name: peerop-metrics$'
	# a ServiceMonitor needs prometheus-operator's CRD, and brings the Service
	run_fails "$HELM" template t "$CHART" --set metrics.serviceMonitor.enabled=true
	expect err "needs prometheus-operator's ServiceMonitor CRD"
	render --set metrics.serviceMonitor.enabled=true --set metrics.serviceMonitor.labels.release=prom \
		--api-versions monitoring.coreos.com/v1/ServiceMonitor
	expect out '^kind: ServiceMonitor$'
	expect out '^    release: prom$'
	expect out '^  name: t-peerop-metrics$'
	# NetworkPolicies: the operator's metrics, the servers' port
	render --set networkPolicy.enabled=true
	expect out '^  name: t-peerop-operator$'
	expect out '^  name: t-peerop-servers$'
	expect out 'kubernetes.io/metadata.name: monitoring'
	expect out 'peerop.io/ping-check: "true"'
	expect out '^        - port: http$'
	# the sample HTTPServer and the helm test that pings its members
	render --set sample.enabled=true --set sample.replicas=4 --set serverImage=reg.example/peerop-server:9
	expect out '^kind: HTTPServer$'
	expect out 'helm.sh/hook: test'
	expect out -- '- --check$'
	expect out -- '- --expect-peers=4$'
	expect out 'image: "reg.example/peerop-server:9"'
	expect out 'name: web-peers'
}

# peerop-server --check, what the helm test runs: bad command lines, a
# member that answers as someone else, one that does not answer, success.
check_cli() {
	KLABEL="peerop-server --check"
	srv="${top_builddir:-..}/examples/peerop-server"
	run_fails "$srv" --check
	expect err 'needs peers'
	run_fails "$srv" --check --peer http://127.0.0.1:1 --expect-peers -1
	expect err 'expect-peers "-1": expected 0-100000'
	run_fails "$srv" --check --peer http://127.0.0.1:1 --check-timeout forever
	expect err 'check-timeout "forever"'
	"$srv" --listen 127.0.0.1:0 --id member-a --ping-interval 60 >"$tmp/member.log" 2>&1 &
	member=$!
	bgpids="$bgpids $member"
	poll 30 grep -q "on port" "$tmp/member.log" || fail "the member did not start"
	mport=$(sed -n 's/.* on port \([0-9]*\).*/\1/p' "$tmp/member.log" | head -n 1)
	echo "{\"peers\":[{\"id\":\"member-a\",\"host\":\"127.0.0.1\",\"port\":$mport}]}" >"$tmp/peers.json"
	run "$srv" --check --peers-file "$tmp/peers.json" --check-timeout 30
	expect out '^OK: 1 peers answered pong: member-a$'
	run_fails "$srv" --check --peers-file "$tmp/peers.json" --expect-peers 2 --check-timeout 1
	expect err '1 peers in the set, 2 expected'
	echo "{\"peers\":[{\"id\":\"member-b\",\"host\":\"127.0.0.1\",\"port\":$mport}]}" >"$tmp/peers.json"
	run_fails "$srv" --check --peers-file "$tmp/peers.json" --check-timeout 1
	expect err 'answered as "member-a", not "member-b"'
	kill "$member"
	wait "$member" || true
	echo "{\"peers\":[{\"id\":\"member-a\",\"host\":\"127.0.0.1\",\"port\":$mport}]}" >"$tmp/peers.json"
	run_fails "$srv" --check --peers-file "$tmp/peers.json" --check-timeout 1
	expect err 'FAILED after 1 s: http://127.0.0.1:'"$mport"'/ping \(member-a\): '
	echo '{"peers":[' >"$tmp/peers.json"
	run_fails "$srv" --check --peers-file "$tmp/peers.json" --check-timeout 1
	expect err 'FAILED'
}

# Every object the chart can render, each option on, accepted by the API
# server as kubectl would send it (strict field validation, nothing stored).
dry_run_checks() {
	run "$K" create namespace ops
	run "$K" apply --server-side -f "$CHART/crds/"
	run "$K" apply --server-side -f "$srcroot/tests/servicemonitor-crd.yaml"
	poll 30 "$K" get servicemonitors -n ops || fail "the ServiceMonitor CRD is not served"
	poll 30 "$K" get httpservers -n ops || fail "the HTTPServer CRD is not served"
	for set in "replicaCount=2,networkPolicy.enabled=true,sample.enabled=true,metrics.serviceMonitor.enabled=true" \
	    "watchNamespace=*,metrics.service.enabled=true,serviceAccount.annotations.a=b"; do
		"$HELM" template t "$CHART" --namespace ops --set "$set" \
			--api-versions monitoring.coreos.com/v1/ServiceMonitor >"$tmp/all.yaml" 2>"$tmp/err" ||
			fail "helm template --set $set"
		run "$K" apply --dry-run=server --validate=strict -f "$tmp/all.yaml"
		expect_not err .
		cat "$tmp/out" >>"$tmp/applied"
	done
	cp "$tmp/applied" "$tmp/out"
	for o in networkpolicy.networking.k8s.io/t-peerop-servers poddisruptionbudget.policy/t-peerop \
	    httpserver.peerop.io/web pod/t-peerop-test-ping clusterrole.rbac.authorization.k8s.io/t-peerop; do
		expect out "^$o created \\(server dry run\\)$"
	done
	expect out '^servicemonitor.monitoring.coreos.com/t-peerop created \(server dry run\)$'
	# the checks are real: a field the schema lacks is refused
	"$HELM" template t "$CHART" --namespace ops --set metrics.serviceMonitor.enabled=true \
		--api-versions monitoring.coreos.com/v1/ServiceMonitor -s templates/servicemonitor.yaml |
		sed 's/scrapeTimeout:/scrapeTimout:/' >"$tmp/bad.yaml"
	run_fails "$K" apply --dry-run=server --validate=strict -f "$tmp/bad.yaml"
	expect err 'unknown field "spec.endpoints\[0\].scrapeTimout"'
	run "$K" get all,pdb,netpol,servicemonitors,httpservers -n ops -o name
	expect_not out .
	run "$K" delete namespace ops --wait=true
	poll 60 sh -c "! '$K' get namespace ops" || fail "namespace ops not deleted"
}

suite() {
	run "$K" create namespace ops
	run "$HELM" install peerop "$CHART" --namespace ops
	expect out '^STATUS: deployed$'
	run "$K" get crd httpservers.peerop.io
	run "$K" -n ops get deploy peerop -o jsonpath='{.spec.template.spec.serviceAccountName}'
	expect out '^peerop$'
	run "$K" -n ops get role,rolebinding,serviceaccount -o name
	expect out 'role.rbac.authorization.k8s.io/peerop$'
	expect out 'role.rbac.authorization.k8s.io/peerop-leader-election$'
	expect out 'rolebinding.rbac.authorization.k8s.io/peerop$'
	expect out 'serviceaccount/peerop$'
	run "$HELM" upgrade peerop "$CHART" --namespace ops --set replicaCount=2 --set metrics.service.enabled=true
	run "$K" -n ops get deploy peerop -o jsonpath='{.spec.replicas}'
	expect out '^2$'
	run "$K" -n ops get svc peerop-metrics
	run "$HELM" uninstall peerop --namespace ops
	run_fails "$K" -n ops get deploy peerop
	run_fails "$K" -n ops get role peerop
	# CRDs stay, as with any helm uninstall (deleting them would delete every HTTPServer)
	run "$K" get crd httpservers.peerop.io
}

static_checks
check_cli
unset KUBERNETES_SERVICE_HOST || true
K=${KUBECTL:-$(command -v kubectl || true)}
[ -n "$K" ] || { echo "kubectl not found: skipped"; exit 77; }
KLABEL="helm install, $K"
start_server
dry_run_checks
suite
stop_server
echo "chart-test: ok"
