#!/bin/sh
# make test: the upstream selftests and ours, against the C module, then against ours.
# vfio_mtty needs the kernel's vfio stack and an mtty mdev on top of the loaded iommufd.ko;
# vfio_edu needs an IOMMU and the edu device: plan-pci.sh, in a second boot.
#
# iommufd_fail_nth's map_two_domains gives up after 400 fault-injection sites, and every
# physically discontiguous page of its buffer costs one more (an IOMMU map call in the mock
# driver), for the C module as for ours: fail-nth-retry.sh runs that one case again when it
# stops at that limit (see Documentation/baseline.md). It runs after the iommufd suite, where
# the C module's 7/7 baseline was recorded (right after boot it needs more sites).
. /etc/iommufd-rs/lib.sh
for m in c rust; do
	kmemleak_clear
	load_iommufd $m || continue
	run_suite upstream iommufd $m 1500 /tests/iommufd
	run_suite upstream iommufd_fail_nth $m 1500 /etc/iommufd-rs/fail-nth-retry.sh /tests/iommufd_fail_nth
	for t in /tests/rs_*; do
		[ -x "$t" ] || continue
		[ "$t" = /tests/rs_vfio_mtty ] && continue
		[ "$t" = /tests/rs_vfio_edu ] && continue # the pci plan's (a second boot)
		run_suite ours "${t#/tests/rs_}" $m 600 "$t"
	done
	if load_vfio_mtty; then
		run_suite ours vfio_mtty $m 600 /tests/rs_vfio_mtty
	else
		run_suite ours vfio_mtty $m 600 false # no cases, exit 1: counted as failed
	fi
	unload_vfio_mtty
	unload_iommufd $m
	kmemleak_report $m
done
