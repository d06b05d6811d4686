// SPDX-License-Identifier: GPL-2.0

//! HW page tables (C `hw_pagetable.c`): an `iommu_domain` as an iommufd object. A *paging*
//! HWPT maps an IOAS (its domain is in the IOAS's io_pagetable); a *nested* HWPT is a
//! user-managed stage-1 table on top of a paging parent created with `NEST_PARENT`.
//!
//! Lock order: one table for the module, `Documentation/locking.md`. Here: `Ioas::hwpts` (C
//! `ioas->mutex`), then a group's lock (see [`crate::device`]), then `Ioas::iopt`, then the object
//! table's lock.

use crate::{
    ctx::{CtxRef, Ucmd},
    device::Device,
    fault::{self, Fault},
    ioas::Ioas,
    iommufd_core::{
        errno::Errno,
        pasid::IOMMU_HWPT_ALLOC_PASID,
        ucmd::hwpt::{
            HwptAlloc, HwptGetDirtyBitmap, HwptInvalidate, HwptSetDirtyTracking,
            IOMMU_HWPT_ALLOC_DIRTY_TRACKING, IOMMU_HWPT_ALLOC_NEST_PARENT, IOMMU_HWPT_DATA_NONE,
            IOMMU_HWPT_FAULT_ID_VALID,
        },
    },
    object::{self, Object},
};
use core::sync::atomic::{AtomicBool, Ordering};
use kernel::iommu::{self, Cap, Domain, UserData};
use kernel::{prelude::*, sync::Arc};

/// C `IOMMU_HWPT_INVALIDATE_ENTRY_NUM_MAX`.
const INVALIDATE_ENTRY_NUM_MAX: u32 = 1 << 19;

/// A paging HW page table (C `struct iommufd_hwpt_paging`).
pub(crate) struct HwptPaging {
    /// The object ID.
    pub(crate) id: u32,
    ctx: CtxRef,
    /// The IOAS it maps (its ID holds a user reference, given back on drop).
    pub(crate) ioas: Arc<Ioas>,
    ioas_id: u32,
    /// Whether the domain is in the IOAS's io_pagetable and hwpt list.
    in_ioas: AtomicBool,
    /// C `auto_domain`: created by an attach to an IOAS, destroyed with its last device.
    pub(crate) auto_domain: AtomicBool,
    /// C `enforce_cache_coherency`.
    enforce_cache_coherency: AtomicBool,
    /// C `msi_cookie`.
    pub(crate) msi_cookie: AtomicBool,
    /// C `nest_parent`.
    pub(crate) nest_parent: bool,
    /// C `pasid_compat`: allocated with `IOMMU_HWPT_ALLOC_PASID`, so it may serve PASIDs.
    pub(crate) pasid_compat: bool,
    // No fault object: C `iommufd_hwpt_paging_alloc()` rejects `IOMMU_HWPT_FAULT_ID_VALID`.
    // Dropped last: the domain is freed after it left the io_pagetable.
    domain: Arc<Domain>,
}

/// A nested HW page table (C `struct iommufd_hwpt_nested`).
pub(crate) struct HwptNested {
    /// The object ID.
    pub(crate) id: u32,
    ctx: CtxRef,
    /// The paging parent (its ID holds a user reference, given back on drop).
    pub(crate) parent: Arc<HwptPaging>,
    /// C `pasid_compat`: allocated with `IOMMU_HWPT_ALLOC_PASID`.
    pub(crate) pasid_compat: bool,
    domain: Arc<Domain>,
    /// C `hwpt->fault`: the fault object delivering its IOPFs, if any (holds a user
    /// reference, given back on drop). After `domain`: the domain's `fault_data` points to it,
    /// so it is dropped after the domain is freed.
    pub(crate) fault: Option<Arc<Fault>>,
}

/// A HW page table of either kind (C `struct iommufd_hw_pagetable`).
#[derive(Clone)]
pub(crate) enum Hwpt {
    Paging(Arc<HwptPaging>),
    Nested(Arc<HwptNested>),
}

impl Hwpt {
    pub(crate) fn id(&self) -> u32 {
        match self {
            Hwpt::Paging(h) => h.id,
            Hwpt::Nested(h) => h.id,
        }
    }

