// SPDX-License-Identifier: GPL-2.0

//! The iommufd context (one per open `/dev/iommu`) and the ioctl dispatcher (C `main.c`).
//!
//! The routing and size rules are the core's ([`crate::iommufd_core::uapi`]), the decoding of
//! each command is the core's ([`crate::iommufd_core::ucmd`]); this file touches user memory:
//! it reads the `size` word, copies the struct with the kernel's `copy_struct_from_user()`,
//! runs the command and copies its reply back.
//!
//! Lock order: one table for the module, `Documentation/locking.md`. Here: see [`crate::object`]
//! (object locks, then the object table's lock).

use crate::{
    error::kerr,
    ioas,
    iommufd_core::{
        errno::Errno,
        uapi::{self, Cmd, Op, Route},
        ucmd::{
            main::{Destroy, IommuOption, OptionId, OptionOp},
            respond_len,
        },
    },
    object::{self, Objects},
    pages::{kernel_capable, AccountMode},
    user,
};
use kernel::{
    bindings,
    fs::File,
    miscdevice::{MiscDevice, MiscDeviceRegistration},
    prelude::*,
    uaccess::{UserPtr, UserSlice},
    usercopy::copy_struct_from_user,
};

/// Whether the mock IOMMU and `IOMMU_TEST_CMD` are built in (`CONFIG_IOMMUFD_TEST`).
pub(crate) const WITH_TEST: bool = cfg!(CONFIG_IOMMUFD_TEST);

/// The state behind one open `/dev/iommu` file (C `struct iommufd_ctx`).
#[pin_data(PinnedDrop)]
pub(crate) struct IommufdCtx {
    /// The object table and what C changes under its lock (C `objects` and `xa_lock`).
    #[pin]
    objects: Objects,
    /// C `file`: the open file whose `private_data` this is (no reference: the context
    /// lives exactly as long as the file).
    file: *mut bindings::file,
}

// SAFETY: The file pointer is only used for `get_file`/`fput`, which any thread may call;
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
#[derive(Clone, Copy)]
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
        // SAFETY: The file is alive while the context is (type invariants); the caller
        // already holds a reference, as C requires.
        unsafe { shim::iommufd_rs_get_file(self.ctx().file) };
    }

    /// C `iommufd_ctx_put()`.
    pub(crate) fn put_file(self) {
        // SAFETY: Gives back a reference taken by `get_file` (or `fget`).
        unsafe { bindings::fput(self.ctx().file) };
    }
}

/// The C half of the module (`iommufd_shim.c`).
mod shim {
    #[allow(improper_ctypes)]
    extern "C" {
        pub(super) fn iommufd_rs_get_file(file: *mut kernel::bindings::file);
    }
}

impl IommufdCtx {
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
        self.objects.lock().account_mode
    }
}

#[pinned_drop]
impl PinnedDrop for IommufdCtx {
    fn drop(self: Pin<&mut Self>) {
        // C `iommufd_fops_release`: destroy every object, leaves first. Never fails.
        object::destroy_all(&self.objects);
    }
}

#[vtable]
impl MiscDevice for IommufdCtx {
    type Ptr = Pin<KBox<Self>>;

    fn open(file: &File, misc: &MiscDeviceRegistration<Self>) -> Result<Pin<KBox<Self>>> {
        // C: a context opened through /dev/vfio/vfio accounts like VFIO (in the mm).
        let vfio = misc.minor() == crate::vfio_compat::VFIO_MINOR;
        if vfio {
            crate::vfio_compat::announce();
        }
        let mode = if vfio {
            AccountMode::Mm
        } else {
            AccountMode::User
        };
        KBox::pin_init(
            try_pin_init!(IommufdCtx {
                objects <- Objects::new(mode),
                file: file.as_ptr(),
            }),
            GFP_KERNEL_ACCOUNT,
        )
    }

