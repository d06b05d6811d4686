#!/bin/sh
# The fuzzer on its own (make fuzz SEED= SECONDS= MODULES=): rs_fuzz for fuzz_seconds seconds
# with fuzz_seed on each module of fuzz_modules (kernel command line, from guest.sh's
# GUEST_APPEND). Without fuzz_seconds: what plan test runs of it (the fixed seed set), plus the
# differential test, for a quick look at these two suites alone (fuzz_ops=N: N ops a seed).
. /etc/iommufd-rs/lib.sh
for m in $(echo "${fuzz_modules:-c,rust}" | tr , " "); do
	load_iommufd $m || continue
	if [ -n "$fuzz_seconds" ]; then
		run_suite ours fuzz $m $((2 * fuzz_seconds + 300)) /tests/rs_fuzz --module $m \
			${fuzz_seed:+--seed $fuzz_seed} --seconds "$fuzz_seconds"
	else
		run_fuzz_suites $m ${fuzz_ops:+--ops $fuzz_ops}
	fi
	unload_iommufd $m
done
