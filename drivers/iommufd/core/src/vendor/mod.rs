// SPDX-License-Identifier: GPL-2.0

//! What each IOMMU driver of the pinned kernel can honour, refused early with its errno.
//!
//! iommufd programs page tables through the vendor drivers, and some of what the uAPI can
//! express a given IOMMU cannot do: a VT-d without scalable mode has no PASID table, a
//! dirty-tracking VT-d domain cannot be put on a PASID, an SMMUv3 on 6.12 cannot nest. Left to
//! the driver, a few of these fail late (after the object was built), and one succeeds while
//! doing nothing: 6.12's `iommu_attach_device_pasid` skips devices with `max_pasids == 0` and
//! returns 0. The checks here let the shell refuse first, with the errno the driver (or
//! upstream iommufd) returns, and name the rule for a rate-limited debug line.
//!
//! Three inputs describe a case:
//!
//! - the [`Vendor`] serving the device, with what the shell can learn of its capabilities:
//!   the VT-d registers of `IOMMU_GET_HW_INFO` ([`VtdCaps::decode`]), the little 6.12's core
//!   says about an SMMUv3 ([`SmmuCaps`]), the mock device's flags ([`MockCaps`]);
//! - the HW page table, as its allocation flags and whether it is nested ([`HwptDesc`]);
//! - the [`Target`] of an attach: the RID, a PASID, or a software access.
//!
//! One module per IOMMU holds its capabilities and its rules: [`vtd`] (Intel VT-d), [`smmuv3`]
//! (ARM SMMUv3), [`mock`] (the selftests' mock IOMMU); this one dispatches to them.
//!
//! [`check_alloc`] answers for `IOMMU_HWPT_ALLOC`, [`check_attach`] for an attach or replace.
//! Both are pure and change nothing. They complement, and never replace, the iommufd-level
//! rules: the flag checks of [`HwptAlloc`](super::ucmd::hwpt::HwptAlloc) and the PASID rules of
//! [`pasid`](super::pasid) (a PASID's range, PASID-compatible HWPTs, the RID and the PASIDs
//! agreeing) stay where they are. Rules that need state (what the RID holds now, which IOMMU
//! instance a domain was finalised on) stay with the driver, which still checks all of its own.

use super::{
    errno::Errno,
    pasid::IOMMU_HWPT_ALLOC_PASID,
    ucmd::{
        hwpt::{
            IOMMU_HWPT_ALLOC_DIRTY_TRACKING, IOMMU_HWPT_ALLOC_NEST_PARENT,
            IOMMU_HWPT_FAULT_ID_VALID,
        },
        test_cmd::MOCK_PASID_WIDTH,
    },
};

pub mod mock;
pub mod smmuv3;
pub mod vtd;

pub use mock::MockCaps;
pub use smmuv3::SmmuCaps;
pub use vtd::VtdCaps;

/// A refusal: the errno to return and a short static name of the rule, for the debug line.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Refusal {
    /// What the ioctl returns.
    pub errno: Errno,
    /// Which rule refused, e.g. `"vtd: dirty tracking domain on a PASID"`.
    pub rule: &'static str,
}

impl Refusal {
    const fn new(errno: Errno, rule: &'static str) -> Self {
        Refusal { errno, rule }
    }

    /// The errno to return.
    pub fn errno(self) -> Errno {
        self.errno
    }

    /// The rule's name.
    pub fn rule(self) -> &'static str {
        self.rule
    }
}

impl From<Refusal> for Errno {
    fn from(r: Refusal) -> Errno {
        r.errno
    }
}

impl core::fmt::Display for Refusal {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{} ({})", self.rule, self.errno.name())
    }
}

/// The result of a check: `?` turns it into the core's [`Errno`] result.
pub type Result<T = ()> = core::result::Result<T, Refusal>;

pub(super) fn refuse(errno: Errno, rule: &'static str) -> Result {
    Err(Refusal::new(errno, rule))
}

