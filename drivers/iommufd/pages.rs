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
//! per page (its `struct page *` and its user count), allocated on the first pin.
//!
//! Lock order: one table for the module, `Documentation/locking.md`. Here: the caller's locks (an
//! IOAS's io_pagetable lock, an access's lock), then `Pages::pins` (C `pages->mutex`), then the
//! source mm's `mmap_lock`.

use crate::{
    iommufd_core::errno::Errno,
    test_hooks::{self, should_fail},
};
use core::ffi::c_void;
use kernel::{
    bindings, new_mutex,
    prelude::*,
    sync::{Arc, Mutex},
};

/// `PAGE_SIZE`.
pub(crate) const PAGE_SIZE: u64 = kernel::page::PAGE_SIZE as u64;

/// `IOMMUFD_ACCESS_RW_WRITE` of `include/linux/iommufd.h`.
pub(crate) const ACCESS_RW_WRITE: u32 = 1 << 0;
/// `IOMMUFD_ACCESS_RW_KTHREAD`: the caller is a kthread, `kthread_use_mm()` may be used.
pub(crate) const ACCESS_RW_KTHREAD: u32 = 1 << 1;
/// `__IOMMUFD_ACCESS_RW_SLOW_PATH`: selftest only, force the paths of a foreign mm.
pub(crate) const ACCESS_RW_SLOW_PATH: u32 = 1 << 2;

/// How pinned pages are charged (C `enum iopt_pages_account_mode`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum AccountMode {
    /// `CAP_IPC_LOCK`: not charged.
    None,
    /// The default: the user's `locked_vm` against `RLIMIT_MEMLOCK`.
    User,
    /// `/dev/vfio/vfio` or `IOMMU_OPTION_RLIMIT_MODE` 1: the mm's `locked_vm`, as VFIO does.
    Mm,
}

/// Pages pinned in one `pin_user_pages_remote()` call (C: the size of `pfn_reader_user`'s
/// temporary page list, `temp_kmalloc()`, bounded by the selftest's memory limit).
fn pin_batch() -> usize {
    (test_hooks::memory_limit() / core::mem::size_of::<*mut bindings::page>()).max(1)
}

/// What a pages object took of the task that created it (C `pages->source_mm`,
/// `source_task`, `source_user`), given back on drop.
///
/// # Invariants
///
/// `mm` holds an `mmgrab()` count, `task` a `get_task_struct()` count and `user` a
/// `get_current_user()` count, each released exactly once, by `Drop`.
struct Source {
    mm: *mut bindings::mm_struct,
    task: *mut bindings::task_struct,
    user: *mut bindings::user_struct,
}

impl Source {
    /// Takes the current task's mm, group leader and user (C `iopt_alloc_pages()`).
    /// `EFAULT` for a task without an mm (a kthread).
    fn current() -> Result<Source, Errno> {
        // SAFETY: Reads `current->mm` of the running task.
        let mm = unsafe { bindings::current_mm() };
        if mm.is_null() {
            return Err(Errno::EFAULT);
        }
        // SAFETY: `mm` is the current task's live mm; `mmgrab` takes a count on the struct.
        unsafe { bindings::mmgrab(mm) };
        // SAFETY: The current task's group leader is alive while the current task runs; a
        // count is taken before anything else happens.
        let task = unsafe { bindings::current_group_leader() };
        // SAFETY: As above, `task` is alive.
        unsafe { bindings::get_task_struct(task) };
        // SAFETY: Takes a count on the current task's user.
        let user = unsafe { bindings::get_current_user() };
        // INVARIANT: The three counts were just taken.
        Ok(Source { mm, task, user })
    }
}

impl Drop for Source {
    fn drop(&mut self) {
        // SAFETY: The counts are owned by `self` (type invariants) and dropped once.
        unsafe {
            bindings::mmdrop(self.mm);
            bindings::put_task_struct(self.task);
            bindings::free_uid(self.user);
        }
    }
}

/// The pins of a pages object, under its lock.
///
/// # Invariants
///
/// `pages` and `users` are empty or both hold one entry per page of the object. Outside of
/// [`Pages::add_users`] (which runs under the lock) a slot's page is non-null exactly when its
/// user count is nonzero, and then holds one `pin_user_pages` pin, charged as the object's
/// account mode says. `npinned` is the number of non-null pages.
struct PinState {
    pages: KVVec<*mut bindings::page>,
    users: KVVec<u32>,
    npinned: u64,
}

