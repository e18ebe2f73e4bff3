#!/bin/sh
# image-test.sh: the container images scripts/images.sh built (test.sh builds
# them once per run and names them in $PEEROP_IMAGES, "server=IMAGE
# operator=IMAGE"), run with podman the way a restricted Kubernetes pod runs:
# read-only root filesystem, UID/GID 65532, every capability dropped, no new
# privileges, the runtime's default seccomp profile. What the kernel reports
# for the container's process (/proc/PID/status, mountinfo) is checked, not
# just the flags passed.
#   - each image: its labels, its user, its size (reported), its files: the
#     program, shared libraries, CA certificates, passwd/group/nsswitch and
#     nothing else; no /bin/sh (and asking for one fails);
#   - peerop-server answers GET /ping with exactly "pong\n" and its identity,
#     and two server containers (one network namespace of their own, shared)
#     ping each other, each logging the other's identity;
#   - peerop-operator fails clearly without a cluster, and runs against the
#     local control plane (peerop-devcluster --tls on loopback, network host)
#     with its kubeconfig mounted read-only: an HTTPServer gets its Deployment.
# Nothing sleeps a fixed time waiting for a state: `poll` has a deadline.
set -eu

if [ -z "${PEEROP_IMAGES:-}" ]; then
	echo "image-test: no images (\$PEEROP_IMAGES unset; ./test.sh builds them with scripts/images.sh): skipped"
	exit 77
fi
[ "$(id -u)" = 0 ] || { echo "image-test: needs root (rootful podman)" >&2; exit 1; }

