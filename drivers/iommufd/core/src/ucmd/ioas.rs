// SPDX-License-Identifier: GPL-2.0

//! The IOAS commands: `IOMMU_IOAS_ALLOC`, `IOMMU_IOAS_ALLOW_IOVAS`, `IOMMU_IOAS_COPY`,
//! `IOMMU_IOAS_IOVA_RANGES`, `IOMMU_IOAS_MAP` and `IOMMU_IOAS_UNMAP`
//! (`drivers/iommu/iommufd/ioas.c`), and `struct iommu_iova_range`.

use super::super::errno::{Errno, Result};
use super::super::uapi::Cmd;
use super::test_cmd::MOCK_FLAGS_ACCESS_SYZ;
use super::{ge_ulong_max, impl_ucmd, Field, Layout, SIZE_FIELD};

/// `IOMMU_IOAS_MAP_FIXED_IOVA`: map at the given IOVA instead of allocating one.
pub const IOMMU_IOAS_MAP_FIXED_IOVA: u32 = 1 << 0;
/// `IOMMU_IOAS_MAP_WRITEABLE`: DMA may write.
pub const IOMMU_IOAS_MAP_WRITEABLE: u32 = 1 << 1;
/// `IOMMU_IOAS_MAP_READABLE`: DMA may read.
pub const IOMMU_IOAS_MAP_READABLE: u32 = 1 << 2;
/// Every `enum iommufd_ioas_map_flags` bit.
pub const IOMMU_IOAS_MAP_VALID_FLAGS: u32 =
    IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE;

/// `struct iommu_ioas_alloc`: allocate an IOAS.
///
/// `decode`: `flags != 0`: `EOPNOTSUPP` (the first check of C `iommufd_ioas_alloc_ioctl()`).
/// The handler then allocates the object and responds with its id.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct IoasAlloc {
    /// Output: the new IOAS's id.
    pub out_ioas_id: u32,
}

impl IoasAlloc {
    /// `flags`.
    pub const FLAGS: Field<4> = Field::new("flags", 4);
    /// `out_ioas_id`.
    pub const OUT_IOAS_ID: Field<4> = Field::new("out_ioas_id", 8);
    /// The struct's layout.
    pub const LAYOUT: Layout = Layout {
        c_struct: "iommu_ioas_alloc",
        size: 12,
        fields: &[
            SIZE_FIELD.desc(),
            Self::FLAGS.desc(),
            Self::OUT_IOAS_ID.desc(),
        ],
    };

    /// Decodes and checks the command (see the type's documentation).
    pub fn decode(buf: &[u8]) -> Result<Self> {
        // First check of C `iommufd_ioas_alloc_ioctl()`.
        if Self::FLAGS.get_u32(buf) != 0 {
            return Err(Errno::EOPNOTSUPP);
        }
        Ok(Self { out_ioas_id: 0 })
    }

    /// Writes `size` and `flags` (0).
    pub fn encode(&self, buf: &mut [u8]) {
        SIZE_FIELD.put_u32(buf, Self::LAYOUT.size as u32);
        Self::FLAGS.put_u32(buf, 0);
    }

    /// Writes `out_ioas_id` (C `iommufd_ioas_alloc_ioctl()`).
    pub fn encode_response(&self, buf: &mut [u8]) {
        Self::OUT_IOAS_ID.put_u32(buf, self.out_ioas_id);
    }
}

impl_ucmd!(IoasAlloc, Cmd::IoasAlloc);

/// `struct iommu_iova_range`: an inclusive IOVA interval, the element of the user arrays of
/// `IOMMU_IOAS_IOVA_RANGES` and `IOMMU_IOAS_ALLOW_IOVAS`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct IovaRange {
    /// First IOVA.
    pub start: u64,
    /// Inclusive last IOVA.
    pub last: u64,
}

impl IovaRange {
    /// `start`.
    pub const START: Field<8> = Field::new("start", 0);
    /// `last`.
    pub const LAST: Field<8> = Field::new("last", 8);
    /// `sizeof(struct iommu_iova_range)`.
    pub const SIZE: usize = 16;
    /// The struct's layout.
    pub const LAYOUT: Layout = Layout {
        c_struct: "iommu_iova_range",
        size: Self::SIZE,
        fields: &[Self::START.desc(), Self::LAST.desc()],
    };

    /// Reads one element (as copied from the user array).
    pub fn from_bytes(b: &[u8; Self::SIZE]) -> Self {
        Self {
            start: Self::START.get_u64(b),
            last: Self::LAST.get_u64(b),
        }
    }

