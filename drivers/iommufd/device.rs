// SPDX-License-Identifier: GPL-2.0

//! Devices (C `device.c`, the physical-device half): bind a device to a context with DMA
//! ownership, attach it to an IOAS (an automatic domain) or a HW page table, replace and
//! detach; `IOMMU_GET_HW_INFO`. Attachment is per IOMMU group: the first device of the group
//! attaches the group, the others follow.
//!
//! Lock order: one table for the module, `Documentation/locking.md`. Here: `Ioas::hwpts` (C
//! `ioas->mutex`), `Group::state` (C `igroup->lock`), then either `Ioas::iopt` or a fault object's
//! locks (see [`crate::fault`]), the object table's lock.

use crate::{
    ctx::{CtxRef, Ucmd},
    fault,
    hw_pagetable::{Hwpt, HwptPaging},
    ioas::Ioas,
    iommufd_core::{
        errno::Errno,
        pasid::PasidTable,
        ucmd::device::HwInfo,
        vendor::{Target, Vendor},
    },
    object::{self, Object},
    pasid::PasidAttach,
    storage::{swap_remove, KStorage},
    user,
};
use core::sync::atomic::{AtomicU32, Ordering};
use kernel::iommu::{self, Cap, DmaOwner, GroupAttachment};
use kernel::{
    bindings, new_mutex,
    prelude::*,
    sync::{Arc, Mutex},
    types::ARef,
};

/// `IOMMU_HW_CAP_DIRTY_TRACKING`.
const HW_CAP_DIRTY_TRACKING: u64 = 1 << 0;

/// The device an attach handle belongs to (C `struct iommufd_attach_handle`'s `idev`), so
/// that fault delivery can find it.
///
/// # Invariants
///
/// Points to a live [`Device`] for as long as the handle is attached: a device detaches (and
/// drops) every handle it attached before it is dropped.
#[derive(Clone, Copy)]
pub(crate) struct IdevPtr(pub(crate) *const Device);

// SAFETY: Only a pointer to a `Device`, which is `Send` and `Sync`.
unsafe impl Send for IdevPtr {}
// SAFETY: As for `Send`.
unsafe impl Sync for IdevPtr {}

/// The iommu core's attach handle as iommufd uses it (C `struct iommufd_attach_handle`).
pub(crate) type AttachHandle = iommu::AttachHandle<IdevPtr>;

/// A handle for `idev`'s attachment of its group or of a PASID, before the core fills it.
pub(crate) fn new_handle(idev: &Device) -> Result<Pin<KBox<AttachHandle>>, Errno> {
    Ok(AttachHandle::new(IdevPtr(idev), GFP_KERNEL)?)
}

/// What a group's lock protects (C: `igroup->hwpt`, `device_list`, `sw_msi_start`, and the
/// later C's `igroup->pasid_attach` for the PASIDs).
pub(crate) struct GroupState {
    /// The HW page table the group's RID is attached to.
    pub(crate) hwpt: Option<Hwpt>,
    /// The PASID attachments of the group's devices (devices and HWPTs by object ID): the
    /// core's rules decide every PASID attach, replace and detach, and the RID's lockout.
    pub(crate) pasids: PasidTable<u32, u32, KStorage>,
    /// Per PASID the group is attached on: the HWPT and the handle given to the iommu core.
    pub(crate) pasid_attach: KVec<PasidAttach>,
    /// PASIDs that [`Device::pasid_assign`] took from the global PASID space, by device ID:
    /// freed when detached.
    pub(crate) assigned: KVec<(u32, iommu::GlobalPasid)>,
    /// The group's attachment to `hwpt`'s domain, with the handle given to the iommu core.
    attached: Option<GroupAttachment<IdevPtr>>,
    /// The attached devices (C `device_list`): by address, with the device for the ones
    /// whose reserved regions a replace moves.
    devices: KVec<(usize, ARef<kernel::device::Device>)>,
    /// C `sw_msi_start`: the software MSI window of the group's devices.
    sw_msi_start: Option<u64>,
}

/// An IOMMU group as a context sees it (C `struct iommufd_group`).
#[pin_data]
pub(crate) struct Group {
    pub(crate) group: ARef<iommu::Group>,
    #[pin]
    pub(crate) state: Mutex<GroupState>,
}

