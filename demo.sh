#!/bin/sh
# Quick start, command 1: install what is missing, build, and run the main job.
#
#   ./demo.sh            (as root on Debian 12, or with sudo available)
#
# Today the main job is the reference application: three peerop-server
# processes on loopback that ping each other every few seconds and log every
# reply with the identity of the server that answered. Ctrl-C stops them.
# (When the local control plane demo lands, this runs the whole system:
# devcluster, operator, HTTPServer resource, scaling.)
set -eu
. "$(dirname "$0")/scripts/common.sh"
peerop_prepare demo
build="$top/_build/demo"
peerop_configure "$build"
make -j"$jobs" >/dev/null
exec "$top/scripts/demo-local.sh" "$build" "$@"
