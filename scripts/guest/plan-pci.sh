#!/bin/sh
# make run / make test, second boot: QEMU's edu PCI device behind an emulated Intel VT-d IOMMU
# (scripts/guest.sh picks that machine for this plan). The kernel's unmodified vfio-pci drives
# edu through the VFIO cdev on our iommufd.ko, then on the C one for comparison; rs_vfio_edu
# checks that edu's DMA lands where the IOAS maps it and nowhere else. Then QEMU 10 itself
# (/opt/qemu10) consumes /dev/iommu: rs_qemu_consumer assigns edu and an mtty mdev to a qtest VM
# of its own, through -object iommufd and through the legacy VFIO container. Last, rs_stress:
# threads, processes, destroy races, kill -9, close orders, unbind and PCI remove under live
# mappings, RLIMIT_MEMLOCK, each with pins back to zero after (Documentation/stress.md).
. /etc/iommufd-rs/lib.sh
show_iommu_and_edu
for m in rust c; do
	kmemleak_clear
	load_iommufd $m || continue
	if load_vfio_pci; then
		run_suite ours vfio_edu $m 300 /tests/rs_vfio_edu
		if [ "$rc" = 0 ]; then
			echo "PASS: edu DMA through vfio-pci and the Intel IOMMU on the $m iommufd.ko"
		else
			echo "FAIL: vfio_edu [$m] exited $rc"
		fi
		# Without the mdev only its cases fail (they say why): the others still run.
		load_vfio_mtty || echo "FAIL: the mtty mdev did not load on the $m iommufd.ko"
		run_suite ours qemu_consumer $m 600 /tests/rs_qemu_consumer
		if [ "$rc" = 0 ]; then
			echo "PASS: QEMU 10 consumer on the $m iommufd.ko"
		else
			echo "FAIL: qemu_consumer [$m] exited $rc"
		fi
		unload_vfio_mtty keep-vfio
		# Stress and abuse with edu (Documentation/stress.md); last: it removes and rescans
		# the PCI device (the next module's suites bind it to vfio-pci again themselves).
		run_suite ours stress $m 300 /tests/rs_stress
		[ "$rc" = 0 ] && echo "PASS: stress and abuse with edu on the $m iommufd.ko" ||
			echo "FAIL: stress [$m] exited $rc"
	else
		run_suite ours vfio_edu $m 300 false # no cases, exit 1: counted as failed
		run_suite ours qemu_consumer $m 600 false
		run_suite ours stress $m 300 false
		echo "FAIL: the vfio-pci stack did not load on the $m iommufd.ko"
	fi
	unload_vfio_pci
	grep -q '^vfio ' /proc/modules && echo "FAIL: vfio.ko still loaded"
	unload_iommufd $m
	grep -q '^iommufd ' /proc/modules && echo "FAIL: the $m iommufd.ko still loaded"
	kmemleak_report $m
done
