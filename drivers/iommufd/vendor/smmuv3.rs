// SPDX-License-Identifier: GPL-2.0

//! ARM SMMUv3: 6.12's driver has no `hw_info`, so it is known by its driver's name, and its
//! capabilities are what the iommu core says of the device.

use crate::iommufd_core::vendor::{SmmuCaps, Vendor};
use kernel::c_str;
use kernel::iommu::{self, Cap};

/// The SMMUv3 serving `dev`, if that is its IOMMU: the device's `max_pasids` and
/// `IOMMU_CAP_DIRTY_TRACKING`.
pub(super) fn identify(dev: &kernel::device::Device) -> Option<Vendor> {
    if !iommu::dev::iommu_driver_is(dev, c_str!("arm-smmu-v3")) {
        return None;
    }
    Some(Vendor::ArmSmmuV3(SmmuCaps::new(
        iommu::dev::max_pasids(dev),
        iommu::dev::capable(dev, Cap::DirtyTracking),
    )))
}
