// SPDX-License-Identifier: GPL-2.0

//! Dirty tracking plumbing of the iommu core: the IOTLB flush gather
//! (`struct iommu_iotlb_gather`), the user bitmap iterator (`struct iova_bitmap`,
//! `drivers/iommu/iommufd/iova_bitmap.c`) and the pair a driver records dirty IOVAs into
//! (`struct iommu_dirty_bitmap`).

use core::{ffi::c_void, marker::PhantomData, ptr::NonNull};
use kernel::{bindings, error::Error, prelude::*, types::Opaque};

/// A `struct iommu_iotlb_gather` (C `iommu_iotlb_gather_init()`): the flushes a driver queued
/// while unmapping or clearing dirty bits, done by [`super::Domain::iotlb_sync`].
///
/// # Invariants
///
/// `g` is initialised: its free list is an empty list pointing into the box, which never moves.
pub struct IotlbGather {
    g: KBox<bindings::iommu_iotlb_gather>,
}

// SAFETY: A gather is plain data owned by its user; it may move between threads.
unsafe impl Send for IotlbGather {}

impl IotlbGather {
    /// An empty gather.
    pub fn new(flags: kernel::alloc::Flags) -> Result<IotlbGather> {
        let mut g = KBox::new(
            bindings::iommu_iotlb_gather {
                start: u64::MAX as _,
                end: 0,
                pgsize: 0,
                freelist: bindings::list_head {
                    next: core::ptr::null_mut(),
                    prev: core::ptr::null_mut(),
                },
                queued: false,
            },
            flags,
        )?;
        // The boxed gather does not move: its free list may point to itself (`INIT_LIST_HEAD`).
        let head: *mut bindings::list_head = &mut g.freelist;
        g.freelist.next = head;
        g.freelist.prev = head;
        // INVARIANT: Initialised as `iommu_iotlb_gather_init()` does, in a box.
        Ok(IotlbGather { g })
    }

    pub(crate) fn as_raw(&mut self) -> *mut bindings::iommu_iotlb_gather {
        &mut *self.g
    }

    /// Back to empty after a sync (the rest of `iommu_iotlb_gather_init()`; the free list is
    /// emptied by the driver's sync).
    pub(crate) fn reset(&mut self) {
        self.g.start = u64::MAX as _;
        self.g.end = 0;
        self.g.pgsize = 0;
        self.g.queued = false;
    }
}

/// A user bitmap of dirty IOVAs (C `iova_bitmap_alloc()`): one bit per `page_size` of
/// `[iova, iova + length)`, at user address `data`. The iterator pins the user pages of one
/// chunk at a time ([`IovaBitmap::for_each`]).
///
/// # Invariants
///
/// `ptr` came from `iova_bitmap_alloc()` and is freed only by `Drop`.
pub struct IovaBitmap {
    ptr: NonNull<bindings::iova_bitmap>,
}

impl Drop for IovaBitmap {
    fn drop(&mut self) {
        // SAFETY: By the type invariants the bitmap is ours, freed once.
        unsafe { bindings::iova_bitmap_free(self.ptr.as_ptr()) };
    }
}

/// What [`IovaBitmap::for_each`] passes to its trampoline.
struct ForEach<'a, F> {
    f: &'a mut F,
}

impl IovaBitmap {
    /// `iova_bitmap_alloc()`. The user address is checked when the bitmap's pages are pinned.
    pub fn alloc(iova: u64, length: u64, page_size: u64, data: u64) -> Result<IovaBitmap> {
        // SAFETY: `iova_bitmap_alloc` validates its arguments and pins the user bitmap itself
        // (through `pin_user_pages_fast`), so any user address is fine.
        let p = unsafe {
            bindings::iova_bitmap_alloc(
                iova as _,
                length as usize,
                page_size as _,
                data as usize as *mut u64,
            )
        };
        // INVARIANT: A bitmap `iova_bitmap_alloc` returned.
        Ok(IovaBitmap {
            ptr: super::ptr(p)?,
        })
    }

