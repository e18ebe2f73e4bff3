#!/bin/sh
# /ping throughput and latency with wrk: peerop-server against nginx serving
# the same "pong\n" with the same number of workers, and against the original
# project's server (Flask under gunicorn), keep-alive and Connection: close.
#
#   BENCH_SECONDS (default 4), BENCH_REPS (default 3), BENCH_WORKERS (default 2),
#   BENCH_CONNS (default 64)
set -eu
. "$(dirname "$0")/peer-bench-lib.sh"
echo "machine: $(nproc) CPUs, load average $(cut -d" " -f1-3 /proc/loadavg) (other work on the machine skews absolute figures; ratios are measured in the same run)"
need wrk nginx gunicorn curl python3
python3 -c 'import flask' 2>/dev/null || { echo "skipped: python3-flask not installed"; exit 0; }
secs=${BENCH_SECONDS:-4}
workers=${BENCH_WORKERS:-2}
conns=${BENCH_CONNS:-64}

p_peer=$(free_port)
"$server" --listen "127.0.0.1:$p_peer" --id bench --threads "$workers" --ping-interval 3600 \
	--log-level warn >"$tmp/peer.log" 2>&1 &
pids="$pids $!"

p_nginx=$(free_port)
mkdir -p "$tmp/nginx"
cat >"$tmp/nginx/nginx.conf" <<CONF
worker_processes $workers;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log;
events { worker_connections 4096; }
http {
	access_log off;
	client_body_temp_path $tmp/nginx; proxy_temp_path $tmp/nginx;
	fastcgi_temp_path $tmp/nginx; uwsgi_temp_path $tmp/nginx; scgi_temp_path $tmp/nginx;
	server {
		listen 127.0.0.1:$p_nginx;
		location = /ping { default_type text/plain; add_header X-Peerop-Id nginx; return 200 "pong\n"; }
	}
}
CONF
nginx -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -g 'daemon off;' &
pids="$pids $!"

p_flask=$(free_port)
cat >"$tmp/app.py" <<'APP'
from flask import Flask
app = Flask(__name__)

@app.route("/ping")
def ping():
    return "pong\n", 200, {"Content-Type": "text/plain", "X-Peerop-Id": "flask"}
APP
gunicorn --chdir "$tmp" -w "$workers" -b "127.0.0.1:$p_flask" --log-level warning app:app \
	>"$tmp/gunicorn.log" 2>&1 &
pids="$pids $!"

wait_http "http://127.0.0.1:$p_peer/ping"
wait_http "http://127.0.0.1:$p_nginx/ping"
wait_http "http://127.0.0.1:$p_flask/ping"

# run NAME PORT MODE: prints "req/s p50 p99"
run() {
	hdr=
	[ "$3" = close ] && hdr='-H Connection:close'
	# shellcheck disable=SC2086
	wrk -t2 -c"$conns" -d"${secs}s" --latency $hdr "http://127.0.0.1:$2/ping" >"$tmp/wrk.$1.$3" 2>&1
	awk '
		/Requests\/sec/ { rps = $2 }
		/^ +50%/ { p50 = $2 } /^ +99%/ { p99 = $2 }
		/Non-2xx/ { bad = $NF }
		END { printf "%s %s %s %s\n", rps, p50, p99, bad ? bad : 0 }' "$tmp/wrk.$1.$3"
}

# Runs alternate between the servers, three rounds of each, and the median
# is reported: other work on the machine then hits all three alike.
reps=${BENCH_REPS:-3}
for mode in keepalive close; do
	for r in $(seq "$reps"); do
		for s in nginx:$p_nginx peer:$p_peer flask:$p_flask; do
			run "${s%%:*}" "${s#*:}" $mode >>"$tmp/res.${s%%:*}.$mode"
		done
	done
done
# median NAME MODE: the run with the median req/s, "req/s p50 p99 non2xx"
median() {
	sort -n "$tmp/res.$1.$2" | sed -n "$(( (reps + 1) / 2 ))p"
}
echo "wrk: 2 threads, $conns connections, ${secs} s per run, median of $reps alternating runs; $workers worker threads/processes each"
printf '%-28s %-10s %12s %10s %10s %14s\n' server connection req/s p50 p99 "vs nginx"
for mode in keepalive close; do
	set -- $(median nginx $mode); n_rps=$1
	printf '%-28s %-10s %12.0f %10s %10s %14s\n' "nginx ($workers workers)" $mode "$1" "$2" "$3" "1.00x"
	set -- $(median peer $mode)
	printf '%-28s %-10s %12.0f %10s %10s %13.2fx\n' "peerop-server ($workers threads)" $mode "$1" "$2" "$3" \
		"$(echo "$1 $n_rps" | awk '{ print $1 / $2 }')"
	[ "$4" = 0 ] || echo "  peerop-server: $4 non-2xx replies" >&2
	set -- $(median flask $mode)
	printf '%-28s %-10s %12.0f %10s %10s %13.2fx\n' "flask+gunicorn ($workers sync)" $mode "$1" "$2" "$3" \
		"$(echo "$1 $n_rps" | awk '{ print $1 / $2 }')"
done
