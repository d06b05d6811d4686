// SPDX-License-Identifier: GPL-2.0

//! `IOMMU_FAULT_QUEUE_ALLOC` (`drivers/iommu/iommufd/fault.c`).

use super::super::errno::{Errno, Result};
use super::super::uapi::Cmd;
use super::{impl_ucmd, Field, Layout, SIZE_FIELD};

/// `struct iommu_fault_alloc`: allocate a fault queue object and its file.
///
/// `decode`: `flags != 0`: `EOPNOTSUPP` (the first check of C `iommufd_fault_alloc()`). The
/// handler then allocates the object, the file and an fd, and responds with both.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct FaultAlloc {
    /// Output: the new fault object's id.
    pub out_fault_id: u32,
    /// Output: the fd of its file.
    pub out_fault_fd: u32,
}

impl FaultAlloc {
    /// `flags`.
    pub const FLAGS: Field<4> = Field::new("flags", 4);
    /// `out_fault_id`.
    pub const OUT_FAULT_ID: Field<4> = Field::new("out_fault_id", 8);
    /// `out_fault_fd`.
    pub const OUT_FAULT_FD: Field<4> = Field::new("out_fault_fd", 12);
    /// The struct's layout.
    pub const LAYOUT: Layout = Layout {
        c_struct: "iommu_fault_alloc",
        size: 16,
        fields: &[
            SIZE_FIELD.desc(),
            Self::FLAGS.desc(),
            Self::OUT_FAULT_ID.desc(),
            Self::OUT_FAULT_FD.desc(),
        ],
    };

    /// Decodes and checks the command (see the type's documentation).
    pub fn decode(buf: &[u8]) -> Result<Self> {
        // First check of C `iommufd_fault_alloc()`.
        if Self::FLAGS.get_u32(buf) != 0 {
            return Err(Errno::EOPNOTSUPP);
        }
        Ok(Self {
            out_fault_id: 0,
            out_fault_fd: 0,
        })
    }

    /// Writes `size` and `flags` (0).
    pub fn encode(&self, buf: &mut [u8]) {
        SIZE_FIELD.put_u32(buf, Self::LAYOUT.size as u32);
        Self::FLAGS.put_u32(buf, 0);
    }

    /// Writes `out_fault_id` and `out_fault_fd` (C `iommufd_fault_alloc()`).
    pub fn encode_response(&self, buf: &mut [u8]) {
        Self::OUT_FAULT_ID.put_u32(buf, self.out_fault_id);
        Self::OUT_FAULT_FD.put_u32(buf, self.out_fault_fd);
    }
}

impl_ucmd!(FaultAlloc, Cmd::FaultQueueAlloc);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_alloc_errnos() {
        let mut b = [0u8; 16];
        FaultAlloc::OUT_FAULT_ID.put_u32(&mut b, 3);
        assert_eq!(
            FaultAlloc::decode(&b),
            Ok(FaultAlloc {
                out_fault_id: 0,
                out_fault_fd: 0
            })
        );
        FaultAlloc::FLAGS.put_u32(&mut b, 1);
        assert_eq!(FaultAlloc::decode(&b), Err(Errno::EOPNOTSUPP));
        FaultAlloc {
            out_fault_id: 5,
            out_fault_fd: 6,
        }
        .encode_response(&mut b);
        assert_eq!(FaultAlloc::OUT_FAULT_ID.get_u32(&b), 5);
        assert_eq!(FaultAlloc::OUT_FAULT_FD.get_u32(&b), 6);
    }
}
