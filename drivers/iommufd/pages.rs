// SPDX-License-Identifier: GPL-2.0

//! The pages object: a range of user memory that IOAS areas map (C `struct iopt_pages` of
//! `pages.c`), shared by every area that maps it, in any IOAS (`IOMMU_IOAS_COPY`), so that it
//! is never pinned or accounted twice.
//!
//! Pages are pinned only for a consumer: a domain to fill or an access (as in C, an IOAS with
//! neither pins nothing). Consumers count themselves as users of page indexes
//! ([`Pages::add_users`], [`Pages::remove_users`]): a page is pinned (`FOLL_LONGTERM`) and
//! charged when it gets its first user and unpinned and uncharged when it loses its last.
//! C keeps the PFNs in an xarray, the domains and an interval tree of accesses; here one slot
//! per page (a [`PinnedPages`] table and a user count per page), allocated on the first pin.
//! The pins and their charge are owned by [`PinnedPages`] and [`PinCharge`], which give them
//! back when dropped.
//!
//! Lock order: one table for the module, `Documentation/locking.md`. Here: the caller's locks (an
//! IOAS's io_pagetable lock, an access's lock), then `Pages::pins` (C `pages->mutex`), then the
//! source mm's `mmap_lock`.

use crate::{
    error::errno_of,
    iommufd_core::errno::Errno,
    test_hooks::{self, should_fail},
};
use core::sync::atomic::{AtomicU64, Ordering};
use kernel::{
    bindings, new_mutex,
    prelude::*,
    sync::{Arc, Mutex},
    task::Task,
    types::ARef,
};
use kernel::{
    cred::Capability,
    mm::Mm,
    page_pin::{ChargeMode, GupFlags, PageRef, PinCharge, PinnedPage, PinnedPages},
    user::User,
};

/// `PAGE_SIZE`.
pub(crate) const PAGE_SIZE: u64 = kernel::page::PAGE_SIZE as u64;

/// `IOMMUFD_ACCESS_RW_WRITE` of `include/linux/iommufd.h`.
pub(crate) const ACCESS_RW_WRITE: u32 = 1 << 0;
/// `IOMMUFD_ACCESS_RW_KTHREAD`: the caller is a kthread, `kthread_use_mm()` may be used.
pub(crate) const ACCESS_RW_KTHREAD: u32 = 1 << 1;
/// `__IOMMUFD_ACCESS_RW_SLOW_PATH`: selftest only, force the paths of a foreign mm.
pub(crate) const ACCESS_RW_SLOW_PATH: u32 = 1 << 2;

/// How pinned pages are charged (C `enum iopt_pages_account_mode`). Every mode also charges
/// the source mm's `pinned_vm`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum AccountMode {
    /// `CAP_IPC_LOCK`: not charged.
    None,
    /// The default: the user's `locked_vm` against `RLIMIT_MEMLOCK`.
    User,
    /// `/dev/vfio/vfio` or `IOMMU_OPTION_RLIMIT_MODE` 1: the mm's `locked_vm`, as VFIO does.
    Mm,
}

impl AccountMode {
    /// The charge the mode makes (C `do_update_pinned()`'s cases).
    fn charge_mode(self) -> ChargeMode {
        match self {
            AccountMode::None => ChargeMode::PinnedVmOnly,
            AccountMode::User => ChargeMode::UserLockedVm,
            AccountMode::Mm => ChargeMode::MmLockedVm,
        }
    }
}

/// Pages pinned in one `pin_user_pages_remote()` call (C: the size of `pfn_reader_user`'s
/// temporary page list, `temp_kmalloc()`, bounded by the selftest's memory limit).
fn pin_batch() -> usize {
    (test_hooks::memory_limit() / core::mem::size_of::<*mut bindings::page>()).max(1)
}

/// The GUP flags of a pages object's pins: long term, and writable if the object is.
fn gup_flags(writable: bool) -> GupFlags {
    if writable {
        GupFlags::LONGTERM | GupFlags::WRITE
    } else {
        GupFlags::LONGTERM
    }
}

/// `capable(cap)` of the current task.
pub(crate) fn kernel_capable(cap: Capability) -> bool {
    cap.capable()
}

