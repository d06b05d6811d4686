// SPDX-License-Identifier: GPL-2.0

//! IOMMU groups (`struct iommu_group`) and the attachment of a domain to a whole group through
//! an attach handle (the iommu core's `iommu_attach_group_handle()` family).

use super::{dev_raw, internal, rc, Domain};
use core::ptr::NonNull;
use kernel::{
    bindings,
    device::Device,
    prelude::*,
    sync::Arc,
    types::{ARef, AlwaysRefCounted, Opaque},
};

/// An IOMMU group: the devices an IOMMU cannot isolate from one another.
///
/// # Invariants
///
/// Instances are always reference counted (`iommu_group_ref_get`/`iommu_group_put`).
#[repr(transparent)]
pub struct Group(Opaque<bindings::iommu_group>);

// SAFETY: By the type invariants the group is reference counted; the iommu core's group API may
// be used from any thread.
unsafe impl AlwaysRefCounted for Group {
    fn inc_ref(&self) {
        // SAFETY: A shared reference means the count is not zero.
        unsafe { bindings::iommu_group_ref_get(self.as_raw()) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: The caller gives up a reference it owned.
        unsafe { bindings::iommu_group_put(obj.cast().as_ptr()) };
    }
}

// SAFETY: A group is a refcounted core object with its own locking.
unsafe impl Send for Group {}
// SAFETY: As for `Send`.
unsafe impl Sync for Group {}

impl Group {
    /// `iommu_group_get()`: the group of `dev`, `None` if it has none.
    pub fn get(dev: &Device) -> Option<ARef<Group>> {
        // SAFETY: `dev` is a live device; a non-null result carries a reference for us.
        let p = NonNull::new(unsafe { bindings::iommu_group_get(dev_raw(dev)) })?;
        // SAFETY: The reference `iommu_group_get` took is handed to the `ARef`.
        Some(unsafe { ARef::from_raw(p.cast()) })
    }

    /// The raw `struct iommu_group *`.
    pub fn as_raw(&self) -> *mut bindings::iommu_group {
        self.0.get()
    }

    /// `iommu_group_has_isolated_msi()`: every device's MSIs are isolated by the platform.
    pub fn has_isolated_msi(&self) -> bool {
        // SAFETY: The group is live (we hold a reference).
        unsafe { bindings::iommu_group_has_isolated_msi(self.as_raw()) }
    }

    /// Attaches `domain` to the whole group with `handle` (`iommu_attach_group_handle()`).
    /// The attachment keeps the group, the domain and the handle until it is detached (or
    /// dropped). On failure the handle is given back with the error.
    pub fn attach<T>(
        this: &ARef<Group>,
        domain: &Arc<Domain>,
        handle: Pin<KBox<AttachHandle<T>>>,
    ) -> Result<GroupAttachment<T>, AttachError<T>> {
        // SAFETY: Group and domain are live; the handle is pinned and stays in the attachment
        // until the group is detached from it (`GroupAttachment::detach`, `replace`).
        let r = rc(unsafe {
            internal::iommu_attach_group_handle(domain.as_raw(), this.as_raw(), handle.as_raw())
        });
        match r {
            // INVARIANT: The group is attached to `domain` with `handle`.
            Ok(()) => Ok(GroupAttachment {
                group: this.clone(),
                domain: domain.clone(),
                handle: Some(handle),
            }),
            Err(e) => Err((e, handle)),
        }
    }

