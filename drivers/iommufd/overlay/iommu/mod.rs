// SPDX-License-Identifier: GPL-2.0

//! IOMMU support.
//!
//! C header: [`include/linux/iommu.h`](srctree/include/linux/iommu.h).

pub mod driver;
