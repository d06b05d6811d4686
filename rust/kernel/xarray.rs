// SPDX-License-Identifier: GPL-2.0

//! XArrays of entries they do not own: integer values and addresses.
//!
//! C header: [`include/linux/xarray.h`](srctree/include/linux/xarray.h).

use core::ptr::NonNull;
use kernel::{
    bindings,
    error::Error,
    ffi::{c_int, c_ulong, c_void},
    prelude::*,
    types::Opaque,
};

/// `MAX_ERRNO`, the highest errno an internal xarray entry carries.
const MAX_ERRNO: isize = 4095;

/// C `xa_mk_value()`.
#[inline]
fn mk_value(v: usize) -> *mut c_void {
    ((v << 1) | 1) as *mut c_void
}

/// C `xa_to_value()`.
#[inline]
fn to_value(entry: *const c_void) -> usize {
    (entry as usize) >> 1
}

/// C `xa_is_err()` and `xa_err()`: the error an internal entry carries, if it is one.
#[inline]
fn to_err(entry: *const c_void) -> Option<Error> {
    let e = entry as usize;
    if e & 3 == 2 && e >= ((-MAX_ERRNO << 2) | 2) as usize {
        Some(Error::from_errno(((entry as isize) >> 2) as c_int))
    } else {
        None
    }
}

/// A C `struct xarray` whose entries are integer values (C `xa_mk_value()`, below 2^63) or
/// addresses of 4-byte-aligned objects, which it never dereferences or frees.
///
/// # Invariants
///
/// `xa` is initialised (C `xa_init()`) by [`XArray::new`] and destroyed by the drop; every
/// entry was stored by [`XArray::store_value`] or [`XArray::store_addr`].
#[pin_data(PinnedDrop)]
pub struct XArray {
    #[pin]
    xa: Opaque<bindings::xarray>,
}

// SAFETY: The xarray has its own lock (and RCU for loads), and its entries are plain numbers,
// not references to thread-bound data.
unsafe impl Send for XArray {}
// SAFETY: As above; `&XArray` only reaches the xarray through its locked C functions.
unsafe impl Sync for XArray {}

impl XArray {
    /// An empty xarray.
    pub fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            // SAFETY: `xa` is the xarray's place in the pinned value, where it stays until the
            // drop destroys it.
            xa <- Opaque::ffi_init(|xa| unsafe { bindings::xa_init(xa) }),
        })
    }

    #[inline]
    fn as_raw(&self) -> *mut bindings::xarray {
        self.xa.get()
    }

    /// C `xa_load()`: the raw entry at `index` (null if none).
    #[inline]
    fn load(&self, index: usize) -> *mut c_void {
        // SAFETY: The xarray is initialised (type invariant); `xa_load` takes the RCU read lock.
        unsafe { bindings::xa_load(self.as_raw(), index as c_ulong) }
    }

    /// C `xa_store()` of a raw entry: the old entry, or the store's error. `gfp` is a C
    /// allocation mask (`GFP_KERNEL`, or the one a C caller passed down).
    #[inline]
    fn store(&self, index: usize, entry: *mut c_void, gfp: bindings::gfp_t) -> Result<*mut c_void> {
        // SAFETY: The xarray is initialised (type invariant); `xa_store` takes the xarray lock.
        // The entry is a value or an aligned address (callers), so not an internal entry.
        let old = unsafe { bindings::xa_store(self.as_raw(), index as c_ulong, entry, gfp) };
        match to_err(old) {
            Some(e) => Err(e),
            None => Ok(old),
        }
    }

    /// The value at `index` (C `xa_to_value(xa_load())`), `None` if the index is empty.
    #[inline]
    pub fn load_value(&self, index: usize) -> Option<usize> {
        let entry = self.load(index);
        (!entry.is_null()).then(|| to_value(entry))
    }

    /// Stores the value `value` (below 2^63) at `index` (C `xa_store(xa_mk_value())`, with the
    /// C allocation mask `gfp`): the old value, if any. `EINVAL` for a value of 2^63 or more.
    #[inline]
    pub fn store_value(
        &self,
        index: usize,
        value: usize,
        gfp: bindings::gfp_t,
    ) -> Result<Option<usize>> {
        if value > usize::MAX >> 1 {
            return Err(EINVAL);
        }
        let old = self.store(index, mk_value(value), gfp)?;
        Ok((!old.is_null()).then(|| to_value(old)))
    }

    /// Removes the value at `index` (C `xa_erase()`): the old value, if any.
    #[inline]
    pub fn erase_value(&self, index: usize) -> Option<usize> {
        let old = self.erase(index);
        (!old.is_null()).then(|| to_value(old))
    }

    /// The address at `index`, `None` if the index is empty.
    pub fn load_addr(&self, index: usize) -> Option<NonNull<c_void>> {
        NonNull::new(self.load(index))
    }

    /// Stores the address of `object` at `index` (C `xa_store()` of a pointer); the xarray
    /// does not own it, and [`XArray::load_addr`] gives it back as a plain address.
    pub fn store_addr<T>(&self, index: usize, object: &T, gfp: bindings::gfp_t) -> Result {
        const { assert!(core::mem::align_of::<T>() >= 4) };
        self.store(index, core::ptr::from_ref(object).cast_mut().cast(), gfp)?;
        Ok(())
    }

    /// C `xa_erase()`: removes the entry at `index`.
    #[inline]
    fn erase(&self, index: usize) -> *mut c_void {
        // SAFETY: The xarray is initialised (type invariant); `xa_erase` takes the xarray lock.
        unsafe { bindings::xa_erase(self.as_raw(), index as c_ulong) }
    }

    /// Removes the entry at `index`, whatever it is.
    pub fn remove(&self, index: usize) {
        self.erase(index);
    }

    /// C `xa_empty()`.
    pub fn is_empty(&self) -> bool {
        // SAFETY: The xarray is initialised (type invariant); a racy read of the head, as C's.
        unsafe { (*self.as_raw()).xa_head.is_null() }
    }
}

#[pinned_drop]
impl PinnedDrop for XArray {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: Initialised by `new` (type invariant) and no longer used; the entries are not
        // owned, so only the xarray's nodes are freed.
        unsafe { bindings::xa_destroy(self.as_raw()) };
    }
}
