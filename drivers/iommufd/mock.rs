// SPDX-License-Identifier: GPL-2.0

//! The mock IOMMU driver of `CONFIG_IOMMUFD_TEST`: the driver half of C `selftest.c`.
//!
//! A bus (`iommufd_mock`) whose devices (`iommufd_mock%u`, [`MockDev`]) are served by a mock
//! IOMMU (`mock_ops`): a blocking domain, paging domains that keep their IOVA to PFN table in an
//! xarray (with the `MOCK_PFN_*` metadata bits above the PFN), dirty tracking on top of those
//! bits, and nested domains with a small mock IOTLB invalidated from user space. The iommu core
//! calls the `extern "C"` callbacks below; the `IOMMU_TEST_CMD` glue calls [`check_pa`],
//! [`check_iotlb`], [`dirty`] and [`trigger_iopf`] on domains and devices it looked up.
//!
//! The layout of the C structures the iommu core sees (`struct iommu_domain` inside the mock
//! domains, `struct device` inside the mock device) is the one of C `selftest.c`: the embedded
//! struct is the first field of a `#[repr(C)]` struct, so the C pointer converts back with a
//! cast (C `container_of`).
//!
//! Lock order: one table for the module, `Documentation/locking.md`. Here: a mock device's
//! `iopf_rwsem` is outermost (held across a selftest device's attach changes); the `pasids`
//! xarray's lock is taken inside the iommu core's group mutex (`set_dev_pasid`), a domain's
//! `pfns` xarray's inside `Ioas::iopt` (map and unmap).

use crate::{
    error::err_ptr,
    iommufd_core::{
        errno::Errno,
        ucmd::{
            hwpt::{IOMMU_HWPT_ALLOC_DIRTY_TRACKING, IOMMU_HWPT_ALLOC_NEST_PARENT},
            test_cmd::{
                IOMMU_HWPT_DATA_SELFTEST, IOMMU_HWPT_INVALIDATE_DATA_SELFTEST,
                IOMMU_HW_INFO_SELFTEST_REGVAL, IOMMU_HW_INFO_TYPE_SELFTEST,
                IOMMU_TEST_INVALIDATE_FLAG_ALL, MOCK_APERTURE_LAST, MOCK_APERTURE_START,
                MOCK_DIRTY_MAX_BITS, MOCK_FLAGS_DEVICE_HUGE_IOVA, MOCK_FLAGS_DEVICE_NO_DIRTY,
                MOCK_FLAGS_DEVICE_PASID, MOCK_NESTED_DOMAIN_IOTLB_ID_MAX, MOCK_PASID_WIDTH,
            },
        },
    },
    pages::PAGE_SIZE,
    test_hooks, user,
};
use core::{
    cell::UnsafeCell,
    mem::{offset_of, size_of},
    ptr::{self, NonNull},
    sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicUsize, Ordering},
};
use kernel::{
    bindings, c_str,
    ffi::{c_int, c_uint, c_ulong, c_void},
    prelude::*,
    types::Opaque,
};

/// C `MOCK_IO_PAGE_SIZE`: the IO page size of the mock domains, half a CPU page so that the
/// core's sub-page handling is exercised.
pub(crate) const MOCK_IO_PAGE_SIZE: u64 = PAGE_SIZE / 2;

/// [`MOCK_IO_PAGE_SIZE`] in the type of the xarray arithmetic.
const IO_PAGE: usize = MOCK_IO_PAGE_SIZE as usize;
/// C `MOCK_HUGE_PAGE_SIZE`: the large page of `MOCK_FLAGS_DEVICE_HUGE_IOVA` devices.
const MOCK_HUGE_PAGE_SIZE: usize = 512 * IO_PAGE;
/// C `MOCK_DIRTY_TRACK`: the dirty tracking bit of [`MockDomain::flags`].
const MOCK_DIRTY_TRACK: u32 = 1;
/// C `MOCK_PFN_MASK`: the PFN part of an xarray value; the bits above it are metadata (xarray
/// values keep the top bit for themselves).
const MOCK_PFN_MASK: usize = usize::MAX / IO_PAGE;
/// C `MOCK_PFN_START_IOVA`: the first IO page of a `map_pages` call.
const MOCK_PFN_START_IOVA: usize = MOCK_PFN_MASK + 1;
/// C `MOCK_PFN_LAST_IOVA`: the last IO page of a `map_pages` call.
const MOCK_PFN_LAST_IOVA: usize = MOCK_PFN_START_IOVA;
/// C `MOCK_PFN_DIRTY_IOVA`: the IO page is dirty.
const MOCK_PFN_DIRTY_IOVA: usize = MOCK_PFN_START_IOVA << 1;
/// C `MOCK_PFN_HUGE_IOVA`: the IO page is part of a [`MOCK_HUGE_PAGE_SIZE`] mapping.
const MOCK_PFN_HUGE_IOVA: usize = MOCK_PFN_START_IOVA << 2;

/// The PASID whose `set_dev_pasid` fails once when it goes straight from one domain to
/// another (upstream's mock fails its second `set_dev_pasid` on PASID 1024), so that the
/// rollback of a PASID replace is exercised: see [`mock_domain_set_dev_pasid`].
pub(crate) const MOCK_PASID_REPLACE_FAILS: u32 = 1024;

/// The entries of the mock IOTLB of a nested domain (C `MOCK_NESTED_DOMAIN_IOTLB_NUM`).
const IOTLB_NUM: usize = MOCK_NESTED_DOMAIN_IOTLB_ID_MAX as usize + 1;

/// `-MAX_ERRNO`, the lowest error pointer.
const MAX_ERRNO: isize = 4095;

/// The C half of the driver (`iommufd_shim.c`) and the exported iommu functions that no header
/// of the bindings declares.
mod shim {
    use kernel::{
        bindings,
        ffi::{c_char, c_int, c_ulong},
    };

    // `struct iommu_ops` reaches `struct module`, which has types bindgen could not make FFI
    // safe; only pointers to them cross here.
    #[allow(improper_ctypes)]
    extern "C" {
        pub(super) fn iommufd_rs_mock_ida_alloc() -> c_int;
        pub(super) fn iommufd_rs_mock_ida_free(id: c_int);
        pub(super) fn iommufd_rs_mock_xa_init(xa: *mut bindings::xarray);
        pub(super) fn iommufd_rs_mock_init_rwsem(sem: *mut bindings::rw_semaphore);
        pub(super) fn iommufd_rs_dirty_bitmap_record(
            dirty: *mut bindings::iommu_dirty_bitmap,
            iova: c_ulong,
            length: c_ulong,
        );
        pub(super) fn iommufd_rs_warn(file: *const c_char, line: c_int);
        // drivers/iommu/iommu-priv.h, exported under CONFIG_IOMMUFD_TEST.
        pub(super) fn iommu_device_register_bus(
            iommu: *mut bindings::iommu_device,
            ops: *const bindings::iommu_ops,
            bus: *const bindings::bus_type,
            nb: *mut bindings::notifier_block,
        ) -> c_int;
        pub(super) fn iommu_device_unregister_bus(
            iommu: *mut bindings::iommu_device,
            bus: *const bindings::bus_type,
            nb: *mut bindings::notifier_block,
        );
    }
}

/// C `WARN_ON(cond)`: warns (with this file and line) when `cond` holds, and yields it.
macro_rules! mock_warn_on {
    ($cond:expr) => {{
        let cond: bool = $cond;
        if cond {
            // SAFETY: The file name is a NUL-terminated static string; `WARN` may be called
            // from any context.
            unsafe {
                shim::iommufd_rs_warn(
                    kernel::c_str!(file!()).as_char_ptr(),
                    line!() as kernel::ffi::c_int,
                )
            };
        }
        cond
    }};
}

/// A C object in a Rust static: handed to C by address and possibly written by it.
///
/// # Invariants
///
/// The value is only accessed through [`CStatic::get`] raw pointers, by the iommu core and
/// driver core with their own serialisation, or (for the ops tables) only read.
#[repr(transparent)]
struct CStatic<T>(UnsafeCell<T>);

// SAFETY: By the type invariant all accesses go through raw pointers under the C side's own
// rules, as for the C `static` this replaces.
unsafe impl<T> Sync for CStatic<T> {}

impl<T> CStatic<T> {
    const fn new(value: T) -> Self {
        Self(UnsafeCell::new(value))
    }

    const fn get(&self) -> *mut T {
        self.0.get()
    }
}

/// C `xa_mk_value()`.
fn xa_mk_value(v: usize) -> *mut c_void {
    ((v << 1) | 1) as *mut c_void
}

/// C `xa_to_value()`.
fn xa_to_value(entry: *const c_void) -> usize {
    (entry as usize) >> 1
}

/// C `xa_is_err()`: an internal entry carrying an errno.
fn xa_is_err(entry: *const c_void) -> bool {
    let e = entry as usize;
    e & 3 == 2 && e >= ((-MAX_ERRNO << 2) | 2) as usize
}

/// C `xa_err()` of an entry for which [`xa_is_err`] holds: the negative errno.
fn xa_err(entry: *const c_void) -> c_int {
    ((entry as isize) >> 2) as c_int
}

