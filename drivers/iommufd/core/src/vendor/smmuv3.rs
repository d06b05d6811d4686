// SPDX-License-Identifier: GPL-2.0

//! ARM SMMUv3: what `arm_smmu_domain_alloc_user`, `arm_smmu_attach_dev` and
//! `arm_smmu_s1_set_dev_pasid` of 6.12 accept. 6.12 gives this driver no `hw_info`, so
//! [`SmmuCaps`] holds only what the iommu core says of the device. The rules are listed in
//! order on [`check_alloc`](super::check_alloc) and [`check_attach`](super::check_attach).

use super::super::errno::Errno;
use super::{refuse, HwptDesc, Result};

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

pub(super) fn alloc(c: &SmmuCaps, hwpt: &HwptDesc, has_data: bool) -> Result {
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

pub(super) fn attach_dev(c: &SmmuCaps, hwpt: &HwptDesc) -> Result {
    if hwpt.dirty() && !c.dirty {
        return refuse(
            Errno::EINVAL,
            "smmuv3: dirty tracking domain from another SMMU",
        );
    }
    Ok(())
}

pub(super) fn set_dev_pasid(c: &SmmuCaps, hwpt: &HwptDesc) -> Result {
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
