#!/bin/sh
# The demo, once built: see demo.sh. $1 is the build directory.
set -eu
build=$1; shift
if [ ! -x "$build/examples/peerop-server" ]; then
	echo "demo: libpeerop $(sed -n 's/^#define PEEROP_VERSION "\(.*\)"/\1/p' "$build/include/peerop/version.h") built in $build"
	echo "demo: peerop-server is not part of this version yet; nothing more to run"
	exit 0
fi
exec "$build/examples/peerop-server" "$@"
