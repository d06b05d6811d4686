// SPDX-License-Identifier: GPL-2.0

//! `IOMMU_TEST_CMD`, the test-only command of `CONFIG_IOMMUFD_TEST` (C `selftest.c`).
//!
//! The mock IOMMU driver itself is [`crate::mock`]; this file is the command: mock devices
//! bound and attached as selftest objects (`MOCK_DOMAIN`, `_FLAGS`, `_REPLACE`), checks of
//! mock page tables (`MD_CHECK_MAP`, `MD_CHECK_REFS`, `MD_CHECK_IOTLB`), `DIRTY`,
//! `TRIGGER_IOPF`, `ADD_RESERVED` and `SET_TEMP_MEMORY_LIMIT`.
//! The access ops (`CREATE_ACCESS`, `ACCESS_REPLACE_IOAS`, `ACCESS_PAGES`,
//! `DESTROY_ACCESS_PAGES`, `ACCESS_RW`: C `selftest.c` 981-1357) drive [`crate::access`].
//!
//! Lock order: one table for the module, `Documentation/locking.md`. Here: [`StAccess::lock`] (C
//! `staccess->lock`), then the access's locks (see [`crate::access`]).

use crate::hw_pagetable::{Hwpt, HwptNested, HwptPaging};
use crate::ioas::Ioas;
use crate::shim;
use crate::{
    access::Access,
    ctx::Ucmd,
    device::Device,
    error,
    iommufd_core::{
        errno::Errno,
        iopt::{IOMMU_READ, IOMMU_WRITE},
        ucmd::test_cmd::{
            TestCmd, TestOp, MOCK_ACCESS_RW_WRITE, MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES,
            MOCK_FLAGS_ACCESS_SYZ, MOCK_FLAGS_ACCESS_WRITE,
        },
    },
    kapi,
    mock::{self, MockDev},
    object::{self, Object},
    pages::PAGE_SIZE,
    test_hooks, user,
};
use core::{
    ffi::{c_ulong, c_void},
    ptr::NonNull,
};
use kernel::page_pin::{GupFlags, PinnedPages, UserPageRef};
use kernel::{
    bindings,
    fs::file::{flags::O_CLOEXEC, File, FileDescriptorReservation},
    new_mutex,
    prelude::*,
    sync::{Arc, Mutex},
    types::ARef,
};

/// `GUP_PIN_COUNTING_BIAS` of `include/linux/mm.h`: a pin adds this to a page's refcount.
const GUP_PIN_COUNTING_BIAS: i32 = 1 << 10;

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
            {
                // C holds the mock device's `iopf_rwsem` across attach changes.
                let _iopf = self.mock.iopf_write_lock();
                idev.detach();
            }
            idev.unbind();
        }
    }
}

