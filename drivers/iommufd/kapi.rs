// SPDX-License-Identifier: GPL-2.0

//! The kernel API of `include/linux/iommufd.h` for VFIO (C: the `EXPORT_SYMBOL_NS_GPL`
//! functions of `main.c`, `device.c` and `vfio_compat.c`): contexts, device bind/attach and
//! the VFIO compatibility IOAS. The functions are defined here with C linkage and exported
//! in the `IOMMUFD` / `IOMMUFD_VFIO` namespaces by `iommufd_shim.c` (Rust in 6.12 cannot
//! export into a namespace).
//!
//! Handles: a `struct iommufd_ctx *` is the address of our [`IommufdCtx`], which the
//! functions take as an `Option<CtxRef>` (NULL is `None`: `CtxRef` is a transparent non-null
//! pointer); a `struct iommufd_device *` is an `Arc<Device>` turned into a raw pointer by bind
//! and taken back by unbind, which the functions in between borrow as `&Device`; a `u32 *` in
//! or out is a `&mut u32`. The types state each C caller's promise once, in the signature, and
//! the bodies are safe code over [`CtxRef`] and [`Device`]. The `# Safety` section of each
//! function is that promise.

use crate::ioas::Ioas;
use crate::{
    ctx::{CtxRef, IommufdCtx},
    device::Device,
    error::err_ptr,
    iommufd_core::errno::Errno,
    object,
};
use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::{fs::File, iommu::Group, miscdevice::MiscDeviceRegistration, sync::Arc, types::ARef};

/// The misc devices whose files are iommufd contexts (`/dev/iommu`, `/dev/vfio/vfio`), for
/// `iommufd_ctx_from_file`. Set at module init, cleared before they are deregistered.
pub(crate) static REGISTRATIONS: [AtomicPtr<MiscDeviceRegistration<IommufdCtx>>; 2] = [
    AtomicPtr::new(core::ptr::null_mut()),
    AtomicPtr::new(core::ptr::null_mut()),
];

/// The context behind `file`, if it is one of ours (C `file->f_op == &iommufd_fops`).
fn ctx_of_file(file: &File) -> Option<CtxRef> {
    let ours = REGISTRATIONS.iter().any(|r| {
        let reg = r.load(Ordering::Acquire);
        // SAFETY: A non-null entry points to a registration alive until module exit, and
        // no ioctl/kernel user can run after that.
        !reg.is_null() && unsafe { (*reg).owns_file(file) }
    });
    if !ours {
        return None;
    }
    // SAFETY: Our files' `private_data` is the `Pin<KBox<IommufdCtx>>` made by `open`, alive
    // while the file is, which the caller holds.
    unsafe { CtxRef::from_ptr(file.private_data().cast()) }
}

/// The C return code of a kAPI result: 0 or `-errno`.
fn rc(r: Result<(), Errno>) -> i32 {
    match r {
        Ok(()) => 0,
        Err(e) => -e.0,
    }
}

/// Runs `op` on the ID in `*pt_id` and, on success, stores the ID it returns there (the C
/// functions' in/out `u32 *pt_id`).
fn in_out(pt_id: &mut u32, op: impl FnOnce(u32) -> Result<u32, Errno>) -> i32 {
    rc(op(*pt_id).map(|out| *pt_id = out))
}

/// C `iommufd_ctx_get()`.
///
/// # Safety
///
/// `ictx` must be a context the caller holds a reference to.
#[no_mangle]
pub(crate) unsafe extern "C" fn iommufd_ctx_get(ictx: Option<CtxRef>) {
    if let Some(c) = ictx {
        c.get_file();
    }
}

/// C `iommufd_ctx_put()`.
///
/// # Safety
///
/// `ictx` must be a context the caller holds a reference to, given back here.
#[no_mangle]
pub(crate) unsafe extern "C" fn iommufd_ctx_put(ictx: Option<CtxRef>) {
    if let Some(c) = ictx {
        c.put_file();
    }
}

