// SPDX-License-Identifier: GPL-2.0

//! IOMMU domains (`struct iommu_domain`): an IO page table that devices translate through.

use super::{dev_raw, dirty::DirtyBitmap, dirty::IotlbGather, eopnotsupp, ptr, rc};
use core::ptr::NonNull;
use kernel::{bindings, device::Device, prelude::*};

/// A driver-specific allocation request from user space (C `struct iommu_user_data`): the
/// driver copies `len` bytes of its `data_type` from `uptr` itself, with [`UserData::copy_struct`].
///
/// The one type for both sides: iommufd builds it for [`Domain::alloc_user`], and a driver's
/// [`IommuOps::domain_alloc_user`](super::driver::IommuOps::domain_alloc_user) receives it.
///
/// # Invariants
///
/// `uptr` is only used through the uaccess routines, so any value is fine.
#[repr(transparent)]
pub struct UserData(bindings::iommu_user_data);

impl UserData {
    /// The request of `len` bytes at the user address `uptr`, of type `data_type`.
    pub fn new(data_type: u32, uptr: usize, len: usize) -> Self {
        UserData(bindings::iommu_user_data {
            type_: data_type,
            uptr: uptr as *mut core::ffi::c_void,
            len,
        })
    }

    /// C `data->type`.
    pub fn data_type(&self) -> u32 {
        self.0.type_
    }

    /// C `data->len`: the length in bytes, as user space gave it.
    pub fn data_len(&self) -> usize {
        self.0.len
    }

    /// C `iommu_copy_struct_from_user()`: copies the data, which must be of type `data_type`,
    /// into `dst`, of which the first `min_len` bytes are required; `EINVAL` otherwise.
    pub fn copy_struct(&self, dst: &mut [u8], data_type: u32, min_len: usize) -> Result {
        super::driver::copy_user_data(
            dst,
            data_type,
            min_len,
            self.0.type_,
            self.0.uptr as usize,
            self.0.len,
        )
    }

    fn as_raw(&self) -> *const bindings::iommu_user_data {
        &self.0
    }
}

/// An IOMMU domain that belongs to us: allocated through the iommu core or a driver's
/// `domain_alloc_user`, freed with `iommu_domain_free()` when dropped.
///
/// Shared as `Arc<Domain>` by whatever must keep it alive while it is in use (the page table
/// object owning it, an io_pagetable filling it, an attachment): it is freed after the last.
///
/// # Invariants
///
/// `ptr` is a valid domain, freed only by `Drop`. Its `ops`, `dirty_ops`, `type_`,
/// `pgsize_bitmap` and `geometry` are set by the allocator and not changed afterwards.
pub struct Domain {
    ptr: NonNull<bindings::iommu_domain>,
}

// SAFETY: The iommu API may be called on a domain from any thread; a domain has no thread
// affinity.
unsafe impl Send for Domain {}
// SAFETY: The operations offered through `&Domain` (map, unmap, dirty reads) may run
// concurrently: the drivers serialise their own page table updates, and overlapping ranges are
// the caller's business, as in C.
unsafe impl Sync for Domain {}

impl Drop for Domain {
    fn drop(&mut self) {
        // SAFETY: By the type invariants we own the domain and nothing else frees it; being
        // dropped, no attachment or io_pagetable holds it any more (they hold an `Arc`).
        unsafe { bindings::iommu_domain_free(self.ptr.as_ptr()) };
    }
}

impl Domain {
    /// Takes ownership of a domain.
    ///
    /// # Safety
    ///
    /// `ptr` must be a valid, fully initialised domain that nothing else frees.
    pub unsafe fn from_raw(ptr: NonNull<bindings::iommu_domain>) -> Domain {
        // INVARIANT: By the safety requirements.
        Domain { ptr }
    }

    /// `iommu_paging_domain_alloc()`: the default paging domain of `dev`'s IOMMU.
    pub fn alloc_paging(dev: &Device) -> Result<Domain> {
        // SAFETY: `dev` is a live device (a reference to it exists).
        let p = ptr(unsafe { bindings::iommu_paging_domain_alloc(dev_raw(dev)) })?;
        // SAFETY: A new domain from the iommu core, ours alone.
        Ok(unsafe { Domain::from_raw(p) })
    }

    /// Whether `dev`'s IOMMU driver has `domain_alloc_user` (iommufd-specific allocation).
    pub fn has_alloc_user(dev: &Device) -> bool {
        super::dev::iommu_ops(dev).is_some_and(|ops| ops.domain_alloc_user.is_some())
    }

