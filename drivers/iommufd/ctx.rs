// SPDX-License-Identifier: GPL-2.0

//! The iommufd context (one per open `/dev/iommu`) and the ioctl dispatcher (C `main.c`).
//!
//! The routing and size rules are the core's ([`crate::iommufd_core::uapi`]); this file only
//! touches user memory: it reads the `size` word, copies the struct with the kernel's
//! `copy_struct_from_user()` and hands the bytes to the command.
//!
//! Locking: none yet (the context has no mutable state).

use crate::iommufd_core::{
    errno::Errno,
    uapi::{self, Op, Route},
};
use kernel::{
    fs::File,
    miscdevice::{MiscDevice, MiscDeviceRegistration},
    prelude::*,
    uaccess::{UserPtr, UserSlice},
    usercopy::copy_struct_from_user,
};

/// Whether the mock IOMMU and `IOMMU_TEST_CMD` are built in (`CONFIG_IOMMUFD_TEST`).
pub(crate) const WITH_TEST: bool = cfg!(CONFIG_IOMMUFD_TEST);

/// Converts a core errno into a kernel error.
pub(crate) fn kerr(e: Errno) -> Error {
    Error::from_errno(-e.0)
}

/// The state behind one open `/dev/iommu` file (C `struct iommufd_ctx`).
pub(crate) struct IommufdCtx {}

#[vtable]
impl MiscDevice for IommufdCtx {
    type Ptr = KBox<Self>;

    fn open(_file: &File, _misc: &MiscDeviceRegistration<Self>) -> Result<KBox<Self>> {
        Ok(KBox::new(IommufdCtx {}, GFP_KERNEL_ACCOUNT)?)
    }

    fn ioctl(ctx: &IommufdCtx, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        ctx.ioctl(cmd, arg)
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
        self.execute(op, cmd_buf, arg)
    }

    /// The commands. Those of later milestones (issues 4 and 5: IOAS, devices, HW page tables,
    /// the mock) answer `ENOTTY`, as a kernel without them would, after the same size checks.
    fn execute(&self, _op: &Op, _cmd: &mut [u8], _arg: UserPtr) -> Result<isize> {
        Err(ENOTTY)
    }

    /// `iommufd_vfio_ioctl()`: the VFIO type1 container compatibility ioctls (issue 5). Anything
    /// it does not know is `ENOTTY`, as in C.
    fn vfio_ioctl(&self, _cmd: u32, _arg: UserPtr) -> Result<isize> {
        Err(ENOTTY)
    }
}
