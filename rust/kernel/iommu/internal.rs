// SPDX-License-Identifier: GPL-2.0

//! The iommu core's `IOMMUFD_INTERNAL` functions: exported for iommufd but declared in
//! `drivers/iommu/iommu-priv.h`, which `bindings_helper.h` does not include.

use kernel::bindings::{iommu_attach_handle, iommu_domain, iommu_group};
use kernel::ffi::{c_int, c_uint};

#[allow(improper_ctypes)]
extern "C" {
    /// The handle attached on `pasid` of `group` (`ERR_PTR(-ENOENT)` if none); `type_` 0
    /// matches any domain type.
    pub(crate) fn iommu_attach_handle_get(
        group: *mut iommu_group,
        pasid: u32,
        type_: c_uint,
    ) -> *mut iommu_attach_handle;
    pub(crate) fn iommu_attach_group_handle(
        domain: *mut iommu_domain,
        group: *mut iommu_group,
        handle: *mut iommu_attach_handle,
    ) -> c_int;
    pub(crate) fn iommu_detach_group_handle(domain: *mut iommu_domain, group: *mut iommu_group);
    pub(crate) fn iommu_replace_group_handle(
        group: *mut iommu_group,
        new_domain: *mut iommu_domain,
        handle: *mut iommu_attach_handle,
    ) -> c_int;
}