/// The per-page slots of a pages object, made at its first pin.
///
/// # Invariants
///
/// `pages` and `users` both hold one entry per page of the object.
struct PinTable {
    pages: PinnedPages,
    users: KVVec<u32>,
}

/// The pins of a pages object, under its lock.
///
/// # Invariants
///
/// Outside of [`Pages::add_users`] (which runs under the lock) a slot of `table` is pinned
/// exactly when its user count is nonzero. `npinned` is the number of pinned slots, and
/// `charge` has exactly that many pages charged, which `tally` counts. Fields drop in order:
/// the pins are released before their charge. `table` is `None` until the first pin, so that
/// a pages object that is never pinned (an IOAS without a domain) neither allocates nor
/// frees a table.
struct PinState {
    table: Option<PinTable>,
    npinned: u64,
    charge: PinCharge,
    /// The context's charge tally, which `charge` is part of.
    tally: Arc<ChargeTally>,
}

impl Drop for PinState {
    fn drop(&mut self) {
        // C `iopt_release_pages()` warns if anything is still pinned; we also give it back:
        // the table drops after this, its `PinnedPages` unpinning (dirtied if writable), and
        // then the `PinCharge`, uncharging what is left. It runs as the pages object drops,
        // with nobody else holding it, so without the lock.
        self.tally.sub(self.charge.charged() as u64);
        if self.npinned != 0 {
            pr_warn!(
                "iommufd: pages freed with {} pages pinned; unpinning\n",
                self.npinned
            );
        }
    }
}

/// The pages charged for the pages objects of one context: each object adds what it charges
/// and takes it back as it uncharges, so the context's share of the module's charge can be
/// shown (`debugfs.rs`) without walking its objects. Shared (`Arc`) because a pages object may
/// outlive its context's file by a moment (its last reference dropped after the context's).
pub(crate) struct ChargeTally(AtomicU64);

impl ChargeTally {
    /// A tally of nothing.
    pub(crate) fn new() -> Result<Arc<ChargeTally>, Errno> {
        Arc::new(ChargeTally(AtomicU64::new(0)), GFP_KERNEL_ACCOUNT).map_err(|_| Errno::ENOMEM)
    }

    /// The pages charged.
    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    fn sub(&self, n: u64) {
        self.0.fetch_sub(n, Ordering::Relaxed);
    }
}

/// The identity of the next pages object (see [`Pages::debug_id`]).
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A user memory range (C `struct iopt_pages`, `IOPT_ADDRESS_USER`).
#[pin_data]
pub(crate) struct Pages {
    /// A stable identity for the debugfs view (never reused while the module is loaded), so
    /// that areas sharing one object (`IOMMU_IOAS_COPY`) show it without a kernel address.
    debug_id: u64,
    /// Page-aligned start (C `pages->uptr`).
    uptr: u64,
    /// Pages covered (C `pages->npages`).
    npages: u64,
    /// Mapped writable (C `pages->writable`).
    writable: bool,
    /// The mm the pages come from (C `pages->source_mm`); the charge holds it too.
    mm: ARef<Mm>,
    /// Per-page pins and their charge (C `pages->mutex` and what it protects).
    #[pin]
    pins: Mutex<PinState>,
}

impl Pages {
    /// C `iopt_alloc_pages()`: the pages object for `length` bytes at `uptr`, and the offset
    /// of `uptr` in its first page. `EINVAL` for an empty or too long range (the iommu API
    /// uses `size_t`), `EOVERFLOW` if it wraps, `EFAULT` for a task without an mm (a
    /// kthread), `ENOMEM`.
    pub(crate) fn new_user(
        uptr: u64,
        length: u64,
        writable: bool,
        ctx_mode: AccountMode,
        tally: Arc<ChargeTally>,
    ) -> Result<(Arc<Pages>, u64), Errno> {
        if length == 0 || length > (usize::MAX as u64) - PAGE_SIZE {
            return Err(Errno::EINVAL);
        }
        uptr.checked_add(length).ok_or(Errno::EOVERFLOW)?;
        let aligned = uptr & !(PAGE_SIZE - 1);
        let start_byte = uptr - aligned;
        // Cannot overflow: length <= usize::MAX - PAGE_SIZE and start_byte < PAGE_SIZE.
        let npages = (length + start_byte).div_ceil(PAGE_SIZE);
        // C: CAP_IPC_LOCK means no accounting; a /dev/vfio/vfio or RLIMIT_MODE context
        // accounts in the mm.
        let account_mode = if Capability::IPC_LOCK.capable() {
            AccountMode::None
        } else {
            ctx_mode
        };
        // C `iopt_alloc_pages()`: the source mm, group leader and user of the caller.
        let mm = Mm::current().ok_or(Errno::EFAULT)?;
        let task: ARef<Task> = current!().group_leader().into();
        let user = User::current();
        let charge = PinCharge::new(account_mode.charge_mode(), mm.clone(), task, user);
        let pages = Arc::pin_init(
            pin_init!(Pages {
                debug_id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                uptr: aligned,
                npages,
                writable,
                mm,
                pins <- new_mutex!(
                    PinState {
                        table: None,
                        npinned: 0,
                        charge,
                        tally,
                    },
                    "iommufd_pages::pins"
                ),
            }),
            GFP_KERNEL_ACCOUNT,
        )
        .map_err(|_| Errno::ENOMEM)?;
        Ok((pages, start_byte))
    }

