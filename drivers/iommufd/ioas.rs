// SPDX-License-Identifier: GPL-2.0

//! IO address spaces (C `ioas.c`): the IOAS object and its ioctls, `IOMMU_IOAS_ALLOC`,
//! `_IOVA_RANGES`, `_ALLOW_IOVAS`, `_MAP`, `_COPY`, `_UNMAP` and the `HUGE_PAGES` option.
//!
//! The IOVA bookkeeping is the io_pagetable, [`IoptState`] (the core's `Iopt`); each area holds
//! a reference (`Arc<Pages>`) to the pages object it maps.
//!
//! Lock order: one table for the module, `Documentation/locking.md`. Here: `Ioas::iopt` (C
//! `iova_rwsem`), then the object table's lock (dropping an [`ObjRef`](crate::object::ObjRef) while
//! holding it is allowed). User memory is copied with `Ioas::iopt` held, as C does with
//! `iova_rwsem`.

use crate::{
    ctx::{IommufdCtx, Ucmd},
    io_pagetable::IoptState,
    iommufd_core::{
        errno::Errno,
        interval::Span,
        iopt::{MapPiece, Placement, IOMMU_CACHE, IOMMU_READ, IOMMU_WRITE},
        ucmd::{
            ioas::{
                IoasAllowIovas, IoasCopy, IoasIovaRanges, IoasMap, IoasUnmap, IovaRange,
                IOMMU_IOAS_MAP_READABLE, IOMMU_IOAS_MAP_WRITEABLE,
            },
            main::{IommuOption, OptionOp},
            test_cmd::syz_layout,
        },
    },
    object::{self, Object},
    pages::Pages,
    user,
};
use kernel::{
    new_mutex,
    prelude::*,
    sync::{
        lock::{mutex::MutexBackend, Guard},
        Arc, Mutex,
    },
};

/// An IO address space (C `struct iommufd_ioas`).
#[pin_data]
pub(crate) struct Ioas {
    /// C `iopt` with its `iova_rwsem`.
    #[pin]
    iopt: Mutex<IoptState>,
    /// C `hwpt_list` under `ioas->mutex`: the IDs of the paging HWPTs on this IOAS. Held
    /// across an attach so that automatic domains are found or created once.
    #[pin]
    pub(crate) hwpts: Mutex<KVec<u32>>,
}

impl Ioas {
    fn new() -> Result<Arc<Ioas>, Errno> {
        Arc::pin_init(
            pin_init!(Ioas {
                iopt <- new_mutex!(IoptState::new(), "iommufd_ioas::iopt"),
                hwpts <- new_mutex!(KVec::new(), "iommufd_ioas::mutex"),
            }),
            GFP_KERNEL_ACCOUNT,
        )
        .map_err(|_| Errno::ENOMEM)
    }
}

impl Ioas {
    /// Forgets a destroyed paging HWPT (C `list_del(&hwpt_paging->hwpt_item)`).
    pub(crate) fn hwpt_list_remove(&self, id: u32) {
        let mut list = self.hwpts.lock();
        if let Some(pos) = list.iter().position(|x| *x == id) {
            let _ = crate::storage::swap_remove(&mut list, pos);
        }
    }

    /// C `iopt_reserve_iova()` under `iova_rwsem`: reserve `[start, last]` for `owner`
    /// (0: no owner, the selftest's `ADD_RESERVED`).
    pub(crate) fn reserve_iova(&self, start: u64, last: u64, owner: usize) -> Result<(), Errno> {
        self.iopt.lock().iopt.reserve_iova(start, last, owner)
    }
}

/// C `conv_iommu_prot()`: coherent always, plus what the map flags ask for.
fn conv_iommu_prot(flags: u32) -> u32 {
    let mut prot = IOMMU_CACHE;
    if flags & IOMMU_IOAS_MAP_WRITEABLE != 0 {
        prot |= IOMMU_WRITE;
    }
    if flags & IOMMU_IOAS_MAP_READABLE != 0 {
        prot |= IOMMU_READ;
    }
    prot
}

