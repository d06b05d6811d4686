// SPDX-License-Identifier: GPL-2.0

//! Intel VT-d: what `intel_iommu_domain_alloc_user`, `intel_iommu_attach_device` and
//! `intel_iommu_set_dev_pasid` of 6.12 accept, from the IOMMU's CAP and ECAP registers
//! (`IOMMU_GET_HW_INFO`, [`VtdCaps::decode`]). The rules are listed in order on
//! [`check_alloc`](super::check_alloc) and [`check_attach`](super::check_attach).

use super::super::errno::Errno;
use super::{refuse, HwptDesc, Result};

// Bit positions of the VT-d capability and extended capability registers, named after the
// macros of the Intel driver's `iommu.h` that read them.
/// `cap_fl5lp_support`: first-stage 5-level paging.
const CAP_FL5LP: u32 = 60;
/// `cap_mgaw`: maximum guest address width minus one, bits 21:16.
const CAP_MGAW: u32 = 16;
/// `cap_caching_mode`: the IOMMU may cache not-present entries (emulated IOMMUs).
const CAP_CM: u32 = 7;
/// `ecap_smpwc`: scalable-mode page-walk coherency.
const ECAP_SMPWC: u32 = 48;
/// `ecap_flts`: first-stage translation.
const ECAP_FLTS: u32 = 47;
/// `ecap_slts`: second-stage translation.
const ECAP_SLTS: u32 = 46;
/// `ecap_slads`: second-stage accessed/dirty bits.
const ECAP_SLADS: u32 = 45;
/// `ecap_smts`: scalable-mode translation.
const ECAP_SMTS: u32 = 43;
/// `ecap_pasid`: PASID support.
const ECAP_PASID: u32 = 40;
/// `ecap_pss`: PASID size supported minus one, bits 39:35.
const ECAP_PSS: u32 = 35;
/// `ecap_prs`: page requests.
const ECAP_PRS: u32 = 29;
/// `ecap_nest`: nested translation.
const ECAP_NEST: u32 = 26;
/// `ecap_sc_support`: snoop control.
const ECAP_SC: u32 = 7;

fn bit(reg: u64, pos: u32) -> bool {
    (reg >> pos) & 1 != 0
}

/// An Intel VT-d IOMMU, from the `cap_reg` and `ecap_reg` of `struct iommu_hw_info_vtd`
/// (`{ u32 flags; u32 __reserved; u64 cap_reg; u64 ecap_reg; }`, filled by
/// `intel_iommu_hw_info` with the raw registers).
///
/// The driver's own predicates are methods ([`Self::sm_supported`] and the rest), as the
/// driver combines the bits with `intel_iommu_sm`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct VtdCaps {
    /// `intel_iommu_sm`: scalable mode not turned off with `intel_iommu=sm_off`. The registers
    /// do not say; [`Self::decode`] assumes on, as `CONFIG_INTEL_IOMMU_SCALABLE_MODE_DEFAULT_ON`
    /// of our configuration does.
    pub sm_on: bool,
    /// `ecap_smts` (ECAP bit 43): scalable-mode translation (PASID tables).
    pub smts: bool,
    /// `ecap_pasid` (ECAP bit 40): requests with PASID.
    pub pasid: bool,
    /// `ecap_pss` (ECAP bits 39:35): the PASID width minus one.
    pub pss: u8,
    /// `ecap_nest` (ECAP bit 26): nested (first stage on second stage) translation.
    pub nest: bool,
    /// `ecap_slads` (ECAP bit 45): second-stage accessed/dirty bits (dirty tracking).
    pub slads: bool,
    /// `ecap_smpwc` (ECAP bit 48): scalable-mode page-walk coherency, which dirty tracking
    /// needs too (`ssads_supported`).
    pub smpwc: bool,
    /// `ecap_slts` (ECAP bit 46): second-stage translation, the only kind of table 6.12 gives
    /// user domains in scalable mode.
    pub slts: bool,
    /// `ecap_flts` (ECAP bit 47): first-stage translation (nested stage 1, SVA).
    pub flts: bool,
    /// `ecap_prs` (ECAP bit 29): page requests (I/O page faults).
    pub prs: bool,
    /// `ecap_sc_support` (ECAP bit 7): snoop control (`IOMMU_CAP_ENFORCE_CACHE_COHERENCY`).
    pub sc: bool,
    /// `cap_caching_mode` (CAP bit 7): an emulated IOMMU that caches not-present entries.
    pub caching_mode: bool,
    /// `cap_fl5lp_support` (CAP bit 60): 5-level first-stage tables.
    pub fl5lp: bool,
    /// `cap_mgaw` (CAP bits 21:16, plus one): the maximum guest address width.
    pub mgaw: u8,
}

