// SPDX-License-Identifier: GPL-2.0

//! The HW page table commands: `IOMMU_HWPT_ALLOC`, `IOMMU_HWPT_SET_DIRTY_TRACKING`,
//! `IOMMU_HWPT_GET_DIRTY_BITMAP` and `IOMMU_HWPT_INVALIDATE`
//! (`drivers/iommu/iommufd/hw_pagetable.c`).

use super::super::errno::{Errno, Result};
use super::super::pasid::IOMMU_HWPT_ALLOC_PASID;
use super::super::uapi::Cmd;
use super::{gt_ulong_max, impl_ucmd, Field, Layout, DEFAULT_PAGE_SIZE, SIZE_FIELD};

/// `IOMMU_HWPT_ALLOC_NEST_PARENT`.
pub const IOMMU_HWPT_ALLOC_NEST_PARENT: u32 = 1 << 0;
/// `IOMMU_HWPT_ALLOC_DIRTY_TRACKING`.
pub const IOMMU_HWPT_ALLOC_DIRTY_TRACKING: u32 = 1 << 1;
/// `IOMMU_HWPT_FAULT_ID_VALID`.
pub const IOMMU_HWPT_FAULT_ID_VALID: u32 = 1 << 2;
/// `IOMMU_HWPT_DATA_NONE`.
pub const IOMMU_HWPT_DATA_NONE: u32 = 0;
/// `IOMMU_HWPT_DATA_VTD_S1`.
pub const IOMMU_HWPT_DATA_VTD_S1: u32 = 1;
/// `IOMMU_HWPT_DIRTY_TRACKING_ENABLE`.
pub const IOMMU_HWPT_DIRTY_TRACKING_ENABLE: u32 = 1;
/// `IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR`.
pub const IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR: u32 = 1;
/// `IOMMU_HWPT_INVALIDATE_DATA_VTD_S1`.
pub const IOMMU_HWPT_INVALIDATE_DATA_VTD_S1: u32 = 0;
/// `IOMMU_HWPT_INVALIDATE_ENTRY_NUM_MAX` (a macro of C `hw_pagetable.c`): the cap on `entry_num`.
pub const IOMMU_HWPT_INVALIDATE_ENTRY_NUM_MAX: u32 = 1 << 19;

/// `struct iommu_hwpt_alloc`: allocate a HW page table.
///
/// `decode`, in the order of C `iommufd_hwpt_alloc()`:
///
/// 1. `__reserved != 0`: `EOPNOTSUPP`;
/// 2. `data_type == NONE` with `data_len != 0`, or another type with `data_len == 0`:
///    `EINVAL`.
///
/// `__reserved2` is not checked by the pinned C code, nor here. Then, still in
/// `iommufd_hwpt_alloc()`, the device lookup (`ENOENT`), the `pt_id` lookup (`EINVAL` if
/// absent, `EINVAL` too if neither an IOAS nor a paging HWPT), and the `flags` checks, which
/// depend on the `pt_id` object: [`HwptAlloc::check_paging_flags`] (C
/// `iommufd_hwpt_paging_alloc()`) for an IOAS, [`HwptAlloc::check_nested_flags`] (C
/// `iommufd_hwpt_nested_alloc()`) for a HWPT; then `fault_id` is looked up if
/// `FAULT_ID_VALID`. The response carries the new id.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct HwptAlloc {
    /// `enum iommufd_hwpt_alloc_flags` (checked after the lookups).
    pub flags: u32,
    /// The device to allocate for.
    pub dev_id: u32,
    /// The IOAS or parent HWPT.
    pub pt_id: u32,
    /// Output: the new HWPT's id.
    pub out_hwpt_id: u32,
    /// `enum iommu_hwpt_data_type`.
    pub data_type: u32,
    /// Length of the type specific data.
    pub data_len: u32,
    /// User pointer to the type specific data.
    pub data_uptr: u64,
    /// The fault queue, if `IOMMU_HWPT_FAULT_ID_VALID`.
    pub fault_id: u32,
}

