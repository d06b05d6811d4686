// SPDX-License-Identifier: GPL-2.0

//! `IOMMU_TEST_CMD`, the test-only command of `CONFIG_IOMMUFD_TEST` (C `selftest.c`).
//!
//! The mock IOMMU driver itself is [`crate::mock`]; this file is the command: mock devices
//! bound and attached as selftest objects (`MOCK_DOMAIN`, `_FLAGS`, `_REPLACE`), checks of
//! mock page tables (`MD_CHECK_MAP`, `MD_CHECK_REFS`, `MD_CHECK_IOTLB`), `DIRTY`,
//! `TRIGGER_IOPF`, `ADD_RESERVED` and `SET_TEMP_MEMORY_LIMIT`.

use crate::{
    ctx::Ucmd,
    device::{Device, NO_PASID},
    iommufd_core::{
        errno::Errno,
        ucmd::test_cmd::{TestCmd, TestOp},
    },
    mock::{self, MockDev},
    object::{self, Object},
    pages::PAGE_SIZE,
};
use core::sync::atomic::{AtomicU32, Ordering};
use kernel::{bindings, prelude::*, sync::Arc};

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
/// `fail_iommufd` debugfs fault attribute and the mock IOMMU, removed on drop.
pub(crate) struct TestRegistration {
    /// Dropped first: the mock IOMMU goes before the debugfs entries.
    _mock: mock::MockIommu,
    _debugfs: DebugfsRegistration,
}

/// The `fail_iommufd` debugfs entries.
struct DebugfsRegistration(());

impl Drop for DebugfsRegistration {
    fn drop(&mut self) {
        // SAFETY: Created by `TestRegistration::new`; removed exactly once.
        unsafe { shim::iommufd_rs_test_exit() };
    }
}

impl TestRegistration {
    /// Creates `/sys/kernel/debug/fail_iommufd` and registers the mock IOMMU.
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: Called once at module init; undone by `DebugfsRegistration::drop`.
        kernel::error::to_result(unsafe { shim::iommufd_rs_test_init() })?;
        let debugfs = DebugfsRegistration(());
        let mock = mock::register()?;
        Ok(TestRegistration {
            _mock: mock,
            _debugfs: debugfs,
        })
    }
}

/// A mock device bound and attached by `MOCK_DOMAIN` (C `struct selftest_obj`, `TYPE_IDEV`).
/// Destroying it detaches and unbinds the device, then removes the mock device.
pub(crate) struct SelftestObj {
    idev: Option<Arc<Device>>,
    // Dropped after `idev` is unbound.
    mock: MockDev,
}

impl SelftestObj {
    fn idev(&self) -> Result<&Arc<Device>, Errno> {
        self.idev.as_ref().ok_or(Errno::EINVAL)
    }
}

impl Drop for SelftestObj {
    fn drop(&mut self) {
        // C `iommufd_selftest_destroy()`.
        if let Some(idev) = self.idev.take() {
            idev.detach();
            idev.unbind();
        }
        let _ = &self.mock;
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
        TestOp::MockDomain { .. } | TestOp::MockDomainFlags { .. } => mock_domain(ucmd, cmd),
        TestOp::MockDomainReplace { pt_id } => mock_domain_replace(ucmd, cmd, pt_id),
        TestOp::MdCheckMap { iova, length, uptr } => {
            let hwpt = object::get_hwpt_paging(ucmd.ctx().objects(), cmd.id)?;
            let dom = hwpt.domain().as_ptr();
            if !mock::is_mock_paging(dom) {
                return Err(Errno::EINVAL);
            }
            // SAFETY: A mock paging domain, alive while we hold its HWPT.
            unsafe { mock::check_pa(dom, iova, length, uptr) }
        }
        TestOp::MdCheckIotlb { id, iotlb } => {
            let hwpt = object::get_hwpt_nested(ucmd.ctx().objects(), cmd.id)?;
            let dom = hwpt.domain().as_ptr();
            if !mock::is_mock_nested(dom) {
                return Err(Errno::EINVAL);
            }
            // SAFETY: A mock nested domain, alive while we hold its HWPT.
            unsafe { mock::check_iotlb(dom, id, iotlb) }
        }
        TestOp::Dirty {
            iova,
            length,
            page_size,
            uptr,
            ..
        } => dirty(ucmd, cmd, iova, length, page_size, uptr),
        TestOp::TriggerIopf {
            dev_id,
            pasid,
            grpid,
            perm,
            addr,
        } => {
            let idev = object::get_device(ucmd.ctx().objects(), dev_id)?;
            if !idev.is_mock() {
                return Err(Errno::EINVAL);
            }
            let _ = NO_PASID;
            // SAFETY: A bound mock device, alive while we hold its object.
            unsafe { mock::trigger_iopf(idev.dev(), pasid, grpid, perm, addr) }
        }
        _ => Err(Errno::EOPNOTSUPP),
    }
}

