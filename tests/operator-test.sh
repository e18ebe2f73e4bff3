#!/bin/sh
# operator-test.sh: peerop-operator against the local control plane, with
# real kubectl: an HTTPServer becomes a Deployment, a peers ConfigMap and a
# Service it controls; pods (created here by hand: this test runs without a
# kubelet) flow into the peer list; the Deployment's status into the
# HTTPServer's Ready condition; scaling, repair of what is deleted by hand,
# garbage collection, /metrics through promtool, SIGTERM, bad flags, and
# leader election between two replicas.
. "${srcdir:-.}/devcluster-kubectl-lib.sh"
op="${top_builddir:-..}/examples/peerop-operator"
opids=

start_operator() { # NAME ARGS...: log in $tmp/NAME.log, pid in $opid_NAME
	_n=$1; shift
	"$op" --kubeconfig "$KUBECONFIG" --metrics-listen 127.0.0.1:0 --log-level debug "$@" \
		>"$tmp/$_n.log" 2>&1 &
	eval "opid_$_n=$!"
	opids="$opids $!"
	bgpids="$bgpids $!"
	poll 30 grep -q "serving /metrics" "$tmp/$_n.log" || { cat "$tmp/$_n.log" >&2; fail "$_n did not start"; }
	eval "port_$_n=$(sed -n 's/.*on port \([0-9]*\).*/\1/p' "$tmp/$_n.log" | head -n 1)"
}

# PATCH requests the operator sent so far (its /metrics)
patches() { curl -sf "http://127.0.0.1:$1/metrics" |
	awk '/^rest_client_requests_total/ && /method="PATCH"/ { n += $NF } END { print n + 0 }'; }
jp() { "$K" get "$1" -o "jsonpath=$2"; }
jp_is() { [ "$(jp "$1" "$2" 2>/dev/null)" = "$3" ]; }
peers() { "$K" get cm web-peers -o 'jsonpath={.data.peers\.json}'; }
peers_count() { [ "$(peers | grep -c '"id"')" = "$1" ]; }

make_pod() { # NAME IP
	cat >"$tmp/pod.yaml" <<POD
apiVersion: v1
kind: Pod
metadata:
  name: $1
  labels:
    app.kubernetes.io/name: peerop-server
    app.kubernetes.io/instance: web
    app.kubernetes.io/managed-by: peerop-operator
spec:
  containers:
    - name: server
      image: peerop-server:test
POD
	run "$K" apply -f "$tmp/pod.yaml"
	run "$K" patch pod "$1" --subresource=status --type=merge -p "{\"status\":{\"podIP\":\"$2\",\"phase\":\"Running\"}}"
}