impl Group {
    /// The iommu group.
    pub(crate) fn raw(&self) -> *mut bindings::iommu_group {
        self.group.as_raw()
    }
}

/// C `iommufd_get_group()`: the context's group object for `dev`'s group, created on first
/// use. Each bound device counts once in `CtxObjects::groups`.
fn get_group(ctx: CtxRef, dev: &kernel::device::Device) -> Result<Arc<Group>, Errno> {
    let group = iommu::Group::get(dev).ok_or(Errno::ENODEV)?;
    let objects = ctx.objects();
    let mut guard = objects.lock();
    let key = group.as_raw() as usize;
    if let Some(entry) = guard.groups.iter_mut().find(|e| e.0 == key) {
        // Only this file puts groups in the table, and only `Group`s.
        if let Some(found) = object::downcast_any::<Group>(&entry.1) {
            entry.2 += 1;
            drop(guard);
            // Our group object already holds a reference; the one just taken is put here.
            drop(group);
            return Ok(found);
        }
    }
    let new = Arc::pin_init(
        pin_init!(Group {
            group,
            state <- new_mutex!(
                GroupState {
                    hwpt: None,
                    pasids: PasidTable::new(&KStorage),
                    pasid_attach: KVec::new(),
                    assigned: KVec::new(),
                    attached: None,
                    devices: KVec::new(),
                    sw_msi_start: None,
                },
                "iommufd_group::lock"
            ),
        }),
        GFP_KERNEL_ACCOUNT,
    );
    let new = match new {
        Ok(g) => g,
        Err(_) => {
            // The group reference is put outside the table's lock.
            drop(guard);
            return Err(Errno::ENOMEM);
        }
    };
    if guard
        .groups
        .push((key, new.clone(), 1), GFP_KERNEL_ACCOUNT)
        .is_err()
    {
        drop(guard);
        // `new` owns the reference and puts it when dropped here.
        return Err(Errno::ENOMEM);
    }
    Ok(new)
}

/// C `iommufd_put_group()`: one bound device less; the group leaves the context with its
/// last.
fn put_group(ctx: CtxRef, group: &Arc<Group>) {
    let objects = ctx.objects();
    let removed = {
        let mut guard = objects.lock();
        let key = group.raw() as usize;
        let pos = guard.groups.iter().position(|e| e.0 == key);
        match pos {
            Some(i) => {
                let zero = guard.groups.get_mut(i).is_some_and(|e| {
                    e.2 = e.2.saturating_sub(1);
                    e.2 == 0
                });
                if zero {
                    swap_remove(&mut guard.groups, i)
                } else {
                    None
                }
            }
            None => None,
        }
    };
    // The group reference is put outside the table's lock.
    drop(removed);
}

/// Where an attachment's user reference on the HWPT goes: the object table, or a count
/// for a HWPT that is not published yet (added when it is).
pub(crate) enum UserRef<'a> {
    Table,
    Pending(&'a mut u32),
}

/// A device bound to a context (C `struct iommufd_device`).
///
/// # Invariants
///
/// We own the device's DMA (`dma`) until `Drop` releases it.
pub(crate) struct Device {
    /// The object ID.
    pub(crate) id: u32,
    pub(crate) ctx: CtxRef,
    /// The DMA ownership claimed for the context, and the device, which its driver (or the
    /// selftest) unbinds before it goes away.
    dma: DmaOwner,
    pub(crate) group: Arc<Group>,
    enforce_cache_coherency: bool,
    /// A selftest mock device: does not hold the context (C `iommufd_selftest_is_mock_dev`).
    is_mock: bool,
    /// The IOMMU behind the device, for the vendor table ([`crate::vendor`]); `None` for one
    /// the table does not know.
    vendor: Option<Vendor>,
    /// C `iopf_enabled`: how often IOPF was turned on ([`fault::iopf_enable`]). Only changed
    /// with the group's lock (`Group::state`) held, which serializes it like C `iopf_lock`.
    pub(crate) iopf_enabled: AtomicU32,
}

