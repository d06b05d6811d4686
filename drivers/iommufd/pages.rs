// SPDX-License-Identifier: GPL-2.0

//! The pages object: a range of user memory that IOAS areas map (C `struct iopt_pages` of
//! `pages.c`), shared by every area that maps it, in any IOAS (`IOMMU_IOAS_COPY`), so that it
//! is never pinned or accounted twice.
//!
//! Pages are pinned only for a consumer: a domain to fill or an access (as in C, an IOAS with
//! neither pins nothing). Those consumers arrive with devices (issue 5); until then a pages
//! object records the user range, its permissions and how it will be accounted.

use crate::iommufd_core::errno::Errno;
use kernel::{prelude::*, sync::Arc};

/// `PAGE_SIZE`.
pub(crate) const PAGE_SIZE: u64 = kernel::page::PAGE_SIZE as u64;

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

/// A user memory range (C `struct iopt_pages`, `IOPT_ADDRESS_USER`).
// `npages` and `account_mode` are read by pinning, which arrives with domains and accesses.
#[allow(dead_code)]
pub(crate) struct Pages {
    /// Page-aligned start (C `pages->uptr`).
    uptr: u64,
    /// Pages covered (C `pages->npages`).
    npages: u64,
    /// Mapped writable (C `pages->writable`).
    writable: bool,
    /// How pins will be charged.
    account_mode: AccountMode,
}

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
        let account_mode = if kernel_capable(kernel::bindings::CAP_IPC_LOCK as i32) {
            AccountMode::None
        } else {
            ctx_mode
        };
        let pages = Arc::new(
            Pages {
                uptr: aligned,
                npages,
                writable,
                account_mode,
            },
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
}

/// `capable(cap)` of the current task.
pub(crate) fn kernel_capable(cap: i32) -> bool {
    // SAFETY: `capable` only reads the current task's credentials; any `cap` value is valid
    // (out of range ones are rejected with a warning by the callee, and we pass constants).
    unsafe { kernel::bindings::capable(cap) }
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

