#!/bin/sh
# Quick start, command 1: install what is missing, build, and run the main job.
#
#   ./demo.sh            (as root on Debian 12)
#
# The whole system on one machine: the local control plane (an in-memory
# Kubernetes API server that runs pods as local processes), peerop-operator,
# and an HTTPServer asking for 5 peerop-servers that ping each other and log
# every reply with the identity of the server that answered; then
# `kubectl scale` to 1, and the remaining server reloads its peer list
# without a restart. It then follows that server's log; Ctrl-C stops
# everything.
#
#   ./demo.sh --servers-only   three peerop-servers on loopback, no Kubernetes
set -eu
. "$(dirname "$0")/scripts/common.sh"
peerop_prepare demo
build="$top/_build/demo"
peerop_configure "$build"
make -j"$jobs" >/dev/null
if [ "${1:-}" = --servers-only ]; then
	shift
	exec "$top/scripts/demo-local.sh" "$build" "$@"
fi
exec "$top/scripts/demo-cluster.sh" "$build" "$@"
