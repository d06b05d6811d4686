// SPDX-License-Identifier: GPL-2.0

//! The top of the module: the misc devices' file operations (C `iommufd_fops`) and the ioctl
//! table (C `iommufd_ioctl_ops[]`), which dispatches each command to the file of its object
//! kind. Nothing else imports this file.
//!
//! The routing and size rules are the core's ([`crate::iommufd_core::uapi`]), the decoding of
//! each command is the core's ([`crate::iommufd_core::ucmd`]); this file touches user memory:
//! it reads the `size` word, copies the struct with the kernel's `copy_struct_from_user()`,
//! runs the command and copies its reply back.
//!
//! Lock order: one table for the module, `Documentation/locking.md`. Here: `IOMMU_OPTION`'s
//! RLIMIT mode takes the object table's lock alone.

use crate::{
    ctx::{IommufdCtx, Ucmd, WITH_TEST},
    error::kerr,
    ioas,
    iommufd_core::{
        errno::Errno,
        uapi::{self, Cmd, Route},
        ucmd::main::{Destroy, IommuOption, OptionId, OptionOp},
    },
    pages::{kernel_capable, AccountMode},
    user,
};
use kernel::{
    fs::File,
    miscdevice::{MiscDevice, MiscDeviceRegistration},
    prelude::*,
    uaccess::{UserPtr, UserSlice},
    usercopy::copy_struct_from_user,
};

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
        let ctx = KBox::pin_init(IommufdCtx::new(file, mode), GFP_KERNEL_ACCOUNT)?;
        // Shown in the debugfs view until its drop unregisters it.
        crate::registry::register(&ctx)?;
        Ok(ctx)
    }

    fn ioctl(ctx: Pin<&IommufdCtx>, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        ioctl(ctx.get_ref(), cmd, arg)
    }
}

/// `iommufd_fops_ioctl()`: route, read the size, check it, copy the struct, execute.
fn ioctl(ctx: &IommufdCtx, cmd: u32, arg: UserPtr) -> Result<isize> {
    if uapi::route(cmd, WITH_TEST) == Route::VfioCompat {
        // `iommufd_vfio_ioctl()`: the VFIO type1 container compatibility ioctls. Anything
        // it does not know is `ENOTTY`, as in C.
        return crate::vfio_compat::ioctl(ctx, cmd, arg).map_err(kerr);
    }
    let user_size = UserSlice::new(arg, core::mem::size_of::<u32>())
        .reader()
        .read::<u32>()?;
    let op = uapi::check(cmd, user_size, WITH_TEST).map_err(kerr)?;
    let mut buf = [0u8; uapi::UCMD_BUFFER_SIZE];
    let cmd_buf = &mut buf[..op.size];
    copy_struct_from_user(cmd_buf, arg, user_size as usize)?;
    let mut ucmd = Ucmd::new(ctx, arg, user_size, op, cmd_buf);
    execute(&mut ucmd).map(|()| 0).map_err(kerr)
}

/// A command's handler (C `iommufd_ioctl_op.execute`).
type Execute = fn(&mut Ucmd<'_>) -> Result<(), Errno>;

/// The command table (C `iommufd_ioctl_ops[].execute`).
fn handler(cmd: Cmd) -> Execute {
    match cmd {
        Cmd::Destroy => destroy,
        Cmd::IoasAlloc => ioas::alloc_ioctl,
        Cmd::IoasAllowIovas => ioas::allow_iovas,
        Cmd::IoasCopy => ioas::copy,
        Cmd::IoasIovaRanges => ioas::iova_ranges,
        Cmd::IoasMap => ioas::map,
        Cmd::IoasUnmap => ioas::unmap,
        Cmd::Option => option,
        Cmd::VfioIoas => crate::vfio_compat::vfio_ioas,
        Cmd::HwptAlloc => crate::hw_pagetable::alloc_ioctl,
        Cmd::GetHwInfo => crate::device::get_hw_info_ioctl,
        Cmd::HwptSetDirtyTracking => crate::hw_pagetable::set_dirty_tracking_ioctl,
        Cmd::HwptGetDirtyBitmap => crate::hw_pagetable::get_dirty_bitmap_ioctl,
        Cmd::HwptInvalidate => crate::hw_pagetable::invalidate_ioctl,
        Cmd::FaultQueueAlloc => crate::fault::alloc_ioctl,
        #[cfg(CONFIG_IOMMUFD_TEST)]
        Cmd::Test => crate::selftest::test_cmd,
        #[cfg(not(CONFIG_IOMMUFD_TEST))]
        Cmd::Test => |_| Err(Errno::ENOTTY),
    }
}

/// Runs the command's handler. The handlers stay functions of their own, called through
/// the table as in C, rather than inlined into one dispatch function: a command's code is
/// then contiguous, which keeps the hot path of the small commands (map, unmap) on few code
/// pages.
fn execute(ucmd: &mut Ucmd<'_>) -> Result<(), Errno> {
    let op = core::hint::black_box(handler(ucmd.cmd()));
    op(ucmd)
}

/// `IOMMU_DESTROY` (C `iommufd_destroy`): remove the object if nobody uses it, then destroy it
/// outside the table's lock.
fn destroy(ucmd: &mut Ucmd<'_>) -> Result<(), Errno> {
    let cmd = Destroy::decode(ucmd.buf())?;
    let obj = ucmd.ctx().objects().lock().remove(cmd.id)?;
    drop(obj);
    Ok(())
}

/// `IOMMU_OPTION` (C `iommufd_option`): only `val64` goes back to the user.
fn option(ucmd: &mut Ucmd<'_>) -> Result<(), Errno> {
    let mut cmd = IommuOption::decode(ucmd.buf())?;
    match cmd.option_id {
        OptionId::RlimitMode => rlimit_mode(ucmd.ctx(), &mut cmd)?,
        OptionId::HugePages => ioas::option_huge_pages(ucmd, &mut cmd)?,
    }
    cmd.encode_response(ucmd.buf_mut());
    let range = IommuOption::RESPONSE_RANGE;
    let at = user::offset(ucmd.ubuffer(), range.start)?;
    let bytes = ucmd.buf().get(range).ok_or(Errno::EFAULT)?;
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
            if !kernel_capable(kernel::cred::Capability::SYS_RESOURCE) {
                return Err(Errno::EPERM);
            }
            let objects = ctx.objects().lock();
            if !objects.table.is_empty() {
                return Err(Errno::EBUSY);
            }
            let mm = cmd.set_value()?;
            // Under the objects lock, so that no object (no pages) appears meanwhile.
            ctx.set_account_mode(if mm {
                AccountMode::Mm
            } else {
                AccountMode::User
            });
            drop(objects);
            Ok(())
        }
    }
}