impl VtdCaps {
    /// Decodes the two registers; `sm_on` is set (see the field).
    pub fn decode(cap_reg: u64, ecap_reg: u64) -> Self {
        VtdCaps {
            sm_on: true,
            smts: bit(ecap_reg, ECAP_SMTS),
            pasid: bit(ecap_reg, ECAP_PASID),
            pss: ((ecap_reg >> ECAP_PSS) & 0x1f) as u8,
            nest: bit(ecap_reg, ECAP_NEST),
            slads: bit(ecap_reg, ECAP_SLADS),
            smpwc: bit(ecap_reg, ECAP_SMPWC),
            slts: bit(ecap_reg, ECAP_SLTS),
            flts: bit(ecap_reg, ECAP_FLTS),
            prs: bit(ecap_reg, ECAP_PRS),
            sc: bit(ecap_reg, ECAP_SC),
            caching_mode: bit(cap_reg, CAP_CM),
            fl5lp: bit(cap_reg, CAP_FL5LP),
            mgaw: ((cap_reg >> CAP_MGAW) & 0x3f) as u8 + 1,
        }
    }

    /// `sm_supported`: scalable mode is in use.
    pub fn sm_supported(&self) -> bool {
        self.sm_on && self.smts
    }

    /// `pasid_supported`: the driver serves PASIDs (scalable mode and ECAP.PASID).
    pub fn pasid_supported(&self) -> bool {
        self.sm_supported() && self.pasid
    }

    /// `ssads_supported`: dirty tracking (`IOMMU_CAP_DIRTY_TRACKING` on VT-d).
    pub fn ssads_supported(&self) -> bool {
        self.sm_supported() && self.slads && self.smpwc
    }

    /// `nested_supported`: nesting parents and nested domains.
    pub fn nested_supported(&self) -> bool {
        self.sm_supported() && self.nest
    }

    /// The IOMMU's `max_pasids`, which caps every device's: `2 << PSS` when the driver serves
    /// PASIDs, else 0 (`alloc_iommu`).
    pub fn max_pasids(&self) -> u32 {
        if !self.pasid_supported() {
            return 0;
        }
        // C assigns `2UL << ecap_pss` to the u32 `max_pasids`: PSS 31 truncates to 0 there too.
        (2u64 << self.pss) as u32
    }
}

pub(super) fn alloc(c: &VtdCaps, hwpt: &HwptDesc, has_data: bool) -> Result {
    use Errno as E;
    if hwpt.nested {
        if !c.nested_supported() {
            return refuse(
                E::EOPNOTSUPP,
                "vtd: nested without scalable mode + ECAP.NEST",
            );
        }
        if hwpt.pasid_compat() {
            return refuse(E::EOPNOTSUPP, "vtd: PASID-compatible nested domain");
        }
        return Ok(());
    }
    if hwpt.nest_parent() && !c.nested_supported() {
        return refuse(
            E::EOPNOTSUPP,
            "vtd: nest parent without scalable mode + ECAP.NEST",
        );
    }
    if has_data {
        return refuse(E::EOPNOTSUPP, "vtd: driver data on a paging domain");
    }
    if hwpt.dirty() && !c.ssads_supported() {
        return refuse(
            E::EOPNOTSUPP,
            "vtd: dirty tracking without ECAP.SLADS + SMPWC",
        );
    }
    if hwpt.pasid_compat() {
        if !c.pasid_supported() {
            return refuse(
                E::EOPNOTSUPP,
                "vtd: PASID-compatible without scalable mode + ECAP.PASID",
            );
        }
        if !c.slts {
            return refuse(E::EOPNOTSUPP, "vtd: PASID-compatible without ECAP.SLTS");
        }
        if hwpt.dirty() {
            return refuse(E::EOPNOTSUPP, "vtd: PASID-compatible dirty tracking domain");
        }
    }
    Ok(())
}

pub(super) fn attach_dev(c: &VtdCaps, hwpt: &HwptDesc) -> Result {
    if hwpt.nested {
        if !c.nested_supported() {
            return refuse(
                Errno::EINVAL,
                "vtd: nested domain on an IOMMU without nesting",
            );
        }
        return Ok(());
    }
    if hwpt.dirty() && !c.ssads_supported() {
        return refuse(
            Errno::EINVAL,
            "vtd: dirty tracking domain without ECAP.SLADS",
        );
    }
    if c.sm_supported() && !c.slts {
        return refuse(Errno::EINVAL, "vtd: second-stage domain without ECAP.SLTS");
    }
    Ok(())
}

pub(super) fn set_dev_pasid(c: &VtdCaps, hwpt: &HwptDesc) -> Result {
    if hwpt.nested {
        return refuse(Errno::EOPNOTSUPP, "vtd: nested domain on a PASID");
    }
    if !c.pasid_supported() {
        return refuse(
            Errno::EOPNOTSUPP,
            "vtd: PASID without scalable mode + ECAP.PASID",
        );
    }
    if hwpt.dirty() {
        return refuse(Errno::EINVAL, "vtd: dirty tracking domain on a PASID");
    }
    if !c.slts {
        return refuse(Errno::EINVAL, "vtd: second-stage domain without ECAP.SLTS");
    }
    Ok(())
}
