// SPDX-License-Identifier: GPL-2.0

//! Additions to [`kernel::task::Task`] that the pinned tree lacks.
//!
//! C header: [`include/linux/sched.h`](srctree/include/linux/sched.h),
//! [`include/linux/sched/signal.h`](srctree/include/linux/sched/signal.h).
//!
//! In the kernel crate these become inherent methods of `Task`; out of it they are an
//! extension trait, because `Task`'s field is private to the kernel crate.

use kernel::{bindings, task::Task};

/// Methods of [`Task`] that the pinned tree does not have yet.
pub trait TaskExt {
    /// The raw `struct task_struct` pointer, valid as long as `self` is.
    fn as_ptr(&self) -> *mut bindings::task_struct;

    /// The task's soft `RLIMIT_MEMLOCK`, in bytes (C `task_rlimit(task, RLIMIT_MEMLOCK)`);
    /// `usize::MAX` for `RLIM_INFINITY`.
    fn rlimit_memlock(&self) -> usize;
}

impl TaskExt for Task {
    fn as_ptr(&self) -> *mut bindings::task_struct {
        // `Task` is `#[repr(transparent)]` over `Opaque<task_struct>`, itself transparent over
        // the C struct, so the two pointers are the same.
        core::ptr::from_ref(self).cast_mut().cast()
    }

    fn rlimit_memlock(&self) -> usize {
        // SAFETY: `self` is a valid task (type invariant of `Task`), and a task's
        // `signal_struct`, where its limits live, is freed only with the task itself.
        unsafe { bindings::task_rlimit_memlock(self.as_ptr()) }
    }
}
