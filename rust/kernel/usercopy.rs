// SPDX-License-Identifier: GPL-2.0

//! Extensible-struct user copies.
//!
//! iommufd-rs overlay: the Rust face of `copy_struct_from_user()`, which 6.12's `uaccess` module
//! lacks. Many uAPIs (iommufd, `openat2`, `clone3`) pass a struct whose first field is its size,
//! so that old binaries and new kernels (and the reverse) interoperate.
//!
//! C header: [`include/linux/uaccess.h`](srctree/include/linux/uaccess.h)

use crate::{bindings, error::to_result, prelude::*, uaccess::UserPtr};

/// Copies an extensible struct of `user_size` bytes at `src` into `dst`.
///
/// Exactly the rules of C `copy_struct_from_user()`:
/// - `user_size == dst.len()`: a plain copy;
/// - `user_size < dst.len()`: the user's bytes are copied and the rest of `dst` is zeroed;
/// - `user_size > dst.len()`: the bytes past `dst.len()` must all be zero, else `E2BIG`, and
///   `dst.len()` bytes are copied.
///
/// Faults give `EFAULT`. On error `dst` may have been partly written.
#[inline]
pub fn copy_struct_from_user(dst: &mut [u8], src: UserPtr, user_size: usize) -> Result {
    // SAFETY: `dst` is a valid writable buffer of `dst.len()` bytes for the whole call; the
    // helper only touches user memory through the checked uaccess routines.
    to_result(unsafe {
        bindings::copy_struct_from_user(
            dst.as_mut_ptr().cast(),
            dst.len(),
            src as *const core::ffi::c_void,
            user_size,
        )
    })
}
