// SPDX-License-Identifier: GPL-2.0

//! `IOMMU_DESTROY` and `IOMMU_OPTION`, whose handlers live in `drivers/iommu/iommufd/main.c`
//! (with the option bodies in `ioas.c`).

use super::super::errno::{Errno, Result};
use super::super::uapi::Cmd;
use super::{impl_ucmd, Field, Layout, SIZE_FIELD};

/// `struct iommu_destroy`: destroy any destroyable object.
///
/// C `iommufd_destroy()` checks nothing itself: it goes straight to
/// `iommufd_object_remove()`, which answers `ENOENT` for an unknown id (and
/// `EBUSY` for an object still in use). There is no response.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Destroy {
    /// The object to destroy.
    pub id: u32,
}

impl Destroy {
    /// `id`.
    pub const ID: Field<4> = Field::new("id", 4);
    /// The struct's layout.
    pub const LAYOUT: Layout = Layout {
        c_struct: "iommu_destroy",
        size: 8,
        fields: &[SIZE_FIELD.desc(), Self::ID.desc()],
    };

    /// Decodes the command; it cannot fail (C `iommufd_destroy()` has no checks).
    pub fn decode(buf: &[u8]) -> Result<Self> {
        Ok(Self {
            id: Self::ID.get_u32(buf),
        })
    }

    /// Writes `size` and `id`.
    pub fn encode(&self, buf: &mut [u8]) {
        SIZE_FIELD.put_u32(buf, Self::LAYOUT.size as u32);
        Self::ID.put_u32(buf, self.id);
    }

    /// `IOMMU_DESTROY` has no response: writes nothing.
    pub fn encode_response(&self, _buf: &mut [u8]) {}
}

impl_ucmd!(Destroy, Cmd::Destroy);

/// `IOMMU_OPTION_RLIMIT_MODE`.
pub const IOMMU_OPTION_RLIMIT_MODE: u32 = 0;
/// `IOMMU_OPTION_HUGE_PAGES`.
pub const IOMMU_OPTION_HUGE_PAGES: u32 = 1;
/// `IOMMU_OPTION_OP_SET`.
pub const IOMMU_OPTION_OP_SET: u16 = 0;
/// `IOMMU_OPTION_OP_GET`.
pub const IOMMU_OPTION_OP_GET: u16 = 1;

/// `enum iommufd_option`: which option.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum OptionId {
    /// `IOMMU_OPTION_RLIMIT_MODE`: global, how `RLIMIT_MEMLOCK` is accounted.
    RlimitMode,
    /// `IOMMU_OPTION_HUGE_PAGES`: per IOAS, whether contiguous pages are combined.
    HugePages,
}

impl OptionId {
    /// The uAPI value.
    pub const fn raw(self) -> u32 {
        match self {
            OptionId::RlimitMode => IOMMU_OPTION_RLIMIT_MODE,
            OptionId::HugePages => IOMMU_OPTION_HUGE_PAGES,
        }
    }
}

/// `enum iommufd_option_ops`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum OptionOp {
    /// `IOMMU_OPTION_OP_SET`.
    Set,
    /// `IOMMU_OPTION_OP_GET`.
    Get,
}

impl OptionOp {
    /// The op for a raw value, if it is one.
    pub const fn from_raw(op: u16) -> Option<OptionOp> {
        match op {
            IOMMU_OPTION_OP_SET => Some(OptionOp::Set),
            IOMMU_OPTION_OP_GET => Some(OptionOp::Get),
            _ => None,
        }
    }
}

