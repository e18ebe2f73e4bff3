#!/bin/sh
# chart-test.sh: the Helm chart charts/peerop with real helm 4: lint,
# what it renders (least-privilege RBAC, a hardened operator pod,
# Guaranteed QoS, leader election wiring, the refusals), and install,
# upgrade and uninstall against the local control plane.
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
unset KUBERNETES_SERVICE_HOST || true
K=${KUBECTL:-$(command -v kubectl || true)}
[ -n "$K" ] || { echo "kubectl not found: skipped"; exit 77; }
KLABEL="helm install, $K"
start_server
suite
stop_server
echo "chart-test: ok"
