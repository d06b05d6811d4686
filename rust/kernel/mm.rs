// SPDX-License-Identifier: GPL-2.0

//! Memory management: the address space of a user process (`struct mm_struct`).
//!
//! C header: [`include/linux/mm.h`](srctree/include/linux/mm.h),
//! [`include/linux/sched/mm.h`](srctree/include/linux/sched/mm.h),
//! [`include/linux/mmap_lock.h`](srctree/include/linux/mmap_lock.h).
//!
//! Shaped as the upstream `kernel::mm` of later kernels: an [`ARef<Mm>`] holds an `mmgrab`
//! count (the struct stays, its address space may already be torn down), an
//! [`ARef<MmWithUser>`] an `mmget` count (the address space stays). The mmap lock and
//! `kthread_use_mm` are guards that undo themselves on drop.

use core::{marker::PhantomData, ops::Deref, ptr::NonNull};
use kernel::{
    bindings,
    prelude::*,
    task::Task,
    types::{ARef, AlwaysRefCounted, Opaque},
};

use crate::task_ext::TaskExt;

/// A `struct mm_struct`, of which the address space may be gone (`mm_users` may be zero).
///
/// [`Mm::mmget_not_zero`] gives an [`MmWithUser`], through which the address space can be
/// used. The `ARef<Mm>` smart pointer holds an `mmgrab` count; its destructor may sleep.
///
/// # Invariants
///
/// Values of this type are valid `struct mm_struct`s, always refcounted with `mmgrab`.
#[repr(transparent)]
pub struct Mm {
    mm: Opaque<bindings::mm_struct>,
}

// SAFETY: `mmdrop` may be called from any task, not only the one that took the count.
unsafe impl Send for Mm {}
// SAFETY: Every method of `Mm` may be called from several tasks at once.
unsafe impl Sync for Mm {}

// SAFETY: By the type invariants the struct is refcounted with `mmgrab`/`mmdrop`.
unsafe impl AlwaysRefCounted for Mm {
    #[inline]
    fn inc_ref(&self) {
        // SAFETY: The existence of a shared reference means the count is nonzero.
        unsafe { bindings::mmgrab(self.as_raw()) };
    }

    #[inline]
    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: The caller gives up one `mmgrab` count of a valid mm.
        unsafe { bindings::mmdrop(obj.cast().as_ptr()) };
    }
}

impl Mm {
    /// The raw `struct mm_struct` pointer, valid as long as `self` is.
    #[inline]
    pub fn as_raw(&self) -> *mut bindings::mm_struct {
        self.mm.get()
    }

    /// The current task's mm with an `mmgrab` count; `None` for a task without one (a
    /// kthread that is not using an mm).
    #[inline]
    pub fn current() -> Option<ARef<Mm>> {
        // SAFETY: Reads `current->mm` of the running task.
        let ptr = unsafe { bindings::current_mm() };
        if ptr.is_null() {
            return None;
        }
        // SAFETY: The running task's mm is valid while it runs and uses it; `Mm` is a
        // transparent wrapper of the C struct. The reference only lives until the count is
        // taken below.
        let mm = unsafe { &*ptr.cast::<Mm>() };
        Some(ARef::from(mm))
    }

    /// Whether this is the mm of the current task (`current->mm == mm`).
    #[inline]
    pub fn is_current(&self) -> bool {
        // SAFETY: Reads `current->mm` of the running task; the pointer is only compared.
        core::ptr::eq(unsafe { bindings::current_mm() }, self.as_raw())
    }

    /// An `mmget` count of the address space, unless it is already gone (C
    /// `mmget_not_zero()`).
    pub fn mmget_not_zero(&self) -> Option<ARef<MmWithUser>> {
        // SAFETY: `self` is a valid mm (type invariants).
        if !unsafe { bindings::mmget_not_zero(self.as_raw()) } {
            return None;
        }
        // SAFETY: The count just taken is owned by the returned `ARef`; `MmWithUser` is a
        // transparent wrapper of `Mm`.
        Some(unsafe { ARef::from_raw(NonNull::from(self).cast::<MmWithUser>()) })
    }

    /// Adds `npages` to the mm's `pinned_vm`, the pages pinned long term on its behalf.
    pub fn pinned_vm_add(&self, npages: usize) {
        let n = i64::try_from(npages).unwrap_or(i64::MAX);
        // SAFETY: `self` is a valid mm (type invariants); the add is atomic.
        unsafe { bindings::mm_pinned_vm_add(self.as_raw(), n) };
    }

    /// Takes `npages` off the mm's `pinned_vm`.
    pub fn pinned_vm_sub(&self, npages: usize) {
        let n = i64::try_from(npages).unwrap_or(i64::MAX);
        // SAFETY: `self` is a valid mm (type invariants); the subtraction is atomic.
        unsafe { bindings::mm_pinned_vm_sub(self.as_raw(), n) };
    }
}

/// A `struct mm_struct` whose address space is alive (`mm_users` is nonzero).
///
/// The `ARef<MmWithUser>` smart pointer holds an `mmget` count; its destructor (`mmput`) may
/// sleep.
///
/// # Invariants
///
/// Values of this type are valid `struct mm_struct`s with a nonzero `mm_users`, refcounted
/// with `mmget`/`mmput`.
#[repr(transparent)]
pub struct MmWithUser {
    mm: Mm,
}

// SAFETY: `mmput` may be called from any task, not only the one that took the count.
unsafe impl Send for MmWithUser {}
// SAFETY: Every method of `MmWithUser` may be called from several tasks at once.
unsafe impl Sync for MmWithUser {}

