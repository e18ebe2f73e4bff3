#!/bin/sh
# bench-operator-scale.sh: peerop-operator scaling an HTTPServer from 1 to
# 1,000 servers and back to 1, on the local control plane (no kubelet: a
# client plays it, creating the Deployment's pods with addresses as fast
# as the API server takes them, then deleting 999).
#
# For each direction: writes of the peers ConfigMap (counted by a watch on
# it), the time until the ConfigMap lists every pod (1,000, then 1), PATCH
# requests the operator sent, and its resident memory at the end. The peer,
# measured in the same run: the same operator with --peers-coalesce-ms 0
# (a write for every change the work queue lets through), as a ratio.
#
# Needs python3 and kubectl (scripts/install-deps.sh bench).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build="${top_builddir:-${BENCH_BUILDDIR:+$BENCH_BUILDDIR/..}}"
build=${build:-$top}
dc="$build/devcluster/peerop-devcluster"
op="$build/examples/peerop-operator"
[ -x "$dc" ] && [ -x "$op" ] || { echo "bench-operator-scale: build first ($dc, $op)"; exit 0; }
K=${KUBECTL:-$(command -v kubectl || true)}
for t in python3 "$K" curl; do
	command -v "$t" >/dev/null 2>&1 || { echo "bench-operator-scale: $t missing (scripts/install-deps.sh bench)"; exit 0; }
done
N=${BENCH_REPLICAS:-1000}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-opscale-XXXXXX")
dc_pid= op_pid=
cleanup() {
	for p in $op_pid $dc_pid; do kill "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP PIPE

"$dc" --listen 127.0.0.1:0 --kubeconfig-out "$tmp/kc" --tls --log-level warn >"$tmp/dc.log" 2>&1 &
dc_pid=$!
i=0
while [ ! -s "$tmp/kc" ]; do i=$((i + 1)); [ $i -lt 300 ] || { echo "devcluster did not start"; exit 1; }; sleep 0.1; done
export KUBECONFIG="$tmp/kc" KUBECACHEDIR="$tmp/cache"
"$K" apply -f "$top/charts/peerop/crds/httpservers.peerop.io.yaml" >/dev/null
i=0
until "$K" get httpservers >/dev/null 2>&1; do i=$((i + 1)); [ $i -lt 300 ] || { echo "CRD not served"; exit 1; }; sleep 0.1; done

# The kubelet's part and the stopwatch, in one python3 process: HTTP/1.1
# keep-alive to the API server; a watch on the ConfigMap counts its writes.
cat >"$tmp/drive.py" <<'PY'
import base64, http.client, json, ssl, sys, threading, time, urllib.parse
kc = json.load(open(sys.argv[1]))
u = urllib.parse.urlparse(kc["clusters"][0]["cluster"]["server"])
ctx = ssl.create_default_context(cadata=base64.b64decode(kc["clusters"][0]["cluster"]["certificate-authority-data"]).decode())
tok = kc["users"][0]["user"]["token"]
mode, first, last = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
H = {"Authorization": "Bearer " + tok, "Content-Type": "application/json"}
def conn(): return http.client.HTTPSConnection(u.hostname, u.port, timeout=600, context=ctx)
c = conn()
def call(method, path, body=None, ctype="application/json"):
    h = dict(H); h["Content-Type"] = ctype
    c.request(method, path, json.dumps(body) if body is not None else None, h)
    r = c.getresponse(); data = r.read()
    if r.status >= 300 and r.status != 404: raise SystemExit("%s %s: %d %s" % (method, path, r.status, data[:200]))
    return json.loads(data) if data else None
ns = "/api/v1/namespaces/default"
cm = call("GET", ns + "/configmaps/web-peers")
rv = cm["metadata"]["resourceVersion"]
writes = [0]; done = threading.Event(); t_done = [0.0]
def count(doc):
    try: return len(json.loads(doc["data"]["peers.json"])["peers"])
    except Exception: return -1
want = last if mode == "up" else first - 1
def watch():
    w = conn()
    w.request("GET", ns + "/configmaps?watch=true&fieldSelector=metadata.name%3Dweb-peers&resourceVersion=" + rv, headers=H)
    r = w.getresponse()
    while True:
        line = r.readline()
        if not line: break
        ev = json.loads(line)
        if ev["type"] in ("ADDED", "MODIFIED"):
            writes[0] += 1
            if count(ev["object"]) == want and not done.is_set():
                t_done[0] = time.monotonic(); done.set()
threading.Thread(target=watch, daemon=True).start()
time.sleep(0.3)  # the watch is open (it starts from rv: no event is missed)
labels = {"app.kubernetes.io/name": "peerop-server", "app.kubernetes.io/instance": "web",
          "app.kubernetes.io/managed-by": "peerop-operator"}
t0 = time.monotonic()
if mode == "up":
    for i in range(first, last + 1):
        name = "web-%04d" % i
        call("POST", ns + "/pods", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
             "spec": {"containers": [{"name": "server", "image": "peerop-server:bench"}]}})
        call("PATCH", ns + "/pods/" + name + "/status", {"status": {"phase": "Running",
             "podIP": "10.%d.%d.%d" % (i >> 16 & 255, i >> 8 & 255, i & 255)}}, "application/merge-patch+json")