/// C `iommufd_ctx_from_file()`: `ERR_PTR(-EBADFD)` for a file that is not ours.
///
/// # Safety
///
/// `file` must be a valid file the caller holds.
#[no_mangle]
pub(crate) unsafe extern "C" fn iommufd_ctx_from_file(file: &File) -> *mut IommufdCtx {
    match ctx_of_file(file) {
        Some(c) => {
            // The caller holds the file, so the context is alive.
            c.get_file();
            c.as_ptr()
        }
        None => err_ptr(Errno::EBADFD),
    }
}

/// C `iommufd_ctx_from_fd()`.
///
/// # Safety
///
/// Called from process context.
#[no_mangle]
pub(crate) unsafe extern "C" fn iommufd_ctx_from_fd(fd: core::ffi::c_int) -> *mut IommufdCtx {
    let Ok(file) = File::fget(fd as u32) else {
        return err_ptr(Errno::EBADF);
    };
    match ctx_of_file(&file) {
        Some(c) => {
            // The `fget` reference is the context reference (as C): `iommufd_ctx_put` gives
            // it back.
            let _ = ARef::into_raw(file);
            c.as_ptr()
        }
        // Dropping `file` gives back the `fget` reference.
        None => err_ptr(Errno::EBADFD),
    }
}

/// C `iommufd_ctx_has_group()`: whether a device of `group` is bound to the context.
///
/// # Safety
///
/// `ictx` null or a context the caller holds; `group` null or a live group.
#[no_mangle]
pub(crate) unsafe extern "C" fn iommufd_ctx_has_group(
    ictx: Option<CtxRef>,
    group: Option<&Group>,
) -> bool {
    let (Some(c), Some(group)) = (ictx, group) else {
        return false;
    };
    let key = group.as_raw() as usize;
    let guard = c.objects().lock();
    guard.groups.iter().any(|(g, _, n)| *n > 0 && *g == key)
}

