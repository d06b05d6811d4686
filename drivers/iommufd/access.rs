// SPDX-License-Identifier: GPL-2.0

//! Accesses (C `device.c` `iommufd_access_*`, `io_pagetable.c` `iopt_add_access` /
//! `iopt_remove_access`, `pages.c` `iopt_area_add_access` / `iopt_area_remove_access`): the
//! software-IOMMU path of emulated devices (vfio mdev) and of the selftest. An access reads and
//! writes an IOAS through the CPU ([`Access::rw`]) or pins the pages behind IOVAs
//! ([`Access::pin_pages`]); before an IOVA range with pinned pages is unmapped, every access of
//! the IOAS is told to let go ([`notify_unmap`], its driver's `unmap` op).
//!
//! The kernel API for vfio is exported by `iommufd_shim.c` (`iommufd_access_create` ...,
//! namespace `IOMMUFD`), which forwards to the `iommufd_rs_access_*` functions at the end of
//! this file. A `struct iommufd_access *` is the address of an [`Access`] and owns one count of
//! its `Arc`; those functions take it as `&Access` (and the context as `Option<CtxRef>`, as
//! [`crate::kapi`] does), so that the C caller's promise is stated once, in the signature.
//!
//! Lock order: one table for the module, `Documentation/locking.md`. Here: [`Access::notify`] (held
//! while a driver's `unmap` op runs for [`notify_unmap`]); the driver's own locks (taken in its
//! `unmap` op); [`Access::state`] (C `ioas_lock`); an IOAS's io_pagetable lock (C `iova_rwsem`); a
//! pages object's lock; the context's object table lock. `notify_unmap` and an access's change of
//! IOAS call the driver's `unmap` op with none of these held (but `notify`).

use crate::shim;
use crate::{
    ctx::{CtxRef, IommufdCtx},
    error::err_ptr,
    io_pagetable::IoptState,
    ioas::Ioas,
    iommufd_core::{
        errno::Errno,
        iopt::{UnmapCursor, UnmapStop, IOMMU_READ, IOMMU_WRITE},
        ucmd::test_cmd::syz_layout,
    },
    object::{self, ObjType, Object},
    pages::{ACCESS_RW_WRITE, PAGE_SIZE},
};
use core::ffi::{c_int, c_uint, c_ulong, c_void};
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use kernel::{
    bindings, new_mutex,
    prelude::*,
    sync::{
        lock::{mutex::MutexBackend, Guard},
        Arc, Mutex,
    },
};

/// The accesses attached to an io_pagetable (C `iopt->access_list`), kept in
/// [`IoptState`] under its lock.
pub(crate) struct AccessList {
    /// `(iopt_access_list_id, access)`, sorted by ID.
    entries: KVec<(u32, Arc<Access>)>,
}

impl AccessList {
    /// No access.
    pub(crate) const fn new() -> Self {
        AccessList {
            entries: KVec::new(),
        }
    }

    /// The largest `iova_alignment` of the accesses (1 if none): their part of C
    /// `iopt_calculate_iova_alignment()`.
    pub(crate) fn required_alignment(&self) -> u64 {
        self.entries
            .iter()
            .map(|(_, a)| a.iova_alignment)
            .max()
            .unwrap_or(1)
    }

    /// Adds `access` under the lowest free ID below `1 << 16` (C `xa_alloc(..., xa_limit_16b)`).
    fn insert(&mut self, access: Arc<Access>) -> Result<u32, Errno> {
        let mut id = 0u32;
        let mut at = 0usize;
        for (i, (eid, _)) in self.entries.iter().enumerate() {
            if *eid != id {
                break;
            }
            id += 1;
            at = i + 1;
        }
        if id > u32::from(u16::MAX) {
            return Err(Errno::EBUSY);
        }
        self.entries
            .insert_within_capacity_or_grow(at, (id, access))
            .map_err(|_| Errno::ENOMEM)?;
        Ok(id)
    }

    /// Removes the entry `id`, which must be `access` (C `WARN_ON(xa_erase() != access)`).
    fn remove(&mut self, id: u32, access: &Access) -> Option<Arc<Access>> {
        let pos = self
            .entries
            .iter()
            .position(|(eid, a)| *eid == id && core::ptr::eq(&**a, access))?;
        crate::storage::vec_remove(&mut self.entries, pos).map(|(_, a)| a)
    }

    /// The number of accesses.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The first access with an ID of at least `from`.
    fn first_from(&self, from: u32) -> Option<(u32, Arc<Access>)> {
        self.entries
            .iter()
            .find(|(id, _)| *id >= from)
            .map(|(id, a)| (*id, a.clone()))
    }
}

