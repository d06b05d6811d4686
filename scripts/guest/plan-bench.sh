#!/bin/sh
# make bench: alternating rounds of the same benchmark, C module and ours, in one boot of the
# production kernel: round r loads one module, runs iommufd_bench (pinned to one CPU by
# itself), unloads it, then the other. The order alternates (C first in odd rounds, ours
# first in even ones), so that a drift over the boot weighs on both alike. bench.conf
# (written by scripts/bench.sh) sets BENCH_ROUNDS and BENCH_QUICK.
. /etc/iommufd-rs/lib.sh
[ -f /etc/iommufd-rs/bench.conf ] && . /etc/iommufd-rs/bench.conf
rounds=${BENCH_ROUNDS:-5}
args=
[ "${BENCH_QUICK:-0}" = 1 ] && args=-q
echo "### BENCH rounds=$rounds quick=${BENCH_QUICK:-0} cpus=$(nproc) mem=$(awk '/MemTotal/ { print $2 }' /proc/meminfo)kB thp=$(cat /sys/kernel/mm/transparent_hugepage/enabled)"
r=1
while [ "$r" -le "$rounds" ]; do
	order="c rust"
	[ $((r % 2)) = 0 ] && order="rust c"
	for m in $order; do
		load_iommufd $m || continue
		run_suite bench round$r $m 900 /tests/iommufd_bench $args
		unload_iommufd $m
	done
	r=$((r + 1))
done
