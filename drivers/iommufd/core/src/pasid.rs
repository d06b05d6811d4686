// SPDX-License-Identifier: GPL-2.0

//! The rules of attaching a HW page table (HWPT) to one PASID of a device.
//!
//! A bound device can be given DMA translation in three ways:
//!
//! - **RID** attach: a HWPT on the device's requester ID, the "whole device" (PASID
//!   [`IOMMU_NO_PASID`]); every device of the IOMMU group follows it. The kernel shell keeps
//!   this state itself and passes it to the rules here as `rid`;
//! - **PASID** attach: a HWPT on one PASID of the device; what [`PasidTable`] records, per
//!   IOMMU group;
//! - **software access** (`iommufd_access`): an in-kernel user reads the IOAS by pinning
//!   pages, with no IOMMU domain programmed; it takes no part in these rules.
//!
//! The rules are upstream iommufd's (`iommufd_hw_pagetable_attach`,
//! `iommufd_hw_pagetable_replace`, `iommufd_hwpt_pasid_compat`,
//! `iommufd_hw_pagetable_detach`), with the group's attachments on one PASID as upstream's
//! `igroup->pasid_attach[pasid]`:
//!
//! 1. PASID 0 is the RID, never a PASID; a PASID must be below the device's `max_pasids`, and
//!    a device without PASID support (`max_pasids == 0`) has none ([`check_pasid`]);
//! 2. a device is attached at most once per PASID: attaching again is `EBUSY`;
//! 3. all the devices of a group on one PASID share one HWPT: another HWPT is `EINVAL` (move
//!    them with a replace instead);
//! 4. only a HWPT allocated with [`IOMMU_HWPT_ALLOC_PASID`] ("PASID-compatible") may be
//!    programmed on a PASID: `EINVAL` otherwise;
//! 5. the RID and the PASIDs must agree: while the RID holds a HWPT that is not
//!    PASID-compatible, no PASID can be programmed, and while any PASID is attached the RID
//!    cannot take such a HWPT (both `EINVAL`). A domain on the RID that does not know about
//!    PASIDs would otherwise translate, or block, the PASID traffic too.
//!
//! Rules 4 and 5 are checked only when the domain is programmed: for the first device of the
//! group on a PASID, and on a replace. Later devices join the HWPT already there.
//!
//! Every operation is split the way the shell needs it: a `check_*` that changes nothing, then
//! (for an attach) [`PasidTable::reserve`], then the driver call, then a `commit_*` that
//! cannot fail. An error at any step before the commit leaves the table unchanged.

use super::{
    errno::{Errno, Result},
    storage::{Slots, Storage},
};

/// `IOMMU_NO_PASID`: the PASID value that stands for the RID.
pub const IOMMU_NO_PASID: u32 = 0;
/// `IOMMU_HWPT_ALLOC_PASID`: the HWPT may be attached to PASIDs (iommufd's own flag).
pub const IOMMU_HWPT_ALLOC_PASID: u32 = 1 << 3;

/// The device-level check, made before any lookup: `pasid == IOMMU_NO_PASID` -> EINVAL (the RID is
/// not a PASID); `max_pasids == 0` (the device has no PASID support; 6.12's iommu core would
/// silently "succeed" and program nothing) -> EINVAL; `pasid >= max_pasids` -> EINVAL.
pub fn check_pasid(pasid: u32, max_pasids: u32) -> Result {
    if pasid == IOMMU_NO_PASID || max_pasids == 0 || pasid >= max_pasids {
        return Err(Errno::EINVAL);
    }
    Ok(())
}

/// One device attached on one PASID.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PasidEntry<H, D> {
    /// The PASID (never [`IOMMU_NO_PASID`]).
    pub pasid: u32,
    /// The device.
    pub dev: D,
    /// The HWPT, the same for every device of the group on `pasid`.
    pub hwpt: H,
    /// Whether `hwpt` is PASID-compatible (always true once recorded, see [`check_attach`]).
    ///
    /// [`check_attach`]: PasidTable::check_attach
    pub compat: bool,
}

/// What an attach does to the group.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum AttachPlan {
    /// The group is not on this PASID yet: the domain must be programmed.
    First,
    /// The group is already on this PASID with the same HWPT: only record the device.
    Join,
}

/// What a replace does to the group.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Replace<H> {
    /// Already on that HWPT: nothing to do.
    Same,
    /// Move the group's PASID from `old` (its PASID-compat flag `old_compat`).
    Change {
        /// The HWPT the group's PASID is on now.
        old: H,
        /// Its PASID-compat flag.
        old_compat: bool,
    },
}

