// SPDX-License-Identifier: GPL-2.0

//! Pinned user pages (`FOLL_PIN`) and the accounting of long-term pins.
//!
//! C header: [`include/linux/mm.h`](srctree/include/linux/mm.h).
//!
//! [`PinnedPages`] owns the pins of a table of user pages (`pin_user_pages_fast()`,
//! `pin_user_pages_remote()`) and gives them back on drop or when a range is released
//! (`unpin_user_pages_dirty_lock()`); [`PinnedPage`] owns one pin. [`PinCharge`] owns what such
//! pins are charged (a user's or an mm's `locked_vm`, and the mm's `pinned_vm`) and gives it
//! back on drop. [`UserPageRef`] holds a plain GUP reference (`FOLL_GET`) of one page.

use core::{
    marker::PhantomData,
    ops::Range,
    ptr::NonNull,
    sync::atomic::{AtomicUsize, Ordering},
};
use kernel::{
    alloc::{AllocError, Flags},
    bindings,
    ffi::{c_int, c_ulong},
    page::PAGE_SIZE,
    prelude::*,
    task::Task,
    types::ARef,
};

use crate::{
    mm::{Mm, MmapReadGuard},
    task_ext::TaskExt,
    user::User,
};

/// The pins held by every [`PinnedPages`] and [`PinnedPage`]: counted where they are made and
/// released, so it is exactly what the users of this module (iommufd) hold pinned.
static PINNED: AtomicUsize = AtomicUsize::new(0);

/// The pages charged by every [`PinCharge`] (to `pinned_vm`, and to a `locked_vm` as its mode
/// says).
static CHARGED: AtomicUsize = AtomicUsize::new(0);

/// The pages currently pinned through this module ([`PinnedPages`], [`PinnedPage`]).
pub fn pinned_pages() -> usize {
    PINNED.load(Ordering::Relaxed)
}

/// The pages currently charged through this module ([`PinCharge`]).
pub fn charged_pages() -> usize {
    CHARGED.load(Ordering::Relaxed)
}

/// Flags of a GUP call (C `FOLL_*`). `FOLL_PIN` is implied by the pinning functions.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct GupFlags(u32);

impl GupFlags {
    /// No flag: read-only access.
    pub const NONE: Self = Self(0);
    /// `FOLL_WRITE`: the pages will be written (copy-on-write is broken first).
    pub const WRITE: Self = Self(bindings::FOLL_WRITE);
    /// `FOLL_LONGTERM`: the pin is held for an unbounded time (the pages are migrated out of
    /// movable zones and `CMA` first).
    pub const LONGTERM: Self = Self(bindings::FOLL_LONGTERM);

    /// Whether every flag of `other` is set in `self`.
    pub fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }
}

impl core::ops::BitOr for GupFlags {
    type Output = Self;

    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

/// A page that stays pinned (or otherwise held) for the lifetime `'a`.
///
/// # Invariants
///
/// `page` is a valid `struct page` held by someone for at least `'a`.
#[derive(Clone, Copy)]
pub struct PageRef<'a> {
    page: NonNull<bindings::page>,
    _p: PhantomData<&'a bindings::page>,
}

impl<'a> PageRef<'a> {
    /// The raw `struct page` pointer.
    pub fn as_raw(self) -> *mut bindings::page {
        self.page.as_ptr()
    }

    /// The page frame number (C `page_to_pfn()`).
    #[inline]
    pub fn pfn(self) -> usize {
        // SAFETY: The page is valid (type invariants).
        let pfn = unsafe { bindings::page_to_pfn(self.as_raw()) };
        pfn as usize
    }

    /// Whether the page is part of a compound page (C `PageCompound()`).
    pub fn is_compound(self) -> bool {
        // SAFETY: The page is valid (type invariants).
        unsafe { bindings::PageCompound(self.as_raw()) }
    }

    /// The page's reference count (C `page_ref_count()`); each pin adds
    /// `GUP_PIN_COUNTING_BIAS` to it.
    pub fn ref_count(self) -> i32 {
        // SAFETY: The page is valid (type invariants); the read is atomic.
        unsafe { bindings::page_ref_count(self.as_raw()) }
    }