    /// The domain attached on `pasid` of the group (`IOMMU_NO_PASID` for the whole group) as
    /// the iommu core records it (`iommu_attach_handle_get()`), null if none. The pointer is
    /// only for comparison.
    ///
    /// # Safety
    ///
    /// The caller serialises this against every attach and detach on the group that it makes,
    /// and every handle on the group is one of its own, so that the handle found stays alive
    /// while it is read.
    pub unsafe fn handle_domain(&self, pasid: u32) -> *mut bindings::iommu_domain {
        // SAFETY: The group is live.
        let h = unsafe { internal::iommu_attach_handle_get(self.as_raw(), pasid, 0) };
        match super::ptr(h) {
            // SAFETY: A live handle (safety requirements).
            Ok(h) => unsafe { (*h.as_ptr()).domain },
            Err(_) => core::ptr::null_mut(),
        }
    }
}

/// A failed attach: the error and the handle given back.
pub type AttachError<T> = (Error, Pin<KBox<AttachHandle<T>>>);

/// An attach handle (C `struct iommu_attach_handle`) with the attacher's data: the iommu core
/// records it for the attachment and gives it back with each I/O page fault of the domain.
///
/// # Invariants
///
/// `handle` is the first field (`#[repr(C)]`), so a `struct iommu_attach_handle *` that the core
/// returns for one of our attachments converts back to the `AttachHandle<T>` holding it.
#[repr(C)]
pub struct AttachHandle<T> {
    handle: Opaque<bindings::iommu_attach_handle>,
    data: T,
}

// SAFETY: The raw handle is only written by the iommu core (its `domain`, when attaching, under
// the group's mutex) and never read or written by us through `&self`; the data is `T`'s.
unsafe impl<T: Send> Send for AttachHandle<T> {}
// SAFETY: As for `Send`: `&AttachHandle<T>` gives access to the raw pointer and `&T` only.
unsafe impl<T: Sync> Sync for AttachHandle<T> {}

impl<T> AttachHandle<T> {
    /// A new handle carrying `data`.
    pub fn new(data: T, flags: kernel::alloc::Flags) -> Result<Pin<KBox<AttachHandle<T>>>> {
        Ok(KBox::pin(
            AttachHandle {
                handle: Opaque::new(bindings::iommu_attach_handle {
                    domain: core::ptr::null_mut(),
                }),
                data,
            },
            flags,
        )?)
    }

    /// The attacher's data.
    pub fn data(&self) -> &T {
        &self.data
    }

    /// The raw handle, as the iommu core points to it.
    pub fn as_raw(&self) -> *mut bindings::iommu_attach_handle {
        self.handle.get()
    }

    /// The handle behind a raw handle pointer the iommu core gave back.
    ///
    /// # Safety
    ///
    /// `ptr` is the raw handle of a live `AttachHandle<T>` (one of the caller's attachments,
    /// all made with `AttachHandle<T>`), which stays alive for `'a`.
    pub unsafe fn from_raw<'a>(ptr: *mut bindings::iommu_attach_handle) -> &'a AttachHandle<T> {
        // SAFETY: By the type invariants the handle is at offset 0 of `AttachHandle<T>`; alive
        // for `'a` by the safety requirements.
        unsafe { &*ptr.cast::<AttachHandle<T>>() }
    }
}

/// A domain attached to a whole group through a handle; detached when dropped.
///
/// # Invariants
///
/// While `handle` is `Some`, `group` is attached to `domain` with that handle.
pub struct GroupAttachment<T> {
    group: ARef<Group>,
    domain: Arc<Domain>,
    handle: Option<Pin<KBox<AttachHandle<T>>>>,
}

impl<T> GroupAttachment<T> {
    /// The domain attached.
    pub fn domain(&self) -> &Arc<Domain> {
        &self.domain
    }

    /// The attach handle.
    pub fn handle(&self) -> Option<&AttachHandle<T>> {
        self.handle.as_deref()
    }

    /// `iommu_replace_group_handle()`: the group moves to `domain` with `handle` without a
    /// blocking step. Returns the old handle (the faults still pending on it are the caller's
    /// to answer); on failure nothing changed and the new handle is dropped.
    pub fn replace(
        &mut self,
        domain: &Arc<Domain>,
        handle: Pin<KBox<AttachHandle<T>>>,
    ) -> Result<Option<Pin<KBox<AttachHandle<T>>>>> {
        // SAFETY: Group and domain are live; the new handle is kept in `self` until the next
        // replace or detach.
        rc(unsafe {
            internal::iommu_replace_group_handle(
                self.group.as_raw(),
                domain.as_raw(),
                handle.as_raw(),
            )
        })?;
        // INVARIANT: The group is now attached to `domain` with `handle`.
        self.domain = domain.clone();
        Ok(self.handle.replace(handle))
    }

    /// `iommu_detach_group_handle()`: detaches the group and gives back the handle (the faults
    /// still pending on it are the caller's to answer before dropping it).
    pub fn detach(mut self) -> Option<Pin<KBox<AttachHandle<T>>>> {
        self.do_detach();
        self.handle.take()
    }

    fn do_detach(&mut self) {
        if self.handle.is_some() {
            // SAFETY: By the type invariants the group is attached to this domain with the
            // handle we still hold.
            unsafe {
                internal::iommu_detach_group_handle(self.domain.as_raw(), self.group.as_raw())
            };
        }
    }
}

impl<T> Drop for GroupAttachment<T> {
    fn drop(&mut self) {
        self.do_detach();
        // The handle is dropped after the core no longer points to it.
    }
}