/// C `struct mock_iommu_domain`: a paging domain.
///
/// # Invariants
///
/// Allocated by [`mock_domain_alloc`] with `KBox` and freed by [`mock_domain_free`]; `domain` is
/// initialised with `ops == MOCK_PAGING_OPS` and `pfns` with `xa_init` before the domain is
/// handed to the iommu core. `pfns` maps IOVA / [`MOCK_IO_PAGE_SIZE`] to xarray values of
/// `PFN (in IO pages) | MOCK_PFN_* bits`.
#[repr(C)]
struct MockDomain {
    domain: Opaque<bindings::iommu_domain>,
    /// [`MOCK_DIRTY_TRACK`].
    flags: AtomicU32,
    pfns: Opaque<bindings::xarray>,
}

/// C `struct mock_iommu_domain_nested`: a nested domain (its parent is only checked at
/// allocation, as in C).
///
/// # Invariants
///
/// Allocated by [`mock_domain_alloc_user`] with `KBox` and freed by
/// [`mock_domain_free_nested`]; `domain.ops == MOCK_NESTED_OPS`.
#[repr(C)]
struct MockNested {
    domain: Opaque<bindings::iommu_domain>,
    iotlb: [AtomicU32; IOTLB_NUM],
}

/// C `struct mock_dev`.
///
/// # Invariants
///
/// Allocated zeroed by [`MockDev::create`] with `KBox`, freed by [`mock_dev_release`] when the
/// last device reference goes. `dev.bus` is [`MOCK_BUS`], and no other device is on that bus.
/// `flags` and `id` do not change once the device is added. `id` is the IDA id, or -1 before
/// it is allocated. `pasids` is initialised (`xa_init`) before the device is added and
/// destroyed by [`mock_dev_release`]; it maps each PASID the driver has programmed
/// (`set_dev_pasid`, until `remove_dev_pasid`) to the domain's address.
#[repr(C)]
struct MockDevInner {
    dev: Opaque<bindings::device>,
    iopf_rwsem: Opaque<bindings::rw_semaphore>,
    flags: u32,
    id: c_int,
    pasids: Opaque<bindings::xarray>,
    /// The domain last removed from [`MOCK_PASID_REPLACE_FAILS`] (0: none since its last
    /// `set_dev_pasid`).
    pasid_replace_removed: AtomicUsize,
}

// The iommu core's pointers convert back with a cast (C `container_of`).
const _: () = assert!(offset_of!(MockDomain, domain) == 0);
const _: () = assert!(offset_of!(MockNested, domain) == 0);
const _: () = assert!(offset_of!(MockDevInner, dev) == 0);

impl MockDomain {
    /// C `container_of(domain, struct mock_iommu_domain, domain)`.
    ///
    /// # Safety
    ///
    /// `domain` is the domain of a live [`MockDomain`] (its ops are `MOCK_PAGING_OPS`), which
    /// stays alive for `'a`.
    unsafe fn from_domain<'a>(domain: *mut bindings::iommu_domain) -> &'a MockDomain {
        // SAFETY: By the safety requirements `domain` is the first field of a live
        // `#[repr(C)]` `MockDomain`; its fields are `Opaque` or atomic, so a shared reference
        // is fine while C writes the domain.
        unsafe { &*domain.cast::<MockDomain>() }
    }

    fn pfns(&self) -> *mut bindings::xarray {
        self.pfns.get()
    }

    /// C `xa_load(&mock->pfns, index)`.
    fn load(&self, index: usize) -> *mut c_void {
        // SAFETY: `pfns` was initialised by `xa_init` (type invariant); `xa_load` takes the RCU
        // read lock itself.
        unsafe { bindings::xa_load(self.pfns(), index as c_ulong) }
    }

    /// C `xa_store(&mock->pfns, index, entry, gfp)`.
    fn store(&self, index: usize, entry: *mut c_void, gfp: bindings::gfp_t) -> *mut c_void {
        // SAFETY: `pfns` was initialised (type invariant); `xa_store` takes the xarray lock.
        // Entries are xarray values, never pointers.
        unsafe { bindings::xa_store(self.pfns(), index as c_ulong, entry, gfp) }
    }

    /// C `xa_erase(&mock->pfns, index)`.
    fn erase(&self, index: usize) -> *mut c_void {
        // SAFETY: `pfns` was initialised (type invariant); `xa_erase` takes the xarray lock.
        unsafe { bindings::xa_erase(self.pfns(), index as c_ulong) }
    }

    /// Sets bits in the value at `index` (which must hold `ent`), warning if it changed.
    fn update(&self, index: usize, ent: *mut c_void, val: usize) {
        let old = self.store(index, xa_mk_value(val), bindings::GFP_KERNEL);
        mock_warn_on!(old != ent);
    }

    /// C `mock_test_and_clear_dirty()`: whether any IO page of `[iova, iova + page_size)` is
    /// dirty; clears them unless `flags` has `IOMMU_DIRTY_NO_CLEAR`.
    fn test_and_clear_dirty(&self, iova: usize, page_size: usize, flags: c_ulong) -> bool {
        let end = iova.wrapping_add(page_size).wrapping_sub(1);
        let mut dirty = false;
        let mut cur = iova;
        while cur < end {
            let ent = self.load(cur / IO_PAGE);
            if !ent.is_null() && xa_to_value(ent) & MOCK_PFN_DIRTY_IOVA != 0 {
                dirty = true;
                if flags & bindings::IOMMU_DIRTY_NO_CLEAR as c_ulong == 0 {
                    self.update(cur / IO_PAGE, ent, xa_to_value(ent) & !MOCK_PFN_DIRTY_IOVA);
                }
            }
            cur = cur.wrapping_add(IO_PAGE);
        }
        dirty
    }
}

impl MockNested {
    /// C `container_of(domain, struct mock_iommu_domain_nested, domain)`.
    ///
    /// # Safety
    ///
    /// `domain` is the domain of a live [`MockNested`] (ops `MOCK_NESTED_OPS`), alive for `'a`.
    unsafe fn from_domain<'a>(domain: *mut bindings::iommu_domain) -> &'a MockNested {
        // SAFETY: By the safety requirements `domain` is the first field of a live
        // `#[repr(C)]` `MockNested`, whose other fields are atomics.
        unsafe { &*domain.cast::<MockNested>() }
    }
}

impl MockDevInner {
    /// C `container_of(dev, struct mock_dev, dev)`.
    ///
    /// # Safety
    ///
    /// `dev` is a live mock device ([`is_mock_dev`]) that stays alive for `'a`.
    unsafe fn from_dev<'a>(dev: *mut bindings::device) -> &'a MockDevInner {
        // SAFETY: By the safety requirements `dev` is the first field of a live `#[repr(C)]`
        // `MockDevInner`; `dev` and `iopf_rwsem` are `Opaque`, the rest is not written after
        // the device is added.
        unsafe { &*dev.cast::<MockDevInner>() }
    }
}

/// The mock device flags of `dev`, 0 for a null `dev`.
///
/// # Safety
///
/// `dev` is null or a live mock device (the iommu core only hands the mock ops devices that
/// [`mock_probe_device`] accepted).
pub(crate) unsafe fn mock_dev_flags(dev: *mut bindings::device) -> u32 {
    if dev.is_null() {
        return 0;
    }
    // SAFETY: By the safety requirements.
    unsafe { MockDevInner::from_dev(dev) }.flags
}

/// C `iommufd_mock_bus_type.bus`: the bus of the mock devices.
static MOCK_BUS: CStatic<bindings::bus_type> = CStatic::new(bindings::bus_type {
    name: c_str!("iommufd_mock").as_char_ptr(),
    // SAFETY: All-zero is a valid `bus_type` (null pointers, no callbacks).
    ..unsafe { core::mem::zeroed() }
});

/// C `iommufd_mock_bus_type.nb`: the iommu core's notifier on [`MOCK_BUS`].
static MOCK_BUS_NB: CStatic<bindings::notifier_block> = CStatic::new(
    // SAFETY: All-zero is a valid unregistered `notifier_block`.
    unsafe { core::mem::zeroed() },
);

/// C `mock_iommu_device`, PASID capable up to `MOCK_PASID_WIDTH` bits (as the later C).
static MOCK_IOMMU_DEVICE: CStatic<bindings::iommu_device> = CStatic::new(bindings::iommu_device {
    max_pasids: 1 << MOCK_PASID_WIDTH,
    // SAFETY: All-zero is a valid unregistered `iommu_device`.
    ..unsafe { core::mem::zeroed() }
});

/// C `mock_blocking_ops`.
static MOCK_BLOCKING_OPS: CStatic<bindings::iommu_domain_ops> =
    CStatic::new(bindings::iommu_domain_ops {
        attach_dev: Some(mock_domain_nop_attach),
        set_dev_pasid: Some(mock_domain_set_dev_pasid),
        // SAFETY: All-zero is a valid `iommu_domain_ops` (no callbacks).
        ..unsafe { core::mem::zeroed() }
    });

/// C `mock_blocking_domain`: the default and blocked domain of every mock device.
static MOCK_BLOCKING_DOMAIN: CStatic<bindings::iommu_domain> =
    CStatic::new(bindings::iommu_domain {
        type_: bindings::IOMMU_DOMAIN_BLOCKED,
        ops: MOCK_BLOCKING_OPS.get(),
        // SAFETY: All-zero is a valid `iommu_domain` (null pointers).
        ..unsafe { core::mem::zeroed() }
    });

