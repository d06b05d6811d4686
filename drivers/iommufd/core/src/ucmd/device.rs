// SPDX-License-Identifier: GPL-2.0

//! `IOMMU_GET_HW_INFO` (`drivers/iommu/iommufd/device.c`), with the later uAPI's
//! `IOMMU_HW_INFO_FLAG_INPUT_TYPE` that the pinned tree's selftests use.

use super::super::errno::{Errno, Result};
use super::super::uapi::Cmd;
use super::{impl_ucmd, Field, Layout, SIZE_FIELD};

/// `IOMMU_HW_INFO_FLAG_INPUT_TYPE` (later uAPI): `in_data_type` carries a requested type.
pub const IOMMU_HW_INFO_FLAG_INPUT_TYPE: u32 = 1 << 0;
/// `IOMMU_HW_INFO_TYPE_NONE`: the driver reports no hardware info.
pub const IOMMU_HW_INFO_TYPE_NONE: u32 = 0;
/// `IOMMU_HW_INFO_TYPE_DEFAULT` (later uAPI, same value as `NONE`): whatever the driver has.
pub const IOMMU_HW_INFO_TYPE_DEFAULT: u32 = 0;
/// `IOMMU_HW_INFO_TYPE_INTEL_VTD`.
pub const IOMMU_HW_INFO_TYPE_INTEL_VTD: u32 = 1;
/// `IOMMU_HW_CAP_DIRTY_TRACKING`.
pub const IOMMU_HW_CAP_DIRTY_TRACKING: u64 = 1 << 0;
/// `IOMMU_HW_CAP_PCI_PASID_EXEC`.
pub const IOMMU_HW_CAP_PCI_PASID_EXEC: u64 = 1 << 1;
/// `IOMMU_HW_CAP_PCI_PASID_PRIV`.
pub const IOMMU_HW_CAP_PCI_PASID_PRIV: u64 = 1 << 2;

/// `struct iommu_hw_info`: report a device's IOMMU hardware information.
///
/// `decode` follows C `iommufd_get_hw_info()`, widened as the later uAPI (and the pinned
/// tree's selftests, `_test_cmd_get_hw_info()` in `tools/testing/selftests/iommu/`) expect:
///
/// 1. a flag other than `IOMMU_HW_INFO_FLAG_INPUT_TYPE`: `EOPNOTSUPP` (the first check of
///    `iommufd_get_hw_info()`, where the pinned C code refuses any flag);
/// 2. a nonzero byte of `__reserved[3]`: `EOPNOTSUPP` (the same check);
/// 3. without `INPUT_TYPE`, `in_data_type` is ignored and taken as
///    `IOMMU_HW_INFO_TYPE_DEFAULT` (as the later C clears it before the lookup).
///
/// Then the device lookup (`ENOENT`). A driver that reports hardware info then refuses a
/// requested type other than `DEFAULT` and its own with `EOPNOTSUPP` (the later drivers'
/// `hw_info` op, which `iommufd_get_hw_info()` calls right after the lookup):
/// [`HwInfo::check_requested_type`]. The response carries `data_len` (the driver's length),
/// `out_data_type` (the driver's, or `NONE` without a `hw_info` op), `out_capabilities` and
/// `out_max_pasid_log2`, all as `iommufd_get_hw_info()` sets them.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct HwInfo {
    /// `enum iommufd_hw_info_flags`.
    pub flags: u32,
    /// The device.
    pub dev_id: u32,
    /// Input: length of the user buffer; output: the length of the driver's data.
    pub data_len: u32,
    /// User pointer to the buffer for the driver's data.
    pub data_uptr: u64,
    /// The requested type: the user's `in_data_type` with `INPUT_TYPE`, else `DEFAULT`.
    pub in_data_type: u32,
    /// Output: `enum iommu_hw_info_type` of the data (shares `in_data_type`'s slot).
    pub out_data_type: u32,
    /// Output: log2 of the PASID count, 0 without PASID support.
    pub out_max_pasid_log2: u8,
    /// Output: `enum iommufd_hw_capabilities`.
    pub out_capabilities: u64,
}

