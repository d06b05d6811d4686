// SPDX-License-Identifier: GPL-2.0

//! `IOMMU_FAULT_QUEUE_ALLOC` and the records of a fault object's file
//! (`drivers/iommu/iommufd/fault.c`).
//!
//! A fault file is read as an array of `struct iommu_hwpt_pgfault` ([`PgFault`]), one per
//! page request, and written as an array of `struct iommu_hwpt_page_response`
//! ([`PageResponse`]). Each group of requests read gets a cookie ([`alloc_cookie`]) that its
//! response names. The checks of C `iommufd_fault_fops_read()` and
//! `iommufd_fault_fops_write()` that need no kernel state are here too ([`check_read`],
//! [`check_write`], [`group_fits`]).

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

/// `struct iommu_hwpt_pgfault`: one page request as user space reads it from a fault file
/// (C `iommufd_compose_fault_message()`).
///
/// `flags`, `pasid`, `grpid`, `perm` and `addr` are the request's (C `struct
/// iommu_fault_page_request`), `dev_id` is the object ID of the device that attached the
/// faulting domain, `cookie` the group's ([`alloc_cookie`]). `__reserved` and `length` are
/// always written as 0.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct PgFault {
    /// `IOMMU_PGFAULT_FLAGS_*`.
    pub flags: u32,
    /// The device's object ID.
    pub dev_id: u32,
    /// The PASID, valid with `IOMMU_PGFAULT_FLAGS_PASID_VALID`.
    pub pasid: u32,
    /// The page request group index.
    pub grpid: u32,
    /// `IOMMU_PGFAULT_PERM_*`.
    pub perm: u32,
    /// The faulting address.
    pub addr: u64,
    /// The group's response cookie.
    pub cookie: u32,
}

impl PgFault {
    /// `sizeof(struct iommu_hwpt_pgfault)`: the unit of a fault file's reads.
    pub const SIZE: usize = 40;
    /// `flags`.
    pub const FLAGS: Field<4> = Field::new("flags", 0);
    /// `dev_id`.
    pub const DEV_ID: Field<4> = Field::new("dev_id", 4);
    /// `pasid`.
    pub const PASID: Field<4> = Field::new("pasid", 8);
    /// `grpid`.
    pub const GRPID: Field<4> = Field::new("grpid", 12);
    /// `perm`.
    pub const PERM: Field<4> = Field::new("perm", 16);
    /// `__reserved`.
    pub const RESERVED: Field<4> = Field::new("__reserved", 20);
    /// `addr`.
    pub const ADDR: Field<8> = Field::new("addr", 24);
    /// `length`.
    pub const LENGTH: Field<4> = Field::new("length", 32);
    /// `cookie`.
    pub const COOKIE: Field<4> = Field::new("cookie", 36);
    /// The struct's layout.
    pub const LAYOUT: Layout = Layout {
        c_struct: "iommu_hwpt_pgfault",
        size: Self::SIZE,
        fields: &[
            Self::FLAGS.desc(),
            Self::DEV_ID.desc(),
            Self::PASID.desc(),
            Self::GRPID.desc(),
            Self::PERM.desc(),
            Self::RESERVED.desc(),
            Self::ADDR.desc(),
            Self::LENGTH.desc(),
            Self::COOKIE.desc(),
        ],
    };

    /// The record as user space reads it: every byte of the struct is written, `__reserved`
    /// and `length` as 0 (C fills a zeroed `struct iommu_hwpt_pgfault`).
    pub fn encode(&self) -> [u8; Self::SIZE] {
        let mut b = [0u8; Self::SIZE];
        Self::FLAGS.put_u32(&mut b, self.flags);
        Self::DEV_ID.put_u32(&mut b, self.dev_id);
        Self::PASID.put_u32(&mut b, self.pasid);
        Self::GRPID.put_u32(&mut b, self.grpid);
        Self::PERM.put_u32(&mut b, self.perm);
        Self::ADDR.put_u64(&mut b, self.addr);
        Self::COOKIE.put_u32(&mut b, self.cookie);
        b
    }

    /// Reads a record back (what user space does; for tests and tools).
    pub fn decode(buf: &[u8]) -> Self {
        Self {
            flags: Self::FLAGS.get_u32(buf),
            dev_id: Self::DEV_ID.get_u32(buf),
            pasid: Self::PASID.get_u32(buf),
            grpid: Self::GRPID.get_u32(buf),
            perm: Self::PERM.get_u32(buf),
            addr: Self::ADDR.get_u64(buf),
            cookie: Self::COOKIE.get_u32(buf),
        }
    }
}

/// `enum iommufd_page_response_code`, equal to the iommu core's `IOMMU_PAGE_RESP_SUCCESS`
/// and `IOMMU_PAGE_RESP_INVALID` (C checks both with `static_assert`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u32)]
pub enum PageResponseCode {
    /// `IOMMUFD_PAGE_RESP_SUCCESS`: the fault was handled, the device retries the access.
    Success = 0,
    /// `IOMMUFD_PAGE_RESP_INVALID`: the fault could not be handled, no retry.
    Invalid = 1,
}

/// `struct iommu_hwpt_page_response`: one response as user space writes it to a fault file.
///
/// `decode`: a `code` other than [`PageResponseCode::Success`] or
/// [`PageResponseCode::Invalid`]: `EINVAL` (the first check of the loop of C
/// `iommufd_fault_fops_write()`). The handler then looks the cookie up (`EINVAL` if no group
/// has it) and answers the group with the code.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PageResponse {
    /// The cookie of the group answered.
    pub cookie: u32,
    /// The answer.
    pub code: PageResponseCode,
}

