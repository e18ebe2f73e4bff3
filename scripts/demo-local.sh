#!/bin/sh
# The demo, once built (see demo.sh): three peerop-server processes on
# loopback that ping each other every few seconds, each logging every pong
# with the identity of the server that answered. Ctrl-C stops them cleanly
# (SIGTERM each, wait for it to exit).
#
#   scripts/demo-local.sh BUILD_DIR [--ping-interval SECONDS] [--log-format json]
#
# PEEROP_DEMO_PORT (default 18080) is the first of three ports.
set -eu
build=$1; shift
server="$build/examples/peerop-server"
[ -x "$server" ] || { echo "demo: $server is not built" >&2; exit 1; }
base=${PEEROP_DEMO_PORT:-18080}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/peerop-demo-XXXXXX")
pids=

stop() {
	trap - INT TERM EXIT
	echo
	echo "demo: stopping"
	for p in $pids; do kill -TERM "$p" 2>/dev/null || true; done
	status=0
	for p in $pids; do wait "$p" || status=1; done
	rm -rf "$tmp"
	[ $status = 0 ] && echo "demo: all three servers exited cleanly"
	exit $status
}
trap stop INT TERM EXIT

# One peers file for all three; each server skips itself in it.
printf '{"peers":[{"id":"demo-0","host":"127.0.0.1","port":%d},{"id":"demo-1","host":"127.0.0.1","port":%d},{"id":"demo-2","host":"127.0.0.1","port":%d}]}\n' \
	"$base" $((base + 1)) $((base + 2)) >"$tmp/peers.json"
echo "demo: three servers on 127.0.0.1:$base-$((base + 2)), peers file $tmp/peers.json"
echo "demo: try  curl -i http://127.0.0.1:$base/ping   and   curl http://127.0.0.1:$base/peers"
echo "demo: Ctrl-C stops them"
for i in 0 1 2; do
	# each server's lines, prefixed with its name, through a fifo so that
	# $! is the server itself (signals reach it, its exit status is ours)
	mkfifo "$tmp/out$i"
	sed -u "s/^/[demo-$i] /" <"$tmp/out$i" &
	"$server" --listen "127.0.0.1:$((base + i))" --id "demo-$i" --peers-file "$tmp/peers.json" \
		--ping-interval 3 "$@" >"$tmp/out$i" 2>&1 &
	pids="$pids $!"
done
# wait for Ctrl-C; if a server exits on its own, stop the others
while :; do
	for p in $pids; do
		kill -0 "$p" 2>/dev/null || { echo "demo: a server exited" >&2; stop; }
	done
	sleep 1
done