/// A user memory range (C `struct iopt_pages`, `IOPT_ADDRESS_USER`).
#[pin_data(PinnedDrop)]
pub(crate) struct Pages {
    /// Page-aligned start (C `pages->uptr`).
    uptr: u64,
    /// Pages covered (C `pages->npages`).
    npages: u64,
    /// Mapped writable (C `pages->writable`).
    writable: bool,
    /// How pins are charged.
    account_mode: AccountMode,
    /// The mm the pages come from, and whom they are charged to.
    source: Source,
    /// Per-page pins (C `pages->mutex` and what it protects).
    #[pin]
    pins: Mutex<PinState>,
}

// SAFETY: The raw pointers of `Source` are counted references to kernel objects usable from
// any task; the page pointers of `PinState` are only used under the `pins` lock.
unsafe impl Send for Pages {}
// SAFETY: As for `Send`: every mutable state is behind `pins`.
unsafe impl Sync for Pages {}

impl Pages {
    /// C `iopt_alloc_pages()`: the pages object for `length` bytes at `uptr`, and the offset
    /// of `uptr` in its first page. `EINVAL` for an empty or too long range (the iommu API
    /// uses `size_t`), `EOVERFLOW` if it wraps, `ENOMEM`.
    pub(crate) fn new_user(
        uptr: u64,
        length: u64,
        writable: bool,
        ctx_mode: AccountMode,
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
        let account_mode = if kernel_capable(bindings::CAP_IPC_LOCK as i32) {
            AccountMode::None
        } else {
            ctx_mode
        };
        let source = Source::current()?;
        let pages = Arc::pin_init(
            pin_init!(Pages {
                uptr: aligned,
                npages,
                writable,
                account_mode,
                source,
                pins <- new_mutex!(
                    PinState {
                        pages: KVVec::new(),
                        users: KVVec::new(),
                        npinned: 0,
                    },
                    "iommufd_pages::pins"
                ),
            }),
            GFP_KERNEL_ACCOUNT,
        )
        .map_err(|_| Errno::ENOMEM)?;
        Ok((pages, start_byte))
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
        let mut st = self.pins.lock();
        if st.users.is_empty() {
            let n = usize::try_from(self.npages).map_err(|_| Errno::ENOMEM)?;
            let pages = KVVec::from_elem(core::ptr::null_mut(), n, GFP_KERNEL_ACCOUNT)
                .map_err(|_| Errno::ENOMEM)?;
            let users = KVVec::from_elem(0u32, n, GFP_KERNEL_ACCOUNT).map_err(|_| Errno::ENOMEM)?;
            st.pages = pages;
            st.users = users;
        }
        let users = st.users.get(s..=l).ok_or(Errno::EINVAL)?;
        if users.contains(&u32::MAX) {
            return Err(Errno::EOVERFLOW);
        }
        let mut newly = 0u64;
        let mut rc = self.pin_missing(&mut st, s, l, &mut newly);
        if rc.is_ok() && newly != 0 {
            // C pfn_reader_user_update_pinned(): fault injection, then the charge.
            rc = if should_fail() {
                Err(Errno::ENOMEM)
            } else {
                self.charge(newly)
            };
        }
        if let Err(e) = rc {
            let undone = Self::unpin_unused(&mut st, s, l, false);
            if undone != newly {
                pr_warn!(
                    "iommufd: pages: unpinned {} of {} new pins\n",
                    undone,
                    newly
                );
            }
            return Err(e);
        }
        for u in st.users.iter_mut().skip(s).take(l - s + 1) {
            *u += 1;
        }
        st.npinned += newly;
        Ok(())
    }