srcroot=${top_srcdir:-..}
. "$srcroot/scripts/podman.sh"
server_img= operator_img=
for kv in $PEEROP_IMAGES; do
	case $kv in
	server=*) server_img=${kv#server=} ;;
	operator=*) operator_img=${kv#operator=} ;;
	esac
done
[ -n "$server_img" ] && [ -n "$operator_img" ] || { echo "image-test: bad PEEROP_IMAGES '$PEEROP_IMAGES'" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/image-test-XXXXXX")
peerop_podman_setup "$tmp/podman"
prefix="peerop-it-$$"
dcpid=
cleanup() {
	for c in $(podman ps -a --filter "name=^$prefix-" --format '{{.Names}}' 2>/dev/null); do
		# --depend: server b shares a's network namespace, and podman
		# refuses to remove a while b exists (a was left behind, stopped)
		pm rm -f --depend -t 0 "$c" >/dev/null 2>&1 || true
	done
	if [ -n "$dcpid" ]; then kill -9 "$dcpid" 2>/dev/null || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*" >&2
	for f in "$tmp"/*.log; do
		[ -s "$f" ] && { echo "--- $(basename "$f"):" >&2; tail -n 30 "$f" >&2; }
	done
	exit 1
}
poll() { # SECONDS CMD...
	_deadline=$(( $(date +%s) + $1 )); shift
	until "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -lt "$_deadline" ] || return 1
		sleep 0.2
	done
}

# What a restricted pod gets. The seccomp profile is named, not left to a
# default: RuntimeDefault is the runtime's own profile, this file.
seccomp=/usr/share/containers/seccomp.json
[ -f "$seccomp" ] || fail "no $seccomp (golang-github-containers-common)"
# shellcheck disable=SC2086 # PM_ULIMITS: several flags
restricted="--read-only --user 65532:65532 --cap-drop ALL --security-opt no-new-privileges \
--security-opt seccomp=$seccomp --log-driver k8s-file $PM_ULIMITS"

cpid() { pm inspect --format '{{.State.Pid}}' "$1"; }
running() { [ "$(pm inspect --format '{{.State.Running}}' "$1" 2>/dev/null)" = true ]; }
logs_have() { pm logs "$1" 2>&1 | grep -Eq -- "$2"; }

# the kernel's view of a container's main process
check_restricted() { # CONTAINER
	_p=$(cpid "$1")
	[ -n "$_p" ] && [ "$_p" != 0 ] || fail "$1: no process"
	st=/proc/$_p/status
	grep -Eq '^Uid:[[:space:]]+65532[[:space:]]+65532[[:space:]]+65532[[:space:]]+65532$' "$st" || fail "$1: not UID 65532: $(grep Uid "$st")"
	grep -Eq '^Gid:[[:space:]]+65532[[:space:]]+65532[[:space:]]+65532[[:space:]]+65532$' "$st" || fail "$1: not GID 65532: $(grep Gid "$st")"
	for c in CapInh CapPrm CapEff CapBnd CapAmb; do
		grep -Eq "^$c:[[:space:]]+0000000000000000$" "$st" || fail "$1: $c not empty: $(grep "^$c" "$st")"
	done
	grep -Eq '^NoNewPrivs:[[:space:]]+1$' "$st" || fail "$1: no_new_privs not set"
	grep -Eq '^Seccomp:[[:space:]]+2$' "$st" || fail "$1: no seccomp filter: $(grep Seccomp "$st")"
	# mountinfo: field 5 is the mount point, field 6 its options
	awk '$5 == "/" { print $6 }' "/proc/$_p/mountinfo" | grep -Eq '^ro(,|$)' || fail "$1: root filesystem not read-only"
	echo "ok: $1: UID/GID 65532, no capabilities, no_new_privs, seccomp filter, read-only root"
}

# ---- each image: labels, user, size, files --------------------------------
version=$(sed -n 's/^AC_INIT(\[libpeerop\], \[\([^]]*\)\].*/\1/p' "$srcroot/configure.ac")
for img in "$server_img" "$operator_img"; do
	pm image exists "$img" || fail "$img: no such image (scripts/images.sh)"
	pm image inspect --format '{{.Config.User}}' "$img" | grep -qx '65532:65532' || fail "$img: USER is not 65532:65532"
	for l in source revision licenses; do
		v=$(pm image inspect --format "{{index .Labels \"org.opencontainers.image.$l\"}}" "$img")
		[ -n "$v" ] && [ "$v" != "<no value>" ] || fail "$img: no org.opencontainers.image.$l label"
	done
	v=$(pm image inspect --format '{{index .Labels "org.opencontainers.image.version"}}' "$img")
	[ "$v" = "$version" ] || fail "$img: version label '$v', configure.ac says $version"
	case $img in *:"$version"-g*) ;; *) fail "$img: tag is not VERSION-gREVISION" ;; esac
	echo "image: $img: $(pm image inspect --format '{{.Size}}' "$img" | awk '{ printf "%.1f MB", $1 / 1e6 }')"

	# every file of the image (a created container's export: the image's
	# files plus the few the engine adds: /dev, /proc, /sys, /run, /etc/hosts...)
	prog=/usr/bin/$(basename "${img%%:*}")
	pm create --name "$prefix-files" "$img" >/dev/null
	pm export "$prefix-files" | tar -tf - | sed 's|^\./||; s|/$||' | sort >"$tmp/files"
	pm rm -f "$prefix-files" >/dev/null
	grep -qx "${prog#/}" "$tmp/files" || fail "$img: no $prog"
	for f in bin/sh usr/bin/sh bin/bash bin/busybox usr/bin/apt usr/bin/dpkg bin/ls; do
		if grep -qx "$f" "$tmp/files"; then fail "$img: has /$f"; fi
	done
	unexpected=$(grep -Ev "^(${prog#/}|(usr/)?lib(64)?(/x86_64-linux-gnu)?(/[^/]+\.so[.0-9]*)?|usr|usr/bin|etc|etc/(passwd|group|nsswitch\.conf|hosts|hostname|resolv\.conf)|etc/ssl|etc/ssl/certs|etc/ssl/certs/ca-certificates\.crt|tmp|dev|proc|sys|run|run/\.containerenv)$" "$tmp/files" || true)
	[ -z "$unexpected" ] || fail "$img: files beyond the program, its libraries and /etc: $unexpected"
	grep -q 'ld-linux' "$tmp/files" || fail "$img: no dynamic loader"
	echo "ok: $img: $(grep -c '\.so' "$tmp/files") libraries, the program, /etc; no shell, no package manager"

	# and asking for a shell fails: there is none to run
	if pm run --rm $restricted --entrypoint /bin/sh "$img" -c true >"$tmp/sh.out" 2>&1; then
		fail "$img: /bin/sh ran"
	fi
	grep -q '/bin/sh.*no such file' "$tmp/sh.out" || fail "$img: /bin/sh failed otherwise: $(cat "$tmp/sh.out")"
	rm -f "$tmp/sh.out"
done

# ---- peerop-server: /ping, and two containers pinging each other ----------
# a network namespace of their own (loopback only), shared by both
a="$prefix-a" b="$prefix-b"
pm run -d --name "$a" --network none $restricted "$server_img" \
	--listen 127.0.0.1:8080 --id server-a --peer http://127.0.0.1:8081 --ping-interval 0.5 >/dev/null \
	|| fail "server a did not start"
pm run -d --name "$b" --network "container:$a" $restricted "$server_img" \
	--listen 127.0.0.1:8081 --id server-b --peer http://127.0.0.1:8080 --ping-interval 0.5 >/dev/null \
	|| fail "server b did not start"
check_restricted "$a"
check_restricted "$b"
netns=/proc/$(cpid "$a")/ns/net
ping_a() { nsenter --net="$netns" curl -sS --max-time 5 -D "$tmp/ping.headers" -o "$tmp/ping.body" http://127.0.0.1:8080/ping; }
poll 60 ping_a || { pm logs "$a" >"$tmp/server-a.log" 2>&1; fail "no answer on /ping"; }
printf 'pong\n' | cmp -s - "$tmp/ping.body" || fail "/ping answered '$(od -c "$tmp/ping.body" | head -n 3)', not exactly pong\\n"
grep -qi '^x-peerop-id: server-a' "$tmp/ping.headers" || fail "no X-Peerop-Id: server-a"
printf '%s\n' 'ok: GET /ping: exactly "pong\n", X-Peerop-Id: server-a'
poll 60 logs_have "$a" 'Pinged http://127.0.0.1:8081/ping - Response: pong from server-b ' \
	|| { pm logs "$a" >"$tmp/server-a.log" 2>&1; fail "server a did not log a pong from server-b"; }
poll 60 logs_have "$b" 'Pinged http://127.0.0.1:8080/ping - Response: pong from server-a ' \
	|| { pm logs "$b" >"$tmp/server-b.log" 2>&1; fail "server b did not log a pong from server-a"; }
echo "ok: $(pm logs "$a" 2>&1 | grep -m 1 'pong from server-b')"
# SIGTERM stops each cleanly (b first: it lives in a's network namespace)
for c in "$b" "$a"; do
	pm stop -t 20 "$c" >/dev/null
	[ "$(pm inspect --format '{{.State.ExitCode}}' "$c")" = 0 ] || { pm logs "$c" >"$tmp/$c.log" 2>&1; fail "$c: exit status $(pm inspect --format '{{.State.ExitCode}}' "$c") on SIGTERM"; }
done
echo "ok: both servers stop on SIGTERM with status 0"

# ---- peerop-operator: no cluster, then the local control plane ------------
o="$prefix-op"
# no kubeconfig and no in-cluster service account: a clear error, at once
if pm run --name "$o-none" --network none $restricted "$operator_img" >"$tmp/none.out" 2>&1; then
	fail "the operator ran without a cluster"
fi
grep -qi 'kubeconfig' "$tmp/none.out" || fail "no clear error without a cluster: $(cat "$tmp/none.out")"
echo "ok: without a cluster: $(head -n 1 "$tmp/none.out")"

dc="${top_builddir:-..}/devcluster/peerop-devcluster"
[ -x "$dc" ] || fail "$dc not built"
"$dc" --listen 127.0.0.1:0 --kubeconfig-out "$tmp/kc" --tls >"$tmp/devcluster.log" 2>&1 &
dcpid=$!
poll 60 test -s "$tmp/kc" || fail "the local control plane wrote no kubeconfig"
# the pod's copy: readable by the operator's user only, as a Secret volume
# with fsGroup would be
install -o 65532 -g 65532 -m 0400 "$tmp/kc" "$tmp/kc-op"
export KUBECONFIG="$tmp/kc" KUBECACHEDIR="$tmp/kcache"
K=${KUBECTL:-kubectl}
"$K" apply -f "$srcroot/charts/peerop/crds/httpservers.peerop.io.yaml" >/dev/null || fail "CRD not applied"
poll 30 "$K" get httpservers || fail "CRD not served"
pm run -d --name "$o" --network host $restricted \
	--volume "$tmp/kc-op:/etc/peerop/kubeconfig:ro" \
	"$operator_img" --kubeconfig /etc/peerop/kubeconfig --namespace default \
	--metrics-listen 127.0.0.1:0 >/dev/null || fail "operator did not start"
check_restricted "$o"
_p=$(cpid "$o")
awk '$5 == "/etc/peerop/kubeconfig" { print $6 }' "/proc/$_p/mountinfo" | grep -Eq '^ro(,|$)' \
	|| fail "the kubeconfig is not mounted read-only"
poll 60 logs_have "$o" 'serving /metrics' || { pm logs "$o" >"$tmp/operator.log" 2>&1; fail "operator not serving"; }
cat >"$tmp/hs.yaml" <<'EOF'
apiVersion: peerop.io/v1alpha1
kind: HTTPServer
metadata:
  name: web
spec:
  replicas: 3
EOF
"$K" apply -f "$tmp/hs.yaml" >/dev/null || fail "HTTPServer not applied"
deploy_is() { [ "$("$K" get deploy web -o 'jsonpath={.spec.replicas}' 2>/dev/null)" = 3 ]; }
poll 60 deploy_is || { pm logs "$o" >"$tmp/operator.log" 2>&1; fail "the operator in its image made no Deployment"; }
poll 60 "$K" get cm web-peers || { pm logs "$o" >"$tmp/operator.log" 2>&1; fail "no peers ConfigMap"; }
echo "ok: the operator's image, against the local control plane over TLS: Deployment web (3 replicas), ConfigMap web-peers"
pm stop -t 40 "$o" >/dev/null
[ "$(pm inspect --format '{{.State.ExitCode}}' "$o")" = 0 ] || { pm logs "$o" >"$tmp/operator.log" 2>&1; fail "operator: exit status $(pm inspect --format '{{.State.ExitCode}}' "$o") on SIGTERM"; }
echo "ok: the operator stops on SIGTERM with status 0"
kill -TERM "$dcpid"
wait "$dcpid" || fail "devcluster exit status $?"
dcpid=
