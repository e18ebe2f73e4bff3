#!/bin/sh
# fuzz-run.sh [TARGET...]: run libFuzzer targets over their seed corpus
# (tests/fuzz/corpus-NAME: seeds, and every input that once crashed), each
# for FUZZ_SECONDS (default 3: the CI run; `make fuzz FUZZ_SECONDS=600` for
# longer). New inputs go to a scratch copy, never to the source tree;
# crashes are kept in FUZZ_ARTIFACTS (default: a temporary directory,
# printed) to become corpus files and tests. Skipped (77) when clang with
# -fsanitize=fuzzer was not found by configure.
set -eu
srcdir=${srcdir:-.}
seconds=${FUZZ_SECONDS:-3}
targets=${*:-$(cat "$srcdir/fuzz/targets")}
for t in $targets; do
	[ -x "./$t" ] || { echo "fuzz-run: $t not built (no clang -fsanitize=fuzzer)"; exit 77; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
artifacts=${FUZZ_ARTIFACTS:-$work/artifacts}
mkdir -p "$artifacts"
failed=
for t in $targets; do
	name=${t#fuzz_}
	mkdir -p "$work/$name"
	if [ -d "$srcdir/fuzz/corpus-$name" ]; then
		cp "$srcdir/fuzz/corpus-$name"/* "$work/$name/" 2>/dev/null || true
	fi
	rc=0
	ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} "./$t" -max_total_time="$seconds" -timeout=10 \
		-rss_limit_mb=1536 -max_len=65536 -print_final_stats=1 \
		-artifact_prefix="$artifacts/$name-" "$work/$name" >"$work/$name.log" 2>&1 || rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$name.log")
	cov=$(grep -o 'cov: [0-9]*' "$work/$name.log" | tail -n 1)
	if [ $rc -eq 0 ]; then
		echo "fuzz-run: $t: ok, ${execs:-?} runs, ${cov:-cov: ?}"
	else
		echo "fuzz-run: $t FAILED (exit $rc); the input is in $artifacts:" >&2
		tail -n 40 "$work/$name.log" >&2
		failed="$failed $t"
		[ -n "${FUZZ_ARTIFACTS:-}" ] || { mkdir -p "${TMPDIR:-/tmp}/peerop-fuzz-crashes";
			cp "$artifacts"/* "${TMPDIR:-/tmp}/peerop-fuzz-crashes/" 2>/dev/null || true;
			echo "fuzz-run: copied to ${TMPDIR:-/tmp}/peerop-fuzz-crashes" >&2; }
	fi
done
[ -z "$failed" ] || { echo "fuzz-run: failed:$failed" >&2; exit 1; }
