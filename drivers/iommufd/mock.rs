// SPDX-License-Identifier: GPL-2.0

//! The mock IOMMU driver of `CONFIG_IOMMUFD_TEST`: the driver half of C `selftest.c`.
//!
//! A bus (`iommufd_mock`) whose devices (`iommufd_mock%u`, [`MockDev`]) are served by a mock
//! IOMMU (`mock_ops`): a blocking domain, paging domains that keep their IOVA to PFN table in an
//! xarray (with the `MOCK_PFN_*` metadata bits above the PFN), dirty tracking on top of those
//! bits, and nested domains with a small mock IOTLB invalidated from user space. The driver
//! implements the traits of `kernel::iommu::driver` ([`IommuOps`] for the IOMMU, [`DomainOps`]
//! for each domain type), which build the C ops tables; the `IOMMU_TEST_CMD` glue calls
//! [`check_pa`], [`check_iotlb`], [`dirty`] and [`trigger_iopf`] on domains and devices it
//! looked up.
//!
//! The mock device embeds its `struct device` as the first field of a `#[repr(C)]` struct, as C
//! `selftest.c`, so the device of a callback converts back with a cast (C `container_of`).
//!
//! Lock order: one table for the module, `Documentation/locking.md`. Here: a mock device's
//! `iopf_rwsem` is outermost (held across a selftest device's attach changes); the `pasids`
//! xarray's lock is taken inside the iommu core's group mutex (`set_dev_pasid`), a domain's
//! `pfns` xarray's inside `Ioas::iopt` (map and unmap).

use crate::{
    error::{errno_of, kerr},
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
    shim, test_hooks, user,
};
use core::{
    ptr,
    sync::atomic::{AtomicI32, AtomicU32, AtomicUsize, Ordering},
};
use kernel::{bindings, c_str, device::Device, ffi::c_ulong, prelude::*, types::Opaque};
use kernel::{
    bus::{BusDevice, BusRegistration, OwnedBusDevice, StaticBus},
    iommu::driver::{
        AllocatedDomain, BusIommuRegistration, DomainConfig, DomainOps, DomainOpsTable, DomainType,
        DriverDomain, IommuDevice, IommuOps, IommuOpsTable, IommuSysfsRegistration, IopfQueueSlot,
        RawDomain, UserDataArray, CAP_CACHE_COHERENCY, CAP_DIRTY_TRACKING, DEV_FEAT_IOPF,
        DIRTY_NO_CLEAR,
    },
    iommu::{DirtyBitmap, UserData},
    platform::PlatformDevice,
    property::{self, PropertyList},
    xarray::XArray,
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

/// C `struct mock_iommu_domain`: the data of a paging domain ([`DriverDomain<MockPaging>`]).
///
/// # Invariants
///
/// `pfns` maps IOVA / [`MOCK_IO_PAGE_SIZE`] to values of `PFN (in IO pages) | MOCK_PFN_* bits`.
#[pin_data(PinnedDrop)]
struct MockPaging {
    /// [`MOCK_DIRTY_TRACK`].
    flags: AtomicU32,
    #[pin]
    pfns: XArray,
}

/// C `struct mock_iommu_domain_nested`: the data of a nested domain (its parent is only checked
/// at allocation, as in C).
struct MockNested {
    iotlb: [AtomicU32; IOTLB_NUM],
}

/// C `mock_blocking_domain`'s type: the default and blocked domain of every mock device.
struct MockBlocking;

/// C `mock_ops`: the mock IOMMU.
struct MockIommuOps;

/// C `struct mock_dev` without its `struct device`: the data of a mock device
/// ([`BusDevice<MockDevInner>`] on [`MOCK_BUS`]).
///
/// # Invariants
///
/// `iopf_rwsem` is initialised by [`MockDevInner::new`]. `flags` does not change; `id` is the IDA id, or -1 before
/// it is allocated, set once before the device is named and added, and freed by the drop.
/// `pasids` maps each PASID the driver has programmed (`set_dev_pasid`, until
/// `remove_dev_pasid`) to the domain's address.
#[pin_data(PinnedDrop)]
struct MockDevInner {
    #[pin]
    iopf_rwsem: Opaque<bindings::rw_semaphore>,
    flags: u32,
    id: AtomicI32,
    #[pin]
    pasids: XArray,
    /// The domain last removed from [`MOCK_PASID_REPLACE_FAILS`] (0: none since its last
    /// `set_dev_pasid`).
    pasid_replace_removed: AtomicUsize,
}

// SAFETY: The rwsem is usable from any thread (it is a lock); the other fields are `Send`.
unsafe impl Send for MockDevInner {}
// SAFETY: As above; `&MockDevInner` reaches the rwsem only through its C functions.
unsafe impl Sync for MockDevInner {}

impl MockDevInner {
    /// The data of a mock device with `flags`, without an id.
    fn new(flags: u32) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            // SAFETY: `sem` is the rwsem's place in the pinned device, where it stays.
            iopf_rwsem <- Opaque::ffi_init(|sem| unsafe { shim::iommufd_rs_mock_init_rwsem(sem) }),
            flags,
            id: AtomicI32::new(-1),
            pasids <- XArray::new(),
            pasid_replace_removed: AtomicUsize::new(0),
        }? Error)
    }
}