else:
    for i in range(first, last + 1):
        call("DELETE", ns + "/pods/web-%04d" % i, {"gracePeriodSeconds": 0})
t_driven = time.monotonic()
if not done.wait(float(sys.argv[5]) if len(sys.argv) > 5 else 600): raise SystemExit("the ConfigMap never listed %d pods" % want)
if first == last: sys.exit(0)
time.sleep(3)  # writes still coming after convergence count too
print("%d %.2f %.2f" % (writes[0], t_done[0] - t0, t_driven - t0))
PY

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
patches() { curl -sf "http://127.0.0.1:$1/metrics" |
	awk '/^rest_client_requests_total/ && /method="PATCH"/ { n += $NF } END { print n + 0 }'; }

# run COALESCE_MS: one operator, scale up then down; prints two lines
run() {
	"$op" --kubeconfig "$tmp/kc" --namespace default --metrics-listen 127.0.0.1:0 --peers-coalesce-ms "$1" \
		>"$tmp/op.log" 2>&1 &
	op_pid=$!
	i=0
	until grep -q "serving /metrics" "$tmp/op.log" 2>/dev/null; do
		i=$((i + 1)); [ $i -lt 300 ] || { cat "$tmp/op.log" >&2; echo "operator did not start" >&2; exit 1; }; sleep 0.1; done
	port=$(sed -n 's/.*on port \([0-9]*\).*/\1/p' "$tmp/op.log" | head -n 1)
	printf 'apiVersion: peerop.io/v1alpha1\nkind: HTTPServer\nmetadata: {name: web}\nspec: {replicas: 1}\n' |
		"$K" apply -f - >/dev/null
	i=0
	until "$K" get cm web-peers >/dev/null 2>&1; do i=$((i + 1)); [ $i -lt 300 ] || { echo "no ConfigMap" >&2; exit 1; }; sleep 0.1; done
	# the first pod, as the Deployment's first replica (not timed)
	python3 "$tmp/drive.py" "$tmp/kc" up 1 1 >/dev/null
	p0=$(patches "$port")
	"$K" scale hs web --replicas="$N" >/dev/null
	set -- $(python3 "$tmp/drive.py" "$tmp/kc" up 2 "$N")
	p1=$(patches "$port")
	echo "up $1 $2 $3 $((p1 - p0)) $(rss_kb "$op_pid")"
	"$K" scale hs web --replicas=1 >/dev/null
	set -- $(python3 "$tmp/drive.py" "$tmp/kc" down 2 "$N")
	echo "down $1 $2 $3 $(($(patches "$port") - p1)) $(rss_kb "$op_pid")"
	"$K" delete hs web --wait=true >/dev/null
	"$K" delete pods --all --grace-period=0 >/dev/null 2>&1 || true
	kill "$op_pid"; wait "$op_pid" 2>/dev/null || true; op_pid=
}

run 1000 >"$tmp/coalesced"
run 0 >"$tmp/naive"
echo "HTTPServer scaled 1 -> $N -> 1, pods made and removed by a client playing the kubelet"
printf '%-8s %-26s %8s %12s %10s %8s %9s\n' scale operator "CM writes" "converged s" "driven s" PATCHes "RSS MiB"
for dir in up down; do
	for f in coalesced naive; do
		set -- $(grep "^$dir " "$tmp/$f")
		label=$([ $f = coalesced ] && echo "--peers-coalesce-ms 1000" || echo "--peers-coalesce-ms 0 (peer)")
		printf '%-8s %-26s %8s %12s %10s %8s %9.1f\n' "$([ $dir = up ] && echo "1->$N" || echo "$N->1")" \
			"$label" "$2" "$3" "$4" "$5" "$(echo "$6" | awk '{print $1 / 1024}')"
	done
	set -- $(grep "^$dir " "$tmp/coalesced") && cw=$2 ct=$3
	set -- $(grep "^$dir " "$tmp/naive") && nw=$2 nt=$3
	awk -v cw="$cw" -v nw="$nw" -v ct="$ct" -v nt="$nt" -v d="$dir" 'BEGIN {
		printf "  %s: ConfigMap writes %.3fx the peer'"'"'s, convergence time %.2fx\n", d, cw / nw, ct / nt }'
done
