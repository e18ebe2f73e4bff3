#!/bin/sh
# devcluster-kill.sh: the real peerop-devcluster binary. Writes acknowledged
# before a kill -9 survive a restart with the same --data-dir; SIGTERM exits
# 0; --help documents every flag; bad flags fail; HTTPS by default, which
# curl verifies with the CA from the kubeconfig; plain HTTP only when asked
# and on loopback only; a non-loopback --listen only when asked; the token
# from a file, never from the command line.
set -eu
bin="${top_builddir:-..}/devcluster/peerop-devcluster"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/dc-kill-XXXXXX")
pid=
cleanup() {
	if [ -n "$pid" ]; then kill -9 "$pid" 2>/dev/null || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [ -f "$tmp/log" ] && tail -n 20 "$tmp/log" >&2; exit 1; }

field() { # field FILE  -> prints server url and token
	python3 -c 'import json,sys
k=json.load(open(sys.argv[1]))
print(k["clusters"][0]["cluster"]["server"], k["users"][0]["user"]["token"])' "$1"
}

start() { # start EXTRA_ARGS...
	rm -f "$tmp/kc"
	"$bin" --listen 127.0.0.1:0 --kubeconfig-out "$tmp/kc" "$@" >"$tmp/log" 2>&1 &
	pid=$!
	i=0
	while [ ! -s "$tmp/kc" ]; do
		i=$((i + 1))
		[ $i -lt 600 ] || fail "no kubeconfig after 60 s"
		kill -0 "$pid" 2>/dev/null || fail "server exited"
		sleep 0.1
	done
	set -- $(field "$tmp/kc")
	url=$1 token=$2
}

