// SPDX-License-Identifier: GPL-2.0

//! I/O page fault delivery to user space (C `fault.c`): `IOMMU_FAULT_QUEUE_ALLOC` makes a
//! fault object and its anon-inode file (`[iommufd-pgfault]`). A nested HWPT allocated with
//! `IOMMU_HWPT_FAULT_ID_VALID` routes the IOPF groups of its domain to the object
//! ([`iopf_handler`]); user space reads them from the file as `struct iommu_hwpt_pgfault`
//! records and writes back `struct iommu_hwpt_page_response`s.
//!
//! The file's `file_operations` are C (`iommufd_shim.c`), calling the `iommufd_rs_fault_*`
//! functions here; the file's private data is a counted reference of the [`Fault`] (from
//! `Arc::into_raw`), which they borrow as `&Fault` until release takes it back, and the file
//! holds a user reference on the object and a reference on the context, both given back by its
//! release.
//!
//! A group lives in a [`Queued`] entry: on the delivery list ([`DeliverInner`]) from the
//! handler until user space reads it, then in the response table ([`ResponseInner`]) under its
//! cookie until user space answers it. The group itself is an
//! [`IopfGroup`](kernel::iommu::iopf::IopfGroup), which answers and frees it when the
//! entry goes. The record formats, the size checks and the cookie allocator are the core's
//! (`iommufd_core::ucmd::fault`).
//!
//! Lock order: one table for the module, `Documentation/locking.md`. Here: `Group::state` (C
//! `igroup->lock`, see [`crate::device`]), [`Fault::response`] (C `fault->mutex`),
//! [`Fault::deliver`] (C `fault->lock`). The object table's lock is never taken with a fault
//! lock held. A group is never answered with [`Fault::deliver`] held (the iommu core's
//! response path takes a mutex).

use crate::shim;
use crate::{
    ctx::{CtxRef, Ucmd},
    device::{AttachHandle, Device},
    hw_pagetable::Hwpt,
    iommufd_core::{
        errno::Errno,
        ucmd::fault::{self as rules, FaultAlloc, PageResponse, PageResponseCode, PgFault},
    },
    object::Object,
    user,
};
use core::{
    ffi::{c_int, c_void},
    ptr::NonNull,
    sync::atomic::Ordering,
};
use kernel::iommu::iopf::{IopfGroup, ResponseCode};
use kernel::{
    bindings,
    fs::file::{flags::O_CLOEXEC, File, FileDescriptorReservation},
    impl_has_list_links, impl_list_arc_safe, impl_list_item,
    list::{List, ListArc, ListLinks},
    new_condvar, new_mutex, new_spinlock,
    prelude::*,
    rbtree::{RBTree, RBTreeNodeReservation},
    sync::{Arc, CondVar, Mutex, SpinLock, UniqueArc},
};

// The uAPI's response codes are the iommu core's (C checks this with `static_assert`).
const _: () = assert!(PageResponseCode::Success as u32 == ResponseCode::Success as u32);
const _: () = assert!(PageResponseCode::Invalid as u32 == ResponseCode::Invalid as u32);

/// A group given to a fault object and not answered yet (C: the group itself, linked by
/// `iopf_group::node` on `fault->deliver` or stored in `fault->response`).
#[pin_data]
struct Queued {
    #[pin]
    links: ListLinks,
    group: IopfGroup,
}

impl_has_list_links! {
    impl HasListLinks<0> for Queued { self.links }
}
impl_list_arc_safe! {
    impl ListArcSafe<0> for Queued { untracked; }
}
impl_list_item! {
    impl ListItem<0> for Queued { using ListLinks; }
}

/// What [`Fault::deliver`] protects (C `fault->lock`).
struct DeliverInner {
    /// C `fault->deliver`: the groups reported and not read yet, oldest first.
    groups: List<Queued>,
}

/// What [`Fault::response`] protects (C `fault->mutex`).
struct ResponseInner {
    /// C `fault->response`: the groups read by user space and waiting for its answer, by
    /// cookie.
    groups: RBTree<u32, ListArc<Queued>>,
}

