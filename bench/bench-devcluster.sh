#!/bin/sh
# bench-devcluster.sh: the local control plane under load, on loopback.
#
# Requests per second for GET, LIST (100 objects), CREATE and PATCH with
# several clients (wrk), compared with nginx serving the same GET reply as a
# static file in the same run (the ceiling for one HTTP request on this
# machine); watch fan-out (events delivered per second to N watchers); and
# resident memory with 10,000 and 100,000 objects, compared with the size of
# the objects' JSON.
#
# nginx runs with one worker per core. Needs wrk, nginx, curl and python3
# (scripts/install-deps.sh bench).
set -eu
bin="${top_builddir:-..}/devcluster/peerop-devcluster"
[ -x "$bin" ] || bin="$(cd "$(dirname "$0")/.." && pwd)/devcluster/peerop-devcluster"
for t in wrk nginx curl python3; do
	command -v "$t" >/dev/null 2>&1 || { echo "bench-devcluster: $t missing (scripts/install-deps.sh bench)"; exit 0; }
done
dur=${BENCH_SECONDS:-5}
clients=${BENCH_CLIENTS:-8}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-dc-XXXXXX")
dc_pid= dc2_pid= ng_pid=
cleanup() {
	for p in $dc_pid $dc2_pid $ng_pid; do kill "$p" 2>/dev/null || true; done
	pkill -P $$ curl 2>/dev/null || true
	rm -rf "$tmp"
}
# also when killed or when the reader of our output goes away (| head)
trap cleanup EXIT
trap 'exit 1' INT TERM HUP PIPE

"$bin" --listen 127.0.0.1:0 --kubeconfig-out "$tmp/kc" --plain-http --log-level warn --history-size 200000 >"$tmp/dc.log" 2>&1 &
dc_pid=$!
i=0
while [ ! -s "$tmp/kc" ]; do i=$((i + 1)); [ $i -lt 300 ] || { echo "devcluster did not start"; exit 1; }; sleep 0.1; done
set -- $(python3 -c 'import json,sys
k=json.load(open(sys.argv[1]))
print(k["clusters"][0]["cluster"]["server"], k["users"][0]["user"]["token"])' "$tmp/kc")
url=$1 token=$2
auth="Authorization: Bearer $token"
cm="$url/api/v1/namespaces/default/configmaps"

mk() { curl -sf -o "$tmp/last" -X POST -H "$auth" -H 'Content-Type: application/json' --data-binary "$2" "$1"; }
mk "$cm" '{"metadata":{"name":"target","labels":{"app":"bench"}},"data":{"greeting":"hello","payload":"0123456789abcdef0123456789abcdef"}}'
n=0
while [ $n -lt 100 ]; do
	mk "$url/api/v1/namespaces/kube-public/configmaps" "{\"metadata\":{\"name\":\"l$n\"},\"data\":{\"k\":\"v$n\"}}"
	n=$((n + 1))
done
curl -sf -H "$auth" -o "$tmp/get.json" "$cm/target"

# nginx peer: the same reply bytes, as a static file
mkdir -p "$tmp/www" "$tmp/ng"
cp "$tmp/get.json" "$tmp/www/target"
# nginx workers may run as another user (when started as root)
chmod 755 "$tmp" "$tmp/www"; chmod 644 "$tmp/www/target"
cat >"$tmp/ng/nginx.conf" <<NG
worker_processes auto;
daemon off;
error_log $tmp/ng/error.log;
pid $tmp/ng/nginx.pid;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path $tmp/ng; proxy_temp_path $tmp/ng; fastcgi_temp_path $tmp/ng;
	uwsgi_temp_path $tmp/ng; scgi_temp_path $tmp/ng;
	server { listen 127.0.0.1:0; root $tmp/www; default_type application/json; }
}
NG
# nginx cannot report an ephemeral port: pick a free one first
ngport=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
sed -i "s/listen 127.0.0.1:0/listen 127.0.0.1:$ngport/" "$tmp/ng/nginx.conf"
nginx -c "$tmp/ng/nginx.conf" -p "$tmp/ng" >"$tmp/ng/out.log" 2>&1 &
ng_pid=$!
i=0
until curl -sf -o /dev/null "http://127.0.0.1:$ngport/target"; do i=$((i + 1)); [ $i -lt 100 ] || { echo "nginx did not start"; cat "$tmp/ng/out.log" "$tmp/ng/error.log"; exit 1; }; sleep 0.1; done

