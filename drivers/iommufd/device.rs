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
    error::ptr_err,
    fault,
    hw_pagetable::{dev_iommu_ops, Hwpt, HwptPaging},
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
use kernel::{
    bindings, new_mutex,
    prelude::*,
    sync::{Arc, Mutex},
};

/// `IOMMU_HW_CAP_DIRTY_TRACKING`.
const HW_CAP_DIRTY_TRACKING: u64 = 1 << 0;

/// C `struct iommufd_attach_handle`: the iommu core's attach handle and the device, so that
/// fault delivery can find the device.
#[repr(C)]
pub(crate) struct AttachHandle {
    handle: bindings::iommu_attach_handle,
    idev: *const Device,
}

impl AttachHandle {
    /// A handle for `idev`'s attachment of its group, before the iommu core fills it.
    pub(crate) fn new(idev: &Device) -> Result<KBox<AttachHandle>, Errno> {
        KBox::new(
            AttachHandle {
                handle: bindings::iommu_attach_handle {
                    domain: core::ptr::null_mut(),
                },
                idev,
            },
            GFP_KERNEL,
        )
        .map_err(|_| Errno::ENOMEM)
    }

    /// The device that attached the group with this handle (C `handle->idev`).
    pub(crate) fn idev(&self) -> *const Device {
        self.idev
    }

    /// The iommu core's handle, as the core's IOPF groups point to it.
    pub(crate) fn raw(&self) -> *mut bindings::iommu_attach_handle {
        core::ptr::addr_of!(self.handle).cast_mut()
    }
}

pub(crate) mod internal {
    //! The iommu core's `IOMMUFD_INTERNAL` functions (declared in `drivers/iommu/iommu-priv.h`,
    //! which bindgen does not see).
    use kernel::bindings::{iommu_attach_handle, iommu_domain, iommu_group};
    use kernel::ffi::{c_int, c_uint};

    #[allow(improper_ctypes)]
    extern "C" {
        /// The handle attached on `pasid` of `group` (`ERR_PTR(-ENOENT)` if none).
        pub(crate) fn iommu_attach_handle_get(
            group: *mut iommu_group,
            pasid: u32,
            type_: c_uint,
        ) -> *mut iommu_attach_handle;
        pub(super) fn iommu_attach_group_handle(
            domain: *mut iommu_domain,
            group: *mut iommu_group,
            handle: *mut iommu_attach_handle,
        ) -> c_int;
        pub(super) fn iommu_detach_group_handle(domain: *mut iommu_domain, group: *mut iommu_group);
        pub(super) fn iommu_replace_group_handle(
            group: *mut iommu_group,
            new_domain: *mut iommu_domain,
            handle: *mut iommu_attach_handle,
        ) -> c_int;
    }
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
    pub(crate) assigned: KVec<(u32, u32)>,
    /// The attach handle given to the iommu core for `hwpt`.
    handle: Option<KBox<AttachHandle>>,
    /// The attached devices (C `device_list`), by address.
    devices: KVec<usize>,
    /// C `sw_msi_start`: the software MSI window of the group's devices.
    sw_msi_start: Option<u64>,
}

/// An IOMMU group as a context sees it (C `struct iommufd_group`).
///
/// # Invariants
///
/// `group` holds a reference (`iommu_group_get`), put on drop.
#[pin_data(PinnedDrop)]
pub(crate) struct Group {
    group: *mut bindings::iommu_group,
    #[pin]
    pub(crate) state: Mutex<GroupState>,
}

// SAFETY: The iommu group is refcounted and usable from any thread; our state is under a lock.
unsafe impl Send for Group {}
// SAFETY: As for `Send`.
unsafe impl Sync for Group {}

#[pinned_drop]
impl PinnedDrop for Group {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: By the type invariants we hold one reference.
        unsafe { bindings::iommu_group_put(self.group) };
    }
}

impl Group {
    /// The iommu group.
    pub(crate) fn raw(&self) -> *mut bindings::iommu_group {
        self.group
    }
}