/// Inserts at `index`, growing the vector fallibly (a small helper over `KVec`).
trait InsertGrow<T> {
    fn insert_within_capacity_or_grow(&mut self, index: usize, value: T) -> Result<(), Errno>;
}

impl<T> InsertGrow<T> for KVec<T> {
    fn insert_within_capacity_or_grow(&mut self, index: usize, value: T) -> Result<(), Errno> {
        if index > self.len() {
            return Err(Errno::EINVAL);
        }
        self.push(value, GFP_KERNEL_ACCOUNT)
            .map_err(|_| Errno::ENOMEM)?;
        // Rotate the new last element into place.
        self.as_mut_slice()[index..].rotate_right(1);
        Ok(())
    }
}

/// The IOAS an access is attached to, with its object ID (the access holds a long-term
/// table reference on it, C `refcount_inc(&new_ioas->obj.users)`).
#[derive(Clone)]
struct Attached {
    ioas: Arc<Ioas>,
    id: u32,
}

impl Attached {
    fn same(a: &Option<Attached>, b: &Option<Attached>) -> bool {
        match (a, b) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(&a.ioas, &b.ioas),
            _ => false,
        }
    }
}

/// What C protects with `access->ioas_lock`.
struct AccessState {
    /// C `access->ioas`: where pins and copies go; `None` while changing IOAS.
    ioas: Option<Attached>,
    /// C `access->ioas_unpin`: where unpins go (still set while changing IOAS).
    ioas_unpin: Option<Attached>,
    /// C `iopt_access_list_id`: the entry in `ioas_unpin`'s [`AccessList`].
    list_id: u32,
}

/// An in-kernel access to IOASes (C `struct iommufd_access`).
///
/// # Invariants
///
/// `ctx` is the context the access was created in; the access holds a reference on it (C
/// `iommufd_ctx_get`) from creation to the end of [`Access::destroy`]. `ops` and `data` are
/// the creator's, valid until `destroy` returns.
#[pin_data]
pub(crate) struct Access {
    ctx: CtxRef,
    /// The object ID (C `access->obj.id`).
    id: u32,
    ops: *const bindings::iommufd_access_ops,
    data: *mut c_void,
    /// `PAGE_SIZE` if the driver pins pages, else 1 (C `access->iova_alignment`).
    iova_alignment: u64,
    /// C `ioas_lock`.
    #[pin]
    state: Mutex<AccessState>,
    /// Whether the access is being destroyed; held while [`notify_unmap`] calls the `unmap`
    /// op, so that `destroy` waits for such a call and no later one starts (C: the shortterm
    /// reference of `iommufd_lock_obj` and `REMOVE_WAIT_SHORTTERM`).
    #[pin]
    notify: Mutex<bool>,
    /// Pages pinned through this access and not unpinned yet (one per page per
    /// [`Access::pin_pages`]), for the debugfs view.
    pinned: AtomicU64,
}

/// Accesses created and not destroyed yet, module-wide (the debugfs summary).
static ACCESSES: AtomicUsize = AtomicUsize::new(0);

/// The number of accesses created and not destroyed yet, in every context.
pub(crate) fn live_accesses() -> usize {
    ACCESSES.load(Ordering::Relaxed)
}

// SAFETY: `ctx` is a counted reference to a context usable from any task; `ops` and `data` are
// the driver's, which C hands to any task too; the mutable state is behind mutexes.
unsafe impl Send for Access {}
// SAFETY: As for `Send`.
unsafe impl Sync for Access {}

/// The contiguous areas of an io_pagetable covering `[iova, last]` (C
/// `iopt_for_each_contig_area`): calls `f(state, area_iova, cur, piece_last)` for each, stops at
/// `f`'s error, and ends with `ENOENT` if the range is not covered by contiguous, fully set up
/// areas. Returns the first IOVA not visited (C `iter.cur_iova`) with the result.
fn for_each_contig_area(
    iopt: &mut IoptState,
    iova: u64,
    last: u64,
    mut f: impl FnMut(&mut IoptState, u64, u64, u64) -> Result<(), Errno>,
) -> (u64, Result<(), Errno>) {
    let mut cur = iova;
    loop {
        let Some(area) = iopt.core().area_containing(cur) else {
            return (cur, Err(Errno::ENOENT));
        };
        if area.is_pending() || (cur != iova && area.iova() != cur) {
            return (cur, Err(Errno::ENOENT));
        }
        let area_iova = area.iova();
        let area_last = area.last_iova();
        let piece_last = last.min(area_last);
        if let Err(e) = f(iopt, area_iova, cur, piece_last) {
            return (cur, Err(e));
        }
        if piece_last == last {
            return (last.wrapping_add(1), Ok(()));
        }
        cur = piece_last + 1;
    }
}

