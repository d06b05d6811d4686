// SPDX-License-Identifier: GPL-2.0

//! The VFIO type1 container ioctls that iommufd answers on its own file (C `vfio_compat.c`):
//! numbers, struct layouts and the rules that need no object.
//!
//! The shell reads the fixed head of each struct (`minsz` bytes, as C's `copy_from_user`),
//! hands it here, does the IOAS work and writes back what [`DmaUnmap::encode`] and
//! [`IommuInfo::encode`] produce.

use super::errno::{Errno, Result};
use super::ucmd::Field;

/// `VFIO_TYPE` (`';'`) and `VFIO_BASE` of `include/uapi/linux/vfio.h`.
const VFIO_TYPE: u32 = b';' as u32;
const VFIO_BASE: u32 = 100;

/// `VFIO_GET_API_VERSION`.
pub const VFIO_GET_API_VERSION: u32 = (VFIO_TYPE << 8) | VFIO_BASE;
/// `VFIO_CHECK_EXTENSION`.
pub const VFIO_CHECK_EXTENSION: u32 = (VFIO_TYPE << 8) | (VFIO_BASE + 1);
/// `VFIO_SET_IOMMU`.
pub const VFIO_SET_IOMMU: u32 = (VFIO_TYPE << 8) | (VFIO_BASE + 2);
/// `VFIO_IOMMU_GET_INFO`.
pub const VFIO_IOMMU_GET_INFO: u32 = (VFIO_TYPE << 8) | (VFIO_BASE + 12);
/// `VFIO_IOMMU_MAP_DMA`.
pub const VFIO_IOMMU_MAP_DMA: u32 = (VFIO_TYPE << 8) | (VFIO_BASE + 13);
/// `VFIO_IOMMU_UNMAP_DMA`.
pub const VFIO_IOMMU_UNMAP_DMA: u32 = (VFIO_TYPE << 8) | (VFIO_BASE + 14);

/// `VFIO_API_VERSION`.
pub const VFIO_API_VERSION: isize = 0;

/// Extension and IOMMU types (`VFIO_CHECK_EXTENSION` / `VFIO_SET_IOMMU` arguments).
pub const VFIO_TYPE1_IOMMU: usize = 1;
/// `VFIO_TYPE1v2_IOMMU`.
pub const VFIO_TYPE1V2_IOMMU: usize = 3;
/// `VFIO_DMA_CC_IOMMU`.
pub const VFIO_DMA_CC_IOMMU: usize = 4;
/// `VFIO_TYPE1_NESTING_IOMMU`.
pub const VFIO_TYPE1_NESTING_IOMMU: usize = 6;
/// `VFIO_NOIOMMU_IOMMU`.
pub const VFIO_NOIOMMU_IOMMU: usize = 8;
/// `VFIO_UNMAP_ALL`.
pub const VFIO_UNMAP_ALL: usize = 9;
/// `VFIO_UPDATE_VADDR`.
pub const VFIO_UPDATE_VADDR: usize = 10;

/// `VFIO_DMA_MAP_FLAG_READ`.
pub const VFIO_DMA_MAP_FLAG_READ: u32 = 1 << 0;
/// `VFIO_DMA_MAP_FLAG_WRITE`.
pub const VFIO_DMA_MAP_FLAG_WRITE: u32 = 1 << 1;
/// `VFIO_DMA_UNMAP_FLAG_ALL`.
pub const VFIO_DMA_UNMAP_FLAG_ALL: u32 = 1 << 1;
/// `VFIO_IOMMU_INFO_PGSIZES`.
pub const VFIO_IOMMU_INFO_PGSIZES: u32 = 1 << 0;
/// `VFIO_IOMMU_INFO_CAPS`.
pub const VFIO_IOMMU_INFO_CAPS: u32 = 1 << 1;
/// `VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE`.
pub const VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE: u16 = 1;
/// `VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL`.
pub const VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL: u16 = 3;

/// What `VFIO_CHECK_EXTENSION` answers (C `iommufd_vfio_check_extension`), for the types that
/// need no IOAS. `None`: `VFIO_DMA_CC_IOMMU`, which asks the compat IOAS's HW page tables.
pub fn check_extension(ty: usize, no_iommu_mode: bool, noiommu_built: bool) -> Option<isize> {
    Some(match ty {
        VFIO_TYPE1_IOMMU | VFIO_TYPE1V2_IOMMU | VFIO_UNMAP_ALL => isize::from(!no_iommu_mode),
        VFIO_NOIOMMU_IOMMU => isize::from(noiommu_built),
        VFIO_DMA_CC_IOMMU => return None,
        // VFIO_TYPE1_NESTING_IOMMU, VFIO_UPDATE_VADDR and anything else.
        _ => 0,
    })
}

