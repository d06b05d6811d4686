// SPDX-License-Identifier: GPL-2.0

//! IOMMU drivers: the `struct iommu_ops`, `struct iommu_domain_ops` and `struct iommu_dirty_ops`
//! of a driver, built from Rust traits.
//!
//! A driver implements [`IommuOps`] once, and [`DomainOps`] for each of its domain types. Its
//! domains are [`DriverDomain<T>`]: the C `struct iommu_domain` the iommu core sees, followed by
//! the driver's data `T`. The ops tables are `static`s of the driver ([`IommuOpsTable`],
//! [`DomainOpsTable`]) built at compile time: a callback the driver does not implement is a
//! NULL pointer, as in a C table. The `unsafe extern "C"` trampolines turn the core's pointers
//! back into the driver's types and its [`Result`]s into C return codes or `ERR_PTR`s, once,
//! here.
//!
//! C header: [`include/linux/iommu.h`](srctree/include/linux/iommu.h).

use super::{dirty::DirtyBitmap, domain::UserData};
use core::{
    marker::PhantomData,
    mem::size_of,
    ptr::{self, NonNull},
    sync::atomic::{AtomicBool, AtomicPtr, Ordering},
};
use kernel::{
    bindings, build_error,
    device::Device,
    error::{to_result, Error, VTABLE_DEFAULT_ERROR},
    ffi::{c_int, c_ulong, c_void},
    prelude::*,
    str::CStr,
    types::Opaque,
};

/// C `enum iommu_cap` `IOMMU_CAP_CACHE_COHERENCY`.
pub const CAP_CACHE_COHERENCY: u32 = bindings::iommu_cap_IOMMU_CAP_CACHE_COHERENCY;
/// C `enum iommu_cap` `IOMMU_CAP_DIRTY_TRACKING`.
pub const CAP_DIRTY_TRACKING: u32 = bindings::iommu_cap_IOMMU_CAP_DIRTY_TRACKING;
/// C `enum iommu_dev_features` `IOMMU_DEV_FEAT_IOPF`.
pub const DEV_FEAT_IOPF: u32 = bindings::iommu_dev_features_IOMMU_DEV_FEAT_IOPF;
/// C `IOMMU_DIRTY_NO_CLEAR`: `read_and_clear_dirty` reads without clearing.
pub const DIRTY_NO_CLEAR: c_ulong = bindings::IOMMU_DIRTY_NO_CLEAR as c_ulong;

/// The C functions of the iommu core that no header of the bindings declares, and the shim's
/// wrapper of an inline one.
mod ffi {
    use kernel::bindings;

    // `struct iommu_ops` reaches `struct module`, which has types bindgen could not make FFI
    // safe; only pointers to them cross here.
    #[allow(improper_ctypes)]
    extern "C" {
        // drivers/iommu/iommu-priv.h, exported under CONFIG_IOMMUFD_TEST.
        pub(super) fn iommu_device_register_bus(
            iommu: *mut bindings::iommu_device,
            ops: *const bindings::iommu_ops,
            bus: *const bindings::bus_type,
            nb: *mut bindings::notifier_block,
        ) -> kernel::ffi::c_int;
        pub(super) fn iommu_device_unregister_bus(
            iommu: *mut bindings::iommu_device,
            bus: *const bindings::bus_type,
            nb: *mut bindings::notifier_block,
        );
    }
}

/// The raw `struct device` of `dev`.
fn raw_dev(dev: &Device) -> *mut bindings::device {
    // `Device` is a transparent wrapper of the C structure.
    ptr::from_ref(dev).cast_mut().cast()
}

/// The `&Device` of a device pointer the iommu core passes to a callback.
///
/// # Safety
///
/// `dev` is valid for `'a` (the core holds it for the duration of the callback).
unsafe fn dev_ref<'a>(dev: *mut bindings::device) -> &'a Device {
    // SAFETY: By the safety requirements; the core's callbacks run on devices it holds.
    unsafe { Device::as_ref(dev) }
}

/// A C `struct iommu_domain` of any driver, as the iommu core passes it to callbacks.
///
/// [`RawDomain::downcast`] gives the [`DriverDomain`] view of a domain of a known type.
///
/// # Invariants
///
/// The structure is a valid, live `struct iommu_domain`.
#[repr(transparent)]
pub struct RawDomain(Opaque<bindings::iommu_domain>);

impl RawDomain {
    /// The domain at `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` is a live `struct iommu_domain` that stays alive for `'a`.
    pub unsafe fn from_raw<'a>(ptr: *mut bindings::iommu_domain) -> &'a RawDomain {
        // SAFETY: By the safety requirements; `RawDomain` is transparent over the C structure.
        unsafe { &*ptr.cast::<RawDomain>() }
    }

    /// The C `struct iommu_domain`.
    pub fn as_raw(&self) -> *mut bindings::iommu_domain {
        self.0.get()
    }

    /// The domain as a [`DriverDomain<T>`], if its ops are `T`'s ([`DomainOps::OPS`]).
    pub fn downcast<T: DomainOps>(&self) -> Option<&DriverDomain<T>> {
        // SAFETY: The domain is live (type invariant); `ops` is set before a domain is handed
        // out and not changed afterwards.
        let ops = unsafe { (*self.as_raw()).ops };
        if !ptr::eq(ops, &T::OPS.ops) {
            return None;
        }
        // SAFETY: Only `DriverDomain<T>` constructors install `T::OPS` (the invariant of
        // `DomainOpsTable`), so this domain is the first field of a live `DriverDomain<T>`,
        // alive as long as `self`.
        Some(unsafe { &*self.as_raw().cast::<DriverDomain<T>>() })
    }
}

