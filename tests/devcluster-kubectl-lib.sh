# devcluster-kubectl-lib.sh: sourced by the devcluster-kubectl*.sh tests.
#
# Starts peerop-devcluster --tls (and $DEVCLUSTER_FLAGS) on an ephemeral
# port for each kubectl build under test, and calls the test's `suite`
# function with $K set to that kubectl:
#   - $KUBECTL if set, else the kubectl first on PATH (test.sh puts the
#     pinned 1.34 from .tools/bin there);
#   - /usr/bin/kubectl too when it exists: the machine's dispatcher, which
#     runs the build matching the server's /version minor (1.32).
# Every process started is killed on exit; nothing sleeps a fixed time
# waiting for a state: `poll` retries a command until a deadline.
set -eu

bin="${top_builddir:-..}/devcluster/peerop-devcluster"
srcroot="${top_srcdir:-..}"
CRD_FILE="$srcroot/charts/peerop/crds/httpservers.peerop.io.yaml"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/dc-kubectl-XXXXXX")
pid=
bgpids=
cleanup() {
	for p in $bgpids; do kill -9 "$p" 2>/dev/null || true; done
	if [ -n "$pid" ]; then kill -9 "$pid" 2>/dev/null || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
	echo "FAIL ($KLABEL): $*" >&2
	[ -s "$tmp/out" ] && { echo "--- stdout:" >&2; cat "$tmp/out" >&2; }
	[ -s "$tmp/err" ] && { echo "--- stderr:" >&2; cat "$tmp/err" >&2; }
	# a server that died says why
	if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null && [ -s "$tmp/server.log" ]; then
		echo "--- the server exited; its log ends:" >&2
		tail -n 100 "$tmp/server.log" >&2
	fi
	exit 1
}
KLABEL=setup

# run CMD...: run it, stdout in $tmp/out, stderr in $tmp/err; fail if it fails.
run() {
	"$@" >"$tmp/out" 2>"$tmp/err" || fail "exit $? from: $*"
}
# run_fails CMD...: the command must fail (exit status not 0).
run_fails() {
	if "$@" >"$tmp/out" 2>"$tmp/err"; then fail "expected failure from: $*"; fi
}
# expect FILE PATTERN: grep -E PATTERN in $tmp/FILE (out or err).
expect() {
	grep -Eq -- "$2" "$tmp/$1" || fail "$1 does not match /$2/"
}
expect_not() {
	if grep -Eq -- "$2" "$tmp/$1"; then fail "$1 matches /$2/"; fi
}
# poll SECONDS CMD...: retry CMD until it succeeds or SECONDS pass.
poll() {
	_deadline=$(( $(date +%s) + $1 )); shift
	until "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -lt "$_deadline" ] || return 1
		sleep 0.1
	done
}

start_server() {
	rm -f "$tmp/kc"
	# shellcheck disable=SC2086 # DEVCLUSTER_FLAGS: more flags, split on spaces
	"$bin" --listen 127.0.0.1:0 --kubeconfig-out "$tmp/kc" --tls ${DEVCLUSTER_FLAGS:-} >"$tmp/server.log" 2>&1 &
	pid=$!
	poll 60 test -s "$tmp/kc" || { cat "$tmp/server.log" >&2; fail "no kubeconfig"; }
	export KUBECONFIG="$tmp/kc"
	# a fresh discovery and OpenAPI cache per server
	export KUBECACHEDIR="$tmp/cache.$pid"
}

stop_server() {
	kill -TERM "$pid"
	wait "$pid" || fail "server exit status $?"
	pid=
}

# Run `suite` with each kubectl build.
run_suites() {
	unset KUBERNETES_SERVICE_HOST || true
	kubectls=${KUBECTL:-$(command -v kubectl || true)}
	[ -n "$kubectls" ] || { echo "kubectl not found: skipped"; exit 77; }
	if [ -x /usr/bin/kubectl ] && [ "$kubectls" != /usr/bin/kubectl ]; then
		kubectls="$kubectls /usr/bin/kubectl"
	fi
	for K in $kubectls; do
		KLABEL="$K"
		start_server
		KLABEL="$K $("$K" version -o json 2>/dev/null | sed -n 's/.*"gitVersion": "\(v[0-9.]*\).*/\1/p' | head -n 1)"
		echo "== $KLABEL"
		suite
		stop_server
	done
}
