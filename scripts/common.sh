# Shared by demo.sh and test.sh (sourced, not run): dependencies, tools on
# PATH, autotools bootstrap and an out-of-tree configure.
#
#   peerop_prepare PROFILE            install-deps PROFILE; put .tools/bin first on PATH
#   peerop_configure DIR [ARGS...]    bootstrap if needed; configure in DIR (once)

top=$(cd "$(dirname "$0")" && pwd)
jobs=$(nproc 2>/dev/null || echo 2)

peerop_prepare() {
	"$top/scripts/install-deps.sh" "$1"
	PEEROP_TOOLS_DIR=${PEEROP_TOOLS_DIR:-$top/.tools}
	PATH="$PEEROP_TOOLS_DIR/bin:$PATH"
	export PEEROP_TOOLS_DIR PATH
}

peerop_configure() {
	dir=$1
	shift
	if [ ! -x "$top/configure" ] || [ "$top/configure.ac" -nt "$top/configure" ]; then
		# automake lists every file it installs on stderr: keep that quiet
		# unless something fails
		(cd "$top" && autoreconf -fi) >"$top/.autoreconf.log" 2>&1 || {
			cat "$top/.autoreconf.log" >&2
			echo "autoreconf failed" >&2
			exit 1
		}
	fi
	mkdir -p "$dir"
	cd "$dir"
	if [ ! -f Makefile ] || [ "$top/configure" -nt config.status ]; then
		"$top/configure" -q "$@"
	fi
}

# peerop_reachable DIR: the local control plane's pods run programs of the
# build tree as unprivileged users (UID 65532, as the operator's pods ask),
# which must be able to reach them. A checkout under a 0700 directory (a
# mktemp -d, /root) would hide them: give each ancestor of DIR that lacks
# it the search bit for others (traversal only: nothing becomes listable,
# and files keep their own modes). Only as root, and each change is said.
peerop_reachable() {
	[ "$(id -u)" = 0 ] || return 0
	_d=$1
	while [ "$_d" != / ] && [ -n "$_d" ]; do
		if [ -d "$_d" ] && ! find "$_d" -maxdepth 0 -perm -o+x | grep -q .; then
			chmod o+x "$_d" && echo "note: chmod o+x $_d (pods run as UID 65532 must reach the build tree)"
		fi
		_d=$(dirname "$_d")
	done
}