/// What `VFIO_SET_IOMMU` needs of the IOAS (C `iommufd_vfio_set_iommu`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SetIommu {
    /// `VFIO_NOIOMMU_IOMMU` in no-iommu mode: only `CAP_SYS_RAWIO` is checked.
    NoIommu,
    /// Type1v2: just that a compat IOAS exists.
    Type1v2,
    /// Type1: and large pages disabled, so that any range can be unmapped.
    Type1,
}

/// Classifies a `VFIO_SET_IOMMU` type; `EINVAL` for anything but type1/type1v2 (or no-iommu
/// in no-iommu mode when built).
pub fn set_iommu(ty: usize, no_iommu_mode: bool, noiommu_built: bool) -> Result<SetIommu> {
    if noiommu_built && ty == VFIO_NOIOMMU_IOMMU && no_iommu_mode {
        return Ok(SetIommu::NoIommu);
    }
    if (ty != VFIO_TYPE1_IOMMU && ty != VFIO_TYPE1V2_IOMMU) || no_iommu_mode {
        return Err(Errno::EINVAL);
    }
    Ok(if ty == VFIO_TYPE1_IOMMU {
        SetIommu::Type1
    } else {
        SetIommu::Type1v2
    })
}

/// `struct vfio_iommu_type1_dma_map` up to `size` (C's `minsz`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct DmaMap {
    /// `flags`.
    pub flags: u32,
    /// `vaddr`.
    pub vaddr: u64,
    /// `iova`.
    pub iova: u64,
    /// `size`.
    pub size: u64,
}

impl DmaMap {
    /// `offsetofend(struct vfio_iommu_type1_dma_map, size)`.
    pub const MINSZ: usize = 32;
    const ARGSZ: Field<4> = Field::new("argsz", 0);
    const FLAGS: Field<4> = Field::new("flags", 4);
    const VADDR: Field<8> = Field::new("vaddr", 8);
    const IOVA: Field<8> = Field::new("iova", 16);
    const SIZE: Field<8> = Field::new("size", 24);

    /// C `iommufd_vfio_map_dma` before the IOAS lookup: `EINVAL` for a short `argsz` or
    /// unknown flags.
    pub fn decode(head: &[u8]) -> Result<Self> {
        let flags = Self::FLAGS.get_u32(head);
        if (Self::ARGSZ.get_u32(head) as usize) < Self::MINSZ
            || flags & !(VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE) != 0
        {
            return Err(Errno::EINVAL);
        }
        Ok(DmaMap {
            flags,
            vaddr: Self::VADDR.get_u64(head),
            iova: Self::IOVA.get_u64(head),
            size: Self::SIZE.get_u64(head),
        })
    }

    /// `IOMMU_READ`/`IOMMU_WRITE`/`IOMMU_CACHE` for these flags (C: `IOMMU_CACHE` always).
    pub fn iommu_prot(&self) -> u32 {
        let mut prot = super::iopt::IOMMU_CACHE;
        if self.flags & VFIO_DMA_MAP_FLAG_READ != 0 {
            prot |= super::iopt::IOMMU_READ;
        }
        if self.flags & VFIO_DMA_MAP_FLAG_WRITE != 0 {
            prot |= super::iopt::IOMMU_WRITE;
        }
        prot
    }
}

/// `struct vfio_iommu_type1_dma_unmap` up to `size`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct DmaUnmap {
    /// `argsz`, written back unchanged.
    pub argsz: u32,
    /// `flags`.
    pub flags: u32,
    /// `iova`.
    pub iova: u64,
    /// Input: bytes to unmap; output: bytes unmapped.
    pub size: u64,
}

/// What an unmap asks for, after the checks C makes once it has the IOAS.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum UnmapWhat {
    /// `VFIO_DMA_UNMAP_FLAG_ALL`.
    All,
    /// A range.
    Range {
        /// First IOVA.
        iova: u64,
        /// Bytes.
        size: u64,
    },
}

impl DmaUnmap {
    /// `offsetofend(struct vfio_iommu_type1_dma_unmap, size)`.
    pub const MINSZ: usize = 24;
    const ARGSZ: Field<4> = Field::new("argsz", 0);
    const FLAGS: Field<4> = Field::new("flags", 4);
    const IOVA: Field<8> = Field::new("iova", 8);
    const SIZE: Field<8> = Field::new("size", 16);

