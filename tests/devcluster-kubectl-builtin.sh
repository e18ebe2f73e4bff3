#!/bin/sh
# devcluster-kubectl-builtin.sh: real kubectl against peerop-devcluster with
# built-in types: create namespace|configmap|secret|serviceaccount|service|
# deployment (protobuf bodies), create -f, get (tables, -o wide, -o yaml),
# client-side apply twice (strategic merge patch with $setElementOrder),
# patch (strategic, merge, json), set image, label, annotate, scale,
# server-side apply with managed fields, describe (with events), delete of a
# namespace with its contents. kubectl 1.34, and 1.32 via /usr/bin/kubectl.
. "${srcdir:-.}/devcluster-kubectl-lib.sh"

deployment_yaml() {
	cat >"$tmp/web.yaml" <<YAML
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: demo
  labels:
    app: web
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
        - name: app
          image: $1
          ports:
            - containerPort: 8080
          env:
            - name: MODE
              value: "$2"
        - name: sidecar
          image: busybox:1
YAML
}

suite() {
	# typed clients: protobuf request bodies
	run "$K" create namespace demo
	expect out '^namespace/demo created$'
	run "$K" create configmap cfg -n demo --from-literal=a=1 --from-literal=b=2
	expect out '^configmap/cfg created$'
	run "$K" create secret generic pw -n demo --from-literal=password=s3cret
	expect out '^secret/pw created$'
	run "$K" create serviceaccount robot -n demo
	run "$K" create service clusterip api -n demo --tcp=80:8080
	run "$K" get cm cfg -n demo
	expect out '^NAME +DATA +AGE$'
	expect out '^cfg +2 +[0-9]+s$'
	run "$K" get secret pw -n demo -o jsonpath='{.data.password}'
	expect out '^czNjcmV0$'
	run "$K" get secret pw -n demo
	expect out '^pw +Opaque +1 +[0-9]+s$'
	run "$K" get svc api -n demo
	expect out '^NAME +TYPE +CLUSTER-IP +EXTERNAL-IP +PORT\(S\) +AGE$'
	expect out '^api +ClusterIP +10\.96\.[0-9.]+ +<none> +80/TCP +[0-9]+s$'
	run "$K" get sa -n demo robot
	expect out '^robot +0 +[0-9]+s$'
	run "$K" get ns demo
	expect out '^demo +Active +[0-9]+s$'

	# client-side apply: create, then a change (strategic merge patch)
	deployment_yaml nginx:1 a
	run "$K" apply -f "$tmp/web.yaml"
	expect out '^deployment.apps/web created$'
	run "$K" get deploy -n demo
	expect out '^NAME +READY +UP-TO-DATE +AVAILABLE +AGE$'
	expect out '^web +0/2 +0 +0 +[0-9]+s$'
	run "$K" get deploy -n demo -o wide
	expect out '^web +0/2 +0 +0 +[0-9]+s +app,sidecar +nginx:1,busybox:1 +app=web$'
	deployment_yaml nginx:2 b
	run "$K" apply -f "$tmp/web.yaml"
	expect out '^deployment.apps/web configured$'
	run "$K" get deploy web -n demo -o jsonpath='{.spec.template.spec.containers[0].image} {.spec.template.spec.containers[0].env[0].value} {.spec.template.spec.containers[1].name} {.metadata.generation}'
	expect out '^nginx:2 b sidecar 2$'
	run "$K" apply -f "$tmp/web.yaml"
	expect out '^deployment.apps/web unchanged$'

	# kubectl patch: strategic by default, containers merge by name
	run "$K" patch deploy web -n demo -p '{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","image":"busybox:2"}]}}}}'
	expect out '^deployment.apps/web patched$'
	run "$K" get deploy web -n demo -o jsonpath='{range .spec.template.spec.containers[*]}{.name}={.image} {end}'
	expect out '^app=nginx:2 sidecar=busybox:2 $'
	run "$K" patch deploy web -n demo -p '{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","$patch":"delete"}]}}}}'
	run "$K" get deploy web -n demo -o jsonpath='{range .spec.template.spec.containers[*]}{.name} {end}'
	expect out '^app $'
	run "$K" set image deploy/web -n demo app=nginx:3
	expect out 'image updated'
	run "$K" patch deploy web -n demo --type=merge -p '{"metadata":{"labels":{"tier":"front"}}}'
	run "$K" patch deploy web -n demo --type=json -p '[{"op":"test","path":"/metadata/labels/tier","value":"front"},{"op":"replace","path":"/spec/replicas","value":3}]'
	run_fails "$K" patch deploy web -n demo --type=json -p '[{"op":"test","path":"/metadata/labels/tier","value":"back"}]'
	expect err 'test failed|testing value'
	run "$K" label deploy web -n demo team=blue
	expect out '^deployment.apps/web labeled$'
	run "$K" annotate deploy web -n demo owner=ops
	expect out '^deployment.apps/web annotated$'
	run "$K" get deploy -n demo -l team=blue,tier=front -o name
	expect out '^deployment.apps/web$'
	run "$K" scale deploy web -n demo --replicas=5
	expect out '^deployment.apps/web scaled$'
	run "$K" get deploy web -n demo -o jsonpath='{.spec.template.spec.containers[0].image} {.spec.replicas}'
	expect out '^nginx:3 5$'

	# server-side apply of a ConfigMap: managers and a conflict
	cat >"$tmp/cfg.yaml" <<YAML
apiVersion: v1
kind: ConfigMap
metadata:
  name: cfg
  namespace: demo
data:
  a: "10"
YAML
	run_fails "$K" apply --server-side -f "$tmp/cfg.yaml"
	expect err 'Apply failed with 1 conflict: conflict with "kubectl-create" using v1 at [0-9TZ:-]+: .data.a'
	run "$K" apply --server-side --force-conflicts -f "$tmp/cfg.yaml"
	expect out '^configmap/cfg serverside-applied$'
	run "$K" get cm cfg -n demo -o jsonpath='{.data.a} {.data.b}'
	expect out '^10 2$'
	run "$K" get cm cfg -n demo -o yaml --show-managed-fields
	expect out '^    manager: kubectl$'
	expect out '^    operation: Apply$'
	expect out '^    manager: kubectl-create$'
	expect out '^        f:b: \{\}$'

	# describe, with the events of the object
	uid=$("$K" get deploy web -n demo -o jsonpath='{.metadata.uid}')
	cat >"$tmp/event.yaml" <<YAML
apiVersion: v1
kind: Event
metadata:
  name: web.scaled
  namespace: demo
involvedObject:
  apiVersion: apps/v1
  kind: Deployment
  name: web
  namespace: demo
  uid: $uid
reason: ScalingReplicaSet
message: Scaled up replica set web-1 to 5
type: Normal
source:
  component: deployment-controller
firstTimestamp: "2026-01-01T00:00:00Z"
lastTimestamp: "2026-01-01T00:00:00Z"
count: 1
YAML
	run "$K" create -f "$tmp/event.yaml"
	run "$K" describe deploy web -n demo
	expect out '^Name: +web$'
	expect out '^Replicas: +5 desired'
	expect out '^ +app:$'
	expect out '^ +Image: +nginx:3$'
	expect out 'Normal +ScalingReplicaSet +.* +deployment-controller +Scaled up replica set web-1 to 5'
	run "$K" get events -n demo
	expect out 'deployment/web +Scaled up replica set web-1 to 5'

	run "$K" get all -n demo
	expect out '^deployment.apps/web +0/5 '
	expect out '^service/api +ClusterIP'

	# deleting the namespace takes everything in it
	run "$K" delete namespace demo --wait=true --timeout=60s
	expect out '^namespace "demo" deleted'
	run_fails "$K" get ns demo
	run "$K" get cm -A -o name
	expect_not out 'configmap/cfg'
}

run_suites
echo "devcluster-kubectl-builtin: ok"