#[pinned_drop]
impl PinnedDrop for MockDevInner {
    /// C `mock_dev_release()`: frees the device's id (then the fields and the device go; no
    /// PASID is programmed on a device without references, so `pasids` is empty).
    fn drop(self: Pin<&mut Self>) {
        let id = self.id.load(Ordering::Relaxed);
        if id >= 0 {
            // SAFETY: `id` was allocated from the IDA by `MockDev::create` and is freed once.
            unsafe { shim::iommufd_rs_mock_ida_free(id) };
        }
    }
}

impl MockPaging {
    /// A paging domain's data with an empty PFN table.
    fn new() -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            flags: AtomicU32::new(0),
            pfns <- XArray::new(),
        }? Error)
    }

    /// The value at `index` of the PFN table.
    fn load(&self, index: usize) -> Option<usize> {
        self.pfns.load_value(index)
    }

    /// Removes the value at `index`, returning it.
    fn erase(&self, index: usize) -> Option<usize> {
        self.pfns.erase_value(index)
    }

    /// Sets bits in the value at `index` (which must hold `ent`), warning if it changed.
    fn update(&self, index: usize, ent: usize, val: usize) {
        let old = self.pfns.store_value(index, val, bindings::GFP_KERNEL);
        mock_warn_on!(!matches!(old, Ok(Some(v)) if v == ent));
    }

    /// C `mock_test_and_clear_dirty()`: whether any IO page of `[iova, iova + page_size)` is
    /// dirty; clears them unless `flags` has `IOMMU_DIRTY_NO_CLEAR`.
    ///
    /// `known` is an entry the caller has just loaded, `(index, value)`: it is not loaded
    /// again (C loads it twice, in `mock_domain_read_and_clear_dirty()` and here; with 4 KiB
    /// pages that doubled the lookups of a dirty read).
    fn test_and_clear_dirty(
        &self,
        iova: usize,
        page_size: usize,
        flags: c_ulong,
        known: (usize, usize),
    ) -> bool {
        let end = iova.wrapping_add(page_size).wrapping_sub(1);
        let mut dirty = false;
        let mut cur = iova;
        while cur < end {
            let index = cur / IO_PAGE;
            let ent = if index == known.0 {
                Some(known.1)
            } else {
                self.load(index)
            };
            if let Some(ent) = ent {
                if ent & MOCK_PFN_DIRTY_IOVA != 0 {
                    dirty = true;
                    if flags & DIRTY_NO_CLEAR == 0 {
                        self.update(cur / IO_PAGE, ent, ent & !MOCK_PFN_DIRTY_IOVA);
                    }
                }
            }
            cur = cur.wrapping_add(IO_PAGE);
        }
        dirty
    }
}

#[pinned_drop]
impl PinnedDrop for MockPaging {
    /// C `mock_domain_free()`.
    /// Then the PFN table's drop frees the nodes of whatever was left behind (C leaks them).
    fn drop(self: Pin<&mut Self>) {
        mock_warn_on!(!self.pfns.is_empty());
    }
}

impl MockDevInner {
    /// C `container_of(dev, struct mock_dev, dev)`: the mock device of `dev`, `None` if `dev` is
    /// not on the mock bus.
    fn from_device(dev: &Device) -> Option<&MockDevInner> {
        MOCK_BUS.device_of(dev).map(|d| &**d)
    }
}