impl PageResponse {
    /// `sizeof(struct iommu_hwpt_page_response)`: the unit of a fault file's writes.
    pub const SIZE: usize = 8;
    /// `cookie`.
    pub const COOKIE: Field<4> = Field::new("cookie", 0);
    /// `code`.
    pub const CODE: Field<4> = Field::new("code", 4);
    /// The struct's layout.
    pub const LAYOUT: Layout = Layout {
        c_struct: "iommu_hwpt_page_response",
        size: Self::SIZE,
        fields: &[Self::COOKIE.desc(), Self::CODE.desc()],
    };

    /// Decodes and checks one response (see the type's documentation).
    pub fn decode(buf: &[u8]) -> Result<Self> {
        let code = match Self::CODE.get_u32(buf) {
            0 => PageResponseCode::Success,
            1 => PageResponseCode::Invalid,
            _ => return Err(Errno::EINVAL),
        };
        Ok(Self {
            cookie: Self::COOKIE.get_u32(buf),
            code,
        })
    }

    /// Writes the response (the inverse of `decode`).
    pub fn encode(&self) -> [u8; Self::SIZE] {
        let mut b = [0u8; Self::SIZE];
        Self::COOKIE.put_u32(&mut b, self.cookie);
        Self::CODE.put_u32(&mut b, self.code as u32);
        b
    }
}

/// The first check of C `iommufd_fault_fops_read()`: a read starts at offset 0 and asks for
/// whole records, else `ESPIPE`.
pub fn check_read(count: usize, pos: i64) -> Result {
    if pos != 0 || count % PgFault::SIZE != 0 {
        return Err(Errno::ESPIPE);
    }
    Ok(())
}

/// The first check of C `iommufd_fault_fops_write()`: a write starts at offset 0 and holds
/// whole responses, else `ESPIPE`.
pub fn check_write(count: usize, pos: i64) -> Result {
    if pos != 0 || count % PageResponse::SIZE != 0 {
        return Err(Errno::ESPIPE);
    }
    Ok(())
}

/// Whether the `fault_count` records of the next group fit in a read of `count` bytes of
/// which `done` are filled (C `iommufd_fault_fops_read()`: a group is read whole or not at
/// all; when the first group does not fit the read fails with `EINVAL`).
pub fn group_fits(done: usize, count: usize, fault_count: usize) -> bool {
    done < count && fault_count.saturating_mul(PgFault::SIZE) <= count - done
}

/// The cookie of the next group read: the lowest one from 1 not in `used`, which must list
/// the cookies in use in increasing order (C `xa_alloc(..., xa_limit_32b)` on the
/// `XA_FLAGS_ALLOC1` xarray `fault->response`). `EBUSY` when every cookie is in use.
pub fn alloc_cookie(used: impl IntoIterator<Item = u32>) -> Result<u32> {
    let mut cookie: u32 = 1;
    for c in used {
        if c < cookie {
            // 0 (never allocated) or out of order: not a candidate.
            continue;
        }
        if c > cookie {
            break;
        }
        cookie = cookie.checked_add(1).ok_or(Errno::EBUSY)?;
    }
    Ok(cookie)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pgfault_round_trips() {
        let f = PgFault {
            flags: 3,
            dev_id: 7,
            pasid: 400,
            grpid: 2,
            perm: 1,
            addr: 0xdead_b000,
            cookie: 9,
        };
        let b = f.encode();
        assert_eq!(PgFault::decode(&b), f);
        assert_eq!(PgFault::RESERVED.get_u32(&b), 0);
        assert_eq!(PgFault::LENGTH.get_u32(&b), 0);
        assert_eq!(&b[24..32], &0xdead_b000u64.to_ne_bytes());
    }

    #[test]
    fn page_response_codes() {
        let mut b = [0u8; 8];
        PageResponse::COOKIE.put_u32(&mut b, 5);
        assert_eq!(
            PageResponse::decode(&b),
            Ok(PageResponse {
                cookie: 5,
                code: PageResponseCode::Success
            })
        );
        PageResponse::CODE.put_u32(&mut b, 1);
        let r = PageResponse::decode(&b).unwrap();
        assert_eq!(r.code, PageResponseCode::Invalid);
        assert_eq!(r.encode(), b);
        PageResponse::CODE.put_u32(&mut b, 2);
        assert_eq!(PageResponse::decode(&b), Err(Errno::EINVAL));
    }

    #[test]
    fn read_write_checks() {
        assert_eq!(check_read(0, 0), Ok(()));
        assert_eq!(check_read(80, 0), Ok(()));
        assert_eq!(check_read(41, 0), Err(Errno::ESPIPE));
        assert_eq!(check_read(40, 1), Err(Errno::ESPIPE));
        assert_eq!(check_write(16, 0), Ok(()));
        assert_eq!(check_write(12, 0), Err(Errno::ESPIPE));
        assert_eq!(check_write(8, -1), Err(Errno::ESPIPE));
        assert!(group_fits(0, 40, 1));
        assert!(!group_fits(0, 40, 2));
        assert!(!group_fits(40, 40, 1));
        assert!(group_fits(40, 120, 2));
        assert!(!group_fits(0, 40, usize::MAX));
    }

    #[test]
    fn cookies_are_the_lowest_free_from_one() {
        assert_eq!(alloc_cookie([]), Ok(1));
        assert_eq!(alloc_cookie([1, 2, 3]), Ok(4));
        assert_eq!(alloc_cookie([2, 3]), Ok(1));
        assert_eq!(alloc_cookie([1, 3, 4]), Ok(2));
        assert_eq!(alloc_cookie([0, 1, u32::MAX]), Ok(2));
        // `EBUSY` needs all 2^32 - 1 cookies in use, too long a walk for a unit test.
    }

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