/// C `mock_ops.default_domain_ops`: the ops of the paging domains.
static MOCK_PAGING_OPS: CStatic<bindings::iommu_domain_ops> =
    CStatic::new(bindings::iommu_domain_ops {
        free: Some(mock_domain_free),
        attach_dev: Some(mock_domain_nop_attach),
        set_dev_pasid: Some(mock_domain_set_dev_pasid),
        map_pages: Some(mock_domain_map_pages),
        unmap_pages: Some(mock_domain_unmap_pages),
        iova_to_phys: Some(mock_domain_iova_to_phys),
        // SAFETY: All-zero is a valid `iommu_domain_ops` (no callbacks).
        ..unsafe { core::mem::zeroed() }
    });

/// C `domain_nested_ops`.
static MOCK_NESTED_OPS: CStatic<bindings::iommu_domain_ops> =
    CStatic::new(bindings::iommu_domain_ops {
        free: Some(mock_domain_free_nested),
        attach_dev: Some(mock_domain_nop_attach),
        set_dev_pasid: Some(mock_domain_set_dev_pasid),
        cache_invalidate_user: Some(mock_domain_cache_invalidate_user),
        // SAFETY: All-zero is a valid `iommu_domain_ops` (no callbacks).
        ..unsafe { core::mem::zeroed() }
    });

/// C `dirty_ops`: of the paging domains allocated with `IOMMU_HWPT_ALLOC_DIRTY_TRACKING`.
static MOCK_DIRTY_OPS: CStatic<bindings::iommu_dirty_ops> =
    CStatic::new(bindings::iommu_dirty_ops {
        set_dirty_tracking: Some(mock_domain_set_dirty_tracking),
        read_and_clear_dirty: Some(mock_domain_read_and_clear_dirty),
    });

/// C `mock_ops`. `owner` is set by [`register`] (C `THIS_MODULE`).
static MOCK_OPS: CStatic<bindings::iommu_ops> = CStatic::new(bindings::iommu_ops {
    // IOMMU_DOMAIN_BLOCKED cannot be returned from def_domain_type() because it is zero.
    default_domain: MOCK_BLOCKING_DOMAIN.get(),
    blocked_domain: MOCK_BLOCKING_DOMAIN.get(),
    pgsize_bitmap: IO_PAGE as c_ulong,
    hw_info: Some(mock_domain_hw_info),
    domain_alloc_paging: Some(mock_domain_alloc_paging),
    domain_alloc_user: Some(mock_domain_alloc_user),
    capable: Some(mock_domain_capable),
    device_group: Some(bindings::generic_device_group),
    probe_device: Some(mock_probe_device),
    page_response: Some(mock_domain_page_response),
    dev_enable_feat: Some(mock_dev_enable_feat),
    dev_disable_feat: Some(mock_dev_disable_feat),
    remove_dev_pasid: Some(mock_remove_dev_pasid),
    default_domain_ops: MOCK_PAGING_OPS.get(),
    // The only bitfield: `user_pasid_table = true`.
    _bitfield_1: bindings::__BindgenBitfieldUnit::new([1]),
    // SAFETY: All-zero is a valid `iommu_ops` (null pointers, no callbacks).
    ..unsafe { core::mem::zeroed() }
});

/// C `PROPERTY_ENTRY_U32("pasid-num-bits", MOCK_PASID_WIDTH)` and the terminator: the software
/// node of `MOCK_FLAGS_DEVICE_PASID` devices, from which the iommu core reads their PASID width
/// (`dev_iommu_get_max_pasids`). Copied by `device_create_managed_software_node`.
static PASID_PROPS: CStatic<[bindings::property_entry; 2]> = CStatic::new([
    bindings::property_entry {
        name: c_str!("pasid-num-bits").as_char_ptr(),
        length: size_of::<u32>(),
        is_inline: true,
        type_: bindings::dev_prop_type_DEV_PROP_U32,
        __bindgen_anon_1: bindings::property_entry__bindgen_ty_1 {
            value: bindings::property_entry__bindgen_ty_1__bindgen_ty_1 {
                u32_data: [MOCK_PASID_WIDTH, 0],
            },
        },
    },
    // SAFETY: All-zero is the terminating `property_entry`.
    unsafe { core::mem::zeroed() },
]);

/// C `mock_iommu_iopf_queue`: null if `iopf_queue_alloc` failed (or before [`register`]).
static IOPF_QUEUE: AtomicPtr<bindings::iopf_queue> = AtomicPtr::new(ptr::null_mut());

/// Whether a [`MockIommu`] exists: the statics above serve one registration at a time.
static REGISTERED: AtomicBool = AtomicBool::new(false);

/// `set_dev_pasid` of every mock domain (upstream's `mock_domain_set_dev_pasid_nop`): records
/// the domain as programmed on `pasid` of `dev`, where [`pasid_domain`] reads it back.
///
/// [`MOCK_PASID_REPLACE_FAILS`] models a driver that cannot switch that PASID straight from one
/// table to another: the `set_dev_pasid` that follows the removal of a *different* domain fails
/// once with `ENOMEM`, and the next one (the caller's rollback to the old domain) succeeds.
/// 6.12's iommu core has no PASID replace, so iommufd-rs replaces with remove + set, and this is
/// where upstream's "the second `set_dev_pasid` on PASID 1024 fails" lands.
///
/// # Safety
///
/// Called by the iommu core (under the group's mutex) with a live mock domain and a device
/// probed by the mock ops.
unsafe extern "C" fn mock_domain_set_dev_pasid(
    domain: *mut bindings::iommu_domain,
    dev: *mut bindings::device,
    pasid: bindings::ioasid_t,
    _old: *mut bindings::iommu_domain,
) -> c_int {
    // SAFETY: A mock device probed by the mock ops (safety requirements).
    let mdev = unsafe { MockDevInner::from_dev(dev) };
    if pasid == MOCK_PASID_REPLACE_FAILS {
        let removed = mdev.pasid_replace_removed.swap(0, Ordering::Relaxed);
        if removed != 0 && removed != domain as usize {
            return -(bindings::ENOMEM as c_int);
        }
    }
    // SAFETY: `pasids` was initialised before the device was added (type invariant); the
    // entry is a domain pointer, aligned, so a valid xarray entry.
    let old = unsafe {
        bindings::xa_store(
            mdev.pasids.get(),
            pasid as c_ulong,
            domain.cast(),
            bindings::GFP_KERNEL,
        )
    };
    if xa_is_err(old) {
        return xa_err(old);
    }
    0
}

/// C `mock_iommu_remove_dev_pasid()`: forgets what [`mock_domain_set_dev_pasid`] programmed.
///
/// # Safety
///
/// Called by the iommu core with a device probed by the mock ops.
unsafe extern "C" fn mock_remove_dev_pasid(
    dev: *mut bindings::device,
    pasid: bindings::ioasid_t,
    domain: *mut bindings::iommu_domain,
) {
    // SAFETY: A mock device probed by the mock ops (safety requirements).
    let mdev = unsafe { MockDevInner::from_dev(dev) };
    // SAFETY: `pasids` is initialised (type invariant); `xa_erase` takes the xarray lock.
    unsafe { bindings::xa_erase(mdev.pasids.get(), pasid as c_ulong) };
    if pasid == MOCK_PASID_REPLACE_FAILS {
        mdev.pasid_replace_removed
            .store(domain as usize, Ordering::Relaxed);
    }
}

/// The domain the mock driver has programmed on `pasid` of the mock device `dev`, null if none.
///
/// # Safety
///
/// `dev` is a live mock device ([`MockDev::as_dev`]).
pub(crate) unsafe fn pasid_domain(
    dev: *mut bindings::device,
    pasid: u32,
) -> *mut bindings::iommu_domain {
    // SAFETY: By the safety requirements.
    let mdev = unsafe { MockDevInner::from_dev(dev) };
    // SAFETY: `pasids` is initialised (type invariant); `xa_load` takes the RCU read lock.
    unsafe { bindings::xa_load(mdev.pasids.get(), pasid as c_ulong) }.cast()
}

/// C `mock_domain_nop_attach()`: devices without dirty tracking cannot attach to a domain
/// with dirty ops.
///
/// # Safety
///
/// Called by the iommu core with a live mock domain and a device probed by the mock ops.
unsafe extern "C" fn mock_domain_nop_attach(
    domain: *mut bindings::iommu_domain,
    dev: *mut bindings::device,
) -> c_int {
    // SAFETY: The iommu core passes a live domain and a mock device (safety requirements).
    let (dirty_ops, flags) = unsafe { ((*domain).dirty_ops, mock_dev_flags(dev)) };
    if !dirty_ops.is_null() && flags & MOCK_FLAGS_DEVICE_NO_DIRTY != 0 {
        return -Errno::EINVAL.0;
    }
    0
}

/// C `struct iommu_test_hw_info`.
#[repr(C)]
struct IommuTestHwInfo {
    flags: u32,
    test_reg: u32,
}