    /// The element's bytes (as copied to the user array by C `iommufd_ioas_iova_ranges()`).
    pub fn to_bytes(self) -> [u8; Self::SIZE] {
        let mut b = [0u8; Self::SIZE];
        Self::START.put_u64(&mut b, self.start);
        Self::LAST.put_u64(&mut b, self.last);
        b
    }

    /// The check `IOMMU_IOAS_ALLOW_IOVAS` makes on each element it loads, after the IOAS
    /// lookup: `start >= last`: `EINVAL` (C `iommufd_ioas_load_iovas()`). (The overlap check
    /// that follows there, also `EINVAL`, needs the tree being built.)
    pub fn check_allowed(&self) -> Result {
        if self.start >= self.last {
            return Err(Errno::EINVAL);
        }
        Ok(())
    }
}

/// `struct iommu_ioas_iova_ranges`: read the allowed IOVA ranges of an IOAS.
///
/// `decode`: `__reserved != 0`: `EOPNOTSUPP` (the first check of C
/// `iommufd_ioas_iova_ranges()`). Then the IOAS lookup (`ENOENT`). The response carries
/// `num_iovas` (the total count) and `out_iova_alignment`; only after responding does the
/// handler return `EMSGSIZE` if the count exceeds the input `num_iovas`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct IoasIovaRanges {
    /// The IOAS.
    pub ioas_id: u32,
    /// Input: capacity of the user array; output: the number of ranges.
    pub num_iovas: u32,
    /// User pointer to the `struct iommu_iova_range` array.
    pub allowed_iovas: u64,
    /// Output: the IOVA alignment MAP and COPY require.
    pub out_iova_alignment: u64,
}

impl IoasIovaRanges {
    /// `ioas_id`.
    pub const IOAS_ID: Field<4> = Field::new("ioas_id", 4);
    /// `num_iovas`.
    pub const NUM_IOVAS: Field<4> = Field::new("num_iovas", 8);
    /// `__reserved`.
    pub const RESERVED: Field<4> = Field::new("__reserved", 12);
    /// `allowed_iovas`.
    pub const ALLOWED_IOVAS: Field<8> = Field::new("allowed_iovas", 16);
    /// `out_iova_alignment`.
    pub const OUT_IOVA_ALIGNMENT: Field<8> = Field::new("out_iova_alignment", 24);
    /// The struct's layout.
    pub const LAYOUT: Layout = Layout {
        c_struct: "iommu_ioas_iova_ranges",
        size: 32,
        fields: &[
            SIZE_FIELD.desc(),
            Self::IOAS_ID.desc(),
            Self::NUM_IOVAS.desc(),
            Self::RESERVED.desc(),
            Self::ALLOWED_IOVAS.desc(),
            Self::OUT_IOVA_ALIGNMENT.desc(),
        ],
    };

    /// Decodes and checks the command (see the type's documentation).
    pub fn decode(buf: &[u8]) -> Result<Self> {
        // First check of C `iommufd_ioas_iova_ranges()`.
        if !Self::RESERVED.is_zero(buf) {
            return Err(Errno::EOPNOTSUPP);
        }
        Ok(Self {
            ioas_id: Self::IOAS_ID.get_u32(buf),
            num_iovas: Self::NUM_IOVAS.get_u32(buf),
            allowed_iovas: Self::ALLOWED_IOVAS.get_u64(buf),
            out_iova_alignment: 0,
        })
    }

    /// Writes every input field, and `size`.
    pub fn encode(&self, buf: &mut [u8]) {
        SIZE_FIELD.put_u32(buf, Self::LAYOUT.size as u32);
        Self::IOAS_ID.put_u32(buf, self.ioas_id);
        Self::NUM_IOVAS.put_u32(buf, self.num_iovas);
        Self::RESERVED.put_u32(buf, 0);
        Self::ALLOWED_IOVAS.put_u64(buf, self.allowed_iovas);
    }

    /// Writes `num_iovas` and `out_iova_alignment` (C `iommufd_ioas_iova_ranges()`).
    pub fn encode_response(&self, buf: &mut [u8]) {
        Self::NUM_IOVAS.put_u32(buf, self.num_iovas);
        Self::OUT_IOVA_ALIGNMENT.put_u64(buf, self.out_iova_alignment);
    }
}

impl_ucmd!(IoasIovaRanges, Cmd::IoasIovaRanges);

