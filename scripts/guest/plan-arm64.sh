#!/bin/sh
# make test, arm64: qemu-system-aarch64 -M virt,iommu=smmuv3,gic-version=3 with QEMU's edu
# behind the emulated SMMUv3 (scripts/guest.sh, plan arm64). Against the C module, then ours:
# the upstream selftests (the mock IOMMU coexists with the SMMU here, unlike with x86's
# intel-iommu), our suites, vfio_mtty (an mtty mdev), and vfio_edu: edu bound to the kernel's
# vfio-pci, DMA through an SMMUv3 stage-1 domain, the write to an unmapped IOVA blocked (the
# SMMU logs a translation fault event). qemu_consumer needs the x86 QEMU 10 of the pci plan:
# not here.
. /etc/iommufd-rs/lib.sh
echo "--- the IOMMU and the edu device"
ls /sys/class/iommu/
for d in /sys/bus/pci/devices/*; do
	[ "$(cat $d/vendor):$(cat $d/device)" = 0x1234:0x11e8 ] || continue
	echo "edu at ${d##*/}, iommu_group $(basename "$(readlink $d/iommu_group)")"
done
for m in c rust; do
	kmemleak_clear
	load_iommufd $m || continue
	run_suite upstream iommufd $m 1500 /tests/iommufd
	shmem_thp_begin
	run_suite upstream iommufd_fail_nth $m 1500 /etc/iommufd-rs/fail-nth-retry.sh /tests/iommufd_fail_nth
	shmem_thp_end
	for t in /tests/rs_*; do
		[ -x "$t" ] || continue
		case ${t#/tests/rs_} in
		vfio_mtty | vfio_edu | qemu_consumer) continue ;;
		esac
		run_suite ours "${t#/tests/rs_}" $m 600 "$t"
	done
	if load_vfio_mtty; then
		run_suite ours vfio_mtty $m 600 /tests/rs_vfio_mtty
	else
		run_suite ours vfio_mtty $m 600 false # no cases, exit 1: counted as failed
	fi
	unload_vfio_mtty
	if load_vfio_pci; then
		run_suite ours vfio_edu $m 300 /tests/rs_vfio_edu
		[ "$rc" = 0 ] && echo "PASS: edu DMA through vfio-pci and the SMMUv3 on the $m iommufd.ko" ||
			echo "FAIL: vfio_edu [$m] exited $rc"
	else
		run_suite ours vfio_edu $m 300 false
		echo "FAIL: the vfio-pci stack did not load on the $m iommufd.ko"
	fi
	unload_vfio_pci
	grep -q '^vfio ' /proc/modules && echo "FAIL: vfio.ko still loaded"
	unload_iommufd $m
	grep -q '^iommufd ' /proc/modules && echo "FAIL: the $m iommufd.ko still loaded"
	kmemleak_report $m
done