impl HwptAlloc {
    /// `flags`.
    pub const FLAGS: Field<4> = Field::new("flags", 4);
    /// `dev_id`.
    pub const DEV_ID: Field<4> = Field::new("dev_id", 8);
    /// `pt_id`.
    pub const PT_ID: Field<4> = Field::new("pt_id", 12);
    /// `out_hwpt_id`.
    pub const OUT_HWPT_ID: Field<4> = Field::new("out_hwpt_id", 16);
    /// `__reserved`.
    pub const RESERVED: Field<4> = Field::new("__reserved", 20);
    /// `data_type`.
    pub const DATA_TYPE: Field<4> = Field::new("data_type", 24);
    /// `data_len`.
    pub const DATA_LEN: Field<4> = Field::new("data_len", 28);
    /// `data_uptr`.
    pub const DATA_UPTR: Field<8> = Field::new("data_uptr", 32);
    /// `fault_id`.
    pub const FAULT_ID: Field<4> = Field::new("fault_id", 40);
    /// `__reserved2` (not checked).
    pub const RESERVED2: Field<4> = Field::new("__reserved2", 44);
    /// The struct's layout.
    pub const LAYOUT: Layout = Layout {
        c_struct: "iommu_hwpt_alloc",
        size: 48,
        fields: &[
            SIZE_FIELD.desc(),
            Self::FLAGS.desc(),
            Self::DEV_ID.desc(),
            Self::PT_ID.desc(),
            Self::OUT_HWPT_ID.desc(),
            Self::RESERVED.desc(),
            Self::DATA_TYPE.desc(),
            Self::DATA_LEN.desc(),
            Self::DATA_UPTR.desc(),
            Self::FAULT_ID.desc(),
            Self::RESERVED2.desc(),
        ],
    };

    /// Decodes and checks the command (see the type's documentation).
    pub fn decode(buf: &[u8]) -> Result<Self> {
        // First check of C `iommufd_hwpt_alloc()`.
        if !Self::RESERVED.is_zero(buf) {
            return Err(Errno::EOPNOTSUPP);
        }
        let data_type = Self::DATA_TYPE.get_u32(buf);
        let data_len = Self::DATA_LEN.get_u32(buf);
        // Second check of C `iommufd_hwpt_alloc()`.
        if (data_type == IOMMU_HWPT_DATA_NONE) != (data_len == 0) {
            return Err(Errno::EINVAL);
        }
        Ok(Self {
            flags: Self::FLAGS.get_u32(buf),
            dev_id: Self::DEV_ID.get_u32(buf),
            pt_id: Self::PT_ID.get_u32(buf),
            out_hwpt_id: 0,
            data_type,
            data_len,
            data_uptr: Self::DATA_UPTR.get_u64(buf),
            fault_id: Self::FAULT_ID.get_u32(buf),
        })
    }

    /// Whether user data comes with the request: C passes `user_data` to a paging
    /// allocation only if `data_len != 0` (C `iommufd_hwpt_alloc()`).
    pub fn has_user_data(&self) -> bool {
        self.data_len != 0
    }

    /// Whether the HWPT is to be PASID-compatible ([`IOMMU_HWPT_ALLOC_PASID`]): only such a
    /// HWPT may be attached to a PASID, and to the RID while PASIDs are attached
    /// ([`PasidTable`](super::super::pasid::PasidTable)).
    pub fn pasid_compat(&self) -> bool {
        self.flags & IOMMU_HWPT_ALLOC_PASID != 0
    }

    /// The fault queue to attach, if `IOMMU_HWPT_FAULT_ID_VALID` (C `iommufd_hwpt_alloc()`).
    pub fn fault_id(&self) -> Option<u32> {
        if self.flags & IOMMU_HWPT_FAULT_ID_VALID != 0 {
            Some(self.fault_id)
        } else {
            None
        }
    }

    /// The flag checks of C `iommufd_hwpt_paging_alloc()` when `pt_id` is an IOAS, after the
    /// device and `pt_id` lookups, all `EOPNOTSUPP`: flags or user data
    /// without the driver's `domain_alloc_user`; a flag other than `NEST_PARENT`,
    /// `DIRTY_TRACKING` and `ALLOC_PASID` (the later uAPI's); `ALLOC_PASID` on a device without
    /// PASID support (`pasid_capable`: its `max_pasids > 0`), which upstream leaves to the
    /// driver and which the 6.12 drivers would ignore; `DIRTY_TRACKING` on a device without
    /// `IOMMU_CAP_DIRTY_TRACKING`; `FAULT_ID_VALID` with `NEST_PARENT` (unreachable, as
    /// `FAULT_ID_VALID` already failed the second check; kept as in C).
    pub fn check_paging_flags(
        &self,
        has_domain_alloc_user: bool,
        dirty_capable: bool,
        pasid_capable: bool,
    ) -> Result {
        let valid =
            IOMMU_HWPT_ALLOC_NEST_PARENT | IOMMU_HWPT_ALLOC_DIRTY_TRACKING | IOMMU_HWPT_ALLOC_PASID;
        if (self.flags != 0 || self.has_user_data()) && !has_domain_alloc_user {
            return Err(Errno::EOPNOTSUPP);
        }
        if self.flags & !valid != 0 {
            return Err(Errno::EOPNOTSUPP);
        }
        if self.pasid_compat() && !pasid_capable {
            return Err(Errno::EOPNOTSUPP);
        }
        if self.flags & IOMMU_HWPT_ALLOC_DIRTY_TRACKING != 0 && !dirty_capable {
            return Err(Errno::EOPNOTSUPP);
        }
        if self.flags & IOMMU_HWPT_FAULT_ID_VALID != 0
            && self.flags & IOMMU_HWPT_ALLOC_NEST_PARENT != 0
        {
            return Err(Errno::EOPNOTSUPP);
        }
        Ok(())
    }