/// C `mock_domain_hw_info()`: a `kfree`-able `struct iommu_test_hw_info`.
///
/// # Safety
///
/// `length` and `type_` are valid for writes.
unsafe extern "C" fn mock_domain_hw_info(
    _dev: *mut bindings::device,
    length: *mut u32,
    type_: *mut u32,
) -> *mut c_void {
    let info = IommuTestHwInfo {
        flags: 0,
        test_reg: IOMMU_HW_INFO_SELFTEST_REGVAL,
    };
    let Ok(info) = KBox::new(info, GFP_KERNEL) else {
        return err_ptr(Errno::ENOMEM);
    };
    // SAFETY: `length` and `type_` are writable (safety requirements).
    unsafe {
        *length = size_of::<IommuTestHwInfo>() as u32;
        *type_ = IOMMU_HW_INFO_TYPE_SELFTEST;
    }
    // The caller frees the buffer with `kfree`, which matches the `KBox` (kmalloc) allocation.
    KBox::into_raw(info).cast()
}

/// C `mock_domain_set_dirty_tracking()`.
///
/// # Safety
///
/// `domain` is a live mock paging domain (these are its dirty ops).
unsafe extern "C" fn mock_domain_set_dirty_tracking(
    domain: *mut bindings::iommu_domain,
    enable: bool,
) -> c_int {
    // SAFETY: `domain` is a live mock paging domain (safety requirements).
    let (mock, dirty_ops) = unsafe { (MockDomain::from_domain(domain), (*domain).dirty_ops) };
    if enable && dirty_ops.is_null() {
        return -Errno::EINVAL.0;
    }
    if enable {
        mock.flags.fetch_or(MOCK_DIRTY_TRACK, Ordering::Relaxed);
    } else {
        mock.flags.fetch_and(!MOCK_DIRTY_TRACK, Ordering::Relaxed);
    }
    0
}

/// C `mock_domain_read_and_clear_dirty()`: records the dirty IO pages (or huge pages) of
/// `[iova, iova + size)` in `dirty` and clears them unless `IOMMU_DIRTY_NO_CLEAR`.
///
/// # Safety
///
/// `domain` is a live mock paging domain and `dirty` a valid dirty bitmap.
unsafe extern "C" fn mock_domain_read_and_clear_dirty(
    domain: *mut bindings::iommu_domain,
    iova: c_ulong,
    size: usize,
    flags: c_ulong,
    dirty: *mut bindings::iommu_dirty_bitmap,
) -> c_int {
    // SAFETY: `domain` is a live mock paging domain (safety requirements).
    let mock = unsafe { MockDomain::from_domain(domain) };
    let mut iova = iova;
    let end = iova.wrapping_add(size);
    // SAFETY: `dirty` is valid (safety requirements).
    let has_bitmap = unsafe { !(*dirty).bitmap.is_null() };
    if mock.flags.load(Ordering::Relaxed) & MOCK_DIRTY_TRACK == 0 && has_bitmap {
        return -Errno::EINVAL.0;
    }
    loop {
        let mut pgsize = IO_PAGE;
        let ent = mock.load(iova / IO_PAGE);
        if !ent.is_null() {
            if xa_to_value(ent) & MOCK_PFN_HUGE_IOVA != 0 {
                pgsize = MOCK_HUGE_PAGE_SIZE;
            }
            let head = iova & !(pgsize - 1);
            if mock.test_and_clear_dirty(head, pgsize, flags) {
                // SAFETY: `dirty` is valid (safety requirements).
                unsafe {
                    shim::iommufd_rs_dirty_bitmap_record(dirty, iova as c_ulong, pgsize as c_ulong)
                };
            }
        }
        iova = iova.wrapping_add(pgsize);
        if iova >= end {
            break;
        }
    }
    0
}

/// Allocates and initialises a paging domain (C `mock_domain_alloc_paging()` without the
/// `NULL` return).
///
/// # Safety
///
/// `dev` is null or a live mock device.
unsafe fn mock_domain_alloc(dev: *mut bindings::device) -> Result<*mut MockDomain, Errno> {
    let mock = KBox::new(
        MockDomain {
            // SAFETY: All-zero is a valid `iommu_domain`.
            domain: Opaque::new(unsafe { core::mem::zeroed() }),
            flags: AtomicU32::new(0),
            // SAFETY: All-zero is a valid (not yet initialised) `xarray`, set up below.
            pfns: Opaque::new(unsafe { core::mem::zeroed() }),
        },
        GFP_KERNEL,
    )
    .map_err(|_| Errno::ENOMEM)?;
    let mock = KBox::into_raw(mock);
    // SAFETY: `dev` is null or a live mock device (safety requirements).
    let huge = unsafe { mock_dev_flags(dev) } & MOCK_FLAGS_DEVICE_HUGE_IOVA != 0;
    // SAFETY: `mock` was just allocated and is not shared yet; the xarray is initialised in
    // place, where it stays until `mock_domain_free`.
    unsafe {
        let domain = (*mock).domain.get();
        (*domain).geometry.aperture_start = MOCK_APERTURE_START;
        (*domain).geometry.aperture_end = MOCK_APERTURE_LAST;
        (*domain).pgsize_bitmap = IO_PAGE as c_ulong;
        if huge {
            (*domain).pgsize_bitmap |= MOCK_HUGE_PAGE_SIZE as c_ulong;
        }
        (*domain).ops = MOCK_PAGING_OPS.get();
        (*domain).type_ = bindings::IOMMU_DOMAIN_UNMANAGED;
        shim::iommufd_rs_mock_xa_init((*mock).pfns.get());
    }
    Ok(mock)
}

/// C `mock_domain_alloc_paging()`.
///
/// # Safety
///
/// `dev` is null or a device probed by the mock ops.
unsafe extern "C" fn mock_domain_alloc_paging(
    dev: *mut bindings::device,
) -> *mut bindings::iommu_domain {
    // SAFETY: `dev` is null or a mock device (safety requirements).
    match unsafe { mock_domain_alloc(dev) } {
        // SAFETY: `mock` is a live, initialised mock domain.
        Ok(mock) => unsafe { (*mock).domain.get() },
        Err(_) => ptr::null_mut(),
    }
}

/// C `iommu_copy_struct_from_user()` / `__iommu_copy_struct_from_user()`: copies the user
/// data of type `data_type` into `dst`, of which the first `min_len` bytes are required.
fn copy_struct_from_user_data(
    dst: &mut [u8],
    src: &bindings::iommu_user_data,
    data_type: u32,
    min_len: usize,
) -> Result<(), Errno> {
    if src.type_ != data_type || src.len < min_len || dst.len() < src.len {
        return Err(Errno::EINVAL);
    }
    kernel::usercopy::copy_struct_from_user(dst, src.uptr as usize, src.len)
        .map_err(crate::error::errno_of)
}

/// C `mock_domain_alloc_user()`: a paging domain (flags `NEST_PARENT` and `DIRTY_TRACKING`)
/// or, given a mock paging `parent` and `IOMMU_HWPT_DATA_SELFTEST` data, a nested domain.
///
/// # Safety
///
/// `dev` is a device probed by the mock ops, `parent` null or a live domain and `user_data`
/// null or valid (its user pointer is only used through the uaccess routines).
unsafe extern "C" fn mock_domain_alloc_user(
    dev: *mut bindings::device,
    flags: u32,
    parent: *mut bindings::iommu_domain,
    user_data: *const bindings::iommu_user_data,
) -> *mut bindings::iommu_domain {
    // SAFETY: By the safety requirements.
    match unsafe { alloc_user(dev, flags, parent, user_data) } {
        Ok(domain) => domain,
        Err(e) => err_ptr(e),
    }
}

/// [`mock_domain_alloc_user`] with `Result`.
///
/// # Safety
///
/// As [`mock_domain_alloc_user`].
unsafe fn alloc_user(
    dev: *mut bindings::device,
    flags: u32,
    parent: *mut bindings::iommu_domain,
    user_data: *const bindings::iommu_user_data,
) -> Result<*mut bindings::iommu_domain, Errno> {
    if parent.is_null() {
        // Must be a mock paging domain.
        let has_dirty_flag = flags & IOMMU_HWPT_ALLOC_DIRTY_TRACKING != 0;
        // SAFETY: `dev` is a mock device (safety requirements).
        let no_dirty_ops = unsafe { mock_dev_flags(dev) } & MOCK_FLAGS_DEVICE_NO_DIRTY != 0;
        if flags & !(IOMMU_HWPT_ALLOC_NEST_PARENT | IOMMU_HWPT_ALLOC_DIRTY_TRACKING) != 0 {
            return Err(Errno::EOPNOTSUPP);
        }
        if !user_data.is_null() || (has_dirty_flag && no_dirty_ops) {
            return Err(Errno::EOPNOTSUPP);
        }
        // SAFETY: `dev` is a mock device (safety requirements).
        let mock = unsafe { mock_domain_alloc(dev) }?;
        // SAFETY: `mock` is live and not yet shared.
        let domain = unsafe { (*mock).domain.get() };
        if has_dirty_flag {
            // SAFETY: As above.
            unsafe { (*domain).dirty_ops = MOCK_DIRTY_OPS.get() };
        }
        return Ok(domain);
    }

    // Must be a mock nested domain.
    // SAFETY: `user_data` is null or valid (safety requirements).
    let Some(user_data) = (unsafe { user_data.as_ref() }) else {
        return Err(Errno::EOPNOTSUPP);
    };
    if user_data.type_ != IOMMU_HWPT_DATA_SELFTEST || flags != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    if !is_mock_paging(parent) {
        return Err(Errno::EINVAL);
    }
    // struct iommu_hwpt_selftest { __u32 iotlb; }, iotlb being its last initial member.
    let mut cfg = [0u8; 4];
    let min_len = cfg.len();
    copy_struct_from_user_data(&mut cfg, user_data, IOMMU_HWPT_DATA_SELFTEST, min_len)?;
    let iotlb = u32::from_ne_bytes(cfg);
    let nested = KBox::new(
        MockNested {
            // SAFETY: All-zero is a valid `iommu_domain`.
            domain: Opaque::new(unsafe { core::mem::zeroed() }),
            iotlb: core::array::from_fn(|_| AtomicU32::new(iotlb)),
        },
        GFP_KERNEL,
    )
    .map_err(|_| Errno::ENOMEM)?;
    let nested = KBox::into_raw(nested);
    // SAFETY: `nested` was just allocated and is not shared yet.
    unsafe {
        let domain = (*nested).domain.get();
        (*domain).ops = MOCK_NESTED_OPS.get();
        (*domain).type_ = bindings::IOMMU_DOMAIN_NESTED;
        Ok(domain)
    }
}

