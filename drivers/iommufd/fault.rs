// SPDX-License-Identifier: GPL-2.0

//! I/O page fault delivery to user space (C `fault.c`): `IOMMU_FAULT_QUEUE_ALLOC` makes a
//! fault object and its anon-inode file (`[iommufd-pgfault]`). A nested HWPT allocated with
//! `IOMMU_HWPT_FAULT_ID_VALID` routes the IOPF groups of its domain to the object
//! ([`iopf_handler`]); user space reads them from the file as `struct iommu_hwpt_pgfault`
//! records and writes back `struct iommu_hwpt_page_response`s.
//!
//! The file's `file_operations` are C (`iommufd_shim.c`), calling the `iommufd_rs_fault_*`
//! functions here; the file's private data is a counted reference of the [`Fault`] (from
//! `Arc::into_raw`), and the file holds a user reference on the object and a reference on the
//! context, both given back by its release.
//!
//! Lock order: one table for the module, `Documentation/locking.md`. Here: `Group::state` (C
//! `igroup->lock`, see [`crate::device`]), [`Fault::response`] (C `fault->mutex`), [`Fault::lock`]
//! (C `fault->lock`). The object table's lock is never taken with a fault lock held.

use crate::{
    ctx::{CtxRef, Ucmd},
    device::{AttachHandle, Device},
    hw_pagetable::Hwpt,
    iommufd_core::{errno::Errno, ucmd::fault::FaultAlloc},
    object::Object,
    user,
};
use core::{
    ffi::{c_int, c_void},
    sync::atomic::Ordering,
};
use kernel::{
    bindings, new_mutex, new_spinlock,
    prelude::*,
    sync::{Arc, Mutex, SpinLock},
    types::Opaque,
};

/// `sizeof(struct iommu_hwpt_pgfault)`.
const PGFAULT_SIZE: usize = 40;
/// `sizeof(struct iommu_hwpt_page_response)`.
const RESPONSE_SIZE: usize = 8;
/// `IOMMUFD_PAGE_RESP_SUCCESS` (equal to the core's `IOMMU_PAGE_RESP_SUCCESS`).
const RESP_SUCCESS: u32 = 0;
/// `IOMMUFD_PAGE_RESP_INVALID` (equal to the core's `IOMMU_PAGE_RESP_INVALID`).
const RESP_INVALID: u32 = 1;

const _: () = assert!(RESP_SUCCESS == bindings::iommu_page_response_code_IOMMU_PAGE_RESP_SUCCESS);
const _: () = assert!(RESP_INVALID == bindings::iommu_page_response_code_IOMMU_PAGE_RESP_INVALID);

/// The C half (`iommufd_shim.c`): the file, list and wait-queue primitives that are macros or
/// inline functions in C.
mod shim {
    use kernel::bindings::{device, file, iommu_attach_handle, iopf_group, list_head};

    #[allow(improper_ctypes)]
    extern "C" {
        pub(super) fn iommufd_rs_fault_getfile(private: *mut core::ffi::c_void) -> *mut file;
        pub(super) fn iommufd_rs_list_init(head: *mut list_head);
        pub(super) fn iommufd_rs_list_empty(head: *const list_head) -> bool;
        pub(super) fn iommufd_rs_fault_deliver_add(head: *mut list_head, group: *mut iopf_group);
        pub(super) fn iommufd_rs_fault_deliver_fetch(head: *mut list_head) -> *mut iopf_group;
        pub(super) fn iommufd_rs_fault_deliver_restore(
            head: *mut list_head,
            group: *mut iopf_group,
        );
        pub(super) fn iommufd_rs_fault_deliver_take(
            head: *mut list_head,
            handle: *mut iommu_attach_handle,
        ) -> *mut iopf_group;
        pub(super) fn iommufd_rs_init_waitqueue_head(wq: *mut kernel::bindings::wait_queue_head);
        pub(super) fn iommufd_rs_wake_up_interruptible(wq: *mut kernel::bindings::wait_queue_head);
        pub(super) fn iommufd_rs_dev_is_virtfn(dev: *mut device) -> bool;
    }
}

