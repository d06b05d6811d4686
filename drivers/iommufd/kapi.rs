// SPDX-License-Identifier: GPL-2.0

//! The kernel API of `include/linux/iommufd.h` for VFIO (C: the `EXPORT_SYMBOL_NS_GPL`
//! functions of `main.c`, `device.c` and `vfio_compat.c`): contexts, device bind/attach and
//! the VFIO compatibility IOAS. The functions are defined here with C linkage and exported
//! in the `IOMMUFD` / `IOMMUFD_VFIO` namespaces by `iommufd_shim.c` (Rust in 6.12 cannot
//! export into a namespace).
//!
//! Handles: a `struct iommufd_ctx *` is the address of our [`IommufdCtx`]; a
//! `struct iommufd_device *` is an `Arc<Device>` turned into a raw pointer by bind and
//! taken back by unbind.

use crate::ioas::Ioas;
use crate::{
    ctx::{CtxRef, IommufdCtx},
    device::Device,
    error::err_ptr,
    iommufd_core::errno::Errno,
    object,
};
use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::{bindings, fs::File, miscdevice::MiscDeviceRegistration, sync::Arc};

/// The misc devices whose files are iommufd contexts (`/dev/iommu`, `/dev/vfio/vfio`), for
/// `iommufd_ctx_from_file`. Set at module init, cleared before they are deregistered.
pub(crate) static REGISTRATIONS: [AtomicPtr<MiscDeviceRegistration<IommufdCtx>>; 2] = [
    AtomicPtr::new(core::ptr::null_mut()),
    AtomicPtr::new(core::ptr::null_mut()),
];

/// The context behind `file`, if it is one of ours (C: `file->f_op == &iommufd_fops`).
///
/// # Safety
///
/// `file` must be a valid file.
unsafe fn ctx_of_file(file: *mut bindings::file) -> Option<*mut IommufdCtx> {
    // SAFETY: The caller guarantees `file` is valid for this call.
    let f = unsafe { File::from_raw_file(file) };
    let ours = REGISTRATIONS.iter().any(|r| {
        let reg = r.load(Ordering::Acquire);
        // SAFETY: A non-null entry points to a registration alive until module exit, and
        // no ioctl/kernel user can run after that.
        !reg.is_null() && unsafe { (*reg).owns_file(f) }
    });
    if !ours {
        return None;
    }
    // SAFETY: Our files' `private_data` is the `Pin<KBox<IommufdCtx>>` made by `open`.
    Some(unsafe { (*file).private_data }.cast::<IommufdCtx>())
}

/// Makes a [`CtxRef`] of a pointer a kernel user holds.
///
/// # Safety
///
/// `ictx` must be a context pointer from this module whose file the caller holds.
unsafe fn ctx(ictx: *mut IommufdCtx) -> Option<CtxRef> {
    // SAFETY: By the caller's guarantee.
    unsafe { CtxRef::from_ptr(ictx) }
}

/// C `iommufd_ctx_get()`.
///
/// # Safety
///
/// `ictx` must be a context the caller holds a reference to.
#[no_mangle]
pub(crate) unsafe extern "C" fn iommufd_ctx_get(ictx: *mut IommufdCtx) {
    // SAFETY: By the caller's guarantee.
    if let Some(c) = unsafe { ctx(ictx) } {
        c.get_file();
    }
}

/// C `iommufd_ctx_put()`.
///
/// # Safety
///
/// `ictx` must be a context the caller holds a reference to, given back here.
#[no_mangle]
pub(crate) unsafe extern "C" fn iommufd_ctx_put(ictx: *mut IommufdCtx) {
    // SAFETY: By the caller's guarantee.
    if let Some(c) = unsafe { ctx(ictx) } {
        c.put_file();
    }
}

/// C `iommufd_ctx_from_file()`: `ERR_PTR(-EBADFD)` for a file that is not ours.
///
/// # Safety
///
/// `file` must be a valid file the caller holds.
#[no_mangle]
pub(crate) unsafe extern "C" fn iommufd_ctx_from_file(
    file: *mut bindings::file,
) -> *mut IommufdCtx {
    // SAFETY: By the caller's guarantee.
    match unsafe { ctx_of_file(file) } {
        Some(c) => {
            // SAFETY: The caller holds the file, so the context is alive.
            unsafe { iommufd_ctx_get(c) };
            c
        }
        None => err_ptr(Errno(bindings::EBADFD as i32)),
    }
}

/// C `iommufd_ctx_from_fd()`.
///
/// # Safety
///
/// Called from process context.
#[no_mangle]
pub(crate) unsafe extern "C" fn iommufd_ctx_from_fd(fd: core::ffi::c_int) -> *mut IommufdCtx {
    // SAFETY: `fget` on the current task's table; returns a reference or null.
    let file = unsafe { bindings::fget(fd as u32) };
    if file.is_null() {
        return err_ptr(Errno(bindings::EBADF as i32));
    }
    // SAFETY: We hold the file.
    match unsafe { ctx_of_file(file) } {
        // The `fget` reference is the context reference (as C).
        Some(c) => c,
        None => {
            // SAFETY: Gives back the `fget` reference.
            unsafe { bindings::fput(file) };
            err_ptr(Errno(bindings::EBADFD as i32))
        }
    }
}