/// C `mock_domain_free()`.
///
/// # Safety
///
/// `domain` is a mock paging domain the iommu core is done with.
unsafe extern "C" fn mock_domain_free(domain: *mut bindings::iommu_domain) {
    let mock = domain.cast::<MockDomain>();
    // SAFETY: `domain` is a live mock paging domain (safety requirements).
    let pfns = unsafe { (*mock).pfns.get() };
    // SAFETY: `pfns` is initialised; C `xa_empty()`. Nobody else uses the domain any more.
    mock_warn_on!(unsafe { !(*pfns).xa_head.is_null() });
    // SAFETY: As above; frees the nodes of whatever was left behind (C leaks them).
    unsafe { bindings::xa_destroy(pfns) };
    // SAFETY: The domain was allocated by `mock_domain_alloc` with `KBox` (type invariant) and
    // this is its last use.
    drop(unsafe { KBox::from_raw(mock) });
}

/// C `mock_domain_map_pages()`: records `pgcount` pages of `pgsize` from `paddr` at `iova`,
/// one xarray entry per IO page.
///
/// # Safety
///
/// `domain` is a live mock paging domain and `mapped` valid for writes.
unsafe extern "C" fn mock_domain_map_pages(
    domain: *mut bindings::iommu_domain,
    iova: c_ulong,
    paddr: bindings::phys_addr_t,
    pgsize: usize,
    pgcount: usize,
    _prot: c_int,
    gfp: bindings::gfp_t,
    mapped: *mut usize,
) -> c_int {
    // SAFETY: `domain` is a live mock paging domain (safety requirements).
    let mock = unsafe { MockDomain::from_domain(domain) };
    let mut iova = iova;
    let mut paddr = paddr as usize;
    let start_iova = iova;
    let mut flags = MOCK_PFN_START_IOVA;

    // xarray does not reliably work with fault injection because it does a retry allocation,
    // so put our own failure point.
    if test_hooks::should_fail() {
        return -Errno::ENOENT.0;
    }

    mock_warn_on!(iova % IO_PAGE != 0);
    if mock_warn_on!(pgsize % IO_PAGE != 0 || pgsize == 0) {
        return -Errno::EINVAL.0;
    }
    for left in (1..=pgcount).rev() {
        let mut cur = 0;
        while cur != pgsize {
            if left == 1 && cur + IO_PAGE == pgsize {
                flags = MOCK_PFN_LAST_IOVA;
            }
            if pgsize != IO_PAGE {
                flags |= MOCK_PFN_HUGE_IOVA;
            }
            let old = mock.store(iova / IO_PAGE, xa_mk_value((paddr / IO_PAGE) | flags), gfp);
            if xa_is_err(old) {
                let mut undo = start_iova;
                while undo != iova {
                    mock.erase(undo / IO_PAGE);
                    undo += IO_PAGE;
                }
                return xa_err(old);
            }
            mock_warn_on!(!old.is_null());
            iova = iova.wrapping_add(IO_PAGE);
            paddr = paddr.wrapping_add(IO_PAGE);
            // SAFETY: `mapped` is writable (safety requirements).
            unsafe { *mapped += IO_PAGE };
            flags = 0;
            cur += IO_PAGE;
        }
    }
    0
}

/// C `mock_domain_unmap_pages()`: removes the entries of `pgcount` pages of `pgsize` at
/// `iova`, checking (without huge pages) that the range starts and ends where a map did.
///
/// # Safety
///
/// `domain` is a live mock paging domain.
unsafe extern "C" fn mock_domain_unmap_pages(
    domain: *mut bindings::iommu_domain,
    iova: c_ulong,
    pgsize: usize,
    pgcount: usize,
    _iotlb_gather: *mut bindings::iommu_iotlb_gather,
) -> usize {
    // SAFETY: `domain` is a live mock paging domain (safety requirements).
    let (mock, pgsize_bitmap) =
        unsafe { (MockDomain::from_domain(domain), (*domain).pgsize_bitmap) };
    let mut iova = iova;
    let mut first = true;
    let mut ret = 0;

    mock_warn_on!(iova % IO_PAGE != 0);
    if mock_warn_on!(pgsize % IO_PAGE != 0 || pgsize == 0) {
        return 0;
    }
    for left in (1..=pgcount).rev() {
        let mut cur = 0;
        while cur != pgsize {
            let ent = mock.erase(iova / IO_PAGE);
            // iommufd generates unmaps that must be a strict superset of the maps performed, so
            // every starting/ending IOVA should have been an IOVA passed to map. This does not
            // hold with huge pages: the core switches between the two page sizes, and the break
            // can land in the middle of contiguous IOVA.
            if pgsize_bitmap & MOCK_HUGE_PAGE_SIZE as c_ulong == 0 {
                if first {
                    mock_warn_on!(!ent.is_null() && xa_to_value(ent) & MOCK_PFN_START_IOVA == 0);
                    first = false;
                }
                if left == 1 && cur + IO_PAGE == pgsize {
                    mock_warn_on!(!ent.is_null() && xa_to_value(ent) & MOCK_PFN_LAST_IOVA == 0);
                }
            }
            iova = iova.wrapping_add(IO_PAGE);
            ret += IO_PAGE;
            cur += IO_PAGE;
        }
    }
    ret
}

/// C `mock_domain_iova_to_phys()`.
///
/// # Safety
///
/// `domain` is a live mock paging domain.
unsafe extern "C" fn mock_domain_iova_to_phys(
    domain: *mut bindings::iommu_domain,
    iova: bindings::dma_addr_t,
) -> bindings::phys_addr_t {
    // SAFETY: `domain` is a live mock paging domain (safety requirements).
    let mock = unsafe { MockDomain::from_domain(domain) };
    let iova = iova as usize;
    mock_warn_on!(iova % IO_PAGE != 0);
    let ent = mock.load(iova / IO_PAGE);
    mock_warn_on!(ent.is_null());
    ((xa_to_value(ent) & MOCK_PFN_MASK) * IO_PAGE) as bindings::phys_addr_t
}

/// C `mock_domain_capable()`.
///
/// # Safety
///
/// `dev` is a device probed by the mock ops.
unsafe extern "C" fn mock_domain_capable(
    dev: *mut bindings::device,
    cap: bindings::iommu_cap,
) -> bool {
    match cap {
        bindings::iommu_cap_IOMMU_CAP_CACHE_COHERENCY => true,
        bindings::iommu_cap_IOMMU_CAP_DIRTY_TRACKING => {
            // SAFETY: `dev` is a mock device (safety requirements).
            let flags = unsafe { mock_dev_flags(dev) };
            flags & MOCK_FLAGS_DEVICE_NO_DIRTY == 0
        }
        _ => false,
    }
}

/// C `mock_probe_device()`: the mock IOMMU serves the devices of the mock bus.
///
/// # Safety
///
/// `dev` is a live device.
unsafe extern "C" fn mock_probe_device(dev: *mut bindings::device) -> *mut bindings::iommu_device {
    // SAFETY: `dev` is live (safety requirements).
    if unsafe { (*dev).bus } != MOCK_BUS.get().cast_const() {
        return err_ptr(Errno::ENODEV);
    }
    MOCK_IOMMU_DEVICE.get()
}

/// C `mock_domain_page_response()`: nothing to tell the mock hardware.
///
/// # Safety
///
/// None: the arguments are not used.
unsafe extern "C" fn mock_domain_page_response(
    _dev: *mut bindings::device,
    _evt: *mut bindings::iopf_fault,
    _msg: *mut bindings::iommu_page_response,
) {
}

/// C `mock_dev_enable_feat()`: IOPF, on the mock IOPF queue.
///
/// # Safety
///
/// `dev` is a device probed by the mock ops.
unsafe extern "C" fn mock_dev_enable_feat(
    dev: *mut bindings::device,
    feat: bindings::iommu_dev_features,
) -> c_int {
    let queue = IOPF_QUEUE.load(Ordering::Acquire);
    if feat != bindings::iommu_dev_features_IOMMU_DEV_FEAT_IOPF || queue.is_null() {
        return -Errno::ENODEV.0;
    }
    // SAFETY: The queue lives until `MockIommu::drop`, after every mock device is gone (each
    // holds a reference on this module); `dev` is an iommu-probed device.
    unsafe { bindings::iopf_queue_add_device(queue, dev) }
}

