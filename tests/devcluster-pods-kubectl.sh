#!/bin/sh
# devcluster-pods-kubectl.sh: real kubectl (1.34, and 1.32 through the
# machine's dispatcher) against peerop-devcluster --run-pods, the pods
# being tests/dc-podapp processes: apply a Deployment, rollout status, get
# pods -o wide (their IPs), logs (and logs -f to the end of a container),
# scale, wait --for=condition=Available, set image and rollout
# history/undo, describe (events), get/describe node, delete; every
# process gone at the end.
set -eu
. "${srcdir:-.}/devcluster-kubectl-lib.sh"
builddir=$(cd "${top_builddir:-..}/tests" && pwd)
marker="dcpk$$x$(date +%s)"
DEVCLUSTER_FLAGS="--run-pods --image podapp=$builddir/dc-podapp --restart-backoff 1"

nprocs() {
	n=0
	for d in /proc/[0-9]*; do
		if { tr '\0' ' ' <"$d/cmdline"; } 2>/dev/null | grep -q -- "$marker"; then n=$((n + 1)); fi
	done
	echo "$n"
}
procs_are() { [ "$(nprocs)" -eq "$1" ]; }
count_pods() { [ "$("$K" get pods -l app=web --no-headers 2>/dev/null | grep -c . || true)" -eq "$1" ]; }

deployment() { # deployment IMAGE REPLICAS
	cat <<YAML
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: $2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      terminationGracePeriodSeconds: 5
      containers:
      - name: app
        image: $1
        args: ["--marker=$marker"]
        ports: [{containerPort: 8080}]
        env:
        - name: POD_IP
          valueFrom: {fieldRef: {fieldPath: status.podIP}}
        - name: POD_NAME
          valueFrom: {fieldRef: {fieldPath: metadata.name}}
        readinessProbe:
          httpGet: {path: /ready, port: 8080}
          periodSeconds: 1
YAML
}