impl Drop for Device {
    fn drop(&mut self) {
        // Unbind detached every PASID; this only matters for a device whose driver never
        // unbound it (its context is closing). The iommu core refuses to release DMA ownership
        // of a group with PASIDs attached.
        self.pasid_detach_all();
        // C `iommufd_device_destroy()`.
        self.dma.release();
        put_group(self.ctx, &self.group);
        if !self.is_mock {
            self.ctx.put_file();
        }
    }
}

impl Device {
    /// The device.
    pub(crate) fn device(&self) -> &kernel::device::Device {
        self.dma.device()
    }

    /// The `struct device`, for C APIs that take one.
    pub(crate) fn dev(&self) -> *mut bindings::device {
        iommu::dev_raw(self.device())
    }

    /// The IOMMU behind the device, as the vendor table knows it.
    pub(crate) fn vendor(&self) -> Option<&Vendor> {
        self.vendor.as_ref()
    }

    /// The device's PASID count (`dev->iommu->max_pasids`); 0: no PASID support.
    pub(crate) fn max_pasids(&self) -> u32 {
        iommu::dev::max_pasids(self.device())
    }

    /// The device's key in the group's PASID table: its object ID, unique in the context
    /// (to which the group object belongs).
    pub(crate) fn key(&self) -> u32 {
        self.id
    }

    /// C `device_iommu_capable()`.
    pub(crate) fn capable(&self, cap: Cap) -> bool {
        iommu::dev::capable(self.device(), cap)
    }

    /// Whether this is a selftest mock device.
    pub(crate) fn is_mock(&self) -> bool {
        self.is_mock
    }

    /// C `enforce_cache_coherency`.
    pub(crate) fn enforce_cache_coherency(&self) -> bool {
        self.enforce_cache_coherency
    }

    /// C `iommufd_device_bind()`: checks coherency and MSI isolation, claims DMA ownership
    /// and publishes the device object, on which the caller (the driver) holds a user
    /// reference until [`Device::unbind`].
    ///
    /// # Safety
    ///
    /// `dev` must be a valid device that stays valid until `unbind` returns.
    pub(crate) unsafe fn bind(
        ctx: CtxRef,
        dev: &kernel::device::Device,
        is_mock: bool,
    ) -> Result<Arc<Device>, Errno> {
        if !iommu::dev::capable(dev, Cap::CacheCoherency) {
            return Err(Errno::EINVAL);
        }
        let group = get_group(ctx, dev)?;
        if !is_mock && !group.group.has_isolated_msi() {
            if !crate::allow_unsafe_interrupts() {
                put_group(ctx, &group);
                return Err(Errno::EPERM);
            }
            pr_warn!(
                "iommufd: MSI interrupts are not secure, they cannot be isolated by the platform\n"
            );
        }
        let dma = match DmaOwner::claim(dev, ctx.as_ptr().cast()) {
            Ok(d) => d,
            Err(e) => {
                put_group(ctx, &group);
                return Err(e.into());
            }
        };
        let objects = ctx.objects();
        // Not in the `match`: the error path takes the table's lock again.
        let reserved = objects.lock().table.reserve();
        let id = match reserved {
            Ok(id) => id,
            Err(e) => {
                drop(dma);
                put_group(ctx, &group);
                return Err(e);
            }
        };
        let enforce = iommu::dev::capable(dev, Cap::EnforceCacheCoherency);
        #[cfg(CONFIG_IOMMUFD_TEST)]
        // SAFETY: A mock device is live while bound (caller's guarantee).
        let mock_flags =
            is_mock.then(|| unsafe { crate::mock::mock_dev_flags(iommu::dev_raw(dev)) });
        #[cfg(not(CONFIG_IOMMUFD_TEST))]
        let mock_flags = None;
        let vendor = crate::vendor::identify(dev, mock_flags);
        if !is_mock {
            ctx.get_file();
        }
        let idev = Arc::new(
            Device {
                id,
                ctx,
                dma,
                group,
                enforce_cache_coherency: enforce,
                is_mock,
                vendor,
                iopf_enabled: AtomicU32::new(0),
            },
            GFP_KERNEL_ACCOUNT,
        );
        let idev = match idev {
            Ok(d) => d,
            Err(_) => {
                // The `Device` value was dropped: its `Drop` released the DMA ownership, the
                // group and the context reference. Only the ID is left.
                objects.lock().table.abort(id);
                return Err(Errno::ENOMEM);
            }
        };
        let mut guard = objects.lock();
        if guard.table.finalize(id, Object::new(idev.clone())).is_ok() {
            // The calling driver is a user until unbind.
            let _ = guard.table.add_user(id);
        }
        Ok(idev)
    }

