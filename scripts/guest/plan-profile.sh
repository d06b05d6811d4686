#!/bin/sh
# make profile: the groups of the benchmark named in BENCH_PROFILE (iommufd_bench -f), under
# perf record, once per module, in one boot of the production kernel. Each module's flat
# profile (symbols by self time; cpu-clock sampling, as TCG has no PMU) and the figures of the
# profiled run go between "### PROFILE BEGIN/END" markers; scripts/bench.sh splits them.
. /etc/iommufd-rs/lib.sh
. /etc/iommufd-rs/bench.conf
# The kernel's cpu-clock samples at the tick (250 Hz): repeat the groups for enough samples.
args="-f$BENCH_PROFILE -r${BENCH_PROFILE_REPS:-20}"
[ "${BENCH_QUICK:-0}" = 1 ] && args="-q $args"
export HOME=/tmp
for m in c rust; do
	load_iommufd $m || continue
	echo "### BEGIN profile $BENCH_PROFILE [$m]"
	# BENCH_PROFILE_PROCS processes one after the other, for what a process's first
	# operation costs (each bench round is a new process).
	perf record -q -N -e cpu-clock -g -o /tmp/perf.$m -- sh -c \
		"for i in \$(seq ${BENCH_PROFILE_PROCS:-1}); do /tests/iommufd_bench $args; done" >/tmp/bench.$m 2>&1
	echo "### END profile $BENCH_PROFILE [$m] rc=$?"
	echo "### PROFILE BEGIN $m"
	cat /tmp/bench.$m
	# Before the unload: perf finds the module's symbols in /proc/kallsyms.
	# (Through cat: no colours.)
	perf report -i /tmp/perf.$m --stdio --no-children --sort sym --percent-limit 0.3 -g none 2>&1 | cat
	echo "## callers (self time, by caller chain)"
	perf report -i /tmp/perf.$m --stdio --no-children --sort sym --percent-limit 2 \
		-g caller,0.5,callee,function,percent --max-stack 8 2>&1 | head -n 400
	echo "## inclusive (children)"
	perf report -i /tmp/perf.$m --stdio --children --sort sym --percent-limit 1 -g none 2>&1 | cat
	echo "## hot offsets (sampled IPs in this module and the kernel, by symbol+offset)"
	perf script -i /tmp/perf.$m -F ip,sym,symoff 2>/dev/null |
		awk 'NF == 0 { first = 1; next } first { first = 0; print $2 }' |
		sort | uniq -c | sort -rn | head -n 150
	# Every sample's call chain (leaf first, blank-line separated), for an analysis on the
	# host (scripts/profile_chains.py).
	echo "## chains"
	perf script -i /tmp/perf.$m -F ip,sym 2>/dev/null | awk '{ print $2 }'
	echo "### PROFILE END $m"
	rm -f /tmp/perf.$m
	unload_iommufd $m
	dmesg_flush
done
