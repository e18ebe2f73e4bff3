#!/bin/sh
# bench-reconcile.sh: the controller runtime (peerop_controller, 1 and 4
# workers) against the naive loop of the original project's operator
# (list, then GET/create-or-replace/GET/replace-status per object, one
# request after another), each bringing N HTTPServers (default 1000) to the
# same state on one local control plane, in the same run. Also the latency
# of one spec change to its status update through the controller.
set -eu
top="${top_builddir:-$(cd "$(dirname "$0")/.." && pwd)}"
here=$(cd "$(dirname "$0")" && pwd)
bin="$top/devcluster/peerop-devcluster"
prog="${BENCH_BUILDDIR:-$top/bench}/bench_reconcile"
crd="$here/../charts/peerop/crds/httpservers.peerop.io.yaml"
n=${BENCH_OBJECTS:-1000}
[ -x "$bin" ] && [ -x "$prog" ] || { echo "bench-reconcile: build first (make bench)"; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-rec-XXXXXX")
dc_pid=
cleanup() { [ -z "$dc_pid" ] || kill "$dc_pid" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 1' INT TERM HUP PIPE
"$bin" --listen 127.0.0.1:0 --kubeconfig-out "$tmp/kc" --plain-http --log-level warn --history-size 200000 >"$tmp/dc.log" 2>&1 &
dc_pid=$!
i=0
while [ ! -s "$tmp/kc" ]; do i=$((i + 1)); [ $i -lt 300 ] || { echo "devcluster did not start"; exit 1; }; sleep 0.1; done
echo "$n HTTPServers per mode; load average $(cut -d' ' -f1-3 /proc/loadavg)"
"$prog" "$tmp/kc" "$crd" "$n" 1 4
echo "load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
