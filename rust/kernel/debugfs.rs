// SPDX-License-Identifier: GPL-2.0

//! debugfs: directories and read-only files under `/sys/kernel/debug`.
//!
//! C header: [`include/linux/debugfs.h`](srctree/include/linux/debugfs.h).
//!
//! iommufd-rs overlay, shaped like the `kernel::debugfs` of later kernels ([`Dir`] removed
//! with its content on drop, files whose data the registration owns), with only what a
//! read-only view needs: a file printed through a [`SeqIterator`] ([`SeqFileEntry`]). As in
//! C, creation failures are not errors (debugfs is for debugging; without it the files simply
//! are not there). It needs `CONFIG_DEBUG_FS` (every config of this project has it): without it
//! the C functions are inline stubs that the bindings do not have.
//!
//! Files are created with `debugfs_create_file()`, whose proxy `file_operations` make every
//! operation but release fail once the file is removed, and make removal wait for the
//! operations in flight; the `file_operations` carry the module as `owner`, so a file that is
//! open keeps the module (and so the table and the code) loaded until it is released.

use crate::ffi::{c_int, c_void};
use crate::{
    bindings,
    prelude::*,
    seq_file::{seq_operations, OpenState, SeqIterator},
    str::CStr,
    sync::Arc,
    types::Opaque,
    ThisModule,
};
use core::mem::MaybeUninit;

/// A debugfs directory, removed with everything in it on drop (C `debugfs_remove()`).
///
/// # Invariants
///
/// `dentry` is what `debugfs_create_dir()` returned: a directory owned by `self`, or an error
/// pointer (then every use is a no-op in C).
pub struct Dir {
    dentry: *mut bindings::dentry,
}

// SAFETY: The dentry pointer is only passed to debugfs functions, which any task may call.
unsafe impl Send for Dir {}
// SAFETY: As for `Send`; `&Dir` only reads the pointer.
unsafe impl Sync for Dir {}

impl Dir {
    /// Creates directory `name` at the debugfs root.
    pub fn new(name: &CStr) -> Dir {
        let name = name.as_char_ptr();
        // SAFETY: `name` is NUL-terminated; a NULL parent is the root.
        let dentry = unsafe { bindings::debugfs_create_dir(name, core::ptr::null_mut()) };
        // INVARIANT: Whatever the call returned.
        Dir { dentry }
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        // SAFETY: `dentry` is ours (type invariants): removed once, with what is left in it;
        // `debugfs_remove()` ignores an error pointer.
        unsafe { bindings::debugfs_remove(self.dentry) };
    }
}

/// A read-only debugfs file whose content is printed from `data`'s records
/// ([`SeqIterator`]), removed on drop.
///
/// # Invariants
///
/// `dentry` is the file created in the directory of [`SeqFileEntry::new`] with `fops` (or an
/// error pointer) and `data` as its `i_private`; `fops` lives (pinned) as long as `self`, and
/// `self` outlives every open file of it (`fops.owner` keeps the module loaded while one is
/// open, and `self` is dropped only when the module goes, or before with no open file).
#[pin_data(PinnedDrop)]
pub struct SeqFileEntry<T: SeqIterator> {
    #[pin]
    fops: Opaque<bindings::file_operations>,
    dentry: *mut bindings::dentry,
    data: Arc<T>,
}

// SAFETY: `data` is `Sync + Send` (`SeqIterator`'s bounds); the rest is read-only after
// creation and only passed to debugfs.
unsafe impl<T: SeqIterator> Send for SeqFileEntry<T> {}
// SAFETY: As for `Send`.
unsafe impl<T: SeqIterator> Sync for SeqFileEntry<T> {}

