#!/bin/sh
# workqueue: add/get/done throughput with 4 producers and 4 workers over
# 10,000 keys, against a naive mutex+condvar linked list measured in the
# same run (no collapsing, no one-worker-per-key); then delayed adds of
# 100,000 keys (the heap) against immediate adds.
set -eu
b=${BENCH_BUILDDIR:-.}/bench_workqueue
echo "### add/get/done, 4 producers + 4 workers, 1,000,000 adds (7 paired rounds)"
"$b" throughput 1000000
echo
echo "### delayed adds"
"$b" delayed 100000