/// Answers an IOPF group and frees it (C `iopf_group_response` + `iopf_free_group`).
///
/// # Safety
///
/// `group` must be a valid group the caller owns (taken off every list of ours); it is not
/// used again.
unsafe fn respond_and_free(group: *mut bindings::iopf_group, code: u32) {
    // SAFETY: By the caller's guarantee the group is valid and ours to answer and free.
    unsafe {
        bindings::iopf_group_response(group, code);
        bindings::iopf_free_group(group);
    }
}

/// The groups read by user space and waiting for a response (C `fault->response`, an
/// allocating xarray starting at 1), by cookie.
struct Responses {
    groups: KVec<(u32, *mut bindings::iopf_group)>,
}

// SAFETY: The groups are owned by the fault object until answered; any thread may answer
// them (the iommu core's response path locks for itself).
unsafe impl Send for Responses {}

impl Responses {
    /// C `xa_alloc(..., xa_limit_32b)` on an `XA_FLAGS_ALLOC1` xarray: the lowest free cookie
    /// from 1.
    fn alloc(&mut self, group: *mut bindings::iopf_group) -> Result<u32, Errno> {
        let mut cookie: u32 = 1;
        while self.groups.iter().any(|(c, _)| *c == cookie) {
            cookie = cookie.checked_add(1).ok_or(Errno::EBUSY)?;
        }
        self.groups
            .push((cookie, group), GFP_KERNEL)
            .map_err(|_| Errno::ENOMEM)?;
        Ok(cookie)
    }

    /// C `xa_erase()`: the group of `cookie`, if any.
    fn erase(&mut self, cookie: u32) -> Option<*mut bindings::iopf_group> {
        let pos = self.groups.iter().position(|(c, _)| *c == cookie)?;
        crate::storage::swap_remove(&mut self.groups, pos).map(|(_, g)| g)
    }
}

/// A fault object (C `struct iommufd_fault`).
///
/// # Invariants
///
/// `deliver` is an initialized list head of IOPF groups (linked by `iopf_group::node`), only
/// changed with `lock` held; each group on it or in `response` is owned by this object until
/// answered. `wait_queue` is an initialized wait queue head.
#[pin_data(PinnedDrop)]
pub(crate) struct Fault {
    /// The object ID.
    pub(crate) id: u32,
    ctx: CtxRef,
    /// C `fault->mutex` and `fault->response`: serializes the read and response flows.
    #[pin]
    response: Mutex<Responses>,
    /// C `fault->lock`: protects `deliver`.
    #[pin]
    lock: SpinLock<()>,
    /// C `fault->deliver`: the groups reported and not read yet.
    #[pin]
    deliver: Opaque<bindings::list_head>,
    /// C `fault->wait_queue`: readers polling for groups.
    #[pin]
    wait_queue: Opaque<bindings::wait_queue_head>,
}

// SAFETY: The list and wait queue are only used under `lock` or through the kernel's own
// thread-safe wait-queue functions; everything else is under `response` or immutable.
unsafe impl Send for Fault {}
// SAFETY: As for `Send`.
unsafe impl Sync for Fault {}

#[pinned_drop]
impl PinnedDrop for Fault {
    fn drop(self: Pin<&mut Self>) {
        // C `iommufd_fault_destroy()`: nobody else can reach the object any more, answer
        // everything still pending as invalid.
        let this = self.as_ref().get_ref();
        let mut resp = this.response.lock();
        while let Some(group) = this.fetch() {
            // SAFETY: Taken off `deliver`, so ours alone.
            unsafe { respond_and_free(group, RESP_INVALID) };
        }
        while let Some((_, group)) = resp
            .groups
            .len()
            .checked_sub(1)
            .and_then(|last| crate::storage::swap_remove(&mut resp.groups, last))
        {
            // SAFETY: Taken out of `response`, so ours alone.
            unsafe { respond_and_free(group, RESP_INVALID) };
        }
    }
}

impl Fault {
    /// C `iommufd_fault_deliver_fetch()`: takes the first group off `deliver`.
    fn fetch(&self) -> Option<*mut bindings::iopf_group> {
        let _guard = self.lock.lock();
        // SAFETY: `deliver` is initialized and we hold `lock` (type invariants).
        let group = unsafe { shim::iommufd_rs_fault_deliver_fetch(self.deliver.get()) };
        (!group.is_null()).then_some(group)
    }