/// C `iommufd_ctx_has_group()`: whether a device of `group` is bound to the context.
///
/// # Safety
///
/// `ictx` null or a context the caller holds.
#[no_mangle]
pub(crate) unsafe extern "C" fn iommufd_ctx_has_group(
    ictx: *mut IommufdCtx,
    group: *mut bindings::iommu_group,
) -> bool {
    if group.is_null() {
        return false;
    }
    // SAFETY: By the caller's guarantee.
    let Some(c) = (unsafe { ctx(ictx) }) else {
        return false;
    };
    let guard = c.objects().lock();
    guard
        .groups
        .iter()
        .any(|(g, _, n)| *n > 0 && *g == group as usize)
}

/// C `iommufd_device_bind()`.
///
/// # Safety
///
/// `ictx` is a context the caller holds, `dev` a device the caller keeps alive until
/// `iommufd_device_unbind`, `id` valid for writing.
#[no_mangle]
pub(crate) unsafe extern "C" fn iommufd_device_bind(
    ictx: *mut IommufdCtx,
    dev: *mut bindings::device,
    id: *mut u32,
) -> *mut Device {
    // SAFETY: By the caller's guarantee.
    let Some(c) = (unsafe { ctx(ictx) }) else {
        return err_ptr(Errno::EINVAL);
    };
    // SAFETY: By the caller's guarantee on `dev`.
    match unsafe { Device::bind(c, dev, false) } {
        Ok(idev) => {
            // SAFETY: `id` is valid for writing (caller's guarantee).
            unsafe { *id = idev.id };
            Arc::into_raw(idev).cast_mut()
        }
        Err(e) => err_ptr(e),
    }
}

/// Borrows the device of a handle from `iommufd_device_bind`.
///
/// # Safety
///
/// `idev` must be a live handle from [`iommufd_device_bind`].
unsafe fn dev<'a>(idev: *mut Device) -> &'a Device {
    // SAFETY: The handle owns a strong count until unbind (caller's guarantee).
    unsafe { &*idev }
}

/// C `iommufd_device_unbind()`.
///
/// # Safety
///
/// `idev` must be a live handle, not used again.
#[no_mangle]
pub(crate) unsafe extern "C" fn iommufd_device_unbind(idev: *mut Device) {
    // SAFETY: Takes back the count `iommufd_device_bind` gave out (caller's guarantee).
    let idev = unsafe { Arc::from_raw(idev) };
    idev.unbind();
}

/// C `iommufd_device_attach()`.
///
/// # Safety
///
/// `idev` must be a live handle and `pt_id` valid for reading and writing.
#[no_mangle]
pub(crate) unsafe extern "C" fn iommufd_device_attach(idev: *mut Device, pt_id: *mut u32) -> i32 {
    // SAFETY: By the caller's guarantee.
    let (d, id) = unsafe { (dev(idev), *pt_id) };
    match d.attach(id) {
        Ok(out) => {
            // SAFETY: By the caller's guarantee.
            unsafe { *pt_id = out };
            0
        }
        Err(e) => -e.0,
    }
}

/// C `iommufd_device_replace()`.
///
/// # Safety
///
/// As [`iommufd_device_attach`].
#[no_mangle]
pub(crate) unsafe extern "C" fn iommufd_device_replace(idev: *mut Device, pt_id: *mut u32) -> i32 {
    // SAFETY: By the caller's guarantee.
    let (d, id) = unsafe { (dev(idev), *pt_id) };
    match d.replace(id) {
        Ok(out) => {
            // SAFETY: By the caller's guarantee.
            unsafe { *pt_id = out };
            0
        }
        Err(e) => -e.0,
    }
}

/// C `iommufd_device_detach()`.
///
/// # Safety
///
/// `idev` must be a live, attached handle.
#[no_mangle]
pub(crate) unsafe extern "C" fn iommufd_device_detach(idev: *mut Device) {
    // SAFETY: By the caller's guarantee.
    unsafe { dev(idev) }.detach();
}

/// `iommufd_device_pasid_attach()` (include/linux/iommufd_pasid.h): attaches the HWPT
/// `*pt_id` to `pasid` of the device.
///
/// # Safety
///
/// As [`iommufd_device_attach`].
#[no_mangle]
pub(crate) unsafe extern "C" fn iommufd_device_pasid_attach(
    idev: *mut Device,
    pasid: u32,
    pt_id: *mut u32,
) -> i32 {
    // SAFETY: By the caller's guarantee.
    let (d, id) = unsafe { (dev(idev), *pt_id) };
    match d.pasid_attach(pasid, id) {
        Ok(out) => {
            // SAFETY: By the caller's guarantee.
            unsafe { *pt_id = out };
            0
        }
        Err(e) => -e.0,
    }
}

