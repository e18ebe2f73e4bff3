#!/bin/sh
# Builds the container images peerop-server:VERSION and peerop-operator:VERSION
# from the repository's Dockerfile with podman.
#
#   scripts/images.sh [--base IMAGE] [--print-tags]
#
# VERSION is configure.ac's (AC_INIT). Each image gets two tags: VERSION, and
# VERSION-gREVISION (the commit's 12-digit abbreviation, plus "-dirty" when
# the tree has uncommitted changes): the same source always gives the same
# tags, and a tag names one source. The OCI labels say the same (version,
# revision, source, licenses); the image's creation time and file times are
# the commit's (podman build --timestamp), not the build's.
#
# The build stage's base: --base IMAGE (or $PEEROP_BASE_IMAGE); by default a
# local image, localhost/peerop-base:bookworm, made once with
# `debootstrap --variant=minbase bookworm` from Debian's archive and
# `podman import` when it is missing (no registry is reachable here; with
# one, --base docker.io/library/debian:12-slim builds from the Dockerfile's
# own default). Later runs reuse it, and podman's layer cache reuses the
# build stage's packages: only a source change recompiles.
#
# Needs root (rootful podman; debootstrap) and scripts/install-deps.sh test.
# --print-tags prints "server=IMAGE operator=IMAGE" (the VERSION-gREVISION
# tags) and builds nothing.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/podman.sh"

base=${PEEROP_BASE_IMAGE:-}
print_tags=0
while [ $# -gt 0 ]; do
	case $1 in
	--base) [ $# -ge 2 ] || { echo "images.sh: --base needs an image" >&2; exit 2; }
		base=$2; shift 2 ;;
	--print-tags) print_tags=1; shift ;;
	-h|--help) sed -n '2,24p' "$0"; exit 0 ;;
	*) echo "images.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
	esac
done

version=$(sed -n 's/^AC_INIT(\[libpeerop\], \[\([^]]*\)\].*/\1/p' "$top/configure.ac")
[ -n "$version" ] || { echo "images.sh: no version in configure.ac" >&2; exit 1; }
if git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then
	revision=$(git -C "$top" rev-parse HEAD)
	short=$(git -C "$top" rev-parse --short=12 HEAD)
	epoch=$(git -C "$top" log -1 --format=%ct HEAD)
	# untracked files count: COPY . . takes them too
	if [ -n "$(git -C "$top" status --porcelain --untracked-files=normal 2>/dev/null)" ]; then
		short="$short-dirty"
	fi
else
	# a tarball (make dist): no history, the tarball's own version only
	revision=unknown
	short=nogit
	epoch=$(stat -c %Y "$top/configure.ac")
fi
tag="$version-g$short"
source_url=${PEEROP_IMAGE_SOURCE:-https://example.invalid/libpeerop}

if [ $print_tags = 1 ]; then
	echo "server=peerop-server:$tag operator=peerop-operator:$tag"
	exit 0
fi

[ "$(id -u)" = 0 ] || { echo "images.sh: run as root (rootful podman, debootstrap)" >&2; exit 1; }
state=${PEEROP_IMAGES_STATE:-$top/_build/images}
peerop_podman_setup "$state"

say() { echo "images.sh: $*"; }
now() { date +%s; }

# ---- the base image, made from Debian's archive when missing ----------------
local_base=localhost/peerop-base:bookworm
if [ -z "$base" ]; then
	base=$local_base
	if ! pm image exists "$base"; then
		command -v debootstrap >/dev/null 2>&1 || {
			echo "images.sh: debootstrap not found: scripts/install-deps.sh test installs it" >&2; exit 1; }
		mirror=${PEEROP_DEBIAN_MIRROR:-http://deb.debian.org/debian}
		say "making the base image $base: debootstrap --variant=minbase bookworm from $mirror (about a minute)"
		t0=$(now)
		root="$state/bookworm-rootfs"
		rm -rf "$root"
		# its own I: lines are the progress; the full log stays in $state
		if ! debootstrap --variant=minbase bookworm "$root" "$mirror" 2>&1 \
			| tee "$state/debootstrap.log" | grep --line-buffered -E '^I: (Retrieving|Validating|Extracting|Installing|Configuring|Base system)' \
			| awk '{ n++; if (n % 10 == 1 || /Base system/) { print "  " $0; fflush() } }'; then
			:
		fi
		grep -q 'I: Base system installed successfully' "$state/debootstrap.log" || {
			tail -n 20 "$state/debootstrap.log" >&2
			echo "images.sh: debootstrap failed (log: $state/debootstrap.log)" >&2
			rm -rf "$root"; exit 1; }
		# what a container image needs none of: downloaded packages and lists
		rm -rf "$root/var/cache/apt/archives/"*.deb "$root/var/lib/apt/lists/"*
		tar -C "$root" --numeric-owner -cf - . | pm import \
			--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
			--change 'CMD ["/bin/bash"]' \
			--message "debootstrap --variant=minbase bookworm $mirror" \
			- "$base" >/dev/null
		rm -rf "$root"
		say "base image $base made in $(( $(now) - t0 )) s ($(pm image inspect --format '{{.Size}}' "$base" | awk '{ printf "%.0f MB", $1 / 1e6 }'))"
	else
		say "base image $base: cached"
	fi
fi

# ---- the two images ---------------------------------------------------------
for target in server operator; do
	name=peerop-$target
	say "building $name:$version and $name:$tag (target $target, base $base)"
	t0=$(now)
	# shellcheck disable=SC2086 # PM_ULIMITS: several flags
	pm build --network host $PM_ULIMITS \
		--file "$top/Dockerfile" --target "$target" \
		--build-arg BASE="$base" --build-arg VERSION="$version" \
		--build-arg REVISION="$revision" --build-arg SOURCE="$source_url" \
		--timestamp "$epoch" \
		--tag "$name:$version" --tag "$name:$tag" \
		"$top" >"$state/build-$target.log" 2>&1 &
	bpid=$!
	# progress: each step as the build reaches it
	last=
	while kill -0 "$bpid" 2>/dev/null; do
		cur=$(grep -E '^(\[[0-9]+/[0-9]+\] )?STEP [0-9]+/[0-9]+' "$state/build-$target.log" | tail -n 1 | cut -c1-100 || true)
		if [ -n "$cur" ] && [ "$cur" != "$last" ]; then echo "  $cur"; last=$cur; fi
		sleep 1
	done
	if ! wait "$bpid"; then
		tail -n 40 "$state/build-$target.log" >&2
		echo "images.sh: podman build of $name failed (log: $state/build-$target.log)" >&2
		exit 1
	fi
	size=$(pm image inspect --format '{{.Size}}' "$name:$tag" | awk '{ printf "%.1f MB", $1 / 1e6 }')
	say "$name:$tag built in $(( $(now) - t0 )) s: $size"
done