    fn ioctl(ctx: Pin<&IommufdCtx>, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        ctx.get_ref().ioctl(cmd, arg)
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

impl IommufdCtx {
    /// `iommufd_fops_ioctl()`: route, read the size, check it, copy the struct, execute.
    fn ioctl(&self, cmd: u32, arg: UserPtr) -> Result<isize> {
        if uapi::route(cmd, WITH_TEST) == Route::VfioCompat {
            return self.vfio_ioctl(cmd, arg);
        }
        let user_size = UserSlice::new(arg, core::mem::size_of::<u32>())
            .reader()
            .read::<u32>()?;
        let op = uapi::check(cmd, user_size, WITH_TEST).map_err(kerr)?;
        let mut buf = [0u8; uapi::UCMD_BUFFER_SIZE];
        let cmd_buf = &mut buf[..op.size];
        copy_struct_from_user(cmd_buf, arg, user_size as usize)?;
        let mut ucmd = Ucmd {
            ctx: self,
            ubuffer: arg,
            user_size,
            op,
            buf: cmd_buf,
        };
        execute(&mut ucmd).map(|()| 0).map_err(kerr)
    }

    /// `iommufd_vfio_ioctl()`: the VFIO type1 container compatibility ioctls. Anything it
    /// does not know is `ENOTTY`, as in C.
    fn vfio_ioctl(&self, cmd: u32, arg: UserPtr) -> Result<isize> {
        crate::vfio_compat::ioctl(self, cmd, arg).map_err(kerr)
    }
}

/// The command table (C `iommufd_ioctl_ops[].execute`).
fn execute(ucmd: &mut Ucmd<'_>) -> Result<(), Errno> {
    match ucmd.op.cmd {
        Cmd::Destroy => destroy(ucmd),
        Cmd::IoasAlloc => ioas::alloc_ioctl(ucmd),
        Cmd::IoasAllowIovas => ioas::allow_iovas(ucmd),
        Cmd::IoasCopy => ioas::copy(ucmd),
        Cmd::IoasIovaRanges => ioas::iova_ranges(ucmd),
        Cmd::IoasMap => ioas::map(ucmd),
        Cmd::IoasUnmap => ioas::unmap(ucmd),
        Cmd::Option => option(ucmd),
        Cmd::VfioIoas => crate::vfio_compat::vfio_ioas(ucmd),
        Cmd::HwptAlloc => crate::hw_pagetable::alloc_ioctl(ucmd),
        Cmd::GetHwInfo => crate::device::get_hw_info_ioctl(ucmd),
        Cmd::HwptSetDirtyTracking => crate::hw_pagetable::set_dirty_tracking_ioctl(ucmd),
        Cmd::HwptGetDirtyBitmap => crate::hw_pagetable::get_dirty_bitmap_ioctl(ucmd),
        Cmd::HwptInvalidate => crate::hw_pagetable::invalidate_ioctl(ucmd),
        Cmd::FaultQueueAlloc => crate::fault::alloc_ioctl(ucmd),
        #[cfg(CONFIG_IOMMUFD_TEST)]
        Cmd::Test => crate::selftest::test_cmd(ucmd),
        #[cfg(not(CONFIG_IOMMUFD_TEST))]
        Cmd::Test => Err(Errno::ENOTTY),
    }
}

/// `IOMMU_DESTROY` (C `iommufd_destroy`): remove the object if nobody uses it, then destroy it
/// outside the table's lock.
fn destroy(ucmd: &mut Ucmd<'_>) -> Result<(), Errno> {
    let cmd = Destroy::decode(ucmd.buf())?;
    let obj = ucmd.ctx.objects.lock().remove(cmd.id)?;
    drop(obj);
    Ok(())
}

/// `IOMMU_OPTION` (C `iommufd_option`): only `val64` goes back to the user.
fn option(ucmd: &mut Ucmd<'_>) -> Result<(), Errno> {
    let mut cmd = IommuOption::decode(ucmd.buf())?;
    match cmd.option_id {
        OptionId::RlimitMode => rlimit_mode(ucmd.ctx, &mut cmd)?,
        OptionId::HugePages => ioas::option_huge_pages(ucmd, &mut cmd)?,
    }
    cmd.encode_response(ucmd.buf_mut());
    let range = IommuOption::RESPONSE_RANGE;
    let at = user::offset(ucmd.ubuffer, range.start)?;
    let bytes = ucmd.buf.get(range).ok_or(Errno::EFAULT)?;
    user::write(at, bytes)
}

/// C `iommufd_option_rlimit_mode`.
fn rlimit_mode(ctx: &IommufdCtx, cmd: &mut IommuOption) -> Result<(), Errno> {
    match cmd.op_kind()? {
        OptionOp::Get => {
            cmd.val64 = u64::from(ctx.account_mode() == AccountMode::Mm);
            Ok(())
        }
        OptionOp::Set => {
            if !kernel_capable(kernel::bindings::CAP_SYS_RESOURCE as i32) {
                return Err(Errno::EPERM);
            }
            let mut objects = ctx.objects.lock();
            if !objects.table.is_empty() {
                return Err(Errno::EBUSY);
            }
            let mm = cmd.set_value()?;
            objects.account_mode = if mm {
                AccountMode::Mm
            } else {
                AccountMode::User
            };
            Ok(())
        }
    }
}