/// The driver serving a device, with its capabilities.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Vendor {
    /// Intel VT-d (`intel_iommu_ops`).
    IntelVtd(VtdCaps),
    /// ARM SMMUv3 (`arm_smmu_ops`).
    ArmSmmuV3(SmmuCaps),
    /// The mock IOMMU of the selftests.
    Mock(MockCaps),
}

impl Vendor {
    /// The upper bound the vendor puts on a device's `max_pasids` (VT-d: the IOMMU's; SMMUv3
    /// and the mock: the device's own).
    pub fn max_pasids(&self) -> u32 {
        match self {
            Vendor::IntelVtd(c) => c.max_pasids(),
            Vendor::ArmSmmuV3(c) => c.max_pasids,
            Vendor::Mock(c) if c.pasid => 1 << MOCK_PASID_WIDTH,
            Vendor::Mock(_) => 0,
        }
    }

    /// `IOMMU_CAP_DIRTY_TRACKING` as the driver's `capable` answers it.
    pub fn dirty_capable(&self) -> bool {
        match self {
            Vendor::IntelVtd(c) => c.ssads_supported(),
            Vendor::ArmSmmuV3(c) => c.dirty,
            Vendor::Mock(c) => c.dirty,
        }
    }
}

/// A HW page table as the rules see it: the flags of its `IOMMU_HWPT_ALLOC` and whether it is
/// nested (allocated on a parent HWPT, with driver data).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct HwptDesc {
    /// `IOMMU_HWPT_ALLOC_*` flags as the user gave them, [`IOMMU_HWPT_ALLOC_PASID`] included.
    pub flags: u32,
    /// A nested HWPT (its parent is a `NEST_PARENT` paging HWPT).
    pub nested: bool,
}

impl HwptDesc {
    /// A paging HWPT (allocated on an IOAS) with `flags`.
    pub const fn paging(flags: u32) -> Self {
        HwptDesc {
            flags,
            nested: false,
        }
    }

    /// A nested HWPT with `flags`.
    pub const fn nested(flags: u32) -> Self {
        HwptDesc {
            flags,
            nested: true,
        }
    }

    /// `IOMMU_HWPT_ALLOC_NEST_PARENT`.
    pub fn nest_parent(&self) -> bool {
        self.flags & IOMMU_HWPT_ALLOC_NEST_PARENT != 0
    }

    /// `IOMMU_HWPT_ALLOC_DIRTY_TRACKING`: the domain has dirty ops.
    pub fn dirty(&self) -> bool {
        self.flags & IOMMU_HWPT_ALLOC_DIRTY_TRACKING != 0
    }

    /// [`IOMMU_HWPT_ALLOC_PASID`].
    pub fn pasid_compat(&self) -> bool {
        self.flags & IOMMU_HWPT_ALLOC_PASID != 0
    }
}

/// Where an attach puts the HWPT.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Target {
    /// The device's requester ID, the whole device (`attach_dev`).
    Rid,
    /// One PASID of the device (`set_dev_pasid`).
    Pasid,
    /// A software access (`iommufd_access`): pages pinned through the CPU, no domain.
    Access,
}

/// The flags a driver's `domain_alloc_user` sees; the others are iommufd's.
const DRIVER_FLAGS: u32 = IOMMU_HWPT_ALLOC_NEST_PARENT | IOMMU_HWPT_ALLOC_DIRTY_TRACKING;

