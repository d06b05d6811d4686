// SPDX-License-Identifier: GPL-2.0

//! The iommufd context (one per open `/dev/iommu`, C `struct iommufd_ctx` of `main.c`) and
//! one ioctl in flight ([`Ucmd`]). The misc device and the ioctl table are
//! [`crate::ioctl`]'s: nothing here knows the objects' ioctls.
//!
//! Lock order: one table for the module, `Documentation/locking.md`. Here: see [`crate::object`]
//! (object locks, then the object table's lock).

use crate::{
    iommufd_core::{
        errno::Errno,
        uapi::{Cmd, Op},
        ucmd::respond_len,
    },
    object::{self, Objects},
    pages::{AccountMode, ChargeTally},
    user,
};
use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, Ordering};
use kernel::sync::Arc;
use kernel::{fs::File, prelude::*, types::AlwaysRefCounted, uaccess::UserPtr};

/// Whether the mock IOMMU and `IOMMU_TEST_CMD` are built in (`CONFIG_IOMMUFD_TEST`).
pub(crate) const WITH_TEST: bool = cfg!(CONFIG_IOMMUFD_TEST);

/// The state behind one open `/dev/iommu` file (C `struct iommufd_ctx`).
///
/// # Invariants
///
/// `file` is the open file whose private data this context is: it outlives the context.
#[pin_data(PinnedDrop)]
pub(crate) struct IommufdCtx {
    /// The object table and what C changes under its lock (C `objects` and `xa_lock`).
    #[pin]
    objects: Objects,
    /// C `account_mode`, `true` for [`AccountMode::Mm`] (else [`AccountMode::User`]). Read
    /// without a lock on every map, as C reads `ictx->account_mode`; changed only under the
    /// objects lock while the context has no object (`IOMMU_OPTION_RLIMIT_MODE`).
    account_mm: AtomicBool,
    /// C `file`: the open file whose `private_data` this is (no reference: the context
    /// lives exactly as long as the file).
    file: NonNull<File>,
    /// What this context's pages objects charge (shown by `debugfs.rs`).
    charged: Arc<ChargeTally>,
    /// The context's number in the debugfs view (`debugfs.rs`), 0 until it is registered there.
    debug_id: core::sync::atomic::AtomicU64,
}

// SAFETY: The file is only used for its reference count, which any thread may change;
// everything else is under locks.
unsafe impl Send for IommufdCtx {}
// SAFETY: As for `Send`.
unsafe impl Sync for IommufdCtx {}

/// A context as objects and kernel users hold it (C `struct iommufd_ctx *`).
///
/// # Invariants
///
/// Points to a live [`IommufdCtx`]: its objects are destroyed before it (its drop destroys
/// them all), and kernel users hold a reference to its file.
///
/// Transparent over a non-null pointer, so that the exported kAPI takes `Option<CtxRef>` for a
/// C `struct iommufd_ctx *` (NULL is `None`).
#[derive(Clone, Copy)]
#[repr(transparent)]
pub(crate) struct CtxRef(core::ptr::NonNull<IommufdCtx>);

// SAFETY: `IommufdCtx` is `Sync`.
unsafe impl Send for CtxRef {}
// SAFETY: As for `Send`.
unsafe impl Sync for CtxRef {}

impl CtxRef {
    /// Makes a reference from a context pointer handed out to a kernel user.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a live context, kept alive as the type invariants say.
    pub(crate) unsafe fn from_ptr(ptr: *mut IommufdCtx) -> Option<CtxRef> {
        core::ptr::NonNull::new(ptr).map(CtxRef)
    }

    /// The context.
    pub(crate) fn ctx(&self) -> &IommufdCtx {
        // SAFETY: By the type invariants the context is alive.
        unsafe { self.0.as_ref() }
    }

    /// Its object table.
    pub(crate) fn objects(&self) -> &Objects {
        &self.ctx().objects
    }

    /// The pointer given to kernel users.
    pub(crate) fn as_ptr(self) -> *mut IommufdCtx {
        self.0.as_ptr()
    }

    /// C `iommufd_ctx_get()`: one more reference to the context's file.
    pub(crate) fn get_file(self) {
        self.ctx().file().inc_ref();
    }

    /// C `iommufd_ctx_put()`.
    pub(crate) fn put_file(self) {
        // SAFETY: Gives back a reference taken by `get_file` (or `fget`), which the caller
        // owns.
        unsafe { File::dec_ref(self.ctx().file) };
    }
}