/// The result of a detach.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Detached<H> {
    /// The HWPT the device was on (the shell drops its reference).
    pub hwpt: H,
    /// No device of the group is left on the PASID: unprogram the domain.
    pub last: bool,
}

/// The PASID attachments of one IOMMU group: one entry per (device, PASID), ordered by PASID
/// (devices of one PASID in attach order).
///
/// `rid` parameters: the RID's attachment as the rules see it: `None` when the RID is not
/// attached, `Some(compat)` with the PASID-compat flag of the RID's HWPT.
pub struct PasidTable<H, D, S: Storage> {
    entries: S::Table<PasidEntry<H, D>>,
}

impl<H: Copy + Eq, D: Copy + Eq, S: Storage> PasidTable<H, D, S> {
    /// An empty table; allocates nothing.
    pub fn new(storage: &S) -> Self {
        PasidTable {
            entries: storage.new_table(),
        }
    }

    /// Every attachment, ordered by PASID.
    pub fn entries(&self) -> &[PasidEntry<H, D>] {
        self.entries.as_slice()
    }

    /// Whether no PASID of the group is attached.
    pub fn is_empty(&self) -> bool {
        self.entries().is_empty()
    }

    fn on(&self, pasid: u32) -> impl Iterator<Item = &PasidEntry<H, D>> {
        self.entries().iter().filter(move |e| e.pasid == pasid)
    }

    fn position(&self, dev: D, pasid: u32) -> Option<usize> {
        self.entries()
            .iter()
            .position(|e| e.dev == dev && e.pasid == pasid)
    }

    /// The group's HWPT on `pasid` and its PASID-compat flag, if the group is on `pasid`.
    pub fn hwpt_of(&self, pasid: u32) -> Option<(H, bool)> {
        self.on(pasid).next().map(|e| (e.hwpt, e.compat))
    }

    /// Whether `dev` is attached on `pasid`.
    pub fn is_attached(&self, dev: D, pasid: u32) -> bool {
        self.position(dev, pasid).is_some()
    }

    /// How many devices of the group are attached on `pasid`.
    pub fn devices_on(&self, pasid: u32) -> usize {
        self.on(pasid).count()
    }

    /// The first PASID `dev` is attached on, if any (the shell loops detaching on unbind).
    /// Entries are ordered by PASID, so this is the lowest one.
    pub fn first_pasid_of(&self, dev: D) -> Option<u32> {
        self.entries()
            .iter()
            .find(|e| e.dev == dev)
            .map(|e| e.pasid)
    }

    /// Upstream's order: (dev, pasid) already attached -> EBUSY; the group is on pasid with a
    /// different HWPT -> EINVAL; then only when the group is not on pasid yet (First): `!compat`
    /// -> EINVAL; `rid == Some(false)` (the RID holds a non-PASID-compat HWPT: the "whole device"
    /// attach locks PASIDs out) -> EINVAL. Changes nothing.
    ///
    /// `pasid` must have passed [`check_pasid`] for `dev`.
    pub fn check_attach(
        &self,
        dev: D,
        pasid: u32,
        hwpt: H,
        compat: bool,
        rid: Option<bool>,
    ) -> Result<AttachPlan> {
        // Upstream inserts the device into the PASID's device array first, which is what
        // reports a second attach of the same device, whatever the HWPT.
        if self.is_attached(dev, pasid) {
            return Err(Errno::EBUSY);
        }
        match self.hwpt_of(pasid) {
            Some((cur, _)) if cur != hwpt => Err(Errno::EINVAL),
            // A joining device follows the domain already programmed: the compat rules were
            // checked when it was, and `check_rid` keeps them true since.
            Some(_) => Ok(AttachPlan::Join),
            None => {
                Self::check_compat(compat, rid)?;
                Ok(AttachPlan::First)
            }
        }
    }

    /// `iommufd_hwpt_pasid_compat` for a PASID: the HWPT must be PASID-compatible, and so must
    /// the RID's, if any.
    fn check_compat(compat: bool, rid: Option<bool>) -> Result {
        if !compat || rid == Some(false) {
            return Err(Errno::EINVAL);
        }
        Ok(())
    }

    /// Room for one more entry; `ENOMEM` changes nothing.
    pub fn reserve(&mut self) -> Result {
        self.entries.try_reserve(1)
    }

