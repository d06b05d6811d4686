// SPDX-License-Identifier: GPL-2.0

//! Intel VT-d: known by its `hw_info` (`IOMMU_HW_INFO_TYPE_INTEL_VTD`), whose CAP and ECAP
//! registers the core decodes.

use crate::iommufd_core::{
    ucmd::device::IOMMU_HW_INFO_TYPE_INTEL_VTD,
    vendor::{Vendor, VtdCaps},
};
use kernel::iommu::HwInfo;

/// `struct iommu_hw_info_vtd`: `flags`, `__reserved`, then the two registers.
const VTD_INFO_LEN: usize = 24;

/// The VT-d serving `dev`, if its driver's `hw_info` says so.
pub(super) fn identify(dev: &kernel::device::Device) -> Option<Vendor> {
    let info = HwInfo::get(dev).ok()??;
    let data = info.data();
    if info.data_type() != IOMMU_HW_INFO_TYPE_INTEL_VTD || data.len() < VTD_INFO_LEN {
        return None;
    }
    let reg = |at: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&data[at..at + 8]);
        u64::from_ne_bytes(b)
    };
    Some(Vendor::IntelVtd(VtdCaps::decode(reg(8), reg(16))))
}