    /// The driver's `domain_alloc_user(dev, flags, parent, user_data)`, with the domain's
    /// `owner` set to the driver, as the iommu core's own allocators do. `EOPNOTSUPP` when the
    /// driver has none.
    pub fn alloc_user(
        dev: &Device,
        flags: u32,
        parent: Option<&Domain>,
        data: Option<&UserData>,
    ) -> Result<Domain> {
        let ops = super::dev::iommu_ops(dev).ok_or(ENODEV)?;
        let alloc = ops.domain_alloc_user.ok_or_else(eopnotsupp)?;
        let data_ptr = data.map_or(core::ptr::null(), UserData::as_raw);
        let parent_ptr = parent.map_or(core::ptr::null_mut(), |p| p.as_raw());
        // SAFETY: A driver op for a device it probed; `parent` is a live domain of ours and
        // `data_ptr` is null or valid for the call.
        let p = ptr(unsafe { alloc(dev_raw(dev), flags, parent_ptr, data_ptr) })?;
        // SAFETY: The driver's new domain is ours alone; `owner` is set before anybody sees it.
        unsafe { (*p.as_ptr()).owner = ops };
        // SAFETY: As above: a new, fully initialised domain nobody else frees.
        Ok(unsafe { Domain::from_raw(p) })
    }

    /// The raw `struct iommu_domain *`, for C APIs that take one.
    pub fn as_raw(&self) -> *mut bindings::iommu_domain {
        self.ptr.as_ptr()
    }

    fn raw(&self) -> &bindings::iommu_domain {
        // SAFETY: By the type invariants the domain is valid while we exist; the fields read
        // through this reference are not written after allocation.
        unsafe { self.ptr.as_ref() }
    }

    /// `domain->type` (`IOMMU_DOMAIN_*`).
    pub fn domain_type(&self) -> u32 {
        self.raw().type_
    }

    /// The smallest IO page size the domain maps (`1 << __ffs(pgsize_bitmap)`); `None` if the
    /// driver gave no page sizes.
    pub fn min_page_size(&self) -> Option<u64> {
        let bitmap = self.raw().pgsize_bitmap as u64;
        (bitmap != 0).then(|| 1u64 << bitmap.trailing_zeros())
    }

    /// The page sizes the domain maps (`pgsize_bitmap`).
    pub fn pgsize_bitmap(&self) -> u64 {
        self.raw().pgsize_bitmap as u64
    }

    /// The domain's aperture, `[aperture_start, aperture_end]`.
    pub fn aperture(&self) -> (u64, u64) {
        let g = &self.raw().geometry;
        (g.aperture_start, g.aperture_end)
    }

    /// `iommu_map()`: maps `[iova, iova + size)` to the physical range at `paddr`. Page table
    /// memory is allocated with `GFP_KERNEL_ACCOUNT`: charged to the caller, whose request
    /// the mapping serves.
    ///
    /// # Safety
    ///
    /// Devices attached to the domain may access `[paddr, paddr + size)` as soon as this
    /// returns: the caller must own that memory (e.g. hold its pages pinned) until it unmaps
    /// the range.
    pub unsafe fn map(&self, iova: u64, paddr: u64, size: u64, prot: u32) -> Result {
        // SAFETY: The domain is valid (type invariants); the physical range is the caller's
        // (safety requirements).
        rc(unsafe {
            bindings::iommu_map(
                self.as_raw(),
                iova as _,
                paddr as _,
                size as usize,
                prot as i32,
                bindings::GFP_KERNEL_ACCOUNT,
            )
        })
    }

    /// `iommu_unmap()`: unmaps `[iova, iova + size)`; returns how many bytes the driver
    /// unmapped.
    pub fn unmap(&self, iova: u64, size: u64) -> u64 {
        // SAFETY: The domain is valid (type invariants). Unmapping only takes access away.
        unsafe { bindings::iommu_unmap(self.as_raw(), iova as _, size as usize) as u64 }
    }

    /// `iommu_iova_to_phys()`: the physical address `iova` translates to, 0 if none.
    pub fn iova_to_phys(&self, iova: u64) -> u64 {
        // SAFETY: The domain is valid (type invariants); a lookup.
        unsafe { bindings::iommu_iova_to_phys(self.as_raw(), iova as _) as u64 }
    }

    /// `iommu_get_msi_cookie()`: the software MSI window at `base`.
    pub fn get_msi_cookie(&self, base: u64) -> Result {
        // SAFETY: The domain is valid (type invariants).
        rc(unsafe { bindings::iommu_get_msi_cookie(self.as_raw(), base as _) })
    }

    /// The driver's `enforce_cache_coherency` op: `Err(EINVAL)` when it has none or refuses.
    pub fn enforce_cache_coherency(&self) -> Result {
        let ops = self.raw().ops;
        // SAFETY: A domain's `ops` is the driver's static table, or null.
        let op = unsafe { ops.as_ref() }.and_then(|o| o.enforce_cache_coherency);
        match op {
            // SAFETY: A driver op on its own domain.
            Some(f) if unsafe { f(self.as_raw()) } => Ok(()),
            _ => Err(EINVAL),
        }
    }