    /// The identity shown by the debugfs view.
    pub(crate) fn debug_id(&self) -> u64 {
        self.debug_id
    }

    /// For the debugfs view: how many of the pages `[start, last]` are pinned, and how many
    /// the whole object has pinned. Takes the pins lock once, for a count.
    pub(crate) fn pinned_counts(&self, start: u64, last: u64) -> (u64, u64) {
        let st = self.pins.lock();
        let in_range = match self.range(start, last) {
            Ok((s, l)) => match &st.table {
                Some(t) => (s..=l).filter(|&i| t.pages.is_pinned(i)).count() as u64,
                None => 0,
            },
            Err(_) => 0,
        };
        (in_range, st.npinned)
    }

    /// Whether areas may map these pages writable.
    pub(crate) fn writable(&self) -> bool {
        self.writable
    }

    /// The page-aligned user address of the first page.
    pub(crate) fn uptr(&self) -> u64 {
        self.uptr
    }

    /// Pages covered (C `pages->npages`).
    // Used by domains (io_pagetable.rs), which arrive in parallel.
    #[allow(dead_code)]
    pub(crate) fn npages(&self) -> u64 {
        self.npages
    }

    /// The slots `[start, last]` as `usize` indexes; `EINVAL` if not within the object.
    fn range(&self, start: u64, last: u64) -> Result<(usize, usize), Errno> {
        if start > last || last >= self.npages {
            return Err(Errno::EINVAL);
        }
        let s = usize::try_from(start).map_err(|_| Errno::EINVAL)?;
        let l = usize::try_from(last).map_err(|_| Errno::EINVAL)?;
        Ok((s, l))
    }

    /// The user address of page `index`.
    fn page_uptr(&self, index: usize) -> usize {
        (self.uptr + (index as u64) * PAGE_SIZE) as usize
    }

    /// One more user for each page index in `[start, last]` (C `iopt_area_add_access()` /
    /// `iopt_pages_fill_xarray()` / `iopt_area_fill_domain()`: the pin and charge part).
    ///
    /// Pages without a user yet are pinned from the source mm (`pin_user_pages_remote()`,
    /// `FOLL_LONGTERM`, `FOLL_WRITE` if writable, under `mmap_read_lock`, in batches as C's
    /// `pfn_reader_user_pin()`), then charged (C `pfn_reader_user_update_pinned()` →
    /// `do_update_pinned()`). All or nothing: on error nothing stays pinned, charged or
    /// counted. `EINVAL` for a range outside the object, `EFAULT` if the mm is gone or a page
    /// cannot be pinned, `ENOMEM` above `RLIMIT_MEMLOCK` or without memory, `EOVERFLOW` if a
    /// page has `u32::MAX` users.
    pub(crate) fn add_users(&self, start: u64, last: u64) -> Result<(), Errno> {
        let (s, l) = self.range(start, last)?;
        let mut guard = self.pins.lock();
        let st = &mut *guard;
        let table = match &mut st.table {
            Some(t) => t,
            None => {
                let n = usize::try_from(self.npages).map_err(|_| Errno::ENOMEM)?;
                let pages = PinnedPages::new(n, gup_flags(self.writable), GFP_KERNEL_ACCOUNT)
                    .map_err(|_| Errno::ENOMEM)?;
                let users =
                    KVVec::from_elem(0u32, n, GFP_KERNEL_ACCOUNT).map_err(|_| Errno::ENOMEM)?;
                st.table.insert(PinTable { pages, users })
            }
        };
        let users = table.users.get(s..=l).ok_or(Errno::EINVAL)?;
        if users.contains(&u32::MAX) {
            return Err(Errno::EOVERFLOW);
        }
        let mut newly = 0u64;
        let mut rc = self.pin_missing(&mut table.pages, s, l, &mut newly);
        if rc.is_ok() && newly != 0 {
            // C pfn_reader_user_update_pinned(): fault injection, then the charge.
            rc = if should_fail() {
                Err(Errno::ENOMEM)
            } else {
                st.charge.charge(newly as usize).map_err(errno_of)
            };
        }
        if let Err(e) = rc {
            let undone = Self::unpin_unused(table, s, l, false);
            if undone != newly {
                pr_warn!(
                    "iommufd: pages: unpinned {} of {} new pins\n",
                    undone,
                    newly
                );
            }
            return Err(e);
        }
        for u in table.users.iter_mut().skip(s).take(l - s + 1) {
            *u += 1;
        }
        st.npinned += newly;
        st.tally.add(newly);
        Ok(())
    }