/// `struct iommu_option`: get or set an option.
///
/// Checks of `decode`, in the order of C `iommufd_option()`:
///
/// 1. `__reserved != 0`: `EOPNOTSUPP`;
/// 2. `option_id` neither `RLIMIT_MODE` nor `HUGE_PAGES`: `EOPNOTSUPP` (the `switch`);
/// 3. for `RLIMIT_MODE` (C `iommufd_option_rlimit_mode()`), which looks up no object:
///    `object_id != 0`: `EOPNOTSUPP`; `op` neither `GET` nor `SET`: `EOPNOTSUPP`.
///
/// Left to the shell, in this order:
///
/// - `RLIMIT_MODE` + `SET` (still `iommufd_option_rlimit_mode()`): `!capable(CAP_SYS_RESOURCE)`:
///   `EPERM`; objects already exist: `EBUSY`; then [`IommuOption::set_value`] (`EINVAL` unless
///   `val64` is 0 or 1);
/// - `HUGE_PAGES` (C `iommufd_ioas_option()`): the IOAS lookup of `object_id` (`ENOENT`),
///   then, in `iommufd_ioas_option_huge_pages()`, [`IommuOption::op_kind`] (`EOPNOTSUPP`) and
///   for `SET` [`IommuOption::set_value`] (`EINVAL`).
///
/// The response is not `iommufd_ucmd_respond()`: only `val64` is copied back, to its place in
/// the user struct, whatever the user's size (the `copy_to_user()` at the end of
/// `iommufd_option()`); see [`IommuOption::RESPONSE_RANGE`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct IommuOption {
    /// The option.
    pub option_id: OptionId,
    /// The raw `enum iommufd_option_ops` value; checked by `decode` for `RLIMIT_MODE` only.
    pub op: u16,
    /// The object the option applies to (an IOAS for `HUGE_PAGES`, 0 for `RLIMIT_MODE`).
    pub object_id: u32,
    /// The value to set, or (after a `GET`) the value read.
    pub val64: u64,
}

impl IommuOption {
    /// `option_id`.
    pub const OPTION_ID: Field<4> = Field::new("option_id", 4);
    /// `op`.
    pub const OP: Field<2> = Field::new("op", 8);
    /// `__reserved`.
    pub const RESERVED: Field<2> = Field::new("__reserved", 10);
    /// `object_id`.
    pub const OBJECT_ID: Field<4> = Field::new("object_id", 12);
    /// `val64`.
    pub const VAL64: Field<8> = Field::new("val64", 16);
    /// The struct's layout.
    pub const LAYOUT: Layout = Layout {
        c_struct: "iommu_option",
        size: 24,
        fields: &[
            SIZE_FIELD.desc(),
            Self::OPTION_ID.desc(),
            Self::OP.desc(),
            Self::RESERVED.desc(),
            Self::OBJECT_ID.desc(),
            Self::VAL64.desc(),
        ],
    };
    /// The bytes of the buffer that go back to the user on success: `val64` only
    /// (C `iommufd_option()`), at the same offset in the user struct.
    pub const RESPONSE_RANGE: core::ops::Range<usize> = 16..24;

    /// Decodes and checks the command (see the type's documentation).
    pub fn decode(buf: &[u8]) -> Result<Self> {
        // First check of C `iommufd_option()`.
        if !Self::RESERVED.is_zero(buf) {
            return Err(Errno::EOPNOTSUPP);
        }
        let op = Self::OP.get_u16(buf);
        let object_id = Self::OBJECT_ID.get_u32(buf);
        // The `switch` of C `iommufd_option()`.
        let option_id = match Self::OPTION_ID.get_u32(buf) {
            IOMMU_OPTION_RLIMIT_MODE => {
                // First check of C `iommufd_option_rlimit_mode()`.
                if object_id != 0 {
                    return Err(Errno::EOPNOTSUPP);
                }
                // The `op` tests of C `iommufd_option_rlimit_mode()`.
                if OptionOp::from_raw(op).is_none() {
                    return Err(Errno::EOPNOTSUPP);
                }
                OptionId::RlimitMode
            }
            IOMMU_OPTION_HUGE_PAGES => OptionId::HugePages,
            _ => return Err(Errno::EOPNOTSUPP),
        };
        Ok(Self {
            option_id,
            op,
            object_id,
            val64: Self::VAL64.get_u64(buf),
        })
    }

    /// The op; `EOPNOTSUPP` if it is neither `GET` nor `SET`. For `HUGE_PAGES` this check comes
    /// after the IOAS lookup (C `iommufd_ioas_option_huge_pages()`); for `RLIMIT_MODE`
    /// `decode` already made it.
    pub fn op_kind(&self) -> Result<OptionOp> {
        OptionOp::from_raw(self.op).ok_or(Errno::EOPNOTSUPP)
    }

    /// The boolean a `SET` stores: `val64` 0 or 1, else `EINVAL` (C
    /// `iommufd_option_rlimit_mode()` for `RLIMIT_MODE`, after the `EPERM` and `EBUSY` checks;
    /// C `iommufd_ioas_option_huge_pages()` for `HUGE_PAGES`).
    pub fn set_value(&self) -> Result<bool> {
        match self.val64 {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(Errno::EINVAL),
        }
    }

