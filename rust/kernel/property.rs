// SPDX-License-Identifier: GPL-2.0

//! Device properties of software nodes.
//!
//! C header: [`include/linux/property.h`](srctree/include/linux/property.h).

use kernel::{bindings, str::CStr};

/// A terminated list of `N - 1` C `struct property_entry` (the last one is the terminator),
/// fit for a `static` and for `device_create_managed_software_node()`, which copies it.
///
/// # Invariants
///
/// The last entry is all zero (the terminator); the others have static names and inline
/// values.
#[repr(transparent)]
pub struct PropertyList<const N: usize>([bindings::property_entry; N]);

// SAFETY: The entries are never written after construction; the names they point to are
// `'static` strings.
unsafe impl<const N: usize> Sync for PropertyList<N> {}

/// C `PROPERTY_ENTRY_U32(name, value)`.
pub const fn entry_u32(name: &'static CStr, value: u32) -> bindings::property_entry {
    bindings::property_entry {
        name: name.as_char_ptr(),
        length: core::mem::size_of::<u32>(),
        is_inline: true,
        type_: bindings::dev_prop_type_DEV_PROP_U32,
        __bindgen_anon_1: bindings::property_entry__bindgen_ty_1 {
            value: bindings::property_entry__bindgen_ty_1__bindgen_ty_1 {
                u32_data: [value, 0],
            },
        },
    }
}

/// The all-zero entry that ends a list.
pub const fn terminator() -> bindings::property_entry {
    // SAFETY: All-zero is a valid `property_entry` (null name), C's `{ }` terminator.
    unsafe { core::mem::zeroed() }
}

impl<const N: usize> PropertyList<N> {
    /// The list of `entries` (built with [`entry_u32`]), of which the last must be
    /// [`terminator`]; a list that is not terminated fails to build (in a `static`).
    pub const fn new(entries: [bindings::property_entry; N]) -> Self {
        // The terminator is the only entry without a value.
        assert!(N > 0 && entries[N - 1].length == 0 && !entries[N - 1].is_inline);
        // INVARIANT: `entry_u32` makes named inline entries, and the terminator goes last
        // (checked above, by its empty value).
        Self(entries)
    }

    /// The entries, terminator included, for C.
    pub fn as_ptr(&self) -> *const bindings::property_entry {
        self.0.as_ptr()
    }
}