    /// Pins the pages of `[s, l]` that are not pinned (C `pfn_reader_user_pin()`), counting
    /// them into `newly`. On error the pins made stay in the slots (with no user) for the
    /// caller to undo.
    fn pin_missing(
        &self,
        pages: &mut PinnedPages,
        s: usize,
        l: usize,
        newly: &mut u64,
    ) -> Result<(), Errno> {
        let missing = |pages: &PinnedPages, i: usize| i < pages.len() && !pages.is_pinned(i);
        if !(s..=l).any(|i| missing(pages, i)) {
            return Ok(());
        }
        let mm = self.mm.mmget_not_zero().ok_or(Errno::EFAULT)?;
        let batch = pin_batch();
        // C `pfn_reader_user_pin()`: the caller's own memory is pinned with
        // `pin_user_pages_fast` (which takes the mmap lock only if it must); another mm's
        // under its mmap read lock with `pin_user_pages_remote`.
        let locked = if mm.is_current() {
            None
        } else {
            Some(mm.mmap_read_lock())
        };
        let mut i = s;
        while i <= l {
            if !missing(pages, i) {
                i += 1;
                continue;
            }
            let mut end = i;
            while end < l && missing(pages, end + 1) {
                end += 1;
            }
            while i <= end {
                if should_fail() {
                    return Err(Errno::EFAULT);
                }
                let n = (end - i + 1).min(batch);
                let uptr = self.page_uptr(i);
                let got = match &locked {
                    Some(g) => pages.pin_remote(g, i, uptr, n),
                    None => pages.pin_fast(i, uptr, n),
                };
                let got = match got {
                    Ok(0) => return Err(Errno::EFAULT),
                    Ok(got) => got,
                    Err(e) => return Err(errno_of(e)),
                };
                *newly += got as u64;
                i += got;
            }
        }
        Ok(())
    }

    /// Unpins the pages of `[s, l]` that are pinned but have no user; returns how many.
    fn unpin_unused(t: &mut PinTable, s: usize, l: usize, dirty: bool) -> u64 {
        let mut count = 0u64;
        let mut i = s;
        while i <= l {
            let idle = |t: &PinTable, i: usize| t.users.get(i) == Some(&0) && t.pages.is_pinned(i);
            if !idle(t, i) {
                i += 1;
                continue;
            }
            let mut end = i;
            while end < l && idle(t, end + 1) {
                end += 1;
            }
            count += t.pages.unpin(i..end + 1, dirty) as u64;
            i = end + 1;
        }
        count
    }