/// A fault object (C `struct iommufd_fault`).
#[pin_data(PinnedDrop)]
pub(crate) struct Fault {
    /// The object ID.
    pub(crate) id: u32,
    ctx: CtxRef,
    /// C `fault->mutex`: serializes the read and response flows.
    #[pin]
    response: Mutex<ResponseInner>,
    /// C `fault->lock`: the delivery list, also taken by the IOPF handler.
    #[pin]
    deliver: SpinLock<DeliverInner>,
    /// C `fault->wait_queue`: readers polling for groups.
    #[pin]
    wait_queue: CondVar,
}

#[pinned_drop]
impl PinnedDrop for Fault {
    fn drop(self: Pin<&mut Self>) {
        // C `iommufd_fault_destroy()`: nobody else can reach the object any more; every
        // group still pending is answered as invalid (by dropping its entry), the unread ones
        // first, then the read ones by cookie.
        let this = self.as_ref().get_ref();
        while let Some(item) = this.fetch() {
            drop(item);
        }
        let mut resp = this.response.lock();
        while let Some(cursor) = resp.groups.cursor_front() {
            let (_, node) = cursor.remove_current();
            drop(node);
        }
    }
}

impl Fault {
    /// C `iommufd_fault_deliver_fetch()`: takes the first group off the delivery list.
    fn fetch(&self) -> Option<ListArc<Queued>> {
        self.deliver.lock().groups.pop_front()
    }

    /// C `iommufd_fault_deliver_restore()`: puts a fetched group back at the head.
    fn restore(&self, item: ListArc<Queued>) {
        self.deliver.lock().groups.push_front(item);
    }

    /// Whether groups wait to be read (for `poll`).
    fn has_pending(&self) -> bool {
        !self.deliver.lock().groups.is_empty()
    }

    /// C `iommufd_auto_response_faults()`: answers as invalid every pending group of the
    /// attach handle `handle`, which is being detached or replaced.
    pub(crate) fn auto_response(&self, handle: *mut bindings::iommu_attach_handle) {
        let mut resp = self.response.lock();
        // The unread groups of the handle move to a private list under the spinlock (each to
        // its head, as C's `list_move()`), and are answered after it.
        let mut answer = List::<Queued>::new();
        {
            let mut deliver = self.deliver.lock();
            let mut keep = List::<Queued>::new();
            while let Some(item) = deliver.groups.pop_front() {
                if item.group.attach_handle() == handle {
                    answer.push_front(item);
                } else {
                    keep.push_back(item);
                }
            }
            deliver.groups.push_all_back(&mut keep);
        }
        while let Some(item) = answer.pop_front() {
            drop(item);
        }
        // The read groups of the handle, by cookie.
        let mut from = 0u32;
        loop {
            let found = {
                let Some(mut cursor) = resp.groups.cursor_lower_bound(&from) else {
                    break;
                };
                loop {
                    let (&cookie, item) = cursor.current();
                    if item.group.attach_handle() == handle {
                        break Some(cookie);
                    }
                    match cursor.move_next() {
                        Some(next) => cursor = next,
                        None => break None,
                    }
                }
            };
            let Some(cookie) = found else {
                break;
            };
            drop(resp.groups.remove(&cookie));
            match cookie.checked_add(1) {
                Some(next) => from = next,
                None => break,
            }
        }
    }

    /// C `iommufd_fault_fops_read()`.
    fn read(&self, buf: usize, count: usize, pos: i64) -> Result<usize, Errno> {
        rules::check_read(count, pos)?;
        let mut resp = self.response.lock();
        let mut done = 0usize;
        let mut rc = Ok(());
        while let Some(item) = self.fetch() {
            if !rules::group_fits(done, count, item.group.fault_count()) {
                self.restore(item);
                // The read count does not fit the first fault group.
                if done == 0 {
                    rc = Err(Errno::EINVAL);
                }
                break;
            }
            // C `xa_alloc()`: a free cookie, and the table's memory for it.
            let slot = rules::alloc_cookie(resp.groups.keys().copied()).and_then(|cookie| {
                RBTreeNodeReservation::new(GFP_KERNEL)
                    .map(|node| (cookie, node))
                    .map_err(|_| Errno::ENOMEM)
            });
            let (cookie, node) = match slot {
                Ok(s) => s,
                Err(e) => {
                    self.restore(item);
                    rc = Err(e);
                    break;
                }
            };
            match Self::copy_group(&item.group, buf, done, cookie) {
                Ok(group_done) => {
                    done = group_done;
                    resp.groups.insert(node.into_node(cookie, item));
                }
                Err(e) => {
                    self.restore(item);
                    rc = Err(e);
                    break;
                }
            }
        }
        drop(resp);
        if done == 0 {
            rc.map(|()| 0)
        } else {
            Ok(done)
        }
    }

