// SPDX-License-Identifier: GPL-2.0

//! The module's one home for errors at the C boundary. The core and the shell speak
//! [`Errno`] (a positive errno, `no_std`); these are the only conversions, one per direction:
//!
//! - kernel `Error` <-> [`Errno`]: [`kerr`], [`errno_of`];
//! - a C return code (0 or `-errno`) -> `Result`: [`from_rc`];
//! - a C pointer that may be an `ERR_PTR` (or NULL) -> `Result`: [`ptr_err`]; and back, for
//!   pointers we return to C: [`err_ptr`].

use crate::iommufd_core::errno::Errno;
use kernel::prelude::*;

/// A core errno as a kernel error (what an ioctl returns).
pub(crate) fn kerr(e: Errno) -> Error {
    Error::from_errno(-e.0)
}

/// A kernel error as a core errno.
pub(crate) fn errno_of(e: Error) -> Errno {
    Errno(-e.to_errno())
}

/// A C return code (0, or a negative errno) as a `Result`.
pub(crate) fn from_rc(rc: i32) -> Result<(), Errno> {
    if rc < 0 {
        Err(Errno(-rc))
    } else {
        Ok(())
    }
}

/// C `IS_ERR()`/`PTR_ERR()` on a pointer returned by the kernel or a driver: the errno of an
/// error pointer, `ENOMEM` for NULL.
pub(crate) fn ptr_err<T>(p: *mut T) -> Result<core::ptr::NonNull<T>, Errno> {
    let v = p as isize;
    if (-4095..0).contains(&v) {
        return Err(Errno(-(v as i32)));
    }
    core::ptr::NonNull::new(p).ok_or(Errno::ENOMEM)
}

/// C `ERR_PTR(-errno)`, for pointers returned to C callers.
pub(crate) fn err_ptr<T>(e: Errno) -> *mut T {
    (-(e.0 as isize)) as *mut T
}
