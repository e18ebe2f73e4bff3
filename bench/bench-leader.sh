#!/bin/sh
# bench-leader.sh: leader election failover time against the configured
# lease duration, after a release (the leader stopped cleanly) and after an
# expiry (it vanished without releasing), on the local control plane.
#
# The peer measured in the same run is the expiry path: a release should
# cut failover from about one lease duration to about one retry period.
# BENCH_LEADER_ROUNDS (default 5), BENCH_LEADER_TIMES "LEASE RENEW RETRY"
# in ms (default "3000 2000 500": the 15/10/2 s defaults scaled down).
set -eu
bin="${top_builddir:-..}/devcluster/peerop-devcluster"
[ -x "$bin" ] || bin="$(cd "$(dirname "$0")/.." && pwd)/devcluster/peerop-devcluster"
b=${BENCH_BUILDDIR:-.}/bench_leader
rounds=${BENCH_LEADER_ROUNDS:-5}
times=${BENCH_LEADER_TIMES:-3000 2000 500}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-leader-XXXXXX")
dc_pid=
cleanup() {
	[ -z "$dc_pid" ] || kill "$dc_pid" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP PIPE

"$bin" --listen 127.0.0.1:0 --kubeconfig-out "$tmp/kc" --plain-http --log-level warn >"$tmp/dc.log" 2>&1 &
dc_pid=$!
i=0
while [ ! -s "$tmp/kc" ]; do i=$((i + 1)); [ $i -lt 300 ] || { echo "devcluster did not start"; exit 1; }; sleep 0.1; done

set -- $times
echo "### failover: stop the leader, until the other candidate leads (lease $1 ms, renew deadline $2 ms, retry $3 ms)"
echo "| failover | rounds | lease ms | median ms | min ms | max ms | median / lease duration |"
echo "|---|---|---|---|---|---|---|"
"$b" "$tmp/kc" "$rounds" "$1" "$2" "$3"
