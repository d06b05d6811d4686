#!/bin/sh
# make run: load our module and show /dev/iommu working.
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
unload_iommufd rust
kmemleak_report rust