impl<T: SeqIterator> SeqFileEntry<T> {
    /// Creates file `name` in `dir` with permissions `mode` (e.g. `0o400`, read by root only),
    /// printing `data`'s records, owned by `module`. The directory must outlive the entry.
    pub fn new<'a>(
        dir: &'a Dir,
        name: &'a CStr,
        mode: u16,
        data: Arc<T>,
        module: &'static ThisModule,
    ) -> impl PinInit<Self> + 'a {
        let data_ptr = core::ptr::from_ref::<T>(&data).cast_mut().cast::<c_void>();
        // SAFETY: Initialises `fops` first, then creates the file with it: `slot` is valid for
        // writes and pinned, as `pin_init_from_closure` promises; on return everything is
        // initialised (the closure cannot fail).
        unsafe {
            crate::init::pin_init_from_closure(move |slot: *mut Self| {
                let fops = Opaque::raw_get(core::ptr::addr_of!((*slot).fops));
                fops.write(create_fops::<T>(module));
                // INVARIANT: The file has `fops`, which lives in `*slot`, and `data`.
                let dentry = bindings::debugfs_create_file(
                    name.as_char_ptr(),
                    mode,
                    dir.dentry,
                    data_ptr,
                    fops,
                );
                core::ptr::addr_of_mut!((*slot).dentry).write(dentry);
                core::ptr::addr_of_mut!((*slot).data).write(data);
                Ok(())
            })
        }
    }
}

#[pinned_drop]
impl<T: SeqIterator> PinnedDrop for SeqFileEntry<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: The file is ours (type invariants). `debugfs_remove()` waits for the
        // operations in flight and makes later ones fail, so `data` is not used after it
        // returns (only release runs later, and it does not use it).
        unsafe { bindings::debugfs_remove(self.dentry) };
    }
}

fn create_fops<T: SeqIterator>(module: &'static ThisModule) -> bindings::file_operations {
    // SAFETY: All-zeroes is a valid `struct file_operations` (absent callbacks are NULL).
    let mut fops: bindings::file_operations = unsafe { MaybeUninit::zeroed().assume_init() };
    fops.owner = module.as_ptr();
    fops.open = Some(fops_open::<T>);
    fops.read = Some(bindings::seq_read);
    fops.llseek = Some(bindings::seq_lseek);
    fops.release = Some(fops_release::<T>);
    fops
}

/// C `file_operations::open`: a `seq_file` whose `private` is an [`OpenState<T>`].
///
/// # Safety
///
/// `inode` and `file` are a file of a [`SeqFileEntry<T>`] being opened.
unsafe extern "C" fn fops_open<T: SeqIterator>(
    inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    // SAFETY: `i_private` is the entry's `data` (`SeqFileEntry` invariants), alive during
    // open (the debugfs proxy holds the file against removal).
    let data = unsafe { (*inode).i_private }.cast_const().cast::<T>();
    // SAFETY: As above.
    let cursor = unsafe { &*data }.cursor();
    // INVARIANT: Every callback but release runs under the debugfs proxy, while `data` lives.
    let state = match KBox::new(OpenState::<T> { data, cursor }, GFP_KERNEL) {
        Ok(s) => s,
        Err(_) => return ENOMEM.to_errno(),
    };
    // SAFETY: `file` is being opened; the table is static (`seq_operations`).
    let rc = unsafe { bindings::seq_open(file, seq_operations::<T>()) };
    if rc != 0 {
        return rc;
    }
    // SAFETY: `seq_open()` succeeded, so `private_data` is the file's `struct seq_file`.
    let m = unsafe { (*file).private_data }.cast::<bindings::seq_file>();
    // SAFETY: `m` is valid and not used by anybody else yet; the state is freed in release.
    unsafe { (*m).private = KBox::into_raw(state).cast::<c_void>() };
    0
}

/// C `file_operations::release`: frees the [`OpenState<T>`] and the `seq_file`.
///
/// # Safety
///
/// `inode` and `file` are a file of a [`SeqFileEntry<T>`] being released, opened by
/// [`fops_open`].
unsafe extern "C" fn fops_release<T: SeqIterator>(
    inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    // SAFETY: `private_data` is the `struct seq_file` of `fops_open`.
    let m = unsafe { (*file).private_data }.cast::<bindings::seq_file>();
    // SAFETY: `private` is the state `fops_open` gave up, freed once here (nothing else runs
    // on the file any more). Its `data` may be gone: only the cursor is dropped.
    drop(unsafe { KBox::from_raw((*m).private.cast::<OpenState<T>>()) });
    // SAFETY: The file was opened with `seq_open()`.
    unsafe { bindings::seq_release(inode, file) }
}
