// SPDX-License-Identifier: GPL-2.0

//! `IOMMU_TEST_CMD`, the test-only command of `CONFIG_IOMMUFD_TEST` (C `selftest.c`).
//!
//! Implemented so far: the ops that need no mock device (`ADD_RESERVED`, `MD_CHECK_REFS`,
//! `SET_TEMP_MEMORY_LIMIT`). The mock IOMMU driver (`mock.rs`) is registered with the module;
//! the ops built on it (mock domains, accesses, dirty tracking, faults) come with devices
//! (issue 5) and answer `EOPNOTSUPP` until then, which is what C answers for an op it does not
//! know.

use crate::{
    ctx::Ucmd,
    iommufd_core::{
        errno::Errno,
        ucmd::test_cmd::{TestCmd, TestOp},
    },
    mock, object,
    pages::PAGE_SIZE,
};
use core::sync::atomic::{AtomicU32, Ordering};
use kernel::{bindings, prelude::*};

/// `GUP_PIN_COUNTING_BIAS` of `include/linux/mm.h`: a pin adds this to a page's refcount.
const GUP_PIN_COUNTING_BIAS: i32 = 1 << 10;

/// C `iommufd_test_memory_limit`: the size limit of temporary allocations (batches) while
/// pinning, which the tests shrink to force many small batches. 64 KiB by default.
pub(crate) static TEST_MEMORY_LIMIT: AtomicU32 = AtomicU32::new(65536);

/// The C half of the module (`iommufd_shim.c`).
mod shim {
    use kernel::ffi::c_int;

    extern "C" {
        pub(super) fn iommufd_rs_should_fail() -> bool;
        pub(super) fn iommufd_rs_test_init() -> c_int;
        pub(super) fn iommufd_rs_test_exit();
    }
}

/// C `iommufd_should_fail()`: whether the `fail_iommufd` fault attribute (debugfs) asks this
/// call to fail.
pub(crate) fn should_fail() -> bool {
    // SAFETY: `should_fail()` on a static fault attribute; callable from any context.
    unsafe { shim::iommufd_rs_should_fail() }
}

/// The test-only registrations of the module (C `iommufd_test_init`/`_exit`): the
/// `fail_iommufd` debugfs fault attribute and the mock IOMMU, undone on drop in reverse.
pub(crate) struct TestRegistration {
    /// The mock IOMMU driver; `None` only while `new` has not registered it yet.
    mock: Option<mock::MockIommu>,
}

impl TestRegistration {
    /// Creates `/sys/kernel/debug/fail_iommufd` and registers the mock IOMMU.
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: Called once at module init; undone by `Drop`.
        kernel::error::to_result(unsafe { shim::iommufd_rs_test_init() })?;
        // From here on, dropping `reg` (on error too) undoes the debugfs entries.
        let mut reg = TestRegistration { mock: None };
        reg.mock = Some(mock::register()?);
        Ok(reg)
    }
}

impl Drop for TestRegistration {
    fn drop(&mut self) {
        // As C `iommufd_test_exit`: the mock IOMMU goes first.
        drop(self.mock.take());
        // SAFETY: `new` succeeded, so the debugfs entries exist; removed exactly once.
        unsafe { shim::iommufd_rs_test_exit() };
    }
}

/// C `iommufd_test()`.
pub(crate) fn test_cmd(ucmd: &mut Ucmd<'_>) -> Result<(), Errno> {
    let cmd = TestCmd::decode_with_page_size(ucmd.buf(), PAGE_SIZE)?;
    match cmd.op {
        TestOp::AddReserved { start, length } => add_reserved(ucmd, cmd.id, start, length),
        TestOp::MdCheckRefs { length, uptr, refs } => md_check_refs(uptr, length, refs),
        TestOp::SetTempMemoryLimit { limit } => {
            TEST_MEMORY_LIMIT.store(limit, Ordering::Relaxed);
            Ok(())
        }
        _ => Err(Errno::EOPNOTSUPP),
    }
}

/// C `iommufd_test_add_reserved()`: reserve IOVA with no owner.
fn add_reserved(ucmd: &Ucmd<'_>, ioas_id: u32, start: u64, length: u64) -> Result<(), Errno> {
    // `decode` checked `length != 0` and that `start + length - 1` does not overflow.
    let last = start.checked_add(length - 1).ok_or(Errno::EOVERFLOW)?;
    let ioas = object::get_ioas(ucmd.ctx().objects(), ioas_id)?;
    ioas.reserve_iova(start, last, 0)
}

/// C `iommufd_test_md_check_refs()`: every page of `[uptr, uptr + length)` that is not part
/// of a compound page must be pinned exactly `refs` times. `decode` checked alignment and
/// overflow.
fn md_check_refs(mut uptr: u64, mut length: u64, refs: u32) -> Result<(), Errno> {
    while length != 0 {
        let mut page: *mut bindings::page = core::ptr::null_mut();
        // SAFETY: `page` is a valid array of one page pointer; GUP faults the user address in
        // and takes a reference on success, which is dropped below.
        let n = unsafe { bindings::get_user_pages_fast(uptr as usize, 1, 0, &mut page) };
        if n < 0 {
            return Err(Errno(-(n as i32)));
        }
        if n != 1 || page.is_null() {
            return Err(Errno::EFAULT);
        }
        // SAFETY: GUP returned a referenced page: it stays valid until `put_page`.
        let ok = unsafe {
            bindings::PageCompound(page)
                || (bindings::page_ref_count(page) / GUP_PIN_COUNTING_BIAS) as u32 == refs
        };
        // SAFETY: Drops the reference GUP took, exactly once.
        unsafe { bindings::put_page(page) };
        if !ok {
            return Err(Errno::EIO);
        }
        // `decode` checked that the range is page aligned and does not wrap.
        uptr = uptr.wrapping_add(PAGE_SIZE);
        length = length.saturating_sub(PAGE_SIZE);
    }
    Ok(())
}