    /// The first check of C `iommufd_hwpt_nested_alloc()` when `pt_id` is a paging HWPT: a flag
    /// other than `FAULT_ID_VALID` and `ALLOC_PASID` (the later uAPI's), no user data, or no
    /// `domain_alloc_user`: `EOPNOTSUPP`; then `ALLOC_PASID` on a device without PASID support
    /// (`pasid_capable`): `EOPNOTSUPP`, as for [`Self::check_paging_flags`]. (The parent checks
    /// that follow in `iommufd_hwpt_nested_alloc()`, `EINVAL`, need the parent object.)
    pub fn check_nested_flags(&self, has_domain_alloc_user: bool, pasid_capable: bool) -> Result {
        if self.flags & !(IOMMU_HWPT_FAULT_ID_VALID | IOMMU_HWPT_ALLOC_PASID) != 0
            || !self.has_user_data()
            || !has_domain_alloc_user
        {
            return Err(Errno::EOPNOTSUPP);
        }
        if self.pasid_compat() && !pasid_capable {
            return Err(Errno::EOPNOTSUPP);
        }
        Ok(())
    }

    /// Writes every input field, and `size`.
    pub fn encode(&self, buf: &mut [u8]) {
        SIZE_FIELD.put_u32(buf, Self::LAYOUT.size as u32);
        Self::FLAGS.put_u32(buf, self.flags);
        Self::DEV_ID.put_u32(buf, self.dev_id);
        Self::PT_ID.put_u32(buf, self.pt_id);
        Self::RESERVED.put_u32(buf, 0);
        Self::DATA_TYPE.put_u32(buf, self.data_type);
        Self::DATA_LEN.put_u32(buf, self.data_len);
        Self::DATA_UPTR.put_u64(buf, self.data_uptr);
        Self::FAULT_ID.put_u32(buf, self.fault_id);
    }

    /// Writes `out_hwpt_id` (C `iommufd_hwpt_alloc()`).
    pub fn encode_response(&self, buf: &mut [u8]) {
        Self::OUT_HWPT_ID.put_u32(buf, self.out_hwpt_id);
    }
}

impl_ucmd!(HwptAlloc, Cmd::HwptAlloc);

/// `struct iommu_hwpt_set_dirty_tracking`: turn dirty tracking on or off.
///
/// `decode`: a flag other than `IOMMU_HWPT_DIRTY_TRACKING_ENABLE`: `EOPNOTSUPP` (the first
/// check of C `iommufd_hwpt_set_dirty_tracking()`). `__reserved` is not checked by the pinned
/// C code, nor here. Then the paging HWPT lookup. No response.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct HwptSetDirtyTracking {
    /// `enum iommufd_hwpt_set_dirty_tracking_flags`.
    pub flags: u32,
    /// The paging HWPT.
    pub hwpt_id: u32,
}

impl HwptSetDirtyTracking {
    /// `flags`.
    pub const FLAGS: Field<4> = Field::new("flags", 4);
    /// `hwpt_id`.
    pub const HWPT_ID: Field<4> = Field::new("hwpt_id", 8);
    /// `__reserved` (not checked).
    pub const RESERVED: Field<4> = Field::new("__reserved", 12);
    /// The struct's layout.
    pub const LAYOUT: Layout = Layout {
        c_struct: "iommu_hwpt_set_dirty_tracking",
        size: 16,
        fields: &[
            SIZE_FIELD.desc(),
            Self::FLAGS.desc(),
            Self::HWPT_ID.desc(),
            Self::RESERVED.desc(),
        ],
    };

    /// Decodes and checks the command (see the type's documentation).
    pub fn decode(buf: &[u8]) -> Result<Self> {
        let flags = Self::FLAGS.get_u32(buf);
        // First check of C `iommufd_hwpt_set_dirty_tracking()`.
        if flags & !IOMMU_HWPT_DIRTY_TRACKING_ENABLE != 0 {
            return Err(Errno::EOPNOTSUPP);
        }
        Ok(Self {
            flags,
            hwpt_id: Self::HWPT_ID.get_u32(buf),
        })
    }