/// The kind of a domain (C `IOMMU_DOMAIN_*`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum DomainType {
    /// `IOMMU_DOMAIN_BLOCKED`: all DMA is blocked.
    Blocked,
    /// `IOMMU_DOMAIN_UNMANAGED`: a paging domain managed through the iommu API.
    Unmanaged,
    /// `IOMMU_DOMAIN_NESTED`: a user-managed stage-1 table nested on a paging domain.
    Nested,
}

impl DomainType {
    const fn as_raw(self) -> u32 {
        match self {
            DomainType::Blocked => bindings::IOMMU_DOMAIN_BLOCKED,
            DomainType::Unmanaged => bindings::IOMMU_DOMAIN_UNMANAGED,
            DomainType::Nested => bindings::IOMMU_DOMAIN_NESTED,
        }
    }
}

/// What a driver sets in a new domain's `struct iommu_domain`.
pub struct DomainConfig {
    /// C `domain->type`.
    pub kind: DomainType,
    /// C `domain->geometry.aperture_start` and `aperture_end` (zero for `None`).
    pub aperture: Option<(u64, u64)>,
    /// C `domain->pgsize_bitmap`.
    pub pgsize_bitmap: usize,
    /// Whether the domain gets the dirty tracking ops of its type (C `domain->dirty_ops`).
    pub dirty_tracking: bool,
}

/// A domain of a driver: the C `struct iommu_domain` followed by the driver's data `T`, which
/// the domain derefs to.
///
/// # Invariants
///
/// `domain.ops` is `&T::OPS.ops`, and `domain.dirty_ops` null or `&T::OPS.dirty`. A domain
/// allocated by [`DriverDomain::alloc`] lives in a pinned `KBox` until its ops' `free` (the
/// trampoline of the table) drops it; one built by [`DriverDomain::new_static`] is a `static`.
#[repr(C)]
#[pin_data]
pub struct DriverDomain<T> {
    domain: Opaque<bindings::iommu_domain>,
    #[pin]
    data: T,
}

// The iommu core's pointers convert back with a cast (C `container_of`).
const _: () = assert!(core::mem::offset_of!(DriverDomain<()>, domain) == 0);

// SAFETY: The C part is handed between threads by the iommu core under its own rules; the
// driver's data is `Send`.
unsafe impl<T: Send> Send for DriverDomain<T> {}
// SAFETY: The C part is only read by Rust code, through raw pointers; `T` is `Sync`.
unsafe impl<T: Sync> Sync for DriverDomain<T> {}

impl<T> core::ops::Deref for DriverDomain<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.data
    }
}

impl<T: DomainOps> DriverDomain<T> {
    /// A domain for a `static` (C's static `struct iommu_domain` of a driver, such as a
    /// blocking domain shared by all devices). `T`'s table must have been made by
    /// [`DomainOpsTable::new_static`] (no `free`), or the `static` fails to build.
    pub const fn new_static(kind: DomainType, data: T) -> Self {
        assert!(T::OPS.ops.free.is_none());
        Self {
            // INVARIANT: `ops` is `T`'s, no dirty ops; a static is never freed.
            domain: Opaque::new(bindings::iommu_domain {
                type_: kind.as_raw(),
                ops: &T::OPS.ops,
                // SAFETY: All-zero is a valid `iommu_domain` (null pointers).
                ..unsafe { core::mem::zeroed() }
            }),
            data,
        }
    }

    /// Allocates a domain with `config` and the driver data `init` (C: the `kzalloc` of a
    /// domain and the setup of its `struct iommu_domain` in `domain_alloc_*`).
    ///
    /// `EOPNOTSUPP` for `dirty_tracking` on a type without dirty ops, `EINVAL` for a type whose
    /// table was made for static domains ([`DomainOpsTable::new_static`]).
    pub fn alloc(config: DomainConfig, init: impl PinInit<T, Error>) -> Result<AllocatedDomain> {
        if config.dirty_tracking && !(T::HAS_SET_DIRTY_TRACKING && T::HAS_READ_AND_CLEAR_DIRTY) {
            return Err(Error::from_errno(-(bindings::EOPNOTSUPP as c_int)));
        }
        if T::OPS.ops.free.is_none() {
            return Err(EINVAL);
        }
        let (aperture_start, aperture_end) = config.aperture.unwrap_or((0, 0));
        let mut raw = bindings::iommu_domain {
            type_: config.kind.as_raw(),
            ops: &T::OPS.ops,
            pgsize_bitmap: config.pgsize_bitmap as c_ulong,
            // SAFETY: All-zero is a valid `iommu_domain` (null pointers).
            ..unsafe { core::mem::zeroed() }
        };
        raw.geometry.aperture_start = aperture_start;
        raw.geometry.aperture_end = aperture_end;
        if config.dirty_tracking {
            raw.dirty_ops = &T::OPS.dirty;
        }
        let domain = KBox::try_pin_init(
            try_pin_init!(Self {
                domain: Opaque::new(raw),
                data <- init,
            }? Error),
            GFP_KERNEL,
        )?;
        // SAFETY: The domain is handed to the iommu core, which frees it through `free` (the
        // trampoline rebuilds the pinned box); it is never moved.
        let domain = KBox::into_raw(unsafe { Pin::into_inner_unchecked(domain) });
        // INVARIANT: `ops` is `T`'s and has `free` (checked above), the dirty ops `T`'s or null.
        Ok(AllocatedDomain {
            // SAFETY: `KBox::into_raw` is not null; the C domain is the first field.
            domain: unsafe { NonNull::new_unchecked(domain.cast()) },
        })
    }