    /// C `iommufd_fault_deliver_restore()`: puts `group` back at the head of `deliver`.
    ///
    /// # Safety
    ///
    /// `group` must have been taken off `deliver` by [`Fault::fetch`] and be on no list.
    unsafe fn restore(&self, group: *mut bindings::iopf_group) {
        let _guard = self.lock.lock();
        // SAFETY: `deliver` is initialized and locked; `group` is ours and unlinked.
        unsafe { shim::iommufd_rs_fault_deliver_restore(self.deliver.get(), group) };
    }

    /// Whether groups wait to be read (for `poll`).
    fn has_pending(&self) -> bool {
        let _guard = self.lock.lock();
        // SAFETY: `deliver` is initialized and locked.
        !unsafe { shim::iommufd_rs_list_empty(self.deliver.get()) }
    }

    /// C `iommufd_auto_response_faults()`: answers as invalid every pending group of the
    /// attach handle `handle`, which is being detached or replaced.
    pub(crate) fn auto_response(&self, handle: *mut bindings::iommu_attach_handle) {
        let mut resp = self.response.lock();
        loop {
            let group = {
                let _guard = self.lock.lock();
                // SAFETY: `deliver` is initialized and locked.
                unsafe { shim::iommufd_rs_fault_deliver_take(self.deliver.get(), handle) }
            };
            if group.is_null() {
                break;
            }
            // SAFETY: Taken off `deliver`, so ours alone.
            unsafe { respond_and_free(group, RESP_INVALID) };
        }
        let mut i = 0;
        while i < resp.groups.len() {
            let (_, group) = resp.groups[i];
            // SAFETY: Groups in `response` are valid until answered (type invariants).
            if unsafe { (*group).attach_handle } != handle {
                i += 1;
                continue;
            }
            let _ = crate::storage::swap_remove(&mut resp.groups, i);
            // SAFETY: Taken out of `response`, so ours alone.
            unsafe { respond_and_free(group, RESP_INVALID) };
        }
    }

