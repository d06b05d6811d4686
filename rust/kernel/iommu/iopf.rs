// SPDX-License-Identifier: GPL-2.0

//! I/O page fault (IOPF) groups.
//!
//! When a device reports the last page request of a group, the iommu core allocates a
//! `struct iopf_group` and hands it to the `iopf_handler` of the domain the requests target
//! (`iommu_report_device_fault()` in `drivers/iommu/io-pgfault.c`). A handler that returns 0
//! owns the group from then on: it must answer the device (`iopf_group_response()`) and free
//! the group (`iopf_free_group()`), in that order, exactly once. [`IopfGroup`] is that
//! ownership: it answers [`ResponseCode::Invalid`] on drop unless answered before, and frees
//! the group.
//!
//! C header: [`include/linux/iommu.h`](srctree/include/linux/iommu.h)

use core::{
    marker::PhantomData,
    ptr::NonNull,
    sync::atomic::{AtomicBool, Ordering},
};
use kernel::bindings;

/// An answer to a page request group (C `enum iommu_page_response_code`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u32)]
pub enum ResponseCode {
    /// `IOMMU_PAGE_RESP_SUCCESS`: the fault was handled, the device retries the access.
    Success = bindings::iommu_page_response_code_IOMMU_PAGE_RESP_SUCCESS,
    /// `IOMMU_PAGE_RESP_INVALID`: the fault could not be handled, the device does not retry.
    Invalid = bindings::iommu_page_response_code_IOMMU_PAGE_RESP_INVALID,
    /// `IOMMU_PAGE_RESP_FAILURE`: a general failure; the device stops sending requests.
    Failure = bindings::iommu_page_response_code_IOMMU_PAGE_RESP_FAILURE,
}

/// One page request of a group (the fields of C `struct iommu_fault_page_request` that
/// describe it).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PageRequest {
    /// `IOMMU_FAULT_PAGE_REQUEST_*`.
    pub flags: u32,
    /// The PASID, valid with `IOMMU_FAULT_PAGE_REQUEST_PASID_VALID`.
    pub pasid: u32,
    /// The page request group index.
    pub grpid: u32,
    /// `IOMMU_FAULT_PERM_*`.
    pub perm: u32,
    /// The faulting address.
    pub addr: u64,
}

/// An I/O page fault group handed to a domain's fault handler, owned until answered.
///
/// # Invariants
///
/// `ptr` points to a valid `struct iopf_group` that the iommu core passed to a domain's
/// `iopf_handler`, which returned 0; the group has been taken off its device's pending list
/// (`iopf_group_dequeue()`) and is not freed: this object is its only owner. `responded` is
/// true once `iopf_group_response()` was called on it (at most once).
pub struct IopfGroup {
    ptr: NonNull<bindings::iopf_group>,
    responded: AtomicBool,
}

// SAFETY: The group is owned by this object alone (type invariants); the iommu core's
// response path locks the device's fault parameter for itself, so the group may be answered
// and freed from any thread.
unsafe impl Send for IopfGroup {}

// SAFETY: Shared references only read fields that the iommu core does not change while the
// handler owns the group, and answer it through `responded`, an atomic that lets exactly one
// caller reach `iopf_group_response()`.
unsafe impl Sync for IopfGroup {}

impl IopfGroup {
    /// Takes ownership of the group passed to a domain's `iopf_handler`, and takes it off its
    /// device's pending list (C `iopf_group_dequeue()`): from now on the returned object
    /// answers and frees it.
    ///
    /// # Safety
    ///
    /// `ptr` must be the group the iommu core passed to the `iopf_handler` that is running,
    /// and that handler must return 0 (the core then leaves the group to it). The group must
    /// not be used through `ptr` afterwards.
    pub unsafe fn from_handler(ptr: NonNull<bindings::iopf_group>) -> Self {
        // SAFETY: By the caller's guarantee `ptr` is a valid group, still on its device's
        // pending list, that the core hands over to us.
        unsafe { bindings::iopf_group_dequeue(ptr.as_ptr()) };
        // INVARIANT: The group is valid, dequeued and ours; nobody answered it yet.
        Self {
            ptr,
            responded: AtomicBool::new(false),
        }
    }

    /// The number of page requests in the group (C `group->fault_count`).
    pub fn fault_count(&self) -> usize {
        // SAFETY: The group is valid (type invariants) and its count does not change.
        unsafe { (*self.ptr.as_ptr()).fault_count }
    }

    /// The attach handle through which the faulting domain is attached (C
    /// `group->attach_handle`). The handle belongs to whoever attached the domain; this only
    /// names it.
    pub fn attach_handle(&self) -> *mut bindings::iommu_attach_handle {
        // SAFETY: The group is valid (type invariants); the field does not change.
        unsafe { (*self.ptr.as_ptr()).attach_handle }
    }

    /// The group's page requests, in the order the device reported them (C
    /// `list_for_each_entry(iopf, &group->faults, list)`).
    pub fn requests(&self) -> Requests<'_> {
        // SAFETY: The group is valid (type invariants); `faults` is an initialized list head.
        let head = unsafe { core::ptr::addr_of_mut!((*self.ptr.as_ptr()).faults) };
        // SAFETY: As above.
        let next = unsafe { (*head).next };
        Requests {
            head,
            next,
            _group: PhantomData,
        }
    }

    /// Answers the device (C `iopf_group_response()`). Only the first answer is sent: later
    /// ones, and the one of drop, are not.
    pub fn respond(&self, code: ResponseCode) {
        if self.responded.swap(true, Ordering::AcqRel) {
            return;
        }
        // SAFETY: The group is valid and ours (type invariants); `responded` was false, so
        // this is its only response.
        unsafe { bindings::iopf_group_response(self.ptr.as_ptr(), code as u32) };
    }
}

impl Drop for IopfGroup {
    fn drop(&mut self) {
        self.respond(ResponseCode::Invalid);
        // SAFETY: The group is valid and ours (type invariants), answered just above; it is
        // not used again.
        unsafe { bindings::iopf_free_group(self.ptr.as_ptr()) };
    }
}

/// The page requests of an [`IopfGroup`], from [`IopfGroup::requests`].
///
/// # Invariants
///
/// `head` is the `faults` list head of a group borrowed for `'a`, whose list does not change
/// while the group is owned by a handler; `next` is `head` or a node of that list, the `list`
/// member of a `struct iopf_fault`.
pub struct Requests<'a> {
    head: *mut bindings::list_head,
    next: *mut bindings::list_head,
    _group: PhantomData<&'a IopfGroup>,
}

impl Iterator for Requests<'_> {
    type Item = PageRequest;

    fn next(&mut self) -> Option<PageRequest> {
        if self.next == self.head {
            return None;
        }
        // SAFETY: `next` is the `list` member of an `iopf_fault` of the group (type
        // invariants), so stepping back by its offset stays inside that `iopf_fault`.
        let iopf = unsafe {
            self.next
                .cast::<u8>()
                .sub(core::mem::offset_of!(bindings::iopf_fault, list))
                .cast::<bindings::iopf_fault>()
        };
        // SAFETY: `iopf` is a valid `iopf_fault` of the borrowed group; its page request is
        // plain data that does not change while the group is owned.
        let prm = unsafe { &(*iopf).fault.prm };
        // SAFETY: `next` is a node of the group's list (type invariants).
        self.next = unsafe { (*self.next).next };
        Some(PageRequest {
            flags: prm.flags,
            pasid: prm.pasid,
            grpid: prm.grpid,
            perm: prm.perm,
            addr: prm.addr,
        })
    }
}