/// C `mock_dev_disable_feat()`.
///
/// # Safety
///
/// `dev` is a device probed by the mock ops.
unsafe extern "C" fn mock_dev_disable_feat(
    dev: *mut bindings::device,
    feat: bindings::iommu_dev_features,
) -> c_int {
    let queue = IOPF_QUEUE.load(Ordering::Acquire);
    if feat != bindings::iommu_dev_features_IOMMU_DEV_FEAT_IOPF || queue.is_null() {
        return -Errno::ENODEV.0;
    }
    // SAFETY: As in `mock_dev_enable_feat`.
    unsafe { bindings::iopf_queue_remove_device(queue, dev) };
    0
}

/// C `mock_domain_free_nested()`.
///
/// # Safety
///
/// `domain` is a mock nested domain the iommu core is done with.
unsafe extern "C" fn mock_domain_free_nested(domain: *mut bindings::iommu_domain) {
    // SAFETY: The domain was allocated by `alloc_user` with `KBox` (type invariant) and this is
    // its last use.
    drop(unsafe { KBox::from_raw(domain.cast::<MockNested>()) });
}

/// C `mock_domain_cache_invalidate_user()`: invalidates the mock IOTLB entries of the
/// `struct iommu_hwpt_invalidate_selftest` requests of `array`; `array.entry_num` becomes the
/// number handled.
///
/// # Safety
///
/// `domain` is a live mock nested domain and `array` valid.
unsafe extern "C" fn mock_domain_cache_invalidate_user(
    domain: *mut bindings::iommu_domain,
    array: *mut bindings::iommu_user_data_array,
) -> c_int {
    // SAFETY: By the safety requirements.
    let (nested, array) = unsafe { (MockNested::from_domain(domain), &mut *array) };
    let mut processed = 0;
    let rc = if array.type_ != IOMMU_HWPT_INVALIDATE_DATA_SELFTEST {
        Err(Errno::EINVAL)
    } else {
        nested.invalidate_user(array, &mut processed)
    };
    array.entry_num = processed;
    match rc {
        Ok(()) => 0,
        Err(e) => -e.0,
    }
}

impl MockNested {
    /// The loop of [`mock_domain_cache_invalidate_user`]: handles the requests of `array` in
    /// order, counting them in `processed`, up to the first that fails.
    fn invalidate_user(
        &self,
        array: &bindings::iommu_user_data_array,
        processed: &mut u32,
    ) -> Result<(), Errno> {
        for i in 0..array.entry_num {
            // C `iommu_copy_struct_from_user_array()` of struct
            // iommu_hwpt_invalidate_selftest { __u32 flags; __u32 iotlb_id; }.
            let src = bindings::iommu_user_data {
                type_: array.type_,
                uptr: (array.uptr as usize).wrapping_add(array.entry_len.wrapping_mul(i as usize))
                    as *mut c_void,
                len: array.entry_len,
            };
            let mut inv = [0u8; 8];
            let min_len = inv.len();
            copy_struct_from_user_data(
                &mut inv,
                &src,
                IOMMU_HWPT_INVALIDATE_DATA_SELFTEST,
                min_len,
            )?;
            let flags = u32::from_ne_bytes([inv[0], inv[1], inv[2], inv[3]]);
            let iotlb_id = u32::from_ne_bytes([inv[4], inv[5], inv[6], inv[7]]);
            if flags & !IOMMU_TEST_INVALIDATE_FLAG_ALL != 0 {
                return Err(Errno::EOPNOTSUPP);
            }
            if iotlb_id > MOCK_NESTED_DOMAIN_IOTLB_ID_MAX {
                return Err(Errno::EINVAL);
            }
            if flags & IOMMU_TEST_INVALIDATE_FLAG_ALL != 0 {
                // Invalidate all mock IOTLB entries and ignore iotlb_id.
                for e in &self.iotlb {
                    e.store(0, Ordering::Relaxed);
                }
            } else {
                self.iotlb[iotlb_id as usize].store(0, Ordering::Relaxed);
            }
            *processed += 1;
        }
        Ok(())
    }
}

/// C `mock_dev_release()`: frees the device and its id.
///
/// # Safety
///
/// Called by the driver core with a mock device whose last reference went.
unsafe extern "C" fn mock_dev_release(dev: *mut bindings::device) {
    let mdev = dev.cast::<MockDevInner>();
    // SAFETY: `dev` is the first field of a `MockDevInner` (safety requirements).
    let id = unsafe { (*mdev).id };
    // SAFETY: Initialised by `MockDev::create` before the device could be released; no PASID
    // is programmed on a device without references, so it holds no entry to free.
    unsafe { bindings::xa_destroy((*mdev).pasids.get()) };
    if id >= 0 {
        // SAFETY: `id` was allocated from the IDA by `MockDev::create` and is freed once.
        unsafe { shim::iommufd_rs_mock_ida_free(id) };
    }
    // SAFETY: Allocated by `MockDev::create` with `KBox` (type invariant); last use.
    drop(unsafe { KBox::from_raw(mdev) });
}

/// C `iommufd_selftest_is_mock_dev()`: whether `dev` is a [`MockDev`] device.
///
/// `dev` must be a live device.
// Called by the `IOMMU_TEST_CMD` glue (device and HWPT code), which comes separately.
#[allow(dead_code)]
pub(crate) fn is_mock_dev(dev: *mut bindings::device) -> bool {
    // SAFETY: By this function's contract `dev` is live. Only mock devices are on the mock bus
    // (`MockDevInner` invariant).
    !dev.is_null() && unsafe { (*dev).bus } == MOCK_BUS.get().cast_const()
}

/// Whether `domain` is a mock paging domain (its ops are C `mock_ops.default_domain_ops`).
///
/// `domain` must be null or a live domain.
pub(crate) fn is_mock_paging(domain: *mut bindings::iommu_domain) -> bool {
    // SAFETY: By this function's contract `domain` is live.
    !domain.is_null() && unsafe { (*domain).ops } == MOCK_PAGING_OPS.get().cast_const()
}

/// Whether `domain` is a mock nested domain (its ops are C `domain_nested_ops`).
///
/// `domain` must be null or a live domain.
// Called by the `IOMMU_TEST_CMD` glue (device and HWPT code), which comes separately.
#[allow(dead_code)]
pub(crate) fn is_mock_nested(domain: *mut bindings::iommu_domain) -> bool {
    // SAFETY: By this function's contract `domain` is live.
    !domain.is_null() && unsafe { (*domain).ops } == MOCK_NESTED_OPS.get().cast_const()
}

/// The driver half of C `iommufd_test_md_check_pa()` (`IOMMU_TEST_OP_MD_CHECK_MAP`): every IO
/// page of `[iova, iova + length)` must map the physical address of the same page of user
/// memory at `uptr`. `EINVAL` for misaligned or wrapping arguments, or a mismatch.
///
/// # Safety
///
/// `domain` is valid and a mock paging domain ([`is_mock_paging`]) for the call (the caller
/// holds the HWPT object).
// Called by the `IOMMU_TEST_CMD` glue (device and HWPT code), which comes separately.
#[allow(dead_code)]
pub(crate) unsafe fn check_pa(
    domain: *mut bindings::iommu_domain,
    iova: u64,
    length: u64,
    uptr: u64,
) -> Result<(), Errno> {
    let (mut iova, mut length, mut uptr) = (iova as usize, length as usize, uptr as usize);
    if iova % IO_PAGE != 0
        || length % IO_PAGE != 0
        || uptr % IO_PAGE != 0
        || uptr.checked_add(length).is_none()
    {
        return Err(Errno::EINVAL);
    }
    // SAFETY: By the safety requirements.
    let mock = unsafe { MockDomain::from_domain(domain) };
    let page_size = PAGE_SIZE as usize;
    while length != 0 {
        let mut page: *mut bindings::page = ptr::null_mut();
        // SAFETY: `page` is a valid array of one page pointer; GUP faults the user address in
        // and takes a reference on success, which is dropped below.
        let n = unsafe {
            bindings::get_user_pages_fast((uptr & !(page_size - 1)) as c_ulong, 1, 0, &mut page)
        };
        if n < 0 {
            return Err(Errno(-n));
        }
        if mock_warn_on!(n != 1 || page.is_null()) {
            return Err(Errno::EFAULT);
        }
        // SAFETY: GUP returned a referenced page.
        let pfn = unsafe { bindings::page_to_pfn(page) } as usize;
        // SAFETY: Drops the reference GUP took, exactly once.
        unsafe { bindings::put_page(page) };

        let ent = mock.load(iova / IO_PAGE);
        if ent.is_null()
            || (xa_to_value(ent) & MOCK_PFN_MASK) * IO_PAGE != pfn * page_size + uptr % page_size
        {
            return Err(Errno::EINVAL);
        }
        iova = iova.wrapping_add(IO_PAGE);
        uptr += IO_PAGE;
        length -= IO_PAGE;
    }
    Ok(())
}