    /// C `iommufd_fault_fops_read()`.
    fn read(&self, buf: usize, count: usize, pos: i64) -> Result<usize, Errno> {
        if pos != 0 || count % PGFAULT_SIZE != 0 {
            return Err(Errno::ESPIPE);
        }
        let mut resp = self.response.lock();
        let mut done = 0usize;
        let mut rc = Ok(());
        while let Some(group) = self.fetch() {
            // SAFETY: The group was on `deliver`: valid and ours.
            let fault_count = unsafe { (*group).fault_count };
            if done >= count || fault_count.saturating_mul(PGFAULT_SIZE) > count - done {
                // SAFETY: Just fetched.
                unsafe { self.restore(group) };
                // The read count does not fit the first fault group.
                if done == 0 {
                    rc = Err(Errno::EINVAL);
                }
                break;
            }
            let cookie = match resp.alloc(group) {
                Ok(c) => c,
                Err(e) => {
                    // SAFETY: Just fetched.
                    unsafe { self.restore(group) };
                    rc = Err(e);
                    break;
                }
            };
            // SAFETY: The group is ours (in `response` now).
            unsafe { (*group).cookie = cookie };
            match Self::copy_group(group, buf, done, cookie) {
                Ok(group_done) => done = group_done,
                Err(e) => {
                    let _ = resp.erase(cookie);
                    // SAFETY: Taken out of `response` again, on no list.
                    unsafe { self.restore(group) };
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

    /// Writes the faults of `group` (C `iommufd_compose_fault_message` for each) to the user
    /// buffer `buf` from offset `done`; returns the offset after them.
    fn copy_group(
        group: *mut bindings::iopf_group,
        buf: usize,
        mut done: usize,
        cookie: u32,
    ) -> Result<usize, Errno> {
        // SAFETY: The group's attach handle is one of our `AttachHandle`s (the HWPT's domain
        // is only attached through them), alive while the group is pending: detach and
        // replace answer the handle's groups (under `response`, which we hold) before freeing
        // it.
        let idev: *const Device = unsafe { AttachHandle::from_raw((*group).attach_handle) }
            .data()
            .0;
        // SAFETY: The device that attached the handle is bound while it is attached.
        let dev_id = unsafe { (*idev).id };
        // SAFETY: The group is ours; its fault list is not changed while it is pending.
        let head = unsafe { core::ptr::addr_of_mut!((*group).faults) };
        // SAFETY: As above.
        let mut node = unsafe { (*head).next };
        while node != head {
            let iopf = node
                .cast::<u8>()
                .wrapping_sub(core::mem::offset_of!(bindings::iopf_fault, list))
                .cast::<bindings::iopf_fault>();
            // SAFETY: `node` is the `list` member of an `iopf_fault` of the group.
            let prm = unsafe { &(*iopf).fault.prm };
            let mut msg = [0u8; PGFAULT_SIZE];
            msg[0..4].copy_from_slice(&prm.flags.to_ne_bytes());
            msg[4..8].copy_from_slice(&dev_id.to_ne_bytes());
            msg[8..12].copy_from_slice(&prm.pasid.to_ne_bytes());
            msg[12..16].copy_from_slice(&prm.grpid.to_ne_bytes());
            msg[16..20].copy_from_slice(&prm.perm.to_ne_bytes());
            msg[24..32].copy_from_slice(&prm.addr.to_ne_bytes());
            // `length` (32..36) is 0.
            msg[36..40].copy_from_slice(&cookie.to_ne_bytes());
            user::write(user::offset(buf, done)?, &msg)?;
            done += PGFAULT_SIZE;
            // SAFETY: As above.
            node = unsafe { (*node).next };
        }
        Ok(done)
    }

    /// C `iommufd_fault_fops_write()`.
    fn write(&self, buf: usize, count: usize, pos: i64) -> Result<usize, Errno> {
        if pos != 0 || count % RESPONSE_SIZE != 0 {
            return Err(Errno::ESPIPE);
        }
        let mut resp = self.response.lock();
        let mut done = 0usize;
        let mut rc = Ok(());
        while count > done {
            let mut b = [0u8; RESPONSE_SIZE];
            if user::offset(buf, done)
                .and_then(|at| user::read(at, &mut b))
                .is_err()
            {
                rc = Err(Errno::EFAULT);
                break;
            }
            let cookie = u32::from_ne_bytes([b[0], b[1], b[2], b[3]]);
            let code = u32::from_ne_bytes([b[4], b[5], b[6], b[7]]);
            if code != RESP_SUCCESS && code != RESP_INVALID {
                rc = Err(Errno::EINVAL);
                break;
            }
            let Some(group) = resp.erase(cookie) else {
                rc = Err(Errno::EINVAL);
                break;
            };
            // SAFETY: Taken out of `response`, so ours alone.
            unsafe { respond_and_free(group, code) };
            done += RESPONSE_SIZE;
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
/// # Safety
///
/// Called by the iommu core with a valid group reported on a domain whose `fault_data` was set
/// by [`set_domain_handler`].
pub(crate) unsafe extern "C" fn iopf_handler(group: *mut bindings::iopf_group) -> c_int {
    // SAFETY: The group is valid and its attach handle's domain is ours (caller's guarantee);
    // `fault_data` is the fault object, which the HWPT owning the domain keeps alive.
    let fault = unsafe {
        &*(*(*(*group).attach_handle).domain)
            .fault_data
            .cast::<Fault>()
    };
    // SAFETY: The group is valid; from here on it is ours until answered.
    unsafe { bindings::iopf_group_dequeue(group) };
    {
        let _guard = fault.lock.lock();
        // SAFETY: `deliver` is initialized and locked; the group is on no list of ours.
        unsafe { shim::iommufd_rs_fault_deliver_add(fault.deliver.get(), group) };
    }
    // SAFETY: The wait queue is initialized (type invariants).
    unsafe { shim::iommufd_rs_wake_up_interruptible(fault.wait_queue.get()) };
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
            response <- new_mutex!(Responses { groups: KVec::new() }, "iommufd_fault::mutex"),
            lock <- new_spinlock!((), "iommufd_fault::lock"),
            // SAFETY: Initializes the list head in place.
            deliver <- Opaque::ffi_init(|p| unsafe { shim::iommufd_rs_list_init(p) }),
            // SAFETY: Initializes the wait queue head in place.
            wait_queue <- Opaque::ffi_init(|p| unsafe { shim::iommufd_rs_init_waitqueue_head(p) }),
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
    // SAFETY: Reserves an fd of the current task.
    let fdno = unsafe { bindings::get_unused_fd_flags(bindings::O_CLOEXEC) };
    if fdno < 0 {
        objects.lock().table.abort(id);
        return Err(Errno(-fdno));
    }
    let fdno = fdno as u32;
    let put_fd = || {
        // SAFETY: `fdno` was reserved above and not installed.
        unsafe { bindings::put_unused_fd(fdno) };
        objects.lock().table.abort(id);
    };
    cmd.out_fault_id = id;
    cmd.out_fault_fd = fdno;
    cmd.encode_response(ucmd.buf_mut());
    if let Err(e) = ucmd.respond() {
        put_fd();
        return Err(e);
    }
    // The file's reference on the object, given back by `iommufd_rs_fault_release`.
    let raw = Arc::into_raw(fault.clone());
    // SAFETY: Makes the anon-inode file whose private data is `raw`.
    let file = unsafe { shim::iommufd_rs_fault_getfile(raw.cast_mut().cast()) };
    if let Err(e) = crate::error::ptr_err(file) {
        // SAFETY: No file owns `raw`: give the reference back here.
        drop(unsafe { Arc::from_raw(raw) });
        put_fd();
        return Err(e);
    }
    // Nothing fails from here on. The file holds the context and a user of the object.
    ctx.as_ref().get_file();
    {
        let mut guard = objects.lock();
        if guard.table.finalize(id, Object::Fault(fault)).is_ok() {
            let _ = guard.table.add_user(id);
        }
    }
    // SAFETY: Installs the reserved fd with our file reference.
    unsafe { bindings::fd_install(fdno, file) };
    Ok(())
}

/// The fault object behind a file's private data.
///
/// # Safety
///
/// `private` must be the private data of a fault file, which owns a reference until its
/// release.
unsafe fn from_private<'a>(private: *mut c_void) -> &'a Fault {
    // SAFETY: By the caller's guarantee.
    unsafe { &*private.cast::<Fault>() }
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
/// `private` as for [`from_private`]; `buf` is a user pointer.
#[no_mangle]
pub(crate) unsafe extern "C" fn iommufd_rs_fault_read(
    private: *mut c_void,
    buf: *mut c_void,
    count: usize,
    pos: i64,
) -> isize {
    // SAFETY: By the caller's guarantee.
    let fault = unsafe { from_private(private) };
    to_ssize(fault.read(buf as usize, count, pos))
}

/// `write` of the fault file (C `iommufd_fault_fops_write`).
///
/// # Safety
///
/// As for [`iommufd_rs_fault_read`].
#[no_mangle]
pub(crate) unsafe extern "C" fn iommufd_rs_fault_write(
    private: *mut c_void,
    buf: *const c_void,
    count: usize,
    pos: i64,
) -> isize {
    // SAFETY: By the caller's guarantee.
    let fault = unsafe { from_private(private) };
    to_ssize(fault.write(buf as usize, count, pos))
}

/// The wait queue `poll` waits on (C `&fault->wait_queue`).
///
/// # Safety
///
/// As for [`from_private`].
#[no_mangle]
pub(crate) unsafe extern "C" fn iommufd_rs_fault_wq(
    private: *mut c_void,
) -> *mut bindings::wait_queue_head {
    // SAFETY: By the caller's guarantee.
    unsafe { from_private(private) }.wait_queue.get()
}

/// Whether groups are waiting to be read (C `!list_empty(&fault->deliver)` in `poll`).
///
/// # Safety
///
/// As for [`from_private`].
#[no_mangle]
pub(crate) unsafe extern "C" fn iommufd_rs_fault_pending(private: *mut c_void) -> bool {
    // SAFETY: By the caller's guarantee.
    unsafe { from_private(private) }.has_pending()
}

/// `release` of the fault file (C `iommufd_fault_fops_release`): gives back the file's user
/// reference on the object, its reference on the object and on the context.
///
/// # Safety
///
/// As for [`from_private`]; the private data is not used again.
#[no_mangle]
pub(crate) unsafe extern "C" fn iommufd_rs_fault_release(private: *mut c_void) {
    // SAFETY: The file owned this reference (from `Arc::into_raw` in `alloc_ioctl`).
    let fault = unsafe { Arc::from_raw(private.cast_const().cast::<Fault>()) };
    // The fault may be freed once the user reference is dropped.
    let ctx = fault.ctx;
    ctx.objects().lock().table.remove_user(fault.id);
    drop(fault);
    ctx.put_file();
}