/// C `iommufd_test_mock_domain()`: a mock device, bound and attached to `cmd.id` (an IOAS or
/// HWPT); userspace destroys the returned selftest object to undo it all.
fn mock_domain(ucmd: &mut Ucmd<'_>, mut cmd: TestCmd) -> Result<(), Errno> {
    let ctx = ucmd.ctx();
    let objects = ctx.objects();
    let dev_flags = cmd.mock_dev_flags().unwrap_or(0);
    let id = objects.lock().table.reserve()?;
    let rc = (|| {
        let mock = MockDev::create(dev_flags)?;
        // SAFETY: The mock device lives in the selftest object until after unbind.
        let idev = unsafe { Device::bind(ctx.as_ref(), mock.as_dev(), true) }?;
        let hwpt_id = match idev.attach(cmd.id) {
            Ok(h) => h,
            Err(e) => {
                idev.unbind();
                return Err(e);
            }
        };
        let idev_id = idev.id;
        // From here on, dropping `sobj` detaches, unbinds and removes the mock device.
        let sobj = Arc::new(
            SelftestObj {
                idev: Some(idev),
                mock,
            },
            GFP_KERNEL_ACCOUNT,
        )
        .map_err(|_| Errno::ENOMEM);
        let sobj = match sobj {
            Ok(s) => s,
            Err(e) => return Err(e),
        };
        match &mut cmd.op {
            TestOp::MockDomain {
                out_stdev_id,
                out_hwpt_id,
                out_idev_id,
            }
            | TestOp::MockDomainFlags {
                out_stdev_id,
                out_hwpt_id,
                out_idev_id,
                ..
            } => {
                *out_stdev_id = id;
                *out_hwpt_id = hwpt_id;
                *out_idev_id = idev_id;
            }
            _ => {}
        }
        cmd.encode_response(ucmd.buf_mut());
        ucmd.respond()?;
        Ok(sobj)
    })();
    match rc {
        Ok(sobj) => {
            object::finalize(objects, id, Object::Selftest(sobj));
            Ok(())
        }
        Err(e) => {
            objects.lock().table.abort(id);
            Err(e)
        }
    }
}

/// C `iommufd_test_mock_domain_replace()`.
fn mock_domain_replace(ucmd: &mut Ucmd<'_>, mut cmd: TestCmd, pt_id: u32) -> Result<(), Errno> {
    let objects = ucmd.ctx().objects();
    let sobj = object::get_typed_selftest(objects, cmd.id)?;
    let new_id = sobj.idev()?.replace(pt_id)?;
    if let TestOp::MockDomainReplace { pt_id } = &mut cmd.op {
        *pt_id = new_id;
    }
    cmd.encode_response(ucmd.buf_mut());
    ucmd.respond()
}

/// C `iommufd_test_dirty()`: marks the IOVAs whose bit is set in the user bitmap dirty in
/// a mock domain.
fn dirty(
    ucmd: &mut Ucmd<'_>,
    mut cmd: TestCmd,
    iova: u64,
    length: u64,
    page_size: u64,
    uptr: u64,
) -> Result<(), Errno> {
    if page_size == 0
        || length == 0
        || iova % page_size != 0
        || length % page_size != 0
        || uptr == 0
    {
        return Err(Errno::EINVAL);
    }
    if length / page_size > (16u64 << 20) * 8 {
        return Err(Errno::EOVERFLOW);
    }
    let hwpt = object::get_hwpt_paging(ucmd.ctx().objects(), cmd.id)?;
    let dom = hwpt.domain().as_ptr();
    if !mock::is_mock_paging(dom) {
        return Err(Errno::EINVAL);
    }
    // SAFETY: A mock paging domain, alive while we hold its HWPT.
    let n = unsafe { mock::dirty(dom, iova, length, page_size, uptr) }?;
    if let TestOp::Dirty { out_nr_dirty, .. } = &mut cmd.op {
        *out_nr_dirty = n;
    }
    cmd.encode_response(ucmd.buf_mut());
    ucmd.respond()
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
