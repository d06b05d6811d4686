#!/bin/sh
# make run: load our module and show /dev/iommu working, then a real VFIO device on it.
. /etc/iommufd-rs/lib.sh
kmemleak_clear
load_iommufd rust || exit 0
echo "--- modinfo and node"
grep '^iommufd ' /proc/modules
ls -l /dev/iommu /dev/vfio/vfio
echo "--- our dispatcher, IOAS and VFIO-compat checks against it"
run_suite ours dispatch rust 600 /tests/rs_dispatch
run_suite ours ioas rust 600 /tests/rs_ioas
run_suite ours vfio_compat rust 600 /tests/rs_vfio_compat
echo "--- the kernel's vfio.ko, mdev.ko and the mtty sample on our module"
if load_vfio_mtty; then
	grep -E '^(iommufd|vfio|mdev|mtty) ' /proc/modules
	ls -l /dev/vfio /dev/vfio/devices
	run_suite ours vfio_mtty rust 600 /tests/rs_vfio_mtty
	if [ "$rc" = 0 ]; then
		echo "PASS: mtty mdev through vfio.ko on our iommufd.ko (cdev bind/attach/replace/detach, group on /dev/vfio/vfio)"
	else
		echo "FAIL: vfio_mtty exited $rc"
	fi
else
	echo "FAIL: the vfio stack did not load on our iommufd.ko"
fi
unload_vfio_mtty
grep -q '^vfio ' /proc/modules && echo "FAIL: vfio.ko still loaded"
unload_iommufd rust
grep -q '^iommufd ' /proc/modules && echo "FAIL: our iommufd.ko still loaded"
kmemleak_report rust