    /// Records an attach that `check_attach` allowed, after `reserve` succeeded; cannot fail
    /// (ignore the storage result the way objects.rs does after a reservation).
    pub fn commit_attach(&mut self, dev: D, pasid: u32, hwpt: H, compat: bool) {
        // After the PASID's last entry, or before the first higher PASID: keeps the order.
        let at = self
            .entries()
            .iter()
            .position(|e| e.pasid > pasid)
            .unwrap_or(self.entries().len());
        let entry = PasidEntry {
            pasid,
            dev,
            hwpt,
            compat,
        };
        // `reserve` made room, so by the `Slots` contract this cannot fail; an `Err` could only
        // mean a missing `reserve` (a bug in the caller), and there is nothing to undo then.
        let _ = self.entries.try_insert(at, entry);
    }

    /// `dev` not attached on pasid -> EINVAL; same HWPT -> Ok(Same); `!compat` -> EINVAL;
    /// `rid == Some(false)` -> EINVAL; else Ok(Change{old, old_compat}). Changes nothing.
    ///
    /// `pasid` must have passed [`check_pasid`] for `dev`.
    pub fn check_replace(
        &self,
        dev: D,
        pasid: u32,
        hwpt: H,
        compat: bool,
        rid: Option<bool>,
    ) -> Result<Replace<H>> {
        let i = self.position(dev, pasid).ok_or(Errno::EINVAL)?;
        let cur = self.entries()[i];
        if cur.hwpt == hwpt {
            return Ok(Replace::Same);
        }
        Self::check_compat(compat, rid)?;
        Ok(Replace::Change {
            old: cur.hwpt,
            old_compat: cur.compat,
        })
    }

    /// Moves every device of the group on pasid to `hwpt`.
    pub fn commit_replace(&mut self, pasid: u32, hwpt: H, compat: bool) {
        // The domain is per group and PASID: the other devices on it moved too.
        for e in self.entries.as_mut_slice() {
            if e.pasid == pasid {
                e.hwpt = hwpt;
                e.compat = compat;
            }
        }
    }

    /// Removes dev's attachment on pasid; None when it has none.
    pub fn detach(&mut self, dev: D, pasid: u32) -> Option<Detached<H>> {
        let i = self.position(dev, pasid)?;
        let e = self.entries.remove(i);
        Some(Detached {
            hwpt: e.hwpt,
            last: self.devices_on(pasid) == 0,
        })
    }

