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
        test_cmd::{MOCK_FLAGS_DEVICE_NO_DIRTY, MOCK_FLAGS_DEVICE_PASID, MOCK_PASID_WIDTH},
    },
};

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

fn refuse(errno: Errno, rule: &'static str) -> Result {
    Err(Refusal::new(errno, rule))
}

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

/// An ARM SMMUv3 as 6.12's core shows it. That driver has no `hw_info`, so the shell knows the
/// device's `max_pasids` (from `dev->iommu`, the smaller of its PCI PASID width and the SMMU's
/// SSIDSIZE) and `IOMMU_CAP_DIRTY_TRACKING` (`arm_smmu_dbm_capable`: HTTU dirty state and a
/// coherent walk), but not the stages, which [`Self::new`] assumes present.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SmmuCaps {
    /// The device's `max_pasids`; 0 without PASID support.
    pub max_pasids: u32,
    /// `IOMMU_CAP_DIRTY_TRACKING`.
    pub dirty: bool,
    /// `ARM_SMMU_FEAT_TRANS_S1`: stage-1 translation (context descriptors, hence PASIDs).
    pub s1: bool,
    /// `ARM_SMMU_FEAT_TRANS_S2`: stage-2 translation.
    pub s2: bool,
}

impl SmmuCaps {
    /// What the shell can learn; both stages assumed, as on the SMMUv3s of servers (the
    /// stages only matter for an SMMU without stage 1).
    pub fn new(max_pasids: u32, dirty: bool) -> Self {
        SmmuCaps {
            max_pasids,
            dirty,
            s1: true,
            s2: true,
        }
    }

    /// Whether the driver's domains are stage 1: `arm_smmu_domain_finalise` starts from stage 1,
    /// moves to stage 2 without `TRANS_S1`, and back to stage 1 without `TRANS_S2`.
    pub fn stage1_domains(&self) -> bool {
        self.s1 || !self.s2
    }
}

/// A device of the mock IOMMU (`drivers/iommufd/mock.rs`), from its `MOCK_FLAGS_DEVICE_*`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct MockCaps {
    /// `MOCK_FLAGS_DEVICE_PASID`: the device has `pasid-num-bits` = `MOCK_PASID_WIDTH`.
    pub pasid: bool,
    /// Not `MOCK_FLAGS_DEVICE_NO_DIRTY`: `mock_domain_capable` reports dirty tracking.
    pub dirty: bool,
}

impl MockCaps {
    /// From the flags of `IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS`.
    pub fn from_dev_flags(dev_flags: u32) -> Self {
        MockCaps {
            pasid: dev_flags & MOCK_FLAGS_DEVICE_PASID != 0,
            dirty: dev_flags & MOCK_FLAGS_DEVICE_NO_DIRTY == 0,
        }
    }
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
        Vendor::IntelVtd(c) => vtd_alloc(c, &hwpt, has_data),
        Vendor::ArmSmmuV3(c) => smmu_alloc(c, &hwpt, has_data),
        Vendor::Mock(c) => mock_alloc(c, &hwpt, has_data),
    }
}

fn vtd_alloc(c: &VtdCaps, hwpt: &HwptDesc, has_data: bool) -> Result {
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

fn smmu_alloc(c: &SmmuCaps, hwpt: &HwptDesc, has_data: bool) -> Result {
    use Errno as E;
    if hwpt.nest_parent() {
        return refuse(E::EOPNOTSUPP, "smmuv3: nest parent (no nesting on 6.12)");
    }
    if hwpt.nested {
        return refuse(E::EOPNOTSUPP, "smmuv3: nested domain (no nesting on 6.12)");
    }
    if has_data {
        return refuse(E::EOPNOTSUPP, "smmuv3: driver data on a paging domain");
    }
    if hwpt.dirty() && !c.dirty {
        return refuse(
            E::EOPNOTSUPP,
            "smmuv3: dirty tracking without the capability",
        );
    }
    if hwpt.dirty() && !c.stage1_domains() {
        return refuse(E::EOPNOTSUPP, "smmuv3: dirty tracking on a stage-2 domain");
    }
    if hwpt.pasid_compat() {
        if c.max_pasids == 0 {
            return refuse(
                E::EOPNOTSUPP,
                "smmuv3: PASID-compatible on a device without PASIDs",
            );
        }
        if !c.stage1_domains() {
            return refuse(E::EOPNOTSUPP, "smmuv3: PASID-compatible stage-2 domain");
        }
    }
    Ok(())
}

fn mock_alloc(c: &MockCaps, hwpt: &HwptDesc, has_data: bool) -> Result {
    use Errno as E;
    if !hwpt.nested {
        if has_data {
            return refuse(E::EOPNOTSUPP, "mock: driver data on a paging domain");
        }
        if hwpt.dirty() && !c.dirty {
            return refuse(E::EOPNOTSUPP, "mock: dirty tracking on a NO_DIRTY device");
        }
    }
    if hwpt.pasid_compat() && !c.pasid {
        return refuse(
            E::EOPNOTSUPP,
            "mock: PASID-compatible on a device without PASIDs",
        );
    }
    Ok(())
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
        Vendor::IntelVtd(c) if pasid => vtd_set_dev_pasid(c, hwpt),
        Vendor::IntelVtd(c) => vtd_attach_dev(c, hwpt),
        Vendor::ArmSmmuV3(c) if pasid => smmu_set_dev_pasid(c, hwpt),
        Vendor::ArmSmmuV3(c) => smmu_attach_dev(c, hwpt),
        Vendor::Mock(_) if pasid => Ok(()),
        Vendor::Mock(c) => mock_attach_dev(c, hwpt),
    }
}

fn vtd_attach_dev(c: &VtdCaps, hwpt: &HwptDesc) -> Result {
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

fn vtd_set_dev_pasid(c: &VtdCaps, hwpt: &HwptDesc) -> Result {
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

fn smmu_attach_dev(c: &SmmuCaps, hwpt: &HwptDesc) -> Result {
    if hwpt.dirty() && !c.dirty {
        return refuse(
            Errno::EINVAL,
            "smmuv3: dirty tracking domain from another SMMU",
        );
    }
    Ok(())
}

fn smmu_set_dev_pasid(c: &SmmuCaps, hwpt: &HwptDesc) -> Result {
    if hwpt.nested {
        return refuse(Errno::EINVAL, "smmuv3: nested domain off the RID");
    }
    // A nest parent is a stage-2 domain (upstream's `arm_smmu_domain_alloc_paging_flags`; 6.12
    // cannot allocate one).
    if !c.stage1_domains() || hwpt.nest_parent() {
        return refuse(Errno::EINVAL, "smmuv3: stage-2 domain on a PASID");
    }
    if hwpt.dirty() && !c.dirty {
        return refuse(
            Errno::EINVAL,
            "smmuv3: dirty tracking domain from another SMMU",
        );
    }
    Ok(())
}

fn mock_attach_dev(c: &MockCaps, hwpt: &HwptDesc) -> Result {
    if hwpt.dirty() && !c.dirty {
        return refuse(
            Errno::EINVAL,
            "mock: dirty tracking domain on a NO_DIRTY device",
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
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
