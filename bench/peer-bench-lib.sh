# Shared by bench-peer-*.sh (sourced; not itself a bench-*.sh, so run.sh skips it): where things are, free ports, waiting.
# The build directory: $top_builddir, else the parent of $BENCH_BUILDDIR
# (make bench sets it to BUILD/bench) or of the current directory.
build=${top_builddir:-$(cd "${BENCH_BUILDDIR:-.}/.." && pwd)}
server="$build/examples/peerop-server"
[ -x "$server" ] || { echo "bench: $server not built (make first)" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/peerop-bench-XXXXXX")
pids=
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	for p in $pids; do wait "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

# A port the kernel says is free right now.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_http URL: poll until it answers, 30 s at most.
wait_http() {
	i=0
	until curl -fsS -o /dev/null "$1" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 600 ] || { echo "bench: $1 never answered" >&2; exit 1; }
		sleep 0.05
	done
}

need() {
	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 || {
			echo "skipped: $t not installed (scripts/install-deps.sh bench)"; exit 0; }
	done
}
