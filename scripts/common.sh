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
