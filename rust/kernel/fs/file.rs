// SPDX-License-Identifier: GPL-2.0

//! Files.
//!
//! iommufd-rs overlay: a borrowed view of a `struct file` as passed to file operations. The
//! kernel keeps the file alive for the whole duration of every file operation callback, which is
//! the only place these references are created.
//!
//! C headers: [`include/linux/fs.h`](srctree/include/linux/fs.h) and
//! [`include/linux/file.h`](srctree/include/linux/file.h)

use crate::{bindings, types::Opaque};

/// A `struct file` borrowed for the duration of a file operation.
///
/// # Invariants
///
/// The inner `struct file` is valid and has a positive refcount for the lifetime of every `&File`.
#[repr(transparent)]
pub struct File {
    inner: Opaque<bindings::file>,
}

// SAFETY: `struct file` is designed to be used from any thread; the fields read through `File`
// (`f_flags`, `f_op`) are stable for the life of an open file or read with their own locking.
unsafe impl Sync for File {}

impl File {
    /// Creates a reference to a [`File`] from a valid pointer.
    ///
    /// # Safety
    ///
    /// The caller must ensure that `ptr` points at a valid file and that the file's refcount is
    /// positive for the duration of `'a`.
    pub unsafe fn from_raw_file<'a>(ptr: *const bindings::file) -> &'a File {
        // SAFETY: `File` is `repr(transparent)` over `Opaque<file>`, and the caller guarantees
        // the pointee is valid for `'a`.
        unsafe { &*ptr.cast() }
    }

    /// Returns a raw pointer to the inner C struct.
    #[inline]
    pub fn as_ptr(&self) -> *mut bindings::file {
        self.inner.get()
    }

    /// Returns the flags associated with the file (`O_*`).
    #[inline]
    pub fn flags(&self) -> u32 {
        // SAFETY: By the type invariants the file is valid; `f_flags` is only changed under
        // `f_lock` and a racy read of an integer is what C does too (`READ_ONCE`).
        unsafe { core::ptr::addr_of!((*self.as_ptr()).f_flags).read_volatile() }
    }

    /// Returns the file operations this file was opened with.
    ///
    /// Used to recognise files of a given driver (`file->f_op == &my_fops`).
    #[inline]
    pub fn f_op(&self) -> *const bindings::file_operations {
        // SAFETY: By the type invariants the file is valid; `f_op` is set before the file is
        // published and never changed afterwards.
        unsafe { (*self.as_ptr()).f_op }
    }
}
