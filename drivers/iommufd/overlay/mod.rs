// SPDX-License-Identifier: GPL-2.0

//! Kernel-crate abstractions written for `rust/kernel/` and kept in the driver until the
//! kernel is rebuilt with them: each file's path here is its future path under `rust/kernel/`,
//! and it refers to kernel items as `kernel::...` and to its siblings as `crate::overlay::...`.

pub(crate) mod iommu;
