// SPDX-License-Identifier: GPL-2.0

//! Miscdevice support.
//!
//! iommufd-rs overlay, modelled on the `kernel::miscdevice` of later kernels, with what a
//! subsystem char device needs and those versions lack: a fixed minor, `nodename` and `mode`,
//! and `fops.owner` set so that the module cannot be unloaded while a file is open.
//!
//! C header: [`include/linux/miscdevice.h`](srctree/include/linux/miscdevice.h).

use crate::{
    bindings,
    error::{to_result, Error, Result, VTABLE_DEFAULT_ERROR},
    ffi::{c_int, c_long, c_uint, c_ulong},
    fs::File,
    init::{self, PinInit},
    prelude::*,
    str::CStr,
    types::{ForeignOwnable, Opaque},
    ThisModule,
};
use core::{marker::PhantomData, mem::MaybeUninit, ptr::addr_of_mut};

/// `MISC_DYNAMIC_MINOR` from C.
pub const MISC_DYNAMIC_MINOR: i32 = 255;

/// Options for creating a misc device.
#[derive(Copy, Clone)]
pub struct MiscDeviceOptions {
    /// The name of the miscdevice (and of its class device).
    pub name: &'static CStr,
    /// The `/dev` node name, if different from `name` (`"vfio/vfio"`).
    pub nodename: Option<&'static CStr>,
    /// The mode of the `/dev` node (`0o660`); 0 means the misc default (0600).
    pub mode: u16,
    /// A fixed minor, or `None` for a dynamic one.
    pub minor: Option<i32>,
}

impl MiscDeviceOptions {
    fn into_raw(self, fops: *const bindings::file_operations) -> bindings::miscdevice {
        // SAFETY: All-zeroes is a valid value for `struct miscdevice` (C static initialisers
        // leave every other field zero too).
        let mut result: bindings::miscdevice = unsafe { MaybeUninit::zeroed().assume_init() };
        result.minor = self.minor.unwrap_or(MISC_DYNAMIC_MINOR);
        result.name = self.name.as_char_ptr();
        result.nodename = self.nodename.map_or(core::ptr::null(), |n| n.as_char_ptr());
        result.mode = self.mode;
        result.fops = fops;
        result
    }
}

/// A registration of a miscdevice.
///
/// # Invariants
///
/// `inner` is registered with the misc core (`misc_register` succeeded) and `fops` is the
/// file operations table it points at, for as long as this value lives; both are pinned.
#[pin_data(PinnedDrop)]
pub struct MiscDeviceRegistration<T> {
    #[pin]
    fops: Opaque<bindings::file_operations>,
    #[pin]
    inner: Opaque<bindings::miscdevice>,
    _t: PhantomData<T>,
}

// SAFETY: It is allowed to call `misc_deregister` on a different thread from where `misc_register`
// was called, and the fields are only read after registration.
unsafe impl<T> Send for MiscDeviceRegistration<T> {}
// SAFETY: All `&self` methods only read fields that do not change after registration.
unsafe impl<T> Sync for MiscDeviceRegistration<T> {}

impl<T: MiscDevice> MiscDeviceRegistration<T> {
    /// Registers a misc device whose files are owned by `module`.
    pub fn register(
        opts: MiscDeviceOptions,
        module: &'static ThisModule,
    ) -> impl PinInit<Self, Error> {
        // SAFETY: The closure initialises `fops` and `inner` (the only fields with content) and
        // returns `Ok` only when the device is registered, which establishes the invariants. On
        // error nothing was registered and the slot holds nothing that needs dropping.
        unsafe {
            init::pin_init_from_closure(move |slot: *mut Self| {
                let fops = Opaque::raw_get(addr_of_mut!((*slot).fops));
                fops.write(create_fops::<T>(module));
                let misc = Opaque::raw_get(addr_of_mut!((*slot).inner));
                misc.write(opts.into_raw(fops));
                to_result(bindings::misc_register(misc))
            })
        }
    }

    /// Returns a raw pointer to the misc device.
    pub fn as_raw(&self) -> *mut bindings::miscdevice {
        self.inner.get()
    }

    /// The minor number the device got (meaningful for a dynamic minor too).
    pub fn minor(&self) -> i32 {
        // SAFETY: By the type invariants the device is registered; `minor` was written by
        // `misc_register` before it returned and is not changed afterwards.
        unsafe { (*self.inner.get()).minor }
    }

    /// Whether `file` is a file of this driver (opened through this registration or another
    /// one with the same `T`'s file operations table of this registration).
    pub fn owns_file(&self, file: &File) -> bool {
        core::ptr::eq(file.f_op(), self.fops.get())
    }
}

#[pinned_drop]
impl<T> PinnedDrop for MiscDeviceRegistration<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: By the type invariants the device is registered, so it may be deregistered.
        unsafe { bindings::misc_deregister(self.inner.get()) };
    }
}

/// Trait implemented by the private data of an open misc device.
#[vtable]
pub trait MiscDevice: Sized {
    /// What kind of pointer should `Self` be wrapped in.
    type Ptr: ForeignOwnable + Send + Sync;

    /// Called when the misc device is opened.
    ///
    /// The returned pointer will be stored as the private data for the file.
    fn open(file: &File, misc: &MiscDeviceRegistration<Self>) -> Result<Self::Ptr>;

    /// Called when the misc device is released (last reference to the file dropped).
    fn release(device: Self::Ptr, _file: &File) {
        drop(device);
    }

