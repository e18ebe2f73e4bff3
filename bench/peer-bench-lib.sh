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

# The machine's load, printed before and after each benchmark: absolute
# figures drop when other work runs; ratios measured in the same run less so.
load() {
	echo "$(nproc) CPUs, load average $(cut -d" " -f1-3 /proc/loadavg)"
}

# CPU pinning (setup_pinning DEFAULT; BENCH_PIN=0 or 1 overrides): the
# peer servers run on the last CPU, the measured client on the first, so
# that neither takes the other's core; applied alike to everything
# compared. Sets pin_server and pin_client (empty when off: no taskset,
# one CPU, or not wanted).
setup_pinning() {
	pin_server=
	pin_client=
	if [ "${BENCH_PIN:-$1}" = 1 ] && command -v taskset >/dev/null 2>&1 && [ "$(nproc)" -ge 2 ]; then
		pin_server="taskset -c $(($(nproc) - 1))"
		pin_client="taskset -c 0"
	fi
}

# cpu_ticks PID...: user+system clock ticks of these processes so far
cpu_ticks() {
	for p in "$@"; do awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0; done |
		awk '{ t += $1 } END { print t + 0 }'
}

# median: of the numbers on stdin, one per line
median() {
	sort -n | awk '{ a[NR] = $1 } END { if (NR == 0) print 0; else if (NR % 2) print a[(NR + 1) / 2];
		else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