/// Whether the driver would allocate the HWPT, and whether iommufd can promise
/// [`IOMMU_HWPT_ALLOC_PASID`] for it. `flags` are the user's, `nested` says the `pt_id` is a
/// parent HWPT, `has_data` that driver data came with it (`data_len != 0`).
///
/// `IOMMU_HWPT_ALLOC_PASID` is iommufd's own flag, which no 6.12 driver knows: iommufd takes it
/// off before `domain_alloc_user` and grants it here only where the vendor's `set_dev_pasid`
/// serves that kind of domain, so that a PASID-compatible HWPT can always be put on a PASID of
/// a device with PASIDs on the same IOMMU. `IOMMU_HWPT_FAULT_ID_VALID` is iommufd's too, and
/// ignored. Every refusal is `EOPNOTSUPP`, as in `domain_alloc_user`.
///
/// Rules, in order:
///
/// 1. any other flag (iommufd refuses it first, in `iommufd_hwpt_paging_alloc` and
///    `iommufd_hwpt_nested_alloc`); a nested HWPT without data or with `NEST_PARENT` or
///    `DIRTY_TRACKING` (`iommufd_hwpt_nested_alloc`);
/// 2. VT-d (`intel_iommu_domain_alloc_user`): nested without `nested_supported`; a paging
///    domain: `NEST_PARENT` without `nested_supported`, driver data, `DIRTY_TRACKING` without
///    `ssads_supported`. PASID-compatible: not nested (`intel_nested_domain_ops` has no
///    `set_dev_pasid`), `pasid_supported`, ECAP.SLTS (user domains are second-stage,
///    `intel_pasid_setup_second_level`), no dirty tracking (`intel_iommu_set_dev_pasid`);
/// 3. SMMUv3 (`arm_smmu_domain_alloc_user`): `NEST_PARENT`, nested, driver data;
///    `DIRTY_TRACKING` without the capability (`iommufd_hwpt_paging_alloc`) or on stage-2
///    domains (`arm_smmu_domain_finalise`). PASID-compatible: the device has PASIDs, and
///    domains are stage 1 (`arm_smmu_s1_set_dev_pasid`);
/// 4. mock (`mock_domain_alloc_user`): driver data on a paging domain, `DIRTY_TRACKING` on a
///    `NO_DIRTY` device. PASID-compatible: a `MOCK_FLAGS_DEVICE_PASID` device.
pub fn check_alloc(vendor: &Vendor, flags: u32, nested: bool, has_data: bool) -> Result {
    let known = DRIVER_FLAGS | IOMMU_HWPT_ALLOC_PASID | IOMMU_HWPT_FAULT_ID_VALID;
    if flags & !known != 0 {
        return refuse(Errno::EOPNOTSUPP, "alloc: unknown flag");
    }
    let hwpt = HwptDesc { flags, nested };
    if nested && !has_data {
        return refuse(Errno::EOPNOTSUPP, "alloc: nested without driver data");
    }
    if nested && flags & DRIVER_FLAGS != 0 {
        return refuse(Errno::EOPNOTSUPP, "alloc: nested with paging flags");
    }
    match vendor {
        Vendor::IntelVtd(c) => vtd::alloc(c, &hwpt, has_data),
        Vendor::ArmSmmuV3(c) => smmuv3::alloc(c, &hwpt, has_data),
        Vendor::Mock(c) => mock::alloc(c, &hwpt, has_data),
    }
}