    /// One user less for each page in `[start, last]`; pages reaching no user are unpinned
    /// (dirtied if writable) and uncharged (C `iopt_area_remove_access()` /
    /// `iopt_pages_unfill_xarray()` / `iopt_area_unfill_domain()`). Never fails: a page
    /// without a user, or a range outside the object, is a caller bug and only warns.
    pub(crate) fn remove_users(&self, start: u64, last: u64) {
        let Ok((s, l)) = self.range(start, last) else {
            pr_warn!("iommufd: pages: remove_users out of range\n");
            return;
        };
        let mut guard = self.pins.lock();
        let st = &mut *guard;
        let Some(table) = &mut st.table else {
            pr_warn!("iommufd: pages: remove_users without users\n");
            return;
        };
        let Some(users) = table.users.get_mut(s..=l) else {
            pr_warn!("iommufd: pages: remove_users without users\n");
            return;
        };
        let mut bad = false;
        for u in users.iter_mut() {
            if *u == 0 {
                bad = true;
            } else {
                *u -= 1;
            }
        }
        if bad {
            pr_warn!("iommufd: pages: remove_users on a page without users\n");
        }
        let n = Self::unpin_unused(table, s, l, self.writable);
        st.npinned = st.npinned.saturating_sub(n);
        if n != 0 {
            let before = st.charge.charged();
            st.charge.uncharge(n as usize);
            st.tally.sub((before - st.charge.charged()) as u64);
        }
    }

    /// Calls `f(first_index, first_pfn, npages)` for each physically contiguous run of the
    /// pages in `[start, last]`, under the pages lock. The caller holds users on them
    /// (`EINVAL` otherwise); stops at `f`'s first error.
    // Used by domains (io_pagetable.rs), which arrive in parallel.
    #[allow(dead_code)]
    pub(crate) fn for_each_pfn_run(
        &self,
        start: u64,
        last: u64,
        mut f: impl FnMut(u64, u64, u64) -> Result<(), Errno>,
    ) -> Result<(), Errno> {
        let (s, l) = self.range(start, last)?;
        let st = self.pins.lock();
        let pages = &st.table.as_ref().ok_or(Errno::EINVAL)?.pages;
        if l >= pages.len() {
            return Err(Errno::EINVAL);
        }
        let mut run: Option<(u64, u64, u64)> = None;
        for i in s..=l {
            let pfn = pages.get(i).ok_or(Errno::EINVAL)?.pfn() as u64;
            let index = i as u64;
            run = match run {
                Some((i, p, n)) if p + n == pfn => Some((i, p, n + 1)),
                Some((i, p, n)) => {
                    f(i, p, n)?;
                    Some((index, pfn, 1))
                }
                None => Some((index, pfn, 1)),
            };
        }
        if let Some((i, p, n)) = run {
            f(i, p, n)?;
        }
        Ok(())
    }

    /// Copies the pinned pages `[start, start + out.len())` to `out` (C
    /// `iopt_pages_fill_from_xarray()`), for a C caller's page array; the caller holds users
    /// on them.
    pub(crate) fn copy_pages(
        &self,
        start: u64,
        out: &mut [*mut bindings::page],
    ) -> Result<(), Errno> {
        let s = usize::try_from(start).map_err(|_| Errno::EINVAL)?;
        let st = self.pins.lock();
        let pages = &st.table.as_ref().ok_or(Errno::EINVAL)?.pages;
        let end = s.checked_add(out.len()).ok_or(Errno::EINVAL)?;
        if end > pages.len() {
            return Err(Errno::EINVAL);
        }
        for (o, i) in out.iter_mut().zip(s..end) {
            *o = pages.get(i).map_or(core::ptr::null_mut(), PageRef::as_raw);
        }
        Ok(())
    }
}

/// C `copy_data_page()`: copies between `data` and `page` at `offset`; a write dirties the
/// page. `EINVAL` if the range leaves the page.
fn copy_data_page(
    page: PageRef<'_>,
    data: &mut [u8],
    offset: usize,
    flags: u32,
) -> Result<(), Errno> {
    page.with_kmap_local(|map| {
        if flags & ACCESS_RW_WRITE != 0 {
            map.write(offset, data)?;
            page.set_dirty_lock();
            Ok(())
        } else {
            map.read(offset, data)
        }
    })
    .map_err(errno_of)
}