/// C `iopt_area_start_byte(area, iova)` of the area starting at `area_iova`.
fn start_byte(iopt: &IoptState, area_iova: u64, iova: u64) -> u64 {
    iopt.core()
        .area_containing(area_iova)
        .map_or(0, |a| a.start_byte().wrapping_add(iova - a.iova()))
}

impl Access {
    /// C `iommufd_access_create()`: a new access of `ctx` with the driver's `ops` and `data`,
    /// published in the object table with the driver as a user. Returns it with its ID.
    ///
    /// # Safety
    ///
    /// `ops` must be a valid `struct iommufd_access_ops` and, with `data`, stay valid until
    /// [`Access::destroy`] returns.
    pub(crate) unsafe fn create(
        ctx: CtxRef,
        ops: *const bindings::iommufd_access_ops,
        data: *mut c_void,
    ) -> Result<(Arc<Access>, u32), Errno> {
        let objects = ctx.objects();
        let id = objects.lock().table.reserve()?;
        // SAFETY: `ops` is valid (caller's guarantee).
        let needs_pin = unsafe { shim::iommufd_rs_ops_needs_pin_pages(ops) };
        let access = Arc::pin_init(
            pin_init!(Access {
                ctx,
                id,
                ops,
                data,
                iova_alignment: if needs_pin { PAGE_SIZE } else { 1 },
                state <- new_mutex!(
                    AccessState {
                        ioas: None,
                        ioas_unpin: None,
                        list_id: 0,
                    },
                    "iommufd_access::ioas_lock"
                ),
                notify <- new_mutex!(false, "iommufd_access::notify"),
                pinned: AtomicU64::new(0),
            }),
            GFP_KERNEL_ACCOUNT,
        );
        let access = match access {
            Ok(a) => a,
            Err(_) => {
                objects.lock().table.abort(id);
                return Err(Errno::ENOMEM);
            }
        };
        // INVARIANT: the context reference the access holds.
        ctx.get_file();
        ACCESSES.fetch_add(1, Ordering::Relaxed);
        {
            let mut g = objects.lock();
            if g.table.finalize(id, Object::new(access.clone())).is_err() {
                pr_warn!("iommufd: access {} finalized twice\n", id);
            }
            // C: the calling driver is a user until iommufd_access_destroy().
            if g.table.add_user(id).is_err() {
                pr_warn!("iommufd: access {} lost at creation\n", id);
            }
        }
        Ok((access, id))
    }

    /// The context.
    fn ctx(&self) -> &IommufdCtx {
        // The access holds a reference on its context until `destroy` (type invariants).
        self.ctx.ctx()
    }

    /// Whether the driver pins pages (C `ops->needs_pin_pages`).
    pub(crate) fn needs_pin_pages(&self) -> bool {
        self.iova_alignment == PAGE_SIZE
    }

    /// Calls the driver's `unmap` op, if it has one.
    fn call_unmap(&self, iova: u64, length: u64) {
        // SAFETY: `ops` and `data` are valid until `destroy` returns (type invariants), and
        // callers are before its end.
        unsafe {
            if shim::iommufd_rs_ops_has_unmap(self.ops) {
                shim::iommufd_rs_ops_unmap(self.ops, self.data, iova as usize, length as usize);
            }
        }
    }

    /// C `iommufd_access_destroy()` (`iommufd_object_destroy_user()` then
    /// `iommufd_access_destroy_object()`): stops notifications (waiting for one in flight),
    /// removes the object, detaches from its IOAS and drops the context reference. The
    /// driver must stop using the access before.
    pub(crate) fn destroy(this: Arc<Access>) {
        *this.notify.lock() = true;
        let objects = this.ctx().objects();
        // Drops the creator's reference and waits for lookups in flight (C
        // `iommufd_object_destroy_user`); the object is dropped here, outside the table's lock.
        match objects.destroy_user(this.id, Some(ObjType::Access as u32)) {
            Ok(obj) => {
                if !obj
                    .get::<Access>()
                    .is_some_and(|a| core::ptr::eq(a, &*this))
                {
                    pr_warn!("iommufd: object {} was not this access\n", this.id);
                }
                drop(obj);
            }
            Err(e) => pr_warn!("iommufd: access {} not removed ({:?})\n", this.id, e),
        }
        let st = this.state.lock();
        if st.ioas.is_some() {
            let (st, rc) = this.change_ioas(st, None);
            drop(st);
            if rc.is_err() {
                pr_warn!("iommufd: detaching access {} at destroy failed\n", this.id);
            }
        } else {
            drop(st);
        }
        let ctx = this.ctx;
        drop(this);
        ACCESSES.fetch_sub(1, Ordering::Relaxed);
        // The reference the access held (type invariants); nothing uses `ctx` after.
        ctx.put_file();
    }

