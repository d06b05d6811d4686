// SPDX-License-Identifier: GPL-2.0

//! Kernel-crate code carried by the driver until it can live in `rust/kernel/`.
//!
//! Each file mirrors its future path under `rust/kernel/` (`iommu/driver.rs` becomes
//! `rust/kernel/iommu/driver.rs`) and is written as kernel-crate code: it refers to the kernel
//! crate as `kernel::` and to its siblings as `crate::overlay::`, the two prefixes that are
//! rewritten when the files move. No driver logic lives here.

pub(crate) mod bus;
pub(crate) mod iommu;
pub(crate) mod platform;
pub(crate) mod property;
