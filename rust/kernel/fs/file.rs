// SPDX-License-Identifier: GPL-2.0

//! Files.
//!
//! iommufd-rs overlay: a `struct file` as passed to file operations (the kernel keeps the file
//! alive for the whole duration of every callback), a reference-counted one ([`ARef<File>`],
//! from [`File::fget`] or a file a C constructor made), and a reserved file descriptor
//! ([`FileDescriptorReservation`]) to publish one in, as upstream's `kernel::fs::file` has.
//!
//! C headers: [`include/linux/fs.h`](srctree/include/linux/fs.h) and
//! [`include/linux/file.h`](srctree/include/linux/file.h)

use crate::{
    bindings,
    error::{code::*, Error, Result},
    types::{ARef, AlwaysRefCounted, Opaque},
};
use core::ptr::NonNull;

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

    /// The file's `private_data`: what the opener stored there, for the owner of the file's
    /// operations to interpret (after checking [`File::f_op`]).
    #[inline]
    pub fn private_data(&self) -> *mut crate::ffi::c_void {
        // SAFETY: By the type invariants the file is valid; reading a pointer field is fine,
        // and `private_data` is set by `open` before the file is published.
        unsafe { (*self.as_ptr()).private_data }
    }

    /// Takes a reference on the file of descriptor `fd` of the current task (C `fget()`);
    /// `EBADF` if there is none.
    pub fn fget(fd: u32) -> Result<ARef<File>> {
        // SAFETY: `fget` may be called with any number; it returns a new reference or NULL.
        let ptr = NonNull::new(unsafe { bindings::fget(fd) }).ok_or(EBADF)?;
        // SAFETY: `fget` gave us one reference, owned by the `ARef` from now on; `File` is
        // transparent over `struct file`.
        Ok(unsafe { ARef::from_raw(ptr.cast()) })
    }

    /// Takes ownership of the reference a C constructor returned (an `anon_inode_getfile()`
    /// and the like): an `ERR_PTR` is returned as its error, NULL as `ENOMEM`.
    ///
    /// # Safety
    ///
    /// `ptr` must be an `ERR_PTR`, NULL, or a file on which the caller owns one reference,
    /// which it gives to the returned `ARef`.
    pub unsafe fn from_raw_owned(ptr: *mut bindings::file) -> Result<ARef<File>> {
        let ptr = crate::error::from_err_ptr(ptr)?;
        let ptr = NonNull::new(ptr).ok_or(ENOMEM)?;
        // SAFETY: A valid file whose reference the caller gives us (safety requirements).
        Ok(unsafe { ARef::from_raw(ptr.cast()) })
    }
}

// SAFETY: `get_file` and `fput` keep the file alive while its count is positive, and may be
// called from any task.
unsafe impl AlwaysRefCounted for File {
    fn inc_ref(&self) {
        // SAFETY: The existence of `&self` means the count is positive.
        unsafe { bindings::get_file(self.as_ptr()) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: The caller gives back one reference it owns.
        unsafe { bindings::fput(obj.cast().as_ptr()) };
    }
}

/// A file descriptor number reserved in the current task's table (C
/// `get_unused_fd_flags()`), given back on drop (`put_unused_fd()`) unless a file is installed
/// in it with [`FileDescriptorReservation::fd_install`].
///
/// # Invariants
///
/// `fd` is a number reserved by `get_unused_fd_flags()` in the table of the task that made the
/// reservation, and nothing is installed in it yet. The type is not `Send`: the number belongs
/// to that task's table.
pub struct FileDescriptorReservation {
    fd: u32,
    _not_send: core::marker::PhantomData<*mut ()>,
}

impl FileDescriptorReservation {
    /// Reserves a descriptor number with the `O_*` `flags` (`O_CLOEXEC`).
    pub fn get_unused_fd_flags(flags: u32) -> Result<Self> {
        // SAFETY: Any flags may be passed; the call returns a number or a negative errno.
        let fd = unsafe { bindings::get_unused_fd_flags(flags) };
        if fd < 0 {
            return Err(Error::from_errno(fd));
        }
        // INVARIANT: Reserved just above, nothing installed.
        Ok(Self {
            fd: fd as u32,
            _not_send: core::marker::PhantomData,
        })
    }

    /// The reserved number.
    pub fn reserved_fd(&self) -> u32 {
        self.fd
    }

    /// Installs `file` in the reserved number (C `fd_install()`), which takes over the
    /// reference: the file is visible to user space from now on.
    pub fn fd_install(self, file: ARef<File>) {
        let fd = self.fd;
        core::mem::forget(self);
        // SAFETY: `fd` is reserved in the current task's table and empty (type invariants,
        // and `self` is not `Send`), and `fd_install` consumes the reference we give it.
        unsafe { bindings::fd_install(fd, ARef::into_raw(file).cast().as_ptr()) };
    }
}

impl Drop for FileDescriptorReservation {
    fn drop(&mut self) {
        // SAFETY: Reserved and empty (type invariants); given back once.
        unsafe { bindings::put_unused_fd(self.fd) };
    }
}

/// Flags of an open file (C `O_*`).
pub mod flags {
    /// C `O_CLOEXEC`: close the descriptor on `execve()`.
    pub const O_CLOEXEC: u32 = crate::bindings::O_CLOEXEC;
}
