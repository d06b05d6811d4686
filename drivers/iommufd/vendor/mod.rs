// SPDX-License-Identifier: GPL-2.0

//! The vendor layer: which IOMMU is behind a bound device, and the core's table of what each
//! IOMMU and its 6.12 driver accept ([`crate::iommufd_core::vendor`]), applied on
//! `IOMMU_HWPT_ALLOC` and on every attach, after iommufd's own rules and before the driver is
//! called. A refusal carries upstream's errno and is logged once per rate-limit window with the
//! rule's name; where the table allows and the driver still refuses, the driver's answer
//! stands and the disagreement is logged the same way.
//!
//! Identification, one module per IOMMU (the rules are the core's, one module per IOMMU there
//! too): [`mock`], the mock IOMMU by its device flags; [`smmuv3`], ARM SMMUv3 by its driver's
//! name (`arm-smmu-v3`: 6.12's SMMUv3 has no `hw_info`), with what the core says of the device
//! (its `max_pasids`, `IOMMU_CAP_DIRTY_TRACKING`); [`vtd`], Intel VT-d by its `hw_info`
//! (`IOMMU_HW_INFO_TYPE_INTEL_VTD`: CAP and ECAP). Any other IOMMU gets no early checks: the
//! driver decides alone, as in C.
//!
//! Lock order: one table for the module, `Documentation/locking.md`. Here: no lock of its own.

use crate::{
    device::Device,
    hw_pagetable::Hwpt,
    iommufd_core::{
        errno::Errno,
        vendor::{self, Refusal, Target, Vendor},
    },
};
use kernel::{c_str, prelude::*, ratelimit::printk_ratelimit};

mod mock;
mod smmuv3;
mod vtd;

/// The IOMMU behind `dev`, as far as the vendor table knows it; `mock_flags` are the device
/// flags of a selftest mock device.
pub(crate) fn identify(dev: &kernel::device::Device, mock_flags: Option<u32>) -> Option<Vendor> {
    if let Some(flags) = mock_flags {
        return Some(mock::identify(flags));
    }
    smmuv3::identify(dev).or_else(|| vtd::identify(dev))
}

/// One line per rate-limit window (the kernel's `printk_ratelimit()`).
fn log(what: &str, detail: core::fmt::Arguments<'_>) {
    if printk_ratelimit(c_str!("iommufd_vendor")) {
        pr_info!("{}: {}\n", what, detail);
    }
}

/// The errno of a refusal, logged with its rule.
fn refused(r: Refusal) -> Errno {
    log("refused early", format_args!("{}", r));
    r.errno()
}

/// The table's verdict on allocating a HWPT with `flags` (the user's, iommufd's own flags
/// included) for `idev`: nested (on a parent HWPT), with driver data or not.
pub(crate) fn check_alloc(
    idev: &Device,
    flags: u32,
    nested: bool,
    has_data: bool,
) -> Result<(), Errno> {
    match idev.vendor() {
        Some(v) => vendor::check_alloc(v, flags, nested, has_data).map_err(refused),
        None => Ok(()),
    }
}

/// The table's verdict on attaching `hwpt` to `target` of `idev`.
pub(crate) fn check_attach(idev: &Device, hwpt: &Hwpt, target: Target) -> Result<(), Errno> {
    match idev.vendor() {
        Some(v) => {
            vendor::check_attach(v, &hwpt.desc(), target, idev.max_pasids()).map_err(refused)
        }
        None => Ok(()),
    }
}

/// The driver refused (`e`) what the table allowed (`what`): its answer stands; logged, for
/// the table to be corrected. Only a refusal on principle counts (`EINVAL`, `EOPNOTSUPP`,
/// `ENODEV`); running out of memory or a busy PASID says nothing about the table.
pub(crate) fn driver_refused(idev: &Device, what: &str, e: Errno) -> Errno {
    let on_principle = e == Errno::EINVAL || e == Errno::EOPNOTSUPP || e == Errno::ENODEV;
    if on_principle && idev.vendor().is_some() {
        log(
            "the driver refused what the vendor table allows",
            format_args!("{} ({})", what, e.name()),
        );
    }
    e
}
