#!/bin/sh
# bench-operator.sh: the real peerop-operator (examples/peerop-operator)
# brought up on 1,000 and 10,000 HTTPServers that already exist, timed until
# every status is written, with its requests per object and memory, against
# the local control plane's raw server-side apply rate measured in the same
# run (see bench_operator.c). BENCH_OPERATOR_SIZES overrides the sizes.
set -eu
top="${top_builddir:-$(cd "$(dirname "$0")/.." && pwd)}"
here=$(cd "$(dirname "$0")" && pwd)
bin="$top/devcluster/peerop-devcluster"
op="$top/examples/peerop-operator"
prog="${BENCH_BUILDDIR:-$top/bench}/bench_operator"
crd="$here/../charts/peerop/crds/httpservers.peerop.io.yaml"
sizes=${BENCH_OPERATOR_SIZES:-1000 10000}
[ -x "$bin" ] && [ -x "$prog" ] && [ -x "$op" ] || { echo "bench-operator: build first (make bench)"; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-op-XXXXXX")
dc_pid=
cleanup() { [ -z "$dc_pid" ] || kill "$dc_pid" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 1' INT TERM HUP PIPE
"$bin" --listen 127.0.0.1:0 --kubeconfig-out "$tmp/kc" --plain-http --log-level warn --history-size 400000 >"$tmp/dc.log" 2>&1 &
dc_pid=$!
i=0
while [ ! -s "$tmp/kc" ]; do i=$((i + 1)); [ $i -lt 300 ] || { echo "devcluster did not start"; exit 1; }; sleep 0.1; done
echo "load average $(cut -d' ' -f1-3 /proc/loadavg)"
# shellcheck disable=SC2086
"$prog" "$tmp/kc" "$crd" "$op" $sizes
echo "load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
