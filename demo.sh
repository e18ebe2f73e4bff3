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
top=$(cd "$(dirname "$0")" && pwd)
cd "$top"
jobs=$(nproc 2>/dev/null || echo 2)

"$top/scripts/install-deps.sh" demo
PEEROP_TOOLS_DIR=${PEEROP_TOOLS_DIR:-$top/.tools}
PATH="$PEEROP_TOOLS_DIR/bin:$PATH"
export PEEROP_TOOLS_DIR PATH

[ -x configure ] && [ configure -nt configure.ac ] || autoreconf -fi >/dev/null
build="$top/_build/demo"
mkdir -p "$build"
cd "$build"
if [ ! -f Makefile ] || [ "$top/configure" -nt config.status ]; then
	"$top/configure" -q
fi
make -j"$jobs" >/dev/null
exec "$top/scripts/demo-local.sh" "$build" "$@"
