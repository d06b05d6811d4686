// SPDX-License-Identifier: GPL-2.0

//! The `/dev/iommu` ioctl table and the rules that route and size-check a command.
//!
//! Mirrors `iommufd_fops_ioctl()` and `iommufd_ioctl_ops[]` of the pinned tree
//! (`drivers/iommu/iommufd/main.c`), step by step, so that every errno comes out the same:
//!
//! 1. `_IOC_NR(cmd)` outside the table: the command goes to the VFIO compatibility layer
//!    ([`Route::VfioCompat`]), which answers `ENOTTY` for anything it does not know;
//! 2. the first `u32` of the argument (the struct's `size`) is read: `EFAULT` if that faults;
//! 3. a table slot whose ioctl number is not exactly `cmd` (wrong type, direction or size bits,
//!    or an empty slot): `ENOTTY`;
//! 4. `size` smaller than the end of the op's last mandatory field: `EINVAL`;
//! 5. `copy_struct_from_user()`: bytes past what the kernel knows must be zero, else `E2BIG`.
//!
//! Steps 2 and 5 touch user memory and are done by the kernel shell; this module decides the
//! rest and is what the host tests check.

use super::errno::{Errno, Result};

/// `IOMMUFD_TYPE`, the ioctl type byte of every iommufd command (`';'`).
pub const IOMMUFD_TYPE: u32 = b';' as u32;
/// `IOMMUFD_CMD_BASE`, the `_IOC_NR` of the first command.
pub const IOMMUFD_CMD_BASE: u32 = 0x80;

/// `_IO(type, nr)`: what every iommufd command number is (no direction or size bits).
pub const fn io(ty: u32, nr: u32) -> u32 {
    (ty << 8) | nr
}

/// `_IOC_NR(cmd)`.
pub const fn ioc_nr(cmd: u32) -> u32 {
    cmd & 0xff
}

/// The iommufd commands of the pinned 6.12 uAPI, by `_IOC_NR`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u32)]
pub enum Cmd {
    /// `IOMMU_DESTROY`
    Destroy = 0x80,
    /// `IOMMU_IOAS_ALLOC`
    IoasAlloc = 0x81,
    /// `IOMMU_IOAS_ALLOW_IOVAS`
    IoasAllowIovas = 0x82,
    /// `IOMMU_IOAS_COPY`
    IoasCopy = 0x83,
    /// `IOMMU_IOAS_IOVA_RANGES`
    IoasIovaRanges = 0x84,
    /// `IOMMU_IOAS_MAP`
    IoasMap = 0x85,
    /// `IOMMU_IOAS_UNMAP`
    IoasUnmap = 0x86,
    /// `IOMMU_OPTION`
    Option = 0x87,
    /// `IOMMU_VFIO_IOAS`
    VfioIoas = 0x88,
    /// `IOMMU_HWPT_ALLOC`
    HwptAlloc = 0x89,
    /// `IOMMU_GET_HW_INFO`
    GetHwInfo = 0x8a,
    /// `IOMMU_HWPT_SET_DIRTY_TRACKING`
    HwptSetDirtyTracking = 0x8b,
    /// `IOMMU_HWPT_GET_DIRTY_BITMAP`
    HwptGetDirtyBitmap = 0x8c,
    /// `IOMMU_HWPT_INVALIDATE`
    HwptInvalidate = 0x8d,
    /// `IOMMU_FAULT_QUEUE_ALLOC`
    FaultQueueAlloc = 0x8e,
    /// `IOMMU_TEST_CMD` (`IOMMUFD_CMD_BASE + 32`), only with the mock (`CONFIG_IOMMUFD_TEST`).
    Test = 0xa0,
}

impl Cmd {
    /// The full ioctl number userspace passes (`_IO(IOMMUFD_TYPE, nr)`).
    pub const fn ioctl_num(self) -> u32 {
        io(IOMMUFD_TYPE, self as u32)
    }
}

/// One row of the ioctl table.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Op {
    /// Which command.
    pub cmd: Cmd,
    /// `sizeof` the command's struct in the pinned uAPI: what the kernel copies in.
    pub size: usize,
    /// `offsetofend` of the last field an old binary must already have sent.
    pub min_size: usize,
}

const fn op(cmd: Cmd, size: usize, min_size: usize) -> Op {
    Op {
        cmd,
        size,
        min_size,
    }
}

/// The table, as `iommufd_ioctl_ops[]` (sizes checked against the C header by
/// `tests/uapi_layout.rs`).
pub const OPS: [Op; 16] = [
    op(Cmd::Destroy, 8, 8),
    op(Cmd::IoasAlloc, 12, 12),
    op(Cmd::IoasAllowIovas, 24, 24),
    op(Cmd::IoasCopy, 40, 40),
    op(Cmd::IoasIovaRanges, 32, 32),
    op(Cmd::IoasMap, 40, 40),
    op(Cmd::IoasUnmap, 24, 24),
    op(Cmd::Option, 24, 24),
    op(Cmd::VfioIoas, 12, 12),
    op(Cmd::HwptAlloc, 48, 24),
    op(Cmd::GetHwInfo, 40, 32),
    op(Cmd::HwptSetDirtyTracking, 16, 16),
    op(Cmd::HwptGetDirtyBitmap, 48, 48),
    op(Cmd::HwptInvalidate, 32, 32),
    op(Cmd::FaultQueueAlloc, 16, 16),
    op(Cmd::Test, 72, 68),
];

/// The size of the buffer the shell copies a command into: at least every op's `size`.
pub const UCMD_BUFFER_SIZE: usize = 128;

const _: () = {
    let mut i = 0;
    while i < OPS.len() {
        assert!(OPS[i].size <= UCMD_BUFFER_SIZE);
        assert!(OPS[i].min_size <= OPS[i].size);
        assert!(OPS[i].min_size >= 4);
        i += 1;
    }
};

