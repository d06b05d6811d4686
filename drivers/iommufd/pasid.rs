// SPDX-License-Identifier: GPL-2.0

//! The PASID attach kind: a HW page table on one PASID of a bound device (the later C's
//! `iommufd_device_attach(idev, pasid, ...)` family, which 6.12's iommufd lacks).
//!
//! The rules (which HWPT may serve a PASID, the RID's lockout, `EBUSY` for a second attach)
//! are the core's [`PasidTable`](crate::iommufd_core::pasid::PasidTable), kept per IOMMU group
//! in [`GroupState`]; this file programs the iommu core (`iommu_attach_device_pasid`,
//! `iommu_detach_device_pasid`) and keeps the object references. Reserved regions and the MSI
//! cookie belong to the RID only, so nothing here touches the IOAS.
//!
//! 6.12's iommu core has no PASID replace: [`Device::pasid_replace`] detaches the old domain and
//! attaches the new one, and on failure attaches the old one again. Between the two calls the
//! PASID has no translation (DMA tagged with it faults), a window that the later core's
//! `iommu_replace_device_pasid` closes.
//!
//! Lock order: one table for the module, `Documentation/locking.md`. Here: as [`crate::device`]: a
//! group's lock (`Group::state`), then the object table's. Every PASID change of a group happens
//! with its lock held, which also keeps the attach handles that the iommu core points to alive.

use crate::{
    device::{new_handle, Device, GroupState, IdevPtr},
    fault,
    hw_pagetable::Hwpt,
    iommufd_core::{
        errno::Errno,
        pasid::{check_pasid, AttachPlan, Replace},
        vendor::Target,
    },
    object,
    storage::swap_remove,
};
use kernel::iommu::{GlobalPasid, PasidAttachment};
use kernel::{bindings, prelude::*};

/// One PASID a group is attached on (the later C's `struct iommufd_attach` of a PASID).
pub(crate) struct PasidAttach {
    pasid: u32,
    /// The HWPT programmed on the PASID. Each attached device holds a user reference on it.
    hwpt: Hwpt,
    /// The attachment in the iommu core, with the handle through which IOPFs on the PASID
    /// find the device.
    attachment: PasidAttachment<IdevPtr>,
}

impl Device {
    /// The HWPT `pt_id` names, for a PASID: an IOAS (its automatic domains never serve PASIDs)
    /// or any other object is `EINVAL`.
    fn pasid_hwpt(&self, pt_id: u32) -> Result<Hwpt, Errno> {
        let pt = object::get_any(self.ctx.objects(), pt_id)?;
        Hwpt::from_object(&pt).ok_or(Errno::EINVAL)
    }

    /// The RID's attachment as the PASID rules see it.
    fn rid_state(state: &GroupState) -> Option<bool> {
        state.hwpt.as_ref().map(Hwpt::pasid_compat)
    }

    /// Attaches `pt_id` (a PASID-compatible HWPT) to `pasid` of this device; returns `pt_id`.
    /// Undone by [`Device::pasid_detach`] (or unbind).
    pub(crate) fn pasid_attach(&self, pasid: u32, pt_id: u32) -> Result<u32, Errno> {
        check_pasid(pasid, self.max_pasids())?;
        let hwpt = self.pasid_hwpt(pt_id)?;
        self.pasid_attach_hwpt(pasid, &hwpt, None)?;
        Ok(pt_id)
    }

    /// The design's "assign a PASID": takes a PASID from the global PASID space, attaches
    /// `pt_id` to it and returns it; it is given back when detached.
    pub(crate) fn pasid_assign(&self, pt_id: u32) -> Result<u32, Errno> {
        if self.max_pasids() == 0 {
            return Err(Errno::EINVAL);
        }
        let hwpt = self.pasid_hwpt(pt_id)?;
        let global = GlobalPasid::alloc(self.device()).ok_or(Errno::ENOSPC)?;
        let pasid = global.pasid();
        // On failure the PASID goes back to the global space with `global`.
        self.pasid_attach_hwpt(pasid, &hwpt, Some(global))?;
        Ok(pasid)
    }

