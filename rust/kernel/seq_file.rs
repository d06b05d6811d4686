// SPDX-License-Identifier: GPL-2.0

//! Sequence files: a file whose content is printed record by record (C `struct seq_file`).
//!
//! C header: [`include/linux/seq_file.h`](srctree/include/linux/seq_file.h).
//!
//! iommufd-rs overlay, shaped like the `kernel::seq_file` of later kernels ([`SeqFile`] and
//! [`seq_print!`]), plus what 6.12 has no Rust side for at all: [`SeqIterator`], the records of
//! a file asked for by position (C `struct seq_operations`), so that a large content is printed
//! one bounded record at a time, and the C `seq_operations` table built from it
//! ([`SeqIterator`]'s implementors get it from [`seq_operations`]). A file's `file_operations`
//! come from [`crate::debugfs`].

use crate::ffi::{c_int, c_void};
use crate::{bindings, prelude::*, types::Opaque};
use core::fmt;

/// A `struct seq_file` whose buffer a record is printed into.
///
/// # Invariants
///
/// `inner` is a valid `struct seq_file`, borrowed from a `seq_operations` callback that the
/// seq_file core runs under the file's `lock`, so nothing else writes its buffer meanwhile.
#[repr(transparent)]
pub struct SeqFile {
    inner: Opaque<bindings::seq_file>,
}

impl SeqFile {
    /// The `SeqFile` of `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` must be a valid `struct seq_file` for `'a`, borrowed in one of its
    /// `seq_operations` callbacks.
    pub unsafe fn from_raw<'a>(ptr: *mut bindings::seq_file) -> &'a SeqFile {
        // INVARIANT: The caller's guarantee.
        // SAFETY: `SeqFile` is a transparent wrapper of the C struct, which is valid for `'a`
        // (the caller's guarantee).
        unsafe { &*ptr.cast::<SeqFile>() }
    }

    /// Prints formatted text (C `seq_printf()`); see [`seq_print!`]. Text past the buffer's
    /// end is dropped and the record retried by the seq_file core with a bigger buffer.
    pub fn call_printf(&self, args: fmt::Arguments<'_>) {
        // SAFETY: `inner` is valid and ours to write (type invariants). The format string is
        // NUL-terminated and `%pA` takes a `*const fmt::Arguments`, which `args` is and
        // outlives the call.
        unsafe {
            bindings::seq_printf(
                self.inner.get(),
                crate::c_str!("%pA").as_char_ptr(),
                core::ptr::addr_of!(args).cast::<c_void>(),
            );
        }
    }
}

/// Prints formatted text into a [`SeqFile`] (C `seq_printf()`).
///
/// # Examples
///
/// ```
/// # use kernel::{seq_file::SeqFile, seq_print};
/// fn show(m: &SeqFile) {
///     seq_print!(m, "objects {}\n", 3);
/// }
/// ```
#[macro_export]
macro_rules! seq_print {
    ($m:expr, $($arg:tt)+) => (
        $m.call_printf(format_args!($($arg)+))
    );
}

/// The records of a sequence file, asked for by position (C `struct seq_operations`).
///
/// The seq_file core fills one buffer per `read()`: it asks for the record at a position,
/// prints it, asks for the next one (position + 1) while there is room, and on the next
/// `read()` starts again at the first record it did not print. So a content of any size is
/// printed one record at a time, and [`SeqIterator::record`] can take what a record needs
/// under a lock and let it go before the record is printed by [`SeqIterator::show`].
///
/// A record must fit in a page to be printed without the core's retry with a bigger buffer.
pub trait SeqIterator: Sync + Send + Sized + 'static {
    /// What one open file keeps between its `record` calls (for example where the last record
    /// ended, so that the next is found from there rather than counted from the first).
    type Cursor: Send;

    /// A record: a snapshot of what [`SeqIterator::show`] prints.
    type Record;

    /// A new cursor, for a file being opened.
    fn cursor(&self) -> Self::Cursor;

    /// The record at position `pos` (0 for the first, each next one at the previous + 1), or
    /// `None` past the last. The same position may be asked for again (when the record did not
    /// fit in what was left of the reader's buffer), and any position after a seek.
    fn record(&self, cursor: &mut Self::Cursor, pos: u64) -> Result<Option<Self::Record>>;

    /// Prints `record` into `m`.
    fn show(record: &Self::Record, m: &SeqFile);
}

/// What an open sequence file of `T` keeps in `seq_file::private`.
///
/// # Invariants
///
/// `data` is the `T` that the file was opened on: it stays valid while any seq_operations
/// callback other than release runs (the file's owner, [`crate::debugfs`], guarantees it).
pub(crate) struct OpenState<T: SeqIterator> {
    pub(crate) data: *const T,
    pub(crate) cursor: T::Cursor,
}