    pub(crate) fn domain(&self) -> &Arc<Domain> {
        match self {
            Hwpt::Paging(h) => &h.domain,
            Hwpt::Nested(h) => &h.domain,
        }
    }

    /// C `find_hwpt_paging()`: the paging HWPT itself, or a nested one's parent.
    pub(crate) fn paging(&self) -> &Arc<HwptPaging> {
        match self {
            Hwpt::Paging(h) => h,
            Hwpt::Nested(h) => &h.parent,
        }
    }

    /// The fault object this HWPT delivers its faults to (C `hwpt->fault`).
    pub(crate) fn fault(&self) -> Option<&Arc<Fault>> {
        match self {
            Hwpt::Paging(_) => None,
            Hwpt::Nested(h) => h.fault.as_ref(),
        }
    }

    /// What the vendor table needs to know of this HWPT: its allocation flags (as far as they
    /// shape the domain) and whether it is nested.
    pub(crate) fn desc(&self) -> crate::iommufd_core::vendor::HwptDesc {
        let mut flags = 0;
        if let Hwpt::Paging(h) = self {
            if h.nest_parent {
                flags |= IOMMU_HWPT_ALLOC_NEST_PARENT;
            }
            if h.domain.has_dirty_ops() {
                flags |= IOMMU_HWPT_ALLOC_DIRTY_TRACKING;
            }
        }
        if self.pasid_compat() {
            flags |= IOMMU_HWPT_ALLOC_PASID;
        }
        crate::iommufd_core::vendor::HwptDesc {
            flags,
            nested: matches!(self, Hwpt::Nested(_)),
        }
    }

    /// Whether this HWPT may be attached to a PASID (C `hwpt->pasid_compat`): it was allocated
    /// with `IOMMU_HWPT_ALLOC_PASID`. Automatic domains never are.
    pub(crate) fn pasid_compat(&self) -> bool {
        match self {
            Hwpt::Paging(h) => h.pasid_compat,
            Hwpt::Nested(h) => h.pasid_compat,
        }
    }

    /// Whether this HWPT delivers faults (C `hwpt->fault`).
    pub(crate) fn has_fault(&self) -> bool {
        self.fault().is_some()
    }

    pub(crate) fn same(&self, other: &Hwpt) -> bool {
        Arc::ptr_eq(self.domain(), other.domain())
    }

    /// Whether this is an automatically managed paging domain.
    pub(crate) fn is_auto(&self) -> bool {
        matches!(self, Hwpt::Paging(h) if h.auto_domain.load(Ordering::Relaxed))
    }

    /// The HWPT an object is, if it is one.
    pub(crate) fn from_object(obj: &Object) -> Option<Hwpt> {
        if let Some(h) = obj.downcast::<HwptPaging>() {
            return Some(Hwpt::Paging(h));
        }
        obj.downcast::<HwptNested>().map(Hwpt::Nested)
    }

    /// The table entry of this HWPT.
    pub(crate) fn object(&self) -> Object {
        match self {
            Hwpt::Paging(h) => Object::new(h.clone()),
            Hwpt::Nested(h) => Object::new(h.clone()),
        }
    }

    /// C `iommufd_hw_pagetable_put()`: drops a device's user reference; an automatic domain
    /// is destroyed with its last user.
    pub(crate) fn put(self, objects: &object::Objects) {
        let id = self.id();
        let auto = self.is_auto();
        let removed = {
            let mut guard = objects.lock();
            guard.table.remove_user(id);
            if auto {
                guard.table.remove(id, None).ok()
            } else {
                None
            }
        };
        // Destroyed (if this was the last reference) outside the table's lock.
        drop(removed);
        drop(self);
    }
}

impl Drop for HwptPaging {
    fn drop(&mut self) {
        // C `iommufd_hwpt_paging_destroy()`.
        if self.in_ioas.load(Ordering::Relaxed) {
            self.ioas.hwpt_list_remove(self.id);
            self.ioas.iopt().remove_domain(&self.domain);
        }
        let objects = self.ctx.objects();
        let mut guard = objects.lock();
        guard.table.remove_user(self.ioas_id);
    }
}