    /// The C `struct iommu_domain`.
    pub fn as_raw(&self) -> *mut bindings::iommu_domain {
        self.domain.get()
    }

    /// The domain as a [`RawDomain`] (usable in constants, for [`IommuOps::BLOCKED_DOMAIN`]).
    pub const fn as_raw_domain(&self) -> &RawDomain {
        // SAFETY: `RawDomain` is transparent over the C structure, which is live while `self`
        // is.
        unsafe { &*ptr::from_ref(&self.domain).cast::<RawDomain>() }
    }

    /// C `domain->pgsize_bitmap`.
    pub fn pgsize_bitmap(&self) -> usize {
        // SAFETY: The domain is live; the field is set at allocation and not changed after.
        unsafe { (*self.as_raw()).pgsize_bitmap }
    }

    /// Whether the domain has dirty tracking ops (C `domain->dirty_ops != NULL`).
    pub fn has_dirty_ops(&self) -> bool {
        // SAFETY: The domain is live; the field is set at allocation and not changed after.
        !unsafe { (*self.as_raw()).dirty_ops }.is_null()
    }

    /// The domain of a callback of `T`'s table.
    ///
    /// # Safety
    ///
    /// `domain` is a live domain with `T`'s ops (so a `DriverDomain<T>`), alive for `'a`.
    unsafe fn from_raw<'a>(domain: *mut bindings::iommu_domain) -> &'a Self {
        // SAFETY: By the safety requirements the domain is the first field of a live
        // `#[repr(C)]` `DriverDomain<T>`; the C part is `Opaque`.
        unsafe { &*domain.cast::<Self>() }
    }
}

/// A new domain of a driver, on its way to the iommu core (the return value of `domain_alloc_*`).
/// Dropped before that, it is freed through its ops.
///
/// # Invariants
///
/// `domain` is a live domain allocated by [`DriverDomain::alloc`], owned by this value; its
/// ops have a `free`.
pub struct AllocatedDomain {
    domain: NonNull<bindings::iommu_domain>,
}

impl AllocatedDomain {
    /// Hands the domain to C.
    fn into_raw(self) -> *mut bindings::iommu_domain {
        let domain = self.domain.as_ptr();
        core::mem::forget(self);
        domain
    }
}

impl Drop for AllocatedDomain {
    fn drop(&mut self) {
        let domain = self.domain.as_ptr();
        // SAFETY: The domain is live and owned (type invariant).
        let free = unsafe { (*(*domain).ops).free };
        if let Some(free) = free {
            // SAFETY: The domain is ours and never reached C; `free` releases it, once.
            unsafe { free(domain) };
        }
    }
}

/// C `__iommu_copy_struct_from_user()` of a `{type, uptr, len}` triple.
pub(super) fn copy_user_data(
    dst: &mut [u8],
    data_type: u32,
    min_len: usize,
    src_type: u32,
    uptr: usize,
    len: usize,
) -> Result {
    if src_type != data_type || len < min_len || dst.len() < len {
        return Err(EINVAL);
    }
    kernel::usercopy::copy_struct_from_user(dst, uptr, len)
}

/// C `struct iommu_user_data_array`: the requests of a `cache_invalidate_user` call.
#[repr(transparent)]
pub struct UserDataArray(bindings::iommu_user_data_array);

impl UserDataArray {
    /// C `array->type`.
    pub fn data_type(&self) -> u32 {
        self.0.type_
    }

    /// C `array->entry_num`: the number of requests.
    pub fn entry_num(&self) -> u32 {
        self.0.entry_num
    }

    /// Sets `entry_num`, which the caller reads back as the number of requests handled.
    pub fn set_entry_num(&mut self, n: u32) {
        self.0.entry_num = n;
    }

    /// C `iommu_copy_struct_from_user_array()`: copies request `index` as in
    /// [`UserData::copy_struct`].
    pub fn copy_entry(&self, index: u32, dst: &mut [u8], data_type: u32, min_len: usize) -> Result {
        let uptr =
            (self.0.uptr as usize).wrapping_add(self.0.entry_len.wrapping_mul(index as usize));
        copy_user_data(
            dst,
            data_type,
            min_len,
            self.0.type_,
            uptr,
            self.0.entry_len,
        )
    }
}

/// The ops of one domain type of a driver (C `struct iommu_domain_ops` and
/// `struct iommu_dirty_ops`).
///
/// Callbacks get the domain as `&DriverDomain<Self>` and the device as `&Device`. `free` is not
/// a callback: the table's `free` drops the domain (and so the driver's data).
#[vtable]
pub trait DomainOps: Sized + Send + Sync + 'static {
    /// The table of this type: a `static` of the driver, `DomainOpsTable::new()` (or
    /// `new_static()`), so that the domains of the type have one ops address.
    const OPS: &'static DomainOpsTable<Self>;

    /// C `attach_dev`.
    fn attach_dev(_domain: &DriverDomain<Self>, _dev: &Device) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// C `set_dev_pasid`; `old` is not passed (6.12's core passes none to drivers).
    fn set_dev_pasid(_domain: &DriverDomain<Self>, _dev: &Device, _pasid: u32) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// C `map_pages`: maps `pgcount` pages of `pgsize` from `paddr` at `iova`, adding what it
    /// mapped to `mapped` (also on failure). `gfp` is the C allocation mask of the caller.
    #[allow(clippy::too_many_arguments)]
    fn map_pages(
        _domain: &DriverDomain<Self>,
        _iova: usize,
        _paddr: u64,
        _pgsize: usize,
        _pgcount: usize,
        _prot: i32,
        _gfp: bindings::gfp_t,
        _mapped: &mut usize,
    ) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// C `unmap_pages`: the number of bytes unmapped. The iotlb gather is not passed.
    fn unmap_pages(
        _domain: &DriverDomain<Self>,
        _iova: usize,
        _pgsize: usize,
        _pgcount: usize,
    ) -> usize {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// C `iova_to_phys`.
    fn iova_to_phys(_domain: &DriverDomain<Self>, _iova: u64) -> u64 {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// C `cache_invalidate_user`: handles the requests of `array`, setting its `entry_num` to
    /// the number handled.
    fn cache_invalidate_user(_domain: &DriverDomain<Self>, _array: &mut UserDataArray) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// C `iommu_dirty_ops.set_dirty_tracking`.
    fn set_dirty_tracking(_domain: &DriverDomain<Self>, _enable: bool) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// C `iommu_dirty_ops.read_and_clear_dirty`.
    fn read_and_clear_dirty(
        _domain: &DriverDomain<Self>,
        _iova: usize,
        _size: usize,
        _flags: c_ulong,
        _dirty: &DirtyBitmap<'_>,
    ) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }
}