suite() {
	run "$K" apply -f "$CRD_FILE"
	poll 30 "$K" get httpservers || fail "CRD not served"

	# ---- bad flags: exit 2 with a message, before touching the cluster
	run_fails "$op" --workers 0
	expect err "--workers: expected an integer from 1 to 64"
	run_fails "$op" --log-format yaml
	expect err "log-format"
	run_fails "$op" --no-such-flag
	run_fails "$op" --peers-coalesce-ms -5
	expect err "peers-coalesce-ms: expected an integer from 0 to 600000"

	start_operator one --namespace default --default-image registry.example/peerop-server:7
	cat >"$tmp/hs.yaml" <<HS
apiVersion: peerop.io/v1alpha1
kind: HTTPServer
metadata:
  name: web
spec:
  replicas: 5
  pingIntervalSeconds: 2
HS
	run "$K" apply -f "$tmp/hs.yaml"
	poll 30 jp_is deploy/web '{.spec.replicas}' 5 || fail "no Deployment with 5 replicas"
	uid=$(jp hs/web '{.metadata.uid}')
	for o in deploy/web cm/web-peers svc/web; do
		poll 30 jp_is "$o" '{.metadata.ownerReferences[0].uid}' "$uid" || fail "$o not owned by the HTTPServer"
		jp_is "$o" '{.metadata.ownerReferences[0].controller}' true || fail "$o: not its controller"
	done
	# the hardened pod template
	run "$K" get deploy web -o json
	expect out '"readOnlyRootFilesystem": true'
	expect out '"runAsNonRoot": true'
	expect out '"allowPrivilegeEscalation": false'
	expect out '"automountServiceAccountToken": false'
	run "$K" get deploy web -o 'jsonpath={.spec.template.spec.containers[0].args}'
	expect out '"--listen","\$\(POD_IP\):8080","--id","\$\(POD_NAME\)"'
	expect out '"--ping-interval","2"'
	# --default-image, since the spec names no image (the CRD has no default to win)
	run "$K" get deploy web -o 'jsonpath={.spec.template.spec.containers[0].image}'
	expect out '^registry.example/peerop-server:7$'
	# no flag the spec did not ask for: templates stay as older operators made them
	run "$K" get deploy web -o 'jsonpath={.spec.template.spec.containers[0].args}'
	expect_not out 'ping-timeout|peers-dns'
	# the headless Service for DNS discovery: every pod, ready or not
	jp_is svc/web-peers '{.spec.clusterIP}' None || fail "web-peers is not headless"
	jp_is svc/web-peers '{.spec.publishNotReadyAddresses}' true || fail "web-peers hides pods not ready"
	jp_is svc/web-peers '{.metadata.ownerReferences[0].uid}' "$uid" || fail "web-peers not owned"
	jp_is deploy/web '{.spec.template.spec.containers[0].resources.limits.memory}' 32Mi || fail "no limits"
	jp_is svc/web '{.spec.ports[0].port}' 8080 || fail "service port"
	poll 30 peers_count 0 || fail "peers not empty at first: $(peers)"
	jp_is hs/web '{.status.conditions[0].status}' False || poll 30 jp_is hs/web '{.status.conditions[0].status}' False \
		|| fail "Ready should be False without servers"

	# ---- pods with addresses become peers (sorted by name)
	for i in 4 3 2 1 0; do make_pod "web-$i" "10.9.0.$((i + 10))"; done
	poll 30 peers_count 5 || fail "5 peers expected: $(peers)"
	peers | tr -d ' \n' | grep -q '{"id":"web-0","host":"10.9.0.10","port":8080},{"id":"web-1"' \
		|| fail "peers not sorted: $(peers)"

	# ---- the Deployment's status becomes the HTTPServer's
	gen=$(jp deploy/web '{.metadata.generation}')
	run "$K" patch deploy web --subresource=status --type=merge -p \
		"{\"status\":{\"observedGeneration\":$gen,\"replicas\":5,\"readyReplicas\":5,\"updatedReplicas\":5}}"
	run "$K" wait --for=condition=Ready hs/web --timeout=30s
	jp_is hs/web '{.status.readyReplicas}' 5 || fail "readyReplicas"
	jp_is hs/web '{.status.observedGeneration}' "$(jp hs/web '{.metadata.generation}')" || fail "observedGeneration"
	jp_is hs/web '{.status.selector}' 'app.kubernetes.io/instance=web,app.kubernetes.io/name=peerop-server' \
		|| fail "selector"
	run "$K" get hs web
	expect out '^NAME +REPLICAS +READY +PEERS +STATUS +AGE$'
	expect out '^web +5 +5 +5 +AllReplicasReady '
	run "$K" get hs web -o wide
	expect out 'IMAGE'
	expect out ' registry.example/peerop-server:7 +[0-9]+s$'
	jp_is hs/web '{.status.peers.members[*]}' 'web-0 web-1 web-2 web-3 web-4' || fail "status.peers.members"
	jp_is hs/web '{.status.conditions[?(@.type=="Progressing")].reason}' Complete || fail "Progressing"
	jp_is hs/web '{.status.conditions[?(@.type=="Degraded")].status}' False || fail "Degraded"

	# ---- nothing is written when nothing changed
	cm_rv=$(jp cm/web-peers '{.metadata.resourceVersion}')
	deploy_rv=$(jp deploy/web '{.metadata.resourceVersion}')
	svc_rv=$(jp svc/web '{.metadata.resourceVersion}')
	# (an apply that changes nothing leaves resourceVersions alone: count the PATCHes)
	patches_before=$(patches "$port_one")
	run "$K" annotate hs web touched=1
	run "$K" label pod web-0 touched=1
	poll 30 grep -q "reconciled default/web" "$tmp/one.log"
	n=$(grep -c "reconciled default/web" "$tmp/one.log")
	run "$K" annotate hs web touched=2 --overwrite
	poll 30 sh -c "[ \$(grep -c 'reconciled default/web' '$tmp/one.log') -gt $n ]" || fail "no reconcile"
	jp_is cm/web-peers '{.metadata.resourceVersion}' "$cm_rv" || fail "the ConfigMap was rewritten"
	jp_is deploy/web '{.metadata.resourceVersion}' "$deploy_rv" || fail "the Deployment was rewritten"
	jp_is svc/web '{.metadata.resourceVersion}' "$svc_rv" || fail "the Service was rewritten"
	[ "$(patches "$port_one")" = "$patches_before" ] ||
		fail "$(( $(patches "$port_one") - patches_before )) PATCH requests for nothing"

	# ---- the schema refuses what is out of range; nothing is defaulted
	sed 's/replicas: 5/replicas: 1001/' "$tmp/hs.yaml" >"$tmp/bad.yaml"
	run_fails "$K" apply -f "$tmp/bad.yaml"
	expect err 'spec.replicas'
	printf '  resources: {limits: {cpu: lots}}\n' | cat "$tmp/hs.yaml" - >"$tmp/bad.yaml"
	run_fails "$K" apply -f "$tmp/bad.yaml"
	expect err 'spec.resources.limits.cpu'
	printf '  resources: {limit: {cpu: 1}}\n' | cat "$tmp/hs.yaml" - >"$tmp/bad.yaml"
	run_fails "$K" apply -f "$tmp/bad.yaml"
	expect err 'unknown field "spec.resources.limit"'
	jp_is deploy/web '{.spec.replicas}' 5 || fail "replicas changed by a refused spec"
	# what the schema here cannot check (a CEL rule) is reported, and changes nothing
	printf '  pingTimeoutSeconds: 10\n' | cat "$tmp/hs.yaml" - >"$tmp/bad.yaml"
	run "$K" apply -f "$tmp/bad.yaml"
	poll 30 jp_is hs/web '{.status.conditions[?(@.type=="Degraded")].reason}' InvalidSpec ||
		fail "an invalid spec is not reported: $(jp hs/web '{.status.conditions}')"
	jp_is hs/web '{.status.conditions[?(@.type=="Ready")].status}' False || fail "Ready with an invalid spec"
	run "$K" get hs web -o 'jsonpath={.status.conditions[?(@.type=="Degraded")].message}'
	expect out 'spec.pingTimeoutSeconds \(10\) must not exceed spec.pingIntervalSeconds \(2\)'
	run "$K" get hs web
	expect out '^web +5 +5 +5 +InvalidSpec '
	jp_is deploy/web '{.metadata.resourceVersion}' "$deploy_rv" || fail "an invalid spec changed the Deployment"
	# a valid timeout, DNS discovery, an image of its own: one new template
	printf '  pingTimeoutSeconds: 1\n  peerDiscovery: ConfigMapAndDNS\n  image: peerop-server:8\n' |
		cat "$tmp/hs.yaml" - >"$tmp/hs2.yaml"
	run "$K" apply -f "$tmp/hs2.yaml"
	poll 30 jp_is deploy/web '{.spec.template.spec.containers[0].image}' peerop-server:8 ||
		fail "the image change did not reach the Deployment"
	run "$K" get deploy web -o 'jsonpath={.spec.template.spec.containers[0].args}'
	expect out '"--peers-file","/etc/peerop/peers.json"'
	expect out '"--ping-timeout","1"'
	expect out '"--peers-dns","web-peers.default.svc:8080"'
	poll 30 jp_is hs/web '{.status.conditions[?(@.type=="Degraded")].status}' False || fail "still Degraded"
	jp_is hs/web '{.status.image}' peerop-server:8 || fail "status.image"
	printf '  peerDiscovery: DNS\n' | cat "$tmp/hs.yaml" - >"$tmp/hs2.yaml"
	run "$K" apply -f "$tmp/hs2.yaml"
	poll 30 sh -c "'$K' get deploy web -o 'jsonpath={.spec.template.spec.containers[0].args}' | grep -q peers-dns && ! '$K' get deploy web -o 'jsonpath={.spec.template.spec}' | grep -q peers-file" ||
		fail "DNS discovery alone still mounts the peers file: $(jp deploy/web '{.spec.template.spec}')"
	run "$K" apply -f "$tmp/hs.yaml"
	poll 30 jp_is deploy/web '{.spec.template.spec.containers[0].image}' registry.example/peerop-server:7 ||
		fail "back to the default image"
	run "$K" get deploy web -o 'jsonpath={.spec.template.spec.containers[0].args}'
	expect_not out 'ping-timeout|peers-dns'
	gen=$(jp deploy/web '{.metadata.generation}')
	run "$K" patch deploy web --subresource=status --type=merge -p \
		"{\"status\":{\"observedGeneration\":$gen,\"replicas\":5,\"readyReplicas\":5,\"updatedReplicas\":5}}"
	run "$K" wait --for=condition=Ready hs/web --timeout=30s

	# ---- scale 5 -> 1 through the scale subresource
	run "$K" scale hs web --replicas=1
	poll 30 jp_is deploy/web '{.spec.replicas}' 1 || fail "Deployment not scaled to 1"
	poll 30 jp_is hs/web '{.status.conditions[0].status}' False || fail "not Ready while scaling down"
	run "$K" delete pod web-1 web-2 web-3 web-4 --wait=false
	poll 30 peers_count 1 || fail "1 peer expected after scaling: $(peers)"

	# ---- what is deleted or changed by hand is put back
	run "$K" delete cm web-peers
	poll 30 peers_count 1 || fail "peers ConfigMap not recreated"
	run "$K" delete svc web
	poll 30 "$K" get svc web || fail "Service not recreated"
	run "$K" patch deploy web --type=merge -p '{"spec":{"replicas":7}}'
	poll 30 jp_is deploy/web '{.spec.replicas}' 1 || fail "Deployment replicas not put back"

	# ---- /metrics passes promtool
	run curl -sf "http://127.0.0.1:$port_one/metrics"
	expect out 'controller_runtime_reconcile_total\{controller="httpserver",result="success"\} [1-9]'
	expect out 'rest_client_requests_total\{code="200"'
	expect out 'workqueue_depth\{name="httpserver"\}'
	promtool check metrics <"$tmp/out" >"$tmp/err" 2>&1 || fail "promtool check metrics"
	run curl -sf "http://127.0.0.1:$port_one/readyz"

	# ---- deleting the HTTPServer takes everything with it
	run "$K" delete hs web
	poll 30 sh -c "! '$K' get deploy web" || fail "Deployment left behind"
	poll 30 sh -c "! '$K' get cm web-peers" || fail "ConfigMap left behind"
	poll 30 sh -c "! '$K' get svc web" || fail "Service left behind"
	poll 30 sh -c "! '$K' get svc web-peers" || fail "headless Service left behind"

	# ---- SIGTERM: exit 0
	kill -TERM "$opid_one"
	wait "$opid_one" || fail "operator exit status $? on SIGTERM"
	grep -q "SIGTERM: stopping" "$tmp/one.log" || fail "no stop message"
	if grep -Eq "(ERROR|WARN).*(token|Bearer)" "$tmp/one.log"; then fail "a token in the log"; fi

	# ---- leader election: two replicas, one works; the other takes over
	start_operator a --namespace default --leader-elect --lease-name op-test --id replica-a
	poll 30 jp_is lease/op-test '{.spec.holderIdentity}' replica-a || fail "replica-a did not lead"
	start_operator b --namespace default --leader-elect --lease-name op-test --id replica-b
	run "$K" apply -f "$tmp/hs.yaml"
	poll 30 "$K" get deploy web || fail "the leader did not reconcile"
	jp_is lease/op-test '{.spec.holderIdentity}' replica-a || fail "leadership moved"
	grep -q "leading: starting the controller" "$tmp/b.log" && fail "replica-b worked while a led"
	run curl -sf "http://127.0.0.1:$port_a/metrics"
	expect out '^leader_election_master_status\{name="op-test"\} 1$'
	run curl -sf "http://127.0.0.1:$port_b/metrics"
	expect out '^leader_election_master_status\{name="op-test"\} 0$'
	run curl -sf "http://127.0.0.1:$port_b/readyz"
	kill -TERM "$opid_a"
	wait "$opid_a" || fail "leader exit status $? on SIGTERM"
	poll 30 jp_is lease/op-test '{.spec.holderIdentity}' replica-b || fail "replica-b did not take over"
	run "$K" delete deploy web
	poll 30 "$K" get deploy web || fail "the new leader did not reconcile"
	kill -TERM "$opid_b"
	wait "$opid_b" || fail "replica-b exit status $?"
}

for t in curl promtool; do
	command -v "$t" >/dev/null 2>&1 || { echo "$t not found (scripts/install-deps.sh test)"; exit 1; }
done
unset KUBERNETES_SERVICE_HOST || true
K=${KUBECTL:-$(command -v kubectl || true)}
[ -n "$K" ] || { echo "kubectl not found: skipped"; exit 77; }
KLABEL="operator, $K"
start_server
suite
stop_server
echo "operator-test: ok"
