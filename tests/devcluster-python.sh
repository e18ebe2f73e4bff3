#!/bin/sh
# devcluster-python.sh: the official Python client (Debian's
# python3-kubernetes, with /usr/bin/python3) against peerop-devcluster over
# TLS with the written kubeconfig: devcluster_python_test.py.
set -eu
. "${srcdir:-.}/devcluster-kubectl-lib.sh"
PY=${PEEROP_PYTHON:-/usr/bin/python3}
"$PY" -c 'import kubernetes, yaml' 2>/dev/null || { echo "python3-kubernetes not installed: skipped"; exit 77; }
KLABEL=python
start_server
"$PY" "$srcroot/tests/devcluster_python_test.py" "$KUBECONFIG" "$CRD_FILE" >"$tmp/out" 2>"$tmp/err" ||
	fail "the Python client's tests failed: $(tail -n 60 "$tmp/err")"
tail -n 3 "$tmp/err"
stop_server
