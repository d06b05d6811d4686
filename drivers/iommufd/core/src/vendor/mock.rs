// SPDX-License-Identifier: GPL-2.0

//! The selftests' mock IOMMU (`drivers/iommufd/mock.rs`): what its `domain_alloc_user` and
//! `attach_dev` accept for a device of given `MOCK_FLAGS_DEVICE_*`; its `set_dev_pasid` serves
//! every domain. The rules are listed in order on [`check_alloc`](super::check_alloc) and
//! [`check_attach`](super::check_attach).

use super::super::{
    errno::Errno,
    ucmd::test_cmd::{MOCK_FLAGS_DEVICE_NO_DIRTY, MOCK_FLAGS_DEVICE_PASID},
};
use super::{refuse, HwptDesc, Result};

/// A device of the mock IOMMU (`drivers/iommufd/mock.rs`), from its `MOCK_FLAGS_DEVICE_*`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct MockCaps {
    /// `MOCK_FLAGS_DEVICE_PASID`: the device has `pasid-num-bits` = `MOCK_PASID_WIDTH`.
    pub pasid: bool,
    /// Not `MOCK_FLAGS_DEVICE_NO_DIRTY`: `mock_domain_capable` reports dirty tracking.
    pub dirty: bool,
}

impl MockCaps {
    /// From the flags of `IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS`.
    pub fn from_dev_flags(dev_flags: u32) -> Self {
        MockCaps {
            pasid: dev_flags & MOCK_FLAGS_DEVICE_PASID != 0,
            dirty: dev_flags & MOCK_FLAGS_DEVICE_NO_DIRTY == 0,
        }
    }
}

pub(super) fn alloc(c: &MockCaps, hwpt: &HwptDesc, has_data: bool) -> Result {
    use Errno as E;
    if !hwpt.nested {
        if has_data {
            return refuse(E::EOPNOTSUPP, "mock: driver data on a paging domain");
        }
        if hwpt.dirty() && !c.dirty {
            return refuse(E::EOPNOTSUPP, "mock: dirty tracking on a NO_DIRTY device");
        }
    }
    if hwpt.pasid_compat() && !c.pasid {
        return refuse(
            E::EOPNOTSUPP,
            "mock: PASID-compatible on a device without PASIDs",
        );
    }
    Ok(())
}

pub(super) fn attach_dev(c: &MockCaps, hwpt: &HwptDesc) -> Result {
    if hwpt.dirty() && !c.dirty {
        return refuse(
            Errno::EINVAL,
            "mock: dirty tracking domain on a NO_DIRTY device",
        );
    }
    Ok(())
}
