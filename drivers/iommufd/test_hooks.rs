// SPDX-License-Identifier: GPL-2.0

//! The two knobs that the selftests turn inside the production paths (C: in `selftest.c`,
//! called from everywhere): fault injection, `iommufd_should_fail()`, and the size limit of
//! the temporary allocations made while pinning, `iommufd_test_memory_limit`. Both live here,
//! so that the object table, the pages code and the mock use them without importing the
//! selftest's `IOMMU_TEST_CMD` code. Without `CONFIG_IOMMUFD_TEST` they are constants.

#[cfg(CONFIG_IOMMUFD_TEST)]
use core::sync::atomic::{AtomicU32, Ordering};

/// C `TEMP_MEMORY_LIMIT`: the size limit of temporary allocations while pinning.
const TEMP_MEMORY_LIMIT: usize = 65536;

/// C `iommufd_test_memory_limit`, which `IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT` shrinks to force
/// many small batches.
#[cfg(CONFIG_IOMMUFD_TEST)]
static TEST_MEMORY_LIMIT: AtomicU32 = AtomicU32::new(TEMP_MEMORY_LIMIT as u32);

/// The size limit of a temporary allocation while pinning (C `temp_kmalloc()`'s bound).
pub(crate) fn memory_limit() -> usize {
    #[cfg(CONFIG_IOMMUFD_TEST)]
    {
        TEST_MEMORY_LIMIT.load(Ordering::Relaxed) as usize
    }
    #[cfg(not(CONFIG_IOMMUFD_TEST))]
    {
        TEMP_MEMORY_LIMIT
    }
}

/// `IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT`.
#[cfg(CONFIG_IOMMUFD_TEST)]
pub(crate) fn set_memory_limit(limit: u32) {
    TEST_MEMORY_LIMIT.store(limit, Ordering::Relaxed);
}

/// C `iommufd_should_fail()`: whether the `fail_iommufd` fault attribute (debugfs, which
/// `iommufd_fail_nth` drives) asks this call to fail; never without the mock.
pub(crate) fn should_fail() -> bool {
    #[cfg(CONFIG_IOMMUFD_TEST)]
    {
        // SAFETY: `should_fail()` on the shim's static fault attribute; callable from any
        // context.
        unsafe { crate::shim::iommufd_rs_should_fail() }
    }
    #[cfg(not(CONFIG_IOMMUFD_TEST))]
    {
        false
    }
}
