#!/bin/sh
# Fan-out: one round of pings to 1,000 peers (one nginx process listening on
# 1,000 ports), peerop-server's pinger (libcurl multi, keep-alive) against
# pinging the same peers one after another as the original project did
# (a new connection per ping) and one after another with keep-alive.
#
#   BENCH_PEERS (default 1000), BENCH_ROUNDS (default 20),
#   BENCH_PIN (default 1: nginx on the last CPU, the pingers on the first)
set -eu
. "$(dirname "$0")/peer-bench-lib.sh"
echo "machine at the start: $(load) (other work skews absolute figures; ratios are measured in the same run)"
need nginx curl python3
peers=${BENCH_PEERS:-1000}
rounds=${BENCH_ROUNDS:-20}
seqping="$build/bench/seqping"
[ -x "$seqping" ] || { echo "bench: $seqping not built" >&2; exit 1; }
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
setup_pinning 1
if [ -n "$pin_server" ]; then
	echo "pinned: nginx with '$pin_server', peerop-server and seqping with '$pin_client'"
else
	echo "not pinned (BENCH_PIN=0, one CPU, or no taskset)"
fi

# 1,000 distinct free ports: bind them all at once, then release.
python3 - "$peers" >"$tmp/ports" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print("\n".join(str(s.getsockname()[1]) for s in socks))
PY
mkdir -p "$tmp/nginx"
{
	echo "worker_processes 1; worker_rlimit_nofile 65536; pid $tmp/nginx/nginx.pid; error_log $tmp/nginx/error.log;"
	echo "events { worker_connections 8192; }"
	echo "http { access_log off; keepalive_requests 100000; keepalive_timeout 120s;"
	echo "client_body_temp_path $tmp/nginx; proxy_temp_path $tmp/nginx; fastcgi_temp_path $tmp/nginx;"
	echo "uwsgi_temp_path $tmp/nginx; scgi_temp_path $tmp/nginx;"
	echo "server {"
	sed 's/.*/listen 127.0.0.1:&;/' "$tmp/ports"
	echo 'location = /ping { default_type text/plain; add_header X-Peerop-Id "peer-$server_port"; return 200 "pong\n"; } } }'
} >"$tmp/nginx/nginx.conf"
# shellcheck disable=SC2086
$pin_server nginx -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -g 'daemon off;' &
pids="$pids $!"
awk 'BEGIN { printf "{\"peers\":[" } { printf "%s{\"id\":\"peer-%s\",\"host\":\"127.0.0.1\",\"port\":%s}", (NR > 1 ? "," : ""), $1, $1 }
	END { print "]}" }' "$tmp/ports" >"$tmp/peers.json"
wait_http "http://127.0.0.1:$(tail -n 1 "$tmp/ports")/ping"

# peerop-server: one round per second (as with a real interval, every round
# finds its connections idle for a second); its debug log times each round.
: >"$tmp/fanout.log"
# shellcheck disable=SC2086
$pin_client "$server" --listen 127.0.0.1:0 --id fanout --peers-file "$tmp/peers.json" --ping-interval 1 \
	--log-level debug >"$tmp/fanout.log" 2>&1 &
