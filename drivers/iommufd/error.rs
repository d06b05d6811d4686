// SPDX-License-Identifier: GPL-2.0

//! The module's one home for errors at the C boundary. The core and the shell speak
//! [`Errno`] (a positive errno, `no_std`); these are the only conversions, one per direction:
//!
//! - kernel `Error` <-> [`Errno`]: [`kerr`], [`errno_of`];
//! - a C return code (0 or `-errno`) -> `Result`: [`from_rc`];
//! - an error -> `ERR_PTR`, for pointers we return to C: [`err_ptr`] (the other direction is
//!   the kernel crate's, in the abstractions that take such pointers: `from_err_ptr`).

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

impl From<Error> for Errno {
    fn from(e: Error) -> Errno {
        errno_of(e)
    }
}

/// A C return code (0, or a negative errno) as a `Result`.
pub(crate) fn from_rc(rc: i32) -> Result<(), Errno> {
    if rc < 0 {
        Err(Errno(-rc))
    } else {
        Ok(())
    }
}

/// C `ERR_PTR(-errno)`, for pointers returned to C callers.
pub(crate) fn err_ptr<T>(e: Errno) -> *mut T {
    (-(e.0 as isize)) as *mut T
}
