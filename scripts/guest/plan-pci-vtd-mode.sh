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
	run_vfio_edu $m "the Intel IOMMU (mode $plan)"
	unload_iommufd $m
	kmemleak_report $m
done