    /// Writes the page requests of `group` (C `iommufd_compose_fault_message()` for each) to
    /// the user buffer `buf` from offset `done`; returns the offset after them.
    fn copy_group(
        group: &IopfGroup,
        buf: usize,
        mut done: usize,
        cookie: u32,
    ) -> Result<usize, Errno> {
        // SAFETY: The group's attach handle is one of our `AttachHandle`s (the HWPT's domain
        // is only attached through them), alive while the group is pending: detach and
        // replace answer the handle's groups (under `response`, which the caller holds)
        // before freeing it. The device that attached the handle is bound while it is
        // attached.
        let idev: *const Device = unsafe { AttachHandle::from_raw(group.attach_handle()) }
            .data()
            .0;
        // SAFETY: The device that attached the handle is bound while it is attached.
        let dev_id = unsafe { (*idev).id };
        for req in group.requests() {
            let msg = PgFault {
                flags: req.flags,
                dev_id,
                pasid: req.pasid,
                grpid: req.grpid,
                perm: req.perm,
                addr: req.addr,
                cookie,
            }
            .encode();
            user::write(user::offset(buf, done)?, &msg)?;
            done += PgFault::SIZE;
        }
        Ok(done)
    }

    /// C `iommufd_fault_fops_write()`.
    fn write(&self, buf: usize, count: usize, pos: i64) -> Result<usize, Errno> {
        rules::check_write(count, pos)?;
        let mut resp = self.response.lock();
        let mut done = 0usize;
        let mut rc = Ok(());
        while count > done {
            let mut b = [0u8; PageResponse::SIZE];
            if user::offset(buf, done)
                .and_then(|at| user::read(at, &mut b))
                .is_err()
            {
                rc = Err(Errno::EFAULT);
                break;
            }
            let response = match PageResponse::decode(&b) {
                Ok(r) => r,
                Err(e) => {
                    rc = Err(e);
                    break;
                }
            };
            let Some(item) = resp.groups.remove(&response.cookie) else {
                rc = Err(Errno::EINVAL);
                break;
            };
            item.group.respond(match response.code {
                PageResponseCode::Success => ResponseCode::Success,
                PageResponseCode::Invalid => ResponseCode::Invalid,
            });
            // The last reference: frees the group.
            drop(item);
            done += PageResponse::SIZE;
        }
        drop(resp);
        if done == 0 {
            rc.map(|()| 0)
        } else {
            Ok(done)
        }
    }
}

/// C `iommufd_fault_iopf_handler()`: the `iopf_handler` of a domain with a fault object;
/// queues `group` for user space and wakes readers.
///
/// The queue entry is allocated before the group is taken: if that fails the handler returns
/// `-ENOMEM` and the iommu core, which still owns the group, aborts it (answers
/// `IOMMU_PAGE_RESP_FAILURE` and frees it) as when its own allocation of the group fails.
///
/// # Safety
///
/// Called by the iommu core with a valid group reported on a domain whose `fault_data` was set
/// by [`set_domain_handler`].
pub(crate) unsafe extern "C" fn iopf_handler(group: *mut bindings::iopf_group) -> c_int {
    let Some(group) = NonNull::new(group) else {
        return EINVAL.to_errno();
    };
    // SAFETY: The group is valid and its attach handle's domain is ours (caller's guarantee);
    // `fault_data` is the fault object, which the HWPT owning the domain keeps alive.
    let fault = unsafe {
        &*(*(*(*group.as_ptr()).attach_handle).domain)
            .fault_data
            .cast::<Fault>()
    };
    let Ok(slot) = UniqueArc::<Queued>::new_uninit(GFP_KERNEL) else {
        return ENOMEM.to_errno();
    };
    // SAFETY: `group` is the group of this handler, which returns 0 from here on.
    let group = unsafe { IopfGroup::from_handler(group) };
    let item = match slot.pin_init_with(pin_init!(Queued {
        links <- ListLinks::new(),
        group,
    })) {
        Ok(item) => ListArc::from(item),
        Err(never) => match never {},
    };
    fault.deliver.lock().groups.push_back(item);
    fault.wait_queue.notify_interruptible();
    0
}

