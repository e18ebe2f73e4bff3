#!/bin/sh
# devcluster-helm.sh: a real helm 4 against peerop-devcluster: install (the
# CRD from crds/ first, then a ConfigMap, a Service and an HTTPServer; helm
# stores its release in a Secret through client-go's typed client, in
# protobuf), list, status, get manifest, upgrade, rollback, uninstall.
# The chart is tests/helm-chart-tiny plus the project's CRD file.
. "${srcdir:-.}/devcluster-kubectl-lib.sh"

HELM=${HELM:-$(command -v helm || true)}
[ -n "$HELM" ] || { echo "helm not found: skipped"; exit 77; }

suite() {
	chart="$tmp/chart"
	rm -rf "$chart"
	cp -R "$srcroot/tests/helm-chart-tiny" "$chart"
	mkdir -p "$chart/crds"
	cp "$CRD_FILE" "$chart/crds/"
	export HELM_CACHE_HOME="$tmp/helm-cache" HELM_CONFIG_HOME="$tmp/helm-config" HELM_DATA_HOME="$tmp/helm-data"

	run "$HELM" install demo "$chart" --wait --timeout 60s
	expect out '^STATUS: deployed$'
	run "$K" get crd httpservers.peerop.io
	run "$K" get hs demo
	expect out '^demo +2 '
	run "$K" get cm demo-cfg -o jsonpath='{.data.greeting}'
	expect out '^hello$'
	run "$K" get secret -l owner=helm,name=demo
	expect out '^sh.helm.release.v1.demo.v1 +helm.sh/release.v1 '
	run "$HELM" list
	expect out '^demo[[:space:]]+default[[:space:]]+1[[:space:]].*deployed[[:space:]]+tiny-0.1.0'
	run "$HELM" status demo
	expect out '^STATUS: deployed$'
	run "$HELM" get manifest demo
	expect out 'name: demo-svc'

	run "$HELM" upgrade demo "$chart" --set replicas=4 --set greeting=hi --wait --timeout 60s
	expect out 'has been upgraded'
	run "$K" get hs demo -o jsonpath='{.spec.replicas}'
	expect out '^4$'
	run "$K" get cm demo-cfg -o jsonpath='{.data.greeting}'
	expect out '^hi$'
	run "$HELM" history demo
	expect out '^2[[:space:]]'

	run "$HELM" rollback demo 1 --wait --timeout 60s
	run "$K" get hs demo -o jsonpath='{.spec.replicas}'
	expect out '^2$'

	run "$HELM" uninstall demo
	expect out 'release "demo" uninstalled'
	run_fails "$K" get cm demo-cfg
	run_fails "$K" get hs demo
	run "$K" get secret -l owner=helm -o name
	expect_not out 'sh.helm.release'
	# CRDs stay, as with any helm uninstall
	run "$K" get crd httpservers.peerop.io
}

run_suites
echo "devcluster-helm: ok"