/// `IOMMU_IOAS_ALLOC` (C `iommufd_ioas_alloc_ioctl`).
pub(crate) fn alloc_ioctl(ucmd: &mut Ucmd<'_>) -> Result<(), Errno> {
    let mut cmd = crate::iommufd_core::ucmd::ioas::IoasAlloc::decode(ucmd.buf())?;
    let objects = ucmd.ctx().objects();
    let id = objects.lock().table.reserve()?;
    let ioas = match Ioas::new() {
        Ok(ioas) => ioas,
        Err(e) => {
            objects.lock().table.abort(id);
            return Err(e);
        }
    };
    cmd.out_ioas_id = id;
    cmd.encode_response(ucmd.buf_mut());
    if let Err(e) = ucmd.respond() {
        objects.lock().table.abort(id);
        return Err(e);
    }
    object::finalize(objects, id, Object::new(ioas));
    Ok(())
}

/// C `iommufd_vfio_compat_ioas_create()`: a compat IOAS for VFIO unless one exists; `EINVAL`
/// in no-iommu mode.
pub(crate) fn compat_ioas_create(ctx: crate::ctx::CtxRef) -> Result<(), Errno> {
    let objects = ctx.objects();
    let id = objects.lock().table.reserve()?;
    let ioas = match Ioas::new() {
        Ok(i) => i,
        Err(e) => {
            objects.lock().table.abort(id);
            return Err(e);
        }
    };
    let mut guard = objects.lock();
    if guard.no_iommu_mode {
        guard.table.abort(id);
        return Err(Errno::EINVAL);
    }
    if guard.vfio_ioas.is_some() {
        guard.table.abort(id);
        return Ok(());
    }
    if guard.table.finalize(id, Object::new(ioas)).is_ok() {
        guard.vfio_ioas = Some(id);
    }
    Ok(())
}

/// `IOMMU_IOAS_IOVA_RANGES` (C `iommufd_ioas_iova_ranges`).
pub(crate) fn iova_ranges(ucmd: &mut Ucmd<'_>) -> Result<(), Errno> {
    let mut cmd = IoasIovaRanges::decode(ucmd.buf())?;
    let ioas = object::get::<Ioas>(ucmd.ctx().objects(), cmd.ioas_id)?;
    let iopt = ioas.iopt.lock();
    let max = cmd.num_iovas;
    let mut n: u32 = 0;
    cmd.out_iova_alignment = iopt.iopt.iova_alignment();
    iopt.iopt.for_each_iova_range(|span| {
        if n < max {
            let elm = IovaRange {
                start: span.start,
                last: span.last,
            };
            let at = user::element(cmd.allowed_iovas as usize, n as usize, IovaRange::SIZE)?;
            user::write(at, &elm.to_bytes())?;
        }
        n = n.saturating_add(1);
        Ok(())
    })?;
    cmd.num_iovas = n;
    cmd.encode_response(ucmd.buf_mut());
    ucmd.respond()?;
    if n > max {
        return Err(Errno::EMSGSIZE);
    }
    Ok(())
}

/// `IOMMU_IOAS_ALLOW_IOVAS` (C `iommufd_ioas_allow_iovas`).
pub(crate) fn allow_iovas(ucmd: &mut Ucmd<'_>) -> Result<(), Errno> {
    let cmd = IoasAllowIovas::decode(ucmd.buf())?;
    let ioas = object::get::<Ioas>(ucmd.ctx().objects(), cmd.ioas_id)?;
    let mut iopt = ioas.iopt.lock();
    let base = cmd.allowed_iovas as usize;
    let ranges = (0..cmd.num_iovas as usize).map(|i| {
        let mut b = [0u8; IovaRange::SIZE];
        user::read(user::element(base, i, IovaRange::SIZE)?, &mut b)?;
        let r = IovaRange::from_bytes(&b);
        r.check_allowed()?;
        Ok(Span {
            start: r.start,
            last: r.last,
        })
    });
    let new = iopt.iopt.load_allowed(ranges)?;
    // The old set is dropped (freed) here, after the swap.
    iopt.iopt.set_allowed(new).map(drop)
}