    /// `iova_bitmap_for_each()`: calls `f(dirty, iova, length)` for each chunk of the bitmap
    /// whose pages are pinned; `dirty` records into that chunk and queues its flushes in
    /// `gather`. Stops at the first error.
    pub fn for_each<F>(&mut self, gather: &mut IotlbGather, mut f: F) -> Result
    where
        F: FnMut(&mut DirtyBitmap<'_>, u64, u64) -> Result,
    {
        let gather_ptr = gather.as_raw();
        let mut arg = (ForEach { f: &mut f }, gather_ptr);
        // SAFETY: `arg` outlives the call and `trampoline::<F>` is what reads it; the bitmap is
        // ours (type invariants).
        super::rc(unsafe {
            bindings::iova_bitmap_for_each(
                self.ptr.as_ptr(),
                (&mut arg as *mut (ForEach<'_, F>, *mut bindings::iommu_iotlb_gather)).cast(),
                Some(trampoline::<F>),
            )
        })
    }
}

/// The `iova_bitmap_fn_t` behind [`IovaBitmap::for_each`].
///
/// # Safety
///
/// `opaque` is the `(ForEach<F>, gather)` pair `for_each` passes and `bitmap` the live
/// iterator it was called with.
unsafe extern "C" fn trampoline<F>(
    bitmap: *mut bindings::iova_bitmap,
    iova: kernel::ffi::c_ulong,
    length: usize,
    opaque: *mut c_void,
) -> core::ffi::c_int
where
    F: FnMut(&mut DirtyBitmap<'_>, u64, u64) -> Result,
{
    // SAFETY: By the function's safety requirements.
    let arg = unsafe { &mut *opaque.cast::<(ForEach<'_, F>, *mut bindings::iommu_iotlb_gather)>() };
    // INVARIANT: The live iterator the callback got, and the gather `for_each` borrows.
    let mut dirty = DirtyBitmap {
        raw: Opaque::new(bindings::iommu_dirty_bitmap {
            bitmap,
            gather: arg.1,
        }),
        _p: PhantomData,
    };
    match (arg.0.f)(&mut dirty, iova as u64, length as u64) {
        Ok(()) => 0,
        Err(e) => Error::to_errno(e),
    }
}

/// Where a driver records dirty IOVAs (C `struct iommu_dirty_bitmap`): a chunk of a user
/// bitmap, or none (clear only), and the gather of the flushes that clearing needs.
///
/// The one type for both sides: iommufd builds it ([`DirtyBitmap::clear_only`],
/// [`IovaBitmap::for_each`]) and passes it to [`super::Domain::read_and_clear_dirty`]; a driver's
/// [`DomainOps::read_and_clear_dirty`](super::driver::DomainOps::read_and_clear_dirty) gets it
/// from the iommu core and records into it.
///
/// # Invariants
///
/// `raw.bitmap` is null or a live iterator, and `raw.gather` a live gather, for `'a`. The C
/// structure itself is only read, by us and by `iommu_dirty_bitmap_record()`.
#[repr(transparent)]
pub struct DirtyBitmap<'a> {
    raw: Opaque<bindings::iommu_dirty_bitmap>,
    _p: PhantomData<&'a mut IotlbGather>,
}

impl<'a> DirtyBitmap<'a> {
    /// Records nothing: the driver only clears dirty bits, queueing its flushes in `gather`.
    pub fn clear_only(gather: &'a mut IotlbGather) -> DirtyBitmap<'a> {
        // INVARIANT: No bitmap, and a gather borrowed for `'a`.
        DirtyBitmap {
            raw: Opaque::new(bindings::iommu_dirty_bitmap {
                bitmap: core::ptr::null_mut(),
                gather: gather.as_raw(),
            }),
            _p: PhantomData,
        }
    }

    /// Whether there is a bitmap to record into (C `dirty->bitmap != NULL`; without one, the
    /// caller only clears the dirty bits).
    pub fn has_bitmap(&self) -> bool {
        // SAFETY: `raw` is initialised and nobody writes it (type invariants).
        !unsafe { (*self.raw.get()).bitmap }.is_null()
    }

    /// C `iommu_dirty_bitmap_record()`: records `[iova, iova + length)` as dirty.
    pub fn record(&self, iova: usize, length: usize) {
        // SAFETY: The bitmap is null or live and the gather live for `'a` (type invariants);
        // the function ignores a null bitmap and only reads the structure.
        unsafe {
            bindings::iommu_dirty_bitmap_record(
                self.raw.get(),
                iova as kernel::ffi::c_ulong,
                length as kernel::ffi::c_ulong,
            )
        };
    }

    pub(crate) fn as_raw(&mut self) -> *mut bindings::iommu_dirty_bitmap {
        self.raw.get()
    }
}