/// The mock device flags of `dev`, 0 for `None` or a device that is not a mock device.
fn dev_flags(dev: Option<&Device>) -> u32 {
    dev.and_then(MockDevInner::from_device)
        .map_or(0, |m| m.flags)
}

/// The mock device flags of `dev`, 0 for a null `dev`.
///
/// # Safety
///
/// `dev` is null or a live device.
pub(crate) unsafe fn mock_dev_flags(dev: *mut bindings::device) -> u32 {
    // SAFETY: By the safety requirements.
    dev_flags((!dev.is_null()).then(|| unsafe { Device::as_ref(dev) }))
}

/// C `iommufd_mock_bus_type.bus`: the bus of the mock devices.
static MOCK_BUS: StaticBus<MockDevInner> = StaticBus::new(c_str!("iommufd_mock"));

/// C `mock_iommu_device`, PASID capable up to `MOCK_PASID_WIDTH` bits (as the later C), and
/// the iommu core's notifier on [`MOCK_BUS`] (C `iommufd_mock_bus_type.nb`).
static MOCK_IOMMU_DEVICE: IommuDevice = IommuDevice::new(1 << MOCK_PASID_WIDTH);

/// C `mock_blocking_ops`.
static MOCK_BLOCKING_OPS: DomainOpsTable<MockBlocking> = DomainOpsTable::new_static();

/// C `mock_blocking_domain`.
static MOCK_BLOCKING_DOMAIN: DriverDomain<MockBlocking> =
    DriverDomain::new_static(DomainType::Blocked, MockBlocking);

/// C `mock_ops.default_domain_ops`: the ops of the paging domains, and C `dirty_ops`, of those
/// allocated with `IOMMU_HWPT_ALLOC_DIRTY_TRACKING`.
static MOCK_PAGING_OPS: DomainOpsTable<MockPaging> = DomainOpsTable::new();

/// C `domain_nested_ops`.
static MOCK_NESTED_OPS: DomainOpsTable<MockNested> = DomainOpsTable::new();

/// C `mock_ops`.
static MOCK_OPS: IommuOpsTable<MockIommuOps> = IommuOpsTable::new();

/// C `PROPERTY_ENTRY_U32("pasid-num-bits", MOCK_PASID_WIDTH)` and the terminator: the software
/// node of `MOCK_FLAGS_DEVICE_PASID` devices, from which the iommu core reads their PASID width
/// (`dev_iommu_get_max_pasids`). Copied by `device_create_managed_software_node`.
static PASID_PROPS: PropertyList<2> = PropertyList::new([
    property::entry_u32(c_str!("pasid-num-bits"), MOCK_PASID_WIDTH),
    property::terminator(),
]);

/// C `mock_iommu_iopf_queue`: empty if `iopf_queue_alloc` failed (or before [`register`]).
static IOPF_QUEUE: IopfQueueSlot = IopfQueueSlot::new();

/// `set_dev_pasid` of every mock domain (upstream's `mock_domain_set_dev_pasid_nop`): records
/// the domain as programmed on `pasid` of `dev`, where [`pasid_domain`] reads it back.
///
/// [`MOCK_PASID_REPLACE_FAILS`] models a driver that cannot switch that PASID straight from one
/// table to another: the `set_dev_pasid` that follows the removal of a *different* domain fails
/// once with `ENOMEM`, and the next one (the caller's rollback to the old domain) succeeds.
/// 6.12's iommu core has no PASID replace, so iommufd-rs replaces with remove + set, and this is
/// where upstream's "the second `set_dev_pasid` on PASID 1024 fails" lands.
fn set_dev_pasid(domain: &RawDomain, dev: &Device, pasid: u32) -> Result {
    let mdev = MockDevInner::from_device(dev).ok_or(ENODEV)?;
    if pasid == MOCK_PASID_REPLACE_FAILS {
        let removed = mdev.pasid_replace_removed.swap(0, Ordering::Relaxed);
        if removed != 0 && removed != domain.as_raw() as usize {
            return Err(ENOMEM);
        }
    }
    mdev.pasids
        .store_addr(pasid as usize, domain, bindings::GFP_KERNEL)
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
    let Some(mdev) = MockDevInner::from_device(unsafe { Device::as_ref(dev) }) else {
        return ptr::null_mut();
    };
    mdev.pasids
        .load_addr(pasid as usize)
        .map_or(ptr::null_mut(), |d| d.as_ptr().cast())
}