/// Points the domain's IOPF delivery at `fault` (C hw_pagetable.c: `domain->iopf_handler`,
/// `domain->fault_data`). C stores the HWPT in `fault_data`; only its fault is ever used, so
/// the fault object is stored directly.
///
/// # Safety
///
/// `domain` must be a valid domain nobody else uses yet, and `fault` must outlive it (the HWPT
/// owning the domain holds a reference, dropped after the domain is freed).
pub(crate) unsafe fn set_domain_handler(domain: *mut bindings::iommu_domain, fault: &Arc<Fault>) {
    // SAFETY: By the caller's guarantee the domain is valid and not shared yet.
    unsafe {
        (*domain).iopf_handler = Some(iopf_handler);
        (*domain).fault_data = (&**fault as *const Fault).cast_mut().cast();
    }
}

/// C `iommufd_fault_iopf_enable()`: turns on IOPF for the device, counted. Called with the
/// device's group lock held (`Group::state`), which protects the count (C `idev->iopf_lock`).
pub(crate) fn iopf_enable(idev: &Device) -> Result<(), Errno> {
    let dev = idev.dev();
    // A VF shares PRI with its PF: the response failure code must not be forwarded (C).
    // SAFETY: `dev` is a bound device.
    if unsafe { shim::iommufd_rs_dev_is_virtfn(dev) } {
        return Err(Errno::EINVAL);
    }
    // Already on.
    if idev.iopf_enabled.fetch_add(1, Ordering::Relaxed) > 0 {
        return Ok(());
    }
    // SAFETY: `dev` is a bound device with an IOMMU.
    let rc = unsafe {
        bindings::iommu_dev_enable_feature(dev, bindings::iommu_dev_features_IOMMU_DEV_FEAT_IOPF)
    };
    if rc != 0 {
        idev.iopf_enabled.fetch_sub(1, Ordering::Relaxed);
        return Err(Errno(-rc));
    }
    Ok(())
}

/// C `iommufd_fault_iopf_disable()`, with the group lock held as for [`iopf_enable`].
pub(crate) fn iopf_disable(idev: &Device) {
    let n = idev.iopf_enabled.load(Ordering::Relaxed);
    if n == 0 {
        // C `WARN_ON(idev->iopf_enabled == 0)`.
        pr_warn!("iommufd: IOPF disabled more often than enabled\n");
        return;
    }
    idev.iopf_enabled.store(n - 1, Ordering::Relaxed);
    if n == 1 {
        // SAFETY: `dev` is a bound device on which we enabled IOPF.
        unsafe {
            bindings::iommu_dev_disable_feature(
                idev.dev(),
                bindings::iommu_dev_features_IOMMU_DEV_FEAT_IOPF,
            )
        };
    }
}

/// C `iommufd_auto_response_faults()` for a HWPT: nothing unless it has a fault object.
pub(crate) fn auto_response_faults(hwpt: &Hwpt, handle: *mut bindings::iommu_attach_handle) {
    if let Some(fault) = hwpt.fault() {
        fault.auto_response(handle);
    }
}