    /// The attach itself, with the group's lock: the core's rules, then the iommu core for the
    /// group's first device on `pasid`. `assigned`: `pasid`, as taken by
    /// [`Device::pasid_assign`]. On error nothing has changed.
    fn pasid_attach_hwpt(
        &self,
        pasid: u32,
        hwpt: &Hwpt,
        assigned: Option<GlobalPasid>,
    ) -> Result<(), Errno> {
        let objects = self.ctx.objects();
        let mut state = self.group.state.lock();
        let rid = Self::rid_state(&state);
        let plan =
            state
                .pasids
                .check_attach(self.key(), pasid, hwpt.id(), hwpt.pasid_compat(), rid)?;
        // Everything that can fail for lack of memory comes before the iommu core is told.
        state.pasids.reserve()?;
        if plan == AttachPlan::First {
            state
                .pasid_attach
                .reserve(1, GFP_KERNEL_ACCOUNT)
                .map_err(|_| Errno::ENOMEM)?;
        }
        if assigned.is_some() {
            state
                .assigned
                .reserve(1, GFP_KERNEL_ACCOUNT)
                .map_err(|_| Errno::ENOMEM)?;
        }
        {
            let mut guard = objects.lock();
            guard.table.add_user(hwpt.id())?;
            // Pairs with `pasid_detach`: the device cannot be destroyed while attached.
            if let Err(e) = guard.table.add_user(self.id) {
                guard.table.remove_user(hwpt.id());
                return Err(e);
            }
        }
        if plan == AttachPlan::First {
            if let Err(e) = self.program_pasid(&mut state, pasid, hwpt) {
                let mut guard = objects.lock();
                guard.table.remove_user(hwpt.id());
                guard.table.remove_user(self.id);
                return Err(e);
            }
        }
        state
            .pasids
            .commit_attach(self.key(), pasid, hwpt.id(), hwpt.pasid_compat());
        if let Some(global) = assigned {
            // Room was reserved above.
            let _ = state
                .assigned
                .push((self.key(), global), GFP_KERNEL_ACCOUNT);
        }
        Ok(())
    }

    /// Attaches the group's `pasid` to `hwpt` in the iommu core (IOPF turned on first for a
    /// HWPT with a fault object) and records it; `state.pasid_attach` has room for it.
    fn program_pasid(&self, state: &mut GroupState, pasid: u32, hwpt: &Hwpt) -> Result<(), Errno> {
        crate::vendor::check_attach(self, hwpt, Target::Pasid)?;
        let handle = new_handle(self)?;
        if hwpt.has_fault() {
            fault::iopf_enable(self)?;
        }
        match PasidAttachment::attach(self.device(), pasid, hwpt.domain(), handle) {
            Ok(attachment) => {
                // Room was reserved by the caller.
                Self::record_pasid(state, hwpt.clone(), attachment);
                Ok(())
            }
            Err((e, _handle)) => {
                if hwpt.has_fault() {
                    fault::iopf_disable(self);
                }
                Err(crate::vendor::driver_refused(
                    self,
                    "PASID attach",
                    e.into(),
                ))
            }
        }
    }

    /// Records the group's attachment of `hwpt` on a PASID; `state.pasid_attach` has room for
    /// it (reserved, or the slot of the attachment it replaces).
    fn record_pasid(state: &mut GroupState, hwpt: Hwpt, attachment: PasidAttachment<IdevPtr>) {
        let _ = state.pasid_attach.push(
            PasidAttach {
                pasid: attachment.pasid(),
                hwpt,
                attachment,
            },
            GFP_KERNEL_ACCOUNT,
        );
    }