    /// C `iommufd_access_change_ioas()`: moves the access to `new` (or detaches it), telling
    /// the driver to unpin everything of the old IOAS first. `EBUSY` while racing another
    /// change. Called and returns with the state locked (unlocked around the `unmap` op).
    fn change_ioas<'a>(
        &'a self,
        mut st: Guard<'a, AccessState, MutexBackend>,
        new: Option<Attached>,
    ) -> (Guard<'a, AccessState, MutexBackend>, Result<(), Errno>) {
        let cur = st.ioas.clone();
        // We are racing with a concurrent detach, bail.
        if !Attached::same(&cur, &st.ioas_unpin) {
            return (st, Err(Errno::EBUSY));
        }
        if Attached::same(&cur, &new) {
            return (st, Ok(()));
        }
        let old_list_id = st.list_id;
        // Block further pins; unpins keep using `ioas_unpin`.
        st.ioas = None;
        let mut new_list_id = 0;
        if let Some(n) = &new {
            match self.add_to(&n.ioas) {
                Ok(id) => new_list_id = id,
                Err(e) => {
                    st.ioas = cur;
                    return (st, Err(e));
                }
            }
            if self.ctx().objects().lock().table.add_user(n.id).is_err() {
                pr_warn!("iommufd: IOAS {} vanished under an access\n", n.id);
            }
        }
        if let Some(c) = &cur {
            drop(st);
            self.call_unmap(0, u64::MAX);
            st = self.state.lock();
            self.remove_from(&c.ioas, old_list_id);
            self.ctx().objects().lock().table.remove_user(c.id);
        }
        st.ioas = new.clone();
        st.ioas_unpin = new;
        st.list_id = new_list_id;
        (st, Ok(()))
    }

    /// C `iopt_add_access()`: joins `ioas`'s access list and recalculates its IOVA alignment.
    fn add_to(&self, ioas: &Ioas) -> Result<u32, Errno> {
        let me = self.arc();
        let mut iopt = ioas.iopt();
        let id = iopt.accesses.insert(me)?;
        let required = iopt.required_alignment();
        if let Err(e) = iopt.core_mut().calculate_iova_alignment(required) {
            drop(iopt.accesses.remove(id, self));
            return Err(e);
        }
        Ok(id)
    }

    /// C `iopt_remove_access()`.
    fn remove_from(&self, ioas: &Ioas, list_id: u32) {
        let mut iopt = ioas.iopt();
        let gone = iopt.accesses.remove(list_id, self);
        if gone.is_none() {
            pr_warn!("iommufd: access {} not in its IOAS's list\n", self.id);
        }
        let required = iopt.required_alignment();
        if iopt.core_mut().calculate_iova_alignment(required).is_err() {
            pr_warn!("iommufd: IOVA alignment after removing an access\n");
        }
        drop(iopt);
        drop(gone);
    }

    /// Another count of the `Arc` this access lives in.
    fn arc(&self) -> Arc<Access> {
        let ptr: *const Access = self;
        // SAFETY: Every `Access` is made by `Arc::pin_init` in `create` and reached through
        // an `Arc` its callers hold, so `ptr` is in a live `Arc`; the count taken by
        // `from_raw` is not ours, so it is given back by `ManuallyDrop` and a clone is made.
        let arc = core::mem::ManuallyDrop::new(unsafe { Arc::from_raw(ptr) });
        Arc::clone(&arc)
    }

    /// C `iommufd_access_change_ioas_id()`.
    fn change_ioas_id<'a>(
        &'a self,
        st: Guard<'a, AccessState, MutexBackend>,
        id: u32,
    ) -> (Guard<'a, AccessState, MutexBackend>, Result<(), Errno>) {
        let ioas = match object::get::<Ioas>(self.ctx().objects(), id) {
            Ok(ioas) => ioas,
            Err(e) => return (st, Err(e)),
        };
        let new = Attached {
            ioas: ioas.arc(),
            id,
        };
        let r = self.change_ioas(st, Some(new));
        drop(ioas);
        r
    }

    /// C `iommufd_access_attach()`: `EINVAL` if attached already.
    pub(crate) fn attach(&self, ioas_id: u32) -> Result<(), Errno> {
        let st = self.state.lock();
        if st.ioas.is_some() {
            pr_warn!("iommufd: access {} attached twice\n", self.id);
            return Err(Errno::EINVAL);
        }
        self.change_ioas_id(st, ioas_id).1
    }

    /// C `iommufd_access_replace()`: `ENOENT` if not attached.
    pub(crate) fn replace(&self, ioas_id: u32) -> Result<(), Errno> {
        let st = self.state.lock();
        if st.ioas.is_none() {
            return Err(Errno::ENOENT);
        }
        self.change_ioas_id(st, ioas_id).1
    }

    /// C `iommufd_access_detach()`.
    pub(crate) fn detach(&self) {
        let st = self.state.lock();
        if st.ioas.is_none() {
            pr_warn!(
                "iommufd: detaching access {} that is not attached\n",
                self.id
            );
            return;
        }
        if self.change_ioas(st, None).1.is_err() {
            pr_warn!("iommufd: detaching access {} failed\n", self.id);
        }
    }

    /// C `iommufd_access_pin_pages()`: pins the pages behind `[iova, iova + length)` (page
    /// aligned in the pages objects) and returns them in `out`, one per page. Undone by
    /// [`Access::unpin_pages`] with the same range. `EINVAL` (empty, misaligned, being
    /// unmapped, `out` too short), `EOVERFLOW`, `ENOENT` (not attached, not fully mapped),
    /// `EPERM` (no such permission), and the pinning errors.
    pub(crate) fn pin_pages(
        &self,
        iova: u64,
        length: u64,
        out: &mut [*mut bindings::page],
        flags: u32,
    ) -> Result<(), Errno> {
        // SAFETY: `ops` is valid (type invariants).
        let has_unmap = unsafe { shim::iommufd_rs_ops_has_unmap(self.ops) };
        // Driver's ops don't support pin_pages (C warns under CONFIG_IOMMUFD_TEST).
        if cfg!(CONFIG_IOMMUFD_TEST) && (self.iova_alignment != PAGE_SIZE || !has_unmap) {
            pr_warn!("iommufd: pin_pages on an access that cannot unmap\n");
            return Err(Errno::EINVAL);
        }
        if length == 0 {
            return Err(Errno::EINVAL);
        }
        let last = iova.checked_add(length - 1).ok_or(Errno::EOVERFLOW)?;
        let st = self.state.lock();
        let ioas = st.ioas.as_ref().ok_or(Errno::ENOENT)?;
        let mut iopt = ioas.ioas.iopt();
        let mut used = 0usize;
        let (cur, rc) = for_each_contig_area(&mut iopt, iova, last, |iopt, area_iova, cur, pl| {
            let Some(area) = iopt.core().area_containing(area_iova) else {
                return Err(Errno::ENOENT);
            };
            let sb = start_byte(iopt, area_iova, cur);
            let not_done = last > area.last_iova();
            // C iopt_area_contig_is_aligned().
            let aligned = sb % PAGE_SIZE == 0
                && (!not_done
                    || start_byte(iopt, area_iova, area.last_iova()) % PAGE_SIZE == PAGE_SIZE - 1);
            if area.prevent_access() || !aligned {
                return Err(Errno::EINVAL);
            }
            if !check_area_prot(area.iommu_prot(), flags) {
                return Err(Errno::EPERM);
            }
            let index = sb / PAGE_SIZE;
            let last_index = start_byte(iopt, area_iova, pl) / PAGE_SIZE;
            let pages = area.handle();
            // C iopt_area_add_access().
            if flags & ACCESS_RW_WRITE != 0 && !pages.writable() {
                return Err(Errno::EPERM);
            }
            let n = usize::try_from(last_index - index + 1).map_err(|_| Errno::EINVAL)?;
            let end = used.checked_add(n).ok_or(Errno::EINVAL)?;
            let dst = out.get_mut(used..end).ok_or(Errno::EINVAL)?;
            pages.add_users(index, last_index)?;
            if let Err(e) = pages.copy_pages(index, dst) {
                pages.remove_users(index, last_index);
                return Err(e);
            }
            used = end;
            if let Some(a) = iopt.core_mut().area_containing_mut(area_iova) {
                a.set_num_accesses(a.num_accesses() + 1);
            }
            Ok(())
        });
        if let Err(e) = rc {
            if iova < cur {
                Self::remove_access_range(&mut iopt, iova, cur - 1);
            }
            return Err(e);
        }
        self.pinned.fetch_add(used as u64, Ordering::Relaxed);
        Ok(())
    }

    /// For the debugfs view: the object ID, the ID of the IOAS the access is attached to, and
    /// the pages pinned through it. Takes the access's state lock briefly.
    pub(crate) fn debug_state(&self) -> (u32, Option<u32>, u64) {
        let ioas = self.state.lock().ioas.as_ref().map(|a| a.id);
        (self.id, ioas, self.pinned.load(Ordering::Relaxed))
    }

    /// Undoes `iopt_area_add_access()` over the contiguous areas of `[iova, last]`.
    /// Returns whether the range was covered, and how many pages were let go.
    fn remove_access_range(iopt: &mut IoptState, iova: u64, last: u64) -> (bool, u64) {
        let mut npages = 0u64;
        let (_, rc) = for_each_contig_area(iopt, iova, last, |iopt, area_iova, cur, pl| {
            let index = start_byte(iopt, area_iova, cur) / PAGE_SIZE;
            let last_index = start_byte(iopt, area_iova, pl) / PAGE_SIZE;
            npages += last_index - index + 1;
            let Some(area) = iopt.core_mut().area_containing_mut(area_iova) else {
                return Err(Errno::ENOENT);
            };
            if area.num_accesses() == 0 {
                pr_warn!("iommufd: unpin of an area without accesses\n");
            } else {
                area.set_num_accesses(area.num_accesses() - 1);
            }
            let pages = area.handle();
            pages.remove_users(index, last_index);
            Ok(())
        });
        (rc.is_ok(), npages)
    }

    /// C `iommufd_access_unpin_pages()`: gives back pages of [`Access::pin_pages`] (same
    /// range). Never fails; misuse only warns.
    pub(crate) fn unpin_pages(&self, iova: u64, length: u64) {
        let Some(last) = length.checked_sub(1).and_then(|l| iova.checked_add(l)) else {
            pr_warn!("iommufd: unpin_pages of a bad range\n");
            return;
        };
        let st = self.state.lock();
        let Some(ioas) = st.ioas_unpin.as_ref() else {
            pr_warn!("iommufd: unpin_pages on an access that is not attached\n");
            return;
        };
        let mut iopt = ioas.ioas.iopt();
        let (covered, npages) = Self::remove_access_range(&mut iopt, iova, last);
        // What was pinned through this access and is let go (never below zero if a driver
        // unpins what it did not pin).
        let _ = self
            .pinned
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |p| {
                Some(p.saturating_sub(npages))
            });
        if !covered {
            pr_warn!("iommufd: unpin_pages of a range that is not mapped\n");
        }
    }

    /// C `iommufd_access_rw()`: copies `data` to (`IOMMUFD_ACCESS_RW_WRITE`) or from
    /// `[iova, iova + data.len())`. `EINVAL` (empty, being unmapped), `EOVERFLOW`, `ENOENT`,
    /// `EPERM`, `EFAULT`.
    pub(crate) fn rw(&self, iova: u64, data: &mut [u8], flags: u32) -> Result<(), Errno> {
        let length = data.len() as u64;
        if length == 0 {
            return Err(Errno::EINVAL);
        }
        let last = iova.checked_add(length - 1).ok_or(Errno::EOVERFLOW)?;
        let st = self.state.lock();
        let ioas = st.ioas.as_ref().ok_or(Errno::ENOENT)?;
        let mut iopt = ioas.ioas.iopt();
        let mut off = 0usize;
        let (_, rc) = for_each_contig_area(&mut iopt, iova, last, |iopt, area_iova, cur, pl| {
            let Some(area) = iopt.core().area_containing(area_iova) else {
                return Err(Errno::ENOENT);
            };
            if area.prevent_access() {
                return Err(Errno::EINVAL);
            }
            if !check_area_prot(area.iommu_prot(), flags) {
                return Err(Errno::EPERM);
            }
            let bytes = usize::try_from(pl - cur + 1).map_err(|_| Errno::EINVAL)?;
            let end = off.checked_add(bytes).ok_or(Errno::EINVAL)?;
            let chunk = data.get_mut(off..end).ok_or(Errno::EINVAL)?;
            let pages = area.handle();
            pages.rw_access(start_byte(iopt, area_iova, cur), chunk, flags)?;
            off = end;
            Ok(())
        });
        rc
    }

    /// C `iommufd_test_syz_conv_iova()` for an access: the `nth_area`-th area of its IOAS plus
    /// an offset; 0 if not attached or no such area.
    pub(crate) fn syz_conv_iova(&self, iova: u64) -> u64 {
        let st = self.state.lock();
        let Some(ioas) = st.ioas.as_ref() else {
            return 0;
        };
        let (nth, offset) = syz_layout(iova);
        let iopt = ioas.ioas.iopt();
        iopt.core()
            .areas()
            .get_nth(nth as usize)
            .map_or(0, |a| a.iova().wrapping_add(u64::from(offset)))
    }
}