impl HwInfo {
    /// `flags`.
    pub const FLAGS: Field<4> = Field::new("flags", 4);
    /// `dev_id`.
    pub const DEV_ID: Field<4> = Field::new("dev_id", 8);
    /// `data_len`.
    pub const DATA_LEN: Field<4> = Field::new("data_len", 12);
    /// `data_uptr`.
    pub const DATA_UPTR: Field<8> = Field::new("data_uptr", 16);
    /// `in_data_type` (later uAPI; a union with `out_data_type`).
    pub const IN_DATA_TYPE: Field<4> = Field::new("in_data_type", 24);
    /// `out_data_type`.
    pub const OUT_DATA_TYPE: Field<4> = Field::new("out_data_type", 24);
    /// `out_max_pasid_log2`.
    pub const OUT_MAX_PASID_LOG2: Field<1> = Field::new("out_max_pasid_log2", 28);
    /// `__reserved[3]`.
    pub const RESERVED: Field<3> = Field::new("__reserved", 29);
    /// `out_capabilities`.
    pub const OUT_CAPABILITIES: Field<8> = Field::new("out_capabilities", 32);
    /// The struct's layout.
    pub const LAYOUT: Layout = Layout {
        c_struct: "iommu_hw_info",
        size: 40,
        fields: &[
            SIZE_FIELD.desc(),
            Self::FLAGS.desc(),
            Self::DEV_ID.desc(),
            Self::DATA_LEN.desc(),
            Self::DATA_UPTR.desc(),
            Self::IN_DATA_TYPE.desc(),
            Self::OUT_DATA_TYPE.desc(),
            Self::OUT_MAX_PASID_LOG2.desc(),
            Self::RESERVED.desc(),
            Self::OUT_CAPABILITIES.desc(),
        ],
    };

    /// Decodes and checks the command (see the type's documentation).
    pub fn decode(buf: &[u8]) -> Result<Self> {
        let flags = Self::FLAGS.get_u32(buf);
        // First check of C `iommufd_get_hw_info()` (widened to the later uAPI's INPUT_TYPE
        // flag)
        if flags & !IOMMU_HW_INFO_FLAG_INPUT_TYPE != 0 {
            return Err(Errno::EOPNOTSUPP);
        }
        // The `__reserved` half of the same check of C `iommufd_get_hw_info()`.
        if !Self::RESERVED.is_zero(buf) {
            return Err(Errno::EOPNOTSUPP);
        }
        let in_data_type = if flags & IOMMU_HW_INFO_FLAG_INPUT_TYPE != 0 {
            Self::IN_DATA_TYPE.get_u32(buf)
        } else {
            IOMMU_HW_INFO_TYPE_DEFAULT
        };
        Ok(Self {
            flags,
            dev_id: Self::DEV_ID.get_u32(buf),
            data_len: Self::DATA_LEN.get_u32(buf),
            data_uptr: Self::DATA_UPTR.get_u64(buf),
            in_data_type,
            out_data_type: 0,
            out_max_pasid_log2: 0,
            out_capabilities: 0,
        })
    }

    /// After the device lookup, for a driver that reports hardware info of type
    /// `device_type`: `EOPNOTSUPP` unless the requested type is `DEFAULT` or `device_type`.
    pub fn check_requested_type(&self, device_type: u32) -> Result {
        if self.in_data_type != IOMMU_HW_INFO_TYPE_DEFAULT && self.in_data_type != device_type {
            return Err(Errno::EOPNOTSUPP);
        }
        Ok(())
    }

    /// Writes every input field, and `size` (`in_data_type` only with `INPUT_TYPE`).
    pub fn encode(&self, buf: &mut [u8]) {
        SIZE_FIELD.put_u32(buf, Self::LAYOUT.size as u32);
        Self::FLAGS.put_u32(buf, self.flags);
        Self::DEV_ID.put_u32(buf, self.dev_id);
        Self::DATA_LEN.put_u32(buf, self.data_len);
        Self::DATA_UPTR.put_u64(buf, self.data_uptr);
        Self::IN_DATA_TYPE.put_u32(buf, self.in_data_type);
        Self::RESERVED.put(buf, [0; 3]);
    }