suite() {
	deployment podapp:1 3 >"$tmp/web.yaml"
	run "$K" apply -f "$tmp/web.yaml"
	expect out '^deployment.apps/web created$'
	run "$K" rollout status deployment/web --timeout=90s
	expect out 'successfully rolled out'
	[ "$(nprocs)" -eq 3 ] || fail "expected 3 processes, found $(nprocs)"
	run "$K" get pods -o wide
	expect out '^web-[a-z0-9]+-[a-z0-9]{5} +1/1 +Running +0 .* 127\.[0-9]+\.[0-9]+\.[0-9]+ +devcluster '
	run "$K" get deploy web
	expect out '^web +3/3 +3 +3 '
	run "$K" get rs
	expect out '^web-[a-z0-9]+ +3 +3 +3 '
	pod=$("$K" get pods -l app=web -o jsonpath='{.items[0].metadata.name}')
	ip=$("$K" get pod "$pod" -o jsonpath='{.status.podIP}')
	curl -sf "http://$ip:8080/ping" >"$tmp/out" || fail "GET http://$ip:8080/ping"
	expect out "^pong $pod\$"
	run "$K" logs "$pod"
	expect out "^listening on $ip:8080\$"
	# in-cluster configuration: the service account token and the API
	# server's address, as a client library finds them in a pod
	if [ "$(id -u)" = 0 ]; then
		sa=/var/run/secrets/kubernetes.io/serviceaccount
		curl -sf "http://$ip:8080/file?path=$sa/namespace" >"$tmp/out" || fail "no $sa/namespace"
		expect out '^default$'
		curl -sf "http://$ip:8080/file?path=$sa/ca.crt" >"$tmp/podca.crt" || fail "no $sa/ca.crt"
		grep -q 'BEGIN CERTIFICATE' "$tmp/podca.crt" || fail "$sa/ca.crt is no certificate"
		curl -sf "http://$ip:8080/env?name=KUBERNETES_SERVICE_HOST" >"$tmp/out" || fail "no KUBERNETES_SERVICE_HOST"
		expect out '^127\.0\.0\.1$'
		tok=$(curl -sf "http://$ip:8080/file?path=$sa/token")
		port=$(curl -sf "http://$ip:8080/env?name=KUBERNETES_SERVICE_PORT")
		# the token is the pod's own ServiceAccount's, never the admin's:
		# forbidden until a role allows it
		code=$(curl -s -o "$tmp/out" -w '%{http_code}' --cacert "$tmp/podca.crt" -H "Authorization: Bearer $tok" \
			"https://127.0.0.1:$port/api/v1/namespaces/default/pods/$pod") ||
			fail "the pod's token and CA do not reach the API server"
		[ "$code" = 403 ] || fail "the pod's token got $code, not 403, before any role"
		expect out 'User \\"system:serviceaccount:default:default\\" cannot get resource \\"pods\\"'
		"$K" create rolebinding pod-view --clusterrole=view --serviceaccount=default:default >/dev/null ||
			fail "rolebinding"
		curl -sf --cacert "$tmp/podca.crt" -H "Authorization: Bearer $tok" \
			"https://127.0.0.1:$port/api/v1/namespaces/default/pods/$pod" >"$tmp/out" ||
			fail "the pod's token does not read its pod with the view role"
		expect out "\"name\":\"$pod\""
		"$K" delete rolebinding pod-view >/dev/null || fail "delete rolebinding"
	fi
	run "$K" logs deploy/web
	expect out '^listening on 127\.'
	run "$K" describe pod "$pod"
	expect out '^IP: +127\.'
	expect out 'Normal +Scheduled +.* +default-scheduler +Successfully assigned default/'"$pod"' to devcluster'
	expect out 'Normal +Started +.* +kubelet +Started container app'
	run "$K" describe deploy web
	expect out '^NewReplicaSet: +web-[a-z0-9]+ \(3/3 replicas created\)'
	expect out 'ScalingReplicaSet +.* +Scaled up replica set web-[a-z0-9]+ from 0 to 3'
	run "$K" get node devcluster
	expect out '^devcluster +Ready '
	run "$K" describe node devcluster
	expect out 'InternalIP: +127\.0\.0\.1'

	# scale down: 2 processes killed, their objects removed
	run "$K" scale deploy web --replicas=1
	expect out '^deployment.apps/web scaled$'
	poll 60 count_pods 1 || fail "still $("$K" get pods --no-headers | wc -l) pods"
	poll 60 procs_are 1 || fail "still $(nprocs) processes"
	run "$K" wait --for=condition=Available deploy/web --timeout=60s
	expect out 'condition met'

	# a new template rolls out; history; undo
	run "$K" set image deploy/web app=podapp:2
	run "$K" rollout status deployment/web --timeout=90s
	expect out 'successfully rolled out'
	run "$K" get pods -l app=web -o jsonpath='{.items[*].spec.containers[0].image}'
	expect out '^podapp:2$'
	run "$K" rollout history deploy/web
	expect out '^1 '
	expect out '^2 '
	run "$K" rollout undo deploy/web
	run "$K" rollout status deployment/web --timeout=90s
	run "$K" get deploy web -o jsonpath='{.spec.template.spec.containers[0].image} {.metadata.annotations.deployment\.kubernetes\.io/revision}'
	expect out '^podapp:1 3$'

	# logs -f follows a container to its end
	cat >"$tmp/job.yaml" <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: short
spec:
  restartPolicy: Never
  containers:
  - name: app
    image: podapp
    args: ["--marker=$marker"]
    env:
    - {name: NO_SERVER, value: "1"}
    - {name: EXIT_AFTER_MS, value: "1500"}
YAML
	run "$K" apply -f "$tmp/job.yaml"
	poll 60 sh -c "'$K' logs short 2>/dev/null | grep -q arg" || fail "no log from the short pod"
	run timeout 60 "$K" logs -f short
	expect out '^exiting with 0$'
	run "$K" wait --for=jsonpath='{.status.phase}'=Succeeded pod/short --timeout=60s
	run "$K" get pod short
	expect out '^short +0/1 +Completed +0 '

	run "$K" delete deploy web --wait=true --timeout=60s
	run "$K" delete pod short --wait=true --timeout=60s
	poll 60 procs_are 0 || fail "processes left: $(nprocs)"
}

run_suites
