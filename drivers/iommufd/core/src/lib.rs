// SPDX-License-Identifier: GPL-2.0

//! The pure logic of iommufd-rs.
//!
//! Everything here is `no_std`, free of `unsafe` and of hidden allocation: it is compiled
//! unchanged into the kernel module (as the `iommufd_core` module of its crate, through
//! `#[path]`) and, on the host, as the `iommufd_core` crate that `cargo test` checks.
//! It must therefore use only `core`, never `alloc`, `std` or `kernel`.

// On the host this file is a crate root; in the kernel it is a module of the module's crate,
// where the crate is already `no_std` (the kernel builds with `-Zcrate-attr=no_std`).
#![cfg_attr(not(CONFIG_RUST), no_std)]
#![forbid(unsafe_code)]

pub mod errno;
pub mod interval;
pub mod iopt;
pub mod objects;
pub mod pasid;
pub mod storage;
pub mod uapi;
pub mod ucmd;
pub mod vendor;
pub mod vfio_compat;