impl Pages {
    /// C `iopt_pages_rw_access()`: copies `data` to (`ACCESS_RW_WRITE`) or from the bytes of
    /// this object starting at `start_byte`. `data` is not empty and the range lies in the
    /// object (callers go through an area). `EPERM` to write read-only pages, `EFAULT`.
    pub(crate) fn rw_access(
        &self,
        start_byte: u64,
        data: &mut [u8],
        flags: u32,
    ) -> Result<(), Errno> {
        let length = data.len() as u64;
        if length == 0 {
            return Err(Errno::EINVAL);
        }
        let last_byte = start_byte.checked_add(length - 1).ok_or(Errno::EINVAL)?;
        let start_index = start_byte / PAGE_SIZE;
        let last_index = last_byte / PAGE_SIZE;
        let offset = (start_byte % PAGE_SIZE) as usize;
        let mut change_mm = !self.mm.is_current();
        if cfg!(CONFIG_IOMMUFD_TEST) && flags & ACCESS_RW_SLOW_PATH != 0 {
            change_mm = true;
        }
        if flags & ACCESS_RW_WRITE != 0 && !self.writable {
            return Err(Errno::EPERM);
        }
        if flags & ACCESS_RW_KTHREAD == 0 && change_mm {
            if start_index == last_index {
                return self.rw_page(start_index, offset, data, flags);
            }
            return self.rw_slow(start_index, last_index, offset, data, flags);
        }
        // A fast path that ignores pinning, as C: copy_to/from_user() in the source mm.
        let at = (self.uptr as usize).wrapping_add(start_byte as usize);
        let copy = |data: &mut [u8]| {
            if flags & ACCESS_RW_WRITE != 0 {
                crate::user::write(at, data)
            } else {
                crate::user::read(at, data)
            }
        };
        if !change_mm {
            return copy(data);
        }
        let Some(mm) = self.mm.mmget_not_zero() else {
            return self.rw_slow(start_index, last_index, offset, data, flags);
        };
        // The caller says it is a kthread (`ACCESS_RW_KTHREAD`), as C requires.
        let used = mm.kthread_use_mm().map_err(errno_of)?;
        let rc = copy(data);
        // `kthread_unuse_mm`, then `mmput`.
        drop(used);
        drop(mm);
        rc
    }

    /// C `iopt_pages_rw_page()`: one page, pinned just for the copy.
    fn rw_page(&self, index: u64, offset: usize, data: &mut [u8], flags: u32) -> Result<(), Errno> {
        let Some(mm) = self.mm.mmget_not_zero() else {
            return self.rw_slow(index, index, offset, data, flags);
        };
        if should_fail() {
            return Err(Errno::EINVAL);
        }
        let gup_flags = if flags & ACCESS_RW_WRITE != 0 {
            GupFlags::WRITE
        } else {
            GupFlags::NONE
        };
        let uptr = (self.uptr + index * PAGE_SIZE) as usize;
        let pinned = {
            let locked = mm.mmap_read_lock();
            PinnedPage::pin_remote(&locked, uptr, gup_flags)
        };
        let page = match pinned {
            Ok(Some(page)) => page,
            Ok(None) => return Err(Errno::EINVAL),
            Err(e) => return Err(errno_of(e)),
        };
        let rc = copy_data_page(page.page(), data, offset, flags);
        // `unpin_user_page`, then `mmput`.
        drop(page);
        drop(mm);
        rc
    }

    /// C `iopt_pages_rw_slow()`: pins the pages (as a user of them, so it is consistent with
    /// what domains see), copies, and lets them go.
    fn rw_slow(
        &self,
        start_index: u64,
        last_index: u64,
        offset: usize,
        data: &mut [u8],
        flags: u32,
    ) -> Result<(), Errno> {
        self.add_users(start_index, last_index)?;
        let rc = (|| {
            let st = self.pins.lock();
            let pages = &st.table.as_ref().ok_or(Errno::EINVAL)?.pages;
            let (s, l) = self.range(start_index, last_index)?;
            let mut offset = offset;
            let mut rest = &mut data[..];
            for i in s..=l {
                if rest.is_empty() {
                    break;
                }
                let page = pages.get(i).ok_or(Errno::EINVAL)?;
                let n = rest.len().min(PAGE_SIZE as usize - offset);
                let (chunk, tail) = rest.split_at_mut(n);
                copy_data_page(page, chunk, offset, flags)?;
                rest = tail;
                offset = 0;
            }
            if !rest.is_empty() {
                return Err(Errno::EINVAL);
            }
            Ok(())
        })();
        self.remove_users(start_index, last_index);
        rc
    }
}