/// C `check_area_prot()`.
fn check_area_prot(prot: u32, flags: u32) -> bool {
    if flags & ACCESS_RW_WRITE != 0 {
        prot & IOMMU_WRITE != 0
    } else {
        prot & IOMMU_READ != 0
    }
}

/// C `iommufd_access_notify_unmap()`: asks every access of `ioas` to unpin what it has in
/// `[iova, iova + length)`. Called without the io_pagetable lock.
pub(crate) fn notify_unmap(ioas: &Ioas, iova: u64, length: u64) {
    let mut next = 0u32;
    loop {
        let Some((id, access)) = ioas.iopt().accesses.first_from(next) else {
            break;
        };
        {
            let destroying = access.notify.lock();
            if !*destroying {
                access.call_unmap(iova, length);
            }
        }
        drop(access);
        match id.checked_add(1) {
            Some(n) => next = n,
            None => break,
        }
    }
}

/// C `iopt_unmap_iova_range()` with access notification: unmaps the whole areas in
/// `[start, last]`, dropping the io_pagetable lock to notify the accesses of an area that has
/// some, and retrying; `EDEADLOCK` if they do not let go. Returns the bytes unmapped (also on
/// error) and the result.
pub(crate) fn unmap_iova_range(ioas: &Ioas, start: u64, last: u64) -> (u64, Result<(), Errno>) {
    let mut cursor = UnmapCursor::new(start, last);
    loop {
        let step = ioas.iopt().unmap_step(&mut cursor);
        match step {
            Ok(()) => return (cursor.unmapped(), Ok(())),
            Err(UnmapStop::Error(e)) => return (cursor.unmapped(), Err(e)),
            Err(UnmapStop::Accessed { iova, length }) => {
                notify_unmap(ioas, iova, length);
                if let Err(e) = cursor.notified() {
                    // C: WARN_ON(tries > 100), something is not responding to unmaps.
                    pr_warn!("iommufd: accesses do not let go of IOVA {:#x}\n", iova);
                    return (cursor.unmapped(), Err(e));
                }
            }
        }
    }
}