impl Drop for HwptNested {
    fn drop(&mut self) {
        // C `iommufd_hwpt_nested_destroy()`.
        let objects = self.ctx.objects();
        let mut guard = objects.lock();
        guard.table.remove_user(self.parent.id);
        if let Some(f) = &self.fault {
            guard.table.remove_user(f.id);
        }
    }
}

impl HwptPaging {
    /// The domain.
    pub(crate) fn domain(&self) -> &Arc<Domain> {
        &self.domain
    }

    /// C `iommufd_hwpt_paging_abort()`: takes the domain out of the IOAS with `ioas.hwpts`
    /// already locked (`list`), so that dropping the HWPT afterwards does not lock it.
    pub(crate) fn abort_in_list(&self, list: &mut KVec<u32>) {
        if self.in_ioas.swap(false, Ordering::Relaxed) {
            if let Some(pos) = list.iter().position(|x| *x == self.id) {
                let _ = crate::storage::swap_remove(list, pos);
            }
            self.ioas.iopt().remove_domain(&self.domain);
        }
    }

    /// C `iommufd_hwpt_paging_enforce_cc()`.
    pub(crate) fn enforce_cc(&self) -> Result<(), Errno> {
        if self.enforce_cache_coherency.load(Ordering::Relaxed) {
            return Ok(());
        }
        if self.domain.enforce_cache_coherency().is_ok() {
            self.enforce_cache_coherency.store(true, Ordering::Relaxed);
        }
        if !self.enforce_cache_coherency.load(Ordering::Relaxed) {
            return Err(Errno::EINVAL);
        }
        Ok(())
    }

    /// C `iommufd_hwpt_paging_alloc()` after its flag checks (the core's
    /// [`HwptAlloc::check_paging_flags`], made by [`alloc_ioctl`]; automatic domains have no
    /// flags), with `ioas.hwpts` locked by the caller (`list`):
    /// allocates the domain, optionally attaches `idev` right away (C `immediate_attach`,
    /// its user reference counted into `pending_users`), and adds the domain to the IOAS.
    /// The object is reserved as `id` but not published; on error everything is undone
    /// (the caller aborts the ID).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn alloc(
        ctx: CtxRef,
        id: u32,
        ioas: &Arc<Ioas>,
        ioas_id: u32,
        idev: &Device,
        flags: u32,
        immediate_attach: bool,
        user_data: Option<&UserData>,
        list: &mut KVec<u32>,
        pending_users: &mut u32,
    ) -> Result<Arc<HwptPaging>, Errno> {
        let has_alloc_user = Domain::has_alloc_user(idev.device());
        let pasid_compat = flags & IOMMU_HWPT_ALLOC_PASID != 0;
        // Last before the driver: what this IOMMU cannot do is refused with the driver's errno.
        crate::vendor::check_alloc(idev, flags, false, user_data.is_some())?;
        // `IOMMU_HWPT_ALLOC_PASID` is iommufd's own: 6.12's drivers refuse flags they do not
        // know, and any domain with `set_dev_pasid` can serve a PASID.
        let flags = flags & !IOMMU_HWPT_ALLOC_PASID;
        // Holds the IOAS; given back by `Drop` (also on the error paths below).
        ctx.objects().lock().table.add_user(ioas_id)?;
        let dom = if has_alloc_user {
            Domain::alloc_user(idev.device(), flags, None, user_data)
        } else {
            Domain::alloc_paging(idev.device())
        };
        let dom = match dom {
            Ok(d) => d,
            Err(e) => {
                let e = Errno::from(e);
                ctx.objects().lock().table.remove_user(ioas_id);
                // With driver data the refusal may be the data's, which the table does not see.
                if user_data.is_some() {
                    return Err(e);
                }
                return Err(crate::vendor::driver_refused(
                    idev,
                    "paging domain allocation",
                    e,
                ));
            }
        };
        let dom = match Arc::new(dom, GFP_KERNEL_ACCOUNT) {
            Ok(d) => d,
            Err(_) => {
                ctx.objects().lock().table.remove_user(ioas_id);
                return Err(Errno::ENOMEM);
            }
        };
        let hwpt = Arc::new(
            HwptPaging {
                id,
                ctx,
                ioas: ioas.clone(),
                ioas_id,
                in_ioas: AtomicBool::new(false),
                auto_domain: AtomicBool::new(false),
                enforce_cache_coherency: AtomicBool::new(false),
                msi_cookie: AtomicBool::new(false),
                nest_parent: flags & IOMMU_HWPT_ALLOC_NEST_PARENT != 0,
                pasid_compat,
                domain: dom,
            },
            GFP_KERNEL_ACCOUNT,
        );
        // On failure `Arc::new` dropped the `HwptPaging`, whose `Drop` gave back the IOAS
        // user and freed the domain.
        let hwpt = hwpt.map_err(|_| Errno::ENOMEM)?;
        if idev.enforce_cache_coherency() && hwpt.enforce_cc().is_err() {
            pr_warn!("iommufd: driver could not enforce cache coherency on a new domain\n");
            return Err(Errno::EINVAL);
        }
        list.reserve(1, GFP_KERNEL_ACCOUNT)
            .map_err(|_| Errno::ENOMEM)?;
        let as_hwpt = Hwpt::Paging(hwpt.clone());
        if immediate_attach {
            idev.hw_pagetable_attach(&as_hwpt, crate::device::UserRef::Pending(pending_users))?;
        }
        // Not in the `if let`: the io_pagetable lock must be released before detaching.
        let added = ioas.iopt().add_domain(hwpt.domain().clone());
        if let Err(e) = added {
            if immediate_attach {
                // The returned HWPT is ours (`as_hwpt`); its pending user is dropped with it.
                let _ = idev.hw_pagetable_detach();
                *pending_users = pending_users.saturating_sub(1);
            }
            return Err(e);
        }
        hwpt.in_ioas.store(true, Ordering::Relaxed);
        // Room was reserved above.
        let _ = list.push(id, GFP_KERNEL_ACCOUNT);
        Ok(hwpt)
    }
}

