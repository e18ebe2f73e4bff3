#!/bin/sh
# devcluster-kubectl.sh: real kubectl against peerop-devcluster --tls, using
# the kubeconfig as written (server URL, CA data, token): version, --raw
# requests and a wrong token. The devcluster-kubectl-*.sh tests drive the
# rest of kubectl.
set -eu
command -v kubectl >/dev/null 2>&1 || { echo "kubectl not found: skipped"; exit 77; }
bin="${top_builddir:-..}/devcluster/peerop-devcluster"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/dc-kubectl-XXXXXX")
pid=
cleanup() {
	if [ -n "$pid" ]; then kill -9 "$pid" 2>/dev/null || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$bin" --listen 127.0.0.1:0 --kubeconfig-out "$tmp/kc" --tls >"$tmp/log" 2>&1 &
pid=$!
i=0
while [ ! -s "$tmp/kc" ]; do
	i=$((i + 1)); [ $i -lt 600 ] || fail "no kubeconfig"
	kill -0 "$pid" 2>/dev/null || fail "server exited"
	sleep 0.1
done
export KUBECONFIG="$tmp/kc"
unset KUBERNETES_SERVICE_HOST || true

kubectl version -o json >"$tmp/version" 2>"$tmp/err" || { cat "$tmp/err" >&2; fail "kubectl version"; }
grep -q '"minor": "32"' "$tmp/version" || fail "server version not reported: $(cat "$tmp/version")"

kubectl get --raw /api/v1/namespaces >"$tmp/ns" || fail "get --raw namespaces"
grep -q '"kube-system"' "$tmp/ns" || fail "kube-system missing"

printf '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"from-kubectl"},"data":{"a":"b"}}' >"$tmp/cm.json"
kubectl create --raw /api/v1/namespaces/default/configmaps -f "$tmp/cm.json" >"$tmp/created" || fail "create --raw"
grep -q '"uid"' "$tmp/created" || fail "created object has no uid"
kubectl get --raw /api/v1/namespaces/default/configmaps/from-kubectl | grep -q '"a":"b"' || fail "get --raw object"

# errors come back as Status objects kubectl can print
if kubectl get --raw /api/v1/namespaces/default/configmaps/nope >"$tmp/out" 2>"$tmp/err"; then
	fail "missing object returned success"
fi
grep -qi 'not found' "$tmp/err" || fail "NotFound not reported: $(cat "$tmp/err")"

kubectl delete --raw /api/v1/namespaces/default/configmaps/from-kubectl >/dev/null || fail "delete --raw"
if kubectl get --raw /api/v1/namespaces/default/configmaps/from-kubectl >/dev/null 2>&1; then
	fail "deleted object still there"
fi

# a wrong token is refused
sed 's/"token": "[^"]*"/"token": "wrong"/' "$tmp/kc" >"$tmp/kc-bad"
if KUBECONFIG="$tmp/kc-bad" kubectl get --raw /api/v1/namespaces >/dev/null 2>&1; then
	fail "wrong token accepted"
fi
kill -TERM "$pid"
wait "$pid" || fail "exit status"
pid=
echo "devcluster-kubectl: ok"