    /// Whether to enable (C `iommufd_hwpt_set_dirty_tracking()`).
    pub fn enable(&self) -> bool {
        self.flags & IOMMU_HWPT_DIRTY_TRACKING_ENABLE != 0
    }

    /// Writes every input field, and `size`.
    pub fn encode(&self, buf: &mut [u8]) {
        SIZE_FIELD.put_u32(buf, Self::LAYOUT.size as u32);
        Self::FLAGS.put_u32(buf, self.flags);
        Self::HWPT_ID.put_u32(buf, self.hwpt_id);
        Self::RESERVED.put_u32(buf, 0);
    }

    /// `IOMMU_HWPT_SET_DIRTY_TRACKING` has no response: writes nothing.
    pub fn encode_response(&self, _buf: &mut [u8]) {}
}

impl_ucmd!(HwptSetDirtyTracking, Cmd::HwptSetDirtyTracking);

/// `struct iommu_hwpt_get_dirty_bitmap`: read (and by default clear) the dirty bits of an IOVA
/// range into a user bitmap.
///
/// `decode`: a flag other than `IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR`, or `__reserved != 0`:
/// `EOPNOTSUPP` (the first check of C `iommufd_hwpt_get_dirty_bitmap()`). Then the paging HWPT
/// lookup, then [`HwptGetDirtyBitmap::check_iova_range`] with the IOAS's IOVA alignment
/// (`iommufd_check_iova_range()`, called first thing in `iopt_read_and_clear_dirty_data()`).
/// No response struct (the bitmap is written to user memory).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct HwptGetDirtyBitmap {
    /// The paging HWPT.
    pub hwpt_id: u32,
    /// `enum iommufd_hwpt_get_dirty_bitmap_flags`.
    pub flags: u32,
    /// IOVA of the bitmap's first bit.
    pub iova: u64,
    /// Bytes of IOVA covered.
    pub length: u64,
    /// IOVA bytes per bit.
    pub page_size: u64,
    /// User pointer to the bitmap.
    pub data: u64,
}

impl HwptGetDirtyBitmap {
    /// `hwpt_id`.
    pub const HWPT_ID: Field<4> = Field::new("hwpt_id", 4);
    /// `flags`.
    pub const FLAGS: Field<4> = Field::new("flags", 8);
    /// `__reserved`.
    pub const RESERVED: Field<4> = Field::new("__reserved", 12);
    /// `iova`.
    pub const IOVA: Field<8> = Field::new("iova", 16);
    /// `length`.
    pub const LENGTH: Field<8> = Field::new("length", 24);
    /// `page_size`.
    pub const PAGE_SIZE: Field<8> = Field::new("page_size", 32);
    /// `data`.
    pub const DATA: Field<8> = Field::new("data", 40);
    /// The struct's layout.
    pub const LAYOUT: Layout = Layout {
        c_struct: "iommu_hwpt_get_dirty_bitmap",
        size: 48,
        fields: &[
            SIZE_FIELD.desc(),
            Self::HWPT_ID.desc(),
            Self::FLAGS.desc(),
            Self::RESERVED.desc(),
            Self::IOVA.desc(),
            Self::LENGTH.desc(),
            Self::PAGE_SIZE.desc(),
            Self::DATA.desc(),
        ],
    };

    /// Decodes and checks the command (see the type's documentation).
    pub fn decode(buf: &[u8]) -> Result<Self> {
        let flags = Self::FLAGS.get_u32(buf);
        // First check of C `iommufd_hwpt_get_dirty_bitmap()`.
        if flags & !IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR != 0 || !Self::RESERVED.is_zero(buf) {
            return Err(Errno::EOPNOTSUPP);
        }
        Ok(Self {
            hwpt_id: Self::HWPT_ID.get_u32(buf),
            flags,
            iova: Self::IOVA.get_u64(buf),
            length: Self::LENGTH.get_u64(buf),
            page_size: Self::PAGE_SIZE.get_u64(buf),
            data: Self::DATA.get_u64(buf),
        })
    }

    /// Whether to leave the dirty bits set.
    pub fn no_clear(&self) -> bool {
        self.flags & IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR != 0
    }