cat >"$tmp/create.lua" <<'LUA'
local counter = 0
setup = function(thread) counter = counter + 1; thread:set("id", counter) end
local n = 0
request = function()
	n = n + 1
	local body = string.format('{"metadata":{"name":"c-%d-%d"},"data":{"k":"v"}}', id, n)
	-- headers given to wrk.format replace the -H ones: keep Authorization
	local h = {}
	for k, v in pairs(wrk.headers) do h[k] = v end
	h["Content-Type"] = "application/json"
	return wrk.format("POST", nil, h, body)
end
LUA
cat >"$tmp/patch.lua" <<'LUA'
local n = 0
request = function()
	n = n + 1
	local body = string.format('{"data":{"counter":"%d"}}', n)
	local h = {}
	for k, v in pairs(wrk.headers) do h[k] = v end
	h["Content-Type"] = "application/merge-patch+json"
	return wrk.format("PATCH", nil, h, body)
end
LUA

rps() { # rps URL [LUA]: requests/s; every reply must be 2xx
	if [ $# -ge 2 ]; then
		wrk -t2 -c"$clients" -d"${dur}s" -H "$auth" -s "$2" "$1" >"$tmp/wrk" 2>&1
	else
		wrk -t2 -c"$clients" -d"${dur}s" -H "$auth" "$1" >"$tmp/wrk" 2>&1
	fi
	if grep -q 'Non-2xx' "$tmp/wrk"; then
		echo "bench-devcluster: non-2xx replies for $1" >&2
		cat "$tmp/wrk" >&2
		exit 1
	fi
	awk '/Requests\/sec/ { printf "%d", $2 }' "$tmp/wrk"
}

peer=$(rps "http://127.0.0.1:$ngport/target")
get=$(rps "$cm/target")
list=$(rps "$url/api/v1/namespaces/kube-public/configmaps")
create=$(rps "$cm" "$tmp/create.lua")
patch=$(rps "$cm/target" "$tmp/patch.lua")
# the same creates with --data-dir: every reply waits for fdatasync
"$bin" --listen 127.0.0.1:0 --kubeconfig-out "$tmp/kc2" --plain-http --log-level warn --data-dir "$tmp/data" >"$tmp/dc2.log" 2>&1 &
dc2_pid=$!
i=0
while [ ! -s "$tmp/kc2" ]; do i=$((i + 1)); [ $i -lt 300 ] || { echo "devcluster --data-dir did not start"; exit 1; }; sleep 0.1; done
url2=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["clusters"][0]["cluster"]["server"])' "$tmp/kc2")
auth_saved=$auth
auth="Authorization: Bearer $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["users"][0]["user"]["token"])' "$tmp/kc2")"
create_fsync=$(rps "$url2/api/v1/namespaces/default/configmaps" "$tmp/create.lua")
auth=$auth_saved
kill "$dc2_pid" 2>/dev/null; wait "$dc2_pid" 2>/dev/null || true
dc2_pid=

ratio() { python3 -c "import sys; print('%.2f' % (float(sys.argv[1]) / float(sys.argv[2])) if float(sys.argv[2]) else 'n/a')" "$1" "$2"; }