    /// Writes every input field, and `size`.
    pub fn encode(&self, buf: &mut [u8]) {
        SIZE_FIELD.put_u32(buf, Self::LAYOUT.size as u32);
        Self::OPTION_ID.put_u32(buf, self.option_id.raw());
        Self::OP.put_u16(buf, self.op);
        Self::RESERVED.put_u16(buf, 0);
        Self::OBJECT_ID.put_u32(buf, self.object_id);
        Self::VAL64.put_u64(buf, self.val64);
    }

    /// Writes `val64` (set by a `GET`, C `iommufd_option_rlimit_mode()` and
    /// `iommufd_ioas_option_huge_pages()`), the only field copied back.
    pub fn encode_response(&self, buf: &mut [u8]) {
        Self::VAL64.put_u64(buf, self.val64);
    }
}

impl_ucmd!(IommuOption, Cmd::Option);

#[cfg(test)]
mod tests {
    use super::*;

    fn opt(option_id: u32, op: u16, reserved: u16, object_id: u32, val64: u64) -> [u8; 24] {
        let mut b = [0u8; 24];
        IommuOption::OPTION_ID.put_u32(&mut b, option_id);
        IommuOption::OP.put_u16(&mut b, op);
        IommuOption::RESERVED.put_u16(&mut b, reserved);
        IommuOption::OBJECT_ID.put_u32(&mut b, object_id);
        IommuOption::VAL64.put_u64(&mut b, val64);
        b
    }

    #[test]
    fn destroy_never_fails() {
        let mut b = [0xffu8; 8];
        assert_eq!(Destroy::decode(&b), Ok(Destroy { id: u32::MAX }));
        Destroy { id: 7 }.encode(&mut b);
        assert_eq!(Destroy::decode(&b), Ok(Destroy { id: 7 }));
        assert_eq!(Destroy::decode(&[]), Ok(Destroy { id: 0 }));
    }

    #[test]
    fn option_errnos() {
        // The `__reserved` check of C `iommufd_option()` comes first, even with a bad
        // option_id.
        assert_eq!(
            IommuOption::decode(&opt(9, 0, 1, 0, 0)),
            Err(Errno::EOPNOTSUPP)
        );
        assert_eq!(
            IommuOption::decode(&opt(2, 0, 0, 0, 0)),
            Err(Errno::EOPNOTSUPP)
        );
        // RLIMIT_MODE: object_id must be 0, op GET or SET.
        assert_eq!(
            IommuOption::decode(&opt(0, 0, 0, 1, 0)),
            Err(Errno::EOPNOTSUPP)
        );
        assert_eq!(
            IommuOption::decode(&opt(0, 2, 0, 0, 0)),
            Err(Errno::EOPNOTSUPP)
        );
        // The value is checked later (after EPERM/EBUSY), not by decode.
        let set = IommuOption::decode(&opt(0, 0, 0, 0, 5)).unwrap();
        assert_eq!(set.op_kind(), Ok(OptionOp::Set));
        assert_eq!(set.set_value(), Err(Errno::EINVAL));
        let get = IommuOption::decode(&opt(0, 1, 0, 0, 0)).unwrap();
        assert_eq!(get.op_kind(), Ok(OptionOp::Get));
        // HUGE_PAGES: op and val checked after the IOAS lookup.
        let hp = IommuOption::decode(&opt(1, 7, 0, 3, 9)).unwrap();
        assert_eq!(hp.option_id, OptionId::HugePages);
        assert_eq!(hp.object_id, 3);
        assert_eq!(hp.op_kind(), Err(Errno::EOPNOTSUPP));
        assert_eq!(hp.set_value(), Err(Errno::EINVAL));
        let hp1 = IommuOption::decode(&opt(1, 0, 0, 3, 1)).unwrap();
        assert_eq!(hp1.set_value(), Ok(true));
    }

    #[test]
    fn option_response_is_val64_only() {
        let mut b = opt(0, 1, 0, 0, 0);
        let mut o = IommuOption::decode(&b).unwrap();
        o.val64 = 1;
        o.encode_response(&mut b);
        assert_eq!(IommuOption::VAL64.get_u64(&b), 1);
        assert_eq!(&b[IommuOption::RESPONSE_RANGE], &1u64.to_ne_bytes()[..]);
    }
}