/// `IOMMU_IOAS_MAP` (C `iommufd_ioas_map`).
pub(crate) fn map(ucmd: &mut Ucmd<'_>) -> Result<(), Errno> {
    let mut cmd = IoasMap::decode(ucmd.buf())?;
    let ioas = object::get::<Ioas>(ucmd.ctx().objects(), cmd.ioas_id)?;
    let placement = if cmd.fixed_iova() {
        Placement::Fixed(cmd.iova)
    } else {
        Placement::Alloc { uptr: cmd.user_va }
    };
    cmd.iova = ioas.map_user_pages(
        ucmd.ctx(),
        placement,
        cmd.user_va,
        cmd.length,
        conv_iommu_prot(cmd.flags),
    )?;
    cmd.encode_response(ucmd.buf_mut());
    // As C: the mapping stays even if the reply cannot be written.
    ucmd.respond()
}

impl Ioas {
    /// C `iopt_map_user_pages()`: a new pages object for `[uptr, uptr + length)`, mapped at
    /// `placement`; returns the IOVA. Changes nothing on failure.
    pub(crate) fn map_user_pages(
        &self,
        ctx: &IommufdCtx,
        placement: Placement,
        uptr: u64,
        length: u64,
        prot: u32,
    ) -> Result<u64, Errno> {
        let (pages, start_byte) = Pages::new_user(
            uptr,
            length,
            prot & IOMMU_WRITE != 0,
            ctx.account_mode(),
            ctx.charged().clone(),
        )?;
        let writable = pages.writable();
        let piece = MapPiece {
            handle: pages,
            start_byte,
            length,
            writable,
        };
        let mut iopt = self.iopt.lock();
        let rc =
            iopt.iopt
                .map_pages_pending(core::slice::from_ref(&piece), length, placement, prot);
        // The area holds its own reference now; if the map failed, this was the last one and
        // the pages object goes here, with the lock held.
        drop(piece);
        let iova = rc?;
        // On failure the pending area is aborted and its reference dropped.
        iopt.fill_pending(iova, length)?;
        Ok(iova)
    }

    /// The io_pagetable, locked (C `iova_rwsem`).
    pub(crate) fn iopt(&self) -> Guard<'_, IoptState, MutexBackend> {
        self.iopt.lock()
    }
}