/// C `mock_domain_nop_attach()`: devices without dirty tracking cannot attach to a domain
/// with dirty ops.
fn nop_attach<T: DomainOps>(domain: &DriverDomain<T>, dev: &Device) -> Result {
    if domain.has_dirty_ops() && dev_flags(Some(dev)) & MOCK_FLAGS_DEVICE_NO_DIRTY != 0 {
        return Err(EINVAL);
    }
    Ok(())
}

#[vtable]
impl DomainOps for MockBlocking {
    const OPS: &'static DomainOpsTable<Self> = &MOCK_BLOCKING_OPS;

    fn attach_dev(domain: &DriverDomain<Self>, dev: &Device) -> Result {
        nop_attach(domain, dev)
    }

    fn set_dev_pasid(domain: &DriverDomain<Self>, dev: &Device, pasid: u32) -> Result {
        set_dev_pasid(domain.as_raw_domain(), dev, pasid)
    }
}

#[vtable]
impl DomainOps for MockNested {
    const OPS: &'static DomainOpsTable<Self> = &MOCK_NESTED_OPS;

    fn attach_dev(domain: &DriverDomain<Self>, dev: &Device) -> Result {
        nop_attach(domain, dev)
    }

    fn set_dev_pasid(domain: &DriverDomain<Self>, dev: &Device, pasid: u32) -> Result {
        set_dev_pasid(domain.as_raw_domain(), dev, pasid)
    }

    /// C `mock_domain_cache_invalidate_user()`: invalidates the mock IOTLB entries of the
    /// `struct iommu_hwpt_invalidate_selftest` requests of `array`; `array.entry_num` becomes
    /// the number handled.
    fn cache_invalidate_user(domain: &DriverDomain<Self>, array: &mut UserDataArray) -> Result {
        let mut processed = 0;
        let rc = if array.data_type() != IOMMU_HWPT_INVALIDATE_DATA_SELFTEST {
            Err(EINVAL)
        } else {
            domain.invalidate_user(array, &mut processed)
        };
        array.set_entry_num(processed);
        rc
    }
}

