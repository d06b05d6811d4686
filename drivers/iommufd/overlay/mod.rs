// SPDX-License-Identifier: GPL-2.0

//! Kernel-crate abstractions that iommufd needs and the 6.12 kernel crate lacks, written as they
//! would be under `rust/kernel/` (each file's path here is its path there). They carry no
//! iommufd logic: the driver above them is written in safe code where they reach.

// Public kernel-crate API (`pub` as it is in `rust/kernel/`), of which this driver uses a part.
#![allow(dead_code, unreachable_pub)]

pub(crate) mod bus;
pub(crate) mod cred;
pub(crate) mod iommu;
pub(crate) mod mm;
pub(crate) mod page_pin;
pub(crate) mod platform;
pub(crate) mod property;
pub(crate) mod task;
pub(crate) mod user;
pub(crate) mod xarray;