    /// C `iommufd_device_unbind()` (`iommufd_object_destroy_user`): drops the driver's
    /// reference and destroys the object, waiting for in-flight lookups to finish.
    pub(crate) fn unbind(self: Arc<Self>) {
        // The PASIDs go with the device (the RID's attachment is the driver's to undo).
        self.pasid_detach_all();
        let objects = self.ctx.objects();
        // Drops the driver's reference and waits for ioctls in flight (short-term references),
        // as C's `iommufd_object_destroy_user`.
        match objects.destroy_user(self.id, None) {
            Ok(obj) => drop(obj),
            // Still attached (a caller bug) or a lookup that never ended: C warns and leaves
            // the object to the file's release.
            Err(Errno::EBUSY) => {
                pr_warn!(
                    "iommufd: unbind of device {} that is still in use\n",
                    self.id
                )
            }
            Err(_) => {}
        }
        drop(self);
    }

    /// C `iommufd_group_setup_msi()`.
    fn setup_msi(state: &GroupState, paging: &HwptPaging) -> Result<(), Errno> {
        if let Some(start) = state.sw_msi_start {
            if !paging.msi_cookie.load(Ordering::Relaxed) {
                paging.domain().get_msi_cookie(start)?;
                paging.msi_cookie.store(true, Ordering::Relaxed);
            }
        }
        Ok(())
    }

    /// C `iommufd_device_attach_reserved_iova()`.
    fn attach_reserved_iova(
        &self,
        state: &mut GroupState,
        paging: &HwptPaging,
    ) -> Result<(), Errno> {
        let sw_msi = paging.ioas.iopt().enforce_dev_resv_regions(self.device())?;
        if sw_msi.is_some() {
            state.sw_msi_start = sw_msi;
        }
        if state.devices.is_empty() {
            if let Err(e) = Self::setup_msi(state, paging) {
                paging.ioas.iopt().remove_dev_reserved(self.device());
                return Err(e);
            }
        }
        Ok(())
    }

    /// C `iommufd_hw_pagetable_attach()`.
    pub(crate) fn hw_pagetable_attach(&self, hwpt: &Hwpt, users: UserRef<'_>) -> Result<(), Errno> {
        let mut state = self.group.state.lock();
        if let Some(cur) = &state.hwpt {
            if !cur.same(hwpt) {
                return Err(Errno::EINVAL);
            }
        }
        let paging = hwpt.paging().clone();
        self.attach_reserved_iova(&mut state, &paging)?;
        let rc = (|| {
            state
                .devices
                .reserve(1, GFP_KERNEL_ACCOUNT)
                .map_err(|_| Errno::ENOMEM)?;
            if let UserRef::Table = users {
                self.ctx.objects().lock().table.add_user(hwpt.id())?;
            }
            if state.devices.is_empty() {
                if let Err(e) = self.attach_device(&mut state, hwpt) {
                    if let UserRef::Table = users {
                        self.ctx.objects().lock().table.remove_user(hwpt.id());
                    }
                    return Err(e);
                }
                state.hwpt = Some(hwpt.clone());
            }
            Ok(())
        })();
        if let Err(e) = rc {
            paging.ioas.iopt().remove_dev_reserved(self.device());
            return Err(e);
        }
        if let UserRef::Pending(n) = users {
            *n += 1;
        }
        // Room was reserved above.
        let _ = state.devices.push(
            (self as *const Device as usize, self.device().into()),
            GFP_KERNEL_ACCOUNT,
        );
        Ok(())
    }

