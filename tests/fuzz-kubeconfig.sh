#!/bin/sh
# Run the kubeconfig libFuzzer target briefly over the seed corpus.
# Skipped (77) when clang with -fsanitize=fuzzer was not found by configure.
set -eu
fuzzer=./fuzz_kubeconfig
[ -x "$fuzzer" ] || { echo "fuzz-kubeconfig: not built (no clang -fsanitize=fuzzer)"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# New inputs go to the first directory: a scratch copy, never the source tree.
mkdir "$work/corpus"
cp "$srcdir"/fuzz/corpus-kubeconfig/* "$work/corpus/"
rc=0
ASAN_OPTIONS=detect_leaks=1 "$fuzzer" -max_total_time=5 -timeout=10 -rss_limit_mb=1536 \
	-max_len=65536 -print_final_stats=1 "$work/corpus" >"$work/log" 2>&1 || rc=$?
tail -n 30 "$work/log"
[ $rc -eq 0 ] || echo "fuzz-kubeconfig: the fuzzer failed (exit $rc)" >&2
exit $rc