/// C `iommufd_test()`.
pub(crate) fn test_cmd(ucmd: &mut Ucmd<'_>) -> Result<(), Errno> {
    let cmd = TestCmd::decode_with_page_size(ucmd.buf(), PAGE_SIZE)?;
    match cmd.op {
        TestOp::AddReserved { start, length } => add_reserved(ucmd, cmd.id, start, length),
        TestOp::MdCheckRefs { length, uptr, refs } => md_check_refs(uptr, length, refs),
        TestOp::SetTempMemoryLimit { limit } => {
            test_hooks::set_memory_limit(limit);
            Ok(())
        }
        TestOp::MockDomain { .. } | TestOp::MockDomainFlags { .. } => mock_domain(ucmd, cmd),
        TestOp::MockDomainReplace { pt_id } => mock_domain_replace(ucmd, cmd, pt_id),
        TestOp::MdCheckMap { iova, length, uptr } => {
            let hwpt = object::get::<HwptPaging>(ucmd.ctx().objects(), cmd.id)?;
            let dom = hwpt.domain().as_raw();
            if !mock::is_mock_paging(dom) {
                return Err(Errno::EINVAL);
            }
            // SAFETY: A mock paging domain, alive while we hold its HWPT.
            unsafe { mock::check_pa(dom, iova, length, uptr) }
        }
        TestOp::MdCheckIotlb { id, iotlb } => {
            let hwpt = object::get::<HwptNested>(ucmd.ctx().objects(), cmd.id)?;
            let dom = hwpt.domain().as_raw();
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
            let idev = object::get::<Device>(ucmd.ctx().objects(), dev_id)?;
            if !idev.is_mock() {
                return Err(Errno::EINVAL);
            }
            // SAFETY: A bound mock device, alive while we hold its object.
            unsafe { mock::trigger_iopf(idev.dev(), pasid, grpid, perm, addr) }
        }
        TestOp::CreateAccess { flags, .. } => create_access(ucmd, cmd, flags),
        TestOp::AccessReplaceIoas { ioas_id } => {
            let st = StRef::get(cmd.id)?;
            let access = st.access()?;
            access.replace(ioas_id)
        }
        TestOp::AccessPages {
            flags,
            iova,
            length,
            uptr,
            ..
        } => access_pages(ucmd, cmd, iova, length, uptr, flags),
        TestOp::DestroyAccessPages { access_pages_id } => {
            destroy_access_pages(cmd.id, access_pages_id)
        }
        TestOp::AccessRw {
            iova,
            length,
            uptr,
            flags,
        } => access_rw(cmd.id, iova, length, uptr, flags),
        // The PASID ops go through the exported kAPI (include/linux/iommufd_pasid.h), as a
        // driver would.
        TestOp::PasidAttach { pasid, pt_id } => pasid_op(ucmd, cmd, |idev| {
            let mut id = pt_id;
            error::from_rc(kapi::pasid_attach(idev, pasid, &mut id)).map(|()| id)
        }),
        TestOp::PasidReplace { pasid, pt_id } => pasid_op(ucmd, cmd, |idev| {
            let mut id = pt_id;
            error::from_rc(kapi::pasid_replace(idev, pasid, &mut id)).map(|()| id)
        }),
        TestOp::PasidAssign { pt_id, .. } => pasid_op(ucmd, cmd, |idev| {
            let (mut id, mut pasid) = (pt_id, 0);
            error::from_rc(kapi::pasid_assign(idev, &mut id, &mut pasid)).map(|()| pasid)
        }),
        TestOp::PasidDetach { pasid } => {
            let sobj = object::get::<SelftestObj>(ucmd.ctx().objects(), cmd.id)?;
            let idev = sobj.idev()?;
            let _iopf = sobj.mock.iopf_write_lock();
            kapi::pasid_detach(idev, pasid);
            Ok(())
        }
        TestOp::PasidCheckHwpt { pasid, hwpt_id } => pasid_check_hwpt(ucmd, cmd.id, pasid, hwpt_id),
        // Any bound device (a VFIO device's iommufd device object too), through the kAPI: on
        // real hardware this is the only way to a PASID on 6.12, whose vfio has none.
        TestOp::DevPasidAttach { pasid, pt_id } => {
            let idev = object::get::<Device>(ucmd.ctx().objects(), cmd.id)?;
            let mut id = pt_id;
            error::from_rc(kapi::pasid_attach(&idev, pasid, &mut id))?;
            let mut out = cmd;
            out.op = TestOp::DevPasidAttach { pasid, pt_id: id };
            out.encode_response(ucmd.buf_mut());
            let rc = ucmd.respond();
            if rc.is_err() {
                idev.pasid_detach(pasid);
            }
            rc
        }
        TestOp::DevPasidDetach { pasid } => {
            let idev = object::get::<Device>(ucmd.ctx().objects(), cmd.id)?;
            kapi::pasid_detach(&idev, pasid);
            Ok(())
        }
        TestOp::FloorPinMap { iova, length, uptr } => {
            floor_pin_map(ucmd, cmd.id, iova, length, uptr)
        }
    }
}