    /// C `iommufd_check_iova_range()`, done after the HWPT lookup with `iova_alignment` the
    /// IOAS's: returns the last IOVA of the range, or, in C's order,
    ///
    /// - `length == 0`: `EINVAL`;
    /// - `iova + length - 1` overflows: `EOVERFLOW`;
    /// - `iova` or the last IOVA above `ULONG_MAX`: `EOVERFLOW`;
    /// - `iova` or `last + 1` not aligned to `iova_alignment`: `EINVAL`;
    /// - `page_size == 0`: `EINVAL`;
    /// - `iova` or `last + 1` not aligned to `page_size`: `EINVAL`.
    ///
    /// The alignment tests are C's mask tests (`x & (align - 1)`), exact for powers of two.
    pub fn check_iova_range(&self, iova_alignment: u64) -> Result<u64> {
        if self.length == 0 {
            return Err(Errno::EINVAL);
        }
        let last_iova = self
            .iova
            .checked_add(self.length - 1)
            .ok_or(Errno::EOVERFLOW)?;
        if gt_ulong_max(self.iova) || gt_ulong_max(last_iova) {
            return Err(Errno::EOVERFLOW);
        }
        let end = last_iova.wrapping_add(1);
        let mask = iova_alignment.wrapping_sub(1);
        if self.iova & mask != 0 || end & mask != 0 {
            return Err(Errno::EINVAL);
        }
        if self.page_size == 0 {
            return Err(Errno::EINVAL);
        }
        let mask = self.page_size - 1;
        if self.iova & mask != 0 || end & mask != 0 {
            return Err(Errno::EINVAL);
        }
        Ok(last_iova)
    }

    /// Writes every input field, and `size`.
    pub fn encode(&self, buf: &mut [u8]) {
        SIZE_FIELD.put_u32(buf, Self::LAYOUT.size as u32);
        Self::HWPT_ID.put_u32(buf, self.hwpt_id);
        Self::FLAGS.put_u32(buf, self.flags);
        Self::RESERVED.put_u32(buf, 0);
        Self::IOVA.put_u64(buf, self.iova);
        Self::LENGTH.put_u64(buf, self.length);
        Self::PAGE_SIZE.put_u64(buf, self.page_size);
        Self::DATA.put_u64(buf, self.data);
    }

    /// `IOMMU_HWPT_GET_DIRTY_BITMAP` does not respond with the struct: writes nothing.
    pub fn encode_response(&self, _buf: &mut [u8]) {}
}

impl_ucmd!(HwptGetDirtyBitmap, Cmd::HwptGetDirtyBitmap);

/// `struct iommu_hwpt_invalidate`: invalidate the caches of a nested HWPT.
///
/// `decode`, in the order of C `iommufd_hwpt_invalidate()`:
///
/// 1. `__reserved != 0`: `EOPNOTSUPP`;
/// 2. `entry_num != 0` and (`data_uptr == 0`, `entry_len == 0`, `entry_len > PAGE_SIZE` or
///    `entry_num > IOMMU_HWPT_INVALIDATE_ENTRY_NUM_MAX`): `EINVAL`.
///
/// Then the nested HWPT lookup and the driver's `cache_invalidate_user`.
///
/// Unlike the other commands this one responds on every path, errors included (the `out:`
/// label of `iommufd_hwpt_invalidate()`): `entry_num` is set to the number of entries handled
/// (0 when a check or the lookup failed) and the struct copied back; if that copy faults the
/// result is `EFAULT`, else the handler's errno. So when `decode` fails the shell must still call
/// [`HwptInvalidate::put_entry_num`]`(buf, 0)` and respond.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct HwptInvalidate {
    /// The nested HWPT.
    pub hwpt_id: u32,
    /// User pointer to the request array.
    pub data_uptr: u64,
    /// `enum iommu_hwpt_invalidate_data_type` of every entry.
    pub data_type: u32,
    /// Bytes per entry.
    pub entry_len: u32,
    /// Input: number of entries; output: number handled.
    pub entry_num: u32,
}

impl HwptInvalidate {
    /// `hwpt_id`.
    pub const HWPT_ID: Field<4> = Field::new("hwpt_id", 4);
    /// `data_uptr`.
    pub const DATA_UPTR: Field<8> = Field::new("data_uptr", 8);
    /// `data_type`.
    pub const DATA_TYPE: Field<4> = Field::new("data_type", 16);
    /// `entry_len`.
    pub const ENTRY_LEN: Field<4> = Field::new("entry_len", 20);
    /// `entry_num`.
    pub const ENTRY_NUM: Field<4> = Field::new("entry_num", 24);
    /// `__reserved`.
    pub const RESERVED: Field<4> = Field::new("__reserved", 28);
    /// The struct's layout.
    pub const LAYOUT: Layout = Layout {
        c_struct: "iommu_hwpt_invalidate",
        size: 32,
        fields: &[
            SIZE_FIELD.desc(),
            Self::HWPT_ID.desc(),
            Self::DATA_UPTR.desc(),
            Self::DATA_TYPE.desc(),
            Self::ENTRY_LEN.desc(),
            Self::ENTRY_NUM.desc(),
            Self::RESERVED.desc(),
        ],
    };