    /// Marks the page dirty, taking its lock (C `set_page_dirty_lock()`). May sleep.
    pub fn set_dirty_lock(self) {
        // SAFETY: The page is valid (type invariants) and held, as the callee requires. Its
        // return value only says whether the page was clean before.
        let _ = unsafe { bindings::set_page_dirty_lock(self.as_raw()) };
    }

    /// Maps the page into the kernel for the duration of `f` (C `kmap_local_page()`, then
    /// `kunmap_local()`). Nested mappings are undone in reverse order, as kmap_local needs.
    pub fn with_kmap_local<T>(self, f: impl FnOnce(&KmapLocal<'_>) -> T) -> T {
        // SAFETY: The page is valid and held (type invariants); the mapping is undone below,
        // in the same task, after every mapping made inside `f` was undone.
        let addr = unsafe { bindings::kmap_local_page(self.as_raw()) };
        // INVARIANT: `kmap_local_page` maps the whole page and never fails.
        let map = KmapLocal {
            addr: addr.cast::<u8>(),
            _p: PhantomData,
        };
        let r = f(&map);
        // SAFETY: `addr` is the mapping made above; `map` is no longer used.
        unsafe { bindings::kunmap_local(addr.cast_const()) };
        r
    }
}

/// A page mapped into the kernel by [`PageRef::with_kmap_local`].
///
/// The contents are user memory that other tasks and devices may change at any time, so they
/// are only copied, never borrowed.
///
/// # Invariants
///
/// `addr` maps `PAGE_SIZE` bytes of a held page for `'a`.
pub struct KmapLocal<'a> {
    addr: *mut u8,
    _p: PhantomData<&'a mut u8>,
}

impl KmapLocal<'_> {
    /// `EINVAL` unless `[offset, offset + len)` lies within the page.
    fn check(offset: usize, len: usize) -> Result {
        match offset.checked_add(len) {
            Some(end) if end <= PAGE_SIZE => Ok(()),
            _ => Err(EINVAL),
        }
    }

    /// Copies `out.len()` bytes of the page at `offset` to `out`; `EINVAL` past the page.
    pub fn read(&self, offset: usize, out: &mut [u8]) -> Result {
        Self::check(offset, out.len())?;
        // SAFETY: `addr` maps the whole page (type invariants) and the range is within it;
        // `out` is a kernel buffer distinct from the page.
        unsafe {
            core::ptr::copy_nonoverlapping(self.addr.add(offset), out.as_mut_ptr(), out.len())
        };
        Ok(())
    }

    /// Copies `data` into the page at `offset`; `EINVAL` past the page.
    pub fn write(&self, offset: usize, data: &[u8]) -> Result {
        Self::check(offset, data.len())?;
        // SAFETY: `addr` maps the whole page (type invariants) and the range is within it;
        // `data` is a kernel buffer distinct from the page.
        unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), self.addr.add(offset), data.len()) };
        Ok(())
    }
}

/// The result of a one-page GUP call (`got` is what it returned, `page` the array of one it
/// filled): the error it returned, `None` if it got nothing, or the page it stored, on which
/// it took a pin or reference for the caller.
fn one_page(got: i64, page: *mut bindings::page) -> Result<Option<NonNull<bindings::page>>> {
    if got < 0 {
        return Err(Error::from_errno(got as c_int));
    }
    if got == 0 {
        return Ok(None);
    }
    Ok(NonNull::new(page))
}

/// One pinned user page, unpinned on drop (C `unpin_user_page()`).
///
/// # Invariants
///
/// `page` holds one `FOLL_PIN` pin, owned by `self`.
pub struct PinnedPage {
    page: NonNull<bindings::page>,
}

// SAFETY: A pin may be released from any task.
unsafe impl Send for PinnedPage {}
// SAFETY: `&PinnedPage` only gives a `PageRef`, whose operations are safe from any task.
unsafe impl Sync for PinnedPage {}

