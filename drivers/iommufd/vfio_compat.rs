// SPDX-License-Identifier: GPL-2.0

//! VFIO type1 container compatibility (C `vfio_compat.c`): `IOMMU_VFIO_IOAS` and the VFIO
//! container ioctls answered on an iommufd (or on `/dev/vfio/vfio` when iommufd provides it),
//! all working on the context's compatibility IOAS.
//!
//! The rules are the core's [`crate::iommufd_core::vfio_compat`]; this file does the user
//! copies and the IOAS work.
//!
//! Lock order: one table for the module, `Documentation/locking.md`. Here: the IOAS's io_pagetable
//! lock, then the objects lock (as everywhere).

use crate::ioas::Ioas;
use crate::{
    ctx::{IommufdCtx, Ucmd},
    iommufd_core::{
        errno::Errno,
        iopt::Placement,
        ucmd::vfio::{VfioIoas, VfioIoasOp},
        vfio_compat::{
            self as rules, align8, cap_header, DmaMap, DmaUnmap, IommuInfo, SetIommu, UnmapWhat,
        },
    },
    object,
    pages::{kernel_capable, PAGE_SIZE},
    user,
};
use kernel::prelude::*;

/// `VFIO_MINOR` of `include/linux/miscdevice.h`: the minor of `/dev/vfio/vfio`.
pub(crate) const VFIO_MINOR: i32 = 196;

/// C: `pr_info_once("IOMMUFD is providing /dev/vfio/vfio, not VFIO.\n")` on the first open.
pub(crate) fn announce() {
    static ONCE: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);
    if !ONCE.swap(true, core::sync::atomic::Ordering::Relaxed) {
        pr_info!("IOMMUFD is providing /dev/vfio/vfio, not VFIO.\n");
    }
}

/// The fixed head of a VFIO struct (C's `copy_from_user(&x, arg, minsz)`).
fn read_head<const N: usize>(arg: usize) -> Result<[u8; N], Errno> {
    let mut head = [0u8; N];
    user::read(arg, &mut head)?;
    Ok(head)
}

/// `IOMMU_VFIO_IOAS` (C `iommufd_vfio_ioas`).
pub(crate) fn vfio_ioas(ucmd: &mut Ucmd<'_>) -> Result<(), Errno> {
    let mut cmd = VfioIoas::decode(ucmd.buf())?;
    let objects = ucmd.ctx().objects();
    match cmd.op {
        VfioIoasOp::Get => {
            cmd.ioas_id = {
                let ioas = object::get_compat::<Ioas>(objects)?;
                ioas.id()
            };
            cmd.encode_response(ucmd.buf_mut());
            ucmd.respond()
        }
        VfioIoasOp::Set => {
            let ioas = object::get::<Ioas>(objects, cmd.ioas_id)?;
            objects.lock().vfio_ioas = Some(ioas.id());
            Ok(())
        }
        VfioIoasOp::Clear => {
            objects.lock().vfio_ioas = None;
            Ok(())
        }
    }
}

/// C `iommufd_vfio_ioctl`: the VFIO container ioctls; `ENOTTY` for anything else.
pub(crate) fn ioctl(ctx: &IommufdCtx, cmd: u32, arg: usize) -> Result<isize, Errno> {
    match cmd {
        rules::VFIO_GET_API_VERSION => Ok(rules::VFIO_API_VERSION),
        rules::VFIO_SET_IOMMU => set_iommu(ctx, arg).map(|()| 0),
        rules::VFIO_CHECK_EXTENSION => check_extension(ctx, arg),
        rules::VFIO_IOMMU_GET_INFO => get_info(ctx, arg).map(|()| 0),
        rules::VFIO_IOMMU_MAP_DMA => map_dma(ctx, arg).map(|()| 0),
        rules::VFIO_IOMMU_UNMAP_DMA => unmap_dma(ctx, arg).map(|()| 0),
        _ => Err(Errno::ENOTTY),
    }
}