    /// C `iommufd_vfio_unmap_dma` before the IOAS lookup: `EINVAL` for a short `argsz` or a
    /// flag other than `VFIO_DMA_UNMAP_FLAG_ALL`.
    pub fn decode(head: &[u8]) -> Result<Self> {
        let argsz = Self::ARGSZ.get_u32(head);
        let flags = Self::FLAGS.get_u32(head);
        if (argsz as usize) < Self::MINSZ || flags & !VFIO_DMA_UNMAP_FLAG_ALL != 0 {
            return Err(Errno::EINVAL);
        }
        Ok(DmaUnmap {
            argsz,
            flags,
            iova: Self::IOVA.get_u64(head),
            size: Self::SIZE.get_u64(head),
        })
    }

    /// After the IOAS lookup: unmap-all must come with `iova` and `size` 0 (`EINVAL`).
    pub fn what(&self) -> Result<UnmapWhat> {
        if self.flags & VFIO_DMA_UNMAP_FLAG_ALL != 0 {
            if self.iova != 0 || self.size != 0 {
                return Err(Errno::EINVAL);
            }
            return Ok(UnmapWhat::All);
        }
        Ok(UnmapWhat::Range {
            iova: self.iova,
            size: self.size,
        })
    }

    /// The type1 cut points for a range unmap with large pages disabled (C: `{iova + size -
    /// 1, iova - 1}`, the second only if `iova != 0`; `unsigned long` arithmetic wraps).
    pub fn cut_points(&self) -> ([u64; 2], usize) {
        let last = self.iova.wrapping_add(self.size).wrapping_sub(1);
        (
            [last, self.iova.wrapping_sub(1)],
            if self.iova != 0 { 2 } else { 1 },
        )
    }

    /// The head written back (`minsz` bytes), with `size` set to the bytes unmapped.
    pub fn encode(&self, head: &mut [u8]) {
        Self::ARGSZ.put_u32(head, self.argsz);
        Self::FLAGS.put_u32(head, self.flags);
        Self::IOVA.put_u64(head, self.iova);
        Self::SIZE.put_u64(head, self.size);
    }
}

/// `struct vfio_iommu_type1_info` (24 bytes; `minsz` is 16, up to `iova_pgsizes`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct IommuInfo {
    /// `argsz`.
    pub argsz: u32,
    /// `flags`.
    pub flags: u32,
    /// `iova_pgsizes`.
    pub iova_pgsizes: u64,
    /// `cap_offset`.
    pub cap_offset: u32,
}

impl IommuInfo {
    /// `offsetofend(struct vfio_iommu_type1_info, iova_pgsizes)`.
    pub const MINSZ: usize = 16;
    /// `sizeof(struct vfio_iommu_type1_info)`.
    pub const SIZE: usize = 24;
    const ARGSZ: Field<4> = Field::new("argsz", 0);
    const FLAGS: Field<4> = Field::new("flags", 4);
    const IOVA_PGSIZES: Field<8> = Field::new("iova_pgsizes", 8);
    const CAP_OFFSET: Field<4> = Field::new("cap_offset", 16);

    /// C `iommufd_vfio_iommu_get_info` before the IOAS lookup: `EINVAL` if `argsz < minsz`.
    /// Returns the info and how many bytes of it go back (`min(argsz, sizeof)`).
    pub fn decode(head: &[u8]) -> Result<(Self, usize)> {
        let argsz = Self::ARGSZ.get_u32(head);
        if (argsz as usize) < Self::MINSZ {
            return Err(Errno::EINVAL);
        }
        let info = IommuInfo {
            argsz,
            ..Default::default()
        };
        Ok((info, (argsz as usize).min(Self::SIZE)))
    }

    /// The struct's bytes.
    pub fn encode(&self, out: &mut [u8]) {
        Self::ARGSZ.put_u32(out, self.argsz);
        Self::FLAGS.put_u32(out, self.flags);
        Self::IOVA_PGSIZES.put_u64(out, self.iova_pgsizes);
        Self::CAP_OFFSET.put_u32(out, self.cap_offset);
        Field::<4>::new("pad", 20).put_u32(out, 0);
    }
}

/// C `iommufd_get_pagesizes()`: the page sizes every domain of the IOAS supports (all of
/// them with no domain), with sub-page sizes folded into `PAGE_SIZE`, and at least the IOAS's
/// IOVA alignment.
pub fn pagesizes(domains_pgsize_and: u64, page_size: u64, iova_alignment: u64) -> u64 {
    let page_mask = !(page_size - 1);
    let mut bitmap = domains_pgsize_and;
    if bitmap & !page_mask != 0 {
        bitmap &= page_mask;
        bitmap |= page_size;
    }
    bitmap.max(iova_alignment)
}