/// The C `seq_operations` of `T`: a static table (a promoted constant), valid for as long as
/// the code it points to.
pub(crate) fn seq_operations<T: SeqIterator>() -> &'static bindings::seq_operations {
    trait Table {
        const OPS: bindings::seq_operations;
    }
    impl<T: SeqIterator> Table for T {
        const OPS: bindings::seq_operations = bindings::seq_operations {
            start: Some(seq_start::<T>),
            stop: Some(seq_stop::<T>),
            next: Some(seq_next::<T>),
            show: Some(seq_show::<T>),
        };
    }
    &<T as Table>::OPS
}

/// The record at `pos` as a C iterator value: a `KBox<T::Record>` pointer, NULL past the last
/// record, or an `ERR_PTR`.
///
/// # Safety
///
/// `m` must be a seq_file opened by [`crate::debugfs`] on a `T` (its `private` an
/// [`OpenState<T>`]), in a start or next callback.
unsafe fn record_at<T: SeqIterator>(
    m: *mut bindings::seq_file,
    pos: bindings::loff_t,
) -> *mut c_void {
    // SAFETY: `private` is the file's `OpenState<T>` (the caller's guarantee); the seq_file
    // core runs start and next under the file's `lock`, so this is the only reference.
    let state = unsafe { &mut *(*m).private.cast::<OpenState<T>>() };
    // SAFETY: `data` is valid during this callback (`OpenState` invariants).
    let data = unsafe { &*state.data };
    let Ok(pos) = u64::try_from(pos) else {
        return EINVAL.to_ptr();
    };
    match data.record(&mut state.cursor, pos) {
        Ok(None) => core::ptr::null_mut(),
        Ok(Some(r)) => match KBox::new(r, GFP_KERNEL) {
            Ok(b) => KBox::into_raw(b).cast::<c_void>(),
            Err(_) => ENOMEM.to_ptr(),
        },
        Err(e) => e.to_ptr(),
    }
}

/// Frees an iterator value of [`record_at`] (NULL and `ERR_PTR` are not records).
///
/// # Safety
///
/// `v` must be a value [`record_at`] returned for `T`, not freed yet.
unsafe fn free_record<T: SeqIterator>(v: *mut c_void) {
    // SAFETY: Just a check of the pointer's value.
    if v.is_null() || unsafe { bindings::IS_ERR(v) } {
        return;
    }
    // SAFETY: A non-error, non-NULL value of `record_at` is a `KBox<T::Record>` given up with
    // `into_raw`, freed once (the caller's guarantee).
    drop(unsafe { KBox::from_raw(v.cast::<T::Record>()) });
}

/// C `seq_operations::start`: the record at `*pos`.
///
/// # Safety
///
/// Called by the seq_file core only, on a file opened by [`crate::debugfs`] on a `T`, with a
/// valid `pos`.
unsafe extern "C" fn seq_start<T: SeqIterator>(
    m: *mut bindings::seq_file,
    pos: *mut bindings::loff_t,
) -> *mut c_void {
    // SAFETY: The seq_file core passes a valid position; `m` is a file of `T` (this table is
    // only installed by `crate::debugfs` for `T`).
    unsafe { record_at::<T>(m, *pos) }
}

/// C `seq_operations::next`: frees the record `v` and returns the one after it.
///
/// # Safety
///
/// As [`seq_start`]; `v` is the value the previous start or next returned.
unsafe extern "C" fn seq_next<T: SeqIterator>(
    m: *mut bindings::seq_file,
    v: *mut c_void,
    pos: *mut bindings::loff_t,
) -> *mut c_void {
    // SAFETY: `v` is the value of the previous start or next, which the core hands back
    // exactly once (to next or stop).
    unsafe { free_record::<T>(v) };
    // SAFETY: The seq_file core passes a valid position, which a next callback advances.
    let next = unsafe {
        *pos += 1;
        *pos
    };
    // SAFETY: As in `seq_start`.
    unsafe { record_at::<T>(m, next) }
}

/// C `seq_operations::stop`: frees the last record, if any.
///
/// # Safety
///
/// As [`seq_next`].
unsafe extern "C" fn seq_stop<T: SeqIterator>(_m: *mut bindings::seq_file, v: *mut c_void) {
    // SAFETY: As in `seq_next`: the last value, handed back once.
    unsafe { free_record::<T>(v) };
}

/// C `seq_operations::show`: prints the record `v`.
///
/// # Safety
///
/// As [`seq_start`]; `v` is a record (neither NULL nor an error) of start or next.
unsafe extern "C" fn seq_show<T: SeqIterator>(m: *mut bindings::seq_file, v: *mut c_void) -> c_int {
    // SAFETY: The core calls show only with a value of start or next that is neither NULL nor
    // an error: a live `KBox<T::Record>`, freed later by next or stop.
    let record = unsafe { &*v.cast::<T::Record>() };
    // SAFETY: `m` is valid during this callback, which the core runs under the file's lock.
    T::show(record, unsafe { SeqFile::from_raw(m) });
    0
}