api() { # api METHOD PATH [BODY] -> prints the HTTP code, body in $tmp/out
	if [ $# -ge 3 ]; then
		curl -s -o "$tmp/out" -w '%{http_code}' -X "$1" -H "Authorization: Bearer $token" \
			-H 'Content-Type: application/json' --data-binary "$3" "$url$2" || echo 000
	else
		curl -s -o "$tmp/out" -w '%{http_code}' -X "$1" -H "Authorization: Bearer $token" "$url$2" || echo 000
	fi
}

# ---- --help and bad flags
"$bin" --help >"$tmp/help"
for f in --listen --kubeconfig-out --data-dir --tls --plain-http --allow-non-loopback --token-file \
	--bookmark-interval --history-size --max-body --log-level --log-format --help; do
	grep -q -- "$f" "$tmp/help" || fail "--help does not document $f"
done
if "$bin" --listen 127.0.0.1:0 >/dev/null 2>&1; then fail "missing --kubeconfig-out accepted"; fi
if "$bin" --bogus >/dev/null 2>&1; then fail "unknown flag accepted"; fi
if "$bin" --listen nowhere:x --kubeconfig-out "$tmp/kc" >/dev/null 2>&1; then fail "bad --listen accepted"; fi
refused() { # refused WORD ARGS...: the server must exit 2 or 1 at once, saying WORD
	word=$1
	shift
	st=0
	"$bin" --kubeconfig-out "$tmp/kc" "$@" >"$tmp/refused" 2>&1 || st=$?
	[ "$st" != 0 ] || fail "accepted: $*"
	grep -q -- "$word" "$tmp/refused" || { cat "$tmp/refused" >&2; fail "$* refused without saying $word"; }
	[ ! -e "$tmp/kc" ] || fail "$* wrote a kubeconfig"
}
refused --allow-non-loopback --listen 0.0.0.0:0
refused --allow-non-loopback --listen '[::]:0'
refused loopback --listen 0.0.0.0:0 --plain-http --allow-non-loopback
refused --token-file --listen 127.0.0.1:0 --token s3cret
refused exclude --listen 127.0.0.1:0 --tls --plain-http
refused --token-file --listen 127.0.0.1:0 --token-file "$tmp/nonexistent"
printf 'two words\n' >"$tmp/badtoken"
refused printable --listen 127.0.0.1:0 --token-file "$tmp/badtoken"

# ---- kill -9 loses no acknowledged write (plain HTTP: curl needs no CA)
start --data-dir "$tmp/data" --plain-http
case $url in http://127.0.0.1:*) ;; *) fail "--plain-http serves $url" ;; esac
[ "$(api GET /version)" = 200 ] || fail "/version"
: >"$tmp/acked"
(
	n=0
	while [ $n -lt 400 ]; do
		code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $token" \
			-H 'Content-Type: application/json' \
			--data-binary "{\"metadata\":{\"name\":\"cm-$n\"},\"data\":{\"n\":\"$n\"}}" \
			"$url/api/v1/namespaces/default/configmaps" 2>/dev/null || echo 000)
		[ "$code" = 201 ] && echo "cm-$n" >>"$tmp/acked"
		n=$((n + 1))
	done
) &
writer=$!
# let some writes through, then kill -9 in the middle of the stream
i=0
while [ "$(wc -l <"$tmp/acked")" -lt 50 ]; do
	i=$((i + 1)); [ $i -lt 600 ] || fail "writes did not start"; sleep 0.1
done
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
pid=
wait "$writer" 2>/dev/null || true
acked=$(wc -l <"$tmp/acked")
echo "acknowledged before kill -9: $acked"

start --data-dir "$tmp/data" --plain-http
[ "$(api GET '/api/v1/namespaces/default/configmaps?limit=1000')" = 200 ] || fail "list after restart"
python3 - "$tmp/out" "$tmp/acked" <<'PY' || fail "acknowledged writes lost"
import json, sys
items = {i["metadata"]["name"] for i in json.load(open(sys.argv[1]))["items"]}
acked = [l.strip() for l in open(sys.argv[2]) if l.strip()]
lost = [a for a in acked if a not in items]
if lost:
    print("lost:", lost[:10], file=sys.stderr)
    sys.exit(1)
PY
# the counter kept going: a new write gets a larger resourceVersion
[ "$(api POST /api/v1/namespaces/default/configmaps '{"metadata":{"name":"after"}}')" = 201 ] || fail "write after restart"

# ---- SIGTERM exits 0
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
pid=
[ "$status" = 0 ] || fail "SIGTERM exit status $status"

# ---- restart over the admin API keeps the port and the data
printf 's3cret\n' >"$tmp/token"
chmod 600 "$tmp/token"
start --data-dir "$tmp/data" --token-file "$tmp/token" --plain-http
[ "$token" = s3cret ] || fail "--token-file not used"
ps -o args= -p "$pid" | grep -q s3cret && fail "the token is on the command line"
[ "$(api POST /_devcluster/restart)" = 202 ] || fail "restart fault"
i=0
until [ "$(api GET /_devcluster/status)" = 200 ] && grep -q '"restarts":1' "$tmp/out"; do
	i=$((i + 1)); [ $i -lt 600 ] || fail "not back after restart"; sleep 0.1
done
[ "$(api GET /api/v1/namespaces/default/configmaps/after)" = 200 ] || fail "data after admin restart"
kill -INT "$pid"
status=0
wait "$pid" || status=$?
pid=
[ "$status" = 0 ] || fail "SIGINT exit status $status"

# ---- TLS (the default), verified with the kubeconfig's CA
start
case $url in https://127.0.0.1:*) ;; *) fail "not https: $url" ;; esac
python3 -c 'import json,sys,base64
k=json.load(open(sys.argv[1]))
open(sys.argv[2],"wb").write(base64.b64decode(k["clusters"][0]["cluster"]["certificate-authority-data"]))' "$tmp/kc" "$tmp/ca.pem"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$tmp/ca.pem" -H "Authorization: Bearer $token" \
	"$url/api/v1/namespaces") || fail "TLS request failed"
[ "$code" = 200 ] || fail "TLS list: $code"
if curl -s -o /dev/null "$url/version" 2>/dev/null; then fail "TLS accepted without the CA"; fi
# client certificates of the server's CA: CN is the user, O the groups
code=$(curl -s -o "$tmp/cc.json" -w '%{http_code}' --cacert "$tmp/ca.pem" -H "Authorization: Bearer $token" \
	-X POST "$url/_devcluster/client-cert?user=alice&group=devs,ops")
[ "$code" = 201 ] || fail "client-cert: $code"
python3 -c 'import json,sys
c=json.load(open(sys.argv[1]))
open(sys.argv[2],"w").write(c["certificate"]); open(sys.argv[3],"w").write(c["key"])' "$tmp/cc.json" "$tmp/alice.crt" "$tmp/alice.key"
whoami() { # whoami CURL_ARGS...: the SelfSubjectReview's user, as "name groups..."
	curl -s --cacert "$tmp/ca.pem" "$@" -H 'Content-Type: application/json' -d '{}' \
		"$url/apis/authentication.k8s.io/v1/selfsubjectreviews" | python3 -c 'import json,sys
u=json.load(sys.stdin).get("status",{}).get("userInfo",{})
print(u.get("username",""), " ".join(u.get("groups",[])))'
}
[ "$(whoami --cert "$tmp/alice.crt" --key "$tmp/alice.key")" = "alice devs ops system:authenticated" ] ||
	fail "the client certificate is not alice: $(whoami --cert "$tmp/alice.crt" --key "$tmp/alice.key")"
[ "$(whoami -H "Authorization: Bearer $token")" = "admin system:masters system:authenticated" ] || fail "the token is not admin"
# a certificate of another CA is nobody's
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/O=system:masters/CN=mallory" \
	-days 1 -keyout "$tmp/m.key" -out "$tmp/m.crt" >/dev/null 2>&1 || fail "openssl req"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$tmp/ca.pem" --cert "$tmp/m.crt" --key "$tmp/m.key" \
	"$url/api/v1/namespaces")
[ "$code" = 401 ] || fail "a foreign certificate got $code"
mode=$(stat -c %a "$tmp/kc")
[ "$mode" = 600 ] || fail "kubeconfig mode $mode"
kill -TERM "$pid"
wait "$pid" || fail "TLS server exit status"
pid=
echo "devcluster-kill: ok"
