// SPDX-License-Identifier: GPL-2.0

//! What the iommu core offers about one device: its IOMMU's capabilities and PASIDs, its
//! reserved regions, the driver's `hw_info`, DMA ownership, and attaching a domain to one of
//! its PASIDs.
//!
//! A device's IOMMU (`dev->iommu`) is set when the IOMMU driver probes it and cleared when the
//! device leaves its bus. The functions here read it only for a device its caller holds, and
//! check it for NULL; callers that use it across calls own the device's DMA ([`DmaOwner`]), which
//! its driver gives up before the device can go away.

use super::{
    dev_raw,
    group::{AttachError, AttachHandle},
    ptr, rc, Cap, Domain,
};
use core::ptr::NonNull;
use kernel::{bindings, device::Device, prelude::*, sync::Arc, types::ARef};

/// `device_iommu_capable()`.
pub fn capable(dev: &Device, cap: Cap) -> bool {
    // SAFETY: A live device; the function checks that it has an IOMMU.
    unsafe { bindings::device_iommu_capable(dev_raw(dev), cap.raw()) }
}

/// `dev->iommu->max_pasids`: how many PASIDs the device may use, 0 if none (or no IOMMU).
pub fn max_pasids(dev: &Device) -> u32 {
    // SAFETY: A live device; `iommu` is read once and checked.
    let iommu = unsafe { (*dev_raw(dev)).iommu };
    // SAFETY: A non-null `dev->iommu` is valid while the device is on its bus (module
    // documentation); `max_pasids` is set at probe.
    unsafe { iommu.as_ref() }.map_or(0, |i| i.max_pasids)
}

/// `dev_iommu_ops()`: the ops of the IOMMU driver that probed `dev`, `None` if none.
pub(crate) fn iommu_ops(dev: &Device) -> Option<&'static bindings::iommu_ops> {
    // SAFETY: As in `max_pasids`.
    let iommu = unsafe { (*dev_raw(dev)).iommu.as_ref() }?;
    // SAFETY: A probed device's `iommu_dev` is its IOMMU's registered `iommu_device`, whose
    // ops are the driver's static table.
    unsafe { iommu.iommu_dev.as_ref()?.ops.as_ref() }
}

/// Whether the IOMMU behind `dev` is the one whose driver is called `name`: the driver bound
/// to the parent of the IOMMU's sysfs device (`iommu_device_sysfs_add()`), e.g.
/// `arm-smmu-v3` for an SMMUv3 of 6.12, which has no `hw_info` to say what it is.
pub fn iommu_driver_is(dev: &Device, name: &kernel::str::CStr) -> bool {
    // SAFETY: As in `max_pasids`.
    let Some(iommu) = (unsafe { (*dev_raw(dev)).iommu.as_ref() }) else {
        return false;
    };
    // SAFETY: A probed device's `iommu_dev` is its IOMMU's registered `iommu_device`, and the
    // IOMMU's sysfs device, its parent and the parent's driver stay while the IOMMU is
    // registered, which it is while it serves `dev`. Every pointer is checked for NULL.
    let found = unsafe {
        iommu
            .iommu_dev
            .as_ref()
            .and_then(|i| i.dev.as_ref())
            .and_then(|d| d.parent.as_ref())
            .and_then(|p| p.driver.as_ref())
            .map(|drv| drv.name)
    };
    match found {
        Some(n) if !n.is_null() => {
            // SAFETY: A driver's name is a NUL-terminated static string.
            let found = unsafe { kernel::str::CStr::from_char_ptr(n) };
            found.as_bytes() == name.as_bytes()
        }
        _ => false,
    }
}

/// The driver's `hw_info` of a device (`struct iommu_ops::hw_info`): `len` bytes of
/// `data_type`, in a buffer the driver allocated and that is freed on drop.
///
/// # Invariants
///
/// `data` is a `kmalloc`ed buffer of at least `len` bytes, ours.
pub struct HwInfo {
    data: NonNull<u8>,
    len: usize,
    data_type: u32,
}

impl HwInfo {
    /// The driver's `hw_info(dev)`; `Ok(None)` if the driver has none.
    pub fn get(dev: &Device) -> Result<Option<HwInfo>> {
        let Some(f) = iommu_ops(dev).and_then(|o| o.hw_info) else {
            return Ok(None);
        };
        let (mut len, mut ty) = (0u32, 0u32);
        // SAFETY: A driver op for a device it probed, with valid out parameters.
        let p = ptr(unsafe { f(dev_raw(dev), &mut len, &mut ty) })?;
        // INVARIANT: The driver returns a `kmalloc`ed buffer of `len` bytes.
        Ok(Some(HwInfo {
            data: p.cast(),
            len: len as usize,
            data_type: ty,
        }))
    }