    /// The RID rule, for a RID attach or replace with a HWPT of PASID-compat flag `compat`:
    /// `!compat` while any PASID of the group is attached -> EINVAL.
    pub fn check_rid(&self, compat: bool) -> Result {
        if !compat && !self.is_empty() {
            return Err(Errno::EINVAL);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::storage::test_impl::VecStorage;
    use super::*;

    type T = PasidTable<u32, u32, VecStorage>;

    const MAX: u32 = 1 << 20;
    // HWPTs: two PASID-compatible, one not.
    const A: u32 = 10;
    const B: u32 = 11;
    const N: u32 = 12;

    fn attach(t: &mut T, dev: u32, pasid: u32, hwpt: u32, rid: Option<bool>) -> Result<AttachPlan> {
        let compat = hwpt != N;
        let plan = t.check_attach(dev, pasid, hwpt, compat, rid)?;
        t.reserve()?;
        t.commit_attach(dev, pasid, hwpt, compat);
        Ok(plan)
    }

    #[test]
    fn pasid_range() {
        assert_eq!(check_pasid(IOMMU_NO_PASID, MAX), Err(Errno::EINVAL));
        assert_eq!(check_pasid(1, 0), Err(Errno::EINVAL));
        assert_eq!(check_pasid(0, 0), Err(Errno::EINVAL));
        assert_eq!(check_pasid(1, 1), Err(Errno::EINVAL));
        assert_eq!(check_pasid(1, 2), Ok(()));
        assert_eq!(check_pasid(MAX - 1, MAX), Ok(()));
        assert_eq!(check_pasid(MAX, MAX), Err(Errno::EINVAL));
        assert_eq!(check_pasid(u32::MAX, u32::MAX), Err(Errno::EINVAL));
    }

    #[test]
    fn first_then_join() {
        let mut t = T::new(&VecStorage);
        assert!(t.is_empty());
        assert_eq!(attach(&mut t, 1, 5, A, None), Ok(AttachPlan::First));
        assert_eq!(attach(&mut t, 2, 5, A, None), Ok(AttachPlan::Join));
        assert_eq!(t.hwpt_of(5), Some((A, true)));
        assert_eq!(t.hwpt_of(6), None);
        assert_eq!(t.devices_on(5), 2);
        assert!(t.is_attached(1, 5) && t.is_attached(2, 5) && !t.is_attached(3, 5));
    }

    #[test]
    fn attach_errnos_in_upstream_order() {
        let mut t = T::new(&VecStorage);
        attach(&mut t, 1, 5, A, None).unwrap();
        // Already attached: EBUSY, even with another (or an incompatible) HWPT.
        assert_eq!(t.check_attach(1, 5, A, true, None), Err(Errno::EBUSY));
        assert_eq!(
            t.check_attach(1, 5, N, false, Some(false)),
            Err(Errno::EBUSY)
        );
        // The group is on another HWPT.
        assert_eq!(t.check_attach(2, 5, B, true, None), Err(Errno::EINVAL));
        // Not PASID-compatible, on a new PASID.
        assert_eq!(t.check_attach(1, 6, N, false, None), Err(Errno::EINVAL));
        // The RID's HWPT is not PASID-compatible: no new PASID...
        assert_eq!(
            t.check_attach(1, 6, A, true, Some(false)),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            t.check_attach(1, 6, A, true, Some(true)),
            Ok(AttachPlan::First)
        );
        // ...but a join programs nothing, so the RID is not asked.
        assert_eq!(
            t.check_attach(2, 5, A, true, Some(false)),
            Ok(AttachPlan::Join)
        );
        assert_eq!(t.entries().len(), 1);
    }

    #[test]
    fn replace() {
        let mut t = T::new(&VecStorage);
        attach(&mut t, 1, 5, A, None).unwrap();
        attach(&mut t, 2, 5, A, None).unwrap();
        attach(&mut t, 1, 7, B, None).unwrap();
        assert_eq!(t.check_replace(3, 5, B, true, None), Err(Errno::EINVAL));
        assert_eq!(t.check_replace(1, 6, B, true, None), Err(Errno::EINVAL));
        assert_eq!(t.check_replace(1, 5, A, true, None), Ok(Replace::Same));
        assert_eq!(t.check_replace(1, 5, N, false, None), Err(Errno::EINVAL));
        assert_eq!(
            t.check_replace(1, 5, B, true, Some(false)),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            t.check_replace(1, 5, B, true, Some(true)),
            Ok(Replace::Change {
                old: A,
                old_compat: true
            })
        );
        t.commit_replace(5, B, true);
        // Both devices moved; PASID 7 is untouched.
        assert_eq!(t.hwpt_of(5), Some((B, true)));
        assert!(t.entries().iter().all(|e| e.hwpt == B));
        assert_eq!(t.devices_on(5), 2);
        assert_eq!(t.devices_on(7), 1);
    }

    #[test]
    fn detach_reports_the_last() {
        let mut t = T::new(&VecStorage);
        attach(&mut t, 1, 5, A, None).unwrap();
        attach(&mut t, 2, 5, A, None).unwrap();
        assert_eq!(t.detach(3, 5), None);
        assert_eq!(t.detach(1, 6), None);
        assert_eq!(
            t.detach(1, 5),
            Some(Detached {
                hwpt: A,
                last: false
            })
        );
        assert_eq!(t.detach(1, 5), None);
        assert_eq!(
            t.detach(2, 5),
            Some(Detached {
                hwpt: A,
                last: true
            })
        );
        assert!(t.is_empty());
        // The PASID is free again, for any compatible HWPT.
        assert_eq!(attach(&mut t, 2, 5, B, None), Ok(AttachPlan::First));
    }

    #[test]
    fn rid_rule() {
        let mut t = T::new(&VecStorage);
        assert_eq!(t.check_rid(false), Ok(()));
        assert_eq!(t.check_rid(true), Ok(()));
        attach(&mut t, 1, 5, A, Some(true)).unwrap();
        assert_eq!(t.check_rid(false), Err(Errno::EINVAL));
        assert_eq!(t.check_rid(true), Ok(()));
        t.detach(1, 5).unwrap();
        assert_eq!(t.check_rid(false), Ok(()));
    }

    #[test]
    fn ordered_by_pasid_for_unbind() {
        let mut t = T::new(&VecStorage);
        for p in [100, 3, 7] {
            attach(&mut t, 1, p, A, None).unwrap();
        }
        attach(&mut t, 2, 7, A, None).unwrap();
        let order: [(u32, u32); 4] = [(3, 1), (7, 1), (7, 2), (100, 1)];
        assert!(t
            .entries()
            .iter()
            .map(|e| (e.pasid, e.dev))
            .eq(order.iter().copied()));
        // The shell's unbind loop.
        let mut seen = 0;
        while let Some(p) = t.first_pasid_of(1) {
            assert!(t.detach(1, p).is_some());
            seen += 1;
        }
        assert_eq!(seen, 3);
        assert_eq!(t.first_pasid_of(2), Some(7));
        assert_eq!(t.first_pasid_of(3), None);
    }
}