    /// Decodes and checks the command with `PAGE_SIZE` = [`DEFAULT_PAGE_SIZE`].
    pub fn decode(buf: &[u8]) -> Result<Self> {
        Self::decode_with_page_size(buf, DEFAULT_PAGE_SIZE)
    }

    /// Decodes and checks the command (see the type's documentation); `page_size` is the
    /// kernel's `PAGE_SIZE`, the cap on `entry_len`.
    pub fn decode_with_page_size(buf: &[u8], page_size: u64) -> Result<Self> {
        // First check of C `iommufd_hwpt_invalidate()`.
        if !Self::RESERVED.is_zero(buf) {
            return Err(Errno::EOPNOTSUPP);
        }
        let data_uptr = Self::DATA_UPTR.get_u64(buf);
        let entry_len = Self::ENTRY_LEN.get_u32(buf);
        let entry_num = Self::ENTRY_NUM.get_u32(buf);
        // Second check of C `iommufd_hwpt_invalidate()`.
        if entry_num != 0
            && (data_uptr == 0
                || entry_len == 0
                || u64::from(entry_len) > page_size
                || entry_num > IOMMU_HWPT_INVALIDATE_ENTRY_NUM_MAX)
        {
            return Err(Errno::EINVAL);
        }
        Ok(Self {
            hwpt_id: Self::HWPT_ID.get_u32(buf),
            data_uptr,
            data_type: Self::DATA_TYPE.get_u32(buf),
            entry_len,
            entry_num,
        })
    }

    /// Writes `entry_num` into a command buffer: the response of every path, including a
    /// failed `decode` (with 0, as C `iommufd_hwpt_invalidate()` initializes `done_num`).
    pub fn put_entry_num(buf: &mut [u8], done_num: u32) {
        Self::ENTRY_NUM.put_u32(buf, done_num);
    }

    /// Writes every input field, and `size`.
    pub fn encode(&self, buf: &mut [u8]) {
        SIZE_FIELD.put_u32(buf, Self::LAYOUT.size as u32);
        Self::HWPT_ID.put_u32(buf, self.hwpt_id);
        Self::DATA_UPTR.put_u64(buf, self.data_uptr);
        Self::DATA_TYPE.put_u32(buf, self.data_type);
        Self::ENTRY_LEN.put_u32(buf, self.entry_len);
        Self::ENTRY_NUM.put_u32(buf, self.entry_num);
        Self::RESERVED.put_u32(buf, 0);
    }

    /// Writes `entry_num`, the number of entries handled (C `iommufd_hwpt_invalidate()`).
    pub fn encode_response(&self, buf: &mut [u8]) {
        Self::put_entry_num(buf, self.entry_num);
    }
}

impl_ucmd!(HwptInvalidate, Cmd::HwptInvalidate);

#[cfg(test)]
mod tests {
    use super::*;

    fn alloc(reserved: u32, data_type: u32, data_len: u32) -> [u8; 48] {
        let mut b = [0u8; 48];
        HwptAlloc::DEV_ID.put_u32(&mut b, 2);
        HwptAlloc::PT_ID.put_u32(&mut b, 3);
        HwptAlloc::RESERVED.put_u32(&mut b, reserved);
        HwptAlloc::DATA_TYPE.put_u32(&mut b, data_type);
        HwptAlloc::DATA_LEN.put_u32(&mut b, data_len);
        b
    }

    #[test]
    fn hwpt_alloc_errnos() {
        assert!(HwptAlloc::decode(&alloc(0, 0, 0)).is_ok());
        assert!(HwptAlloc::decode(&alloc(0, 0xdead, 4)).is_ok());
        // Reserved before the data checks.
        assert_eq!(HwptAlloc::decode(&alloc(1, 0, 4)), Err(Errno::EOPNOTSUPP));
        assert_eq!(HwptAlloc::decode(&alloc(0, 0, 4)), Err(Errno::EINVAL));
        assert_eq!(HwptAlloc::decode(&alloc(0, 1, 0)), Err(Errno::EINVAL));
        // Flags are not decode's business; __reserved2 is not checked at all.
        let mut b = alloc(0, 0, 0);
        HwptAlloc::FLAGS.put_u32(&mut b, u32::MAX);
        HwptAlloc::RESERVED2.put_u32(&mut b, 9);
        HwptAlloc::OUT_HWPT_ID.put_u32(&mut b, 9);
        let a = HwptAlloc::decode(&b).unwrap();
        assert_eq!(
            (a.flags, a.dev_id, a.pt_id, a.out_hwpt_id),
            (u32::MAX, 2, 3, 0)
        );
        // A 24-byte (minimum size) struct: the tail reads as zero.
        assert!(HwptAlloc::decode(&b[..24]).is_ok());
    }