/// `IOMMU_IOAS_UNMAP`'s unmap (C `iommufd_ioas_unmap()`: `iopt_unmap_all()` for `iova` 0 and
/// `length` `u64::MAX`, else `iopt_unmap_iova()`), notifying accesses. Returns the bytes
/// unmapped; `ENOENT` if nothing was (except for unmap-all), `EOVERFLOW`, `EINVAL`.
pub(crate) fn ioas_unmap(ioas: &Ioas, iova: u64, length: u64) -> Result<u64, Errno> {
    if iova == 0 && length == u64::MAX {
        let (n, rc) = unmap_iova_range(ioas, 0, u64::MAX);
        return rc.map(|()| n);
    }
    if iova == u64::MAX || length == u64::MAX {
        return Err(Errno::EOVERFLOW);
    }
    if length == 0 {
        return Err(Errno::EINVAL);
    }
    let last = iova.checked_add(length - 1).ok_or(Errno::EOVERFLOW)?;
    let (n, rc) = unmap_iova_range(ioas, iova, last);
    rc?;
    if n == 0 {
        return Err(Errno::ENOENT);
    }
    Ok(n)
}

/// A negative errno as a C `int`.
fn to_c(rc: Result<(), Errno>) -> c_int {
    match rc {
        Ok(()) => 0,
        Err(e) => -e.0,
    }
}