/// Pages pinned per `pin_user_pages_fast()` call by [`floor_pin_map`] (one page of pointers,
/// as C's `pfn_reader` batches).
const FLOOR_PIN_BATCH: usize = 512;

/// `IOMMU_TEST_OP_RS_FLOOR_PIN_MAP` (iommufd-rs only): the benchmark's floor. Pins
/// `[uptr, uptr + length)` (long term, writable), maps it at `iova` into the mock domain of
/// HWPT `hwpt_id` one physically contiguous run per `iommu_map()`, then unmaps it and unpins:
/// the work an `IOMMU_IOAS_MAP` + `UNMAP` with a domain must do, without the IOVA
/// bookkeeping, the pages object or the accounting. The range must be free in the domain (the
/// benchmark uses a mock domain of an empty IOAS).
fn floor_pin_map(
    ucmd: &Ucmd<'_>,
    hwpt_id: u32,
    iova: u64,
    length: u64,
    uptr: u64,
) -> Result<(), Errno> {
    let hwpt = object::get::<HwptPaging>(ucmd.ctx().objects(), hwpt_id)?;
    let dom = hwpt.domain();
    if !mock::is_mock_paging(dom.as_raw()) {
        return Err(Errno::EINVAL);
    }
    // `decode` checked that the range is page aligned, not empty and does not wrap.
    let npages = usize::try_from(length / PAGE_SIZE).map_err(|_| Errno::EINVAL)?;
    let mut pages = PinnedPages::new(npages, GupFlags::LONGTERM | GupFlags::WRITE, GFP_KERNEL)
        .map_err(|_| Errno::ENOMEM)?;
    let mut done = 0;
    while done < npages {
        let n = (npages - done).min(FLOOR_PIN_BATCH);
        let uaddr = uptr as usize + done * PAGE_SIZE as usize;
        match pages.pin_fast(done, uaddr, n).map_err(error::errno_of)? {
            // Dropping `pages` releases what is pinned.
            0 => return Err(Errno::EFAULT),
            got => done += got,
        }
    }
    let mut mapped = 0;
    let mut i = 0;
    let rc = (|| -> Result<(), Errno> {
        while i < npages {
            let pfn = pages.get(i).ok_or(Errno::EFAULT)?.pfn();
            let mut j = i + 1;
            while j < npages && pages.get(j).map(|p| p.pfn()) == Some(pfn + (j - i)) {
                j += 1;
            }
            let size = (j - i) as u64 * PAGE_SIZE;
            let (at, paddr) = (iova + mapped, pfn as u64 * PAGE_SIZE);
            // SAFETY: The pages are pinned in `pages` until after the unmap below.
            unsafe { dom.map(at, paddr, size, IOMMU_READ | IOMMU_WRITE) }
                .map_err(error::errno_of)?;
            mapped += size;
            i = j;
        }
        Ok(())
    })();
    if mapped != 0 {
        dom.unmap(iova, mapped);
    }
    pages.unpin(0..npages, true);
    rc
}

/// The later C's `iommufd_test_pasid_attach`/`_replace` and our `IOMMU_TEST_OP_RS_PASID_ASSIGN`:
/// `op` on the selftest device `cmd.id` (with its `iopf_rwsem`, as every attach change);
/// its result (the HWPT ID, or the PASID assigned) is written back, and the attach is undone if
/// that fails.
fn pasid_op(
    ucmd: &mut Ucmd<'_>,
    mut cmd: TestCmd,
    op: impl FnOnce(&Device) -> Result<u32, Errno>,
) -> Result<(), Errno> {
    let sobj = object::get::<SelftestObj>(ucmd.ctx().objects(), cmd.id)?;
    let idev = sobj.idev()?;
    let out = {
        let _iopf = sobj.mock.iopf_write_lock();
        op(idev)?
    };
    let pasid = match &mut cmd.op {
        TestOp::PasidAttach { pt_id, pasid } | TestOp::PasidReplace { pt_id, pasid } => {
            *pt_id = out;
            *pasid
        }
        TestOp::PasidAssign { out_pasid, .. } => {
            *out_pasid = out;
            out
        }
        _ => return Ok(()),
    };
    cmd.encode_response(ucmd.buf_mut());
    let rc = ucmd.respond();
    if rc.is_err() && !matches!(cmd.op, TestOp::PasidReplace { .. }) {
        let _iopf = sobj.mock.iopf_write_lock();
        idev.pasid_detach(pasid);
    }
    rc
}

