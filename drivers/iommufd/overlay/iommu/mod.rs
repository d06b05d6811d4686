// SPDX-License-Identifier: GPL-2.0

//! IOMMU abstractions.
//!
//! C header: [`include/linux/iommu.h`](srctree/include/linux/iommu.h)

pub mod iopf;