/// `struct iommu_ioas_allow_iovas`: replace the allowed IOVA ranges of an IOAS.
///
/// `decode`: `__reserved != 0`: `EOPNOTSUPP` (the first check of C
/// `iommufd_ioas_allow_iovas()`). Then the IOAS lookup, then each of the `num_iovas` elements
/// is copied (`EFAULT`) and checked ([`IovaRange::check_allowed`], C
/// `iommufd_ioas_load_iovas()`). No response.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct IoasAllowIovas {
    /// The IOAS.
    pub ioas_id: u32,
    /// Number of elements of the user array.
    pub num_iovas: u32,
    /// User pointer to the `struct iommu_iova_range` array.
    pub allowed_iovas: u64,
}

impl IoasAllowIovas {
    /// `ioas_id`.
    pub const IOAS_ID: Field<4> = Field::new("ioas_id", 4);
    /// `num_iovas`.
    pub const NUM_IOVAS: Field<4> = Field::new("num_iovas", 8);
    /// `__reserved`.
    pub const RESERVED: Field<4> = Field::new("__reserved", 12);
    /// `allowed_iovas`.
    pub const ALLOWED_IOVAS: Field<8> = Field::new("allowed_iovas", 16);
    /// The struct's layout.
    pub const LAYOUT: Layout = Layout {
        c_struct: "iommu_ioas_allow_iovas",
        size: 24,
        fields: &[
            SIZE_FIELD.desc(),
            Self::IOAS_ID.desc(),
            Self::NUM_IOVAS.desc(),
            Self::RESERVED.desc(),
            Self::ALLOWED_IOVAS.desc(),
        ],
    };

    /// Decodes and checks the command (see the type's documentation).
    pub fn decode(buf: &[u8]) -> Result<Self> {
        // First check of C `iommufd_ioas_allow_iovas()`.
        if !Self::RESERVED.is_zero(buf) {
            return Err(Errno::EOPNOTSUPP);
        }
        Ok(Self {
            ioas_id: Self::IOAS_ID.get_u32(buf),
            num_iovas: Self::NUM_IOVAS.get_u32(buf),
            allowed_iovas: Self::ALLOWED_IOVAS.get_u64(buf),
        })
    }

    /// Writes every input field, and `size`.
    pub fn encode(&self, buf: &mut [u8]) {
        SIZE_FIELD.put_u32(buf, Self::LAYOUT.size as u32);
        Self::IOAS_ID.put_u32(buf, self.ioas_id);
        Self::NUM_IOVAS.put_u32(buf, self.num_iovas);
        Self::RESERVED.put_u32(buf, 0);
        Self::ALLOWED_IOVAS.put_u64(buf, self.allowed_iovas);
    }

    /// `IOMMU_IOAS_ALLOW_IOVAS` has no response: writes nothing.
    pub fn encode_response(&self, _buf: &mut [u8]) {}
}

impl_ucmd!(IoasAllowIovas, Cmd::IoasAllowIovas);

/// `struct iommu_ioas_map`: map user memory into an IOAS.
///
/// `decode`, in the order of C `iommufd_ioas_map()`:
///
/// 1. a flag outside `enum iommufd_ioas_map_flags`, or `__reserved != 0`: `EOPNOTSUPP`;
/// 2. `iova >= ULONG_MAX` or `length >= ULONG_MAX`: `EOVERFLOW`;
/// 3. neither `WRITEABLE` nor `READABLE`: `EINVAL`.
///
/// Then the IOAS lookup (`ENOENT`) and `iopt_map_user_pages()`. The response carries the IOVA
/// the mapping was placed at.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct IoasMap {
    /// `enum iommufd_ioas_map_flags`.
    pub flags: u32,
    /// The IOAS.
    pub ioas_id: u32,
    /// The user address to map from.
    pub user_va: u64,
    /// Bytes to map.
    pub length: u64,
    /// Input (with `FIXED_IOVA`): where to map; output: where it was mapped.
    pub iova: u64,
}

impl IoasMap {
    /// `flags`.
    pub const FLAGS: Field<4> = Field::new("flags", 4);
    /// `ioas_id`.
    pub const IOAS_ID: Field<4> = Field::new("ioas_id", 8);
    /// `__reserved`.
    pub const RESERVED: Field<4> = Field::new("__reserved", 12);
    /// `user_va`.
    pub const USER_VA: Field<8> = Field::new("user_va", 16);
    /// `length`.
    pub const LENGTH: Field<8> = Field::new("length", 24);
    /// `iova`.
    pub const IOVA: Field<8> = Field::new("iova", 32);
    /// The struct's layout.
    pub const LAYOUT: Layout = Layout {
        c_struct: "iommu_ioas_map",
        size: 40,
        fields: &[
            SIZE_FIELD.desc(),
            Self::FLAGS.desc(),
            Self::IOAS_ID.desc(),
            Self::RESERVED.desc(),
            Self::USER_VA.desc(),
            Self::LENGTH.desc(),
            Self::IOVA.desc(),
        ],
    };