fn no_iommu_mode(ctx: &IommufdCtx) -> bool {
    ctx.objects().lock().no_iommu_mode
}

/// C `iommufd_vfio_check_extension`.
fn check_extension(ctx: &IommufdCtx, ty: usize) -> Result<isize, Errno> {
    let noiommu_built = cfg!(CONFIG_VFIO_NOIOMMU);
    match rules::check_extension(ty, no_iommu_mode(ctx), noiommu_built) {
        Some(v) => Ok(v),
        // VFIO_DMA_CC_IOMMU (C `iommufd_vfio_cc_iommu`): 1 unless a HW page table of the
        // compat IOAS does not enforce coherency; HW page tables come with devices, so with
        // none every one of them (vacuously) does.
        None => object::get_compat::<Ioas>(ctx.objects()).map(|_| 1),
    }
}

/// C `iommufd_vfio_set_iommu`.
fn set_iommu(ctx: &IommufdCtx, ty: usize) -> Result<(), Errno> {
    match rules::set_iommu(ty, no_iommu_mode(ctx), cfg!(CONFIG_VFIO_NOIOMMU))? {
        SetIommu::NoIommu => {
            if kernel_capable(kernel::cred::Capability::SYS_RAWIO) {
                Ok(())
            } else {
                Err(Errno::EPERM)
            }
        }
        kind => {
            // VFIO fails SET_IOMMU without a group, i.e. without a compat IOAS.
            let ioas = object::get_compat::<Ioas>(ctx.objects())?;
            if kind == SetIommu::Type1 {
                // Type1 may unmap inside a mapping: no large IOPTEs that cannot be split.
                ioas.iopt().disable_large_pages()
            } else {
                Ok(())
            }
        }
    }
}

/// C `iommufd_vfio_map_dma`: a fixed-IOVA map into the compat IOAS.
fn map_dma(ctx: &IommufdCtx, arg: usize) -> Result<(), Errno> {
    let map = DmaMap::decode(&read_head::<{ DmaMap::MINSZ }>(arg)?)?;
    let ioas = object::get_compat::<Ioas>(ctx.objects())?;
    ioas.map_user_pages(
        ctx,
        Placement::Fixed(map.iova),
        map.vaddr,
        map.size,
        map.iommu_prot(),
    )
    .map(|_| ())
}

/// C `iommufd_vfio_unmap_dma`.
fn unmap_dma(ctx: &IommufdCtx, arg: usize) -> Result<(), Errno> {
    let mut unmap = DmaUnmap::decode(&read_head::<{ DmaUnmap::MINSZ }>(arg)?)?;
    let ioas = object::get_compat::<Ioas>(ctx.objects())?;
    // Accesses in the range are notified (without the io_pagetable lock) as for
    // IOMMU_IOAS_UNMAP.
    let (unmapped, rc) = match unmap.what()? {
        UnmapWhat::All => crate::access::unmap_iova_range(&ioas, 0, u64::MAX),
        UnmapWhat::Range { iova, size } => {
            {
                let mut iopt = ioas.iopt();
                if iopt.core().large_pages_disabled() {
                    // Type1: cut at both ends so that the range is made of whole areas.
                    let (points, n) = unmap.cut_points();
                    iopt.cut_iova(points.get(..n).unwrap_or(&[]))?;
                }
            }
            // C `iopt_unmap_iova()`.
            if size == 0 {
                (0, Err(Errno::EINVAL))
            } else {
                match iova.checked_add(size - 1) {
                    Some(last) => crate::access::unmap_iova_range(&ioas, iova, last),
                    None => (0, Err(Errno::EOVERFLOW)),
                }
            }
        }
    };
    unmap.size = unmapped;
    let mut head = [0u8; DmaUnmap::MINSZ];
    unmap.encode(&mut head);
    user::write(arg, &head)?;
    rc
}