impl IommufdCtx {
    /// A new context of `file` whose pinned pages are charged by `mode`.
    pub(crate) fn new(file: &File, mode: AccountMode) -> impl PinInit<Self, Error> {
        let file = NonNull::from(file);
        try_pin_init!(IommufdCtx {
            objects <- Objects::new(),
            account_mm: AtomicBool::new(mode == AccountMode::Mm),
            file,
            charged: ChargeTally::new().map_err(|_| ENOMEM)?,
            debug_id: core::sync::atomic::AtomicU64::new(0),
        })
    }

    /// The context's file.
    fn file(&self) -> &File {
        // SAFETY: The context is the file's private data and lives exactly as long as the file
        // (`open` makes it, `release` drops it), so the file outlives this borrow.
        unsafe { self.file.as_ref() }
    }

    /// A reference for objects and kernel users.
    pub(crate) fn as_ref(&self) -> CtxRef {
        CtxRef(core::ptr::NonNull::from(self))
    }

    /// The object table.
    pub(crate) fn objects(&self) -> &Objects {
        &self.objects
    }

    /// How pages pinned for this context are charged.
    pub(crate) fn account_mode(&self) -> AccountMode {
        if self.account_mm.load(Ordering::Relaxed) {
            AccountMode::Mm
        } else {
            AccountMode::User
        }
    }

    /// Sets the account mode (`IOMMU_OPTION_RLIMIT_MODE`); the caller holds the objects lock
    /// and has checked that there are no objects.
    pub(crate) fn set_account_mode(&self, mode: AccountMode) {
        self.account_mm
            .store(mode == AccountMode::Mm, Ordering::Relaxed);
    }

    /// The tally of what this context's pages objects charge.
    pub(crate) fn charged(&self) -> &Arc<ChargeTally> {
        &self.charged
    }

    /// The context's number in the debugfs view.
    pub(crate) fn debug_id(&self) -> u64 {
        self.debug_id.load(core::sync::atomic::Ordering::Relaxed)
    }

    /// Sets the context's number in the debugfs view (once, at registration).
    pub(crate) fn set_debug_id(&self, id: u64) {
        self.debug_id
            .store(id, core::sync::atomic::Ordering::Relaxed);
    }
}

#[pinned_drop]
impl PinnedDrop for IommufdCtx {
    fn drop(self: Pin<&mut Self>) {
        // C `iommufd_fops_release`: destroy every object, leaves first. Never fails.
        object::destroy_all(&self.objects);
        // Only now: the debugfs view shows the context (and counts its objects) until its
        // objects are gone, and unregistering waits for a reader that is looking at it.
        crate::registry::unregister(&self);
    }
}

/// One ioctl in flight (C `struct iommufd_ucmd`): the context, the user's buffer and size,
/// and the kernel copy of the command.
pub(crate) struct Ucmd<'a> {
    ctx: &'a IommufdCtx,
    ubuffer: UserPtr,
    user_size: u32,
    op: &'static Op,
    buf: &'a mut [u8],
}

impl<'a> Ucmd<'a> {
    /// The ioctl `op` on `ctx`, with the user's buffer `ubuffer` of `user_size` bytes and the
    /// command copied in `buf`.
    pub(crate) fn new(
        ctx: &'a IommufdCtx,
        ubuffer: UserPtr,
        user_size: u32,
        op: &'static Op,
        buf: &'a mut [u8],
    ) -> Self {
        Ucmd {
            ctx,
            ubuffer,
            user_size,
            op,
            buf,
        }
    }

    /// The command being run.
    pub(crate) fn cmd(&self) -> Cmd {
        self.op.cmd
    }

    /// The user's copy of the command.
    pub(crate) fn ubuffer(&self) -> UserPtr {
        self.ubuffer
    }

    /// The context (borrowed for the whole ioctl, not from `self`).
    pub(crate) fn ctx(&self) -> &'a IommufdCtx {
        self.ctx
    }

    /// The command as copied in.
    pub(crate) fn buf(&self) -> &[u8] {
        self.buf
    }

    /// The command buffer, to write a reply into.
    pub(crate) fn buf_mut(&mut self) -> &mut [u8] {
        self.buf
    }

    /// C `iommufd_ucmd_respond()`: copies `min(user size, struct size)` bytes of the command
    /// back to the user. `EFAULT` if that faults.
    pub(crate) fn respond(&self) -> Result<(), Errno> {
        let n = respond_len(self.user_size, self.op.size).min(self.buf.len());
        user::write(self.ubuffer, &self.buf[..n])
    }
}