impl MockNested {
    /// The loop of `cache_invalidate_user`: handles the requests of `array` in order, counting
    /// them in `processed`, up to the first that fails.
    fn invalidate_user(&self, array: &UserDataArray, processed: &mut u32) -> Result {
        for i in 0..array.entry_num() {
            // struct iommu_hwpt_invalidate_selftest { __u32 flags; __u32 iotlb_id; }.
            let mut inv = [0u8; 8];
            let min_len = inv.len();
            array.copy_entry(i, &mut inv, IOMMU_HWPT_INVALIDATE_DATA_SELFTEST, min_len)?;
            let flags = u32::from_ne_bytes([inv[0], inv[1], inv[2], inv[3]]);
            let iotlb_id = u32::from_ne_bytes([inv[4], inv[5], inv[6], inv[7]]);
            if flags & !IOMMU_TEST_INVALIDATE_FLAG_ALL != 0 {
                return Err(kerr(Errno::EOPNOTSUPP));
            }
            if iotlb_id > MOCK_NESTED_DOMAIN_IOTLB_ID_MAX {
                return Err(EINVAL);
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

#[vtable]
impl DomainOps for MockPaging {
    const OPS: &'static DomainOpsTable<Self> = &MOCK_PAGING_OPS;

    fn attach_dev(domain: &DriverDomain<Self>, dev: &Device) -> Result {
        nop_attach(domain, dev)
    }

    fn set_dev_pasid(domain: &DriverDomain<Self>, dev: &Device, pasid: u32) -> Result {
        set_dev_pasid(domain.as_raw_domain(), dev, pasid)
    }

    /// C `mock_domain_map_pages()`: records `pgcount` pages of `pgsize` from `paddr` at `iova`,
    /// one xarray entry per IO page.
    fn map_pages(
        mock: &DriverDomain<Self>,
        iova: usize,
        paddr: u64,
        pgsize: usize,
        pgcount: usize,
        _prot: i32,
        gfp: bindings::gfp_t,
        mapped: &mut usize,
    ) -> Result {
        let mut iova = iova;
        let mut paddr = paddr as usize;
        let start_iova = iova;
        let mut flags = MOCK_PFN_START_IOVA;

        // xarray does not reliably work with fault injection because it does a retry
        // allocation, so put our own failure point.
        if test_hooks::should_fail() {
            return Err(ENOENT);
        }

        mock_warn_on!(iova % IO_PAGE != 0);
        if mock_warn_on!(pgsize % IO_PAGE != 0 || pgsize == 0) {
            return Err(EINVAL);
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
                let old =
                    match mock
                        .pfns
                        .store_value(iova / IO_PAGE, (paddr / IO_PAGE) | flags, gfp)
                    {
                        Ok(old) => old,
                        Err(e) => {
                            let mut undo = start_iova;
                            while undo != iova {
                                mock.erase(undo / IO_PAGE);
                                undo += IO_PAGE;
                            }
                            return Err(e);
                        }
                    };
                mock_warn_on!(old.is_some());
                iova = iova.wrapping_add(IO_PAGE);
                paddr = paddr.wrapping_add(IO_PAGE);
                *mapped += IO_PAGE;
                flags = 0;
                cur += IO_PAGE;
            }
        }
        Ok(())
    }

    /// C `mock_domain_unmap_pages()`: removes the entries of `pgcount` pages of `pgsize` at
    /// `iova`, checking (without huge pages) that the range starts and ends where a map did.
    fn unmap_pages(mock: &DriverDomain<Self>, iova: usize, pgsize: usize, pgcount: usize) -> usize {
        let pgsize_bitmap = mock.pgsize_bitmap();
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
                // iommufd generates unmaps that must be a strict superset of the maps
                // performed, so every starting/ending IOVA should have been an IOVA passed to
                // map. This does not hold with huge pages: the core switches between the two
                // page sizes, and the break can land in the middle of contiguous IOVA.
                if pgsize_bitmap & MOCK_HUGE_PAGE_SIZE == 0 {
                    if first {
                        mock_warn_on!(ent.is_some_and(|v| v & MOCK_PFN_START_IOVA == 0));
                        first = false;
                    }
                    if left == 1 && cur + IO_PAGE == pgsize {
                        mock_warn_on!(ent.is_some_and(|v| v & MOCK_PFN_LAST_IOVA == 0));
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
    fn iova_to_phys(mock: &DriverDomain<Self>, iova: u64) -> u64 {
        let iova = iova as usize;
        mock_warn_on!(iova % IO_PAGE != 0);
        let ent = mock.load(iova / IO_PAGE);
        mock_warn_on!(ent.is_none());
        ((ent.unwrap_or(0) & MOCK_PFN_MASK) * IO_PAGE) as u64
    }

    /// C `mock_domain_set_dirty_tracking()`.
    fn set_dirty_tracking(mock: &DriverDomain<Self>, enable: bool) -> Result {
        if enable && !mock.has_dirty_ops() {
            return Err(EINVAL);
        }
        if enable {
            mock.flags.fetch_or(MOCK_DIRTY_TRACK, Ordering::Relaxed);
        } else {
            mock.flags.fetch_and(!MOCK_DIRTY_TRACK, Ordering::Relaxed);
        }
        Ok(())
    }

    /// C `mock_domain_read_and_clear_dirty()`: records the dirty IO pages (or huge pages) of
    /// `[iova, iova + size)` in `dirty` and clears them unless `IOMMU_DIRTY_NO_CLEAR`.
    fn read_and_clear_dirty(
        mock: &DriverDomain<Self>,
        iova: usize,
        size: usize,
        flags: c_ulong,
        dirty: &DirtyBitmap<'_>,
    ) -> Result {
        let mut iova = iova;
        let end = iova.wrapping_add(size);
        if mock.flags.load(Ordering::Relaxed) & MOCK_DIRTY_TRACK == 0 && dirty.has_bitmap() {
            return Err(EINVAL);
        }
        loop {
            let mut pgsize = IO_PAGE;
            if let Some(ent) = mock.load(iova / IO_PAGE) {
                if ent & MOCK_PFN_HUGE_IOVA != 0 {
                    pgsize = MOCK_HUGE_PAGE_SIZE;
                }
                let head = iova & !(pgsize - 1);
                if mock.test_and_clear_dirty(head, pgsize, flags, (iova / IO_PAGE, ent)) {
                    dirty.record(iova, pgsize);
                }
            }
            iova = iova.wrapping_add(pgsize);
            if iova >= end {
                break;
            }
        }
        Ok(())
    }
}

/// C `struct iommu_test_hw_info`.
#[repr(C)]
struct IommuTestHwInfo {
    flags: u32,
    test_reg: u32,
}

/// Allocates a paging domain (C `mock_domain_alloc_paging()` without the `NULL` return), with
/// dirty ops if `dirty_tracking`.
fn alloc_paging(dev: Option<&Device>, dirty_tracking: bool) -> Result<AllocatedDomain> {
    let mut pgsize_bitmap = IO_PAGE;
    if dev_flags(dev) & MOCK_FLAGS_DEVICE_HUGE_IOVA != 0 {
        pgsize_bitmap |= MOCK_HUGE_PAGE_SIZE;
    }
    DriverDomain::alloc(
        DomainConfig {
            kind: DomainType::Unmanaged,
            aperture: Some((MOCK_APERTURE_START, MOCK_APERTURE_LAST)),
            pgsize_bitmap,
            dirty_tracking,
        },
        MockPaging::new(),
    )
}

#[vtable]
impl IommuOps for MockIommuOps {
    type Paging = MockPaging;
    type HwInfo = IommuTestHwInfo;

    const PGSIZE_BITMAP: usize = IO_PAGE;
    const USER_PASID_TABLE: bool = true;
    const BLOCKED_DOMAIN: Option<&'static RawDomain> = Some(MOCK_BLOCKING_DOMAIN.as_raw_domain());

    /// C `mock_domain_capable()`.
    fn capable(dev: &Device, cap: u32) -> bool {
        match cap {
            CAP_CACHE_COHERENCY => true,
            CAP_DIRTY_TRACKING => dev_flags(Some(dev)) & MOCK_FLAGS_DEVICE_NO_DIRTY == 0,
            _ => false,
        }
    }

    /// C `mock_domain_hw_info()`.
    fn hw_info(_dev: &Device) -> Result<(KBox<IommuTestHwInfo>, u32)> {
        let info = IommuTestHwInfo {
            flags: 0,
            test_reg: IOMMU_HW_INFO_SELFTEST_REGVAL,
        };
        Ok((KBox::new(info, GFP_KERNEL)?, IOMMU_HW_INFO_TYPE_SELFTEST))
    }

    /// C `mock_domain_alloc_paging()`.
    fn domain_alloc_paging(dev: Option<&Device>) -> Result<AllocatedDomain> {
        alloc_paging(dev, false)
    }

    /// C `mock_domain_alloc_user()`: a paging domain (flags `NEST_PARENT` and
    /// `DIRTY_TRACKING`) or, given a mock paging `parent` and `IOMMU_HWPT_DATA_SELFTEST` data,
    /// a nested domain.
    fn domain_alloc_user(
        dev: &Device,
        flags: u32,
        parent: Option<&RawDomain>,
        user_data: Option<&UserData>,
    ) -> Result<AllocatedDomain> {
        let Some(parent) = parent else {
            // Must be a mock paging domain.
            let has_dirty_flag = flags & IOMMU_HWPT_ALLOC_DIRTY_TRACKING != 0;
            let no_dirty_ops = dev_flags(Some(dev)) & MOCK_FLAGS_DEVICE_NO_DIRTY != 0;
            if flags & !(IOMMU_HWPT_ALLOC_NEST_PARENT | IOMMU_HWPT_ALLOC_DIRTY_TRACKING) != 0 {
                return Err(kerr(Errno::EOPNOTSUPP));
            }
            if user_data.is_some() || (has_dirty_flag && no_dirty_ops) {
                return Err(kerr(Errno::EOPNOTSUPP));
            }
            return alloc_paging(Some(dev), has_dirty_flag);
        };

        // Must be a mock nested domain.
        let Some(user_data) = user_data else {
            return Err(kerr(Errno::EOPNOTSUPP));
        };
        if user_data.data_type() != IOMMU_HWPT_DATA_SELFTEST || flags != 0 {
            return Err(kerr(Errno::EOPNOTSUPP));
        }
        if parent.downcast::<MockPaging>().is_none() {
            return Err(EINVAL);
        }
        // struct iommu_hwpt_selftest { __u32 iotlb; }, iotlb being its last initial member.
        let mut cfg = [0u8; 4];
        let min_len = cfg.len();
        user_data.copy_struct(&mut cfg, IOMMU_HWPT_DATA_SELFTEST, min_len)?;
        let iotlb = u32::from_ne_bytes(cfg);
        DriverDomain::alloc(
            DomainConfig {
                kind: DomainType::Nested,
                aperture: None,
                pgsize_bitmap: 0,
                dirty_tracking: false,
            },
            MockNested {
                iotlb: core::array::from_fn(|_| AtomicU32::new(iotlb)),
            },
        )
    }

    /// C `mock_probe_device()`: the mock IOMMU serves the devices of the mock bus.
    fn probe_device(dev: &Device) -> Result<&'static IommuDevice> {
        if !MOCK_BUS.contains(dev) {
            return Err(ENODEV);
        }
        Ok(&MOCK_IOMMU_DEVICE)
    }

    /// C `mock_domain_page_response()`: nothing to tell the mock hardware.
    fn page_response(_dev: &Device) {}

    /// C `mock_dev_enable_feat()`: IOPF, on the mock IOPF queue.
    fn dev_enable_feat(dev: &Device, feat: u32) -> Result {
        if feat != DEV_FEAT_IOPF {
            return Err(ENODEV);
        }
        IOPF_QUEUE.add_device(dev)
    }

    /// C `mock_dev_disable_feat()`.
    fn dev_disable_feat(dev: &Device, feat: u32) -> Result {
        if feat != DEV_FEAT_IOPF {
            return Err(ENODEV);
        }
        IOPF_QUEUE.remove_device(dev)
    }

    /// C `mock_iommu_remove_dev_pasid()`: forgets what `set_dev_pasid` programmed.
    fn remove_dev_pasid(dev: &Device, pasid: u32, domain: &RawDomain) {
        let Some(mdev) = MockDevInner::from_device(dev) else {
            return;
        };
        mdev.pasids.remove(pasid as usize);
        if pasid == MOCK_PASID_REPLACE_FAILS {
            mdev.pasid_replace_removed
                .store(domain.as_raw() as usize, Ordering::Relaxed);
        }
    }
}

/// Whether `domain` is a mock paging domain (its ops are C `mock_ops.default_domain_ops`).
///
/// `domain` must be null or a live domain.
pub(crate) fn is_mock_paging(domain: *mut bindings::iommu_domain) -> bool {
    // SAFETY: By this function's contract `domain` is live.
    !domain.is_null()
        && unsafe { RawDomain::from_raw(domain) }
            .downcast::<MockPaging>()
            .is_some()
}

/// Whether `domain` is a mock nested domain (its ops are C `domain_nested_ops`).
///
/// `domain` must be null or a live domain.
pub(crate) fn is_mock_nested(domain: *mut bindings::iommu_domain) -> bool {
    // SAFETY: By this function's contract `domain` is live.
    !domain.is_null()
        && unsafe { RawDomain::from_raw(domain) }
            .downcast::<MockNested>()
            .is_some()
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
    let Some(mock) = unsafe { RawDomain::from_raw(domain) }.downcast::<MockPaging>() else {
        return Err(Errno::EINVAL);
    };
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
        let expected = pfn * page_size + uptr % page_size;
        if !matches!(ent, Some(v) if (v & MOCK_PFN_MASK) * IO_PAGE == expected) {
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
    let Some(nested) = unsafe { RawDomain::from_raw(domain) }.downcast::<MockNested>() else {
        return Err(Errno::EINVAL);
    };
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
    let Some(mock) = unsafe { RawDomain::from_raw(domain) }.downcast::<MockPaging>() else {
        return Err(Errno::EINVAL);
    };
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
        if let Some(ent) = mock.load(index) {
            mock.update(index, ent, ent | MOCK_PFN_DIRTY_IOVA);
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
    // SAFETY: `dev` is live (safety requirements).
    let Some(mdev) = MockDevInner::from_device(unsafe { Device::as_ref(dev) }) else {
        return Err(Errno::EINVAL);
    };
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
        // SAFETY: The semaphore was initialised by `MockDevInner::new` (type invariant); may
        // sleep, as all callers can.
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
pub(crate) struct MockDev {
    dev: OwnedBusDevice<MockDevInner>,
}

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
        // On failure from here, dropping `dev` puts the device, whose release frees it.
        let dev = BusDevice::create(&MOCK_BUS, MockDevInner::new(dev_flags)).map_err(errno_of)?;
        // SAFETY: The IDA is a static of the shim.
        let id = unsafe { shim::iommufd_rs_mock_ida_alloc() };
        if id < 0 {
            return Err(Errno(-id));
        }
        // Freed by the release of the device.
        dev.id.store(id, Ordering::Relaxed);
        dev.set_name_numbered(c_str!("iommufd_mock"), id as u32)
            .map_err(errno_of)?;
        if dev_flags & MOCK_FLAGS_DEVICE_PASID != 0 {
            dev.add_software_node(&PASID_PROPS).map_err(errno_of)?;
        }
        {
            let _guard = dev.iopf_write();
            dev.add().map_err(errno_of)?;
        }
        Ok(MockDev { dev })
    }

    /// The mock device.
    pub(crate) fn device(&self) -> &Device {
        self.dev.device()
    }

    /// The `struct device` of the mock device, alive as long as `self`.
    pub(crate) fn as_dev(&self) -> *mut bindings::device {
        self.dev.as_raw()
    }

    /// The device's number (C `mdev->id`, the `%u` of its name).
    // Called by the `IOMMU_TEST_CMD` glue when it names devices, which comes separately.
    #[allow(dead_code)]
    pub(crate) fn id(&self) -> u32 {
        self.dev.id.load(Ordering::Relaxed) as u32
    }

    /// The device flags it was created with (`MOCK_FLAGS_DEVICE_*`).
    // Called by the `IOMMU_TEST_CMD` glue, which comes separately.
    #[allow(dead_code)]
    pub(crate) fn flags(&self) -> u32 {
        self.dev.flags
    }

    /// Takes the device's `iopf_rwsem` for writing, as C around `iommufd_device_attach`,
    /// `_replace` and `_detach` of a mock device (fault reports take it for reading).
    pub(crate) fn iopf_write_lock(&self) -> IopfGuard<'_> {
        self.dev.iopf_write()
    }
}

/// The mock IOMMU's registrations (C `iommufd_test_init`'s part of it): the platform device
/// `iommufd_selftest_iommu`, the mock bus, the IOMMU in sysfs and on the bus, and the IOPF
/// queue. Dropping it undoes them in C `iommufd_test_exit()`'s order: the IOPF queue (in
/// `drop`), then the fields, which drop in declaration order.
pub(crate) struct MockIommu {
    _sysfs: IommuSysfsRegistration,
    _iommu: BusIommuRegistration<MockIommuOps, MockDevInner>,
    _bus: BusRegistration<MockDevInner>,
    _pdev: PlatformDevice,
}

/// Registers the mock IOMMU (C `iommufd_test_init()` without the debugfs part). On failure,
/// what was registered is undone in reverse (the locals drop in reverse order).
pub(crate) fn register() -> Result<MockIommu> {
    let pdev = PlatformDevice::register(c_str!("iommufd_selftest_iommu"))?;
    let bus = MOCK_BUS.register()?;
    let sysfs = MOCK_IOMMU_DEVICE.sysfs_add(pdev.device(), pdev.name())?;
    let iommu = MOCK_OPS.register_bus(&crate::THIS_MODULE, &MOCK_IOMMU_DEVICE, &MOCK_BUS)?;
    // As C: without a queue, IOPF is simply not supported (`ENODEV`).
    let _ = IOPF_QUEUE.alloc(c_str!("mock-iopfq"));
    Ok(MockIommu {
        _sysfs: sysfs,
        _iommu: iommu,
        _bus: bus,
        _pdev: pdev,
    })
}

impl Drop for MockIommu {
    fn drop(&mut self) {
        // SAFETY: No mock device is left (each holds a reference on this module, which is
        // going away), so no queue operation runs or can start.
        unsafe { IOPF_QUEUE.free() };
    }
}
