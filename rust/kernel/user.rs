// SPDX-License-Identifier: GPL-2.0

//! Per-user accounting (`struct user_struct`).
//!
//! C header: [`include/linux/sched/user.h`](srctree/include/linux/sched/user.h).

use core::ptr::NonNull;
use kernel::{bindings, prelude::*};

/// An owned reference to a `struct user_struct`, the accounting record that every task of one
/// user (uid) shares.
///
/// # Invariants
///
/// `ptr` points to a valid `struct user_struct` and holds one count of it (`__count`), taken by
/// [`User::current`] and given back by `Drop` (`free_uid`).
pub struct User {
    ptr: NonNull<bindings::user_struct>,
}

// SAFETY: The count may be dropped from any task (`free_uid` takes its own locks), and the
// fields used through `&User` are atomics.
unsafe impl Send for User {}
// SAFETY: `&User` only gives atomic operations on `locked_vm`.
unsafe impl Sync for User {}

impl User {
    /// The current task's user, with a count (C `get_current_user()`).
    #[inline]
    pub fn current() -> Self {
        // SAFETY: `get_current_user` takes a count on the user of the running task's
        // credentials.
        let ptr = unsafe { bindings::get_current_user() };
        // SAFETY: It returns `current_cred()->user`, which is never NULL: every credential
        // has a user (the root user's is static).
        let ptr = unsafe { NonNull::new_unchecked(ptr) };
        // INVARIANT: `get_current_user` took the count.
        Self { ptr }
    }

    /// Pages of memory this user has locked (C `atomic_long_read(&user->locked_vm)`).
    pub fn locked_vm(&self) -> usize {
        // SAFETY: `self.ptr` is valid (type invariants); the read is atomic.
        let v = unsafe { bindings::user_locked_vm_read(self.ptr.as_ptr()) };
        usize::try_from(v).unwrap_or(0)
    }

    /// Adds `npages` to the user's `locked_vm` unless the result would exceed `limit` pages;
    /// `ENOMEM` then, and nothing is charged. The check and the add are one atomic step (a
    /// compare-and-exchange loop), as C `incr_user_locked_vm()` of iommufd and io_uring's
    /// `__io_account_mem()` do.
    pub fn try_charge_locked_vm(&self, npages: usize, limit: usize) -> Result {
        let user = self.ptr.as_ptr();
        // SAFETY: `user` is valid (type invariants); the read is atomic.
        let mut cur = unsafe { bindings::user_locked_vm_read(user) };
        loop {
            let new = usize::try_from(cur)
                .ok()
                .and_then(|c| c.checked_add(npages))
                .ok_or(ENOMEM)?;
            if new > limit {
                return Err(ENOMEM);
            }
            let new = kernel::ffi::c_long::try_from(new).map_err(|_| ENOMEM)?;
            // SAFETY: `user` is valid (type invariants); `cur` is a local that the exchange
            // updates to the current value when it fails.
            if unsafe { bindings::user_locked_vm_try_cmpxchg(user, &mut cur, new) } {
                return Ok(());
            }
        }
    }

    /// Takes `npages` off the user's `locked_vm` (C `decr_user_locked_vm()`). `EINVAL`, and
    /// nothing is changed, if that would go below zero.
    pub fn uncharge_locked_vm(&self, npages: usize) -> Result {
        let user = self.ptr.as_ptr();
        if self.locked_vm() < npages {
            return Err(EINVAL);
        }
        let n = kernel::ffi::c_long::try_from(npages).map_err(|_| EINVAL)?;
        // SAFETY: `user` is valid (type invariants); the subtraction is atomic.
        unsafe { bindings::user_locked_vm_sub(user, n) };
        Ok(())
    }
}

impl Drop for User {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: `self` owns one count (type invariants), given back once here.
        unsafe { bindings::free_uid(self.ptr.as_ptr()) };
    }
}