/// `iommufd_access_create()` of the kernel API.
///
/// The handles are typed as in [`crate::kapi`]: a `struct iommufd_ctx *` is an
/// `Option<CtxRef>`, a `struct iommufd_access *` is an `Arc<Access>` turned into a raw pointer
/// here and taken back by [`iommufd_rs_access_destroy`], borrowed as `&Access` in between.
///
/// # Safety
///
/// `ictx` must be a live context the caller holds a reference on (C `iommufd_ctx_get`), `ops`
/// valid with `data` until `iommufd_access_destroy()`.
#[no_mangle]
pub(crate) unsafe extern "C" fn iommufd_rs_access_create(
    ictx: Option<CtxRef>,
    ops: *const bindings::iommufd_access_ops,
    data: *mut c_void,
    id: &mut u32,
) -> *mut Access {
    let Some(ctx) = ictx else {
        return err_ptr(Errno::EINVAL);
    };
    // SAFETY: `ops` and `data` as the caller guarantees.
    match unsafe { Access::create(ctx, ops, data) } {
        Ok((access, aid)) => {
            *id = aid;
            Arc::into_raw(access).cast_mut()
        }
        Err(e) => err_ptr(e),
    }
}

/// `iommufd_access_destroy()` of the kernel API.
///
/// # Safety
///
/// `access` must come from [`iommufd_rs_access_create`]; it is not used again.
#[no_mangle]
pub(crate) unsafe extern "C" fn iommufd_rs_access_destroy(access: *const Access) {
    // SAFETY: The pointer owns a count of the `Arc` (from `into_raw` in `create`), given back.
    let access = unsafe { Arc::from_raw(access) };
    Access::destroy(access);
}