    /// C `iommufd_hwpt_attach_device()`: attaches the group, turning on IOPF for a HWPT
    /// with a fault object.
    fn attach_device(&self, state: &mut GroupState, hwpt: &Hwpt) -> Result<(), Errno> {
        // The whole-device attach of a HWPT that cannot serve PASIDs locks PASIDs out.
        state.pasids.check_rid(hwpt.pasid_compat())?;
        crate::vendor::check_attach(self, hwpt, Target::Rid)?;
        let handle = new_handle(self)?;
        if hwpt.has_fault() {
            fault::iopf_enable(self)?;
        }
        match iommu::Group::attach(&self.group.group, hwpt.domain(), handle) {
            Ok(attached) => {
                state.attached = Some(attached);
                Ok(())
            }
            Err((e, _handle)) => {
                if hwpt.has_fault() {
                    fault::iopf_disable(self);
                }
                Err(crate::vendor::driver_refused(self, "RID attach", e.into()))
            }
        }
    }

    /// C `iommufd_hw_pagetable_detach()`: returns the HWPT the device was attached to, whose
    /// user reference the caller gives back ([`Hwpt::put`]).
    pub(crate) fn hw_pagetable_detach(&self) -> Option<Hwpt> {
        let mut state = self.group.state.lock();
        let me = self as *const Device as usize;
        let pos = state.devices.iter().position(|d| d.0 == me)?;
        let _ = swap_remove(&mut state.devices, pos);
        let hwpt = state.hwpt.clone()?;
        if state.devices.is_empty() {
            let handle = state.attached.take().and_then(GroupAttachment::detach);
            state.hwpt = None;
            // C `iommufd_hwpt_detach_device()`: answer what is pending on the handle, then
            // free it.
            if hwpt.has_fault() {
                if let Some(h) = &handle {
                    fault::auto_response_faults(&hwpt, h.as_raw());
                }
                fault::iopf_disable(self);
            }
            drop(handle);
        }
        hwpt.paging().ioas.iopt().remove_dev_reserved(self.device());
        Some(hwpt)
    }

    /// C `iommufd_device_do_replace()`: returns the HWPT replaced (the caller puts it).
    fn do_replace(&self, hwpt: &Hwpt, users: UserRef<'_>) -> Result<Option<Hwpt>, Errno> {
        let mut state = self.group.state.lock();
        let Some(old) = state.hwpt.clone() else {
            return Err(Errno::EINVAL);
        };
        let me = self as *const Device as usize;
        if !state.devices.iter().any(|d| d.0 == me) {
            return Err(Errno::EINVAL);
        }
        if old.same(hwpt) {
            return Ok(None);
        }
        // As in `attach_device`: not while PASIDs are attached, unless PASID-compatible.
        state.pasids.check_rid(hwpt.pasid_compat())?;
        crate::vendor::check_attach(self, hwpt, Target::Rid)?;
        let paging = hwpt.paging().clone();
        let old_paging = old.paging().clone();
        let same_ioas = Arc::ptr_eq(&paging.ioas, &old_paging.ioas);
        // C `iommufd_group_do_replace_reserved_iova()`.
        let mut reserved: usize = 0;
        let rc = (|| {
            if !same_ioas {
                for d in state.devices.iter() {
                    paging.ioas.iopt().enforce_dev_resv_regions(&d.1)?;
                    reserved += 1;
                }
            }
            Self::setup_msi(&state, &paging)
        })();
        let unreserve = |state: &GroupState, n: usize| {
            for d in state.devices.iter().take(n) {
                paging.ioas.iopt().remove_dev_reserved(&d.1);
            }
        };
        if let Err(e) = rc {
            unreserve(&state, reserved);
            return Err(e);
        }
        let handle = match new_handle(self) {
            Ok(h) => h,
            Err(e) => {
                unreserve(&state, reserved);
                return Err(e);
            }
        };
        // C `iommufd_hwpt_replace_device()`: IOPF goes on with the first HWPT with a fault
        // object, off with the last.
        let iopf_on = hwpt.has_fault() && !old.has_fault();
        if iopf_on {
            if let Err(e) = fault::iopf_enable(self) {
                unreserve(&state, reserved);
                return Err(e);
            }
        }
        let num = state.devices.len() as u32;
        if let UserRef::Table = users {
            let mut guard = self.ctx.objects().lock();
            for i in 0..num {
                if let Err(e) = guard.table.add_user(hwpt.id()) {
                    for _ in 0..i {
                        guard.table.remove_user(hwpt.id());
                    }
                    drop(guard);
                    if iopf_on {
                        fault::iopf_disable(self);
                    }
                    unreserve(&state, reserved);
                    return Err(e);
                }
            }
        }
        let replaced = match state.attached.as_mut() {
            Some(a) => a.replace(hwpt.domain(), handle),
            // Attached (`state.hwpt` is set), so the attachment is there.
            None => Err(EINVAL),
        };
        let old_handle = match replaced {
            Ok(h) => h,
            Err(e) => {
                if let UserRef::Table = users {
                    let mut guard = self.ctx.objects().lock();
                    for _ in 0..num {
                        guard.table.remove_user(hwpt.id());
                    }
                }
                if iopf_on {
                    fault::iopf_disable(self);
                }
                unreserve(&state, reserved);
                return Err(crate::vendor::driver_refused(self, "RID replace", e.into()));
            }
        };
        if let UserRef::Pending(n) = users {
            *n += num;
        }
        if !same_ioas {
            for d in state.devices.iter() {
                old_paging.ioas.iopt().remove_dev_reserved(&d.1);
            }
        }
        state.hwpt = Some(hwpt.clone());
        if old.has_fault() {
            if let Some(h) = &old_handle {
                fault::auto_response_faults(&old, h.as_raw());
            }
            if !hwpt.has_fault() {
                fault::iopf_disable(self);
            }
        }
        drop(old_handle);
        // The devices' references move to the new HWPT; one stays for the caller's put.
        if num > 1 {
            let mut guard = self.ctx.objects().lock();
            for _ in 0..num - 1 {
                guard.table.remove_user(old.id());
            }
        }
        Ok(Some(old))
    }