/// The driver half of C `iommufd_test_md_check_iotlb()` (`IOMMU_TEST_OP_MD_CHECK_IOTLB`):
/// entry `iotlb_id` of the mock IOTLB must hold `expected`. `EINVAL` otherwise, or for an
/// `iotlb_id` above `MOCK_NESTED_DOMAIN_IOTLB_ID_MAX`.
///
/// # Safety
///
/// `domain` is valid and a mock nested domain ([`is_mock_nested`]) for the call (the caller
/// holds the HWPT object).
// Called by the `IOMMU_TEST_CMD` glue (device and HWPT code), which comes separately.
#[allow(dead_code)]
pub(crate) unsafe fn check_iotlb(
    domain: *mut bindings::iommu_domain,
    iotlb_id: u32,
    expected: u32,
) -> Result<(), Errno> {
    // SAFETY: By the safety requirements.
    let nested = unsafe { MockNested::from_domain(domain) };
    // `iotlb` has `MOCK_NESTED_DOMAIN_IOTLB_ID_MAX + 1` entries.
    match nested.iotlb.get(iotlb_id as usize) {
        Some(e) if e.load(Ordering::Relaxed) == expected => Ok(()),
        _ => Err(Errno::EINVAL),
    }
}

/// The driver half of C `iommufd_test_dirty()` (`IOMMU_TEST_OP_DIRTY`): marks dirty the
/// mapped pages of `[iova, iova + length)` whose bit is set in the user bitmap at `uptr` (one
/// bit per `page_size`) and returns how many it marked (C `out_nr_dirty`).
///
/// As C, the xarray index of bit `i` is `(iova + i * page_size) / page_size`. `EINVAL` for bad
/// arguments or a domain not tracking dirty pages, `EOVERFLOW` for a bitmap above
/// `MOCK_DIRTY_MAX_BITS` bits, `EFAULT` if the bitmap cannot be read.
///
/// # Safety
///
/// `domain` is valid and a mock paging domain ([`is_mock_paging`]) for the call (the caller
/// holds the HWPT object).
// Called by the `IOMMU_TEST_CMD` glue (device and HWPT code), which comes separately.
#[allow(dead_code)]
pub(crate) unsafe fn dirty(
    domain: *mut bindings::iommu_domain,
    iova: u64,
    length: u64,
    page_size: u64,
    uptr: u64,
) -> Result<u64, Errno> {
    if page_size == 0
        || length == 0
        || iova % page_size != 0
        || length % page_size != 0
        || uptr == 0
    {
        return Err(Errno::EINVAL);
    }
    let max = length / page_size;
    if max > MOCK_DIRTY_MAX_BITS {
        return Err(Errno::EOVERFLOW);
    }
    // SAFETY: By the safety requirements.
    let mock = unsafe { MockDomain::from_domain(domain) };
    if mock.flags.load(Ordering::Relaxed) & MOCK_DIRTY_TRACK == 0 {
        return Err(Errno::EINVAL);
    }
    // `max` is at most `MOCK_DIRTY_MAX_BITS` (2^27): the conversions below do not truncate.
    let max = max as usize;
    let (iova, page_size) = (iova as usize, page_size as usize);
    let mut bitmap =
        KVVec::from_elem(0u8, max.div_ceil(8), GFP_KERNEL_ACCOUNT).map_err(|_| Errno::ENOMEM)?;
    user::read(uptr as usize, bitmap.as_mut_slice())?;

    let mut count = 0;
    for i in 0..max {
        // C `test_bit(i, bitmap)` of a little-endian `unsigned long` bitmap.
        if bitmap[i / 8] & (1 << (i % 8)) == 0 {
            continue;
        }
        let index = iova.wrapping_add(i * page_size) / page_size;
        let ent = mock.load(index);
        if !ent.is_null() {
            mock.update(index, ent, xa_to_value(ent) | MOCK_PFN_DIRTY_IOVA);
            count += 1;
        }
    }
    Ok(count)
}

/// The driver half of C `iommufd_test_trigger_iopf()` (`IOMMU_TEST_OP_TRIGGER_IOPF`): reports
/// a page request (last page of its group; with a PASID unless `IOMMU_NO_PASID`) for `dev`,
/// under the device's `iopf_rwsem`. `EINVAL` if `dev` is not a mock device.
///
/// # Safety
///
/// `dev` is a live device for the call (the caller holds the iommufd device object).
// Called by the `IOMMU_TEST_CMD` glue (device and HWPT code), which comes separately.
#[allow(dead_code)]
pub(crate) unsafe fn trigger_iopf(
    dev: *mut bindings::device,
    pasid: u32,
    grpid: u32,
    perm: u32,
    addr: u64,
) -> Result<(), Errno> {
    if !is_mock_dev(dev) {
        return Err(Errno::EINVAL);
    }
    // SAFETY: `dev` is a live mock device (checked above; alive by the safety requirements).
    let mdev = unsafe { MockDevInner::from_dev(dev) };
    // SAFETY: All-zero is a valid `iopf_fault`.
    let mut event: bindings::iopf_fault = unsafe { core::mem::zeroed() };
    event.fault.prm.flags = bindings::IOMMU_FAULT_PAGE_REQUEST_LAST_PAGE;
    if pasid != bindings::IOMMU_NO_PASID {
        event.fault.prm.flags |= bindings::IOMMU_FAULT_PAGE_REQUEST_PASID_VALID;
    }
    event.fault.type_ = bindings::iommu_fault_type_IOMMU_FAULT_PAGE_REQ;
    event.fault.prm.addr = addr;
    event.fault.prm.pasid = pasid;
    event.fault.prm.grpid = grpid;
    event.fault.prm.perm = perm;

    let _guard = mdev.iopf_read();
    // SAFETY: `dev` is live and `event` valid for the call; the core copies what it keeps. C
    // ignores the result too: the fault is dropped (and responded to) if nobody handles it.
    let _ = unsafe { bindings::iommu_report_device_fault(dev, &mut event) };
    Ok(())
}

/// A held `iopf_rwsem` of a mock device (C `down_read`/`down_write` ... `up_*`).
pub(crate) struct IopfGuard<'a> {
    sem: &'a Opaque<bindings::rw_semaphore>,
    write: bool,
}

impl Drop for IopfGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: The guard holds the semaphore in the recorded mode, released once here.
        unsafe {
            if self.write {
                bindings::up_write(self.sem.get());
            } else {
                bindings::up_read(self.sem.get());
            }
        }
    }
}

impl MockDevInner {
    /// C `down_read(&mdev->iopf_rwsem)`.
    fn iopf_read(&self) -> IopfGuard<'_> {
        // SAFETY: The semaphore was initialised by `MockDev::create` before the device was
        // added; may sleep, as all callers can.
        unsafe { bindings::down_read(self.iopf_rwsem.get()) };
        IopfGuard {
            sem: &self.iopf_rwsem,
            write: false,
        }
    }

    /// C `down_write(&mdev->iopf_rwsem)`.
    fn iopf_write(&self) -> IopfGuard<'_> {
        // SAFETY: As in `iopf_read`.
        unsafe { bindings::down_write(self.iopf_rwsem.get()) };
        IopfGuard {
            sem: &self.iopf_rwsem,
            write: true,
        }
    }
}

/// A mock device (C `struct mock_dev`): `iommufd_mock<id>` on the mock bus, probed by the mock
/// IOMMU. Dropping it is C `mock_dev_destroy()` (`device_unregister`).
///
/// # Invariants
///
/// `mdev` is a device added by [`MockDev::create`] on which this handle owns the reference of
/// `device_initialize`; `device_unregister` has not been called.
// Called by the `IOMMU_TEST_CMD` glue (device and HWPT code), which comes separately.
#[allow(dead_code)]
pub(crate) struct MockDev {
    mdev: NonNull<MockDevInner>,
}

// SAFETY: The device is refcounted and its handle may be dropped from any thread; its shared
// state is the driver core's and the `iopf_rwsem`, both thread safe.
unsafe impl Send for MockDev {}
// SAFETY: `&MockDev` only gives the device pointer, id and the rwsem.
unsafe impl Sync for MockDev {}