    /// Takes the group's `pasid` out of the iommu core; answers the faults still pending on its
    /// handle, as a RID detach does.
    fn unprogram_pasid(&self, state: &mut GroupState, pasid: u32) -> Option<Hwpt> {
        let pos = state.pasid_attach.iter().position(|a| a.pasid == pasid)?;
        let att = swap_remove(&mut state.pasid_attach, pos)?;
        let handle = att.attachment.detach();
        if att.hwpt.has_fault() {
            if let Some(h) = &handle {
                fault::auto_response_faults(&att.hwpt, h.as_raw());
            }
            fault::iopf_disable(self);
        }
        Some(att.hwpt)
    }

    /// Moves `pasid` of this device (and of its group) to `pt_id`; returns `pt_id`. On failure
    /// the old HWPT is attached again: see the module documentation for the window.
    pub(crate) fn pasid_replace(&self, pasid: u32, pt_id: u32) -> Result<u32, Errno> {
        check_pasid(pasid, self.max_pasids())?;
        let hwpt = self.pasid_hwpt(pt_id)?;
        let objects = self.ctx.objects();
        let mut state = self.group.state.lock();
        let rid = Self::rid_state(&state);
        let replace =
            state
                .pasids
                .check_replace(self.key(), pasid, hwpt.id(), hwpt.pasid_compat(), rid)?;
        if let Replace::Same = replace {
            return Ok(pt_id);
        }
        crate::vendor::check_attach(self, &hwpt, Target::Pasid)?;
        let Some(pos) = state.pasid_attach.iter().position(|a| a.pasid == pasid) else {
            return Err(Errno::EINVAL);
        };
        // Every device of the group on `pasid` moves its reference to the new HWPT.
        let num = state.pasids.devices_on(pasid);
        {
            let mut guard = objects.lock();
            for i in 0..num {
                if let Err(e) = guard.table.add_user(hwpt.id()) {
                    for _ in 0..i {
                        guard.table.remove_user(hwpt.id());
                    }
                    return Err(e);
                }
            }
        }
        let undo_users = || {
            let mut guard = objects.lock();
            for _ in 0..num {
                guard.table.remove_user(hwpt.id());
            }
        };
        let handle = match new_handle(self) {
            Ok(h) => h,
            Err(e) => {
                undo_users();
                return Err(e);
            }
        };
        let old = state.pasid_attach[pos].hwpt.clone();
        // IOPF stays on across the switch when both HWPTs take faults.
        let iopf_on = hwpt.has_fault() && !old.has_fault();
        if iopf_on {
            if let Err(e) = fault::iopf_enable(self) {
                undo_users();
                return Err(e);
            }
        }
        // 6.12 has no PASID replace: detach the old domain, attach the new one.
        let Some(entry) = swap_remove(&mut state.pasid_attach, pos) else {
            return Err(Errno::EINVAL);
        };
        let old_handle = entry.attachment.detach();
        match PasidAttachment::attach(self.device(), pasid, hwpt.domain(), handle) {
            Ok(attachment) => {
                // The slot just freed has room.
                Self::record_pasid(&mut state, hwpt.clone(), attachment);
            }
            Err((e, _new)) => {
                // Back to the old domain, with its own handle, which the iommu core had until
                // now.
                let back = match old_handle {
                    Some(h) => PasidAttachment::attach(self.device(), pasid, old.domain(), h),
                    None => return Err(Errno::EINVAL),
                };
                if iopf_on {
                    fault::iopf_disable(self);
                }
                undo_users();
                match back {
                    Ok(attachment) => {
                        // The slot just freed has room.
                        Self::record_pasid(&mut state, old, attachment);
                    }
                    Err((b, h)) => {
                        pr_err!(
                            "iommufd: PASID {} could not be given back its page table (errno {}); it is detached\n",
                            pasid,
                            b.to_errno()
                        );
                        if old.has_fault() {
                            fault::auto_response_faults(&old, h.as_raw());
                            fault::iopf_disable(self);
                        }
                        self.forget_pasid(&mut state, pasid);
                    }
                }
                return Err(e.into());
            }
        }
        if old.has_fault() {
            if let Some(h) = &old_handle {
                fault::auto_response_faults(&old, h.as_raw());
            }
            if !hwpt.has_fault() {
                fault::iopf_disable(self);
            }
        }
        drop(old_handle);
        state
            .pasids
            .commit_replace(pasid, hwpt.id(), hwpt.pasid_compat());
        drop(state);
        let mut guard = objects.lock();
        for _ in 0..num {
            guard.table.remove_user(old.id());
        }
        Ok(pt_id)
    }