impl PinnedPage {
    /// Pins the page at user address `uaddr` of the locked mm (C `pin_user_pages_remote()` of
    /// one page). `Ok(None)` if GUP pinned nothing.
    pub fn pin_remote(
        mm: &MmapReadGuard<'_>,
        uaddr: usize,
        flags: GupFlags,
    ) -> Result<Option<Self>> {
        let mut page: *mut bindings::page = core::ptr::null_mut();
        // SAFETY: The mm is alive and its mmap lock held for reading (`mm`'s invariants), so
        // no `locked` pointer is passed; `page` is a valid array of one.
        let got = unsafe {
            bindings::pin_user_pages_remote(
                mm.mm().as_raw(),
                uaddr as c_ulong,
                1,
                flags.0,
                &mut page,
                core::ptr::null_mut(),
            )
        };
        // INVARIANT: When GUP pinned one page, `one_page` gives it, and the pin is ours.
        Ok(one_page(got as i64, page)?.map(|page| {
            PINNED.fetch_add(1, Ordering::Relaxed);
            Self { page }
        }))
    }

    /// The pinned page.
    pub fn page(&self) -> PageRef<'_> {
        // INVARIANT: The page stays pinned while `self` is borrowed.
        PageRef {
            page: self.page,
            _p: PhantomData,
        }
    }
}