    /// Decodes and checks the command (see the type's documentation).
    pub fn decode(buf: &[u8]) -> Result<Self> {
        let flags = Self::FLAGS.get_u32(buf);
        // First check of C `iommufd_ioas_map()`.
        if flags & !IOMMU_IOAS_MAP_VALID_FLAGS != 0 || !Self::RESERVED.is_zero(buf) {
            return Err(Errno::EOPNOTSUPP);
        }
        let iova = Self::IOVA.get_u64(buf);
        let length = Self::LENGTH.get_u64(buf);
        // Second check of C `iommufd_ioas_map()`.
        if ge_ulong_max(iova) || ge_ulong_max(length) {
            return Err(Errno::EOVERFLOW);
        }
        // Third check of C `iommufd_ioas_map()`.
        if flags & (IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE) == 0 {
            return Err(Errno::EINVAL);
        }
        Ok(Self {
            flags,
            ioas_id: Self::IOAS_ID.get_u32(buf),
            user_va: Self::USER_VA.get_u64(buf),
            length,
            iova,
        })
    }

    /// Whether the IOVA is given (`FIXED_IOVA`) rather than allocated (C `iommufd_ioas_map()`).
    pub fn fixed_iova(&self) -> bool {
        self.flags & IOMMU_IOAS_MAP_FIXED_IOVA != 0
    }

    /// Writes every input field, and `size`.
    pub fn encode(&self, buf: &mut [u8]) {
        SIZE_FIELD.put_u32(buf, Self::LAYOUT.size as u32);
        Self::FLAGS.put_u32(buf, self.flags);
        Self::IOAS_ID.put_u32(buf, self.ioas_id);
        Self::RESERVED.put_u32(buf, 0);
        Self::USER_VA.put_u64(buf, self.user_va);
        Self::LENGTH.put_u64(buf, self.length);
        Self::IOVA.put_u64(buf, self.iova);
    }

    /// Writes `iova` (C `iommufd_ioas_map()`).
    pub fn encode_response(&self, buf: &mut [u8]) {
        Self::IOVA.put_u64(buf, self.iova);
    }
}

impl_ucmd!(IoasMap, Cmd::IoasMap);

/// `struct iommu_ioas_copy`: map pages already mapped in one IOAS into another.
///
/// `decode`, in the order of C `iommufd_ioas_copy()`:
///
/// 0. only with the mock (`CONFIG_IOMMUFD_TEST`, [`IoasCopy::decode_mock`]): the call of C
///    `iommufd_test_syz_conv_iova_id()` (`selftest.c`): if `flags` has
///    `MOCK_FLAGS_ACCESS_SYZ` the bit is cleared and `src_iova` converted, which looks up
///    `src_ioas_id` (a failed lookup leaves `src_iova` as it is, without an error);
/// 1. a flag outside `enum iommufd_ioas_map_flags`: `EOPNOTSUPP`;
/// 2. `length`, `src_iova` or `dst_iova` `>= ULONG_MAX`: `EOVERFLOW`;
/// 3. neither `WRITEABLE` nor `READABLE`: `EINVAL`.
///
/// Then the source IOAS lookup. The response is the whole struct, with `dst_iova` set, and
/// `flags`/`src_iova` as step 0 left them.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct IoasCopy {
    /// `enum iommufd_ioas_map_flags`.
    pub flags: u32,
    /// The IOAS to map into.
    pub dst_ioas_id: u32,
    /// The IOAS to copy from.
    pub src_ioas_id: u32,
    /// Bytes to copy.
    pub length: u64,
    /// Input (with `FIXED_IOVA`): where to map; output: where it was mapped.
    pub dst_iova: u64,
    /// Where the source mapping starts.
    pub src_iova: u64,
}