    /// Handler for ioctls.
    ///
    /// The `cmd` argument is usually manipulated using the utilities in [`kernel::ioctl`].
    /// Return `Err(ENOIOCTLCMD)` for an unknown command: the VFS turns it into `ENOTTY`.
    ///
    /// [`kernel::ioctl`]: mod@crate::ioctl
    fn ioctl(
        _device: <Self::Ptr as ForeignOwnable>::Borrowed<'_>,
        _file: &File,
        _cmd: u32,
        _arg: usize,
    ) -> Result<isize> {
        crate::build_error(VTABLE_DEFAULT_ERROR)
    }

    /// Handler for ioctls of 32-bit tasks on a 64-bit kernel. Without it, such tasks get
    /// `ENOTTY` (what C drivers without `compat_ioctl` give).
    fn compat_ioctl(
        _device: <Self::Ptr as ForeignOwnable>::Borrowed<'_>,
        _file: &File,
        _cmd: u32,
        _arg: usize,
    ) -> Result<isize> {
        crate::build_error(VTABLE_DEFAULT_ERROR)
    }
}

fn create_fops<T: MiscDevice>(module: &'static ThisModule) -> bindings::file_operations {
    // SAFETY: All-zeroes is a valid `struct file_operations` (absent callbacks are NULL).
    let mut fops: bindings::file_operations = unsafe { MaybeUninit::zeroed().assume_init() };
    fops.owner = module.as_ptr();
    fops.open = Some(fops_open::<T>);
    fops.release = Some(fops_release::<T>);
    if T::HAS_IOCTL {
        fops.unlocked_ioctl = Some(fops_ioctl::<T>);
    }
    if T::HAS_COMPAT_IOCTL {
        fops.compat_ioctl = Some(fops_compat_ioctl::<T>);
    }
    fops
}

/// # Safety
///
/// `file` and `inode` must be the file and inode for a file that is undergoing initialization.
/// The file must be associated with a `MiscDeviceRegistration<T>`.
unsafe extern "C" fn fops_open<T: MiscDevice>(
    _inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    // SAFETY: The caller provides a valid file; `misc_open()` set `private_data` to the
    // `struct miscdevice` before calling us.
    let misc_ptr = unsafe { (*file).private_data }.cast::<bindings::miscdevice>();
    // SAFETY: Every misc device using these fops is the `inner` field of a live (registered,
    // pinned) `MiscDeviceRegistration<T>`: it stays registered, so alive, while it is being
    // opened because `misc_open()` holds `misc_mtx` and a module reference.
    let misc = unsafe {
        &*crate::container_of!(
            misc_ptr.cast::<Opaque<bindings::miscdevice>>(),
            MiscDeviceRegistration<T>,
            inner
        )
    };
    // SAFETY: The file is valid for the duration of this call.
    let f = unsafe { File::from_raw_file(file) };
    match T::open(f, misc) {
        Ok(ptr) => {
            // SAFETY: The file is being opened, so nobody else uses `private_data` yet.
            unsafe { (*file).private_data = ptr.into_foreign().cast_mut() };
            0
        }
        Err(err) => err.to_errno(),
    }
}

/// # Safety
///
/// `file` and `inode` must be the file and inode for a file that is being released. The file
/// must be associated with a `MiscDeviceRegistration<T>` and have been opened successfully.
unsafe extern "C" fn fops_release<T: MiscDevice>(
    _inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    // SAFETY: The release call of a file owns the private data: `fops_open` stored a foreign
    // pointer there and no other file operation runs anymore.
    let ptr = unsafe { T::Ptr::from_foreign((*file).private_data) };
    // SAFETY: The file is valid for the duration of this call.
    T::release(ptr, unsafe { File::from_raw_file(file) });
    0
}

/// The ioctl handler signature of [`MiscDevice`], for [`call_ioctl`].
type IoctlFn<T> = for<'a> fn(
    <<T as MiscDevice>::Ptr as ForeignOwnable>::Borrowed<'a>,
    &File,
    u32,
    usize,
) -> Result<isize>;

/// Runs `handler` for an ioctl on `file`.
///
/// # Safety
///
/// `file` must be a valid file that is associated with a `MiscDeviceRegistration<T>` and was
/// opened successfully.
unsafe fn call_ioctl<T: MiscDevice>(
    file: *mut bindings::file,
    cmd: c_uint,
    arg: c_ulong,
    handler: IoctlFn<T>,
) -> c_long {
    // SAFETY: The ioctl call of a file can access the private data: it is not released before
    // every file operation returned.
    let device = unsafe { T::Ptr::borrow((*file).private_data) };
    // SAFETY: The file is valid for the duration of this call.
    let f = unsafe { File::from_raw_file(file) };
    match handler(device, f, cmd, arg as usize) {
        Ok(ret) => ret as c_long,
        Err(err) => err.to_errno() as c_long,
    }
}

/// # Safety
///
/// `file` must be a valid file that is associated with a `MiscDeviceRegistration<T>` and was
/// opened successfully.
unsafe extern "C" fn fops_ioctl<T: MiscDevice>(
    file: *mut bindings::file,
    cmd: c_uint,
    arg: c_ulong,
) -> c_long {
    // SAFETY: The caller's guarantees are `call_ioctl`'s.
    unsafe { call_ioctl::<T>(file, cmd, arg, T::ioctl) }
}

/// # Safety
///
/// `file` must be a valid file that is associated with a `MiscDeviceRegistration<T>` and was
/// opened successfully.
unsafe extern "C" fn fops_compat_ioctl<T: MiscDevice>(
    file: *mut bindings::file,
    cmd: c_uint,
    arg: c_ulong,
) -> c_long {
    // SAFETY: The caller's guarantees are `call_ioctl`'s.
    unsafe { call_ioctl::<T>(file, cmd, arg, T::compat_ioctl) }
}