impl HwptNested {
    /// C `iommufd_hwpt_nested_alloc()`, and the fault object `fault_id` of
    /// `IOMMU_HWPT_FAULT_ID_VALID` (C `iommufd_hwpt_alloc`: looked up after the domain is
    /// allocated, `ENOENT` if there is none).
    fn alloc(
        ctx: CtxRef,
        id: u32,
        parent: &Arc<HwptPaging>,
        idev: &Device,
        flags: u32,
        user_data: &UserData,
        fault_id: Option<u32>,
    ) -> Result<Arc<HwptNested>, Errno> {
        // The flag checks were the core's `HwptAlloc::check_nested_flags` (in `alloc_ioctl`).
        if !Domain::has_alloc_user(idev.device()) {
            return Err(Errno::EOPNOTSUPP);
        }
        let pasid_compat = flags & IOMMU_HWPT_ALLOC_PASID != 0;
        if parent.auto_domain.load(Ordering::Relaxed)
            || !parent.nest_parent
            || !parent.domain().owned_by_driver_of(idev.device())
        {
            return Err(Errno::EINVAL);
        }
        crate::vendor::check_alloc(idev, flags, true, user_data.data_len() != 0)?;
        ctx.objects().lock().table.add_user(parent.id)?;
        let dom = Domain::alloc_user(
            idev.device(),
            flags & !(IOMMU_HWPT_FAULT_ID_VALID | IOMMU_HWPT_ALLOC_PASID),
            Some(parent.domain()),
            Some(user_data),
        );
        let owned = match dom {
            Ok(d) => d,
            Err(e) => {
                ctx.objects().lock().table.remove_user(parent.id);
                // Not a disagreement with the table: a nested domain's driver data (which the
                // table does not see) is the driver's to refuse.
                return Err(e.into());
            }
        };
        let undo = |owned: Domain| {
            drop(owned);
            ctx.objects().lock().table.remove_user(parent.id);
        };
        if owned.domain_type() != iommu::DOMAIN_NESTED || !owned.has_cache_invalidate_user() {
            pr_warn!("iommufd: driver returned a nested domain without invalidation\n");
            undo(owned);
            return Err(Errno::EINVAL);
        }
        let fault = match fault_id {
            None => None,
            Some(fid) => {
                let objects = ctx.objects();
                // The HWPT's user reference on the fault object (C `refcount_inc`).
                let found = object::get::<Fault>(objects, fid)
                    .and_then(|f| objects.lock().table.add_user(fid).map(|()| f.arc()));
                match found {
                    Ok(f) => {
                        // SAFETY: The domain is ours alone; the HWPT built below keeps `f`
                        // until after the domain is freed.
                        unsafe { fault::set_domain_handler(owned.as_raw(), &f) };
                        Some(f)
                    }
                    Err(e) => {
                        undo(owned);
                        return Err(e);
                    }
                }
            }
        };
        let owned = match Arc::new(owned, GFP_KERNEL_ACCOUNT) {
            Ok(d) => d,
            Err(_) => {
                let objects = ctx.objects();
                let mut guard = objects.lock();
                guard.table.remove_user(parent.id);
                if let Some(f) = &fault {
                    guard.table.remove_user(f.id);
                }
                return Err(Errno::ENOMEM);
            }
        };
        // On failure `Arc::new` dropped the `HwptNested`, whose `Drop` gave back its users
        // and freed the domain.
        Arc::new(
            HwptNested {
                id,
                ctx,
                parent: parent.clone(),
                pasid_compat,
                domain: owned,
                fault,
            },
            GFP_KERNEL_ACCOUNT,
        )
        .map_err(|_| Errno::ENOMEM)
    }

