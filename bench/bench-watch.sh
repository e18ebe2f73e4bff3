#!/bin/sh
# watch-stream: decode throughput against jansson's json_loadb on the same
# lines (same run), and informer memory per cached object against its JSON.
set -eu
b=${BENCH_BUILDDIR:-.}/bench_watch
echo "### watch decode (64 MB recorded stream of Deployment-sized events, 16 KiB chunks; best of 3)"
"$b" decode 64
echo
echo "### informer memory (managedFields stripped by the default transform; RSS growth / objects)"
echo "| objects | JSON with managedFields | JSON stripped | RSS per object | RSS / stripped JSON (target <= 3x) |"
echo "|---|---|---|---|---|"
"$b" memory 10000
"$b" memory 100000
