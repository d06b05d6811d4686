// SPDX-License-Identifier: GPL-2.0

//! Capabilities of the current task.
//!
//! C header: [`include/linux/capability.h`](srctree/include/linux/capability.h).

use kernel::bindings;

/// A capability number (C `CAP_*` of `include/uapi/linux/capability.h`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Capability(u32);

impl Capability {
    /// `CAP_IPC_LOCK`: lock memory, exempt from `RLIMIT_MEMLOCK`.
    pub const IPC_LOCK: Self = Self(bindings::CAP_IPC_LOCK);
    /// `CAP_SYS_RAWIO`.
    pub const SYS_RAWIO: Self = Self(bindings::CAP_SYS_RAWIO);
    /// `CAP_SYS_RESOURCE`.
    pub const SYS_RESOURCE: Self = Self(bindings::CAP_SYS_RESOURCE);

    /// Whether the current task has this capability in the initial user namespace (C
    /// `capable()`); a successful check marks the task as having used it (`PF_SUPERPRIV`).
    #[inline]
    pub fn capable(self) -> bool {
        // The constants above are all valid capability numbers.
        let cap = self.0 as i32;
        // SAFETY: `capable` only reads the current task's credentials, which are valid while
        // it runs; `cap` is a valid capability number.
        unsafe { bindings::capable(cap) }
    }
}