    #[test]
    fn hwpt_alloc_late_flag_checks() {
        let mut a = HwptAlloc::decode(&alloc(0, 0, 0)).unwrap();
        assert_eq!(a.check_paging_flags(false, false, false), Ok(()));
        a.flags = IOMMU_HWPT_ALLOC_NEST_PARENT;
        assert_eq!(
            a.check_paging_flags(false, true, true),
            Err(Errno::EOPNOTSUPP)
        );
        assert_eq!(a.check_paging_flags(true, false, false), Ok(()));
        a.flags = IOMMU_HWPT_ALLOC_DIRTY_TRACKING;
        assert_eq!(
            a.check_paging_flags(true, false, true),
            Err(Errno::EOPNOTSUPP)
        );
        assert_eq!(a.check_paging_flags(true, true, false), Ok(()));
        a.flags = IOMMU_HWPT_FAULT_ID_VALID;
        assert_eq!(
            a.check_paging_flags(true, true, true),
            Err(Errno::EOPNOTSUPP)
        );
        assert_eq!(a.fault_id(), Some(0));
        assert!(!a.pasid_compat());
        let n = HwptAlloc::decode(&alloc(0, 0xdead, 4)).unwrap();
        assert_eq!(n.check_nested_flags(true, false), Ok(()));
        assert_eq!(n.check_nested_flags(false, true), Err(Errno::EOPNOTSUPP));
        assert_eq!(a.check_nested_flags(true, true), Err(Errno::EOPNOTSUPP));
        let mut b = alloc(0, 0, 0);
        HwptAlloc {
            out_hwpt_id: 77,
            ..n
        }
        .encode_response(&mut b);
        assert_eq!(HwptAlloc::OUT_HWPT_ID.get_u32(&b), 77);
    }

    #[test]
    fn hwpt_alloc_pasid_flag() {
        // The uAPI header's value.
        assert_eq!(IOMMU_HWPT_ALLOC_PASID, 1 << 3);
        let mut a = HwptAlloc::decode(&alloc(0, 0, 0)).unwrap();
        a.flags = IOMMU_HWPT_ALLOC_PASID;
        assert!(a.pasid_compat());
        // Paging: accepted on a PASID-capable device, with the other valid flags too.
        assert_eq!(a.check_paging_flags(true, false, true), Ok(()));
        assert_eq!(
            a.check_paging_flags(true, false, false),
            Err(Errno::EOPNOTSUPP)
        );
        // Still a flag: no `domain_alloc_user`, no flags at all.
        assert_eq!(
            a.check_paging_flags(false, false, true),
            Err(Errno::EOPNOTSUPP)
        );
        a.flags =
            IOMMU_HWPT_ALLOC_PASID | IOMMU_HWPT_ALLOC_NEST_PARENT | IOMMU_HWPT_ALLOC_DIRTY_TRACKING;
        assert_eq!(a.check_paging_flags(true, true, true), Ok(()));
        // Without PASID support or without dirty tracking: EOPNOTSUPP either way.
        assert_eq!(
            a.check_paging_flags(true, true, false),
            Err(Errno::EOPNOTSUPP)
        );
        assert_eq!(
            a.check_paging_flags(true, false, true),
            Err(Errno::EOPNOTSUPP)
        );
        // An unknown flag next to it is still refused.
        a.flags = IOMMU_HWPT_ALLOC_PASID | 1 << 4;
        assert_eq!(
            a.check_paging_flags(true, true, true),
            Err(Errno::EOPNOTSUPP)
        );
        // Nested: with or without a fault queue.
        let mut n = HwptAlloc::decode(&alloc(0, 0xdead, 4)).unwrap();
        for f in [
            IOMMU_HWPT_ALLOC_PASID,
            IOMMU_HWPT_ALLOC_PASID | IOMMU_HWPT_FAULT_ID_VALID,
        ] {
            n.flags = f;
            assert!(n.pasid_compat());
            assert_eq!(n.check_nested_flags(true, true), Ok(()));
            assert_eq!(n.check_nested_flags(true, false), Err(Errno::EOPNOTSUPP));
            assert_eq!(n.check_nested_flags(false, true), Err(Errno::EOPNOTSUPP));
        }
        n.flags = IOMMU_HWPT_FAULT_ID_VALID;
        assert!(!n.pasid_compat());
        assert_eq!(n.check_nested_flags(true, false), Ok(()));
        n.flags = IOMMU_HWPT_ALLOC_PASID | IOMMU_HWPT_ALLOC_NEST_PARENT;
        assert_eq!(n.check_nested_flags(true, true), Err(Errno::EOPNOTSUPP));
    }