impl Drop for PinnedPage {
    fn drop(&mut self) {
        // SAFETY: `self` owns one pin of the page (type invariants), released once here.
        unsafe { bindings::unpin_user_page(self.page.as_ptr()) };
        PINNED.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One user page of the current task referenced by GUP (`FOLL_GET`, C
/// `get_user_pages_fast()`), released on drop (`put_page()`). Unlike a pin, such a reference
/// does not keep the page in place for DMA; it suits looking at the page.
///
/// # Invariants
///
/// `page` holds one page reference taken by GUP, owned by `self`.
pub struct UserPageRef {
    page: NonNull<bindings::page>,
}

// SAFETY: A page reference may be dropped from any task.
unsafe impl Send for UserPageRef {}
// SAFETY: `&UserPageRef` only gives a `PageRef`, whose operations are safe from any task.
unsafe impl Sync for UserPageRef {}

impl UserPageRef {
    /// References the page at user address `uaddr` of the current task (C
    /// `get_user_pages_fast()` of one page, which takes the mmap lock only if it must).
    /// `Ok(None)` if GUP got nothing.
    pub fn get_fast(uaddr: usize, flags: GupFlags) -> Result<Option<Self>> {
        let mut page: *mut bindings::page = core::ptr::null_mut();
        // SAFETY: `page` is a valid array of one; on success GUP stores a page with a
        // reference taken for us.
        let got = unsafe { bindings::get_user_pages_fast(uaddr as c_ulong, 1, flags.0, &mut page) };
        // INVARIANT: When GUP referenced one page, `one_page` gives it, and the reference is
        // ours.
        Ok(one_page(got as i64, page)?.map(|page| Self { page }))
    }

    /// The referenced page.
    pub fn page(&self) -> PageRef<'_> {
        // INVARIANT: The page stays referenced while `self` is borrowed.
        PageRef {
            page: self.page,
            _p: PhantomData,
        }
    }
}

impl Drop for UserPageRef {
    fn drop(&mut self) {
        // SAFETY: `self` owns one reference of the page (type invariants), dropped once here.
        unsafe { bindings::put_page(self.page.as_ptr()) };
    }
}

/// A table of page slots, each empty or holding one pinned user page.
///
/// Pins are made into empty slots, one GUP call per [`PinnedPages::pin_fast`] or
/// [`PinnedPages::pin_remote`] call, with the flags given at creation. [`PinnedPages::unpin`]
/// releases a range; `Drop` releases the rest, dirtying the pages if they were pinned with
/// [`GupFlags::WRITE`].
///
/// # Examples
///
/// Pinning 16 pages of another process for DMA, long term and writable, and reading the PFN
/// of the first:
///
/// ```
/// use kernel::{mm::Mm, page_pin::{GupFlags, PinnedPages}, prelude::*};
///
/// fn pin16(mm: &Mm, uaddr: usize) -> Result<PinnedPages> {
///     let mut pages = PinnedPages::new(16, GupFlags::LONGTERM | GupFlags::WRITE, GFP_KERNEL)?;
///     let user = mm.mmget_not_zero().ok_or(EFAULT)?;
///     let locked = user.mmap_read_lock();
///     let mut done = 0;
///     while done < 16 {
///         let uaddr = uaddr + done * kernel::page::PAGE_SIZE;
///         match pages.pin_remote(&locked, done, uaddr, 16 - done)? {
///             0 => return Err(EFAULT), // `pages` unpins what was pinned.
///             n => done += n,
///         }
///     }
///     pr_info!("first pfn {:#x}\n", pages.get(0).ok_or(EINVAL)?.pfn());
///     Ok(pages)
/// }
/// ```
///
/// # Invariants
///
/// Every non-null slot holds one `FOLL_PIN` pin made with `flags`, owned by `self`.
pub struct PinnedPages {
    slots: KVVec<*mut bindings::page>,
    flags: GupFlags,
}

// SAFETY: Pins may be made and released from any task; the slots are plain pointers owned by
// `self`.
unsafe impl Send for PinnedPages {}
// SAFETY: `&PinnedPages` only reads the slots and gives `PageRef`s, whose operations are safe
// from any task.
unsafe impl Sync for PinnedPages {}

impl PinnedPages {
    /// A table of `len` empty slots, whose pins will be made with `flags`.
    pub fn new(len: usize, flags: GupFlags, gfp: Flags) -> Result<Self, AllocError> {
        // INVARIANT: Every slot is null.
        Ok(Self {
            slots: KVVec::from_elem(core::ptr::null_mut(), len, gfp)?,
            flags,
        })
    }

    /// The number of slots.
    #[inline]
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether the table has no slots.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Whether slot `index` holds a pin (false outside the table).
    #[inline]
    pub fn is_pinned(&self, index: usize) -> bool {
        self.slots.get(index).is_some_and(|p| !p.is_null())
    }

    /// The page pinned in slot `index`; `None` if it is empty or outside the table.
    #[inline]
    pub fn get(&self, index: usize) -> Option<PageRef<'_>> {
        let page = NonNull::new(*self.slots.get(index)?)?;
        // INVARIANT: The slot's pin stays while `self` is borrowed: releasing it needs
        // `&mut self`.
        Some(PageRef {
            page,
            _p: PhantomData,
        })
    }

    /// The slots `[index, index + n)` as a raw array for GUP to fill; `EINVAL` unless they
    /// are all within the table and empty.
    fn empty_slots(&mut self, index: usize, n: usize) -> Result<*mut *mut bindings::page> {
        let end = index.checked_add(n).ok_or(EINVAL)?;
        let slots = self.slots.get_mut(index..end).ok_or(EINVAL)?;
        if slots.iter().any(|p| !p.is_null()) {
            return Err(EINVAL);
        }
        Ok(slots.as_mut_ptr())
    }

    /// Records the outcome of a GUP call into the slots `[index, index + n)`: on error
    /// nothing is pinned, on success the first `got` slots are. Slots GUP wrote without
    /// leaving a pin (it may unpin and retry internally) are cleared.
    fn settle(&mut self, index: usize, n: usize, got: isize) -> Result<usize> {
        let pinned = usize::try_from(got).unwrap_or(0).min(n);
        for p in self.slots.iter_mut().skip(index + pinned).take(n - pinned) {
            *p = core::ptr::null_mut();
        }
        if got < 0 {
            return Err(Error::from_errno(got as c_int));
        }
        PINNED.fetch_add(pinned, Ordering::Relaxed);
        Ok(pinned)
    }

    /// Pins up to `n` pages of the current task's memory from user address `uaddr` into the
    /// empty slots from `index` (C `pin_user_pages_fast()`, which takes the current mm's mmap
    /// lock only if it must, so the caller must not hold it). Returns how many were pinned,
    /// possibly fewer than `n` (0 if `n` is 0); `EINVAL` if the slots are not all empty, or
    /// GUP's error (nothing is pinned then).
    pub fn pin_fast(&mut self, index: usize, uaddr: usize, n: usize) -> Result<usize> {
        let n = n.min(c_int::MAX as usize);
        let out = self.empty_slots(index, n)?;
        if n == 0 {
            return Ok(0);
        }
        // SAFETY: `out` is an array of `n` empty slots of `self`, which GUP fills with pins
        // that `settle` hands to `self`; `n` fits a C int.
        let got = unsafe {
            bindings::pin_user_pages_fast(uaddr as c_ulong, n as c_int, self.flags.0, out)
        };
        self.settle(index, n, got as isize)
    }

    /// As [`PinnedPages::pin_fast`], from the memory of the mm locked by `mm` (C
    /// `pin_user_pages_remote()`).
    pub fn pin_remote(
        &mut self,
        mm: &MmapReadGuard<'_>,
        index: usize,
        uaddr: usize,
        n: usize,
    ) -> Result<usize> {
        let out = self.empty_slots(index, n)?;
        if n == 0 {
            return Ok(0);
        }
        // SAFETY: The mm is alive and its mmap lock held for reading (`mm`'s invariants), so
        // no `locked` pointer is passed; `out` is an array of `n` empty slots of `self`, which
        // GUP fills with pins that `settle` hands to `self`.
        let got = unsafe {
            bindings::pin_user_pages_remote(
                mm.mm().as_raw(),
                uaddr as c_ulong,
                n as c_ulong,
                self.flags.0,
                out,
                core::ptr::null_mut(),
            )
        };
        self.settle(index, n, got as isize)
    }

    /// Releases the pins of the slots in `range` (empty slots are skipped), each run of
    /// consecutive pins with one `unpin_user_pages_dirty_lock()` call, dirtying the pages if
    /// `dirty`. Returns how many pins were released.
    pub fn unpin(&mut self, range: Range<usize>, dirty: bool) -> usize {
        let end = range.end.min(self.slots.len());
        let mut count = 0;
        let mut i = range.start;
        while i < end {
            if self.slots[i].is_null() {
                i += 1;
                continue;
            }
            let mut run_end = i + 1;
            while run_end < end && !self.slots[run_end].is_null() {
                run_end += 1;
            }
            let n = run_end - i;
            let run = &mut self.slots[i..run_end];
            // SAFETY: Every slot of `run` holds a pin owned by `self` (type invariants); they
            // are released once here and the slots cleared below.
            unsafe { bindings::unpin_user_pages_dirty_lock(run.as_mut_ptr(), n as c_ulong, dirty) };
            // INVARIANT: The released slots are cleared.
            for p in run.iter_mut() {
                *p = core::ptr::null_mut();
            }
            count += n;
            i = run_end;
        }
        PINNED.fetch_sub(count, Ordering::Relaxed);
        count
    }
}

impl Drop for PinnedPages {
    fn drop(&mut self) {
        let dirty = self.flags.contains(GupFlags::WRITE);
        self.unpin(0..self.slots.len(), dirty);
    }
}

/// What long-term pins are charged to, besides the mm's `pinned_vm`, which is always charged.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ChargeMode {
    /// Only `pinned_vm` (a task with `CAP_IPC_LOCK`).
    PinnedVmOnly,
    /// The user's `locked_vm`, against the task's `RLIMIT_MEMLOCK`.
    UserLockedVm,
    /// The mm's `locked_vm` (C `__account_locked_vm()`), against the task's `RLIMIT_MEMLOCK`.
    MmLockedVm,
}

