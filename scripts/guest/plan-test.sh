#!/bin/sh
# make test: the upstream selftests and ours, against the C module, then against ours.
. /etc/iommufd-rs/lib.sh
for m in c rust; do
	kmemleak_clear
	load_iommufd $m || continue
	run_suite upstream iommufd $m 1500 /tests/iommufd
	run_suite upstream iommufd_fail_nth $m 1500 /tests/iommufd_fail_nth
	for t in /tests/rs_*; do
		[ -x "$t" ] || continue
		run_suite ours "${t#/tests/rs_}" $m 600 "$t"
	done
	unload_iommufd $m
	kmemleak_report $m
done
