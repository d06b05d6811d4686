// SPDX-License-Identifier: GPL-2.0

//! `IOMMU_VFIO_IOAS` (`drivers/iommu/iommufd/vfio_compat.c`).

use super::super::errno::{Errno, Result};
use super::super::uapi::Cmd;
use super::{impl_ucmd, Field, Layout, SIZE_FIELD};

/// `IOMMU_VFIO_IOAS_GET`.
pub const IOMMU_VFIO_IOAS_GET: u16 = 0;
/// `IOMMU_VFIO_IOAS_SET`.
pub const IOMMU_VFIO_IOAS_SET: u16 = 1;
/// `IOMMU_VFIO_IOAS_CLEAR`.
pub const IOMMU_VFIO_IOAS_CLEAR: u16 = 2;

/// `enum iommufd_vfio_ioas_op`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum VfioIoasOp {
    /// `IOMMU_VFIO_IOAS_GET`: report (creating it if needed) the compatibility IOAS.
    Get,
    /// `IOMMU_VFIO_IOAS_SET`: make `ioas_id` the compatibility IOAS.
    Set,
    /// `IOMMU_VFIO_IOAS_CLEAR`: disable VFIO compatibility.
    Clear,
}

impl VfioIoasOp {
    /// The uAPI value.
    pub const fn raw(self) -> u16 {
        match self {
            VfioIoasOp::Get => IOMMU_VFIO_IOAS_GET,
            VfioIoasOp::Set => IOMMU_VFIO_IOAS_SET,
            VfioIoasOp::Clear => IOMMU_VFIO_IOAS_CLEAR,
        }
    }
}

/// `struct iommu_vfio_ioas`: get, set or clear the VFIO compatibility IOAS.
///
/// `decode`, in the order of C `iommufd_vfio_ioas()`:
///
/// 1. `__reserved != 0`: `EOPNOTSUPP`;
/// 2. `op` not `GET`, `SET` or `CLEAR`: `EOPNOTSUPP` (the `switch`'s `default:` case).
///
/// Then `GET` looks up (or creates) the compatibility IOAS (`get_compat_ioas()`, `ENODEV`
/// possible) and responds with its id; `SET` looks up `ioas_id` (`ENOENT`) and does not
/// respond; `CLEAR` neither looks up nor responds.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct VfioIoas {
    /// Input for `SET`; output for `GET`.
    pub ioas_id: u32,
    /// The operation.
    pub op: VfioIoasOp,
}

impl VfioIoas {
    /// `ioas_id`.
    pub const IOAS_ID: Field<4> = Field::new("ioas_id", 4);
    /// `op`.
    pub const OP: Field<2> = Field::new("op", 8);
    /// `__reserved`.
    pub const RESERVED: Field<2> = Field::new("__reserved", 10);
    /// The struct's layout.
    pub const LAYOUT: Layout = Layout {
        c_struct: "iommu_vfio_ioas",
        size: 12,
        fields: &[
            SIZE_FIELD.desc(),
            Self::IOAS_ID.desc(),
            Self::OP.desc(),
            Self::RESERVED.desc(),
        ],
    };

    /// Decodes and checks the command (see the type's documentation).
    pub fn decode(buf: &[u8]) -> Result<Self> {
        // First check of C `iommufd_vfio_ioas()`.
        if !Self::RESERVED.is_zero(buf) {
            return Err(Errno::EOPNOTSUPP);
        }
        // The `switch` of C `iommufd_vfio_ioas()`.
        let op = match Self::OP.get_u16(buf) {
            IOMMU_VFIO_IOAS_GET => VfioIoasOp::Get,
            IOMMU_VFIO_IOAS_SET => VfioIoasOp::Set,
            IOMMU_VFIO_IOAS_CLEAR => VfioIoasOp::Clear,
            _ => return Err(Errno::EOPNOTSUPP),
        };
        Ok(Self {
            ioas_id: Self::IOAS_ID.get_u32(buf),
            op,
        })
    }

    /// Writes every input field, and `size`.
    pub fn encode(&self, buf: &mut [u8]) {
        SIZE_FIELD.put_u32(buf, Self::LAYOUT.size as u32);
        Self::IOAS_ID.put_u32(buf, self.ioas_id);
        Self::OP.put_u16(buf, self.op.raw());
        Self::RESERVED.put_u16(buf, 0);
    }

    /// Writes `ioas_id` (the `GET` response of C `iommufd_vfio_ioas()`).
    pub fn encode_response(&self, buf: &mut [u8]) {
        Self::IOAS_ID.put_u32(buf, self.ioas_id);
    }
}

impl_ucmd!(VfioIoas, Cmd::VfioIoas);

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(ioas_id: u32, op: u16, reserved: u16) -> [u8; 12] {
        let mut b = [0u8; 12];
        VfioIoas::IOAS_ID.put_u32(&mut b, ioas_id);
        VfioIoas::OP.put_u16(&mut b, op);
        VfioIoas::RESERVED.put_u16(&mut b, reserved);
        b
    }

    #[test]
    fn vfio_ioas_errnos() {
        assert_eq!(
            VfioIoas::decode(&cmd(5, 1, 0)),
            Ok(VfioIoas {
                ioas_id: 5,
                op: VfioIoasOp::Set
            })
        );
        assert_eq!(
            VfioIoas::decode(&cmd(0, 0, 0)).map(|c| c.op),
            Ok(VfioIoasOp::Get)
        );
        assert_eq!(
            VfioIoas::decode(&cmd(0, 2, 0)).map(|c| c.op),
            Ok(VfioIoasOp::Clear)
        );
        assert_eq!(VfioIoas::decode(&cmd(0, 3, 0)), Err(Errno::EOPNOTSUPP));
        assert_eq!(VfioIoas::decode(&cmd(0, 0, 1)), Err(Errno::EOPNOTSUPP));
        let mut b = cmd(0, 0, 0);
        VfioIoas {
            ioas_id: 12,
            op: VfioIoasOp::Get,
        }
        .encode_response(&mut b);
        assert_eq!(VfioIoas::IOAS_ID.get_u32(&b), 12);
    }
}