/// A charge of pinned pages to a process, given back on drop.
///
/// It holds what it charges: the mm (its `pinned_vm`, and its `locked_vm` in
/// [`ChargeMode::MmLockedVm`]), the task whose `RLIMIT_MEMLOCK` applies, and the user (its
/// `locked_vm` in [`ChargeMode::UserLockedVm`]).
///
/// # Examples
///
/// Charging the current process's user for pins, against its `RLIMIT_MEMLOCK`:
///
/// ```
/// use kernel::{mm::Mm, page_pin::{ChargeMode, PinCharge}, prelude::*, user::User};
///
/// fn charge_current(npages: usize) -> Result<PinCharge> {
///     let mm = Mm::current().ok_or(EFAULT)?;
///     let task = current!().group_leader().into();
///     let mut charge = PinCharge::new(ChargeMode::UserLockedVm, mm, task, User::current());
///     charge.charge(npages)?; // `ENOMEM` above the limit.
///     Ok(charge) // Uncharged when dropped.
/// }
/// ```
///
/// # Invariants
///
/// `npages` pages are charged as `mode` says, and given back by [`PinCharge::uncharge`] or
/// `Drop`.
pub struct PinCharge {
    mode: ChargeMode,
    mm: ARef<Mm>,
    task: ARef<Task>,
    user: User,
    npages: usize,
}