/// C `iommufd_vfio_iommu_get_info`: page sizes, and the DMA-available and IOVA-range
/// capabilities as far as the user's `argsz` allows.
fn get_info(ctx: &IommufdCtx, arg: usize) -> Result<(), Errno> {
    let (mut info, minsz) = IommuInfo::decode(&read_head::<{ IommuInfo::MINSZ }>(arg)?)?;
    let ioas = object::get_compat::<Ioas>(ctx.objects())?;
    let iopt = ioas.iopt();
    // C `iommufd_get_pagesizes()`: what every domain supports, folded as VFIO does.
    info.flags = rules::VFIO_IOMMU_INFO_PGSIZES;
    info.iova_pgsizes = rules::pagesizes(
        iopt.domains_pgsize_bitmap(),
        PAGE_SIZE,
        iopt.core().iova_alignment(),
    );
    info.cap_offset = 0;

    let argsz = info.argsz as usize;
    let mut total = IommuInfo::SIZE;
    let mut last_cap: Option<usize> = None;
    for cap in 0..2 {
        let avail = argsz.saturating_sub(total);
        let at = user::offset(arg, total)?;
        let size = if cap == 0 {
            fill_cap_dma_avail(at, avail)?
        } else {
            fill_cap_iova(&iopt, at, avail)?
        };
        if let Some(prev) = last_cap {
            if argsz >= total {
                // `next` of the previous header.
                let next = u32::try_from(total).map_err(|_| Errno::EFAULT)?;
                user::write(user::offset(prev, 4)?, &next.to_ne_bytes())?;
            }
        }
        last_cap = Some(at);
        total += align8(size);
    }
    if argsz >= total {
        info.cap_offset = IommuInfo::SIZE as u32;
    }
    info.argsz = u32::try_from(total).map_err(|_| Errno::EFAULT)?;
    info.flags |= rules::VFIO_IOMMU_INFO_CAPS;
    let mut out = [0u8; IommuInfo::SIZE];
    info.encode(&mut out);
    user::write(arg, out.get(..minsz).unwrap_or(&out))
}

/// C `iommufd_fill_cap_dma_avail`: `U32_MAX` (iommufd's limit is the memory cgroup's).
fn fill_cap_dma_avail(at: usize, avail: usize) -> Result<usize, Errno> {
    if avail >= rules::CAP_DMA_AVAIL_SIZE {
        let mut cap = [0u8; rules::CAP_DMA_AVAIL_SIZE];
        cap[..8].copy_from_slice(&cap_header(rules::VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL, 0));
        cap[8..12].copy_from_slice(&u32::MAX.to_ne_bytes());
        user::write(at, &cap)?;
    }
    Ok(rules::CAP_DMA_AVAIL_SIZE)
}

/// C `iommufd_fill_cap_iova`: the usable IOVA ranges (holes of the reserved ranges).
fn fill_cap_iova(
    iopt: &crate::io_pagetable::IoptState,
    at: usize,
    avail: usize,
) -> Result<usize, Errno> {
    let mut n: usize = 0;
    iopt.core().for_each_iova_range(|span| {
        let size = rules::CAP_IOVA_RANGE_HEAD + (n + 1) * rules::IOVA_RANGE_SIZE;
        if avail >= size {
            let mut range = [0u8; rules::IOVA_RANGE_SIZE];
            range[..8].copy_from_slice(&span.start.to_ne_bytes());
            range[8..].copy_from_slice(&span.last.to_ne_bytes());
            let off = rules::CAP_IOVA_RANGE_HEAD + n * rules::IOVA_RANGE_SIZE;
            user::write(user::offset(at, off)?, &range)?;
        }
        n += 1;
        Ok(())
    })?;
    let size = rules::CAP_IOVA_RANGE_HEAD + n * rules::IOVA_RANGE_SIZE;
    if avail >= size {
        let mut head = [0u8; rules::CAP_IOVA_RANGE_HEAD];
        head[..8].copy_from_slice(&cap_header(rules::VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE, 0));
        head[8..12].copy_from_slice(&(n as u32).to_ne_bytes());
        user::write(at, &head)?;
    }
    Ok(size)
}