/// Whether the driver would put `hwpt` on `target` of a device served by `vendor`, whose
/// `max_pasids` (`dev->iommu->max_pasids`, already capped by the IOMMU's) is
/// `device_max_pasids`.
///
/// The HWPT may come from another IOMMU of the same driver (`vendor` is the device's), so the
/// capability rules are checked again here. What is not: the PASID rules of
/// [`pasid`](super::pasid) (a PASID's range, PASID-compatible HWPTs only, the RID's HWPT), run
/// by the shell before this, and what depends on state the caller does not pass.
///
/// Rules, in order:
///
/// 1. a software access programs no domain: always allowed;
/// 2. a PASID of a device without PASID support: `EINVAL` (6.12's `iommu_attach_device_pasid`
///    skips such devices and returns 0, having programmed nothing);
/// 3. VT-d, RID: a nested domain on an IOMMU without `nested_supported` (upstream's
///    `paging_domain_compatible` on the parent; 6.12's `intel_nested_attach_dev` does not
///    check), a dirty-tracking domain without `ssads_supported`
///    (`prepare_domain_attach_device`), a paging domain in scalable mode without ECAP.SLTS
///    (`intel_pasid_setup_second_level` from `dmar_domain_attach_device`): `EINVAL`;
/// 4. VT-d, PASID: a nested domain: `EOPNOTSUPP` (`intel_nested_domain_ops` has no
///    `set_dev_pasid`, so `iommu_attach_device_pasid` refuses); no `pasid_supported`:
///    `EOPNOTSUPP`; a dirty-tracking domain: `EINVAL` (both `intel_iommu_set_dev_pasid`);
///    no ECAP.SLTS: `EINVAL` (`intel_pasid_setup_second_level`);
/// 5. SMMUv3, RID: a dirty-tracking domain on an SMMU without the capability, which can only
///    come from another SMMU: `EINVAL` (`arm_smmu_attach_dev`);
/// 6. SMMUv3, PASID: a nested domain: `EINVAL` (upstream: it cannot be PASID-compatible); a
///    stage-2 domain, which a nest parent is too: `EINVAL` (`arm_smmu_s1_set_dev_pasid`); a
///    dirty-tracking domain from another SMMU: `EINVAL` (the same);
/// 7. mock, RID: a dirty-tracking domain on a `NO_DIRTY` device: `EINVAL`
///    (`mock_domain_nop_attach`); the mock's `set_dev_pasid` serves every domain.
pub fn check_attach(
    vendor: &Vendor,
    hwpt: &HwptDesc,
    target: Target,
    device_max_pasids: u32,
) -> Result {
    match target {
        Target::Access => return Ok(()),
        Target::Pasid if device_max_pasids == 0 => {
            return refuse(Errno::EINVAL, "pasid: device without PASID support");
        }
        Target::Pasid | Target::Rid => {}
    }
    let pasid = target == Target::Pasid;
    match vendor {
        Vendor::IntelVtd(c) if pasid => vtd::set_dev_pasid(c, hwpt),
        Vendor::IntelVtd(c) => vtd::attach_dev(c, hwpt),
        Vendor::ArmSmmuV3(c) if pasid => smmuv3::set_dev_pasid(c, hwpt),
        Vendor::ArmSmmuV3(c) => smmuv3::attach_dev(c, hwpt),
        Vendor::Mock(_) if pasid => Ok(()),
        Vendor::Mock(c) => mock::attach_dev(c, hwpt),
    }
}

#[cfg(test)]
mod tests {
    use super::super::ucmd::test_cmd::{MOCK_FLAGS_DEVICE_NO_DIRTY, MOCK_FLAGS_DEVICE_PASID};
    use super::*;

    const NP: u32 = IOMMU_HWPT_ALLOC_NEST_PARENT;
    const DIRTY: u32 = IOMMU_HWPT_ALLOC_DIRTY_TRACKING;
    const PASID: u32 = IOMMU_HWPT_ALLOC_PASID;
    const FAULT: u32 = IOMMU_HWPT_FAULT_ID_VALID;

    fn b(pos: u32) -> u64 {
        1 << pos
    }

    /// Scalable mode, both stages, PASID (20 bits), nesting, dirty tracking.
    fn full_ecap() -> u64 {
        b(43) | b(46) | b(47) | b(40) | (19 << 35) | b(26) | b(45) | b(48)
    }

    fn vtd(ecap: u64) -> Vendor {
        Vendor::IntelVtd(VtdCaps::decode(0, ecap))
    }

