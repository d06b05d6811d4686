// SPDX-License-Identifier: GPL-2.0

//! The selftests' mock IOMMU: a mock device says what it is in the flags it was created with.

use crate::iommufd_core::vendor::{MockCaps, Vendor};

/// The mock IOMMU serving a device created with `IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS` `flags`.
pub(super) fn identify(flags: u32) -> Vendor {
    Vendor::Mock(MockCaps::from_dev_flags(flags))
}