/// `iommufd_device_pasid_replace()`: moves `pasid` to the HWPT `*pt_id`; on failure the old
/// one stays attached.
///
/// # Safety
///
/// As [`iommufd_device_attach`].
#[no_mangle]
pub(crate) unsafe extern "C" fn iommufd_device_pasid_replace(
    idev: *mut Device,
    pasid: u32,
    pt_id: *mut u32,
) -> i32 {
    // SAFETY: By the caller's guarantee.
    let (d, id) = unsafe { (dev(idev), *pt_id) };
    match d.pasid_replace(pasid, id) {
        Ok(out) => {
            // SAFETY: By the caller's guarantee.
            unsafe { *pt_id = out };
            0
        }
        Err(e) => -e.0,
    }
}

/// `iommufd_device_pasid_detach()`: detaches `pasid` (an assigned one is freed).
///
/// # Safety
///
/// `idev` must be a live handle.
#[no_mangle]
pub(crate) unsafe extern "C" fn iommufd_device_pasid_detach(idev: *mut Device, pasid: u32) {
    // SAFETY: By the caller's guarantee.
    unsafe { dev(idev) }.pasid_detach(pasid);
}

/// `iommufd_device_pasid_assign()`: takes a PASID from the global PASID space, attaches the
/// HWPT `*pt_id` to it and returns it in `*pasid`.
///
/// # Safety
///
/// As [`iommufd_device_attach`], and `pasid` valid for writing.
#[no_mangle]
pub(crate) unsafe extern "C" fn iommufd_device_pasid_assign(
    idev: *mut Device,
    pt_id: *mut u32,
    pasid: *mut u32,
) -> i32 {
    // SAFETY: By the caller's guarantee.
    let (d, id) = unsafe { (dev(idev), *pt_id) };
    match d.pasid_assign(id) {
        Ok(p) => {
            // SAFETY: By the caller's guarantee.
            unsafe { *pasid = p };
            0
        }
        Err(e) => -e.0,
    }
}

/// C `iommufd_device_to_ictx()`.
///
/// # Safety
///
/// `idev` must be a live handle.
#[no_mangle]
pub(crate) unsafe extern "C" fn iommufd_device_to_ictx(idev: *mut Device) -> *mut IommufdCtx {
    // SAFETY: By the caller's guarantee.
    unsafe { dev(idev) }.ctx.as_ptr()
}

/// C `iommufd_device_to_id()`.
///
/// # Safety
///
/// `idev` must be a live handle.
#[no_mangle]
pub(crate) unsafe extern "C" fn iommufd_device_to_id(idev: *mut Device) -> u32 {
    // SAFETY: By the caller's guarantee.
    unsafe { dev(idev) }.id
}

/// C `iommufd_vfio_compat_ioas_get_id()`: `ENODEV` without a compat IOAS.
///
/// # Safety
///
/// `ictx` a context the caller holds; `out` valid for writing.
#[no_mangle]
pub(crate) unsafe extern "C" fn iommufd_vfio_compat_ioas_get_id(
    ictx: *mut IommufdCtx,
    out: *mut u32,
) -> i32 {
    // SAFETY: By the caller's guarantee.
    let Some(c) = (unsafe { ctx(ictx) }) else {
        return -Errno::EINVAL.0;
    };
    let rc = match object::get_compat::<Ioas>(c.objects()) {
        Ok(ioas) => {
            // SAFETY: By the caller's guarantee.
            unsafe { *out = ioas.id() };
            0
        }
        Err(e) => -e.0,
    };
    rc
}

/// C `iommufd_vfio_compat_set_no_iommu()`: `EINVAL` if a compat IOAS exists.
///
/// # Safety
///
/// `ictx` a context the caller holds.
#[no_mangle]
pub(crate) unsafe extern "C" fn iommufd_vfio_compat_set_no_iommu(ictx: *mut IommufdCtx) -> i32 {
    // SAFETY: By the caller's guarantee.
    let Some(c) = (unsafe { ctx(ictx) }) else {
        return -Errno::EINVAL.0;
    };
    let mut guard = c.objects().lock();
    if guard.vfio_ioas.is_some() {
        return -Errno::EINVAL.0;
    }
    guard.no_iommu_mode = true;
    0
}

/// C `iommufd_vfio_compat_ioas_create()`: creates the compat IOAS unless there is one;
/// `EINVAL` in no-iommu mode.
///
/// # Safety
///
/// `ictx` a context the caller holds.
#[no_mangle]
pub(crate) unsafe extern "C" fn iommufd_vfio_compat_ioas_create(ictx: *mut IommufdCtx) -> i32 {
    // SAFETY: By the caller's guarantee.
    let Some(c) = (unsafe { ctx(ictx) }) else {
        return -Errno::EINVAL.0;
    };
    match crate::ioas::compat_ioas_create(c) {
        Ok(()) => 0,
        Err(e) => -e.0,
    }
}