/// `IOMMU_IOAS_COPY` (C `iommufd_ioas_copy`): maps the pages behind a range of one IOAS into
/// another, sharing them (no second pin, no second charge).
pub(crate) fn copy(ucmd: &mut Ucmd<'_>) -> Result<(), Errno> {
    let objects = ucmd.ctx().objects();
    let mut cmd = if crate::ctx::WITH_TEST {
        IoasCopy::decode_mock(ucmd.buf(), |id, iova| syz_conv_iova(objects, id, iova))?
    } else {
        IoasCopy::decode(ucmd.buf())?
    };
    // Each piece holds its own reference to its pages object (cloned by `get_pages`).
    let mut pieces: KVec<MapPiece<Arc<Pages>>> = KVec::new();
    {
        let src = object::get::<Ioas>(objects, cmd.src_ioas_id)?;
        let iopt = src.iopt.lock();
        let rc = iopt.iopt.get_pages(cmd.src_iova, cmd.length, |p| {
            let writable = p.handle.writable();
            let piece = MapPiece {
                handle: p.handle,
                start_byte: p.start_byte,
                length: p.length,
                writable,
            };
            pieces
                .push(piece, GFP_KERNEL_ACCOUNT)
                .map_err(|_| Errno::ENOMEM)
        });
        if let Err(e) = rc {
            drop(pieces);
            return Err(e);
        }
    }
    let rc = (|| {
        let dst = object::get::<Ioas>(objects, cmd.dst_ioas_id)?;
        let placement = if cmd.fixed_iova() {
            Placement::Fixed(cmd.dst_iova)
        } else {
            let first = pieces.first().ok_or(Errno::ENOENT)?;
            let uptr = first.handle.uptr() + first.start_byte;
            Placement::Alloc { uptr }
        };
        let mut iopt = dst.iopt.lock();
        let iova = iopt.iopt.map_pages_pending(
            &pieces,
            cmd.length,
            placement,
            conv_iommu_prot(cmd.flags),
        )?;
        // The areas hold their own references now: drop the pieces' before filling, so that
        // if the fill fails, the aborted areas drop the last ones (as before the map).
        drop(core::mem::replace(&mut pieces, KVec::new()));
        iopt.fill_pending(iova, cmd.length)?;
        cmd.dst_iova = iova;
        Ok(())
    })();
    match rc {
        Ok(()) => {
            cmd.encode_response(ucmd.buf_mut());
            ucmd.respond()
        }
        Err(e) => {
            drop(pieces);
            Err(e)
        }
    }
}

/// C `iommufd_test_syz_conv_iova_id()` (mock builds): a syzkaller-mode IOVA names the
/// `nth_area`-th area of the IOAS and an offset in it; an IOAS that cannot be found leaves the
/// IOVA as it is, a missing area makes it 0.
fn syz_conv_iova(objects: &object::Objects, ioas_id: u32, iova: u64) -> u64 {
    let Ok(ioas) = object::get::<Ioas>(objects, ioas_id) else {
        return iova;
    };
    let (nth, offset) = syz_layout(iova);
    let iopt = ioas.iopt.lock();
    iopt.iopt
        .areas()
        .get_nth(nth as usize)
        .map_or(0, |area| area.iova().wrapping_add(u64::from(offset)))
}

/// `IOMMU_IOAS_UNMAP` (C `iommufd_ioas_unmap`).
pub(crate) fn unmap(ucmd: &mut Ucmd<'_>) -> Result<(), Errno> {
    let mut cmd = IoasUnmap::decode(ucmd.buf())?;
    let ioas = object::get::<Ioas>(ucmd.ctx().objects(), cmd.ioas_id)?;
    // Accesses are notified without the io_pagetable lock.
    let unmapped = crate::access::ioas_unmap(&ioas, cmd.iova, cmd.length)?;
    cmd.length = unmapped;
    cmd.encode_response(ucmd.buf_mut());
    ucmd.respond()
}

/// `IOMMU_OPTION` with `IOMMU_OPTION_HUGE_PAGES` (C `iommufd_ioas_option`).
pub(crate) fn option_huge_pages(ucmd: &Ucmd<'_>, cmd: &mut IommuOption) -> Result<(), Errno> {
    let ioas = object::get::<Ioas>(ucmd.ctx().objects(), cmd.object_id)?;
    let mut iopt = ioas.iopt.lock();
    match cmd.op_kind()? {
        OptionOp::Get => {
            cmd.val64 = u64::from(!iopt.iopt.large_pages_disabled());
            Ok(())
        }
        OptionOp::Set => {
            let required = iopt.required_alignment();
            if cmd.set_value()? {
                if let Err(e) = iopt.iopt.enable_large_pages(required) {
                    // C only warns: the alignment cannot grow when large pages come back.
                    pr_warn!("iommufd: enabling large pages: {}\n", e.name());
                }
                Ok(())
            } else {
                iopt.disable_large_pages()
            }
        }
    }
}

impl crate::object::ObjectKind for Ioas {
    const TYPE: crate::object::ObjType = crate::object::ObjType::Ioas;
}
