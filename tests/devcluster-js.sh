#!/bin/sh
# devcluster-js.sh: the official JavaScript client (@kubernetes/client-node,
# which install-deps fetches into the tools dir) against peerop-devcluster
# over TLS with the written kubeconfig: devcluster_js_test.mjs.
set -eu
. "${srcdir:-.}/devcluster-kubectl-lib.sh"
js_dir=${PEEROP_TOOLS_DIR:-$srcroot/.tools}/node
command -v node >/dev/null 2>&1 || { echo "node not found: skipped"; exit 77; }
[ -f "$js_dir/node_modules/@kubernetes/client-node/package.json" ] ||
	{ echo "@kubernetes/client-node not in $js_dir (scripts/install-deps.sh test): skipped"; exit 77; }
KLABEL=javascript
start_server
# node finds packages next to the script: run a copy beside node_modules
cp "$srcroot/tests/devcluster_js_test.mjs" "$js_dir/devcluster_js_test.$$.mjs"
st=0
node "$js_dir/devcluster_js_test.$$.mjs" "$KUBECONFIG" "$CRD_FILE" >"$tmp/out" 2>&1 || st=$?
rm -f "$js_dir/devcluster_js_test.$$.mjs"
cat "$tmp/out"
[ $st = 0 ] || fail "the JavaScript client's tests failed"
stop_server