impl IoasCopy {
    /// `flags`.
    pub const FLAGS: Field<4> = Field::new("flags", 4);
    /// `dst_ioas_id`.
    pub const DST_IOAS_ID: Field<4> = Field::new("dst_ioas_id", 8);
    /// `src_ioas_id`.
    pub const SRC_IOAS_ID: Field<4> = Field::new("src_ioas_id", 12);
    /// `length`.
    pub const LENGTH: Field<8> = Field::new("length", 16);
    /// `dst_iova`.
    pub const DST_IOVA: Field<8> = Field::new("dst_iova", 24);
    /// `src_iova`.
    pub const SRC_IOVA: Field<8> = Field::new("src_iova", 32);
    /// The struct's layout.
    pub const LAYOUT: Layout = Layout {
        c_struct: "iommu_ioas_copy",
        size: 40,
        fields: &[
            SIZE_FIELD.desc(),
            Self::FLAGS.desc(),
            Self::DST_IOAS_ID.desc(),
            Self::SRC_IOAS_ID.desc(),
            Self::LENGTH.desc(),
            Self::DST_IOVA.desc(),
            Self::SRC_IOVA.desc(),
        ],
    };

    fn raw(buf: &[u8]) -> Self {
        Self {
            flags: Self::FLAGS.get_u32(buf),
            dst_ioas_id: Self::DST_IOAS_ID.get_u32(buf),
            src_ioas_id: Self::SRC_IOAS_ID.get_u32(buf),
            length: Self::LENGTH.get_u64(buf),
            dst_iova: Self::DST_IOVA.get_u64(buf),
            src_iova: Self::SRC_IOVA.get_u64(buf),
        }
    }

    fn check(self) -> Result<Self> {
        // First check of C `iommufd_ioas_copy()` (after the syzkaller conversion).
        if self.flags & !IOMMU_IOAS_MAP_VALID_FLAGS != 0 {
            return Err(Errno::EOPNOTSUPP);
        }
        // Second check of C `iommufd_ioas_copy()`.
        if ge_ulong_max(self.length) || ge_ulong_max(self.src_iova) || ge_ulong_max(self.dst_iova) {
            return Err(Errno::EOVERFLOW);
        }
        // Third check of C `iommufd_ioas_copy()`.
        if self.flags & (IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE) == 0 {
            return Err(Errno::EINVAL);
        }
        Ok(self)
    }

    /// Decodes and checks the command as a kernel without the mock does (steps 1-3 of the
    /// type's documentation; `MOCK_FLAGS_ACCESS_SYZ` is then an unknown flag).
    pub fn decode(buf: &[u8]) -> Result<Self> {
        Self::raw(buf).check()
    }

    /// Decodes and checks the command as a kernel with the mock does (steps 0-3):
    /// `syz_conv(src_ioas_id, src_iova)` is called if `flags` has `MOCK_FLAGS_ACCESS_SYZ` and
    /// must return the new `src_iova`: `src_iova` itself if `src_ioas_id` is not an IOAS,
    /// else the IOVA of its `nth_area`-th area plus `offset`, or 0 if there is no such area,
    /// `(nth_area, offset)` being [`super::test_cmd::syz_layout`]`(src_iova)`
    /// (C `__iommufd_test_syz_conv_iova()` and `iommufd_test_syz_conv_iova_id()`). The bit is
    /// cleared before the checks, as C does.
    pub fn decode_mock(buf: &[u8], syz_conv: impl FnOnce(u32, u64) -> u64) -> Result<Self> {
        let mut c = Self::raw(buf);
        // C `iommufd_test_syz_conv_iova_id()`
        if c.flags & MOCK_FLAGS_ACCESS_SYZ != 0 {
            c.flags &= !MOCK_FLAGS_ACCESS_SYZ;
            c.src_iova = syz_conv(c.src_ioas_id, c.src_iova);
        }
        c.check()
    }

    /// Whether the IOVA is given (`FIXED_IOVA`) rather than allocated (C `iommufd_ioas_copy()`).
    pub fn fixed_iova(&self) -> bool {
        self.flags & IOMMU_IOAS_MAP_FIXED_IOVA != 0
    }

    /// Writes every input field, and `size`.
    pub fn encode(&self, buf: &mut [u8]) {
        SIZE_FIELD.put_u32(buf, Self::LAYOUT.size as u32);
        Self::FLAGS.put_u32(buf, self.flags);
        Self::DST_IOAS_ID.put_u32(buf, self.dst_ioas_id);
        Self::SRC_IOAS_ID.put_u32(buf, self.src_ioas_id);
        Self::LENGTH.put_u64(buf, self.length);
        Self::DST_IOVA.put_u64(buf, self.dst_iova);
        Self::SRC_IOVA.put_u64(buf, self.src_iova);
    }

    /// Writes `dst_iova` (C `iommufd_ioas_copy()`), and `flags` and `src_iova`, which the syzkaller
    /// conversion may have changed in C's buffer before it is copied back.
    pub fn encode_response(&self, buf: &mut [u8]) {
        Self::FLAGS.put_u32(buf, self.flags);
        Self::SRC_IOVA.put_u64(buf, self.src_iova);
        Self::DST_IOVA.put_u64(buf, self.dst_iova);
    }
}

