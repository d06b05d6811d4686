// SPDX-License-Identifier: GPL-2.0

//! The functions of the module's C shim (`iommufd_shim.c`, for what only C macros give), as
//! bindgen declares them from `iommufd_shim.h` at build time (see `Kbuild`). Their types are
//! `kernel::bindings`'.

#![allow(
    non_camel_case_types,
    non_upper_case_globals,
    non_snake_case,
    improper_ctypes,
    unreachable_pub,
    dead_code,
    missing_docs,
    clippy::all
)]

include!("iommufd_shim_generated.rs");