    /// `iommu_iotlb_sync()`: flushes what `gather` collected, and empties it.
    pub fn iotlb_sync(&self, gather: &mut IotlbGather) {
        let ops = self.raw().ops;
        // SAFETY: A domain's `ops` is the driver's static table, or null.
        if let Some(sync) = unsafe { ops.as_ref() }.and_then(|o| o.iotlb_sync) {
            // SAFETY: A driver op on its domain with a gather that its own ops filled.
            unsafe { sync(self.as_raw(), gather.as_raw()) };
        }
        gather.reset();
    }

    /// Whether the driver tracks dirty IOVAs on this domain (`domain->dirty_ops`).
    pub fn has_dirty_ops(&self) -> bool {
        self.dirty_ops().is_some()
    }

    fn dirty_ops(&self) -> Option<&bindings::iommu_dirty_ops> {
        // SAFETY: `dirty_ops` is the driver's static table, or null (type invariants).
        unsafe { self.raw().dirty_ops.as_ref() }
    }

    /// The driver's `set_dirty_tracking` op. `EOPNOTSUPP` without dirty ops.
    pub fn set_dirty_tracking(&self, enable: bool) -> Result {
        let set = self
            .dirty_ops()
            .and_then(|o| o.set_dirty_tracking)
            .ok_or_else(eopnotsupp)?;
        // SAFETY: A driver op on its own domain.
        rc(unsafe { set(self.as_raw(), enable) })
    }

    /// Whether the driver can read dirty bits (`dirty_ops->read_and_clear_dirty`).
    pub fn can_read_dirty(&self) -> bool {
        self.dirty_ops()
            .is_some_and(|o| o.read_and_clear_dirty.is_some())
    }

    /// The driver's `read_and_clear_dirty` op on `[iova, iova + size)`: records dirty IOVAs in
    /// `dirty` (none when it has no bitmap: clear only) and, unless `flags` has
    /// `IOMMU_DIRTY_NO_CLEAR`, clears them, queueing the flush in `dirty`'s gather.
    /// `EOPNOTSUPP` without the op.
    pub fn read_and_clear_dirty(
        &self,
        iova: u64,
        size: u64,
        flags: u32,
        dirty: &mut DirtyBitmap<'_>,
    ) -> Result {
        let read = self
            .dirty_ops()
            .and_then(|o| o.read_and_clear_dirty)
            .ok_or_else(eopnotsupp)?;
        // SAFETY: A driver op on its own domain; `dirty` points to a live gather and a bitmap
        // (or null) for the call.
        rc(unsafe {
            read(
                self.as_raw(),
                iova as _,
                size as usize,
                flags as _,
                dirty.as_raw(),
            )
        })
    }

    /// Whether the domain's driver handles user cache invalidations (`cache_invalidate_user`).
    pub fn has_cache_invalidate_user(&self) -> bool {
        let ops = self.raw().ops;
        // SAFETY: A domain's `ops` is the driver's static table, or null.
        unsafe { ops.as_ref() }.is_some_and(|o| o.cache_invalidate_user.is_some())
    }

    /// Whether the domain belongs to the IOMMU driver of `dev` (C `domain->owner ==
    /// dev_iommu_ops(dev)`).
    pub fn owned_by_driver_of(&self, dev: &Device) -> bool {
        super::dev::iommu_ops(dev).is_some_and(|ops| core::ptr::eq(self.raw().owner, ops))
    }

    /// The driver's `cache_invalidate_user` op on a nested domain with the user's array of
    /// `entry_num` entries of `entry_len` bytes of `data_type` at `uptr`. Returns the number of
    /// entries handled, and the op's result.
    pub fn cache_invalidate_user(
        &self,
        data_type: u32,
        uptr: usize,
        entry_len: u32,
        entry_num: u32,
    ) -> (u32, Result) {
        let ops = self.raw().ops;
        // SAFETY: A domain's `ops` is the driver's static table, or null.
        let Some(inval) = unsafe { ops.as_ref() }.and_then(|o| o.cache_invalidate_user) else {
            return (entry_num, Err(eopnotsupp()));
        };
        let mut array = bindings::iommu_user_data_array {
            type_: data_type,
            uptr: uptr as *mut core::ffi::c_void,
            entry_len: entry_len as usize,
            entry_num,
        };
        // SAFETY: A driver op on its own domain; `array` is valid for the call. The driver
        // copies from user memory itself.
        let r = rc(unsafe { inval(self.as_raw(), &mut array) });
        (array.entry_num, r)
    }
}
