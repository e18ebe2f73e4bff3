#!/bin/sh
# /ping throughput and latency with wrk: peerop-server against nginx serving
# the same "pong\n" with the same number of workers, and against the original
# project's server (Flask under gunicorn), keep-alive and Connection: close.
#
#   BENCH_SECONDS (default 3), BENCH_REPS (default 5), BENCH_CONNS (default 64),
#   BENCH_PIN (default 0; 1: the servers on the last CPU, wrk on the first),
#   BENCH_WORKERS (default: the number of CPUs, 1 when pinned)
set -eu
. "$(dirname "$0")/peer-bench-lib.sh"
echo "machine at the start: $(load) (other work skews absolute figures; ratios are measured in the same run)"
need wrk nginx gunicorn curl python3
python3 -c 'import flask' 2>/dev/null || { echo "skipped: python3-flask not installed"; exit 0; }
secs=${BENCH_SECONDS:-3}
conns=${BENCH_CONNS:-64}
reps=${BENCH_REPS:-5}
setup_pinning 0
if [ -n "$pin_server" ]; then
	workers=${BENCH_WORKERS:-1}
	threads=1
	echo "pinned: the servers with '$pin_server', wrk with '$pin_client' (each side has a CPU of its own)"
else
	workers=${BENCH_WORKERS:-$(nproc)}
	threads=2
	echo "not pinned: the servers and wrk share every CPU"
fi

p_peer=$(free_port)
# shellcheck disable=SC2086
$pin_server "$server" --listen "127.0.0.1:$p_peer" --id bench --threads "$workers" --ping-interval 3600 \
	--log-level warn >"$tmp/peer.log" 2>&1 &
peer_pid=$!
pids="$pids $peer_pid"

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
# shellcheck disable=SC2086
$pin_server nginx -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -g 'daemon off;' &
nginx_pid=$!
pids="$pids $nginx_pid"

p_flask=$(free_port)
cat >"$tmp/app.py" <<'APP'
from flask import Flask
app = Flask(__name__)

@app.route("/ping")
def ping():
    return "pong\n", 200, {"Content-Type": "text/plain", "X-Peerop-Id": "flask"}
APP
# shellcheck disable=SC2086
$pin_server gunicorn --chdir "$tmp" -w "$workers" -b "127.0.0.1:$p_flask" --log-level warning app:app \
	>"$tmp/gunicorn.log" 2>&1 &
flask_pid=$!
pids="$pids $flask_pid"

wait_http "http://127.0.0.1:$p_peer/ping"
wait_http "http://127.0.0.1:$p_nginx/ping"
wait_http "http://127.0.0.1:$p_flask/ping"
# the processes that serve: nginx's and gunicorn's workers, peerop-server itself
serving() {
	case $1 in
	peer) echo "$peer_pid" ;;
	nginx) pgrep -P "$nginx_pid" | tr '\n' ' ' ;;
	flask) pgrep -P "$flask_pid" | tr '\n' ' ' ;;
	esac
}

# run NAME PORT MODE: appends "req/s p50 p99 non2xx cpu-us-per-request" to res.NAME.MODE
run() {
	procs=$(serving "$1")
	# shellcheck disable=SC2086
	t1=$(cpu_ticks $procs)
	# (wrk drops a header written without a space after the colon:
	# "-H Connection:close" sends nothing, and measures keep-alive again)
	if [ "$3" = close ]; then
		# shellcheck disable=SC2086
		$pin_client wrk -t"$threads" -c"$conns" -d"${secs}s" --latency -H "Connection: close" \
			"http://127.0.0.1:$2/ping" >"$tmp/wrk.$1.$3" 2>&1
	else
		# shellcheck disable=SC2086
		$pin_client wrk -t"$threads" -c"$conns" -d"${secs}s" --latency "http://127.0.0.1:$2/ping" \
			>"$tmp/wrk.$1.$3" 2>&1
	fi
	# shellcheck disable=SC2086
	t2=$(cpu_ticks $procs)
	awk -v t="$((t2 - t1))" -v hz="$(getconf CLK_TCK)" '
		/requests in/ { n = $1 }
		/Requests\/sec/ { rps = $2 }
		/^ +50%/ { p50 = $2 } /^ +99%/ { p99 = $2 }
		/Non-2xx/ { bad = $NF }
		END { printf "%s %s %s %s %.1f\n", rps, p50, p99, bad ? bad : 0, n ? t * 1e6 / hz / n : 0 }' \
		"$tmp/wrk.$1.$3" >>"$tmp/res.$1.$3"
}

# Runs alternate between the servers, the first of each repetition taking
# turns, so that a change in the machine's load hits them alike. Each
# repetition gives peerop-server's ratio to the nginx run next to it; the
# median of those ratios is reported, with their range.
for mode in keepalive close; do
	for r in $(seq "$reps"); do
		if [ $((r % 2)) = 1 ]; then order="nginx:$p_nginx peer:$p_peer flask:$p_flask"
		else order="peer:$p_peer nginx:$p_nginx flask:$p_flask"; fi
		for s in $order; do
			run "${s%%:*}" "${s#*:}" $mode
		done
	done
done
# col NAME MODE N: column N of every run
col() { awk -v c="$3" '{ print $c }' "$tmp/res.$1.$2"; }
# ratios NAME MODE: "median min max" of NAME's req/s over nginx's, run by run
ratios() {
	paste "$tmp/res.$1.$2" "$tmp/res.nginx.$2" | awk '{ print $1 / $6 }' >"$tmp/ratios"
	echo "$(median <"$tmp/ratios") $(sort -n "$tmp/ratios" | head -n 1) $(sort -n "$tmp/ratios" | tail -n 1)"
}
# the run with the median req/s: "req/s p50 p99 non2xx cpu"
median_run() {
	sort -n "$tmp/res.$1.$2" | sed -n "$(( (reps + 1) / 2 ))p"
}
echo "wrk: $threads thread(s), $conns connections, ${secs} s per run, $reps alternating runs per server; $workers worker(s) per server"
echo "req/s, p50, p99: the run with the median req/s; CPU/req: the serving processes' user+system time per request (median);"
echo "vs nginx: median of the ratios to the nginx run next to it (their range); CPU vs nginx: nginx's CPU/req over this one's"
printf '%-16s %-10s %8s %9s %9s %9s %18s %8s\n' server connection req/s p50 p99 CPU/req "vs nginx (range)" "CPU vs"
for mode in keepalive close; do
	n_cpu=$(col nginx $mode 5 | median)
	for s in nginx peer flask; do
		set -- $(median_run $s $mode)
		cpu=$(col $s $mode 5 | median)
		case $s in
		nginx) name="nginx"; vs="1.00x" ;;
		peer) name="peerop-server" ;;
		flask) name="flask+gunicorn" ;;
		esac
		if [ $s != nginx ]; then
			set -- "$@" $(ratios $s $mode)
			vs=$(printf '%.2fx (%.2f-%.2f)' "$6" "$7" "$8")
		fi
		printf '%-16s %-10s %8.0f %9s %9s %7.1fus %18s %7.2fx\n' "$name" $mode "$1" "$2" "$3" "$cpu" "$vs" \
			"$(echo "$n_cpu $cpu" | awk '{ print ($2 > 0 ? $1 / $2 : 0) }')"
		[ "$s" != peer ] || [ "$4" = 0 ] || echo "  peerop-server: $4 non-2xx replies" >&2
	done
done
echo "target: peerop-server >= 0.9x nginx's requests per second"
echo "machine at the end: $(load)"