/// The C ops tables of the domain type `T`, for a `static` of the driver.
///
/// # Invariants
///
/// `ops` and `dirty` hold `T`'s trampolines (NULL for what `T` does not implement); `ops.free`
/// is set unless the table was made by [`DomainOpsTable::new_static`]. Only [`DriverDomain`]
/// constructors install these tables in a domain.
pub struct DomainOpsTable<T> {
    ops: bindings::iommu_domain_ops,
    dirty: bindings::iommu_dirty_ops,
    _t: PhantomData<T>,
}

impl<T: DomainOps> DomainOpsTable<T> {
    /// The tables of a type whose domains are allocated ([`DriverDomain::alloc`]).
    pub const fn new() -> Self {
        let mut table = Self::new_static();
        table.ops.free = Some(free_callback::<T>);
        table
    }

    /// The tables of a type whose domains are `static` ([`DriverDomain::new_static`]): no
    /// `free`.
    pub const fn new_static() -> Self {
        Self {
            ops: bindings::iommu_domain_ops {
                attach_dev: if T::HAS_ATTACH_DEV {
                    Some(attach_dev_callback::<T>)
                } else {
                    None
                },
                set_dev_pasid: if T::HAS_SET_DEV_PASID {
                    Some(set_dev_pasid_callback::<T>)
                } else {
                    None
                },
                map_pages: if T::HAS_MAP_PAGES {
                    Some(map_pages_callback::<T>)
                } else {
                    None
                },
                unmap_pages: if T::HAS_UNMAP_PAGES {
                    Some(unmap_pages_callback::<T>)
                } else {
                    None
                },
                iova_to_phys: if T::HAS_IOVA_TO_PHYS {
                    Some(iova_to_phys_callback::<T>)
                } else {
                    None
                },
                cache_invalidate_user: if T::HAS_CACHE_INVALIDATE_USER {
                    Some(cache_invalidate_user_callback::<T>)
                } else {
                    None
                },
                // SAFETY: All-zero is a valid `iommu_domain_ops` (no callbacks).
                ..unsafe { core::mem::zeroed() }
            },
            dirty: bindings::iommu_dirty_ops {
                set_dirty_tracking: if T::HAS_SET_DIRTY_TRACKING {
                    Some(set_dirty_tracking_callback::<T>)
                } else {
                    None
                },
                read_and_clear_dirty: if T::HAS_READ_AND_CLEAR_DIRTY {
                    Some(read_and_clear_dirty_callback::<T>)
                } else {
                    None
                },
            },
            _t: PhantomData,
        }
    }
}

impl<T: DomainOps> Default for DomainOpsTable<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// C `free`: drops an allocated domain.
///
/// # Safety
///
/// Called by the iommu core once, when it is done with a domain of `T`.
unsafe extern "C" fn free_callback<T: DomainOps>(domain: *mut bindings::iommu_domain) {
    // SAFETY: A domain with this table's `free` was allocated by `DriverDomain::alloc` in a
    // pinned `KBox` (type invariants); this is its last use, and dropping it in place keeps it
    // pinned.
    drop(unsafe { KBox::from_raw(domain.cast::<DriverDomain<T>>()) });
}