    fn rule(r: Result) -> &'static str {
        r.unwrap_err().rule()
    }

    fn errno(r: Result) -> Errno {
        r.unwrap_err().errno()
    }

    #[test]
    fn vtd_decode_bits() {
        let none = VtdCaps::decode(0, 0);
        assert!(!none.sm_supported() && !none.pasid_supported());
        assert_eq!(none.mgaw, 1);
        assert_eq!(none.max_pasids(), 0);
        for (pos, get) in [
            (43, (|c: &VtdCaps| c.smts) as fn(&VtdCaps) -> bool),
            (40, |c| c.pasid),
            (26, |c| c.nest),
            (45, |c| c.slads),
            (48, |c| c.smpwc),
            (46, |c| c.slts),
            (47, |c| c.flts),
            (29, |c| c.prs),
            (7, |c| c.sc),
        ] {
            let c = VtdCaps::decode(0, b(pos));
            assert!(get(&c), "ecap bit {pos}");
            // Only that one.
            assert_eq!(VtdCaps::decode(0, 0), c.without(pos));
        }
        let c = VtdCaps::decode(b(7) | b(60) | (47 << 16), 0);
        assert!(c.caching_mode && c.fl5lp);
        assert_eq!(c.mgaw, 48);
        assert_eq!(VtdCaps::decode(0, 19 << 35).pss, 19);
        assert_eq!(VtdCaps::decode(0, u64::MAX).pss, 31);
    }

    impl VtdCaps {
        /// `self` with the decoded field of ECAP bit `pos` cleared (test helper).
        fn without(mut self, pos: u32) -> Self {
            match pos {
                43 => self.smts = false,
                40 => self.pasid = false,
                26 => self.nest = false,
                45 => self.slads = false,
                48 => self.smpwc = false,
                46 => self.slts = false,
                47 => self.flts = false,
                29 => self.prs = false,
                7 => self.sc = false,
                _ => unreachable!(),
            }
            self
        }
    }

    #[test]
    fn vtd_predicates_follow_the_driver_macros() {
        let c = VtdCaps::decode(0, full_ecap());
        assert!(c.sm_supported() && c.pasid_supported() && c.ssads_supported());
        assert!(c.nested_supported());
        assert_eq!(c.max_pasids(), 1 << 20);
        // Everything hangs on scalable mode, including when it is turned off by hand.
        let off = VtdCaps { sm_on: false, ..c };
        assert!(!off.sm_supported() && !off.pasid_supported());
        assert!(!off.ssads_supported() && !off.nested_supported());
        assert_eq!(off.max_pasids(), 0);
        let no_smts = VtdCaps::decode(0, full_ecap() & !b(43));
        assert!(!no_smts.pasid_supported() && !no_smts.nested_supported());
        // Dirty tracking needs page-walk coherency as well as SLADS.
        assert!(!VtdCaps::decode(0, full_ecap() & !b(48)).ssads_supported());
        assert!(!VtdCaps::decode(0, full_ecap() & !b(45)).ssads_supported());
        // PSS 0 (QEMU's x-pasid-mode) gives two PASIDs; PSS 31 truncates as in C.
        assert_eq!(VtdCaps::decode(0, b(43) | b(40)).max_pasids(), 2);
        assert_eq!(
            VtdCaps::decode(0, b(43) | b(40) | (30 << 35)).max_pasids(),
            1 << 31
        );
        assert_eq!(
            VtdCaps::decode(0, b(43) | b(40) | (31 << 35)).max_pasids(),
            0
        );
    }

    #[test]
    fn common_alloc_rules() {
        let v = Vendor::Mock(MockCaps {
            pasid: true,
            dirty: true,
        });
        assert_eq!(
            rule(check_alloc(&v, 1 << 4, false, false)),
            "alloc: unknown flag"
        );
        assert_eq!(
            errno(check_alloc(&v, 1 << 31, true, true)),
            Errno::EOPNOTSUPP
        );
        assert_eq!(
            rule(check_alloc(&v, 0, true, false)),
            "alloc: nested without driver data"
        );
        for f in [NP, DIRTY] {
            assert_eq!(
                rule(check_alloc(&v, f, true, true)),
                "alloc: nested with paging flags"
            );
        }
        // FAULT_ID_VALID is iommufd's: ignored here.
        assert_eq!(check_alloc(&v, FAULT, true, true), Ok(()));
        assert_eq!(check_alloc(&v, FAULT | PASID, true, true), Ok(()));
    }

    #[test]
    fn vtd_alloc_rules() {
        let legacy = vtd(b(46));
        let full = vtd(full_ecap());
        assert_eq!(check_alloc(&legacy, 0, false, false), Ok(()));
        assert_eq!(
            rule(check_alloc(&legacy, NP, false, false)),
            "vtd: nest parent without scalable mode + ECAP.NEST"
        );
        assert_eq!(
            rule(check_alloc(&legacy, 0, true, true)),
            "vtd: nested without scalable mode + ECAP.NEST"
        );
        assert_eq!(
            rule(check_alloc(&full, 0, false, true)),
            "vtd: driver data on a paging domain"
        );
        assert_eq!(
            rule(check_alloc(&legacy, DIRTY, false, false)),
            "vtd: dirty tracking without ECAP.SLADS + SMPWC"
        );
        assert_eq!(
            rule(check_alloc(&legacy, PASID, false, false)),
            "vtd: PASID-compatible without scalable mode + ECAP.PASID"
        );
        assert_eq!(
            rule(check_alloc(&vtd(full_ecap() & !b(46)), PASID, false, false)),
            "vtd: PASID-compatible without ECAP.SLTS"
        );
        assert_eq!(
            rule(check_alloc(&full, DIRTY | PASID, false, false)),
            "vtd: PASID-compatible dirty tracking domain"
        );
        assert_eq!(
            rule(check_alloc(&full, PASID, true, true)),
            "vtd: PASID-compatible nested domain"
        );
        for (flags, nested) in [(NP | DIRTY, false), (NP | PASID, false), (0, true)] {
            assert_eq!(check_alloc(&full, flags, nested, nested), Ok(()));
        }
        // Every VT-d refusal at allocation is EOPNOTSUPP.
        assert_eq!(
            errno(check_alloc(&legacy, NP, false, false)),
            Errno::EOPNOTSUPP
        );
    }

    #[test]
    fn vtd_attach_rules() {
        let legacy = vtd(0);
        let full = vtd(full_ecap());
        let fs_only = vtd(full_ecap() & !b(46));
        let (paging, dirty, nested) = (
            HwptDesc::paging(0),
            HwptDesc::paging(DIRTY),
            HwptDesc::nested(0),
        );
        assert_eq!(check_attach(&legacy, &paging, Target::Rid, 0), Ok(()));
        let r = check_attach(&legacy, &nested, Target::Rid, 0).unwrap_err();
        assert_eq!(r.errno(), Errno::EINVAL);
        assert_eq!(r.rule(), "vtd: nested domain on an IOMMU without nesting");
        assert_eq!(
            rule(check_attach(&legacy, &dirty, Target::Rid, 0)),
            "vtd: dirty tracking domain without ECAP.SLADS"
        );
        assert_eq!(
            rule(check_attach(&fs_only, &paging, Target::Rid, 1 << 20)),
            "vtd: second-stage domain without ECAP.SLTS"
        );
        // Legacy mode programs context entries: no SLTS needed.
        assert_eq!(check_attach(&vtd(0), &paging, Target::Rid, 0), Ok(()));
        assert_eq!(check_attach(&full, &dirty, Target::Rid, 1 << 20), Ok(()));
        assert_eq!(check_attach(&full, &nested, Target::Rid, 1 << 20), Ok(()));

        let r = check_attach(&full, &dirty, Target::Pasid, 1 << 20).unwrap_err();
        assert_eq!(
            (r.errno(), r.rule()),
            (Errno::EINVAL, "vtd: dirty tracking domain on a PASID")
        );
        let r = check_attach(&full, &nested, Target::Pasid, 1 << 20).unwrap_err();
        assert_eq!(
            (r.errno(), r.rule()),
            (Errno::EOPNOTSUPP, "vtd: nested domain on a PASID")
        );
        assert_eq!(
            errno(check_attach(&fs_only, &paging, Target::Pasid, 1 << 20)),
            Errno::EINVAL
        );
        // A device claiming PASIDs behind a VT-d that serves none (the core caps max_pasids
        // so that this does not happen; the driver's answer all the same).
        let r = check_attach(&legacy, &paging, Target::Pasid, 8).unwrap_err();
        assert_eq!(r.errno(), Errno::EOPNOTSUPP);
        assert_eq!(r.rule(), "vtd: PASID without scalable mode + ECAP.PASID");
        assert_eq!(check_attach(&full, &paging, Target::Pasid, 1 << 20), Ok(()));
        assert_eq!(
            check_attach(&full, &HwptDesc::paging(NP | PASID), Target::Pasid, 2),
            Ok(())
        );
    }

    #[test]
    fn device_without_pasids() {
        for v in [
            vtd(full_ecap()),
            Vendor::ArmSmmuV3(SmmuCaps::new(1 << 20, true)),
            Vendor::Mock(MockCaps {
                pasid: true,
                dirty: true,
            }),
        ] {
            let r = check_attach(&v, &HwptDesc::paging(PASID), Target::Pasid, 0).unwrap_err();
            assert_eq!(r.errno(), Errno::EINVAL);
            assert_eq!(r.rule(), "pasid: device without PASID support");
            assert_eq!(
                check_attach(&v, &HwptDesc::paging(PASID), Target::Rid, 0),
                Ok(())
            );
        }
    }

    #[test]
    fn access_is_always_allowed() {
        let vendors = [
            vtd(0),
            vtd(full_ecap() & !b(46)),
            Vendor::ArmSmmuV3(SmmuCaps {
                max_pasids: 0,
                dirty: false,
                s1: false,
                s2: true,
            }),
            Vendor::Mock(MockCaps::from_dev_flags(MOCK_FLAGS_DEVICE_NO_DIRTY)),
        ];
        for v in &vendors {
            for flags in 0..16 {
                for h in [HwptDesc::paging(flags), HwptDesc::nested(flags)] {
                    assert_eq!(check_attach(v, &h, Target::Access, 0), Ok(()));
                }
            }
        }
    }

    #[test]
    fn smmu_rules() {
        let s = Vendor::ArmSmmuV3(SmmuCaps::new(1 << 20, true));
        let no_dirty = Vendor::ArmSmmuV3(SmmuCaps::new(1 << 20, false));
        let s2_only = Vendor::ArmSmmuV3(SmmuCaps {
            s1: false,
            ..SmmuCaps::new(1 << 20, true)
        });
        let no_pasid = Vendor::ArmSmmuV3(SmmuCaps::new(0, true));
        assert_eq!(
            rule(check_alloc(&s, NP, false, false)),
            "smmuv3: nest parent (no nesting on 6.12)"
        );
        assert_eq!(
            rule(check_alloc(&s, 0, true, true)),
            "smmuv3: nested domain (no nesting on 6.12)"
        );
        assert_eq!(
            rule(check_alloc(&s, 0, false, true)),
            "smmuv3: driver data on a paging domain"
        );
        assert_eq!(
            rule(check_alloc(&no_dirty, DIRTY, false, false)),
            "smmuv3: dirty tracking without the capability"
        );
        assert_eq!(
            rule(check_alloc(&s2_only, DIRTY, false, false)),
            "smmuv3: dirty tracking on a stage-2 domain"
        );
        assert_eq!(
            rule(check_alloc(&no_pasid, PASID, false, false)),
            "smmuv3: PASID-compatible on a device without PASIDs"
        );
        assert_eq!(
            rule(check_alloc(&s2_only, PASID, false, false)),
            "smmuv3: PASID-compatible stage-2 domain"
        );
        assert_eq!(check_alloc(&s, DIRTY | PASID, false, false), Ok(()));

        let r = check_attach(&s2_only, &HwptDesc::paging(0), Target::Pasid, 1 << 20);
        let r = r.unwrap_err();
        assert_eq!(
            (r.errno(), r.rule()),
            (Errno::EINVAL, "smmuv3: stage-2 domain on a PASID")
        );
        let r = check_attach(&s, &HwptDesc::nested(0), Target::Pasid, 1 << 20).unwrap_err();
        assert_eq!(
            (r.errno(), r.rule()),
            (Errno::EINVAL, "smmuv3: nested domain off the RID")
        );
        assert_eq!(
            check_attach(&s, &HwptDesc::nested(0), Target::Rid, 1 << 20),
            Ok(())
        );
        assert_eq!(
            rule(check_attach(
                &s,
                &HwptDesc::paging(NP),
                Target::Pasid,
                1 << 20
            )),
            "smmuv3: stage-2 domain on a PASID"
        );
        assert_eq!(
            check_attach(&s, &HwptDesc::paging(NP), Target::Rid, 1 << 20),
            Ok(())
        );
        for t in [Target::Rid, Target::Pasid] {
            assert_eq!(
                rule(check_attach(
                    &no_dirty,
                    &HwptDesc::paging(DIRTY),
                    t,
                    1 << 20
                )),
                "smmuv3: dirty tracking domain from another SMMU"
            );
        }
        assert_eq!(
            check_attach(&s, &HwptDesc::paging(DIRTY), Target::Pasid, 1),
            Ok(())
        );
        assert_eq!(
            check_attach(&s2_only, &HwptDesc::paging(0), Target::Rid, 1),
            Ok(())
        );
    }

    #[test]
    fn smmu_stage_choice() {
        let with = |s1, s2| SmmuCaps {
            s1,
            s2,
            ..SmmuCaps::new(0, false)
        };
        assert!(with(true, true).stage1_domains());
        assert!(with(true, false).stage1_domains());
        assert!(!with(false, true).stage1_domains());
        // Neither: the driver's probe fails; finalise would end on stage 1.
        assert!(with(false, false).stage1_domains());
    }

    #[test]
    fn mock_rules() {
        let caps = MockCaps::from_dev_flags(MOCK_FLAGS_DEVICE_PASID | MOCK_FLAGS_DEVICE_NO_DIRTY);
        assert_eq!(
            caps,
            MockCaps {
                pasid: true,
                dirty: false
            }
        );
        assert_eq!(
            MockCaps::from_dev_flags(0),
            MockCaps {
                pasid: false,
                dirty: true
            }
        );
        let v = Vendor::Mock(caps);
        let plain = Vendor::Mock(MockCaps::from_dev_flags(0));
        assert_eq!(v.max_pasids(), 1 << 20);
        assert_eq!(plain.max_pasids(), 0);
        assert!(!v.dirty_capable() && plain.dirty_capable());
        assert_eq!(
            rule(check_alloc(&v, DIRTY, false, false)),
            "mock: dirty tracking on a NO_DIRTY device"
        );
        assert_eq!(
            rule(check_alloc(&v, 0, false, true)),
            "mock: driver data on a paging domain"
        );
        assert_eq!(
            rule(check_alloc(&plain, PASID, true, true)),
            "mock: PASID-compatible on a device without PASIDs"
        );
        assert_eq!(check_alloc(&v, PASID, true, true), Ok(()));
        assert_eq!(check_alloc(&plain, NP | DIRTY, false, false), Ok(()));
        let dirty = HwptDesc::paging(DIRTY);
        assert_eq!(
            rule(check_attach(&v, &dirty, Target::Rid, 1 << 20)),
            "mock: dirty tracking domain on a NO_DIRTY device"
        );
        // The mock's set_dev_pasid does not look at dirty ops.
        assert_eq!(check_attach(&v, &dirty, Target::Pasid, 1 << 20), Ok(()));
        assert_eq!(
            check_attach(&v, &HwptDesc::nested(0), Target::Pasid, 1),
            Ok(())
        );
    }

    #[test]
    fn refusal_converts_and_prints() {
        let r = Refusal::new(Errno::EINVAL, "vtd: dirty tracking domain on a PASID");
        let e: Errno = r.into();
        assert_eq!(e, Errno::EINVAL);
        fn through(r: Refusal) -> super::super::errno::Result {
            Err::<(), Refusal>(r)?;
            Ok(())
        }
        assert_eq!(through(r), Err(Errno::EINVAL));
        struct Buf([u8; 64], usize);
        impl core::fmt::Write for Buf {
            fn write_str(&mut self, s: &str) -> core::fmt::Result {
                let end = self.1 + s.len();
                self.0[self.1..end].copy_from_slice(s.as_bytes());
                self.1 = end;
                Ok(())
            }
        }
        let mut b = Buf([0; 64], 0);
        core::fmt::write(&mut b, format_args!("{r}")).unwrap();
        assert_eq!(
            &b.0[..b.1],
            b"vtd: dirty tracking domain on a PASID (EINVAL)"
        );
    }

    #[test]
    fn hwpt_desc_flags() {
        let h = HwptDesc::paging(NP | DIRTY | PASID);
        assert!(h.nest_parent() && h.dirty() && h.pasid_compat() && !h.nested);
        let n = HwptDesc::nested(FAULT);
        assert!(n.nested && !n.nest_parent() && !n.dirty() && !n.pasid_compat());
    }
}