    /// The data.
    pub fn data(&self) -> &[u8] {
        // SAFETY: `len` bytes at `data`, ours (type invariants).
        unsafe { core::slice::from_raw_parts(self.data.as_ptr(), self.len) }
    }

    /// The data's type (`enum iommu_hw_info_type`); 0 is none.
    pub fn data_type(&self) -> u32 {
        self.data_type
    }
}

impl Drop for HwInfo {
    fn drop(&mut self) {
        // SAFETY: Our `kmalloc`ed buffer (type invariants), freed once.
        unsafe { bindings::kfree(self.data.as_ptr().cast()) };
    }
}

// SAFETY: A plain heap buffer.
unsafe impl Send for HwInfo {}

/// A reserved region of a device (C `struct iommu_resv_region`).
#[derive(Clone, Copy, Debug)]
pub struct ResvRegion {
    /// First address.
    pub start: u64,
    /// Length in bytes.
    pub length: u64,
    /// `enum iommu_resv_type`.
    pub kind: ResvType,
}

/// The kind of a reserved region (`enum iommu_resv_type`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ResvType {
    /// `IOMMU_RESV_DIRECT`: must be identity mapped.
    Direct,
    /// `IOMMU_RESV_DIRECT_RELAXABLE`: identity mapped, but may be given up.
    DirectRelaxable,
    /// `IOMMU_RESV_RESERVED`: never mapped.
    Reserved,
    /// `IOMMU_RESV_MSI`: the hardware MSI window.
    Msi,
    /// `IOMMU_RESV_SW_MSI`: a window for software-managed MSIs.
    SwMsi,
}

/// A device's reserved regions (`iommu_get_resv_regions()`).
pub struct ResvRegions;

impl ResvRegions {
    /// Calls `f` on each reserved region of `dev` until it fails; the list is given back
    /// (`iommu_put_resv_regions()`) before returning.
    pub fn for_each(dev: &Device, mut f: impl FnMut(ResvRegion) -> Result) -> Result {
        let mut head = bindings::list_head {
            next: core::ptr::null_mut(),
            prev: core::ptr::null_mut(),
        };
        let head_ptr: *mut bindings::list_head = &mut head;
        // `INIT_LIST_HEAD`: `head` does not move until the list is given back below.
        head.next = head_ptr;
        head.prev = head_ptr;
        // SAFETY: A live device; `head` is an initialised empty list.
        unsafe { bindings::iommu_get_resv_regions(dev_raw(dev), head_ptr) };
        let mut result = Ok(());
        let mut cur = head.next;
        while cur != head_ptr {
            // SAFETY: `cur` is the `list` member of a live `iommu_resv_region` of the list that
            // we hold (`container_of`).
            let resv = unsafe {
                &*cur
                    .cast::<u8>()
                    .sub(core::mem::offset_of!(bindings::iommu_resv_region, list))
                    .cast::<bindings::iommu_resv_region>()
            };
            // SAFETY: `cur` is a live list entry.
            cur = unsafe { (*cur).next };
            let kind = match resv.type_ {
                bindings::iommu_resv_type_IOMMU_RESV_DIRECT => ResvType::Direct,
                bindings::iommu_resv_type_IOMMU_RESV_DIRECT_RELAXABLE => ResvType::DirectRelaxable,
                bindings::iommu_resv_type_IOMMU_RESV_MSI => ResvType::Msi,
                bindings::iommu_resv_type_IOMMU_RESV_SW_MSI => ResvType::SwMsi,
                _ => ResvType::Reserved,
            };
            let region = ResvRegion {
                start: resv.start,
                length: resv.length as u64,
                kind,
            };
            if let Err(e) = f(region) {
                result = Err(e);
                break;
            }
        }
        // SAFETY: Gives back the list `iommu_get_resv_regions` filled, once.
        unsafe { bindings::iommu_put_resv_regions(dev_raw(dev), head_ptr) };
        result
    }
}

/// DMA ownership of a device claimed for a user-space driver (`iommu_device_claim_dma_owner`),
/// released by [`DmaOwner::release`] or on drop, whichever comes first. It also holds a
/// reference on the device, for as long as it lives.
///
/// # Invariants
///
/// While `claimed` is true, DMA ownership of `dev` is claimed with the owner cookie given to
/// [`DmaOwner::claim`], and released by nobody else.
pub struct DmaOwner {
    dev: ARef<Device>,
    claimed: bool,
}