spid=$!
pids="$pids $spid"
rounds_done() { grep -c 'DEBUG Round ' "$tmp/fanout.log" || true; }
wait_rounds() {
	i=0
	until [ "$(rounds_done)" -ge "$1" ]; do
		i=$((i + 1))
		[ $i -lt 2400 ] || { echo "bench: fewer than $1 rounds in 120 s" >&2; tail "$tmp/fanout.log" >&2; exit 1; }
		kill -0 $spid 2>/dev/null || { echo "bench: peerop-server died" >&2; tail "$tmp/fanout.log" >&2; exit 1; }
		sleep 0.01
	done
}
# CPU time of the process (ticks) over the rounds after the first: unlike
# wall time it hardly depends on what else the machine is doing.
wait_rounds 1
cpu1=$(cpu_ticks $spid); r1=$(rounds_done)
wait_rounds "$rounds"
cpu2=$(cpu_ticks $spid); r2=$(rounds_done)
c_cpu=$(echo "$cpu1 $cpu2 $r1 $r2 $(getconf CLK_TCK)" | awk '{ printf "%.1f", ($2 - $1) * 1000 / $5 / ($4 - $3) }')
rss_kb=$(awk '/^VmRSS/ { print $2 }' /proc/$spid/status)
hwm_kb=$(awk '/^VmHWM/ { print $2 }' /proc/$spid/status)
kill -TERM $spid; wait $spid || true
pongs=$(grep -c 'Response: pong from peer-' "$tmp/fanout.log" || true)
fails=$(grep -c 'Failed to ping' "$tmp/fanout.log" || true)
grep 'DEBUG Round ' "$tmp/fanout.log" | sed -n 's/.* in \([0-9.]*\) ms.*/\1/p' | head -n "$rounds" >"$tmp/conc"
# shellcheck disable=SC2086
$pin_client "$seqping" "$tmp/peers.json" "$rounds" >"$tmp/seq" 2>&1
# shellcheck disable=SC2086
$pin_client "$seqping" "$tmp/peers.json" "$rounds" reuse >"$tmp/seqka" 2>&1
sed -n 's/^round [0-9]*: \([0-9.]*\) ms.*/\1/p' "$tmp/seq" >"$tmp/seq.ms"
sed -n 's/^round [0-9]*: \([0-9.]*\) ms.*/\1/p' "$tmp/seqka" >"$tmp/seqka.ms"

# stats FILE: "first median-of-the-rest max-of-the-rest rest-at-most-100ms rest"
stats() {
	first=$(head -n 1 "$1")
	m=$(tail -n +2 "$1" | median)
	tail -n +2 "$1" | sort -n | awk -v f="$first" -v m="$m" '{ a[NR] = $1; ok += $1 <= 100 } END {
		printf "%s %s %s %d %d\n", f, m, a[NR], ok, NR }'
}
set -- $(stats "$tmp/conc"); c_first=$1 c_med=$2 c_max=$3 c_ok=$4 c_n=$5
set -- $(stats "$tmp/seq.ms"); s_first=$1 s_med=$2 s_max=$3
set -- $(stats "$tmp/seqka.ms"); k_first=$1 k_med=$2 k_max=$3
echo "$peers peers (one nginx process, $peers ports), $rounds rounds each; times in ms; median and max of the rounds after the first"
s_cpu=$(sed -n 's/^cpu: \([0-9.]*\) ms.*/\1/p' "$tmp/seq")
k_cpu=$(sed -n 's/^cpu: \([0-9.]*\) ms.*/\1/p' "$tmp/seqka")
printf '%-40s %10s %13s %10s %11s %10s\n' method "1st round" "median after" "max after" "CPU/round" "vs pinger"
printf '%-40s %10.1f %13.1f %10.1f %11s %10s\n' "peerop pinger (curl multi, keep-alive)" "$c_first" "$c_med" "$c_max" \
	"$c_cpu" "1.00x"
printf '%-40s %10.1f %13.1f %10.1f %11s %9.1fx\n' "one after another, new connection each" "$s_first" "$s_med" "$s_max" \
	"$s_cpu" "$(echo "$s_med $c_med" | awk '{ print $1 / $2 }')"
printf '%-40s %10.1f %13.1f %10.1f %11s %9.1fx\n' "one after another, keep-alive" "$k_first" "$k_med" "$k_max" \
	"$k_cpu" "$(echo "$k_med $c_med" | awk '{ print $1 / $2 }')"
echo "pinger rounds after the first within 100 ms: $c_ok of $c_n"
echo "peerop-server RSS after $rounds rounds: $((rss_kb / 1024)) MB (peak $((hwm_kb / 1024)) MB); $pongs pongs, $fails failures logged"
echo "targets: <= 100 ms per round after the first, RSS <= 32 MB (CPU/round: user+system time of the pinger's process over the rounds after the first, 1,000 log lines each; seqping: its whole run / rounds)"
echo "machine at the end: $(load)"
