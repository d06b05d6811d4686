// SPDX-License-Identifier: GPL-2.0

//! The core's storage traits on `KVec`: how the pure core gets memory in the kernel.
//!
//! Every allocation is `GFP_KERNEL_ACCOUNT` (charged to the caller's memcg, as C iommufd's
//! tables are) and fallible: `ENOMEM` reaches the core, which reserves before it changes
//! anything.

use crate::iommufd_core::{
    errno::{Errno, Result},
    storage::{Slots, Storage},
};
use kernel::prelude::*;

/// A `KVec` as the core's [`Slots`].
pub(crate) struct KSlots<T>(KVec<T>);

impl<T> Slots<T> for KSlots<T> {
    fn as_slice(&self) -> &[T] {
        self.0.as_slice()
    }

    fn as_mut_slice(&mut self) -> &mut [T] {
        self.0.as_mut_slice()
    }

    fn try_reserve(&mut self, additional: usize) -> Result {
        self.0
            .reserve(additional, GFP_KERNEL_ACCOUNT)
            .map_err(|_| Errno::ENOMEM)
    }

    fn try_insert(&mut self, index: usize, value: T) -> Result {
        let len = self.0.len();
        if index > len {
            return Err(Errno::EINVAL);
        }
        // After a successful `try_reserve` this cannot allocate, hence cannot fail.
        self.0
            .push(value, GFP_KERNEL_ACCOUNT)
            .map_err(|_| Errno::ENOMEM)?;
        // Appending (the common case: an IOAS's first area, or one above the others) moves
        // nothing; `rotate_right` would still go through its general algorithm.
        if index < len {
            self.0.as_mut_slice()[index..].rotate_right(1);
        }
        Ok(())
    }

    fn remove(&mut self, index: usize) -> T {
        // The core guarantees `index < len`; a violation is a bug, not user input.
        match vec_remove(&mut self.0, index) {
            Some(v) => v,
            None => panic!("KSlots::remove: index {} out of bounds", index),
        }
    }

    fn capacity(&self) -> usize {
        self.0.capacity()
    }
}

/// The kernel's [`Storage`]: every table is a [`KSlots`].
#[derive(Clone, Copy, Default)]
pub(crate) struct KStorage;

impl Storage for KStorage {
    type Table<T> = KSlots<T>;

    fn new_table<T>(&self) -> KSlots<T> {
        KSlots(KVec::new())
    }
}

/// Removes and returns element `index` of `v`, shifting the rest down (`Vec::remove`, which
/// the kernel's `KVec` lacks); `None` if out of bounds.
pub(crate) fn vec_remove<T>(v: &mut KVec<T>, index: usize) -> Option<T> {
    let len = v.len();
    if index >= len {
        return None;
    }
    // The last element needs no move (`rotate_left` would still go through its general
    // algorithm): `swap_remove` and removals at the end of a table.
    if index + 1 < len {
        v.as_mut_slice()[index..].rotate_left(1);
    }
    // SAFETY: `len > index >= 0`, so `len - 1` is in bounds and initialised; the element there
    // (the one removed, rotated to the end) is read out exactly once, and `set_len` then
    // forgets it, so it is neither dropped twice nor leaked.
    unsafe {
        let x = core::ptr::read(v.as_ptr().add(len - 1));
        v.set_len(len - 1);
        Some(x)
    }
}

/// Removes element `index` of `v` by moving the last element into its place (order is not
/// kept); `None` if `index` is out of bounds.
pub(crate) fn swap_remove<T>(v: &mut KVec<T>, index: usize) -> Option<T> {
    let len = v.len();
    if index >= len {
        return None;
    }
    v.as_mut_slice().swap(index, len - 1);
    vec_remove(v, len - 1)
}