impl_ucmd!(IoasCopy, Cmd::IoasCopy);

/// What an `IOMMU_IOAS_UNMAP` asks for, once checked ([`IoasUnmap::range`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum UnmapRange {
    /// `iova == 0 && length == U64_MAX`: everything (`iopt_unmap_all()`, C
    /// `iommufd_ioas_unmap()`).
    All,
    /// An IOVA range (`iopt_unmap_iova()`, C `iommufd_ioas_unmap()`).
    Range {
        /// First IOVA.
        iova: u64,
        /// Bytes.
        length: u64,
    },
}

/// `struct iommu_ioas_unmap`: unmap an IOVA range.
///
/// C `iommufd_ioas_unmap()` checks nothing before the IOAS lookup: `decode` cannot fail.
/// After it, [`IoasUnmap::range`] (`EOVERFLOW`), then `ENOENT` if nothing was unmapped. The
/// response carries the number of bytes unmapped in `length`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct IoasUnmap {
    /// The IOAS.
    pub ioas_id: u32,
    /// First IOVA to unmap.
    pub iova: u64,
    /// Input: bytes to unmap; output: bytes unmapped.
    pub length: u64,
}

impl IoasUnmap {
    /// `ioas_id`.
    pub const IOAS_ID: Field<4> = Field::new("ioas_id", 4);
    /// `iova`.
    pub const IOVA: Field<8> = Field::new("iova", 8);
    /// `length`.
    pub const LENGTH: Field<8> = Field::new("length", 16);
    /// The struct's layout.
    pub const LAYOUT: Layout = Layout {
        c_struct: "iommu_ioas_unmap",
        size: 24,
        fields: &[
            SIZE_FIELD.desc(),
            Self::IOAS_ID.desc(),
            Self::IOVA.desc(),
            Self::LENGTH.desc(),
        ],
    };

    /// Decodes the command; it cannot fail (see the type's documentation).
    pub fn decode(buf: &[u8]) -> Result<Self> {
        Ok(Self {
            ioas_id: Self::IOAS_ID.get_u32(buf),
            iova: Self::IOVA.get_u64(buf),
            length: Self::LENGTH.get_u64(buf),
        })
    }

    /// The range to unmap, checked as C `iommufd_ioas_unmap()` does after the IOAS lookup: all
    /// for `0, U64_MAX`, else `EOVERFLOW` if `iova` or `length` is `>= ULONG_MAX`.
    pub fn range(&self) -> Result<UnmapRange> {
        if self.iova == 0 && self.length == u64::MAX {
            return Ok(UnmapRange::All);
        }
        if ge_ulong_max(self.iova) || ge_ulong_max(self.length) {
            return Err(Errno::EOVERFLOW);
        }
        Ok(UnmapRange::Range {
            iova: self.iova,
            length: self.length,
        })
    }

    /// Writes every input field, and `size`.
    pub fn encode(&self, buf: &mut [u8]) {
        SIZE_FIELD.put_u32(buf, Self::LAYOUT.size as u32);
        Self::IOAS_ID.put_u32(buf, self.ioas_id);
        Self::IOVA.put_u64(buf, self.iova);
        Self::LENGTH.put_u64(buf, self.length);
    }

    /// Writes `length`, the bytes unmapped (C `iommufd_ioas_unmap()`).
    pub fn encode_response(&self, buf: &mut [u8]) {
        Self::LENGTH.put_u64(buf, self.length);
    }
}

impl_ucmd!(IoasUnmap, Cmd::IoasUnmap);

#[cfg(test)]
mod tests {
    use super::*;

    fn map(flags: u32, reserved: u32, length: u64, iova: u64) -> [u8; 40] {
        let mut b = [0u8; 40];
        IoasMap::FLAGS.put_u32(&mut b, flags);
        IoasMap::IOAS_ID.put_u32(&mut b, 3);
        IoasMap::RESERVED.put_u32(&mut b, reserved);
        IoasMap::USER_VA.put_u64(&mut b, 0x1000);
        IoasMap::LENGTH.put_u64(&mut b, length);
        IoasMap::IOVA.put_u64(&mut b, iova);
        b
    }