impl PinCharge {
    /// A charge of nothing yet, to `mm`, `task` and `user` as `mode` says.
    pub fn new(mode: ChargeMode, mm: ARef<Mm>, task: ARef<Task>, user: User) -> Self {
        // INVARIANT: Nothing is charged.
        Self {
            mode,
            mm,
            task,
            user,
            npages: 0,
        }
    }

    /// The pages charged.
    pub fn charged(&self) -> usize {
        self.npages
    }

    /// Charges `npages` more. `ENOMEM` above `RLIMIT_MEMLOCK`; `EINVAL` in
    /// [`ChargeMode::MmLockedVm`] if the mm's address space is gone. On error nothing is
    /// charged.
    pub fn charge(&mut self, npages: usize) -> Result {
        match self.mode {
            ChargeMode::PinnedVmOnly => {}
            ChargeMode::UserLockedVm => {
                let limit = self.task.rlimit_memlock() / PAGE_SIZE;
                self.user.try_charge_locked_vm(npages, limit)?;
            }
            ChargeMode::MmLockedVm => self.mm_locked_vm(npages, true)?,
        }
        self.mm.pinned_vm_add(npages);
        // INVARIANT: `npages` more are charged.
        self.npages += npages;
        CHARGED.fetch_add(npages, Ordering::Relaxed);
        Ok(())
    }

    /// Gives back `npages` of the charge (at most what is charged). If the `locked_vm` part
    /// cannot be given back (the user's would go negative, or the mm's address space is
    /// gone), `pinned_vm` is given back only in the first case, and the pages count as given
    /// back either way, as C `do_update_pinned()` does.
    pub fn uncharge(&mut self, npages: usize) {
        let npages = npages.min(self.npages);
        // Nothing to give back (a charge dropped without pins, as every pages object that
        // was never mapped into a domain): C never updates the counts for 0 pages, and in
        // `MmLockedVm` mode that would take the mm's mmap write lock for nothing.
        if npages == 0 {
            return;
        }
        // INVARIANT: The pages are given back below, or cannot be any more.
        self.npages -= npages;
        CHARGED.fetch_sub(npages, Ordering::Relaxed);
        match self.mode {
            ChargeMode::PinnedVmOnly => {}
            ChargeMode::UserLockedVm => {
                if self.user.uncharge_locked_vm(npages).is_err() {
                    pr_warn!("locked_vm underflow\n");
                }
            }
            ChargeMode::MmLockedVm => {
                if self.mm_locked_vm(npages, false).is_err() {
                    return;
                }
            }
        }
        self.mm.pinned_vm_sub(npages);
    }

    /// C `__account_locked_vm()` on the mm, under its mmap write lock. `EINVAL` if the
    /// address space is gone.
    fn mm_locked_vm(&self, npages: usize, inc: bool) -> Result {
        let mm = self.mm.mmget_not_zero().ok_or(EINVAL)?;
        let guard = mm.mmap_write_lock();
        guard.account_locked_vm(npages, inc, &self.task, false)
    }
}

impl Drop for PinCharge {
    fn drop(&mut self) {
        self.uncharge(self.npages);
    }
}
