#!/bin/sh
# make test, the Intel IOMMU in its other modes (scripts/guest.sh: plan pci-sm is
# x-scalable-mode=on, plan pci-sm-pasid adds x-pasid-mode=on; plan pci is the legacy mode):
# edu through vfio-pci on our iommufd.ko, then on the C one. rs_vfio_edu derives what each
# allocation and attach must answer from the IOMMU's CAP/ECAP, so the same suite is the matrix
# of this mode: scalable-mode tables carrying real DMA, NEST_PARENT and DIRTY_TRACKING refused
# (no NEST or SLADS in QEMU's VT-d), and a PASID attach of edu (no PASID capability) refused.
. /etc/iommufd-rs/lib.sh
echo "--- the IOMMU ($(cat /sys/class/iommu/*/intel-iommu/ecap 2>/dev/null | head -n 1)) and edu"
for m in rust c; do
	kmemleak_clear
	load_iommufd $m || continue
	if load_vfio_pci; then
		run_suite ours vfio_edu $m 300 /tests/rs_vfio_edu
		[ "$rc" = 0 ] && echo "PASS: edu through vfio-pci, VT-d mode $plan, on the $m iommufd.ko" ||
			echo "FAIL: vfio_edu [$m] exited $rc"
	else
		run_suite ours vfio_edu $m 300 false
		echo "FAIL: the vfio-pci stack did not load on the $m iommufd.ko"
	fi
	unload_vfio_pci
	unload_iommufd $m
	kmemleak_report $m
done