    fn copy(flags: u32, length: u64, dst_iova: u64, src_iova: u64) -> [u8; 40] {
        let mut b = [0u8; 40];
        IoasCopy::FLAGS.put_u32(&mut b, flags);
        IoasCopy::DST_IOAS_ID.put_u32(&mut b, 1);
        IoasCopy::SRC_IOAS_ID.put_u32(&mut b, 2);
        IoasCopy::LENGTH.put_u64(&mut b, length);
        IoasCopy::DST_IOVA.put_u64(&mut b, dst_iova);
        IoasCopy::SRC_IOVA.put_u64(&mut b, src_iova);
        b
    }

    const RW: u32 = IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE;

    #[test]
    fn ioas_alloc_errnos() {
        let mut b = [0u8; 12];
        IoasAlloc::OUT_IOAS_ID.put_u32(&mut b, 55);
        assert_eq!(IoasAlloc::decode(&b), Ok(IoasAlloc { out_ioas_id: 0 }));
        IoasAlloc::FLAGS.put_u32(&mut b, 1 << 31);
        assert_eq!(IoasAlloc::decode(&b), Err(Errno::EOPNOTSUPP));
        let mut out = [0u8; 12];
        IoasAlloc { out_ioas_id: 9 }.encode_response(&mut out);
        assert_eq!(IoasAlloc::OUT_IOAS_ID.get_u32(&out), 9);
    }

    #[test]
    fn map_errnos_in_c_order() {
        assert!(IoasMap::decode(&map(RW, 0, 4096, 0)).is_ok());
        assert!(IoasMap::decode(&map(IOMMU_IOAS_MAP_READABLE, 0, 0, 0)).is_ok());
        // Unknown flag and reserved: EOPNOTSUPP, before the overflow check.
        assert_eq!(
            IoasMap::decode(&map(RW | 8, 0, u64::MAX, 0)),
            Err(Errno::EOPNOTSUPP)
        );
        assert_eq!(
            IoasMap::decode(&map(RW, 1, u64::MAX, 0)),
            Err(Errno::EOPNOTSUPP)
        );
        // Overflow before the missing R/W check.
        assert_eq!(
            IoasMap::decode(&map(0, 0, u64::MAX, 0)),
            Err(Errno::EOVERFLOW)
        );
        assert_eq!(
            IoasMap::decode(&map(RW, 0, 1, u64::MAX)),
            Err(Errno::EOVERFLOW)
        );
        assert!(IoasMap::decode(&map(RW, 0, u64::MAX - 1, u64::MAX - 1)).is_ok());
        assert_eq!(
            IoasMap::decode(&map(IOMMU_IOAS_MAP_FIXED_IOVA, 0, 1, 0)),
            Err(Errno::EINVAL)
        );
        let m = IoasMap::decode(&map(RW | IOMMU_IOAS_MAP_FIXED_IOVA, 0, 8192, 4096)).unwrap();
        assert!(m.fixed_iova());
        assert_eq!(
            (m.ioas_id, m.user_va, m.length, m.iova),
            (3, 0x1000, 8192, 4096)
        );
    }

    #[test]
    fn map_response_writes_iova() {
        let mut b = map(RW, 0, 4096, 0);
        let mut m = IoasMap::decode(&b).unwrap();
        m.iova = 0x10000;
        m.encode_response(&mut b);
        assert_eq!(IoasMap::IOVA.get_u64(&b), 0x10000);
        assert_eq!(IoasMap::LENGTH.get_u64(&b), 4096);
    }

    #[test]
    fn copy_errnos_in_c_order() {
        assert!(IoasCopy::decode(&copy(RW, 4096, 0, 0)).is_ok());
        assert_eq!(
            IoasCopy::decode(&copy(RW | 16, u64::MAX, 0, 0)),
            Err(Errno::EOPNOTSUPP)
        );
        assert_eq!(
            IoasCopy::decode(&copy(0, u64::MAX, 0, 0)),
            Err(Errno::EOVERFLOW)
        );
        assert_eq!(
            IoasCopy::decode(&copy(0, 0, u64::MAX, 0)),
            Err(Errno::EOVERFLOW)
        );
        assert_eq!(
            IoasCopy::decode(&copy(0, 0, 0, u64::MAX)),
            Err(Errno::EOVERFLOW)
        );
        assert_eq!(
            IoasCopy::decode(&copy(IOMMU_IOAS_MAP_FIXED_IOVA, 0, 0, 0)),
            Err(Errno::EINVAL)
        );
    }

