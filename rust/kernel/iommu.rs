// SPDX-License-Identifier: GPL-2.0

//! The IOMMU core's consumer API (`include/linux/iommu.h`): domains, groups and the attachment
//! of a domain to a whole group or to one PASID of a device.
//!
//! C header: [`include/linux/iommu.h`](srctree/include/linux/iommu.h)
//!
//! - [`Domain`]: an owned `struct iommu_domain`, freed on drop, with its map, unmap and dirty
//!   tracking operations;
//! - [`Group`]: a reference-counted `struct iommu_group`;
//! - [`GroupAttachment`], [`PasidAttachment`]: a domain attached through an attach handle,
//!   detached on drop;
//! - [`dev`]: what the core says of one device (capabilities, PASIDs, reserved regions, DMA
//!   ownership, the driver's `hw_info`).

pub mod dev;
pub mod dirty;
pub mod domain;
pub mod driver;
pub mod group;
mod internal;
pub mod iopf;

pub use dev::{DmaOwner, GlobalPasid, HwInfo, PasidAttachment};
pub use dirty::{DirtyBitmap, IotlbGather, IovaBitmap};
pub use domain::{Domain, UserData};
pub use group::{AttachHandle, Group, GroupAttachment};

use kernel::{bindings, error::Error, prelude::*};

/// `IOMMU_READ`.
pub const PROT_READ: u32 = bindings::IOMMU_READ;
/// `IOMMU_WRITE`.
pub const PROT_WRITE: u32 = bindings::IOMMU_WRITE;
/// `IOMMU_CACHE`.
pub const PROT_CACHE: u32 = bindings::IOMMU_CACHE;

/// `IOMMU_DOMAIN_NESTED`.
pub const DOMAIN_NESTED: u32 = bindings::IOMMU_DOMAIN_NESTED;

/// A capability of the IOMMU behind a device (C `enum iommu_cap`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Cap {
    /// `IOMMU_CAP_CACHE_COHERENCY`: DMA is cache coherent.
    CacheCoherency,
    /// `IOMMU_CAP_ENFORCE_CACHE_COHERENCY`: a domain can force coherent DMA (no snoop off).
    EnforceCacheCoherency,
    /// `IOMMU_CAP_DIRTY_TRACKING`: the IOMMU tracks dirty IOVAs.
    DirtyTracking,
}

impl Cap {
    fn raw(self) -> bindings::iommu_cap {
        match self {
            Cap::CacheCoherency => bindings::iommu_cap_IOMMU_CAP_CACHE_COHERENCY,
            Cap::EnforceCacheCoherency => bindings::iommu_cap_IOMMU_CAP_ENFORCE_CACHE_COHERENCY,
            Cap::DirtyTracking => bindings::iommu_cap_IOMMU_CAP_DIRTY_TRACKING,
        }
    }
}

/// `struct device *` of a [`kernel::device::Device`] (`Device::as_raw` is private to the
/// kernel crate in 6.12; `Device` is `#[repr(transparent)]` over `Opaque<struct device>`).
pub fn dev_raw(dev: &kernel::device::Device) -> *mut bindings::device {
    (dev as *const kernel::device::Device)
        .cast_mut()
        .cast::<bindings::device>()
}

/// `EOPNOTSUPP`, which 6.12's `kernel::error::code` lacks.
pub(crate) fn eopnotsupp() -> Error {
    Error::from_errno(-(bindings::EOPNOTSUPP as i32))
}

/// A C return code (0 or `-errno`) as a `Result`.
pub(crate) fn rc(rc: i32) -> Result {
    if rc < 0 {
        Err(Error::from_errno(rc))
    } else {
        Ok(())
    }
}

/// A pointer a C function returned: `ERR_PTR` as its error, NULL as `ENOMEM`.
pub(crate) fn ptr<T>(p: *mut T) -> Result<core::ptr::NonNull<T>> {
    let p = kernel::error::from_err_ptr(p)?;
    core::ptr::NonNull::new(p).ok_or(ENOMEM)
}