    /// The domain.
    pub(crate) fn domain(&self) -> &Arc<Domain> {
        &self.domain
    }
}

/// `IOMMU_HWPT_ALLOC` (C `iommufd_hwpt_alloc`).
pub(crate) fn alloc_ioctl(ucmd: &mut Ucmd<'_>) -> Result<(), Errno> {
    let mut cmd = HwptAlloc::decode(ucmd.buf())?;
    if (cmd.data_type == IOMMU_HWPT_DATA_NONE && cmd.data_len != 0)
        || (cmd.data_type != IOMMU_HWPT_DATA_NONE && cmd.data_len == 0)
    {
        return Err(Errno::EINVAL);
    }
    let user_data = UserData::new(cmd.data_type, cmd.data_uptr as usize, cmd.data_len as usize);
    let ctx = ucmd.ctx();
    let objects = ctx.objects();
    let idev = object::get::<Device>(objects, cmd.dev_id)?;
    let pt = object::get_any(objects, cmd.pt_id).map_err(|_| Errno::EINVAL)?;
    let has_alloc_user = Domain::has_alloc_user(idev.device());
    let pasid_capable = idev.max_pasids() > 0;
    let id = objects.lock().table.reserve()?;
    let built = if let Some(ioas) = pt.downcast::<Ioas>() {
        {
            let ioas = &ioas;
            let dirty_capable = idev.capable(Cap::DirtyTracking);
            if let Err(e) = cmd.check_paging_flags(has_alloc_user, dirty_capable, pasid_capable) {
                objects.lock().table.abort(id);
                return Err(e);
            }
            let mut list = ioas.hwpts.lock();
            let mut pending = 0u32;
            HwptPaging::alloc(
                ctx.as_ref(),
                id,
                ioas,
                pt.id(),
                &idev,
                cmd.flags,
                false,
                if cmd.data_len != 0 {
                    Some(&user_data)
                } else {
                    None
                },
                &mut list,
                &mut pending,
            )
            .and_then(|h| {
                let rc = finish_alloc(ucmd, &mut cmd, Hwpt::Paging(h.clone()), id);
                if rc.is_err() {
                    h.abort_in_list(&mut list);
                }
                rc
            })
        }
    } else if let Some(parent) = pt.downcast::<HwptPaging>() {
        {
            let parent = &parent;
            if let Err(e) = cmd.check_nested_flags(has_alloc_user, pasid_capable) {
                objects.lock().table.abort(id);
                return Err(e);
            }
            let fault_id = cmd.fault_id();
            HwptNested::alloc(
                ctx.as_ref(),
                id,
                parent,
                &idev,
                cmd.flags,
                &user_data,
                fault_id,
            )
            .and_then(|h| finish_alloc(ucmd, &mut cmd, Hwpt::Nested(h), id))
        }
    } else {
        Err(Errno::EINVAL)
    };
    if built.is_err() {
        objects.lock().table.abort(id);
    }
    built
}

