// SPDX-License-Identifier: GPL-2.0

//! Kernel-crate abstractions this module needs and the pinned 6.12 `rust/kernel` lacks.
//!
//! Each file here is written as kernel-crate code and mirrors its future path under
//! `rust/kernel/` (`overlay/mm.rs` is `rust/kernel/mm.rs`): it refers to the kernel crate as
//! `kernel::` and to its siblings as `crate::overlay::`, two prefixes that are rewritten when the
//! files move. They hold the unsafe code and no iommufd logic; the driver uses them through safe
//! interfaces.

pub(crate) mod cred;
pub(crate) mod mm;
pub(crate) mod page_pin;
pub(crate) mod task;
pub(crate) mod user;
