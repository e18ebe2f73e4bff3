#!/bin/sh
# devcluster-pods-kill.sh: the real peerop-devcluster binary with --run-pods
# never leaves a process behind. kill -9 of the server takes every pod
# process with it (grandchildren too, as root: each container is PID 1 of
# its own PID namespace); a restart with the same --data-dir runs the pods
# again; SIGTERM stops every pod (SIGTERM, grace period, SIGKILL) and
# exits 0; --help documents the flags; bad --image values are refused.
set -eu
bin="${top_builddir:-..}/devcluster/peerop-devcluster"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/dc-podkill-XXXXXX")
# a number: also the sleeps' argument, so every process of the pod has it
marker="7$$$(date +%S)7"
pid=
cleanup() {
	if [ -n "$pid" ]; then kill -9 "$pid" 2>/dev/null || true; fi
	# whatever a failed run left (found by the marker in its arguments)
	for p in $(procs_pids); do kill -9 "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT
# pod IPs of its own: servers of other tests running meanwhile may take a
# freed address otherwise, and this test checks a pod keeps its address
# (its pod listens on no port, so sharing addresses is harmless)
PEEROP_DEVCLUSTER_IPS_DIR="$tmp/ips"
export PEEROP_DEVCLUSTER_IPS_DIR
fail() { echo "FAIL: $*" >&2; [ -f "$tmp/log" ] && tail -n 30 "$tmp/log" >&2; exit 1; }

procs_pids() { # the pids of processes with the marker in their command line
	for d in /proc/[0-9]*; do
		if { tr '\0' ' ' <"$d/cmdline"; } 2>/dev/null | grep -q -- "$marker"; then echo "${d#/proc/}"; fi
	done
}
nprocs() { procs_pids | wc -l | tr -d ' '; }

poll() { # poll SECONDS CMD...
	_deadline=$(( $(date +%s) + $1 )); shift
	until "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -lt "$_deadline" ] || return 1
		sleep 0.1
	done
}

start() { # start EXTRA_ARGS...
	rm -f "$tmp/kc"
	"$bin" --listen 127.0.0.1:0 --kubeconfig-out "$tmp/kc" --plain-http --run-pods --image shell=/bin/sh "$@" >"$tmp/log" 2>&1 &
	pid=$!
	poll 60 test -s "$tmp/kc" || fail "no kubeconfig"
	set -- $(python3 -c 'import json,sys
k=json.load(open(sys.argv[1]))
print(k["clusters"][0]["cluster"]["server"], k["users"][0]["user"]["token"])' "$tmp/kc")
	url=$1 token=$2
}

api() { # api METHOD PATH [BODY] -> prints the HTTP code, body in $tmp/out
	if [ $# -ge 3 ]; then
		curl -s -o "$tmp/out" -w '%{http_code}' -X "$1" -H "Authorization: Bearer $token" \
			-H 'Content-Type: application/json' --data-binary "$3" "$url$2" || echo 000
	else
		curl -s -o "$tmp/out" -w '%{http_code}' -X "$1" -H "Authorization: Bearer $token" "$url$2" || echo 000
	fi
}

pod_field() { # pod_field NAME PYTHON-EXPR(o)
	[ "$(api GET "/api/v1/namespaces/default/pods/$1")" = 200 ] || return 1
	python3 -c 'import json,sys
o=json.load(open(sys.argv[1]))
print(eval(sys.argv[2]))' "$tmp/out" "$2"
}
pod_running() { [ "$(pod_field "$1" 'o["status"].get("phase")')" = Running ]; }
has_procs() { [ "$(nprocs)" -ge "$1" ]; }
no_procs() { [ "$(nprocs)" -eq 0 ]; }

# ---- flags
"$bin" --help >"$tmp/help"
for f in --run-pods --image --node-name --restart-backoff; do
	grep -q -- "$f" "$tmp/help" || fail "--help does not document $f"
done
if "$bin" --listen 127.0.0.1:0 --kubeconfig-out "$tmp/kc" --image nopath >/dev/null 2>&1; then
	fail "--image without =PATH accepted"
fi
if "$bin" --listen 127.0.0.1:0 --kubeconfig-out "$tmp/kc" --image x=relative/path >/dev/null 2>&1; then
	fail "--image with a relative path accepted"
fi

# a pod whose shell starts two more processes, all marked
pod='{"metadata":{"name":"family"},"spec":{"terminationGracePeriodSeconds":2,"containers":[{"name":"sh",'
pod="$pod"'"image":"shell","command":["sh","-c","sleep '"$marker"' & sleep '"$marker"' & wait"]}]}}'

# and one running as another user: changing credentials clears the
# parent-death signal, which the container must set again
other='{"metadata":{"name":"other-user"},"spec":{"terminationGracePeriodSeconds":2,"securityContext":{"runAsUser":65532,"runAsGroup":65532},"containers":[{"name":"sh",'
other="$other"'"image":"shell","command":["sleep","'"$marker"'"]}]}}'

# without root, processes a container starts are not in a PID namespace
# of their own and may outlive a kill -9 (README: Running pods)
[ "$(id -u)" = 0 ] || { echo "not root: skipped"; exit 77; }

# ---- kill -9: nothing survives
start --data-dir "$tmp/data"
[ "$(api POST /api/v1/namespaces/default/pods "$pod")" = 201 ] || fail "create pod: $(cat "$tmp/out")"
poll 60 pod_running family || fail "the pod does not run"
poll 60 has_procs 3 || fail "expected 3 processes, found $(nprocs)"
ip1=$(pod_field family 'o["status"]["podIP"]')
[ "$(api POST /api/v1/namespaces/default/pods "$other")" = 201 ] || fail "create pod: $(cat "$tmp/out")"
poll 60 pod_running other-user || fail "the pod of another user does not run"
poll 60 has_procs 4 || fail "expected 4 processes, found $(nprocs)"
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
pid=
poll 30 no_procs || fail "processes survived kill -9 of the server: $(procs_pids)"

# ---- a restart with the data dir runs the pod again, on its address
start --data-dir "$tmp/data"
poll 60 has_procs 4 || fail "the pods did not run again after the restart ($(nprocs) processes)"
poll 60 pod_running family || fail "the pod is not Running after the restart"
[ "$(pod_field family 'o["status"]["podIP"]')" = "$ip1" ] || fail "the pod changed its IP"

# ---- SIGTERM: pods stopped (the shell ignores SIGTERM as PID 1: SIGKILL
# after its 2 s), exit 0
kill -TERM "$pid"
wait "$pid" || fail "server exit status $?"
pid=
[ "$(nprocs)" -eq 0 ] || fail "processes left after SIGTERM: $(procs_pids)"
grep -q "SIGTERM: stopping" "$tmp/log" || fail "no stop message"
echo "devcluster-pods-kill: ok"