    /// C `iommufd_device_auto_get_domain()`: an automatic domain of `ioas` for this device,
    /// reusing a compatible one. Returns the HWPT ID and, for a replace, the HWPT replaced.
    fn auto_get_domain(
        &self,
        ioas: &Arc<Ioas>,
        ioas_id: u32,
        replace: bool,
    ) -> Result<(u32, Option<Hwpt>), Errno> {
        let objects = self.ctx.objects();
        let mut list = ioas.hwpts.lock();
        // `list` stays locked (C `ioas->mutex`) for the whole search and allocation.
        for i in 0..list.len() {
            let Some(&id) = list.get(i) else {
                break;
            };
            let Ok(obj) = object::lock::<HwptPaging>(objects, id) else {
                continue;
            };
            if !obj.auto_domain.load(Ordering::Relaxed) || !Arc::ptr_eq(&obj.ioas, ioas) {
                continue;
            }
            let hwpt = Hwpt::Paging(obj.arc());
            let rc = if replace {
                self.do_replace(&hwpt, UserRef::Table)
            } else {
                self.hw_pagetable_attach(&hwpt, UserRef::Table)
                    .map(|()| None)
            };
            match rc {
                // Incompatible with this device: try the next.
                Err(Errno::EINVAL) => continue,
                Err(e) => return Err(e),
                Ok(old) => return Ok((id, old)),
            }
        }
        let id = objects.lock().table.reserve()?;
        let mut pending = 0u32;
        let rc = HwptPaging::alloc(
            self.ctx,
            id,
            ioas,
            ioas_id,
            self,
            0,
            !replace,
            None,
            &mut list,
            &mut pending,
        )
        .and_then(|hwpt| {
            let h = Hwpt::Paging(hwpt.clone());
            let old = if replace {
                match self.do_replace(&h, UserRef::Pending(&mut pending)) {
                    Ok(old) => old,
                    Err(e) => {
                        // Undo what `Drop` would, with the list lock we hold.
                        hwpt.abort_in_list(&mut list);
                        return Err(e);
                    }
                }
            } else {
                None
            };
            hwpt.auto_domain.store(true, Ordering::Relaxed);
            Ok((h, old))
        });
        match rc {
            Ok((h, old)) => {
                let mut guard = objects.lock();
                if guard.table.finalize(id, h.object()).is_ok() {
                    for _ in 0..pending {
                        let _ = guard.table.add_user(id);
                    }
                }
                Ok((id, old))
            }
            Err(e) => {
                objects.lock().table.abort(id);
                Err(e)
            }
        }
    }

