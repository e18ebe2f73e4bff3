#!/bin/sh
# devcluster-kubectl-crd.sh: real kubectl against peerop-devcluster with the
# project's CRD (charts/peerop/crds/httpservers.peerop.io.yaml): apply -f,
# api-resources, get (table, -o yaml, -w), client-side apply twice, create -f,
# schema defaults and validation errors, scale, wait --for=condition=Ready,
# describe, explain, patch, server-side apply (conflicts, --force-conflicts,
# field removal), delete. Asserts on what
# kubectl prints and on its exit codes, with kubectl 1.34 and (when the
# machine has it) the 1.32 the /usr/bin/kubectl dispatcher picks.
. "${srcdir:-.}/devcluster-kubectl-lib.sh"

hs_yaml() {
	cat >"$tmp/hs.yaml" <<YAML
apiVersion: peerop.io/v1alpha1
kind: HTTPServer
metadata:
  name: web
  labels:
    tier: $1
spec:
  replicas: $2
YAML
}

suite() {
	run "$K" apply -f "$CRD_FILE"
	expect out '^customresourcedefinition.apiextensions.k8s.io/httpservers.peerop.io created$'
	run "$K" api-resources --api-group=peerop.io
	expect out '^httpservers +hs +peerop.io/v1alpha1 +true +HTTPServer$'
	run "$K" get crd httpservers.peerop.io
	expect out '^NAME +CREATED AT$'
	expect out '^httpservers.peerop.io +20[0-9-]+T[0-9:]+Z$'

	# explain reads the CRD's schema through OpenAPI v3
	run "$K" explain httpserver.spec
	expect out '^KIND: +HTTPServer$'
	expect out '^FIELD: +spec <Object>'
	expect out '^  replicas.<integer>'
	expect out 'Replicas is the number of peerop-server pods to run'
	expect out '^  logFormat.<string>'
	run "$K" explain hs.status.conditions
	expect out 'list-type|<\[\]Object>'
	expect out 'Conditions are the latest observations'

	# client-side apply: create, then a change (a merge patch for a CR)
	hs_yaml web 2
	run "$K" apply -f "$tmp/hs.yaml"
	expect out '^httpserver.peerop.io/web created$'
	run "$K" apply -f "$tmp/hs.yaml"
	expect out '^httpserver.peerop.io/web unchanged$'
	hs_yaml front 3
	run "$K" apply -f "$tmp/hs.yaml"
	expect out '^httpserver.peerop.io/web configured$'

	# the schema's defaults are filled in (not the image: the operator's --default-image)
	run "$K" get hs web -o jsonpath='{.spec.image}/{.spec.port} {.spec.logFormat} {.spec.pingIntervalSeconds}'
	expect out '^/8080 text 60$'

	# validation: the field is named, the exit code says it, nothing is stored
	cat >"$tmp/bad.yaml" <<YAML
apiVersion: peerop.io/v1alpha1
kind: HTTPServer
metadata:
  name: bad
spec:
  replicas: -1
YAML
	run_fails "$K" apply -f "$tmp/bad.yaml"
	expect err 'The HTTPServer "bad" is invalid: spec.replicas: Invalid value: -1: spec.replicas in body should be greater than or equal to 0'
	run_fails "$K" create -f "$tmp/bad.yaml"
	expect err 'spec.replicas: Invalid value: -1'
	run_fails "$K" get hs bad
	cat >"$tmp/bad.yaml" <<YAML
apiVersion: peerop.io/v1alpha1
kind: HTTPServer
metadata:
  name: bad
spec:
  replicas: many
  logFormat: xml
YAML
	run_fails "$K" create -f "$tmp/bad.yaml"
	expect err 'spec.logFormat: Unsupported value: "xml": supported values: "text", "json"'
	expect err 'spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer'
	# kubectl asks for strict field validation: unknown fields are refused
	cat >"$tmp/bad.yaml" <<YAML
apiVersion: peerop.io/v1alpha1
kind: HTTPServer
metadata:
  name: bad
spec:
  colour: red
YAML
	run_fails "$K" create -f "$tmp/bad.yaml"
	expect err 'strict decoding error: unknown field "spec.colour"'
	run "$K" create -f "$tmp/bad.yaml" --validate=false
	expect out '^httpserver.peerop.io/bad created$'
	run "$K" get hs bad -o jsonpath='{.spec}'
	expect_not out colour
	run "$K" delete hs bad

	# get: the CRD's printer columns
	run "$K" get httpservers
	expect out '^NAME +REPLICAS +READY +PEERS +STATUS +AGE$'
	expect out '^web +3 +[0-9]+s$'
	run "$K" get hs web --show-labels
	expect out '^web +3 .*tier=front$'
	run "$K" get hs -l tier=front -o name
	expect out '^httpserver.peerop.io/web$'
	run "$K" get hs web -o yaml
	expect out '^kind: HTTPServer$'
	expect out '^  replicas: 3$'
	expect out 'kubectl.kubernetes.io/last-applied-configuration'
	expect out '^  generation: 2$'
	run "$K" get hs web -o jsonpath='{.spec.replicas}'
	expect out '^3$'
	run_fails "$K" get hs nope
	expect err 'Error from server \(NotFound\): httpservers.peerop.io "nope" not found'

	# get -w sees a change
	"$K" get hs -w >"$tmp/watch.out" 2>"$tmp/watch.err" &
	wpid=$!
	bgpids="$bgpids $wpid"
	poll 60 grep -Eq '^web +3 ' "$tmp/watch.out" || fail "get -w: no initial row: $(cat "$tmp/watch.out" "$tmp/watch.err")"
	# scale through the scale subresource
	run "$K" scale hs web --replicas=5
	expect out '^httpserver.peerop.io/web scaled$'
	poll 60 grep -Eq '^web +5 ' "$tmp/watch.out" || fail "get -w did not see the change: $(cat "$tmp/watch.out")"
	kill "$wpid" 2>/dev/null || true
	wait "$wpid" 2>/dev/null || true
	grep -Eq '^NAME +REPLICAS +READY +PEERS +STATUS +AGE$' "$tmp/watch.out" || fail "get -w: no header"
	run "$K" get hs web -o jsonpath='{.spec.replicas}'
	expect out '^5$'
	run_fails "$K" scale hs web --replicas=1001
	expect err 'spec.replicas: Invalid value: 1001: spec.replicas in body should be less than or equal to 1000'

	# wait: the condition is set through the status subresource
	"$K" wait --for=condition=Ready hs/web --timeout=60s >"$tmp/wait.out" 2>&1 &
	wpid=$!
	bgpids="$bgpids $wpid"
	run "$K" patch hs web --subresource=status --type=merge -p \
		'{"status":{"readyReplicas":5,"replicas":5,"conditions":[{"type":"Ready","status":"True","reason":"AllReady","message":"5 of 5 ready","lastTransitionTime":"2026-01-01T00:00:00Z"}]}}'
	wait "$wpid" || fail "wait failed: $(cat "$tmp/wait.out")"
	grep -q '^httpserver.peerop.io/web condition met$' "$tmp/wait.out" || fail "wait: $(cat "$tmp/wait.out")"
	run "$K" wait --for=condition=Ready hs/web --timeout=5s
	run_fails "$K" wait --for=condition=Degraded hs/web --timeout=1s
	run "$K" get hs web
	expect out '^web +5 +5 +(<none> +)?AllReady +[0-9]+s$'   # 1.32 prints no <none>

	run "$K" describe hs web
	expect out '^Name: +web$'
	expect out '^Namespace: +default$'
	expect out '^Kind: +HTTPServer$'
	expect out '^ +Replicas: +5$'
	expect out '^ +Type: +Ready$'
	expect out '^Events: +<none>$'

	# merge patch of a custom resource
	run "$K" patch hs web --type=merge -p '{"spec":{"logFormat":"json"}}'
	expect out '^httpserver.peerop.io/web patched$'
	run "$K" get hs web -o jsonpath='{.spec.logFormat}'
	expect out '^json$'
	# custom resources take no strategic merge patch
	run_fails "$K" patch hs web --type=strategic -p '{"spec":{"port":9000}}'
	expect err 'UnsupportedMediaType|unknown format|not supported'

	# server-side apply: a new object, then managers and conflicts
	api_yaml() {
		cat >"$tmp/api.yaml" <<YAML
apiVersion: peerop.io/v1alpha1
kind: HTTPServer
metadata:
  name: api
spec:
  replicas: $1
$2
YAML
	}
	api_yaml 1 "  logFormat: json"
	run "$K" apply -f "$tmp/api.yaml"
	expect out '^httpserver.peerop.io/api created$'
	api_yaml 2 "  logFormat: json"
	# the fields client-side apply set are kubectl-client-side-apply's: a change conflicts
	run_fails "$K" apply --server-side -f "$tmp/api.yaml"
	expect err 'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using peerop.io/v1alpha1 at [0-9TZ:-]+: .spec.replicas'
	expect err 'force-conflicts'
	run "$K" get hs api -o jsonpath='{.spec.replicas}'
	expect out '^1$'
	run "$K" apply --server-side --force-conflicts -f "$tmp/api.yaml"
	expect out '^httpserver.peerop.io/api serverside-applied$'
	run "$K" get hs api -o jsonpath='{.spec.replicas}'
	expect out '^2$'
	# kubectl then moved client-side apply's fields to its own manager
	run "$K" apply --server-side -f "$tmp/api.yaml"
	expect out '^httpserver.peerop.io/api serverside-applied$'
	run "$K" get hs api -o yaml --show-managed-fields
	expect out '^    manager: kubectl$'
	expect out '^    operation: Apply$'
	expect out '^        f:replicas: \{\}$'
	# another manager changing kubectl's field conflicts with it
	api_yaml 3 "  logFormat: json"
	run_fails "$K" apply --server-side --field-manager=ci -f "$tmp/api.yaml"
	expect err 'Apply failed with 1 conflict: conflict with "kubectl": .spec.replicas'
	# a field no longer applied is removed (logFormat falls back to its default)
	api_yaml 2 ""
	run "$K" apply --server-side -f "$tmp/api.yaml"
	run "$K" get hs api -o jsonpath='{.spec.logFormat}'
	expect out '^text$'
	# validation applies to server-side apply too
	api_yaml -5 ""
	run_fails "$K" apply --server-side -f "$tmp/api.yaml"
	expect err 'spec.replicas: Invalid value: -5'
	# a new object
	cat >"$tmp/new.yaml" <<YAML
apiVersion: peerop.io/v1alpha1
kind: HTTPServer
metadata:
  name: fresh
spec:
  port: 9000
YAML
	run "$K" apply --server-side -f "$tmp/new.yaml"
	expect out '^httpserver.peerop.io/fresh serverside-applied$'
	run "$K" get hs fresh -o jsonpath='{.spec.port} {.spec.replicas}'
	expect out '^9000 1$'
	run "$K" delete hs api fresh
	expect out '"api" deleted'

	run "$K" delete hs web
	expect out '^httpserver.peerop.io "web" deleted'
	run_fails "$K" get hs web
	run "$K" delete -f "$CRD_FILE"
	expect out 'customresourcedefinition.apiextensions.k8s.io "httpservers.peerop.io" deleted'
	poll 60 sh -c "! '$K' api-resources --api-group=peerop.io 2>/dev/null | grep -q httpservers" ||
		fail "the CRD's resources are still served"
}

run_suites
echo "devcluster-kubectl-crd: ok"