/// The end of `IOMMU_HWPT_ALLOC`: the reply, publication (the fault object was taken by
/// [`HwptNested::alloc`]). On error the HWPT is dropped here (undoing everything), and the
/// caller aborts the ID.
fn finish_alloc(
    ucmd: &mut Ucmd<'_>,
    cmd: &mut HwptAlloc,
    hwpt: Hwpt,
    id: u32,
) -> Result<(), Errno> {
    cmd.out_hwpt_id = id;
    cmd.encode_response(ucmd.buf_mut());
    ucmd.respond()?;
    object::finalize(ucmd.ctx().objects(), id, hwpt.object());
    Ok(())
}

/// `IOMMU_HWPT_INVALIDATE` (C `iommufd_hwpt_invalidate`).
pub(crate) fn invalidate_ioctl(ucmd: &mut Ucmd<'_>) -> Result<(), Errno> {
    let mut cmd = match HwptInvalidate::decode(ucmd.buf()) {
        Ok(c) => c,
        Err(e) => {
            // C `goto out`: every path reports `entry_num` (0 here) back.
            HwptInvalidate::put_entry_num(ucmd.buf_mut(), 0);
            if ucmd.respond().is_err() {
                return Err(Errno::EFAULT);
            }
            return Err(e);
        }
    };
    let mut done_num = 0u32;
    let rc = (|| {
        if cmd.entry_num != 0
            && (cmd.data_uptr == 0
                || cmd.entry_len == 0
                || u64::from(cmd.entry_len) > crate::pages::PAGE_SIZE
                || cmd.entry_num > INVALIDATE_ENTRY_NUM_MAX)
        {
            return Err(Errno::EINVAL);
        }
        let hwpt = object::get::<HwptNested>(ucmd.ctx().objects(), cmd.hwpt_id)?;
        let (done, rc) = hwpt.domain().cache_invalidate_user(
            cmd.data_type,
            cmd.data_uptr as usize,
            cmd.entry_len,
            cmd.entry_num,
        );
        done_num = done;
        Ok(rc?)
    })();
    cmd.entry_num = done_num;
    cmd.encode_response(ucmd.buf_mut());
    if ucmd.respond().is_err() {
        return Err(Errno::EFAULT);
    }
    rc
}

/// `IOMMU_HWPT_SET_DIRTY_TRACKING` (C `iommufd_hwpt_set_dirty_tracking`).
pub(crate) fn set_dirty_tracking_ioctl(ucmd: &mut Ucmd<'_>) -> Result<(), Errno> {
    let cmd = HwptSetDirtyTracking::decode(ucmd.buf())?;
    let hwpt = object::get::<HwptPaging>(ucmd.ctx().objects(), cmd.hwpt_id)?;
    let enable = cmd.flags & 1 != 0;
    let iopt = hwpt.ioas.iopt();
    let rc = iopt.set_dirty_tracking(hwpt.domain(), enable);
    drop(iopt);
    rc
}

/// `IOMMU_HWPT_GET_DIRTY_BITMAP` (C `iommufd_hwpt_get_dirty_bitmap`).
pub(crate) fn get_dirty_bitmap_ioctl(ucmd: &mut Ucmd<'_>) -> Result<(), Errno> {
    let cmd = HwptGetDirtyBitmap::decode(ucmd.buf())?;
    let hwpt = object::get::<HwptPaging>(ucmd.ctx().objects(), cmd.hwpt_id)?;
    let iopt = hwpt.ioas.iopt();
    let rc = iopt.read_and_clear_dirty(hwpt.domain(), &cmd);
    drop(iopt);
    rc
}

impl crate::object::ObjectKind for HwptPaging {
    const TYPE: crate::object::ObjType = crate::object::ObjType::HwptPaging;
}

impl crate::object::ObjectKind for HwptNested {
    const TYPE: crate::object::ObjType = crate::object::ObjType::HwptNested;
}
