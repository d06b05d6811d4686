// SPDX-License-Identifier: GPL-2.0

//! Kernel file systems.
//!
//! iommufd-rs overlay: 6.12 has no `kernel::fs`; this is the small part of it that a character
//! device needs.
//!
//! C headers: [`include/linux/fs.h`](srctree/include/linux/fs.h)

pub mod file;
pub use self::file::File;