echo "requests/s, $clients clients, ${dur}s each (peer: nginx serving the GET reply as a file)"
printf '%-28s %12s %12s %8s\n' operation devcluster nginx ratio
printf '%-28s %12s %12s %8s\n' "GET configmap" "$get" "$peer" "$(ratio "$get" "$peer")"
printf '%-28s %12s %12s %8s\n' "LIST 100 configmaps" "$list" "$peer" "$(ratio "$list" "$peer")"
printf '%-28s %12s %12s %8s\n' "CREATE configmap" "$create" "$peer" "$(ratio "$create" "$peer")"
printf '%-28s %12s %12s %8s\n' "PATCH (merge) configmap" "$patch" "$peer" "$(ratio "$patch" "$peer")"
printf '%-28s %12s %12s %8s\n' "CREATE, --data-dir (fsync)" "$create_fsync" "$peer" "$(ratio "$create_fsync" "$peer")"
echo

# ---- watch fan-out: W watchers, E events each
W=${BENCH_WATCHERS:-50}
E=${BENCH_EVENTS:-2000}
w=0
while [ $w -lt "$W" ]; do
	curl -sN -H "$auth" "$url/api/v1/namespaces/bench/configmaps?watch=true&resourceVersion=0" >"$tmp/w$w" 2>/dev/null &
	w=$((w + 1))
done
mk "$url/api/v1/namespaces" '{"metadata":{"name":"bench"}}'
python3 - "$url" "$token" "$E" "$tmp" "$W" <<'PY'
import http.client, json, os, sys, time, urllib.parse
url, token, n, tmp, nw = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
u = urllib.parse.urlparse(url)
c = http.client.HTTPConnection(u.hostname, u.port)
h = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
t0 = time.time()
for i in range(n):
    c.request("POST", "/api/v1/namespaces/bench/configmaps", json.dumps({"metadata": {"name": "e%d" % i}}), h)
    r = c.getresponse(); r.read()
    assert r.status == 201, r.status
t1 = time.time()
def lines(w):
    with open(os.path.join(tmp, "w%d" % w), "rb") as f:
        return f.read().count(b"\n")
deadline = time.time() + 120
while time.time() < deadline and any(lines(w) < n for w in range(nw)):
    time.sleep(0.01)
t2 = time.time()
got = sum(lines(w) for w in range(nw))
print("watch fan-out: %d watchers x %d events" % (nw, n))
print("%-28s %12s" % ("writes/s while watched", "%d" % (n / (t1 - t0))))
print("%-28s %12s" % ("events delivered/s", "%d" % (got / (t2 - t0))))
print("%-28s %12s" % ("delivered", "%d/%d" % (got, n * nw)))
PY
pkill -P $$ curl 2>/dev/null || true
echo

# ---- memory with 10,000 and 100,000 objects
python3 - "$url" "$token" "$dc_pid" <<'PY'
import http.client, json, sys, urllib.parse
url, token, pid = sys.argv[1], sys.argv[2], sys.argv[3]
u = urllib.parse.urlparse(url)
c = http.client.HTTPConnection(u.hostname, u.port)
h = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
def rss():
    for l in open("/proc/%s/status" % pid):
        if l.startswith("VmRSS:"):
            return int(l.split()[1]) * 1024
c.request("POST", "/api/v1/namespaces", json.dumps({"metadata": {"name": "mem"}}), h); c.getresponse().read()
base = rss()
made, size = 0, 0
print("%-10s %14s %14s %16s %8s" % ("objects", "RSS growth MB", "JSON MB", "bytes/object", "ratio"))
for target in (10000, 100000):
    while made < target:
        body = json.dumps({"metadata": {"name": "m%06d" % made, "labels": {"app": "mem", "idx": str(made % 100)}},
                           "data": {"config": "x" * 200}})
        c.request("POST", "/api/v1/namespaces/mem/configmaps", body, h)
        r = c.getresponse(); data = r.read()
        assert r.status == 201, r.status
        size += len(data)
        made += 1
    grown = rss() - base
    print("%-10d %14.1f %14.1f %16d %8.2f" % (made, grown / 1e6, size / 1e6, grown // made, grown / size))
PY
