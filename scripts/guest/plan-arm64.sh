#!/bin/sh
# make test, arm64: qemu-system-aarch64 -M virt,iommu=smmuv3,gic-version=3 with QEMU's edu
# behind the emulated SMMUv3 (scripts/guest.sh, plan arm64). Against the C module, then ours:
# the upstream selftests (the mock IOMMU coexists with the SMMU here, unlike with x86's
# intel-iommu), our suites, vfio_mtty (an mtty mdev), and vfio_edu: edu bound to the kernel's
# vfio-pci, DMA through an SMMUv3 stage-1 domain, the write to an unmapped IOVA blocked (the
# SMMU logs a translation fault event). qemu_consumer needs the x86 QEMU 10 of the pci plan:
# not here.
. /etc/iommufd-rs/lib.sh
show_iommu_and_edu
for m in c rust; do
	kmemleak_clear
	load_iommufd $m || continue
	run_mock_suites $m
	run_vfio_mtty $m
	run_vfio_edu $m "the SMMUv3"
	grep -q '^vfio ' /proc/modules && echo "FAIL: vfio.ko still loaded"
	unload_iommufd $m
	grep -q '^iommufd ' /proc/modules && echo "FAIL: the $m iommufd.ko still loaded"
	kmemleak_report $m
done