// SAFETY: By the type invariants the address space is refcounted with `mmget`/`mmput`.
unsafe impl AlwaysRefCounted for MmWithUser {
    fn inc_ref(&self) {
        // SAFETY: `self` is a valid mm. The existence of a shared reference means `mm_users` is
        // nonzero, so `mmget_not_zero` cannot fail and acts as `mmget`.
        let _taken = unsafe { bindings::mmget_not_zero(self.as_raw()) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: The caller gives up one `mmget` count of a valid mm.
        unsafe { bindings::mmput(obj.cast().as_ptr()) };
    }
}

impl Deref for MmWithUser {
    type Target = Mm;

    fn deref(&self) -> &Mm {
        &self.mm
    }
}

impl MmWithUser {
    /// Takes the mmap lock for reading (C `mmap_read_lock()`), released when the guard drops.
    pub fn mmap_read_lock(&self) -> MmapReadGuard<'_> {
        // SAFETY: `self` is a valid mm with a live address space (type invariants).
        unsafe { bindings::mmap_read_lock(self.as_raw()) };
        // INVARIANT: The read lock was just taken.
        MmapReadGuard {
            mm: self,
            _not_send: PhantomData,
        }
    }

    /// Takes the mmap lock for writing (C `mmap_write_lock()`), released when the guard drops.
    pub fn mmap_write_lock(&self) -> MmapWriteGuard<'_> {
        // SAFETY: `self` is a valid mm with a live address space (type invariants).
        unsafe { bindings::mmap_write_lock(self.as_raw()) };
        // INVARIANT: The write lock was just taken.
        MmapWriteGuard {
            mm: self,
            _not_send: PhantomData,
        }
    }

    /// Makes the current kthread use this address space (C `kthread_use_mm()`), so that user
    /// copies reach it, until the guard drops (`kthread_unuse_mm()`).
    ///
    /// `EINVAL` if the current task is not a kthread or already uses an mm: C only warns and
    /// would lose the task's own mm.
    pub fn kthread_use_mm(&self) -> Result<KthreadUseMm<'_>> {
        // SAFETY: `get_current` returns the running task, valid while it runs; its `flags`
        // word is only changed by the task itself.
        let flags = unsafe { (*bindings::get_current()).flags };
        // SAFETY: Reads `current->mm` of the running task.
        let has_mm = !unsafe { bindings::current_mm() }.is_null();
        if flags & bindings::PF_KTHREAD == 0 || has_mm {
            return Err(EINVAL);
        }
        // SAFETY: The current task is a kthread without an mm (checked above), and `self`'s
        // address space is alive for as long as the guard borrows it.
        unsafe { bindings::kthread_use_mm(self.as_raw()) };
        // INVARIANT: The current kthread now uses `self`.
        Ok(KthreadUseMm {
            mm: self,
            _not_send: PhantomData,
        })
    }
}

/// A held mmap read lock (C `mmap_read_lock()`).
///
/// # Invariants
///
/// The current task holds `mm`'s mmap lock for reading, released once, by `Drop`.
pub struct MmapReadGuard<'a> {
    mm: &'a MmWithUser,
    // The lock is released by the task that took it.
    _not_send: PhantomData<*mut ()>,
}

impl MmapReadGuard<'_> {
    /// The locked mm.
    pub fn mm(&self) -> &MmWithUser {
        self.mm
    }
}

impl Drop for MmapReadGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: The read lock is held (type invariants) and released once here.
        unsafe { bindings::mmap_read_unlock(self.mm.as_raw()) };
    }
}

/// A held mmap write lock (C `mmap_write_lock()`).
///
/// # Invariants
///
/// The current task holds `mm`'s mmap lock for writing, released once, by `Drop`.
pub struct MmapWriteGuard<'a> {
    mm: &'a MmWithUser,
    // The lock is released by the task that took it.
    _not_send: PhantomData<*mut ()>,
}

impl MmapWriteGuard<'_> {
    /// The locked mm.
    pub fn mm(&self) -> &MmWithUser {
        self.mm
    }

    /// Adds (`inc`) or takes off `npages` of the mm's `locked_vm`, checking an increase
    /// against `task`'s `RLIMIT_MEMLOCK` unless `bypass_rlim` (C `__account_locked_vm()`,
    /// which needs the write lock this guard holds). `ENOMEM` above the limit.
    pub fn account_locked_vm(
        &self,
        npages: usize,
        inc: bool,
        task: &Task,
        bypass_rlim: bool,
    ) -> Result {
        // SAFETY: The mm's mmap lock is held for writing (type invariants) and `task` is a
        // valid task for the duration of the call.
        let rc = unsafe {
            bindings::__account_locked_vm(self.mm.as_raw(), npages, inc, task.as_ptr(), bypass_rlim)
        };
        kernel::error::to_result(rc)
    }
}

impl Drop for MmapWriteGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: The write lock is held (type invariants) and released once here.
        unsafe { bindings::mmap_write_unlock(self.mm.as_raw()) };
    }
}

/// The current kthread using an address space (C `kthread_use_mm()`).
///
/// # Invariants
///
/// The current task is a kthread that uses `mm` since [`MmWithUser::kthread_use_mm`]; `Drop`
/// undoes that once.
pub struct KthreadUseMm<'a> {
    mm: &'a MmWithUser,
    // Undone by the kthread that did it.
    _not_send: PhantomData<*mut ()>,
}

impl Drop for KthreadUseMm<'_> {
    fn drop(&mut self) {
        // SAFETY: The current kthread uses `mm` (type invariants); undone once here.
        unsafe { bindings::kthread_unuse_mm(self.mm.as_raw()) };
    }
}