    /// C `iommufd_device_change_pt()`.
    fn change_pt(&self, pt_id: u32, replace: bool) -> Result<u32, Errno> {
        let objects = self.ctx.objects();
        let pt = object::get_any(objects, pt_id)?;
        let (out, old) = if let Some(hwpt) = Hwpt::from_object(&pt) {
            self.attach_or_replace(&hwpt, replace)
                .map(|old| (pt_id, old))?
        } else if let Some(ioas) = pt.downcast::<Ioas>() {
            self.auto_get_domain(&ioas, pt_id, replace)?
        } else {
            return Err(Errno::EINVAL);
        };
        drop(pt);
        // The replaced HWPT is destroyed after everything is unlocked.
        if let Some(old) = old {
            old.put(objects);
        }
        Ok(out)
    }

    fn attach_or_replace(&self, hwpt: &Hwpt, replace: bool) -> Result<Option<Hwpt>, Errno> {
        if replace {
            self.do_replace(hwpt, UserRef::Table)
        } else {
            self.hw_pagetable_attach(hwpt, UserRef::Table)
                .map(|()| None)
        }
    }

    /// C `iommufd_device_attach()`: attach to an IOAS (automatic domain) or a HWPT; returns
    /// the HWPT ID. Undone by [`Device::detach`].
    pub(crate) fn attach(&self, pt_id: u32) -> Result<u32, Errno> {
        let id = self.change_pt(pt_id, false)?;
        // Pairs with detach: catches callers destroying an attached device.
        let _ = self.ctx.objects().lock().table.add_user(self.id);
        Ok(id)
    }

    /// C `iommufd_device_replace()`.
    pub(crate) fn replace(&self, pt_id: u32) -> Result<u32, Errno> {
        self.change_pt(pt_id, true)
    }

    /// C `iommufd_device_detach()`.
    pub(crate) fn detach(&self) {
        if let Some(hwpt) = self.hw_pagetable_detach() {
            hwpt.put(self.ctx.objects());
        }
        self.ctx.objects().lock().table.remove_user(self.id);
    }
}

/// `IOMMU_GET_HW_INFO` (C `iommufd_get_hw_info`).
pub(crate) fn get_hw_info_ioctl(ucmd: &mut Ucmd<'_>) -> Result<(), Errno> {
    let mut cmd = HwInfo::decode(ucmd.buf())?;
    let idev = object::get::<Device>(ucmd.ctx().objects(), cmd.dev_id)?;
    let info = iommu::HwInfo::get(idev.device())?;
    let (data, ty): (&[u8], u32) = match &info {
        Some(i) => (i.data(), i.data_type()),
        None => (&[], 0),
    };
    if info.is_some() && ty == 0 {
        return Err(Errno::ENODEV);
    }
    // The 6.12.117 uAPI: a requested type the driver does not report.
    cmd.check_requested_type(ty)?;
    let len = data.len() as u32;
    let copy_len = cmd.data_len.min(len) as usize;
    if copy_len > 0 {
        user::write(cmd.data_uptr as usize, &data[..copy_len])?;
    }
    if copy_len < cmd.data_len as usize {
        let at = user::offset(cmd.data_uptr as usize, copy_len)?;
        user::clear(at, cmd.data_len as usize - copy_len)?;
    }
    drop(info);
    cmd.data_len = len;
    cmd.out_data_type = ty;
    cmd.out_capabilities = 0;
    if idev.capable(Cap::DirtyTracking) {
        cmd.out_capabilities |= HW_CAP_DIRTY_TRACKING;
    }
    let max_pasids = idev.max_pasids();
    cmd.out_max_pasid_log2 = if max_pasids != 0 {
        (31 - max_pasids.leading_zeros()) as u8
    } else {
        0
    };
    cmd.encode_response(ucmd.buf_mut());
    ucmd.respond()
}

impl crate::object::ObjectKind for Device {
    const TYPE: crate::object::ObjType = crate::object::ObjType::Device;
}