/// Where a command goes after step 1.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Route {
    /// `_IOC_NR` is outside the iommufd table: the VFIO type1 compatibility ioctls.
    VfioCompat,
    /// Inside the table: read the user `size`, then [`check`].
    Table,
}

/// The `_IOC_NR` one past the last slot of the table. With the mock built in (the test
/// command present) the table reaches `IOMMU_TEST_CMD`, else `IOMMU_FAULT_QUEUE_ALLOC`.
pub const fn table_end(with_test: bool) -> u32 {
    if with_test {
        Cmd::Test as u32 + 1
    } else {
        Cmd::FaultQueueAlloc as u32 + 1
    }
}

/// Step 1: route `cmd` by its `_IOC_NR`.
pub fn route(cmd: u32, with_test: bool) -> Route {
    let nr = ioc_nr(cmd);
    if nr < IOMMUFD_CMD_BASE || nr >= table_end(with_test) {
        Route::VfioCompat
    } else {
        Route::Table
    }
}

/// Steps 3 and 4: find the op for `cmd` (already routed to the table) and check the `size`
/// userspace claims.
pub fn check(cmd: u32, user_size: u32, with_test: bool) -> Result<&'static Op> {
    let op = OPS
        .iter()
        .find(|op| op.cmd.ioctl_num() == cmd && (with_test || op.cmd != Cmd::Test))
        .ok_or(Errno::ENOTTY)?;
    if (user_size as usize) < op.min_size {
        return Err(Errno::EINVAL);
    }
    Ok(op)
}

/// What `copy_struct_from_user()` must do for an op and a user size, as a pure function (the
/// shell does the copy with the kernel's own routine; the host tests check this model of it).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct CopyPlan {
    /// Bytes copied from the user.
    pub copy: usize,
    /// Bytes of the kernel struct zero-filled after them.
    pub zero_fill: usize,
    /// Bytes past the kernel struct that must be zero in user memory (else `E2BIG`).
    pub must_be_zero: usize,
}

/// The copy plan for a kernel struct of `ksize` bytes and a user struct of `user_size` bytes.
pub fn copy_plan(ksize: usize, user_size: usize) -> CopyPlan {
    if user_size >= ksize {
        CopyPlan {
            copy: ksize,
            zero_fill: 0,
            must_be_zero: user_size - ksize,
        }
    } else {
        CopyPlan {
            copy: user_size,
            zero_fill: ksize - user_size,
            must_be_zero: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_the_uapi_ones() {
        // From include/uapi/linux/iommufd.h: _IO(';', 0x80) etc.
        assert_eq!(Cmd::Destroy.ioctl_num(), 0x3b80);
        assert_eq!(Cmd::FaultQueueAlloc.ioctl_num(), 0x3b8e);
        assert_eq!(Cmd::Test.ioctl_num(), 0x3ba0);
    }

    #[test]
    fn routing_edges() {
        assert_eq!(route(io(IOMMUFD_TYPE, 0x7f), true), Route::VfioCompat);
        assert_eq!(route(io(IOMMUFD_TYPE, 0x80), true), Route::Table);
        assert_eq!(route(io(IOMMUFD_TYPE, 0xa0), true), Route::Table);
        assert_eq!(route(io(IOMMUFD_TYPE, 0xa1), true), Route::VfioCompat);
        assert_eq!(route(io(IOMMUFD_TYPE, 0x8f), false), Route::VfioCompat);
        // VFIO's own numbers (type ';', nr 100..) are below the base.
        assert_eq!(route(io(IOMMUFD_TYPE, 100), true), Route::VfioCompat);
    }

    #[test]
    fn check_rules() {
        let map = Cmd::IoasMap.ioctl_num();
        assert_eq!(check(map, 40, true).map(|o| o.cmd), Ok(Cmd::IoasMap));
        assert_eq!(check(map, 39, true), Err(Errno::EINVAL));
        assert_eq!(check(map, 0, true), Err(Errno::EINVAL));
        assert_eq!(check(map, u32::MAX, true).map(|o| o.size), Ok(40));
        // An empty slot inside the table, and direction or size bits set on a real number.
        assert_eq!(check(io(IOMMUFD_TYPE, 0x90), 64, true), Err(Errno::ENOTTY));
        assert_eq!(check(map | (1 << 30), 40, true), Err(Errno::ENOTTY));
        assert_eq!(check(map | (40 << 16), 40, true), Err(Errno::ENOTTY));
        // Another ioctl type with an iommufd-looking nr.
        assert_eq!(check(io(b'V' as u32, 0x85), 40, true), Err(Errno::ENOTTY));
        // The test command only exists with the mock.
        assert_eq!(check(Cmd::Test.ioctl_num(), 72, false), Err(Errno::ENOTTY));
        // Growable structs: HWPT_ALLOC's minimum is shorter than its size.
        assert!(check(Cmd::HwptAlloc.ioctl_num(), 24, true).is_ok());
        assert_eq!(
            check(Cmd::HwptAlloc.ioctl_num(), 23, true),
            Err(Errno::EINVAL)
        );
    }

    #[test]
    fn copy_plans() {
        assert_eq!(
            copy_plan(40, 40),
            CopyPlan {
                copy: 40,
                zero_fill: 0,
                must_be_zero: 0
            }
        );
        assert_eq!(
            copy_plan(48, 24),
            CopyPlan {
                copy: 24,
                zero_fill: 24,
                must_be_zero: 0
            }
        );
        assert_eq!(
            copy_plan(40, 4096),
            CopyPlan {
                copy: 40,
                zero_fill: 0,
                must_be_zero: 4056
            }
        );
    }
}