// Called by the `IOMMU_TEST_CMD` glue (device and HWPT code), which comes separately.
#[allow(dead_code)]
impl MockDev {
    /// C `mock_dev_create()`: creates and adds a mock device with `dev_flags`
    /// (`MOCK_FLAGS_DEVICE_*`; others: `EINVAL`). `MOCK_FLAGS_DEVICE_PASID` devices get the
    /// `pasid-num-bits` property, so that the iommu core makes them PASID capable
    /// (`max_pasids` of `1 << MOCK_PASID_WIDTH`).
    pub(crate) fn create(dev_flags: u32) -> Result<MockDev, Errno> {
        if dev_flags
            & !(MOCK_FLAGS_DEVICE_NO_DIRTY | MOCK_FLAGS_DEVICE_HUGE_IOVA | MOCK_FLAGS_DEVICE_PASID)
            != 0
        {
            return Err(Errno::EINVAL);
        }
        let mdev =
            KBox::<MockDevInner>::new_uninit(GFP_KERNEL | __GFP_ZERO).map_err(|_| Errno::ENOMEM)?;
        let mdev = KBox::into_raw(mdev).cast::<MockDevInner>();
        // SAFETY: `mdev` is a zeroed, exclusively owned `MockDevInner` (all-zero is valid for
        // its fields). The rwsem and the device are initialised in place; from
        // `device_initialize` on, the device reference owns the allocation and
        // `mock_dev_release` frees it.
        let dev = unsafe {
            (*mdev).flags = dev_flags;
            (*mdev).id = -1;
            shim::iommufd_rs_mock_init_rwsem((*mdev).iopf_rwsem.get());
            shim::iommufd_rs_mock_xa_init((*mdev).pasids.get());
            let dev = (*mdev).dev.get();
            bindings::device_initialize(dev);
            (*dev).release = Some(mock_dev_release);
            (*dev).bus = MOCK_BUS.get();
            dev
        };
        // SAFETY: `dev` is initialised and owned by us (one reference).
        let rc = unsafe { Self::add(mdev, dev, dev_flags) };
        if rc < 0 {
            // SAFETY: Drops our reference; the release callback frees the device.
            unsafe { bindings::put_device(dev) };
            return Err(Errno(-rc));
        }
        // INVARIANT: `device_add` succeeded and we own the initial reference.
        Ok(MockDev {
            // SAFETY: `mdev` came from a successful allocation.
            mdev: unsafe { NonNull::new_unchecked(mdev) },
        })
    }

    /// Names and adds the initialised mock device (`0` or a negative errno).
    ///
    /// # Safety
    ///
    /// `dev` is the initialised, not yet added device of `mdev`, on which the caller owns a
    /// reference.
    unsafe fn add(mdev: *mut MockDevInner, dev: *mut bindings::device, dev_flags: u32) -> c_int {
        // SAFETY: The IDA is a static of the shim.
        let id = unsafe { shim::iommufd_rs_mock_ida_alloc() };
        if id < 0 {
            return id;
        }
        // SAFETY: Not yet shared: the device is not added.
        unsafe { (*mdev).id = id };
        // SAFETY: `dev` is initialised; the format takes one `unsigned int`.
        let rc = unsafe {
            bindings::dev_set_name(dev, c_str!("iommufd_mock%u").as_char_ptr(), id as c_uint)
        };
        if rc != 0 {
            return rc;
        }
        if dev_flags & MOCK_FLAGS_DEVICE_PASID != 0 {
            // SAFETY: `dev` is initialised and not yet added; the properties are a static,
            // terminated array that the callee copies. The node goes with the device.
            let rc = unsafe {
                bindings::device_create_managed_software_node(
                    dev,
                    PASID_PROPS.get().cast(),
                    ptr::null(),
                )
            };
            if rc != 0 {
                return rc;
            }
        }
        // SAFETY: `mdev` is live (we own a reference), the rwsem initialised.
        let mdev = unsafe { &*mdev };
        let _guard = mdev.iopf_write();
        // SAFETY: `dev` is initialised, named and on the registered mock bus.
        unsafe { bindings::device_add(dev) }
    }

    /// The `struct device` of the mock device, alive as long as `self`.
    pub(crate) fn as_dev(&self) -> *mut bindings::device {
        // SAFETY: `mdev` is live (type invariant).
        unsafe { self.mdev.as_ref() }.dev.get()
    }

    /// The device's number (C `mdev->id`, the `%u` of its name).
    pub(crate) fn id(&self) -> u32 {
        // SAFETY: `mdev` is live (type invariant); `id` was allocated before the add.
        unsafe { self.mdev.as_ref() }.id as u32
    }

    /// The device flags it was created with (`MOCK_FLAGS_DEVICE_*`).
    pub(crate) fn flags(&self) -> u32 {
        // SAFETY: `mdev` is live (type invariant).
        unsafe { self.mdev.as_ref() }.flags
    }

    /// Takes the device's `iopf_rwsem` for writing, as C around `iommufd_device_attach`,
    /// `_replace` and `_detach` of a mock device (fault reports take it for reading).
    pub(crate) fn iopf_write_lock(&self) -> IopfGuard<'_> {
        // SAFETY: `mdev` is live (type invariant).
        unsafe { self.mdev.as_ref() }.iopf_write()
    }
}

impl Drop for MockDev {
    fn drop(&mut self) {
        // SAFETY: The device was added and this drops our reference, once (type invariant).
        unsafe { bindings::device_unregister(self.as_dev()) };
    }
}

/// The mock IOMMU's registrations (C `iommufd_test_init`'s part of it): the platform device
/// `iommufd_selftest_iommu`, the mock bus, the IOMMU in sysfs and on the bus, and the IOPF
/// queue. Dropping it undoes them in reverse (C `iommufd_test_exit`).
///
/// # Invariants
///
/// `pdev` is the registered platform device; the bus, sysfs entry and bus IOMMU are
/// registered; this is the only `MockIommu` (`REGISTERED`).
pub(crate) struct MockIommu {
    pdev: *mut bindings::platform_device,
}

// SAFETY: The registrations may be undone from any thread.
unsafe impl Send for MockIommu {}
// SAFETY: `&MockIommu` gives nothing.
unsafe impl Sync for MockIommu {}

/// Registers the mock IOMMU (C `iommufd_test_init()` without the debugfs part).
pub(crate) fn register() -> Result<MockIommu> {
    if REGISTERED.swap(true, Ordering::AcqRel) {
        return Err(EBUSY);
    }
    // SAFETY: We are the only registration (`REGISTERED`); undone in reverse on failure.
    let r = unsafe { register_all() };
    if r.is_err() {
        REGISTERED.store(false, Ordering::Release);
    }
    r
}

/// The registrations of [`register`].
///
/// # Safety
///
/// No other registration uses the statics.
unsafe fn register_all() -> Result<MockIommu> {
    // SAFETY: All-zero is a valid `platform_device_info`.
    let mut info: bindings::platform_device_info = unsafe { core::mem::zeroed() };
    info.name = c_str!("iommufd_selftest_iommu").as_char_ptr();
    // SAFETY: `info` is valid for the call; the name is static.
    let pdev =
        kernel::error::from_err_ptr(unsafe { bindings::platform_device_register_full(&info) })?;

    // SAFETY: The bus is a static that is not registered (safety requirements).
    if let Err(e) = kernel::error::to_result(unsafe { bindings::bus_register(MOCK_BUS.get()) }) {
        // SAFETY: Registered above.
        unsafe { bindings::platform_device_unregister(pdev) };
        return Err(e);
    }

    // SAFETY: `pdev` is registered, so its device has its name (C `dev_name()`); the IOMMU
    // device is a static that is not registered; the format takes one string.
    let rc = unsafe {
        bindings::iommu_device_sysfs_add(
            MOCK_IOMMU_DEVICE.get(),
            &mut (*pdev).dev,
            ptr::null_mut(),
            c_str!("%s").as_char_ptr(),
            (*pdev).dev.kobj.name,
        )
    };
    if let Err(e) = kernel::error::to_result(rc) {
        // SAFETY: Registered above, undone in reverse.
        unsafe {
            bindings::bus_unregister(MOCK_BUS.get());
            bindings::platform_device_unregister(pdev);
        }
        return Err(e);
    }

    // SAFETY: The probes of mock devices take a reference on this module (C `THIS_MODULE`);
    // written before the ops are published below.
    unsafe { (*MOCK_OPS.get()).owner = crate::THIS_MODULE.as_ptr() };
    // SAFETY: The IOMMU, ops, bus and notifier block are statics; the bus is registered.
    let rc = unsafe {
        shim::iommu_device_register_bus(
            MOCK_IOMMU_DEVICE.get(),
            MOCK_OPS.get(),
            MOCK_BUS.get(),
            MOCK_BUS_NB.get(),
        )
    };
    if let Err(e) = kernel::error::to_result(rc) {
        // SAFETY: Registered above, undone in reverse.
        unsafe {
            bindings::iommu_device_sysfs_remove(MOCK_IOMMU_DEVICE.get());
            bindings::bus_unregister(MOCK_BUS.get());
            bindings::platform_device_unregister(pdev);
        }
        return Err(e);
    }

    // As C: without a queue, IOPF is simply not supported (`ENODEV`).
    // SAFETY: The name is a static string.
    let queue = unsafe { bindings::iopf_queue_alloc(c_str!("mock-iopfq").as_char_ptr()) };
    IOPF_QUEUE.store(queue, Ordering::Release);

    // INVARIANT: Everything is registered.
    Ok(MockIommu { pdev })
}

impl Drop for MockIommu {
    fn drop(&mut self) {
        let queue = IOPF_QUEUE.swap(ptr::null_mut(), Ordering::AcqRel);
        if !queue.is_null() {
            // SAFETY: No mock device is left (each holds a reference on this module, which is
            // going away), so no device is on the queue.
            unsafe { bindings::iopf_queue_free(queue) };
        }
        // SAFETY: Registered by `register` (type invariant); undone once, in C's order.
        unsafe {
            bindings::iommu_device_sysfs_remove(MOCK_IOMMU_DEVICE.get());
            shim::iommu_device_unregister_bus(
                MOCK_IOMMU_DEVICE.get(),
                MOCK_BUS.get(),
                MOCK_BUS_NB.get(),
            );
            bindings::bus_unregister(MOCK_BUS.get());
            bindings::platform_device_unregister(self.pdev);
        }
        REGISTERED.store(false, Ordering::Release);
    }
}