/// `IOMMU_FAULT_QUEUE_ALLOC` (C `iommufd_fault_alloc`).
pub(crate) fn alloc_ioctl(ucmd: &mut Ucmd<'_>) -> Result<(), Errno> {
    let mut cmd = FaultAlloc::decode(ucmd.buf())?;
    let ctx = ucmd.ctx();
    let objects = ctx.objects();
    let id = objects.lock().table.reserve()?;
    let fault = Arc::pin_init(
        pin_init!(Fault {
            id,
            ctx: ctx.as_ref(),
            response <- new_mutex!(ResponseInner { groups: RBTree::new() }, "iommufd_fault::mutex"),
            deliver <- new_spinlock!(DeliverInner { groups: List::new() }, "iommufd_fault::lock"),
            wait_queue <- new_condvar!("iommufd_fault::wait_queue"),
        }),
        GFP_KERNEL_ACCOUNT,
    );
    let fault = match fault {
        Ok(f) => f,
        Err(_) => {
            objects.lock().table.abort(id);
            return Err(Errno::ENOMEM);
        }
    };
    let fd = match FileDescriptorReservation::get_unused_fd_flags(O_CLOEXEC) {
        Ok(fd) => fd,
        Err(e) => {
            objects.lock().table.abort(id);
            return Err(e.into());
        }
    };
    // The reservation is given back before the ID, as C's error path does.
    let put_fd = |fd: FileDescriptorReservation| {
        drop(fd);
        objects.lock().table.abort(id);
    };
    cmd.out_fault_id = id;
    cmd.out_fault_fd = fd.reserved_fd();
    cmd.encode_response(ucmd.buf_mut());
    if let Err(e) = ucmd.respond() {
        put_fd(fd);
        return Err(e);
    }
    // The file's reference on the object, given back by `iommufd_rs_fault_release`.
    let raw = Arc::into_raw(fault.clone());
    // SAFETY: `anon_inode_getfile` returns an `ERR_PTR` or a new file whose reference is ours;
    // its private data is `raw`.
    let file =
        unsafe { File::from_raw_owned(shim::iommufd_rs_fault_getfile(raw.cast_mut().cast())) };
    let file = match file {
        Ok(file) => file,
        Err(e) => {
            // SAFETY: No file owns `raw`: give the reference back here.
            drop(unsafe { Arc::from_raw(raw) });
            put_fd(fd);
            return Err(e.into());
        }
    };
    // Nothing fails from here on. The file holds the context and a user of the object.
    ctx.as_ref().get_file();
    {
        let mut guard = objects.lock();
        if guard.table.finalize(id, Object::new(fault)).is_ok() {
            let _ = guard.table.add_user(id);
        }
    }
    fd.fd_install(file);
    Ok(())
}

/// Converts a result to a `ssize_t`.
fn to_ssize(r: Result<usize, Errno>) -> isize {
    match r {
        Ok(n) => n as isize,
        Err(e) => -(e.0 as isize),
    }
}

/// `read` of the fault file (C `iommufd_fault_fops_read`).
///
/// # Safety
///
/// `fault` must be the private data of a fault file, which owns a reference until its
/// release; `buf` is a user pointer.
#[no_mangle]
pub(crate) unsafe extern "C" fn iommufd_rs_fault_read(
    fault: &Fault,
    buf: *mut c_void,
    count: usize,
    pos: i64,
) -> isize {
    to_ssize(fault.read(buf as usize, count, pos))
}

/// `write` of the fault file (C `iommufd_fault_fops_write`).
///
/// # Safety
///
/// As for [`iommufd_rs_fault_read`].
#[no_mangle]
pub(crate) unsafe extern "C" fn iommufd_rs_fault_write(
    fault: &Fault,
    buf: *const c_void,
    count: usize,
    pos: i64,
) -> isize {
    to_ssize(fault.write(buf as usize, count, pos))
}

/// The wait queue `poll` waits on (C `&fault->wait_queue`).
///
/// # Safety
///
/// As for [`iommufd_rs_fault_read`].
#[no_mangle]
pub(crate) unsafe extern "C" fn iommufd_rs_fault_wq(
    fault: &Fault,
) -> *mut bindings::wait_queue_head {
    fault.wait_queue.as_raw()
}

/// Whether groups are waiting to be read (C `!list_empty(&fault->deliver)` in `poll`).
///
/// # Safety
///
/// As for [`iommufd_rs_fault_read`].
#[no_mangle]
pub(crate) unsafe extern "C" fn iommufd_rs_fault_pending(fault: &Fault) -> bool {
    fault.has_pending()
}

/// `release` of the fault file (C `iommufd_fault_fops_release`): gives back the file's user
/// reference on the object, its reference on the object and on the context.
///
/// # Safety
///
/// `fault` must be the private data of a fault file, being released: it is not used again.
#[no_mangle]
pub(crate) unsafe extern "C" fn iommufd_rs_fault_release(fault: *const Fault) {
    // SAFETY: The file owned this reference (from `Arc::into_raw` in `alloc_ioctl`).
    let fault = unsafe { Arc::from_raw(fault) };
    // The fault may be freed once the user reference is dropped.
    let ctx = fault.ctx;
    ctx.objects().lock().table.remove_user(fault.id);
    drop(fault);
    ctx.put_file();
}

impl crate::object::ObjectKind for Fault {
    const TYPE: crate::object::ObjType = crate::object::ObjType::Fault;
}