impl DmaOwner {
    /// Claims DMA ownership of `dev` for `owner`, a cookie that only identifies the owner
    /// (devices of one group may share an owner).
    pub fn claim(dev: &Device, owner: *const core::ffi::c_void) -> Result<DmaOwner> {
        // SAFETY: A live device; `owner` is only compared by the core.
        rc(unsafe { bindings::iommu_device_claim_dma_owner(dev_raw(dev), owner.cast_mut()) })?;
        // INVARIANT: Claimed just above.
        Ok(DmaOwner {
            dev: dev.into(),
            claimed: true,
        })
    }

    /// The device.
    pub fn device(&self) -> &Device {
        &self.dev
    }

    /// Releases DMA ownership (`iommu_device_release_dma_owner`) if it is still claimed; the
    /// device reference stays until drop. Idempotent: `Drop` calls it too.
    pub fn release(&mut self) {
        if !self.claimed {
            return;
        }
        // INVARIANT: Not claimed any more once released below.
        self.claimed = false;
        // SAFETY: Claimed (type invariants) and released once: `claimed` is now false.
        unsafe { bindings::iommu_device_release_dma_owner(dev_raw(&self.dev)) };
    }
}

impl Drop for DmaOwner {
    fn drop(&mut self) {
        self.release();
    }
}

/// A PASID from the global PASID space (`iommu_alloc_global_pasid()`), freed on drop.
///
/// # Invariants
///
/// `pasid` was allocated from the global space and is freed only by `Drop`.
pub struct GlobalPasid {
    pasid: u32,
}

impl GlobalPasid {
    /// A free PASID usable by `dev`; `None` if none is left.
    pub fn alloc(dev: &Device) -> Option<GlobalPasid> {
        // SAFETY: A live device (the allocator reads its PASID width, 0 without an IOMMU).
        let pasid = unsafe { bindings::iommu_alloc_global_pasid(dev_raw(dev)) };
        // INVARIANT: A PASID the allocator gave us.
        (pasid != bindings::IOMMU_PASID_INVALID as u32).then_some(GlobalPasid { pasid })
    }

    /// The PASID.
    pub fn pasid(&self) -> u32 {
        self.pasid
    }
}

impl Drop for GlobalPasid {
    fn drop(&mut self) {
        // SAFETY: Ours (type invariants), freed once.
        unsafe { bindings::iommu_free_global_pasid(self.pasid) };
    }
}

/// A domain attached on one PASID of a device (`iommu_attach_device_pasid()`), detached when
/// dropped (`iommu_detach_device_pasid()`).
///
/// # Invariants
///
/// While `handle` is `Some`, `pasid` of `dev` is attached to `domain` with that handle.
pub struct PasidAttachment<T> {
    dev: ARef<Device>,
    pasid: u32,
    domain: Arc<Domain>,
    handle: Option<Pin<KBox<AttachHandle<T>>>>,
}

impl<T> PasidAttachment<T> {
    /// Attaches `domain` on `pasid` of `dev` with `handle`. On failure the handle is given back
    /// with the error.
    pub fn attach(
        dev: &Device,
        pasid: u32,
        domain: &Arc<Domain>,
        handle: Pin<KBox<AttachHandle<T>>>,
    ) -> Result<PasidAttachment<T>, AttachError<T>> {
        // SAFETY: A live device and domain; the handle is kept in the attachment until the
        // PASID is detached.
        let r = rc(unsafe {
            bindings::iommu_attach_device_pasid(
                domain.as_raw(),
                dev_raw(dev),
                pasid,
                handle.as_raw(),
            )
        });
        match r {
            // INVARIANT: Attached just above.
            Ok(()) => Ok(PasidAttachment {
                dev: dev.into(),
                pasid,
                domain: domain.clone(),
                handle: Some(handle),
            }),
            Err(e) => Err((e, handle)),
        }
    }

    /// The PASID.
    pub fn pasid(&self) -> u32 {
        self.pasid
    }

    /// The domain attached.
    pub fn domain(&self) -> &Arc<Domain> {
        &self.domain
    }

    /// The attach handle.
    pub fn handle(&self) -> Option<&AttachHandle<T>> {
        self.handle.as_deref()
    }

    /// Detaches the PASID and gives back the handle (the faults still pending on it are the
    /// caller's to answer before dropping it).
    pub fn detach(mut self) -> Option<Pin<KBox<AttachHandle<T>>>> {
        self.do_detach();
        self.handle.take()
    }

    fn do_detach(&mut self) {
        if self.handle.is_some() {
            // SAFETY: By the type invariants `pasid` of `dev` is attached to `domain`.
            unsafe {
                bindings::iommu_detach_device_pasid(
                    self.domain.as_raw(),
                    dev_raw(&self.dev),
                    self.pasid,
                )
            };
        }
    }
}

impl<T> Drop for PasidAttachment<T> {
    fn drop(&mut self) {
        self.do_detach();
    }
}
