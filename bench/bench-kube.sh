#!/bin/sh
# The Kubernetes client's request rate: peerop_kube_get() (TLS, bearer
# token, JSON parsed) against nginx serving a Pod over HTTPS on loopback,
# compared with the curl command line fetching the same URL in the same run
# (one process, connection reused; --parallel for the concurrent case).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
bin=${BENCH_BUILDDIR:-$PWD}/bench_kube
n=${BENCH_KUBE_N:-3000}
command -v nginx >/dev/null 2>&1 || { echo "bench-kube: nginx not installed (scripts/install-deps.sh bench); skipped"; exit 0; }
[ -x "$bin" ] || { echo "bench-kube: $bin not built (make bench builds it)" >&2; exit 1; }
tmp=$(mktemp -d)
chmod 755 "$tmp"
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM

cd "$tmp"
k="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
openssl req -x509 $k -keyout ca.key -out ca.crt -days 1 -subj /CN=bench-ca 2>/dev/null
openssl req $k -keyout srv.key -out srv.csr -subj /CN=127.0.0.1 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' > ext
openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out srv.crt -days 1 -extfile ext 2>/dev/null
mkdir -p www/api/v1/namespaces/default/pods
cat > www/api/v1/namespaces/default/pods/web <<'POD'
{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"default","uid":"5f0c3a1e-2b7d-4c5e-9a61-0d2f3b4c5d6e","resourceVersion":"4242","labels":{"app":"web"}},"spec":{"containers":[{"name":"web","image":"peerop-server:latest","ports":[{"containerPort":8080}]}]},"status":{"phase":"Running","podIP":"10.0.0.7"}}
POD
chmod -R a+rX www
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > nginx.conf <<CONF
worker_processes 1;
daemon off;
pid $tmp/nginx.pid;
error_log $tmp/error.log;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path $tmp/body; proxy_temp_path $tmp/proxy; fastcgi_temp_path $tmp/fcgi;
  uwsgi_temp_path $tmp/uwsgi; scgi_temp_path $tmp/scgi;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$port ssl http2;
    ssl_certificate $tmp/srv.crt; ssl_certificate_key $tmp/srv.key;
    location / { root $tmp/www; default_type application/json; }
  }
}
CONF
nginx -c "$tmp/nginx.conf" -p "$tmp" &
pid=$!
url="https://127.0.0.1:$port/api/v1/namespaces/default/pods/web"
i=0
until curl -sf --cacert ca.crt -o /dev/null "$url"; do
	i=$((i + 1)); [ $i -lt 100 ] || { echo "bench-kube: nginx did not start" >&2; cat error.log >&2; exit 1; }
	sleep 0.1
done
proto=$(curl -s --cacert ca.crt -o /dev/null -w '%{http_version}' "$url")

cat > kubeconfig <<KC
current-context: b
clusters:
- name: c
  cluster: {server: "https://127.0.0.1:$port", certificate-authority: ca.crt}
users:
- name: u
  user: {token: bench-token}
contexts:
- name: b
  context: {cluster: c, user: u, namespace: default}
KC
: > urls
j=0
while [ $j -lt "$n" ]; do printf 'url = "%s"\noutput = "/dev/null"\n' "$url" >> urls; j=$((j + 1)); done

now() { date +%s.%N; }
curl_rate() { # $1: extra curl flags
	t0=$(now)
	curl -s --no-progress-meter --cacert ca.crt -H 'Authorization: Bearer bench-token' $1 -K urls 2>/dev/null
	t1=$(now)
	echo "$n $t0 $t1" | awk '{ printf "%.0f", $1 / ($3 - $2) }'
}
peerop_rate() { # $1: threads
	"$bin" kubeconfig "$n" "$1" > out
	awk '{ printf "%.0f", $1 / $2 }' out
}

p1=$(peerop_rate 1); c1=$(curl_rate "")
p4=$(peerop_rate 4); c4=$(curl_rate "--parallel --parallel-max 4")
printf 'GET of one Pod over TLS on loopback, nginx, %d requests per case\n' "$n"
printf 'protocol: peerop %s, curl HTTP/%s\n' "$(awk '{ print $3 }' out)" "$proto"
printf '%-26s %14s %14s %8s\n' case "peerop req/s" "curl req/s" ratio
printf '%-26s %14s %14s %8s\n' "1 thread, sequential" "$p1" "$c1" "$(echo "$p1 $c1" | awk '{ printf "%.2f", $1 / $2 }')"
printf '%-26s %14s %14s %8s\n' "4 threads / --parallel 4" "$p4" "$c4" "$(echo "$p4 $c4" | awk '{ printf "%.2f", $1 / $2 }')"
echo "(ratio > 1: peerop faster. peerop parses every reply as JSON; curl discards it.)"