    /// Writes `data_len`, `out_data_type`, `out_max_pasid_log2` and `out_capabilities`.
    pub fn encode_response(&self, buf: &mut [u8]) {
        Self::DATA_LEN.put_u32(buf, self.data_len);
        Self::OUT_DATA_TYPE.put_u32(buf, self.out_data_type);
        Self::OUT_MAX_PASID_LOG2.put_u8(buf, self.out_max_pasid_log2);
        Self::OUT_CAPABILITIES.put_u64(buf, self.out_capabilities);
    }
}

impl_ucmd!(HwInfo, Cmd::GetHwInfo);

#[cfg(test)]
mod tests {
    use super::super::test_cmd::IOMMU_HW_INFO_TYPE_SELFTEST;
    use super::*;

    fn info(flags: u32, in_type: u32, reserved: [u8; 3]) -> [u8; 40] {
        let mut b = [0u8; 40];
        HwInfo::FLAGS.put_u32(&mut b, flags);
        HwInfo::DEV_ID.put_u32(&mut b, 4);
        HwInfo::DATA_LEN.put_u32(&mut b, 8);
        HwInfo::IN_DATA_TYPE.put_u32(&mut b, in_type);
        HwInfo::RESERVED.put(&mut b, reserved);
        b
    }

    #[test]
    fn hw_info_errnos() {
        let plain = HwInfo::decode(&info(0, 0, [0; 3])).unwrap();
        assert_eq!((plain.dev_id, plain.data_len), (4, 8));
        assert_eq!(plain.in_data_type, IOMMU_HW_INFO_TYPE_DEFAULT);
        // Without the flag a stray type is ignored.
        let stray = HwInfo::decode(&info(0, 77, [0; 3])).unwrap();
        assert_eq!(stray.in_data_type, IOMMU_HW_INFO_TYPE_DEFAULT);
        assert_eq!(
            stray.check_requested_type(IOMMU_HW_INFO_TYPE_SELFTEST),
            Ok(())
        );
        // With it the type is kept and checked after the lookup.
        let req = HwInfo::decode(&info(1, IOMMU_HW_INFO_TYPE_SELFTEST + 1, [0; 3])).unwrap();
        assert_eq!(
            req.check_requested_type(IOMMU_HW_INFO_TYPE_SELFTEST),
            Err(Errno::EOPNOTSUPP)
        );
        let ok = HwInfo::decode(&info(1, IOMMU_HW_INFO_TYPE_SELFTEST, [0; 3])).unwrap();
        assert_eq!(ok.check_requested_type(IOMMU_HW_INFO_TYPE_SELFTEST), Ok(()));
        // Any other flag, and each reserved byte.
        assert_eq!(HwInfo::decode(&info(2, 0, [0; 3])), Err(Errno::EOPNOTSUPP));
        assert_eq!(HwInfo::decode(&info(3, 0, [0; 3])), Err(Errno::EOPNOTSUPP));
        for i in 0..3 {
            let mut r = [0u8; 3];
            r[i] = 0x80;
            assert_eq!(HwInfo::decode(&info(1, 0, r)), Err(Errno::EOPNOTSUPP));
        }
    }

    #[test]
    fn hw_info_response() {
        let mut b = info(1, IOMMU_HW_INFO_TYPE_SELFTEST, [0; 3]);
        let mut i = HwInfo::decode(&b).unwrap();
        i.data_len = 8;
        i.out_data_type = IOMMU_HW_INFO_TYPE_SELFTEST;
        i.out_max_pasid_log2 = 20;
        i.out_capabilities = IOMMU_HW_CAP_DIRTY_TRACKING;
        i.encode_response(&mut b);
        assert_eq!(
            HwInfo::OUT_DATA_TYPE.get_u32(&b),
            IOMMU_HW_INFO_TYPE_SELFTEST
        );
        assert_eq!(HwInfo::OUT_MAX_PASID_LOG2.get_u8(&b), 20);
        assert_eq!(HwInfo::RESERVED.get(&b), [0; 3]);
        assert_eq!(HwInfo::OUT_CAPABILITIES.get_u64(&b), 1);
        // A 32-byte user struct (the minimum) gets everything but out_capabilities.
        let mut short = [0u8; 32];
        i.encode_response(&mut short);
        assert_eq!(HwInfo::OUT_MAX_PASID_LOG2.get_u8(&short), 20);
    }
}