/// C `attach_dev`.
///
/// # Safety
///
/// Called by the iommu core with a live domain of `T` and a live device.
unsafe extern "C" fn attach_dev_callback<T: DomainOps>(
    domain: *mut bindings::iommu_domain,
    dev: *mut bindings::device,
) -> c_int {
    // SAFETY: By the safety requirements.
    let (domain, dev) = unsafe { (DriverDomain::<T>::from_raw(domain), dev_ref(dev)) };
    match T::attach_dev(domain, dev) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// C `set_dev_pasid`.
///
/// # Safety
///
/// Called by the iommu core with a live domain of `T` and a live device.
unsafe extern "C" fn set_dev_pasid_callback<T: DomainOps>(
    domain: *mut bindings::iommu_domain,
    dev: *mut bindings::device,
    pasid: bindings::ioasid_t,
    _old: *mut bindings::iommu_domain,
) -> c_int {
    // SAFETY: By the safety requirements.
    let (domain, dev) = unsafe { (DriverDomain::<T>::from_raw(domain), dev_ref(dev)) };
    match T::set_dev_pasid(domain, dev, pasid) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// C `map_pages`.
///
/// # Safety
///
/// Called by the iommu core with a live domain of `T` and `mapped` valid for writes.
#[allow(clippy::too_many_arguments)]
unsafe extern "C" fn map_pages_callback<T: DomainOps>(
    domain: *mut bindings::iommu_domain,
    iova: c_ulong,
    paddr: bindings::phys_addr_t,
    pgsize: usize,
    pgcount: usize,
    prot: c_int,
    gfp: bindings::gfp_t,
    mapped: *mut usize,
) -> c_int {
    // SAFETY: By the safety requirements.
    let (domain, mapped) = unsafe { (DriverDomain::<T>::from_raw(domain), &mut *mapped) };
    match T::map_pages(domain, iova, paddr, pgsize, pgcount, prot, gfp, mapped) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// C `unmap_pages`.
///
/// # Safety
///
/// Called by the iommu core with a live domain of `T`.
unsafe extern "C" fn unmap_pages_callback<T: DomainOps>(
    domain: *mut bindings::iommu_domain,
    iova: c_ulong,
    pgsize: usize,
    pgcount: usize,
    _iotlb_gather: *mut bindings::iommu_iotlb_gather,
) -> usize {
    // SAFETY: By the safety requirements.
    let domain = unsafe { DriverDomain::<T>::from_raw(domain) };
    T::unmap_pages(domain, iova, pgsize, pgcount)
}

/// C `iova_to_phys`.
///
/// # Safety
///
/// Called by the iommu core with a live domain of `T`.
unsafe extern "C" fn iova_to_phys_callback<T: DomainOps>(
    domain: *mut bindings::iommu_domain,
    iova: bindings::dma_addr_t,
) -> bindings::phys_addr_t {
    // SAFETY: By the safety requirements.
    let domain = unsafe { DriverDomain::<T>::from_raw(domain) };
    T::iova_to_phys(domain, iova)
}

/// C `cache_invalidate_user`.
///
/// # Safety
///
/// Called by the iommu core with a live domain of `T` and a valid, exclusive `array`.
unsafe extern "C" fn cache_invalidate_user_callback<T: DomainOps>(
    domain: *mut bindings::iommu_domain,
    array: *mut bindings::iommu_user_data_array,
) -> c_int {
    // SAFETY: By the safety requirements; `UserDataArray` is transparent over the C structure.
    let (domain, array) = unsafe {
        (
            DriverDomain::<T>::from_raw(domain),
            &mut *array.cast::<UserDataArray>(),
        )
    };
    match T::cache_invalidate_user(domain, array) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// C `set_dirty_tracking`.
///
/// # Safety
///
/// Called by the iommu core with a live domain of `T`.
unsafe extern "C" fn set_dirty_tracking_callback<T: DomainOps>(
    domain: *mut bindings::iommu_domain,
    enable: bool,
) -> c_int {
    // SAFETY: By the safety requirements.
    let domain = unsafe { DriverDomain::<T>::from_raw(domain) };
    match T::set_dirty_tracking(domain, enable) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// C `read_and_clear_dirty`.
///
/// # Safety
///
/// Called by the iommu core with a live domain of `T` and a valid `dirty`.
unsafe extern "C" fn read_and_clear_dirty_callback<T: DomainOps>(
    domain: *mut bindings::iommu_domain,
    iova: c_ulong,
    size: usize,
    flags: c_ulong,
    dirty: *mut bindings::iommu_dirty_bitmap,
) -> c_int {
    // SAFETY: By the safety requirements; `DirtyBitmap` is transparent over the C structure.
    let (domain, dirty) = unsafe {
        (
            DriverDomain::<T>::from_raw(domain),
            &*dirty.cast::<DirtyBitmap<'_>>(),
        )
    };
    match T::read_and_clear_dirty(domain, iova, size, flags, dirty) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// The per-device ops of an IOMMU driver (C `struct iommu_ops`).
///
/// Devices come as `&Device`; the domains a callback returns are [`AllocatedDomain`]s. Devices
/// are grouped by `generic_device_group()` (one group per device).
#[vtable]
pub trait IommuOps: Sized + 'static {
    /// The domain type of `default_domain_ops`.
    type Paging: DomainOps;
    /// The `struct` that `hw_info` returns (C `kfree`s it).
    type HwInfo;

    /// C `pgsize_bitmap`.
    const PGSIZE_BITMAP: usize;
    /// C `user_pasid_table`.
    const USER_PASID_TABLE: bool = false;
    /// C `default_domain` and `blocked_domain`: a static blocking domain (or none).
    const BLOCKED_DOMAIN: Option<&'static RawDomain> = None;

    /// C `capable`.
    fn capable(_dev: &Device, _cap: u32) -> bool {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// C `hw_info`: the information and its type (`IOMMU_HW_INFO_TYPE_*`).
    fn hw_info(_dev: &Device) -> Result<(KBox<Self::HwInfo>, u32)> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// C `domain_alloc_paging` (`dev` is `None` for the legacy bus-wide allocation). The C
    /// return of a failure is NULL.
    fn domain_alloc_paging(_dev: Option<&Device>) -> Result<AllocatedDomain> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// C `domain_alloc_user`.
    fn domain_alloc_user(
        _dev: &Device,
        _flags: u32,
        _parent: Option<&RawDomain>,
        _user_data: Option<&UserData>,
    ) -> Result<AllocatedDomain> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// C `probe_device`: the IOMMU that serves `dev`.
    fn probe_device(_dev: &Device) -> Result<&'static IommuDevice> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// C `page_response` (the fault and response are not passed yet).
    fn page_response(_dev: &Device) {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// C `dev_enable_feat`.
    fn dev_enable_feat(_dev: &Device, _feat: u32) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// C `dev_disable_feat`.
    fn dev_disable_feat(_dev: &Device, _feat: u32) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// C `remove_dev_pasid`.
    fn remove_dev_pasid(_dev: &Device, _pasid: u32, _domain: &RawDomain) {
        build_error!(VTABLE_DEFAULT_ERROR)
    }
}

/// The C `struct iommu_ops` of `T`, for a `static` of the driver.
///
/// # Invariants
///
/// `ops` holds `T`'s trampolines; it is only written (its `owner`) by [`IommuOpsTable::register_bus`]
/// while `registered` is false and it was just set, so while no registration uses it.
pub struct IommuOpsTable<T> {
    ops: Opaque<bindings::iommu_ops>,
    registered: AtomicBool,
    _t: PhantomData<T>,
}

// SAFETY: The table is only written while no registration can read it (type invariant); the
// pointers in it are to statics.
unsafe impl<T> Sync for IommuOpsTable<T> {}

impl<T: IommuOps> IommuOpsTable<T> {
    /// The table.
    pub const fn new() -> Self {
        let blocked = match T::BLOCKED_DOMAIN {
            Some(d) => d.0.get(),
            None => ptr::null_mut(),
        };
        let mut ops = bindings::iommu_ops {
            // IOMMU_DOMAIN_BLOCKED cannot be returned from def_domain_type() because it is zero.
            default_domain: blocked,
            blocked_domain: blocked,
            pgsize_bitmap: T::PGSIZE_BITMAP as c_ulong,
            capable: if T::HAS_CAPABLE {
                Some(capable_callback::<T>)
            } else {
                None
            },
            hw_info: if T::HAS_HW_INFO {
                Some(hw_info_callback::<T>)
            } else {
                None
            },
            domain_alloc_paging: if T::HAS_DOMAIN_ALLOC_PAGING {
                Some(domain_alloc_paging_callback::<T>)
            } else {
                None
            },
            domain_alloc_user: if T::HAS_DOMAIN_ALLOC_USER {
                Some(domain_alloc_user_callback::<T>)
            } else {
                None
            },
            device_group: Some(bindings::generic_device_group),
            probe_device: if T::HAS_PROBE_DEVICE {
                Some(probe_device_callback::<T>)
            } else {
                None
            },
            page_response: if T::HAS_PAGE_RESPONSE {
                Some(page_response_callback::<T>)
            } else {
                None
            },
            dev_enable_feat: if T::HAS_DEV_ENABLE_FEAT {
                Some(dev_enable_feat_callback::<T>)
            } else {
                None
            },
            dev_disable_feat: if T::HAS_DEV_DISABLE_FEAT {
                Some(dev_disable_feat_callback::<T>)
            } else {
                None
            },
            remove_dev_pasid: if T::HAS_REMOVE_DEV_PASID {
                Some(remove_dev_pasid_callback::<T>)
            } else {
                None
            },
            default_domain_ops: &<T::Paging as DomainOps>::OPS.ops,
            // SAFETY: All-zero is a valid `iommu_ops` (null pointers, no callbacks).
            ..unsafe { core::mem::zeroed() }
        };
        // The only bitfield.
        ops._bitfield_1 = bindings::__BindgenBitfieldUnit::new([T::USER_PASID_TABLE as u8]);
        Self {
            ops: Opaque::new(ops),
            registered: AtomicBool::new(false),
            _t: PhantomData,
        }
    }

    /// Registers `iommu` with these ops for the devices of `bus` (C
    /// `iommu_device_register_bus()`, with `owner` = `module`): the iommu core probes the
    /// bus's devices now and as they are added. `EBUSY` if the table is registered already.
    pub fn register_bus<B>(
        &'static self,
        module: &'static ThisModule,
        iommu: &'static IommuDevice,
        bus: &'static crate::bus::StaticBus<B>,
    ) -> Result<BusIommuRegistration<T, B>> {
        if self.registered.swap(true, Ordering::AcqRel) {
            return Err(EBUSY);
        }
        // SAFETY: No registration uses the table (`registered` was false), so nothing reads it
        // concurrently (type invariant). The probes of devices take a reference on `module`.
        unsafe { (*self.ops.get()).owner = module.as_ptr() };
        // SAFETY: The IOMMU, ops, bus and notifier block are statics; the bus registration is
        // the caller's (the core checks it).
        let rc = unsafe {
            ffi::iommu_device_register_bus(
                iommu.as_raw(),
                self.ops.get(),
                bus.as_raw(),
                iommu.nb.get(),
            )
        };
        if let Err(e) = to_result(rc) {
            self.registered.store(false, Ordering::Release);
            return Err(e);
        }
        // INVARIANT: Registered just above.
        Ok(BusIommuRegistration {
            table: self,
            iommu,
            bus,
        })
    }
}

impl<T: IommuOps> Default for IommuOpsTable<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// An IOMMU registered for the devices of a bus; dropping it is C
/// `iommu_device_unregister_bus()`.
///
/// # Invariants
///
/// `iommu` is registered with `table` on `bus`, by this value.
pub struct BusIommuRegistration<T: IommuOps, B: 'static> {
    table: &'static IommuOpsTable<T>,
    iommu: &'static IommuDevice,
    bus: &'static crate::bus::StaticBus<B>,
}

impl<T: IommuOps, B> Drop for BusIommuRegistration<T, B> {
    fn drop(&mut self) {
        // SAFETY: Registered by `register_bus` (type invariant), unregistered once.
        unsafe {
            ffi::iommu_device_unregister_bus(
                self.iommu.as_raw(),
                self.bus.as_raw(),
                self.iommu.nb.get(),
            )
        };
        self.table.registered.store(false, Ordering::Release);
    }
}

/// C `capable`.
///
/// # Safety
///
/// Called by the iommu core with a live device.
unsafe extern "C" fn capable_callback<T: IommuOps>(
    dev: *mut bindings::device,
    cap: bindings::iommu_cap,
) -> bool {
    // SAFETY: By the safety requirements.
    T::capable(unsafe { dev_ref(dev) }, cap)
}

/// C `hw_info`: a `kfree`-able structure.
///
/// # Safety
///
/// Called by the iommu core with a live device; `length` and `type_` are valid for writes.
unsafe extern "C" fn hw_info_callback<T: IommuOps>(
    dev: *mut bindings::device,
    length: *mut u32,
    type_: *mut u32,
) -> *mut c_void {
    // SAFETY: By the safety requirements.
    match T::hw_info(unsafe { dev_ref(dev) }) {
        Ok((info, info_type)) => {
            // SAFETY: `length` and `type_` are writable (safety requirements).
            unsafe {
                *length = size_of::<T::HwInfo>() as u32;
                *type_ = info_type;
            }
            // The caller frees the buffer with `kfree`, which matches the `KBox` (kmalloc).
            KBox::into_raw(info).cast()
        }
        Err(e) => e.to_ptr(),
    }
}

/// C `domain_alloc_paging`: NULL on failure.
///
/// # Safety
///
/// Called by the iommu core with a null or live device.
unsafe extern "C" fn domain_alloc_paging_callback<T: IommuOps>(
    dev: *mut bindings::device,
) -> *mut bindings::iommu_domain {
    // SAFETY: By the safety requirements.
    let dev = (!dev.is_null()).then(|| unsafe { dev_ref(dev) });
    match T::domain_alloc_paging(dev) {
        Ok(domain) => domain.into_raw(),
        Err(_) => ptr::null_mut(),
    }
}

/// C `domain_alloc_user`: an `ERR_PTR` on failure.
///
/// # Safety
///
/// Called by the iommu core with a live device, a null or live `parent` and a null or valid
/// `user_data` (its user pointer is only used through the uaccess routines).
unsafe extern "C" fn domain_alloc_user_callback<T: IommuOps>(
    dev: *mut bindings::device,
    flags: u32,
    parent: *mut bindings::iommu_domain,
    user_data: *const bindings::iommu_user_data,
) -> *mut bindings::iommu_domain {
    // SAFETY: By the safety requirements; `UserData` is transparent over the C structure.
    let (dev, parent, user_data) = unsafe {
        (
            dev_ref(dev),
            (!parent.is_null()).then(|| RawDomain::from_raw(parent)),
            user_data.cast::<UserData>().as_ref(),
        )
    };
    match T::domain_alloc_user(dev, flags, parent, user_data) {
        Ok(domain) => domain.into_raw(),
        Err(e) => e.to_ptr(),
    }
}

/// C `probe_device`.
///
/// # Safety
///
/// Called by the iommu core with a live device.
unsafe extern "C" fn probe_device_callback<T: IommuOps>(
    dev: *mut bindings::device,
) -> *mut bindings::iommu_device {
    // SAFETY: By the safety requirements.
    match T::probe_device(unsafe { dev_ref(dev) }) {
        Ok(iommu) => iommu.as_raw(),
        Err(e) => e.to_ptr(),
    }
}

/// C `page_response`.
///
/// # Safety
///
/// Called by the iommu core with a live device.
unsafe extern "C" fn page_response_callback<T: IommuOps>(
    dev: *mut bindings::device,
    _evt: *mut bindings::iopf_fault,
    _msg: *mut bindings::iommu_page_response,
) {
    // SAFETY: By the safety requirements.
    T::page_response(unsafe { dev_ref(dev) })
}

/// C `dev_enable_feat`.
///
/// # Safety
///
/// Called by the iommu core with a live device.
unsafe extern "C" fn dev_enable_feat_callback<T: IommuOps>(
    dev: *mut bindings::device,
    feat: bindings::iommu_dev_features,
) -> c_int {
    // SAFETY: By the safety requirements.
    match T::dev_enable_feat(unsafe { dev_ref(dev) }, feat) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// C `dev_disable_feat`.
///
/// # Safety
///
/// Called by the iommu core with a live device.
unsafe extern "C" fn dev_disable_feat_callback<T: IommuOps>(
    dev: *mut bindings::device,
    feat: bindings::iommu_dev_features,
) -> c_int {
    // SAFETY: By the safety requirements.
    match T::dev_disable_feat(unsafe { dev_ref(dev) }, feat) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// C `remove_dev_pasid`.
///
/// # Safety
///
/// Called by the iommu core with a live device and a live domain.
unsafe extern "C" fn remove_dev_pasid_callback<T: IommuOps>(
    dev: *mut bindings::device,
    pasid: bindings::ioasid_t,
    domain: *mut bindings::iommu_domain,
) {
    // SAFETY: By the safety requirements.
    let (dev, domain) = unsafe { (dev_ref(dev), RawDomain::from_raw(domain)) };
    T::remove_dev_pasid(dev, pasid, domain)
}

/// A C `struct iommu_device` (and the notifier block of its bus registration) in a `static`.
///
/// # Invariants
///
/// After [`IommuDevice::new`], only the iommu core writes the structures, under its own locks.
pub struct IommuDevice {
    dev: Opaque<bindings::iommu_device>,
    nb: Opaque<bindings::notifier_block>,
    /// Whether the IOMMU is in sysfs ([`IommuDevice::sysfs_add`]).
    in_sysfs: AtomicBool,
}

// SAFETY: Only the iommu core writes the structures (type invariant); Rust code hands out their
// addresses.
unsafe impl Sync for IommuDevice {}

impl IommuDevice {
    /// An unregistered IOMMU whose devices have up to `max_pasids` PASIDs.
    pub const fn new(max_pasids: u32) -> Self {
        Self {
            dev: Opaque::new(bindings::iommu_device {
                max_pasids,
                // SAFETY: All-zero is a valid unregistered `iommu_device`.
                ..unsafe { core::mem::zeroed() }
            }),
            // SAFETY: All-zero is a valid unregistered `notifier_block`.
            nb: Opaque::new(unsafe { core::mem::zeroed() }),
            in_sysfs: AtomicBool::new(false),
        }
    }

    /// The C `struct iommu_device`.
    pub fn as_raw(&self) -> *mut bindings::iommu_device {
        self.dev.get()
    }

    /// Adds the IOMMU to sysfs as `name` under `parent` (C `iommu_device_sysfs_add()`);
    /// removed when the returned value is dropped. `EBUSY` if it is in sysfs already.
    pub fn sysfs_add(
        &'static self,
        parent: &Device,
        name: &CStr,
    ) -> Result<IommuSysfsRegistration> {
        if self.in_sysfs.swap(true, Ordering::AcqRel) {
            return Err(EBUSY);
        }
        // SAFETY: The IOMMU is a static not in sysfs (`in_sysfs` was false); `parent` is live;
        // the format takes one string, which the callee copies. Removed once by the
        // registration's drop.
        let rc = unsafe {
            bindings::iommu_device_sysfs_add(
                self.as_raw(),
                raw_dev(parent),
                ptr::null_mut(),
                kernel::c_str!("%s").as_char_ptr(),
                name.as_char_ptr(),
            )
        };
        if let Err(e) = to_result(rc) {
            self.in_sysfs.store(false, Ordering::Release);
            return Err(e);
        }
        // INVARIANT: Added just above.
        Ok(IommuSysfsRegistration { iommu: self })
    }
}

/// An IOMMU in sysfs; dropping it is C `iommu_device_sysfs_remove()`.
///
/// # Invariants
///
/// `iommu` was added to sysfs by this value.
pub struct IommuSysfsRegistration {
    iommu: &'static IommuDevice,
}

impl Drop for IommuSysfsRegistration {
    fn drop(&mut self) {
        // SAFETY: Added by `sysfs_add` (type invariant), removed once.
        unsafe { bindings::iommu_device_sysfs_remove(self.iommu.as_raw()) };
        self.iommu.in_sysfs.store(false, Ordering::Release);
    }
}

/// A slot for the IOPF queue of a driver (C `struct iopf_queue *`), for a `static` that the
/// ops callbacks reach.
///
/// # Invariants
///
/// `queue` is null or a queue from `iopf_queue_alloc`, freed only by [`IopfQueueSlot::free`].
pub struct IopfQueueSlot {
    queue: AtomicPtr<bindings::iopf_queue>,
}

impl IopfQueueSlot {
    /// An empty slot.
    pub const fn new() -> Self {
        Self {
            queue: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// Allocates the queue (C `iopf_queue_alloc()`), replacing nothing: `EBUSY` if the slot is
    /// full, `ENOMEM` if the allocation fails.
    pub fn alloc(&self, name: &'static CStr) -> Result {
        // SAFETY: The name is a static string.
        let queue = unsafe { bindings::iopf_queue_alloc(name.as_char_ptr()) };
        if queue.is_null() {
            return Err(ENOMEM);
        }
        if self
            .queue
            .compare_exchange(ptr::null_mut(), queue, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            // SAFETY: Allocated above and never shared.
            unsafe { bindings::iopf_queue_free(queue) };
            return Err(EBUSY);
        }
        Ok(())
    }

    /// C `iopf_queue_add_device()`; `ENODEV` without a queue.
    pub fn add_device(&self, dev: &Device) -> Result {
        let queue = self.queue.load(Ordering::Acquire);
        if queue.is_null() {
            return Err(ENODEV);
        }
        // SAFETY: The queue is live until `free`, whose callers guarantee that no queue
        // operation runs (its safety requirements); `dev` is live.
        to_result(unsafe { bindings::iopf_queue_add_device(queue, raw_dev(dev)) })
    }

    /// C `iopf_queue_remove_device()`; `ENODEV` without a queue.
    pub fn remove_device(&self, dev: &Device) -> Result {
        let queue = self.queue.load(Ordering::Acquire);
        if queue.is_null() {
            return Err(ENODEV);
        }
        // SAFETY: As in `add_device`.
        unsafe { bindings::iopf_queue_remove_device(queue, raw_dev(dev)) };
        Ok(())
    }

    /// Frees the queue, if any (C `iopf_queue_free()`).
    ///
    /// # Safety
    ///
    /// No `add_device` or `remove_device` runs or can start on the slot until a new `alloc`.
    pub unsafe fn free(&self) {
        let queue = self.queue.swap(ptr::null_mut(), Ordering::AcqRel);
        if !queue.is_null() {
            // SAFETY: Allocated by `alloc` (type invariant) and taken out of the slot; nobody
            // else uses it (safety requirements).
            unsafe { bindings::iopf_queue_free(queue) };
        }
    }
}

impl Default for IopfQueueSlot {
    fn default() -> Self {
        Self::new()
    }
}