/// `iommufd_access_detach()` of the kernel API.
///
/// # Safety
///
/// `access` must be a live access of [`iommufd_rs_access_create`].
#[no_mangle]
pub(crate) unsafe extern "C" fn iommufd_rs_access_detach(access: &Access) {
    access.detach();
}

/// `iommufd_access_attach()` of the kernel API.
///
/// # Safety
///
/// `access` must be a live access of [`iommufd_rs_access_create`].
#[no_mangle]
pub(crate) unsafe extern "C" fn iommufd_rs_access_attach(access: &Access, ioas_id: u32) -> c_int {
    to_c(access.attach(ioas_id))
}

/// `iommufd_access_replace()` of the kernel API.
///
/// # Safety
///
/// `access` must be a live access of [`iommufd_rs_access_create`].
#[no_mangle]
pub(crate) unsafe extern "C" fn iommufd_rs_access_replace(access: &Access, ioas_id: u32) -> c_int {
    to_c(access.replace(ioas_id))
}

/// `iommufd_access_unpin_pages()` of the kernel API.
///
/// # Safety
///
/// `access` must be a live access of [`iommufd_rs_access_create`].
#[no_mangle]
pub(crate) unsafe extern "C" fn iommufd_rs_access_unpin_pages(
    access: &Access,
    iova: c_ulong,
    length: c_ulong,
) {
    access.unpin_pages(iova, length);
}

/// `iommufd_access_pin_pages()` of the kernel API.
///
/// # Safety
///
/// `access` must be a live access of [`iommufd_rs_access_create`]; `out_pages` must have room
/// for one pointer per page the range spans.
#[no_mangle]
pub(crate) unsafe extern "C" fn iommufd_rs_access_pin_pages(
    access: &Access,
    iova: c_ulong,
    length: c_ulong,
    out_pages: *mut *mut bindings::page,
    flags: c_uint,
) -> c_int {
    let npages = iova
        .checked_add(length)
        .and_then(|end| end.checked_add(PAGE_SIZE - 1))
        .map_or(0, |end| (end / PAGE_SIZE) - iova / PAGE_SIZE);
    let out: &mut [*mut bindings::page] = if npages == 0 || out_pages.is_null() {
        &mut []
    } else {
        // SAFETY: The caller provides room for every page the range spans.
        unsafe { core::slice::from_raw_parts_mut(out_pages, npages as usize) }
    };
    to_c(access.pin_pages(iova, length, out, flags))
}

/// `iommufd_access_rw()` of the kernel API.
///
/// # Safety
///
/// `access` must be a live access of [`iommufd_rs_access_create`]; `data` must be valid for
/// `length` bytes (written unless `IOMMUFD_ACCESS_RW_WRITE`).
#[no_mangle]
pub(crate) unsafe extern "C" fn iommufd_rs_access_rw(
    access: &Access,
    iova: c_ulong,
    data: *mut c_void,
    length: usize,
    flags: c_uint,
) -> c_int {
    if length == 0 || data.is_null() {
        return -Errno::EINVAL.0;
    }
    // SAFETY: `data` is valid for `length` bytes (caller's guarantee).
    let buf = unsafe { core::slice::from_raw_parts_mut(data.cast::<u8>(), length) };
    to_c(access.rw(iova, buf, flags))
}

impl crate::object::ObjectKind for Access {
    const TYPE: crate::object::ObjType = crate::object::ObjType::Access;
}