/// Size of `struct vfio_iommu_type1_info_dma_avail` (header 8 + `avail` 4).
pub const CAP_DMA_AVAIL_SIZE: usize = 12;
/// Size of `struct vfio_iommu_type1_info_cap_iova_range` without ranges (header 8,
/// `nr_iovas` 4, `reserved` 4).
pub const CAP_IOVA_RANGE_HEAD: usize = 16;
/// Size of one `struct vfio_iova_range`.
pub const IOVA_RANGE_SIZE: usize = 16;

/// A capability header's bytes: `id`, `version` 1, `next`.
pub fn cap_header(id: u16, next: u32) -> [u8; 8] {
    let mut b = [0u8; 8];
    Field::<2>::new("id", 0).put_u16(&mut b, id);
    Field::<2>::new("version", 2).put_u16(&mut b, 1);
    Field::<4>::new("next", 4).put_u32(&mut b, next);
    b
}

/// `ALIGN(x, sizeof(u64))`.
pub const fn align8(x: usize) -> usize {
    (x + 7) & !7
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(VFIO_GET_API_VERSION, 0x3b64);
        assert_eq!(VFIO_IOMMU_UNMAP_DMA, 0x3b72);
    }

    #[test]
    fn extensions_and_set_iommu() {
        assert_eq!(check_extension(VFIO_TYPE1V2_IOMMU, false, false), Some(1));
        assert_eq!(check_extension(VFIO_TYPE1_IOMMU, true, false), Some(0));
        assert_eq!(check_extension(VFIO_DMA_CC_IOMMU, false, false), None);
        assert_eq!(
            check_extension(VFIO_TYPE1_NESTING_IOMMU, false, false),
            Some(0)
        );
        assert_eq!(check_extension(VFIO_UPDATE_VADDR, false, false), Some(0));
        assert_eq!(
            set_iommu(VFIO_TYPE1_IOMMU, false, false),
            Ok(SetIommu::Type1)
        );
        assert_eq!(set_iommu(2, false, false), Err(Errno::EINVAL));
        assert_eq!(
            set_iommu(VFIO_TYPE1V2_IOMMU, true, false),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            set_iommu(VFIO_NOIOMMU_IOMMU, true, true),
            Ok(SetIommu::NoIommu)
        );
    }

    #[test]
    fn map_unmap_decode() {
        let mut b = [0u8; 32];
        Field::<4>::new("argsz", 0).put_u32(&mut b, 32);
        Field::<4>::new("flags", 4).put_u32(&mut b, 3);
        assert!(DmaMap::decode(&b).is_ok());
        Field::<4>::new("flags", 4).put_u32(&mut b, 4);
        assert_eq!(DmaMap::decode(&b), Err(Errno::EINVAL));
        Field::<4>::new("flags", 4).put_u32(&mut b, 1);
        Field::<4>::new("argsz", 0).put_u32(&mut b, 31);
        assert_eq!(DmaMap::decode(&b), Err(Errno::EINVAL));

        let mut u = [0u8; 24];
        Field::<4>::new("argsz", 0).put_u32(&mut u, 24);
        Field::<4>::new("flags", 4).put_u32(&mut u, VFIO_DMA_UNMAP_FLAG_ALL);
        Field::<8>::new("size", 16).put_u64(&mut u, 1);
        let d = DmaUnmap::decode(&u).unwrap();
        assert_eq!(d.what(), Err(Errno::EINVAL));
        Field::<4>::new("flags", 4).put_u32(&mut u, 1);
        assert_eq!(DmaUnmap::decode(&u), Err(Errno::EINVAL));
        let r = DmaUnmap {
            argsz: 24,
            flags: 0,
            iova: 0,
            size: 4096,
        };
        assert_eq!(r.cut_points(), ([4095, u64::MAX], 1));
    }

    #[test]
    fn pagesizes_rules() {
        assert_eq!(pagesizes(u64::MAX, 4096, 1), u64::MAX & !4095 | 4096);
        assert_eq!(pagesizes(0x1000 | 0x200000, 4096, 1), 0x201000);
        assert_eq!(pagesizes(0x800, 4096, 1), 4096);
        assert_eq!(pagesizes(0x1000, 4096, 0x200000), 0x200000);
    }
}