    /// After a failed rollback: the group's `pasid` is not programmed any more, so every
    /// device on it is detached (references given back), and an assigned PASID freed.
    fn forget_pasid(&self, state: &mut GroupState, pasid: u32) {
        let objects = self.ctx.objects();
        if let Some(pos) = state.pasid_attach.iter().position(|a| a.pasid == pasid) {
            if let Some(att) = swap_remove(&mut state.pasid_attach, pos) {
                let handle = att.attachment.detach();
                if att.hwpt.has_fault() {
                    if let Some(h) = &handle {
                        fault::auto_response_faults(&att.hwpt, h.as_raw());
                    }
                    fault::iopf_disable(self);
                }
            }
        }
        while let Some(dev) = state
            .pasids
            .entries()
            .iter()
            .find(|e| e.pasid == pasid)
            .map(|e| e.dev)
        {
            if let Some(d) = state.pasids.detach(dev, pasid) {
                let mut guard = objects.lock();
                guard.table.remove_user(d.hwpt);
                guard.table.remove_user(dev);
            }
            Self::free_assigned(state, dev, pasid);
        }
    }

    /// Gives back `pasid` if [`Device::pasid_assign`] took it for `dev`.
    fn free_assigned(state: &mut GroupState, dev: u32, pasid: u32) {
        if let Some(i) = state
            .assigned
            .iter()
            .position(|(d, p)| *d == dev && p.pasid() == pasid)
        {
            // Back to the global PASID space: nothing uses it any more.
            drop(swap_remove(&mut state.assigned, i));
        }
    }

    /// Detaches `pasid` of this device; nothing if it is not attached. An assigned PASID is
    /// given back.
    pub(crate) fn pasid_detach(&self, pasid: u32) {
        let objects = self.ctx.objects();
        let hwpt_id = {
            let mut state = self.group.state.lock();
            let Some(d) = state.pasids.detach(self.key(), pasid) else {
                return;
            };
            if d.last {
                // The HWPT object itself stays alive: the reference given back below is one
                // of its users.
                drop(self.unprogram_pasid(&mut state, pasid));
            }
            Self::free_assigned(&mut state, self.key(), pasid);
            d.hwpt
        };
        let mut guard = objects.lock();
        guard.table.remove_user(hwpt_id);
        guard.table.remove_user(self.id);
    }

    /// Detaches every PASID of this device (unbind, and a context that closes).
    pub(crate) fn pasid_detach_all(&self) {
        loop {
            let next = self.group.state.lock().pasids.first_pasid_of(self.key());
            match next {
                Some(pasid) => self.pasid_detach(pasid),
                None => break,
            }
        }
    }

    /// The domain the iommu core has on `pasid` of this device's group, null if none (the
    /// later C's `iommu_attach_handle_get(group, pasid, 0)->domain`). Read with the group's
    /// lock, which every PASID change holds, so the handle cannot go away meanwhile.
    pub(crate) fn pasid_core_domain(&self, pasid: u32) -> *mut bindings::iommu_domain {
        let _state = self.group.state.lock();
        // SAFETY: Every attach and detach of this group goes through this module with the
        // group's lock held, which we hold, and with handles of ours.
        unsafe { self.group.group.handle_domain(pasid) }
    }
}