/// The later C's `iommufd_test_pasid_check_hwpt`: `hwpt_id` 0 asks that nothing is attached on
/// `pasid`; otherwise that HWPT's domain must be the one attached. Both the iommu core's view
/// (its attach handle) and the mock driver's (what `set_dev_pasid` programmed) must agree:
/// `EINVAL` if not.
fn pasid_check_hwpt(ucmd: &Ucmd<'_>, stdev_id: u32, pasid: u32, hwpt_id: u32) -> Result<(), Errno> {
    let objects = ucmd.ctx().objects();
    let sobj = object::get::<SelftestObj>(objects, stdev_id)?;
    let core_domain = sobj.idev()?.pasid_core_domain(pasid);
    // SAFETY: The mock device lives as long as the selftest object we hold.
    let programmed = unsafe { mock::pasid_domain(sobj.mock.as_dev(), pasid) };
    let expect = if hwpt_id == 0 {
        core::ptr::null_mut()
    } else {
        let pt = object::get_any(objects, hwpt_id)?;
        let hwpt = Hwpt::from_object(&pt).ok_or(Errno::EINVAL)?;
        hwpt.domain().as_raw()
    };
    if core_domain != expect || programmed != expect {
        return Err(Errno::EINVAL);
    }
    Ok(())
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
        let idev = unsafe { Device::bind(ctx.as_ref(), mock.device(), true) }?;
        let attached = {
            let _iopf = mock.iopf_write_lock();
            idev.attach(cmd.id)
        };
        let hwpt_id = match attached {
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
            object::finalize(objects, id, Object::new(sobj));
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
    let sobj = object::get::<SelftestObj>(objects, cmd.id)?;
    let new_id = {
        let _iopf = sobj.mock.iopf_write_lock();
        sobj.idev()?.replace(pt_id)?
    };
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
    // `decode` made C's argument checks (EINVAL, EOVERFLOW) before this lookup.
    let hwpt = object::get::<HwptPaging>(ucmd.ctx().objects(), cmd.id)?;
    let dom = hwpt.domain().as_raw();
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
    let ioas = object::get::<Ioas>(ucmd.ctx().objects(), ioas_id)?;
    ioas.reserve_iova(start, last, 0)
}

/// The page of the current process's memory at `uptr`, referenced by GUP
/// (`get_user_pages_fast`) until dropped; `EFAULT` if there is none.
fn user_page(uptr: u64) -> Result<UserPageRef, Errno> {
    UserPageRef::get_fast(uptr as usize, GupFlags::NONE)
        .map_err(error::errno_of)?
        .ok_or(Errno::EFAULT)
}

/// C `iommufd_test_md_check_refs()`: every page of `[uptr, uptr + length)` that is not part
/// of a compound page must be pinned exactly `refs` times. `decode` checked alignment and
/// overflow.
fn md_check_refs(mut uptr: u64, mut length: u64, refs: u32) -> Result<(), Errno> {
    while length != 0 {
        let page = user_page(uptr)?;
        let page = page.page();
        let ok = page.is_compound() || (page.ref_count() / GUP_PIN_COUNTING_BIAS) as u32 == refs;
        if !ok {
            return Err(Errno::EIO);
        }
        // `decode` checked that the range is page aligned and does not wrap.
        uptr = uptr.wrapping_add(PAGE_SIZE);
        length = length.saturating_sub(PAGE_SIZE);
    }
    Ok(())
}

/// `EBADFD`: not an access fd.
const EBADFD: Errno = Errno(77);
/// `EBADE`: a pinned page is not the page of the user address.
const EBADE: Errno = Errno(52);

/// One `ACCESS_PAGES` pin (C `struct selftest_access_item`).
struct Item {
    iova: u64,
    length: u64,
    id: u32,
}

/// What C protects with `staccess->lock`.
struct StItems {
    /// The access, once created and attached (C `staccess->access`).
    access: Option<Arc<Access>>,
    items: KVec<Item>,
    next_id: u32,
}

/// The state behind an access fd (C `struct selftest_access`): the file's private data.
#[pin_data]
pub(crate) struct StAccess {
    #[pin]
    lock: Mutex<StItems>,
}

/// A reference to an access fd's state (C `iommufd_access_get()`), holding the file.
///
/// # Invariants
///
/// `file` is an access file, whose reference (from `fget`) is dropped with it; `st` is its
/// private data, alive while the file is.
struct StRef {
    /// Only held: it keeps `st` alive.
    _file: ARef<File>,
    st: *const StAccess,
}

impl StRef {
    /// The access fd `fd`; `EBADFD` if it is not one.
    fn get(fd: u32) -> Result<StRef, Errno> {
        let mut file: *mut bindings::file = core::ptr::null_mut();
        // SAFETY: `fget` and an `f_op` check in C; `file` is a valid out pointer.
        let st = unsafe { shim::iommufd_rs_test_staccess_get(fd as i32, &mut file) };
        let (false, Some(file)) = (st.is_null(), NonNull::new(file)) else {
            return Err(EBADFD);
        };
        // SAFETY: `iommufd_rs_test_staccess_get` took a reference on the file for us.
        let file = unsafe { ARef::from_raw(file.cast::<File>()) };
        // INVARIANT: `iommufd_rs_test_staccess_get` returned a referenced access file and
        // its private data.
        Ok(StRef {
            _file: file,
            st: st.cast::<StAccess>(),
        })
    }

    fn st(&self) -> &StAccess {
        // SAFETY: The private data lives as long as the file, which we hold (invariants).
        unsafe { &*self.st }
    }

    /// The access; `EBADFD` if it is not set up (cannot happen through an installed fd).
    fn access(&self) -> Result<Arc<Access>, Errno> {
        self.st().lock.lock().access.clone().ok_or(EBADFD)
    }
}

/// C `iommufd_test_access_unmap()`, the selftest access's `unmap` op: unpins every item that
/// overlaps `[iova, iova + length)`.
///
/// # Safety
///
/// `st` (the access's `data`) must be the `StAccess` of a live access file.
#[no_mangle]
pub(crate) unsafe extern "C" fn iommufd_rs_test_access_unmap(
    st: &StAccess,
    iova: c_ulong,
    length: c_ulong,
) {
    unmap_items(st, iova, length);
}

/// The body of [`iommufd_rs_test_access_unmap`].
fn unmap_items(st: &StAccess, iova: c_ulong, length: c_ulong) {
    let iova_last = iova.wrapping_add(length).wrapping_sub(1);
    let mut g = st.lock.lock();
    let access = g.access.clone();
    let mut i = 0;
    while i < g.items.len() {
        let (it_iova, it_len) = (g.items[i].iova, g.items[i].length);
        if iova > it_iova.wrapping_add(it_len).wrapping_sub(1) || iova_last < it_iova {
            i += 1;
            continue;
        }
        let _ = crate::storage::vec_remove(&mut g.items, i);
        if let Some(a) = &access {
            a.unpin_pages(it_iova, it_len);
        }
    }
}

/// C `iommufd_test_staccess_release()`: the access fd's last close unpins everything and
/// destroys the access.
///
/// # Safety
///
/// `data` must be the private data of an access file being released, made by
/// `create_access`; it is freed here.
#[no_mangle]
pub(crate) unsafe extern "C" fn iommufd_rs_test_staccess_release(data: *mut c_void) {
    // SAFETY: `data` came from `KBox::into_raw` in `create_access` and is released once.
    let st = unsafe { KBox::from_raw(data.cast::<StAccess>()) };
    let has_access = st.lock.lock().access.is_some();
    if has_access {
        unmap_items(&st, 0, c_ulong::MAX);
        let access = st.lock.lock().access.take();
        if let Some(a) = access {
            Access::destroy(a);
        }
    }
    drop(st);
}

/// C `iommufd_test_create_access()`.
fn create_access(ucmd: &mut Ucmd<'_>, mut cmd: TestCmd, flags: u32) -> Result<(), Errno> {
    let st = KBox::pin_init(
        pin_init!(StAccess {
            lock <- new_mutex!(
                StItems {
                    access: None,
                    items: KVec::new(),
                    next_id: 0,
                },
                "iommufd_test_staccess::lock"
            ),
        }),
        GFP_KERNEL_ACCOUNT,
    )
    .map_err(|_| Errno::ENOMEM)?;
    // SAFETY: The state is never moved out of its box: it is only used through this pointer,
    // until `iommufd_rs_test_staccess_release` turns it back into a box and drops it.
    let raw = KBox::into_raw(unsafe { Pin::into_inner_unchecked(st) });
    // SAFETY: `anon_inode_getfile` returns an `ERR_PTR` or a new file whose reference is ours;
    // its private data is `raw`, which its release frees.
    let file =
        unsafe { File::from_raw_owned(shim::iommufd_rs_test_staccess_getfile(raw.cast()).cast()) };
    let file = match file {
        Ok(file) => file,
        Err(e) => {
            // SAFETY: No file owns `raw`: free it here.
            drop(unsafe { KBox::from_raw(raw) });
            return Err(e.into());
        }
    };
    // The reservation is given back before the file is dropped (whose release frees `raw`).
    let fail = |e: Errno, fd: Option<FileDescriptorReservation>, file: ARef<File>| {
        drop(fd);
        drop(file);
        Err(e)
    };
    let fd = match FileDescriptorReservation::get_unused_fd_flags(O_CLOEXEC) {
        Ok(fd) => fd,
        Err(_) => return fail(Errno::ENOMEM, None, file),
    };
    let fdno = fd.reserved_fd();
    let needs_pin = flags & MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES != 0;
    // SAFETY: The selftest's ops (static) and `raw`, which lives until the file's release,
    // which destroys the access first.
    let created = unsafe {
        Access::create(
            ucmd.ctx().as_ref(),
            shim::iommufd_rs_test_access_ops(needs_pin),
            raw.cast(),
        )
    };
    let access = match created {
        Ok((access, _)) => access,
        Err(e) => return fail(e, Some(fd), file),
    };
    let rc = access.attach(cmd.id).and_then(|()| {
        cmd.op = TestOp::CreateAccess {
            out_access_fd: fdno,
            flags,
        };
        cmd.encode_response(ucmd.buf_mut());
        ucmd.respond()
    });
    if let Err(e) = rc {
        Access::destroy(access);
        return fail(e, Some(fd), file);
    }
    // SAFETY: `raw` is alive: the file owns it.
    unsafe { &*raw }.lock.lock().access = Some(access);
    fd.fd_install(file);
    Ok(())
}

/// C `iommufd_test_check_pages()`: each page must be the one at the user address.
fn check_pages(mut uptr: u64, pages: &[*mut bindings::page]) -> Result<(), Errno> {
    for &p in pages {
        if user_page(uptr)?.page().as_raw() != p {
            return Err(EBADE);
        }
        uptr = uptr.wrapping_add(PAGE_SIZE);
    }
    Ok(())
}

/// C `iommufd_test_access_pages()`.
fn access_pages(
    ucmd: &mut Ucmd<'_>,
    mut cmd: TestCmd,
    iova: u64,
    length: u64,
    uptr: u64,
    flags: u32,
) -> Result<(), Errno> {
    let sref = StRef::get(cmd.id)?;
    let access = sref.access()?;
    if !access.needs_pin_pages() {
        return Err(Errno::EOPNOTSUPP);
    }
    let iova = if flags & MOCK_FLAGS_ACCESS_SYZ != 0 {
        access.syz_conv_iova(iova)
    } else {
        iova
    };
    let down = iova & !(PAGE_SIZE - 1);
    let npages = iova
        .checked_add(length)
        .and_then(|e| e.checked_add(PAGE_SIZE - 1))
        .map_or(0, |e| {
            (e & !(PAGE_SIZE - 1)).saturating_sub(down) / PAGE_SIZE
        });
    let mut pages: KVVec<*mut bindings::page> =
        KVVec::from_elem(core::ptr::null_mut(), npages as usize, GFP_KERNEL_ACCOUNT)
            .map_err(|_| Errno::ENOMEM)?;
    // C: a global lock around the pin, so that unmaps wait for the item to exist.
    let mut g = sref.st().lock.lock();
    access.pin_pages(iova, length, &mut pages, flags & MOCK_FLAGS_ACCESS_WRITE)?;
    let rc = (|| {
        if uptr != 0 {
            check_pages(uptr.wrapping_sub(iova - down), &pages)?;
        }
        let id = g.next_id;
        g.next_id = g.next_id.wrapping_add(1);
        g.items
            .push(Item { iova, length, id }, GFP_KERNEL_ACCOUNT)
            .map_err(|_| Errno::ENOMEM)?;
        cmd.op = TestOp::AccessPages {
            flags,
            out_access_pages_id: id,
            iova,
            length,
            uptr,
        };
        cmd.encode_response(ucmd.buf_mut());
        if let Err(e) = ucmd.respond() {
            let last = g.items.len().wrapping_sub(1);
            let _ = crate::storage::vec_remove(&mut g.items, last);
            return Err(e);
        }
        Ok(())
    })();
    if rc.is_err() {
        access.unpin_pages(iova, length);
    }
    rc
}

/// C `iommufd_test_access_item_destroy()`.
fn destroy_access_pages(fd: u32, item_id: u32) -> Result<(), Errno> {
    let sref = StRef::get(fd)?;
    let mut g = sref.st().lock.lock();
    let pos = g
        .items
        .iter()
        .position(|it| it.id == item_id)
        .ok_or(Errno::ENOENT)?;
    let it = crate::storage::vec_remove(&mut g.items, pos).ok_or(Errno::ENOENT)?;
    if let Some(a) = g.access.clone() {
        a.unpin_pages(it.iova, it.length);
    }
    Ok(())
}

/// C `iommufd_test_access_rw()`.
fn access_rw(fd: u32, iova: u64, length: u64, ubuf: u64, flags: u32) -> Result<(), Errno> {
    let sref = StRef::get(fd)?;
    let access = sref.access()?;
    let mut tmp: KVVec<u8> =
        KVVec::from_elem(0u8, length as usize, GFP_KERNEL_ACCOUNT).map_err(|_| Errno::ENOMEM)?;
    if flags & MOCK_ACCESS_RW_WRITE != 0 {
        user::read(ubuf as usize, &mut tmp)?;
    }
    let iova = if flags & MOCK_FLAGS_ACCESS_SYZ != 0 {
        access.syz_conv_iova(iova)
    } else {
        iova
    };
    access.rw(iova, &mut tmp, flags)?;
    if flags & MOCK_ACCESS_RW_WRITE == 0 {
        user::write(ubuf as usize, &tmp)?;
    }
    Ok(())
}

impl crate::object::ObjectKind for SelftestObj {
    const TYPE: crate::object::ObjType = crate::object::ObjType::Selftest;
}