    #[test]
    fn copy_syz_flag() {
        let b = copy(RW | MOCK_FLAGS_ACCESS_SYZ, 4096, 0, 5);
        // Without the mock the SYZ bit is an unknown flag.
        assert_eq!(IoasCopy::decode(&b), Err(Errno::EOPNOTSUPP));
        // With it the bit is stripped and src_iova converted before the checks.
        let mut seen = None;
        let c = IoasCopy::decode_mock(&b, |id, iova| {
            seen = Some((id, iova));
            0x4000
        })
        .unwrap();
        assert_eq!(seen, Some((2, 5)));
        assert_eq!(c.flags, RW);
        assert_eq!(c.src_iova, 0x4000);
        // The conversion happens before the overflow check.
        let b = copy(RW | MOCK_FLAGS_ACCESS_SYZ, 4096, 0, u64::MAX);
        assert!(IoasCopy::decode_mock(&b, |_, _| 0).is_ok());
        // Without the bit the closure is not called.
        let b = copy(RW, 4096, 0, 5);
        let c = IoasCopy::decode_mock(&b, |_, _| unreachable!()).unwrap();
        assert_eq!(c.src_iova, 5);
        // The response carries the converted fields back.
        let mut out = copy(RW | MOCK_FLAGS_ACCESS_SYZ, 4096, 0, 5);
        let mut c = IoasCopy::decode_mock(&out, |_, _| 0x4000).unwrap();
        c.dst_iova = 0x8000;
        c.encode_response(&mut out);
        assert_eq!(IoasCopy::FLAGS.get_u32(&out), RW);
        assert_eq!(IoasCopy::SRC_IOVA.get_u64(&out), 0x4000);
        assert_eq!(IoasCopy::DST_IOVA.get_u64(&out), 0x8000);
    }

    #[test]
    fn iova_ranges_and_allow_iovas_reserved() {
        let mut b = [0u8; 32];
        IoasIovaRanges::IOAS_ID.put_u32(&mut b, 4);
        IoasIovaRanges::NUM_IOVAS.put_u32(&mut b, 2);
        IoasIovaRanges::OUT_IOVA_ALIGNMENT.put_u64(&mut b, 77);
        let r = IoasIovaRanges::decode(&b).unwrap();
        assert_eq!((r.ioas_id, r.num_iovas, r.out_iova_alignment), (4, 2, 0));
        IoasIovaRanges::RESERVED.put_u32(&mut b, 1);
        assert_eq!(IoasIovaRanges::decode(&b), Err(Errno::EOPNOTSUPP));

        let mut out = [0u8; 32];
        IoasIovaRanges {
            ioas_id: 4,
            num_iovas: 3,
            allowed_iovas: 0,
            out_iova_alignment: 4096,
        }
        .encode_response(&mut out);
        assert_eq!(IoasIovaRanges::NUM_IOVAS.get_u32(&out), 3);
        assert_eq!(IoasIovaRanges::OUT_IOVA_ALIGNMENT.get_u64(&out), 4096);

        let mut b = [0u8; 24];
        IoasAllowIovas::NUM_IOVAS.put_u32(&mut b, 1);
        assert!(IoasAllowIovas::decode(&b).is_ok());
        IoasAllowIovas::RESERVED.put_u32(&mut b, 0x100);
        assert_eq!(IoasAllowIovas::decode(&b), Err(Errno::EOPNOTSUPP));
    }

    #[test]
    fn iova_range_elements() {
        let r = IovaRange {
            start: 0x1000,
            last: 0x1fff,
        };
        assert_eq!(IovaRange::from_bytes(&r.to_bytes()), r);
        assert_eq!(r.check_allowed(), Ok(()));
        let empty = IovaRange { start: 5, last: 5 };
        assert_eq!(empty.check_allowed(), Err(Errno::EINVAL));
    }

    #[test]
    fn unmap_checks_after_lookup() {
        let mut b = [0u8; 24];
        IoasUnmap::LENGTH.put_u64(&mut b, u64::MAX);
        let u = IoasUnmap::decode(&b).unwrap();
        assert_eq!(u.range(), Ok(UnmapRange::All));
        IoasUnmap::IOVA.put_u64(&mut b, 1);
        let u = IoasUnmap::decode(&b).unwrap();
        assert_eq!(u.range(), Err(Errno::EOVERFLOW));
        IoasUnmap::LENGTH.put_u64(&mut b, 4096);
        let mut u = IoasUnmap::decode(&b).unwrap();
        assert_eq!(
            u.range(),
            Ok(UnmapRange::Range {
                iova: 1,
                length: 4096
            })
        );
        u.length = 8192;
        u.encode_response(&mut b);
        assert_eq!(IoasUnmap::LENGTH.get_u64(&b), 8192);
    }
}