/// C `iommufd_device_bind()`.
///
/// # Safety
///
/// `ictx` is a context the caller holds, `dev` a device the caller keeps alive until
/// `iommufd_device_unbind`.
#[no_mangle]
pub(crate) unsafe extern "C" fn iommufd_device_bind(
    ictx: Option<CtxRef>,
    dev: &kernel::device::Device,
    id: &mut u32,
) -> *mut Device {
    let Some(c) = ictx else {
        return err_ptr(Errno::EINVAL);
    };
    // SAFETY: The caller keeps `dev` alive until unbind (its guarantee).
    match unsafe { Device::bind(c, dev, false) } {
        Ok(idev) => {
            *id = idev.id;
            Arc::into_raw(idev).cast_mut()
        }
        Err(e) => err_ptr(e),
    }
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
/// `idev` must be a live handle.
#[no_mangle]
pub(crate) unsafe extern "C" fn iommufd_device_attach(idev: &Device, pt_id: &mut u32) -> i32 {
    in_out(pt_id, |id| idev.attach(id))
}

/// C `iommufd_device_replace()`.
///
/// # Safety
///
/// `idev` must be a live handle.
#[no_mangle]
pub(crate) unsafe extern "C" fn iommufd_device_replace(idev: &Device, pt_id: &mut u32) -> i32 {
    in_out(pt_id, |id| idev.replace(id))
}

/// C `iommufd_device_detach()`.
///
/// # Safety
///
/// `idev` must be a live, attached handle.
#[no_mangle]
pub(crate) unsafe extern "C" fn iommufd_device_detach(idev: &Device) {
    idev.detach();
}

/// `iommufd_device_pasid_attach()` (include/linux/iommufd_pasid.h): attaches the HWPT
/// `*pt_id` to `pasid` of the device.
///
/// # Safety
///
/// `idev` must be a live handle.
#[no_mangle]
pub(crate) unsafe extern "C" fn iommufd_device_pasid_attach(
    idev: &Device,
    pasid: u32,
    pt_id: &mut u32,
) -> i32 {
    pasid_attach(idev, pasid, pt_id)
}

/// The body of [`iommufd_device_pasid_attach`], which the selftest calls as a driver would.
pub(crate) fn pasid_attach(idev: &Device, pasid: u32, pt_id: &mut u32) -> i32 {
    in_out(pt_id, |id| idev.pasid_attach(pasid, id))
}

/// `iommufd_device_pasid_replace()`: moves `pasid` to the HWPT `*pt_id`; on failure the old
/// one stays attached.
///
/// # Safety
///
/// `idev` must be a live handle.
#[no_mangle]
pub(crate) unsafe extern "C" fn iommufd_device_pasid_replace(
    idev: &Device,
    pasid: u32,
    pt_id: &mut u32,
) -> i32 {
    pasid_replace(idev, pasid, pt_id)
}

/// The body of [`iommufd_device_pasid_replace`], which the selftest calls as a driver would.
pub(crate) fn pasid_replace(idev: &Device, pasid: u32, pt_id: &mut u32) -> i32 {
    in_out(pt_id, |id| idev.pasid_replace(pasid, id))
}

/// `iommufd_device_pasid_detach()`: detaches `pasid` (an assigned one is freed).
///
/// # Safety
///
/// `idev` must be a live handle.
#[no_mangle]
pub(crate) unsafe extern "C" fn iommufd_device_pasid_detach(idev: &Device, pasid: u32) {
    pasid_detach(idev, pasid);
}

/// The body of [`iommufd_device_pasid_detach`], which the selftest calls as a driver would.
pub(crate) fn pasid_detach(idev: &Device, pasid: u32) {
    idev.pasid_detach(pasid);
}

/// `iommufd_device_pasid_assign()`: takes a PASID from the global PASID space, attaches the
/// HWPT `*pt_id` to it and returns it in `*pasid`.
///
/// # Safety
///
/// `idev` must be a live handle.
#[no_mangle]
pub(crate) unsafe extern "C" fn iommufd_device_pasid_assign(
    idev: &Device,
    pt_id: &mut u32,
    pasid: &mut u32,
) -> i32 {
    pasid_assign(idev, pt_id, pasid)
}

/// The body of [`iommufd_device_pasid_assign`], which the selftest calls as a driver would.
pub(crate) fn pasid_assign(idev: &Device, pt_id: &mut u32, pasid: &mut u32) -> i32 {
    rc(idev.pasid_assign(*pt_id).map(|p| *pasid = p))
}

/// C `iommufd_device_to_ictx()`.
///
/// # Safety
///
/// `idev` must be a live handle.
#[no_mangle]
pub(crate) unsafe extern "C" fn iommufd_device_to_ictx(idev: &Device) -> *mut IommufdCtx {
    idev.ctx.as_ptr()
}

/// C `iommufd_device_to_id()`.
///
/// # Safety
///
/// `idev` must be a live handle.
#[no_mangle]
pub(crate) unsafe extern "C" fn iommufd_device_to_id(idev: &Device) -> u32 {
    idev.id
}

/// C `iommufd_vfio_compat_ioas_get_id()`: `ENODEV` without a compat IOAS.
///
/// # Safety
///
/// `ictx` a context the caller holds.
#[no_mangle]
pub(crate) unsafe extern "C" fn iommufd_vfio_compat_ioas_get_id(
    ictx: Option<CtxRef>,
    out: &mut u32,
) -> i32 {
    let Some(c) = ictx else {
        return -Errno::EINVAL.0;
    };
    rc(object::get_compat::<Ioas>(c.objects()).map(|ioas| *out = ioas.id()))
}

/// C `iommufd_vfio_compat_set_no_iommu()`: `EINVAL` if a compat IOAS exists.
///
/// # Safety
///
/// `ictx` a context the caller holds.
#[no_mangle]
pub(crate) unsafe extern "C" fn iommufd_vfio_compat_set_no_iommu(ictx: Option<CtxRef>) -> i32 {
    let Some(c) = ictx else {
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
pub(crate) unsafe extern "C" fn iommufd_vfio_compat_ioas_create(ictx: Option<CtxRef>) -> i32 {
    let Some(c) = ictx else {
        return -Errno::EINVAL.0;
    };
    rc(crate::ioas::compat_ioas_create(c))
}
