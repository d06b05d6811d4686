#!/bin/sh
# make run: load our module and show /dev/iommu working.
. /etc/iommufd-rs/lib.sh
kmemleak_clear
load_iommufd rust || exit 0
echo "--- modinfo and node"
grep '^iommufd ' /proc/modules
ls -l /dev/iommu
echo "--- our dispatcher checks against it"
run_suite ours dispatch rust 600 /tests/rs_dispatch
unload_iommufd rust
kmemleak_report rust