    #[test]
    fn set_dirty_tracking_errnos() {
        let mut b = [0u8; 16];
        HwptSetDirtyTracking::FLAGS.put_u32(&mut b, 1);
        HwptSetDirtyTracking::RESERVED.put_u32(&mut b, 5);
        assert!(HwptSetDirtyTracking::decode(&b).unwrap().enable());
        HwptSetDirtyTracking::FLAGS.put_u32(&mut b, 2);
        assert_eq!(HwptSetDirtyTracking::decode(&b), Err(Errno::EOPNOTSUPP));
    }

    #[test]
    fn get_dirty_bitmap_errnos() {
        let mut b = [0u8; 48];
        HwptGetDirtyBitmap::FLAGS.put_u32(&mut b, 1);
        assert!(HwptGetDirtyBitmap::decode(&b).unwrap().no_clear());
        HwptGetDirtyBitmap::FLAGS.put_u32(&mut b, 3);
        assert_eq!(HwptGetDirtyBitmap::decode(&b), Err(Errno::EOPNOTSUPP));
        HwptGetDirtyBitmap::FLAGS.put_u32(&mut b, 0);
        HwptGetDirtyBitmap::RESERVED.put_u32(&mut b, 1);
        assert_eq!(HwptGetDirtyBitmap::decode(&b), Err(Errno::EOPNOTSUPP));
    }

    #[test]
    fn get_dirty_bitmap_iova_range() {
        let g = |iova, length, page_size| HwptGetDirtyBitmap {
            hwpt_id: 1,
            flags: 0,
            iova,
            length,
            page_size,
            data: 0x1000,
        };
        assert_eq!(g(0x1000, 0x2000, 4096).check_iova_range(4096), Ok(0x2fff));
        assert_eq!(g(0, 0, 4096).check_iova_range(1), Err(Errno::EINVAL));
        assert_eq!(
            g(u64::MAX, 2, 4096).check_iova_range(1),
            Err(Errno::EOVERFLOW)
        );
        assert_eq!(
            g(0x800, 0x1000, 4096).check_iova_range(4096),
            Err(Errno::EINVAL)
        );
        assert_eq!(g(0x1000, 0x1000, 0).check_iova_range(1), Err(Errno::EINVAL));
        assert_eq!(
            g(0x800, 0x800, 4096).check_iova_range(1),
            Err(Errno::EINVAL)
        );
        // The last IOVA may be U64_MAX (its +1 wraps to an aligned 0), as in C.
        assert_eq!(
            g(u64::MAX - 4095, 4096, 4096).check_iova_range(4096),
            Ok(u64::MAX)
        );
    }

    fn inv(reserved: u32, data_uptr: u64, entry_len: u32, entry_num: u32) -> [u8; 32] {
        let mut b = [0u8; 32];
        HwptInvalidate::HWPT_ID.put_u32(&mut b, 8);
        HwptInvalidate::RESERVED.put_u32(&mut b, reserved);
        HwptInvalidate::DATA_UPTR.put_u64(&mut b, data_uptr);
        HwptInvalidate::ENTRY_LEN.put_u32(&mut b, entry_len);
        HwptInvalidate::ENTRY_NUM.put_u32(&mut b, entry_num);
        b
    }

    #[test]
    fn invalidate_errnos() {
        // entry_num == 0 ignores the rest.
        assert!(HwptInvalidate::decode(&inv(0, 0, 0, 0)).is_ok());
        assert!(HwptInvalidate::decode(&inv(0, 0x1000, 8, 1)).is_ok());
        assert_eq!(
            HwptInvalidate::decode(&inv(1, 0, 0, 1)),
            Err(Errno::EOPNOTSUPP)
        );
        assert_eq!(HwptInvalidate::decode(&inv(0, 0, 8, 1)), Err(Errno::EINVAL));
        assert_eq!(
            HwptInvalidate::decode(&inv(0, 0x1000, 0, 1)),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            HwptInvalidate::decode(&inv(0, 0x1000, 4097, 1)),
            Err(Errno::EINVAL)
        );
        assert!(HwptInvalidate::decode(&inv(0, 0x1000, 4096, 1 << 19)).is_ok());
        assert_eq!(
            HwptInvalidate::decode(&inv(0, 0x1000, 4096, (1 << 19) + 1)),
            Err(Errno::EINVAL)
        );
        // A bigger PAGE_SIZE allows bigger entries.
        assert!(HwptInvalidate::decode_with_page_size(&inv(0, 0x1000, 4097, 1), 65536).is_ok());
        // The error response: entry_num 0.
        let mut b = inv(1, 0, 0, 5);
        HwptInvalidate::put_entry_num(&mut b, 0);
        assert_eq!(HwptInvalidate::ENTRY_NUM.get_u32(&b), 0);
    }
}