/// C `iommufd_get_group()`: the context's group object for `dev`'s group, created on first
/// use. Each bound device counts once in `CtxObjects::groups`.
fn get_group(ctx: CtxRef, dev: *mut bindings::device) -> Result<Arc<Group>, Errno> {
    // SAFETY: `dev` is a valid device (caller's guarantee in `bind`).
    let group = unsafe { bindings::iommu_group_get(dev) };
    if group.is_null() {
        return Err(Errno::ENODEV);
    }
    let objects = ctx.objects();
    let mut guard = objects.lock();
    if let Some(entry) = guard.groups.iter_mut().find(|(g, _)| g.group == group) {
        entry.1 += 1;
        let found = entry.0.clone();
        drop(guard);
        // SAFETY: Our group object already holds a reference; drop the one just taken.
        unsafe { bindings::iommu_group_put(group) };
        return Ok(found);
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
                    handle: None,
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
            drop(guard);
            // SAFETY: The reference taken above, not stored.
            unsafe { bindings::iommu_group_put(group) };
            return Err(Errno::ENOMEM);
        }
    };
    if guard
        .groups
        .push((new.clone(), 1), GFP_KERNEL_ACCOUNT)
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
        let pos = guard.groups.iter().position(|(g, _)| Arc::ptr_eq(g, group));
        match pos {
            Some(i) => {
                let zero = guard.groups.get_mut(i).is_some_and(|e| {
                    e.1 = e.1.saturating_sub(1);
                    e.1 == 0
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
/// `dev` is valid from bind to the drop of this object: its driver (or the selftest) calls
/// unbind before the device goes away. While bound we own its DMA (`iommu_device_claim_dma_owner`).
pub(crate) struct Device {
    /// The object ID.
    pub(crate) id: u32,
    pub(crate) ctx: CtxRef,
    dev: *mut bindings::device,
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

// SAFETY: `struct device` is refcounted and usable from any thread; the rest is immutable.
unsafe impl Send for Device {}
// SAFETY: As for `Send`.
unsafe impl Sync for Device {}

impl Drop for Device {
    fn drop(&mut self) {
        // Unbind detached every PASID; this only matters for a device whose driver never
        // unbound it (its context is closing). The iommu core refuses to release DMA ownership
        // of a group with PASIDs attached.
        self.pasid_detach_all();
        // C `iommufd_device_destroy()`.
        // SAFETY: By the type invariants the device is valid and we own its DMA.
        unsafe { bindings::iommu_device_release_dma_owner(self.dev) };
        put_group(self.ctx, &self.group);
        if !self.is_mock {
            self.ctx.put_file();
        }
    }
}

impl Device {
    /// The `struct device`.
    pub(crate) fn dev(&self) -> *mut bindings::device {
        self.dev
    }

    /// The IOMMU behind the device, as the vendor table knows it.
    pub(crate) fn vendor(&self) -> Option<&Vendor> {
        self.vendor.as_ref()
    }

    /// The device's PASID count (`dev->iommu->max_pasids`); 0: no PASID support.
    pub(crate) fn max_pasids(&self) -> u32 {
        // SAFETY: A bound device has an IOMMU (type invariants), whose `max_pasids` is set at
        // probe and not changed after.
        unsafe { (*(*self.dev).iommu).max_pasids }
    }

    /// The device's key in the group's PASID table: its object ID, unique in the context
    /// (to which the group object belongs).
    pub(crate) fn key(&self) -> u32 {
        self.id
    }

    /// C `device_iommu_capable()`.
    pub(crate) fn capable(&self, cap: bindings::iommu_cap) -> bool {
        // SAFETY: The device is valid (type invariants).
        unsafe { bindings::device_iommu_capable(self.dev, cap) }
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
        dev: *mut bindings::device,
        is_mock: bool,
    ) -> Result<Arc<Device>, Errno> {
        // SAFETY: `dev` is valid (caller's guarantee).
        if !unsafe {
            bindings::device_iommu_capable(dev, bindings::iommu_cap_IOMMU_CAP_CACHE_COHERENCY)
        } {
            return Err(Errno::EINVAL);
        }
        let group = get_group(ctx, dev)?;
        // SAFETY: The group is valid (we hold a reference).
        if !is_mock && !unsafe { bindings::iommu_group_has_isolated_msi(group.group) } {
            if !crate::allow_unsafe_interrupts() {
                put_group(ctx, &group);
                return Err(Errno::EPERM);
            }
            pr_warn!(
                "iommufd: MSI interrupts are not secure, they cannot be isolated by the platform\n"
            );
        }
        // SAFETY: `dev` is valid; the owner cookie is the context, valid while bound.
        let rc = unsafe { bindings::iommu_device_claim_dma_owner(dev, ctx.as_ptr().cast()) };
        if rc != 0 {
            put_group(ctx, &group);
            return Err(Errno(-rc));
        }
        let objects = ctx.objects();
        // Not in the `match`: the error path takes the table's lock again.
        let reserved = objects.lock().table.reserve();
        let id = match reserved {
            Ok(id) => id,
            Err(e) => {
                // SAFETY: Claimed just above.
                unsafe { bindings::iommu_device_release_dma_owner(dev) };
                put_group(ctx, &group);
                return Err(e);
            }
        };
        // SAFETY: `dev` is valid.
        let enforce = unsafe {
            bindings::device_iommu_capable(
                dev,
                bindings::iommu_cap_IOMMU_CAP_ENFORCE_CACHE_COHERENCY,
            )
        };
        #[cfg(CONFIG_IOMMUFD_TEST)]
        // SAFETY: A mock device is live while bound (caller's guarantee).
        let mock_flags = is_mock.then(|| unsafe { crate::mock::mock_dev_flags(dev) });
        #[cfg(not(CONFIG_IOMMUFD_TEST))]
        let mock_flags = None;
        // SAFETY: `dev` is valid and has an IOMMU (claimed above).
        let vendor = unsafe { crate::vendor::identify(dev, mock_flags) };
        if !is_mock {
            ctx.get_file();
        }
        let idev = Arc::new(
            Device {
                id,
                ctx,
                dev,
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
        if guard
            .table
            .finalize(id, Object::Device(idev.clone()))
            .is_ok()
        {
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
                // SAFETY: The domain is valid while the HWPT lives.
                let rc = unsafe { bindings::iommu_get_msi_cookie(paging.domain().as_ptr(), start) };
                if rc != 0 {
                    return Err(Errno(-rc));
                }
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
        let sw_msi = paging.ioas.iopt().enforce_dev_resv_regions(self.dev)?;
        if sw_msi.is_some() {
            state.sw_msi_start = sw_msi;
        }
        if state.devices.is_empty() {
            if let Err(e) = Self::setup_msi(state, paging) {
                paging.ioas.iopt().remove_dev_reserved(self.dev);
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
            paging.ioas.iopt().remove_dev_reserved(self.dev);
            return Err(e);
        }
        if let UserRef::Pending(n) = users {
            *n += 1;
        }
        // Room was reserved above.
        let _ = state
            .devices
            .push(self as *const Device as usize, GFP_KERNEL_ACCOUNT);
        Ok(())
    }

    /// C `iommufd_hwpt_attach_device()`: attaches the group, turning on IOPF for a HWPT
    /// with a fault object.
    fn attach_device(&self, state: &mut GroupState, hwpt: &Hwpt) -> Result<(), Errno> {
        // The whole-device attach of a HWPT that cannot serve PASIDs locks PASIDs out.
        state.pasids.check_rid(hwpt.pasid_compat())?;
        crate::vendor::check_attach(self, hwpt, Target::Rid)?;
        let mut handle = AttachHandle::new(self)?;
        if hwpt.has_fault() {
            fault::iopf_enable(self)?;
        }
        // SAFETY: Domain and group are valid; the handle lives in `state.handle` until the
        // group is detached or replaced.
        let rc = unsafe {
            internal::iommu_attach_group_handle(
                hwpt.domain().as_ptr(),
                self.group.group,
                &mut handle.handle,
            )
        };
        if rc != 0 {
            if hwpt.has_fault() {
                fault::iopf_disable(self);
            }
            return Err(crate::vendor::driver_refused(
                self,
                "RID attach",
                Errno(-rc),
            ));
        }
        state.handle = Some(handle);
        Ok(())
    }

    /// C `iommufd_hw_pagetable_detach()`: returns the HWPT the device was attached to, whose
    /// user reference the caller gives back ([`Hwpt::put`]).
    pub(crate) fn hw_pagetable_detach(&self) -> Option<Hwpt> {
        let mut state = self.group.state.lock();
        let me = self as *const Device as usize;
        let pos = state.devices.iter().position(|d| *d == me)?;
        let _ = swap_remove(&mut state.devices, pos);
        let hwpt = state.hwpt.clone()?;
        if state.devices.is_empty() {
            // SAFETY: The group is attached to this domain with our handle.
            unsafe {
                internal::iommu_detach_group_handle(hwpt.domain().as_ptr(), self.group.group)
            };
            state.hwpt = None;
            // C `iommufd_hwpt_detach_device()`: answer what is pending on the handle, then
            // free it.
            let handle = state.handle.take();
            if hwpt.has_fault() {
                if let Some(h) = &handle {
                    fault::auto_response_faults(&hwpt, h.raw());
                }
                fault::iopf_disable(self);
            }
            drop(handle);
        }
        hwpt.paging().ioas.iopt().remove_dev_reserved(self.dev);
        Some(hwpt)
    }

    /// C `iommufd_device_do_replace()`: returns the HWPT replaced (the caller puts it).
    fn do_replace(&self, hwpt: &Hwpt, users: UserRef<'_>) -> Result<Option<Hwpt>, Errno> {
        let mut state = self.group.state.lock();
        let Some(old) = state.hwpt.clone() else {
            return Err(Errno::EINVAL);
        };
        let me = self as *const Device as usize;
        if !state.devices.contains(&me) {
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
                    // SAFETY: Attached devices are bound, so alive (their unbind detaches
                    // them first, under this lock).
                    let dev = unsafe { (*(*d as *const Device)).dev };
                    paging.ioas.iopt().enforce_dev_resv_regions(dev)?;
                    reserved += 1;
                }
            }
            Self::setup_msi(&state, &paging)
        })();
        let unreserve = |state: &GroupState, n: usize| {
            for d in state.devices.iter().take(n) {
                // SAFETY: As above.
                let dev = unsafe { (*(*d as *const Device)).dev };
                paging.ioas.iopt().remove_dev_reserved(dev);
            }
        };
        if let Err(e) = rc {
            unreserve(&state, reserved);
            return Err(e);
        }
        let mut handle = match AttachHandle::new(self) {
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
        // SAFETY: Group and domain are valid; the handle is kept in `state.handle`.
        let rc = unsafe {
            internal::iommu_replace_group_handle(
                self.group.group,
                hwpt.domain().as_ptr(),
                &mut handle.handle,
            )
        };
        if rc != 0 {
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
            return Err(crate::vendor::driver_refused(
                self,
                "RID replace",
                Errno(-rc),
            ));
        }
        if let UserRef::Pending(n) = users {
            *n += num;
        }
        if !same_ioas {
            for d in state.devices.iter() {
                // SAFETY: As above.
                let dev = unsafe { (*(*d as *const Device)).dev };
                old_paging.ioas.iopt().remove_dev_reserved(dev);
            }
        }
        state.hwpt = Some(hwpt.clone());
        let old_handle = state.handle.replace(handle);
        if old.has_fault() {
            if let Some(h) = &old_handle {
                fault::auto_response_faults(&old, h.raw());
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
            let Ok(obj) = object::lock_hwpt_paging(objects, id) else {
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
        let (out, old) = match &*pt {
            Object::HwptPaging(h) => {
                let hwpt = Hwpt::Paging(h.clone());
                self.attach_or_replace(&hwpt, replace)
                    .map(|old| (pt_id, old))?
            }
            Object::HwptNested(h) => {
                let hwpt = Hwpt::Nested(h.clone());
                self.attach_or_replace(&hwpt, replace)
                    .map(|old| (pt_id, old))?
            }
            Object::Ioas(ioas) => self.auto_get_domain(ioas, pt_id, replace)?,
            _ => return Err(Errno::EINVAL),
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
    let idev = object::get_device(ucmd.ctx().objects(), cmd.dev_id)?;
    let dev = idev.dev();
    // SAFETY: A bound device has an IOMMU.
    let ops = unsafe { dev_iommu_ops(dev) };
    let mut len: u32 = 0;
    let mut ty: u32 = 0;
    // SAFETY: The driver's ops are static.
    let data: *mut core::ffi::c_void = match unsafe { (*ops).hw_info } {
        Some(f) => {
            // SAFETY: A driver op for its device; the out params are valid.
            let p = unsafe { f(dev, &mut len, &mut ty) };
            ptr_err(p)?.as_ptr()
        }
        None => core::ptr::null_mut(),
    };
    let free = |p: *mut core::ffi::c_void| {
        // SAFETY: `p` is null or the driver's kmalloc'ed info, freed once.
        unsafe { bindings::kfree(p) };
    };
    if !data.is_null() && ty == 0 {
        free(data);
        return Err(Errno::ENODEV);
    }
    // The 6.12.117 uAPI: a requested type the driver does not report.
    if let Err(e) = cmd.check_requested_type(ty) {
        free(data);
        return Err(e);
    }
    let copy_len = cmd.data_len.min(len) as usize;
    let rc = (|| -> Result<(), Errno> {
        if copy_len > 0 {
            // SAFETY: The driver returned `len` bytes at `data`.
            let src = unsafe { core::slice::from_raw_parts(data as *const u8, copy_len) };
            user::write(cmd.data_uptr as usize, src)?;
        }
        if copy_len < cmd.data_len as usize {
            let at = user::offset(cmd.data_uptr as usize, copy_len)?;
            user::clear(at, cmd.data_len as usize - copy_len)?;
        }
        Ok(())
    })();
    free(data);
    rc?;
    cmd.data_len = len;
    cmd.out_data_type = ty;
    cmd.out_capabilities = 0;
    if idev.capable(bindings::iommu_cap_IOMMU_CAP_DIRTY_TRACKING) {
        cmd.out_capabilities |= HW_CAP_DIRTY_TRACKING;
    }
    // SAFETY: A bound device's `iommu` is valid.
    let max_pasids = unsafe { (*(*dev).iommu).max_pasids };
    cmd.out_max_pasid_log2 = if max_pasids != 0 {
        (31 - max_pasids.leading_zeros()) as u8
    } else {
        0
    };
    cmd.encode_response(ucmd.buf_mut());
    ucmd.respond()
}