    /// Pins the pages of `[s, l]` that have no user (C `pfn_reader_user_pin()`), counting
    /// them into `newly`. On error the pins made stay in the slots (with no user) for the
    /// caller to undo.
    fn pin_missing(
        &self,
        st: &mut PinState,
        s: usize,
        l: usize,
        newly: &mut u64,
    ) -> Result<(), Errno> {
        let missing = |st: &PinState, i: usize| st.pages.get(i).is_some_and(|p| p.is_null());
        if !(s..=l).any(|i| missing(st, i)) {
            return Ok(());
        }
        let mm = self.source.mm;
        // SAFETY: `mm` holds an `mmgrab()` count (invariants of `Source`), so the struct is
        // valid; a successful `mmget_not_zero` is balanced by `mmput` below.
        if !unsafe { bindings::mmget_not_zero(mm) } {
            return Err(Errno::EFAULT);
        }
        let mut gup_flags = bindings::FOLL_LONGTERM;
        if self.writable {
            gup_flags |= bindings::FOLL_WRITE;
        }
        let batch = pin_batch();
        // C `pfn_reader_user_pin()`: the caller's own memory is pinned with
        // `pin_user_pages_fast` (which takes the mmap lock only if it must); another mm's
        // under its mmap read lock with `pin_user_pages_remote`.
        // SAFETY: Reads the current task's `mm` pointer, only compared.
        let local = unsafe { bindings::current_mm() } == mm;
        if !local {
            // SAFETY: We hold an `mmget` on `mm`; unlocked below.
            unsafe { bindings::mmap_read_lock(mm) };
        }
        let mut rc = Ok(());
        let mut i = s;
        'outer: while i <= l {
            if !missing(st, i) {
                i += 1;
                continue;
            }
            let mut end = i;
            while end < l && missing(st, end + 1) {
                end += 1;
            }
            while i <= end {
                if should_fail() {
                    rc = Err(Errno::EFAULT);
                    break 'outer;
                }
                let n = (end - i + 1).min(batch);
                let uptr = self.uptr + (i as u64) * PAGE_SIZE;
                // SAFETY: For another mm, `mmap_read_lock(mm)` is held with an `mmget`; for our
                // own, no mmap lock is held (as `pin_user_pages_fast` requires). `pages[i..i +
                // n]` is within the slots (`end < npages`) and is only written by GUP, under the
                // `pins` lock that `st` borrows from; `n <= batch` fits a C int.
                let got = unsafe {
                    let out = st.pages.as_mut_ptr().add(i);
                    if local {
                        bindings::pin_user_pages_fast(uptr as _, n as _, gup_flags, out) as isize
                    } else {
                        bindings::pin_user_pages_remote(
                            mm,
                            uptr as _,
                            n as _,
                            gup_flags,
                            out,
                            core::ptr::null_mut(),
                        ) as isize
                    }
                };
                if got <= 0 {
                    rc = Err(if got == 0 {
                        Errno::EFAULT
                    } else {
                        Errno(-(got as i32))
                    });
                    break 'outer;
                }
                let got = (got as usize).min(n);
                *newly += got as u64;
                i += got;
            }
        }
        // SAFETY: Locked (for another mm) and referenced above.
        unsafe {
            if !local {
                bindings::mmap_read_unlock(mm);
            }
            bindings::mmput(mm);
        }
        rc
    }

    /// Unpins the pages of `[s, l]` that are pinned but have no user; returns how many.
    fn unpin_unused(st: &mut PinState, s: usize, l: usize, dirty: bool) -> u64 {
        let mut count = 0u64;
        let mut i = s;
        while i <= l {
            let idle = |st: &PinState, i: usize| {
                st.users.get(i) == Some(&0) && st.pages.get(i).is_some_and(|p| !p.is_null())
            };
            if !idle(st, i) {
                i += 1;
                continue;
            }
            let mut end = i;
            while end < l && idle(st, end + 1) {
                end += 1;
            }
            let n = end - i + 1;
            // SAFETY: `pages[i..=end]` are pins of this object (type invariants of
            // `PinState`) with no user, released exactly once here, then cleared.
            unsafe {
                bindings::unpin_user_pages_dirty_lock(st.pages.as_mut_ptr().add(i), n as _, dirty)
            };
            for p in st.pages.iter_mut().skip(i).take(n) {
                *p = core::ptr::null_mut();
            }
            count += n as u64;
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
        let mut st = self.pins.lock();
        let Some(users) = st.users.get_mut(s..=l) else {
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
        let n = Self::unpin_unused(&mut st, s, l, self.writable);
        st.npinned = st.npinned.saturating_sub(n);
        drop(st);
        if n != 0 {
            self.uncharge(n);
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
        let pages = st.pages.get(s..=l).ok_or(Errno::EINVAL)?;
        let mut run: Option<(u64, u64, u64)> = None;
        for (off, &page) in pages.iter().enumerate() {
            if page.is_null() {
                return Err(Errno::EINVAL);
            }
            // SAFETY: `page` is a pinned page of this object (invariants of `PinState`).
            let pfn = unsafe { bindings::page_to_pfn(page) } as u64;
            let index = start + off as u64;
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

    /// The pinned page at `index` (the caller holds a user on it); null if it is not pinned.
    // Used by domains (io_pagetable.rs), which arrive in parallel.
    #[allow(dead_code)]
    pub(crate) fn page(&self, index: u64) -> *mut bindings::page {
        let st = self.pins.lock();
        usize::try_from(index)
            .ok()
            .and_then(|i| st.pages.get(i).copied())
            .unwrap_or(core::ptr::null_mut())
    }

    /// Copies the pinned pages `[start, start + out.len())` to `out` (C
    /// `iopt_pages_fill_from_xarray()`); the caller holds users on them.
    pub(crate) fn copy_pages(
        &self,
        start: u64,
        out: &mut [*mut bindings::page],
    ) -> Result<(), Errno> {
        let s = usize::try_from(start).map_err(|_| Errno::EINVAL)?;
        let st = self.pins.lock();
        let end = s.checked_add(out.len()).ok_or(Errno::EINVAL)?;
        let src = st.pages.get(s..end).ok_or(Errno::EINVAL)?;
        out.copy_from_slice(src);
        Ok(())
    }

    /// Charges `npages` newly pinned pages (C `do_update_pinned(pages, npages, true, user)`).
    fn charge(&self, npages: u64) -> Result<(), Errno> {
        match self.account_mode {
            AccountMode::None => {}
            AccountMode::User => self.incr_user_locked_vm(npages)?,
            AccountMode::Mm => self.update_mm_locked_vm(npages, true)?,
        }
        // SAFETY: `mm` holds an `mmgrab()` count, so `pinned_vm` is valid memory.
        unsafe { bindings::mm_pinned_vm_add(self.source.mm, npages as i64) };
        Ok(())
    }

    /// Uncharges `npages` unpinned pages (C `do_update_pinned(pages, npages, false, NULL)`,
    /// whose error C ignores too).
    fn uncharge(&self, npages: u64) {
        match self.account_mode {
            AccountMode::None => {}
            AccountMode::User => self.decr_user_locked_vm(npages),
            AccountMode::Mm => {
                if self.update_mm_locked_vm(npages, false).is_err() {
                    return;
                }
            }
        }
        // SAFETY: As in `charge`.
        unsafe { bindings::mm_pinned_vm_sub(self.source.mm, npages as i64) };
    }

    /// C `incr_user_locked_vm()`: the user's `locked_vm` against the source task's
    /// `RLIMIT_MEMLOCK`; `ENOMEM` above it.
    fn incr_user_locked_vm(&self, npages: u64) -> Result<(), Errno> {
        // SAFETY: `task` holds a `get_task_struct()` count (invariants of `Source`).
        let limit = unsafe { bindings::task_rlimit_memlock(self.source.task) } as u64 / PAGE_SIZE;
        let user = self.source.user;
        // SAFETY: `user` holds a count (invariants of `Source`).
        let mut cur = unsafe { bindings::user_locked_vm_read(user) };
        loop {
            let new = (cur as u64).checked_add(npages).ok_or(Errno::ENOMEM)?;
            if new > limit {
                return Err(Errno::ENOMEM);
            }
            // SAFETY: As above; `cur` is a valid local the cmpxchg updates on failure.
            if unsafe { bindings::user_locked_vm_try_cmpxchg(user, &mut cur, new as _) } {
                return Ok(());
            }
        }
    }

    /// C `decr_user_locked_vm()`.
    fn decr_user_locked_vm(&self, npages: u64) {
        let user = self.source.user;
        // SAFETY: `user` holds a count (invariants of `Source`).
        let cur = unsafe { bindings::user_locked_vm_read(user) };
        if (cur as u64) < npages {
            pr_warn!("iommufd: pages: locked_vm underflow\n");
            return;
        }
        // SAFETY: As above.
        unsafe { bindings::user_locked_vm_sub(user, npages as _) };
    }

    /// C `update_mm_locked_vm()`: `__account_locked_vm()` on the source mm, under its
    /// `mmap_write_lock`. `EINVAL` if the mm is gone, `ENOMEM` above `RLIMIT_MEMLOCK`.
    fn update_mm_locked_vm(&self, npages: u64, inc: bool) -> Result<(), Errno> {
        let mm = self.source.mm;
        // SAFETY: `mm` holds an `mmgrab()` count; a successful `mmget_not_zero` is balanced
        // by the `mmput` below.
        if !unsafe { bindings::mmget_not_zero(mm) } {
            return Err(Errno::EINVAL);
        }
        // SAFETY: We hold an `mmget` on `mm` and no `mmap_lock` (callers drop the read lock
        // before charging); `task` holds a count.
        let rc = unsafe {
            bindings::mmap_write_lock(mm);
            let rc = bindings::__account_locked_vm(mm, npages as _, inc, self.source.task, false);
            bindings::mmap_write_unlock(mm);
            bindings::mmput(mm);
            rc
        };
        if rc < 0 {
            return Err(Errno(-rc));
        }
        Ok(())
    }
}

/// C `copy_data_page()`: copies between `data` and `page` at `offset`; a write dirties the
/// page.
///
/// # Safety
///
/// `page` must be a page the caller holds (a pin or a reference) for the duration of the call,
/// and `offset + data.len() <= PAGE_SIZE`.
unsafe fn copy_data_page(page: *mut bindings::page, data: &mut [u8], offset: usize, flags: u32) {
    // SAFETY: `page` is held (caller's guarantee); the mapping is undone below.
    let mem = unsafe { bindings::kmap_local_page(page) }.cast::<u8>();
    // SAFETY: `mem` maps the whole page and `offset + data.len() <= PAGE_SIZE` (caller's
    // guarantee); `data` is a distinct kernel buffer.
    unsafe {
        if flags & ACCESS_RW_WRITE != 0 {
            core::ptr::copy_nonoverlapping(data.as_ptr(), mem.add(offset), data.len());
            bindings::set_page_dirty_lock(page);
        } else {
            core::ptr::copy_nonoverlapping(mem.add(offset), data.as_mut_ptr(), data.len());
        }
        bindings::kunmap_local(mem.cast::<c_void>().cast_const());
    }
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
        let mm = self.source.mm;
        // SAFETY: Reads `current->mm`.
        let mut change_mm = unsafe { bindings::current_mm() } != mm;
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
        if change_mm {
            // SAFETY: `mm` holds an `mmgrab()` count; balanced by `mmput` below.
            if !unsafe { bindings::mmget_not_zero(mm) } {
                return self.rw_slow(start_index, last_index, offset, data, flags);
            }
            // SAFETY: The caller says it is a kthread (`ACCESS_RW_KTHREAD`), as C requires;
            // the mm is referenced until `kthread_unuse_mm`.
            unsafe { bindings::kthread_use_mm(mm) };
        }
        let at = (self.uptr as usize).wrapping_add(start_byte as usize);
        let rc = if flags & ACCESS_RW_WRITE != 0 {
            crate::user::write(at, data)
        } else {
            crate::user::read(at, data)
        };
        if change_mm {
            // SAFETY: Undoes the `kthread_use_mm` and `mmget_not_zero` above.
            unsafe {
                bindings::kthread_unuse_mm(mm);
                bindings::mmput(mm);
            }
        }
        rc
    }

    /// C `iopt_pages_rw_page()`: one page, pinned just for the copy.
    fn rw_page(&self, index: u64, offset: usize, data: &mut [u8], flags: u32) -> Result<(), Errno> {
        let mm = self.source.mm;
        // SAFETY: `mm` holds an `mmgrab()` count; balanced by `mmput` below.
        if !unsafe { bindings::mmget_not_zero(mm) } {
            return self.rw_slow(index, index, offset, data, flags);
        }
        let rc = (|| {
            if should_fail() {
                return Err(Errno::EINVAL);
            }
            let gup_flags = if flags & ACCESS_RW_WRITE != 0 {
                bindings::FOLL_WRITE
            } else {
                0
            };
            let mut page: *mut bindings::page = core::ptr::null_mut();
            let uptr = self.uptr + index * PAGE_SIZE;
            // SAFETY: We hold an `mmget`; the lock is taken around the call; `page` is a
            // valid array of one.
            let got = unsafe {
                bindings::mmap_read_lock(mm);
                let got = bindings::pin_user_pages_remote(
                    mm,
                    uptr as _,
                    1,
                    gup_flags,
                    &mut page,
                    core::ptr::null_mut(),
                );
                bindings::mmap_read_unlock(mm);
                got
            };
            if got != 1 {
                return Err(if got < 0 {
                    Errno(-(got as i32))
                } else {
                    Errno::EINVAL
                });
            }
            // SAFETY: `page` is pinned until `unpin_user_page`; `offset + len` stays in the
            // page (the caller's range is within one page).
            unsafe {
                copy_data_page(page, data, offset, flags);
                bindings::unpin_user_page(page);
            }
            Ok(())
        })();
        // SAFETY: Balances the `mmget_not_zero` above.
        unsafe { bindings::mmput(mm) };
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
            let (s, l) = self.range(start_index, last_index)?;
            let pages = st.pages.get(s..=l).ok_or(Errno::EINVAL)?;
            let mut offset = offset;
            let mut rest = &mut data[..];
            for &page in pages {
                if rest.is_empty() {
                    break;
                }
                let n = rest.len().min(PAGE_SIZE as usize - offset);
                let (chunk, tail) = rest.split_at_mut(n);
                // SAFETY: We hold users on the pages, so they stay pinned; `offset + n` is at
                // most `PAGE_SIZE`.
                unsafe { copy_data_page(page, chunk, offset, flags) };
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

#[pinned_drop]
impl PinnedDrop for Pages {
    fn drop(self: Pin<&mut Self>) {
        // C `iopt_release_pages()` warns if anything is still pinned; we also give it back.
        let mut st = self.pins.lock();
        if st.npinned == 0 {
            return;
        }
        pr_warn!(
            "iommufd: pages freed with {} pages pinned; unpinning\n",
            st.npinned
        );
        for u in st.users.iter_mut() {
            *u = 0;
        }
        let last = st.users.len().saturating_sub(1);
        let n = Self::unpin_unused(&mut st, 0, last, self.writable);
        st.npinned = 0;
        drop(st);
        self.uncharge(n);
    }
}

/// `capable(cap)` of the current task.
pub(crate) fn kernel_capable(cap: i32) -> bool {
    // SAFETY: `capable` only reads the current task's credentials; any `cap` value is valid
    // (out of range ones are rejected with a warning by the callee, and we pass constants).
    unsafe { bindings::capable(cap) }
}

/// An area's reference to its pages object: one strong count of an `Arc<Pages>`, kept as
/// the address of the `Pages` so that the pure core can copy it as an opaque handle.
///
/// # Invariants
///
/// A `PagesRef` held by an area of an io_pagetable (or in flight between
/// [`PagesRef::from_arc`] and being stored or [`PagesRef::release`]d) owns exactly one strong
/// count of the `Arc<Pages>` it was made from. Copies of the handle made by the core are the
/// same reference, not new counts: the core hands each area's handle back exactly once, when
/// the area is removed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct PagesRef(usize);

impl PagesRef {
    /// Turns one strong count into a handle.
    pub(crate) fn from_arc(pages: Arc<Pages>) -> PagesRef {
        PagesRef(Arc::into_raw(pages) as usize)
    }

    /// Gives back the strong count the handle owns.
    ///
    /// # Safety
    ///
    /// The handle must own a count (see the type invariants) and must not be used again.
    pub(crate) unsafe fn release(self) {
        // SAFETY: By the caller's guarantee `self.0` came from `Arc::into_raw` and still owns
        // the count that `from_raw` takes back.
        drop(unsafe { Arc::from_raw(self.0 as *const Pages) });
    }

    /// A new count of the same pages, for another area.
    ///
    /// # Safety
    ///
    /// The handle must own a count for the duration of the call.
    pub(crate) unsafe fn clone_ref(self) -> PagesRef {
        // SAFETY: The caller guarantees the handle owns a count, so the `Arc` is alive; the
        // borrowed `Arc` is not dropped (`ManuallyDrop`), so the count stays with `self`.
        let arc = core::mem::ManuallyDrop::new(unsafe { Arc::from_raw(self.0 as *const Pages) });
        PagesRef::from_arc(Arc::clone(&arc))
    }

    /// The pages object.
    ///
    /// # Safety
    ///
    /// The handle must own a count for the lifetime `'a`.
    pub(crate) unsafe fn get<'a>(self) -> &'a Pages {
        // SAFETY: The caller guarantees the `Arc` (and so the `Pages`) lives for `'a`.
        unsafe { &*(self.0 as *const Pages) }
    }
}
