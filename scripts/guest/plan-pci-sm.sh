#!/bin/sh
# The Intel IOMMU in another mode (scripts/guest.sh); the same steps as plan-pci-vtd-mode.sh.
plan=pci-sm exec /etc/iommufd-rs/plan-pci-vtd-mode.sh
