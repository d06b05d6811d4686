// SPDX-License-Identifier: GPL-2.0

//! The IOVA bookkeeping of an `io_pagetable`: areas, allowed and reserved ranges.
//!
//! This mirrors the IOVA side of `drivers/iommu/iommufd/io_pagetable.c` (and the parts of
//! `ioas.c` that are pure arithmetic) of Linux 6.12, with the same checks in the same order
//! and the same errnos. What the C code keeps in `struct iopt_pages` is an opaque handle `H`
//! here; domains, pinning and accesses belong to the caller, which passes in the few facts
//! the bookkeeping needs (whether domains exist, the alignment they and accesses demand).
//!
//! Locking is the caller's: every method takes `&self`/`&mut self` and runs to completion.
//! Where the C code drops `iova_rwsem` in the middle of an operation (unmapping an area that
//! has accesses), the operation is split into steps ([`Iopt::unmap_step`]).
//!
//! An area is *pending* while its `iopt_area::pages` would be NULL in C: inserted to hold
//! the IOVA while domains are filled ([`Iopt::map_pages_pending`]), until
//! [`Iopt::finish_map`] or [`Iopt::abort_map`].

use super::errno::{Errno, Result};
use super::interval::{HasSpan, Holes, IntervalMultiSet, IntervalSet, NoCover, Span};
use super::storage::Storage;

/// `IOMMU_READ` of `include/linux/iommu.h`.
pub const IOMMU_READ: u32 = 1 << 0;
/// `IOMMU_WRITE` of `include/linux/iommu.h`.
pub const IOMMU_WRITE: u32 = 1 << 1;
/// `IOMMU_CACHE` of `include/linux/iommu.h`.
pub const IOMMU_CACHE: u32 = 1 << 2;

/// How many times [`Iopt::unmap_iova_range`] notifies accesses of one area before giving
/// up with `EDEADLOCK` (`WARN_ON(tries > 100)` in `iopt_unmap_iova_range()`).
pub const UNMAP_MAX_TRIES: u32 = 100;

/// Machine constants the bookkeeping depends on.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct IoptConfig {
    page_size: u64,
    max_alloc_alignment: u64,
}

impl IoptConfig {
    /// x86-64 with `CONFIG_TRANSPARENT_HUGEPAGE`: 4 KiB pages, IOVA allocation aligned up to
    /// `HPAGE_SIZE` (2 MiB).
    pub const X86_64_THP: IoptConfig = IoptConfig {
        page_size: 4096,
        max_alloc_alignment: 2 << 20,
    };

    /// `page_size` is `PAGE_SIZE`; `max_alloc_alignment` is `HPAGE_SIZE` with
    /// `CONFIG_TRANSPARENT_HUGEPAGE`, else `PAGE_SIZE`. `None` unless both are powers of
    /// two and `max_alloc_alignment >= page_size`.
    pub const fn new(page_size: u64, max_alloc_alignment: u64) -> Option<IoptConfig> {
        if page_size.is_power_of_two()
            && max_alloc_alignment.is_power_of_two()
            && max_alloc_alignment >= page_size
        {
            Some(IoptConfig {
                page_size,
                max_alloc_alignment,
            })
        } else {
            None
        }
    }

    /// `PAGE_SIZE`.
    pub const fn page_size(&self) -> u64 {
        self.page_size
    }

    /// The cap on the alignment `alloc_iova` looks for.
    pub const fn max_alloc_alignment(&self) -> u64 {
        self.max_alloc_alignment
    }
}

/// A mapped range of IOVA (`struct iopt_area`), backed by a slice of a pages object.
///
/// The area owns its handle `H` (C's reference on `area->pages`): splitting the area clones
/// it for the new half, and an area removed from the table is handed back by value, so that
/// dropping it drops the handle.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Area<H> {
    span: Span,
    start_byte: u64,
    handle: H,
    iommu_prot: u32,
    pending: bool,
    prevent_access: bool,
    num_accesses: u32,
}

impl<H> Area<H> {
    /// First IOVA (`iopt_area_iova()`).
    pub fn iova(&self) -> u64 {
        self.span.start
    }
    /// Last IOVA (`iopt_area_last_iova()`).
    pub fn last_iova(&self) -> u64 {
        self.span.last
    }
    /// Length in bytes (`iopt_area_length()`); areas are never `[0, u64::MAX]`.
    pub fn length(&self) -> u64 {
        self.span.length()
    }
    /// The caller's handle of the pages object (`area->pages`).
    pub fn handle(&self) -> &H {
        &self.handle
    }
    /// Byte offset of [`Self::iova`] in the pages object (`iopt_area_start_byte(area, iova)`).
    pub fn start_byte(&self) -> u64 {
        self.start_byte
    }
    /// `IOMMU_READ`/`IOMMU_WRITE`/... bits.
    pub fn iommu_prot(&self) -> u32 {
        self.iommu_prot
    }
    /// Whether the area is still being set up (`area->pages == NULL`).
    pub fn is_pending(&self) -> bool {
        self.pending
    }
    /// `area->num_accesses`: accesses that must be notified before unmapping.
    pub fn num_accesses(&self) -> u32 {
        self.num_accesses
    }
    /// Sets `area->num_accesses` (`iopt_area_add_access()` and friends).
    pub fn set_num_accesses(&mut self, n: u32) {
        self.num_accesses = n;
    }
    /// `area->prevent_access`: set by an unmap that waits for accesses to go away.
    pub fn prevent_access(&self) -> bool {
        self.prevent_access
    }
}

impl<H> HasSpan for Area<H> {
    fn span(&self) -> Span {
        self.span
    }
}

/// A reserved range (`struct iopt_reserved`) and its owner (a domain, a device...).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Reserved {
    /// The reserved IOVA.
    pub span: Span,
    /// Opaque owner id, compared by [`Iopt::remove_reserved_iova`].
    pub owner: usize,
}

impl HasSpan for Reserved {
    fn span(&self) -> Span {
        self.span
    }
}

/// One slice of a pages object to map (an element of C's `pages_list`). Mapping it clones
/// the handle into the new area.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct MapPiece<H> {
    /// The pages object.
    pub handle: H,
    /// Byte offset in the pages object where the slice starts.
    pub start_byte: u64,
    /// Length of the slice in bytes, not 0.
    pub length: u64,
    /// `pages->writable`.
    pub writable: bool,
}

/// A slice of an existing mapping, as `iopt_get_pages()` reports it for `IOMMU_IOAS_COPY`,
/// with its own clone of the area's handle (C's `kref_get()` in `iopt_get_pages()`).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Piece<H> {
    /// The pages object.
    pub handle: H,
    /// First IOVA of the slice in the source.
    pub iova: u64,
    /// Byte offset in the pages object.
    pub start_byte: u64,
    /// Length in bytes.
    pub length: u64,
}

/// Where [`Iopt::map_pages`] puts the mapping.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Placement {
    /// `IOPT_ALLOC_IOVA`: find free IOVA, aligned after `uptr` (the user address of the
    /// first byte, `pages->uptr + start_byte` of the first piece).
    Alloc {
        /// User address whose alignment the IOVA should keep.
        uptr: u64,
    },
    /// `IOMMU_IOAS_MAP_FIXED_IOVA`: exactly at this IOVA.
    Fixed(u64),
}

/// Why [`Iopt::unmap_step`] stopped before the end of its range.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum UnmapStop {
    /// The unmap fails with this errno.
    Error(Errno),
    /// The area at `iova` has accesses: notify them (`iommufd_access_notify_unmap(iova,
    /// length)`) without the lock, call [`UnmapCursor::notified`] and step again.
    Accessed {
        /// First IOVA of the area.
        iova: u64,
        /// Length of the area.
        length: u64,
    },
}

/// The progress of an unmap over `[start, last]` (the locals of `iopt_unmap_iova_range()`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct UnmapCursor {
    start: u64,
    last: u64,
    unmapped: u64,
    tries: u32,
}

impl UnmapCursor {
    /// An unmap of `[start, last]` that has not started.
    pub fn new(start: u64, last: u64) -> UnmapCursor {
        UnmapCursor {
            start,
            last,
            unmapped: 0,
            tries: 0,
        }
    }

    /// Bytes unmapped so far (wraps like C's `unsigned long` if everything is unmapped).
    pub fn unmapped(&self) -> u64 {
        self.unmapped
    }

    /// Records that accesses were notified after [`UnmapStop::Accessed`]; `EDEADLOCK` once
    /// the same area was notified more than [`UNMAP_MAX_TRIES`] times in a row.
    pub fn notified(&mut self) -> Result {
        self.tries = self.tries.saturating_add(1);
        if self.tries > UNMAP_MAX_TRIES {
            return Err(Errno::EDEADLOCK);
        }
        Ok(())
    }
}

/// The table of allowed ranges, as built by [`Iopt::load_allowed`].
pub type AllowedSet<S> = IntervalSet<Span, S>;

/// The table of areas of an [`Iopt`].
pub type AreaSet<H, S> = IntervalSet<Area<H>, S>;

/// An `io_pagetable`'s IOVA bookkeeping.
pub struct Iopt<H, S: Storage> {
    storage: S,
    config: IoptConfig,
    areas: AreaSet<H, S>,
    allowed: AllowedSet<S>,
    reserved: IntervalMultiSet<Reserved, S::Table<Reserved>>,
    iova_alignment: u64,
    disable_large_pages: bool,
}

/// `ALIGN_UP(start, align) | page_offset`, if that leaves room for `length` bytes before
/// `last` (`__alloc_iova_check_range()`, including its refusal of `aligned == last`).
fn alloc_check_range(
    start: u64,
    last: u64,
    length: u64,
    align: u64,
    page_offset: u64,
) -> Option<u64> {
    let mask = align.wrapping_sub(1);
    let aligned = (start.checked_add(mask)? & !mask) | page_offset;
    if aligned >= last || last - aligned < length.wrapping_sub(1) {
        return None;
    }
    Some(aligned)
}

impl<H: Clone, S: Storage> Iopt<H, S> {
    /// An empty table (`iopt_init_table()`): no areas, nothing allowed or reserved,
    /// `iova_alignment` 1, large pages enabled.
    pub fn new(storage: S, config: IoptConfig) -> Self {
        Iopt {
            areas: IntervalSet::new(storage.clone()),
            allowed: IntervalSet::new(storage.clone()),
            reserved: IntervalMultiSet::new(storage.new_table()),
            storage,
            config,
            iova_alignment: 1,
            disable_large_pages: false,
        }
    }

    /// The machine constants.
    pub fn config(&self) -> IoptConfig {
        self.config
    }

    /// `iopt->iova_alignment`, also `out_iova_alignment` of `IOMMU_IOAS_IOVA_RANGES`.
    pub fn iova_alignment(&self) -> u64 {
        self.iova_alignment
    }

    /// `iopt->disable_large_pages` (`IOMMU_OPTION_HUGE_PAGES` reads its negation).
    pub fn large_pages_disabled(&self) -> bool {
        self.disable_large_pages
    }

    /// The areas, sorted by IOVA.
    pub fn areas(&self) -> &AreaSet<H, S> {
        &self.areas
    }

    /// The areas that end at or after `iova`, sorted: the first contains `iova` or lies
    /// after it (O(log N) to find, where a walk from the first area is O(N)).
    pub fn areas_from(&self, iova: u64) -> super::interval::Iter<'_, Area<H>, S> {
        self.areas.iter_from(iova)
    }

    /// The area containing `iova`.
    pub fn area_containing(&self, iova: u64) -> Option<&Area<H>> {
        let pos = self.areas.index_containing(iova)?;
        self.areas.get(pos)
    }

    /// The area containing `iova`, to update its access count.
    pub fn area_containing_mut(&mut self, iova: u64) -> Option<&mut Area<H>> {
        let pos = self.areas.index_containing(iova)?;
        self.areas.get_mut(pos)
    }

    /// The allowed ranges, sorted.
    pub fn allowed(&self) -> &AllowedSet<S> {
        &self.allowed
    }

    /// The reserved ranges, sorted by `(start, last)`.
    pub fn reserved(&self) -> &[Reserved] {
        self.reserved.as_slice()
    }

    /// `iopt_alloc_iova()`: the first free IOVA for `length` bytes, never 0.
    ///
    /// Alignment: `min(roundup_pow_of_two(length), 1 << ffs(uptr))` (the former if `uptr`
    /// is 0) capped at the config's `max_alloc_alignment`, keeping `uptr`'s offset in its
    /// page. `EOVERFLOW` if `length` is 0 or `>= u64::MAX / 2`, `EINVAL` if that alignment
    /// is below `iova_alignment`, `ENOSPC` if nothing fits. Searched: the allowed ranges
    /// (adjacent ones merged) or, if there are none, everything, clipped to
    /// `[PAGE_SIZE, u64::MAX - PAGE_SIZE]`, minus reserved ranges and areas.
    pub fn alloc_iova(&self, uptr: u64, length: u64) -> Result<u64> {
        let page_size = self.config.page_size;
        let page_offset = uptr & page_size.wrapping_sub(1);
        if length == 0 || length >= u64::MAX / 2 {
            return Err(Errno::EOVERFLOW);
        }
        let pow = length.next_power_of_two();
        let mut align = if uptr == 0 {
            pow
        } else {
            pow.min(1u64 << uptr.trailing_zeros())
        };
        if align >= self.config.max_alloc_alignment {
            align = self.config.max_alloc_alignment;
        }
        if align < self.iova_alignment {
            return Err(Errno::EINVAL);
        }
        let window = Span {
            start: page_size,
            last: u64::MAX - page_size,
        };
        let search = |allowed: Span| -> Option<u64> {
            let start = alloc_check_range(allowed.start, allowed.last, length, align, page_offset)?;
            let within = Span {
                start,
                last: allowed.last,
            };
            Holes::new(&self.reserved, &self.areas, within).find_map(|hole| {
                alloc_check_range(hole.start, hole.last, length, align, page_offset)
            })
        };
        let found = if self.allowed.is_empty() {
            search(window)
        } else {
            self.allowed.runs(window).find_map(search)
        };
        found.ok_or(Errno::ENOSPC)
    }

    /// `iopt_check_iova()`: whether `[iova, iova + length - 1]` can be mapped.
    ///
    /// `EINVAL` if `iova` is not `iova_alignment` aligned, `EOVERFLOW` if the end
    /// overflows, `EINVAL` if it intersects a reserved range, `EEXIST` if an area. Allowed
    /// ranges are not checked. (`length` 0 wraps like in C; callers reject it first.)
    pub fn check_iova(&self, iova: u64, length: u64) -> Result {
        if iova & self.iova_alignment.wrapping_sub(1) != 0 {
            return Err(Errno::EINVAL);
        }
        let last = iova
            .checked_add(length.wrapping_sub(1))
            .ok_or(Errno::EOVERFLOW)?;
        let span = Span { start: iova, last };
        if self.reserved.any_intersecting(span) {
            return Err(Errno::EINVAL);
        }
        if self.areas.any_intersecting(span) {
            return Err(Errno::EEXIST);
        }
        Ok(())
    }

    /// `iopt_map_pages()`: maps the pieces back to back at an allocated or fixed IOVA and
    /// returns it. `length` must be the sum of the pieces' lengths (`EINVAL` otherwise or if
    /// there are no pieces or a piece is empty).
    ///
    /// In C order: `ENOMEM` (no room for the areas); `EINVAL` if `length` is 0 or not
    /// `iova_alignment` aligned; then [`Self::alloc_iova`] or [`Self::check_iova`]; then
    /// per piece `EPERM` if `iommu_prot` has `IOMMU_WRITE` and the piece is not writable,
    /// `EINVAL` if its offset in its first page is not `iova_alignment` aligned,
    /// `EOVERFLOW` if its IOVA or byte range overflows. Changes nothing on failure.
    pub fn map_pages(
        &mut self,
        pieces: &[MapPiece<H>],
        length: u64,
        placement: Placement,
        iommu_prot: u32,
    ) -> Result<u64> {
        self.insert_areas(pieces, length, placement, iommu_prot, false)
    }

    /// Like [`Self::map_pages`], but the areas are pending (C's areas with NULL `pages`
    /// while `iopt_map_pages()` fills the domains): unmaps, copies and splits touching them
    /// fail. Follow with [`Self::finish_map`] or [`Self::abort_map`] on the returned IOVA.
    pub fn map_pages_pending(
        &mut self,
        pieces: &[MapPiece<H>],
        length: u64,
        placement: Placement,
        iommu_prot: u32,
    ) -> Result<u64> {
        self.insert_areas(pieces, length, placement, iommu_prot, true)
    }

    /// Marks the pending areas inside `[iova, iova + length - 1]` as mapped
    /// (`elm->area->pages = elm->pages`). Returns how many.
    pub fn finish_map(&mut self, iova: u64, length: u64) -> usize {
        let Some(span) = Span::from_len(iova, length) else {
            return 0;
        };
        let mut done = 0;
        let mut pos = self.areas.first_intersecting(span);
        while let Some(at) = pos {
            let Some(area) = self.areas.get_mut(at) else {
                break;
            };
            if area.span.start > span.last {
                break;
            }
            if area.pending && area.span.last <= span.last && area.span.start >= span.start {
                area.pending = false;
                done += 1;
            }
            pos = self.areas.next_pos(at);
        }
        done
    }

    /// Removes the pending areas inside `[iova, iova + length - 1]`
    /// (`iopt_abort_area()`), handing each to `on_removed`. Returns how many.
    pub fn abort_map(
        &mut self,
        iova: u64,
        length: u64,
        mut on_removed: impl FnMut(Area<H>),
    ) -> usize {
        let Some(span) = Span::from_len(iova, length) else {
            return 0;
        };
        let mut done = 0;
        // Searched again from `cur` after each removal (positions do not survive one).
        let mut cur = span.start;
        while let Some(at) = self.areas.first_intersecting(Span {
            start: cur,
            last: span.last,
        }) {
            let Some(area) = self.areas.get(at) else {
                break;
            };
            let area_last = area.span.last;
            if area.pending && area_last <= span.last && area.span.start >= span.start {
                if let Some(area) = self.areas.remove(at) {
                    on_removed(area);
                    done += 1;
                }
                continue;
            }
            match area_last.checked_add(1) {
                Some(next) if area_last < span.last => cur = next,
                _ => break,
            }
        }
        done
    }

    fn insert_areas(
        &mut self,
        pieces: &[MapPiece<H>],
        length: u64,
        placement: Placement,
        iommu_prot: u32,
        pending: bool,
    ) -> Result<u64> {
        // Caller contract, not a C check: the pieces make up exactly `length` bytes.
        let mut sum: u64 = 0;
        for p in pieces {
            if p.length == 0 {
                return Err(Errno::EINVAL);
            }
            sum = sum.checked_add(p.length).ok_or(Errno::EINVAL)?;
        }
        if pieces.is_empty() || sum != length {
            return Err(Errno::EINVAL);
        }

        // iopt_alloc_area_pages(): the areas are allocated first.
        self.areas.try_reserve(pieces.len())?;
        if length & self.iova_alignment.wrapping_sub(1) != 0 || length == 0 {
            return Err(Errno::EINVAL);
        }
        let iova = match placement {
            Placement::Alloc { uptr } => self.alloc_iova(uptr, length)?,
            Placement::Fixed(iova) => {
                self.check_iova(iova, length)?;
                iova
            }
        };

        let mut cur = iova;
        for (done, piece) in pieces.iter().enumerate() {
            let inserted = self
                .make_area(piece, cur, iommu_prot, pending)
                .and_then(|area| self.areas.insert(area));
            if let Err(e) = inserted {
                self.remove_areas_from(iova, done);
                return Err(e);
            }
            cur = cur.wrapping_add(piece.length);
        }
        Ok(iova)
    }

    /// `iopt_insert_area()`'s checks, building the area.
    fn make_area(
        &self,
        piece: &MapPiece<H>,
        iova: u64,
        iommu_prot: u32,
        pending: bool,
    ) -> Result<Area<H>> {
        if iommu_prot & IOMMU_WRITE != 0 && !piece.writable {
            return Err(Errno::EPERM);
        }
        let page_offset = piece.start_byte & self.config.page_size.wrapping_sub(1);
        if page_offset & self.iova_alignment.wrapping_sub(1) != 0 {
            return Err(Errno::EINVAL);
        }
        let last = iova
            .checked_add(piece.length.wrapping_sub(1))
            .ok_or(Errno::EOVERFLOW)?;
        piece
            .start_byte
            .checked_add(piece.length.wrapping_sub(1))
            .ok_or(Errno::EOVERFLOW)?;
        Ok(Area {
            span: Span { start: iova, last },
            start_byte: piece.start_byte,
            handle: piece.handle.clone(),
            iommu_prot,
            pending,
            prevent_access: false,
            num_accesses: 0,
        })
    }

    /// Undoes the first `count` areas inserted back to back from `iova`, dropping them (and
    /// so their clones of the pieces' handles).
    fn remove_areas_from(&mut self, iova: u64, count: usize) {
        if count == 0 {
            return;
        }
        let mut cur = iova;
        for _ in 0..count {
            let Some(at) = self.areas.index_containing(cur) else {
                return;
            };
            let Some(area) = self.areas.remove(at) else {
                return;
            };
            match area.span.last.checked_add(1) {
                Some(next) => cur = next,
                None => return,
            }
        }
    }

    /// `iopt_get_pages()`: the pieces of the areas that cover `[iova, iova + length - 1]`
    /// contiguously, in order, handed to `out` (which may fail, e.g. with `ENOMEM`).
    ///
    /// `EINVAL` if `length` is 0, `EOVERFLOW` if the end overflows, then `out`'s errors as
    /// they happen, then `ENOENT` if the range is not fully covered by contiguous mapped
    /// (non-pending) areas. On error the caller drops the pieces it received.
    pub fn get_pages(
        &self,
        iova: u64,
        length: u64,
        mut out: impl FnMut(Piece<H>) -> Result,
    ) -> Result {
        if length == 0 {
            return Err(Errno::EINVAL);
        }
        let last = iova.checked_add(length - 1).ok_or(Errno::EOVERFLOW)?;
        if self.areas.index_containing(iova).is_none() {
            return Err(Errno::ENOENT);
        }
        let mut cur = iova;
        let mut first = true;
        for area in self.areas.iter_from(iova) {
            // iopt_area_contig_init()/_next(): the area must start where the previous
            // ended (the first one contains `iova`) and be fully set up.
            if area.pending || (!first && area.span.start != cur) {
                break;
            }
            first = false;
            let piece_last = last.min(area.span.last);
            let start_byte = area
                .start_byte
                .checked_add(cur - area.span.start)
                .ok_or(Errno::EOVERFLOW)?;
            out(Piece {
                handle: area.handle.clone(),
                iova: cur,
                start_byte,
                length: (piece_last - cur).wrapping_add(1),
            })?;
            if last <= area.span.last {
                return Ok(());
            }
            cur = area.span.last + 1;
        }
        Err(Errno::ENOENT)
    }

    /// One pass of `iopt_unmap_iova_range()` over what is left of `cursor`'s range.
    ///
    /// Removes whole areas in order, handing each to `on_removed` and counting its bytes
    /// into the cursor. Stops with `EBUSY` at a pending area, `ENOENT` at an area that
    /// sticks out of the range (areas already removed stay removed, as in C), or
    /// [`UnmapStop::Accessed`] at an area with accesses (marked `prevent_access`). `Ok` when
    /// nothing is left in the range, including when nothing was there.
    pub fn unmap_step(
        &mut self,
        cursor: &mut UnmapCursor,
        mut on_removed: impl FnMut(Area<H>),
    ) -> core::result::Result<(), UnmapStop> {
        loop {
            let span = Span {
                start: cursor.start,
                last: cursor.last,
            };
            let Some(at) = self.areas.first_intersecting(span) else {
                return Ok(());
            };
            let Some(area) = self.areas.get_mut(at) else {
                return Ok(());
            };
            let (first, last) = (area.span.start, area.span.last);
            if area.pending {
                return Err(UnmapStop::Error(Errno::EBUSY));
            }
            if first < cursor.start || last > cursor.last {
                return Err(UnmapStop::Error(Errno::ENOENT));
            }
            if first != cursor.start {
                cursor.tries = 0;
            }
            if area.num_accesses != 0 {
                area.prevent_access = true;
                cursor.start = first;
                return Err(UnmapStop::Accessed {
                    iova: first,
                    length: area.length(),
                });
            }
            if let Some(area) = self.areas.remove(at) {
                cursor.unmapped = cursor.unmapped.wrapping_add(area.length());
                on_removed(area);
            }
            match last.checked_add(1) {
                Some(next) if last < cursor.last => cursor.start = next,
                _ => return Ok(()),
            }
        }
    }

    /// `iopt_unmap_iova_range()` with its retry loop: [`Self::unmap_step`] until done,
    /// calling `notify(self, iova, length)` for areas with accesses (which should make the
    /// accesses go away). Returns the bytes unmapped, also on error.
    pub fn unmap_iova_range(
        &mut self,
        start: u64,
        last: u64,
        mut notify: impl FnMut(&mut Self, u64, u64),
        mut on_removed: impl FnMut(Area<H>),
    ) -> (u64, Result) {
        let mut cursor = UnmapCursor::new(start, last);
        loop {
            match self.unmap_step(&mut cursor, &mut on_removed) {
                Ok(()) => return (cursor.unmapped, Ok(())),
                Err(UnmapStop::Error(e)) => return (cursor.unmapped, Err(e)),
                Err(UnmapStop::Accessed { iova, length }) => {
                    notify(self, iova, length);
                    if let Err(e) = cursor.notified() {
                        return (cursor.unmapped, Err(e));
                    }
                }
            }
        }
    }

    /// `iopt_unmap_iova()`: `EINVAL` if `length` is 0, `EOVERFLOW` if the end overflows,
    /// else [`Self::unmap_iova_range`].
    pub fn unmap_iova(
        &mut self,
        iova: u64,
        length: u64,
        notify: impl FnMut(&mut Self, u64, u64),
        on_removed: impl FnMut(Area<H>),
    ) -> (u64, Result) {
        if length == 0 {
            return (0, Err(Errno::EINVAL));
        }
        let Some(last) = iova.checked_add(length - 1) else {
            return (0, Err(Errno::EOVERFLOW));
        };
        self.unmap_iova_range(iova, last, notify, on_removed)
    }

    /// `iopt_unmap_all()`: [`Self::unmap_iova_range`] over `[0, u64::MAX]`.
    pub fn unmap_all(
        &mut self,
        notify: impl FnMut(&mut Self, u64, u64),
        on_removed: impl FnMut(Area<H>),
    ) -> (u64, Result) {
        self.unmap_iova_range(0, u64::MAX, notify, on_removed)
    }

    /// `IOMMU_IOAS_UNMAP` (`iommufd_ioas_unmap()`): `iova` 0 with `length` `u64::MAX`
    /// unmaps everything (succeeding with 0 if nothing is mapped); otherwise `EOVERFLOW`
    /// if `iova` or `length` is `u64::MAX`, [`Self::unmap_iova`]'s errors, and `ENOENT`
    /// if nothing was unmapped. Returns the bytes unmapped (the reply's `length`).
    pub fn ioas_unmap(
        &mut self,
        iova: u64,
        length: u64,
        notify: impl FnMut(&mut Self, u64, u64),
        on_removed: impl FnMut(Area<H>),
    ) -> Result<u64> {
        if iova == 0 && length == u64::MAX {
            let (unmapped, rc) = self.unmap_all(notify, on_removed);
            return rc.map(|()| unmapped);
        }
        if iova == u64::MAX || length == u64::MAX {
            return Err(Errno::EOVERFLOW);
        }
        let (unmapped, rc) = self.unmap_iova(iova, length, notify, on_removed);
        rc?;
        if unmapped == 0 {
            return Err(Errno::ENOENT);
        }
        Ok(unmapped)
    }

    /// `iommufd_ioas_load_iovas()`: builds a new allowed table from user ranges, each
    /// `Err` item (a failed copy from user) aborting with its errno.
    ///
    /// `EINVAL` if a range has `start >= last` (so single-address ranges are refused) or
    /// overlaps an earlier one (order and adjacency are fine), `ENOMEM` if there is no room.
    pub fn load_allowed(
        &self,
        ranges: impl IntoIterator<Item = Result<Span>>,
    ) -> Result<AllowedSet<S>> {
        let mut set = IntervalSet::new(self.storage.clone());
        for range in ranges {
            let range = range?;
            if range.start >= range.last {
                return Err(Errno::EINVAL);
            }
            if set.any_intersecting(range) {
                return Err(Errno::EINVAL);
            }
            set.try_reserve(1)?;
            set.insert(range)?;
        }
        Ok(set)
    }

    /// `iopt_set_allow_iova()`: replaces the allowed table, returning the old one.
    /// `EADDRINUSE` (and no change) if a new range intersects a reserved range. Existing
    /// areas are not checked.
    pub fn set_allowed(&mut self, new: AllowedSet<S>) -> Result<AllowedSet<S>> {
        if new
            .iter()
            .any(|&range| self.reserved.any_intersecting(range))
        {
            return Err(Errno::EADDRINUSE);
        }
        Ok(core::mem::replace(&mut self.allowed, new))
    }

    /// `IOMMU_IOAS_ALLOW_IOVAS`: [`Self::load_allowed`] then [`Self::set_allowed`]. An
    /// empty list allows everything again.
    pub fn allow_iovas(&mut self, ranges: impl IntoIterator<Item = Result<Span>>) -> Result {
        let new = self.load_allowed(ranges)?;
        self.set_allowed(new).map(drop)
    }

    /// `iopt_reserve_iova()`: reserves `[start, last]` for `owner`.
    ///
    /// `EADDRINUSE` if it intersects an area (pending ones too) or an allowed range, then
    /// `ENOMEM`. Overlapping other reserved ranges is fine. `EINVAL` if `start > last`
    /// (C does not check; its callers never pass that).
    pub fn reserve_iova(&mut self, start: u64, last: u64, owner: usize) -> Result {
        let span = Span::new(start, last).ok_or(Errno::EINVAL)?;
        if self.areas.any_intersecting(span) || self.allowed.any_intersecting(span) {
            return Err(Errno::EADDRINUSE);
        }
        self.reserved.insert(Reserved { span, owner })
    }

    /// `iopt_remove_reserved_iova()`: drops every range reserved by `owner`; returns how
    /// many.
    pub fn remove_reserved_iova(&mut self, owner: usize) -> usize {
        self.reserved.remove_where(|r| r.owner == owner)
    }

    /// The ranges `IOMMU_IOAS_IOVA_RANGES` reports, in order: in 6.12, the holes of the
    /// reserved ranges in `[0, u64::MAX]` (allowed ranges play no part). Calls `emit` for
    /// each, stopping at its first error.
    pub fn for_each_iova_range(&self, mut emit: impl FnMut(Span) -> Result) -> Result {
        let all = Span {
            start: 0,
            last: u64::MAX,
        };
        Holes::new(&self.reserved, &NoCover, all).try_for_each(&mut emit)
    }

    /// [`Self::for_each_iova_range`] into `out`: fills as many as fit and returns how many
    /// there are in total (more than `out.len()` means `EMSGSIZE` for the ioctl).
    pub fn iova_ranges(&self, out: &mut [Span]) -> usize {
        let all = Span {
            start: 0,
            last: u64::MAX,
        };
        let mut n = 0;
        for range in Holes::new(&self.reserved, &NoCover, all) {
            if let Some(slot) = out.get_mut(n) {
                *slot = range;
            }
            n += 1;
        }
        n
    }

    /// `iopt_check_iova_alignment()`: `EADDRINUSE` if an area's IOVA, length or offset in
    /// its first page is not aligned to `new_alignment` (a power of two).
    pub fn check_iova_alignment(&self, new_alignment: u64) -> Result {
        let mask = new_alignment.wrapping_sub(1);
        let page_mask = self.config.page_size.wrapping_sub(1);
        let misaligned = self.areas.iter().any(|a| {
            a.span.start & mask != 0
                || a.length() & mask != 0
                || (a.start_byte & page_mask) & mask != 0
        });
        if misaligned {
            return Err(Errno::EADDRINUSE);
        }
        Ok(())
    }

    /// Sets `iova_alignment` (a power of two, else `EINVAL`), after
    /// [`Self::check_iova_alignment`] when it grows. For `iopt_table_add_domain()`.
    pub fn set_iova_alignment(&mut self, new_alignment: u64) -> Result {
        if !new_alignment.is_power_of_two() {
            return Err(Errno::EINVAL);
        }
        if new_alignment > self.iova_alignment {
            self.check_iova_alignment(new_alignment)?;
        }
        self.iova_alignment = new_alignment;
        Ok(())
    }

    /// `iopt_calculate_iova_alignment()`: `iova_alignment` becomes the largest of
    /// `PAGE_SIZE` if large pages are disabled (else 1) and `required`, the largest
    /// alignment the domains (`1 << ffs(pgsize_bitmap)`) and accesses demand (1 if none).
    /// `EADDRINUSE` (no change) if it grows and an area does not conform; `EINVAL` if
    /// `required` is not a power of two.
    pub fn calculate_iova_alignment(&mut self, required: u64) -> Result {
        if !required.is_power_of_two() {
            return Err(Errno::EINVAL);
        }
        let base = if self.disable_large_pages {
            self.config.page_size
        } else {
            1
        };
        let new = base.max(required);
        if new > self.iova_alignment {
            self.check_iova_alignment(new)?;
        }
        self.iova_alignment = new;
        Ok(())
    }

    /// `iopt_disable_large_pages()`: no-op if already disabled; `EINVAL` if
    /// `domains_present` and there are areas; else disables and recalculates the alignment
    /// with `required` as [`Self::calculate_iova_alignment`], undoing it on `EADDRINUSE`.
    pub fn disable_large_pages(&mut self, domains_present: bool, required: u64) -> Result {
        if self.disable_large_pages {
            return Ok(());
        }
        if domains_present && !self.areas.is_empty() {
            return Err(Errno::EINVAL);
        }
        self.disable_large_pages = true;
        let rc = self.calculate_iova_alignment(required);
        if rc.is_err() {
            self.disable_large_pages = false;
        }
        rc
    }

    /// `iopt_enable_large_pages()`: enables and recalculates the alignment (which cannot
    /// grow, so cannot fail for a valid `required`; C only warns if it does).
    pub fn enable_large_pages(&mut self, required: u64) -> Result {
        self.disable_large_pages = false;
        self.calculate_iova_alignment(required)
    }

    /// `iopt_area_split()` of the area containing `iova` (if any) so that `iova` becomes
    /// the last IOVA of the left part. Returns the handle of the new right part if a split
    /// happened: a clone of the area's (C's `kref_get()`), owned by the right part.
    ///
    /// No-op if `iova` is an end of the area. `EBUSY` if it is pending or
    /// `prevent_access`; `EINVAL` if `iova + 1` or its byte offset is not `iova_alignment`
    /// aligned; `ENOMEM`; `EINVAL` if it has accesses, or if `domains_present` (C:
    /// `area->storage_domain`) and large pages are not disabled.
    pub fn split_area(&mut self, iova: u64, domains_present: bool) -> Result<Option<&H>> {
        let Some(at) = self.areas.index_containing(iova) else {
            return Ok(None);
        };
        let Some(area) = self.areas.get(at) else {
            return Ok(None);
        };
        let span = area.span;
        if iova == span.start || iova == span.last {
            return Ok(None);
        }
        if area.pending || area.prevent_access {
            return Err(Errno::EBUSY);
        }
        // `iova < last`, so neither addition overflows.
        let new_start = iova + 1;
        let rhs_start_byte = area
            .start_byte
            .checked_add(new_start - span.start)
            .ok_or(Errno::EOVERFLOW)?;
        let mask = self.iova_alignment.wrapping_sub(1);
        if new_start & mask != 0 || rhs_start_byte & mask != 0 {
            return Err(Errno::EINVAL);
        }
        let has_accesses = area.num_accesses != 0;
        self.areas.try_reserve(1)?;
        if has_accesses {
            return Err(Errno::EINVAL);
        }
        if domains_present && !self.disable_large_pages {
            return Err(Errno::EINVAL);
        }
        let Some(lhs) = self.areas.get_mut(at) else {
            return Ok(None);
        };
        let rhs = Area {
            span: Span {
                start: new_start,
                last: span.last,
            },
            start_byte: rhs_start_byte,
            handle: lhs.handle.clone(),
            iommu_prot: lhs.iommu_prot,
            pending: lhs.pending,
            prevent_access: lhs.prevent_access,
            num_accesses: lhs.num_accesses,
        };
        lhs.span.last = iova;
        // `try_reserve` above made room for this insert, so it cannot fail; if it did,
        // the left part gets its end back and nothing changed.
        if let Err(e) = self.areas.insert_unchecked(rhs) {
            if let Some(lhs) = self.areas.get_mut(at) {
                lhs.span.last = span.last;
            }
            return Err(e);
        }
        let rhs = self.areas.index_containing(new_start);
        Ok(rhs.and_then(|at| self.areas.get(at)).map(|rhs| &rhs.handle))
    }

    /// `iopt_cut_iova()`: [`Self::split_area`] at each IOVA in turn, calling `on_split`
    /// with the handle of each new right part. Stops at the first error; earlier splits stay.
    pub fn cut_iova(
        &mut self,
        iovas: &[u64],
        domains_present: bool,
        mut on_split: impl FnMut(&H),
    ) -> Result {
        for &iova in iovas {
            if let Some(handle) = self.split_area(iova, domains_present)? {
                on_split(handle);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    //! One test per C rule, with the errno 6.12 gives.
    extern crate std;

    use super::super::storage::test_impl::VecStorage;
    use super::*;
    use std::vec::Vec;

    const PS: u64 = 4096;
    const MAX: u64 = u64::MAX;
    const RW: u32 = IOMMU_READ | IOMMU_WRITE | IOMMU_CACHE;

    type T = Iopt<u32, VecStorage>;

    fn iopt() -> T {
        Iopt::new(VecStorage, IoptConfig::X86_64_THP)
    }

    fn piece(handle: u32, start_byte: u64, length: u64) -> MapPiece<u32> {
        MapPiece {
            handle,
            start_byte,
            length,
            writable: true,
        }
    }

    fn map_fixed(t: &mut T, iova: u64, length: u64, h: u32) -> Result<u64> {
        t.map_pages(&[piece(h, 0, length)], length, Placement::Fixed(iova), RW)
    }

    fn map_alloc(t: &mut T, uptr: u64, length: u64, h: u32) -> Result<u64> {
        let p = piece(h, uptr % PS, length);
        t.map_pages(&[p], length, Placement::Alloc { uptr }, RW)
    }

    fn spans(ranges: &[(u64, u64)]) -> Vec<Result<Span>> {
        ranges
            .iter()
            .map(|&(start, last)| Ok(Span { start, last }))
            .collect()
    }

    fn unmap(t: &mut T, iova: u64, length: u64) -> Result<u64> {
        t.ioas_unmap(iova, length, |_, _, _| {}, |_| {})
    }

    fn pieces(t: &T, iova: u64, length: u64) -> Result<Vec<Piece<u32>>> {
        let mut v = Vec::new();
        t.get_pages(iova, length, |p| {
            v.push(p);
            Ok(())
        })
        .map(|()| v)
    }

    #[test]
    fn config_validation() {
        assert!(IoptConfig::new(4096, 4096).is_some());
        assert!(IoptConfig::new(4096, 2048).is_none());
        assert!(IoptConfig::new(3000, 4096).is_none());
        assert_eq!(IoptConfig::X86_64_THP.page_size(), PS);
    }

    #[test]
    fn alloc_iova_alignment_rules() {
        let t = iopt();
        // Never IOVA 0: the search starts at PAGE_SIZE.
        assert_eq!(t.alloc_iova(0, 1), Ok(PS));
        // uptr 0: alignment from the length alone.
        assert_eq!(t.alloc_iova(0, 3 * PS), Ok(4 * PS));
        // min(roundup_pow_of_two(length), 1 << ffs(uptr)).
        assert_eq!(t.alloc_iova(0x1000, 3 * PS), Ok(PS));
        // Capped at HPAGE_SIZE.
        assert_eq!(t.alloc_iova(1 << 30, 4 << 20), Ok(2 << 20));
        // The sub-page offset of uptr is kept.
        assert_eq!(t.alloc_iova(0x1003, PS), Ok(0x1003));
        assert_eq!(t.alloc_iova(0x5006, 8), Ok(0x1006));
        // Without THP the cap is PAGE_SIZE.
        let small = Iopt::<u32, _>::new(VecStorage, IoptConfig::new(PS, PS).unwrap());
        assert_eq!(small.alloc_iova(1 << 30, 4 << 20), Ok(PS));
    }

    #[test]
    fn alloc_iova_errors() {
        let mut t = iopt();
        assert_eq!(t.alloc_iova(0, 0), Err(Errno::EOVERFLOW));
        assert_eq!(t.alloc_iova(0, MAX / 2), Err(Errno::EOVERFLOW));
        assert_eq!(t.alloc_iova(0, MAX / 2 - 1), Ok(2 << 20));
        t.calculate_iova_alignment(PS).unwrap();
        assert_eq!(t.alloc_iova(0x1003, PS), Err(Errno::EINVAL));
        assert_eq!(t.alloc_iova(0x1000, PS), Ok(PS));
        t.allow_iovas(spans(&[(PS, 2 * PS - 1)])).unwrap();
        assert_eq!(t.alloc_iova(0, 2 * PS), Err(Errno::ENOSPC));
    }

    #[test]
    fn alloc_iova_spans() {
        let mut t = iopt();
        // Adjacent allowed ranges form one span.
        t.allow_iovas(spans(&[(2 * PS, 3 * PS - 1), (PS, 2 * PS - 1)]))
            .unwrap();
        assert_eq!(t.alloc_iova(PS, 2 * PS), Ok(PS));
        // Allowed IOVA below PAGE_SIZE is not used.
        t.allow_iovas(spans(&[(0, PS - 1)])).unwrap();
        assert_eq!(t.alloc_iova(0, 1), Err(Errno::ENOSPC));
        // Reserved ranges and areas are skipped.
        t.allow_iovas(spans(&[])).unwrap();
        t.reserve_iova(PS, 2 * PS - 1, 7).unwrap();
        map_fixed(&mut t, 2 * PS, PS, 1).unwrap();
        assert_eq!(t.alloc_iova(PS, PS), Ok(3 * PS));
        assert_eq!(map_alloc(&mut t, 0x7003, 0x10, 3), Ok(3 * PS + 3));
        assert_eq!(t.areas().get_nth(1).unwrap().start_byte(), 3);
        // A one-byte hole is never used (`aligned_start >= last`).
        let mut t = iopt();
        map_fixed(&mut t, PS + 1, MAX - 2 * PS - 1, 1).unwrap();
        assert_eq!(t.alloc_iova(0, 1), Err(Errno::ENOSPC));
        // The last page is never used either.
        let mut t = iopt();
        t.reserve_iova(0, MAX - 2 * PS, 7).unwrap();
        assert_eq!(t.alloc_iova(0, PS), Ok(MAX - 2 * PS + 1));
        assert_eq!(t.alloc_iova(0, 2 * PS), Err(Errno::ENOSPC));
    }

    #[test]
    fn check_iova_order() {
        let mut t = iopt();
        t.reserve_iova(0x10000, 0x1ffff, 1).unwrap();
        map_fixed(&mut t, 0x20000, PS, 1).unwrap();
        t.calculate_iova_alignment(PS).unwrap();
        assert_eq!(t.check_iova(0x10001, PS), Err(Errno::EINVAL));
        assert_eq!(t.check_iova(MAX - PS + 1, 2 * PS), Err(Errno::EOVERFLOW));
        // Reserved (EINVAL) is checked before areas (EEXIST).
        assert_eq!(t.check_iova(0x10000, 0x20000), Err(Errno::EINVAL));
        assert_eq!(t.check_iova(0x20000, PS), Err(Errno::EEXIST));
        assert_eq!(t.check_iova(MAX - PS + 1, PS), Ok(()));
        // Allowed ranges do not restrict fixed mappings.
        t.allow_iovas(spans(&[(0x100000, 0x1fffff)])).unwrap();
        assert_eq!(map_fixed(&mut t, 0x30000, PS, 2), Ok(0x30000));
    }

    #[test]
    fn map_checks() {
        let mut t = iopt();
        assert_eq!(map_fixed(&mut t, PS, 0, 1), Err(Errno::EINVAL));
        t.calculate_iova_alignment(PS).unwrap();
        assert_eq!(map_fixed(&mut t, PS, 100, 1), Err(Errno::EINVAL));
        // Offset in the first page must be aligned too.
        let p = piece(1, 0x10, PS);
        assert_eq!(
            t.map_pages(&[p], PS, Placement::Fixed(PS), RW),
            Err(Errno::EINVAL)
        );
        // Write mapping of read-only pages.
        let ro = MapPiece {
            writable: false,
            ..piece(1, 0, PS)
        };
        assert_eq!(
            t.map_pages(&[ro.clone()], PS, Placement::Fixed(PS), RW),
            Err(Errno::EPERM)
        );
        let rd = IOMMU_READ | IOMMU_CACHE;
        assert_eq!(
            t.map_pages(&[ro.clone()], PS, Placement::Fixed(PS), rd),
            Ok(PS)
        );
        assert_eq!(t.areas().get_nth(0).unwrap().iommu_prot(), rd);
        // Byte range overflow.
        let p = piece(1, MAX - PS + 1, 2 * PS);
        assert_eq!(
            t.map_pages(&[p], 2 * PS, Placement::Fixed(4 * PS), RW),
            Err(Errno::EOVERFLOW)
        );
        // A failing second piece removes the first.
        let two = [piece(1, 0, PS), ro];
        assert_eq!(
            t.map_pages(&two, 2 * PS, Placement::Fixed(8 * PS), RW),
            Err(Errno::EPERM)
        );
        assert_eq!(t.areas().len(), 1);
        assert_eq!(
            t.map_pages(&two, 2 * PS, Placement::Fixed(8 * PS), rd),
            Ok(8 * PS)
        );
        assert_eq!(t.areas().len(), 3);
        // Contract: pieces must add up to length.
        assert_eq!(
            t.map_pages(&two, PS, Placement::Fixed(16 * PS), rd),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            t.map_pages(&[], 0, Placement::Fixed(16 * PS), rd),
            Err(Errno::EINVAL)
        );
    }

    #[test]
    fn unmap_rules() {
        let mut t = iopt();
        assert_eq!(unmap(&mut t, 0, MAX), Ok(0));
        assert_eq!(unmap(&mut t, PS, PS), Err(Errno::ENOENT));
        assert_eq!(unmap(&mut t, MAX, 1), Err(Errno::EOVERFLOW));
        assert_eq!(unmap(&mut t, 1, MAX), Err(Errno::EOVERFLOW));
        assert_eq!(unmap(&mut t, PS, 0), Err(Errno::EINVAL));
        assert_eq!(unmap(&mut t, MAX - 1, 3), Err(Errno::EOVERFLOW));
        map_fixed(&mut t, PS, PS, 1).unwrap();
        map_fixed(&mut t, 4 * PS, 2 * PS, 2).unwrap();
        // Partial overlap of the first area found: nothing removed.
        assert_eq!(unmap(&mut t, PS + 1, 8 * PS), Err(Errno::ENOENT));
        assert_eq!(t.areas().len(), 2);
        // Partial overlap of a later area: earlier ones are gone (as in C).
        assert_eq!(unmap(&mut t, 0, 5 * PS), Err(Errno::ENOENT));
        assert_eq!(t.areas().len(), 1);
        let mut removed = Vec::new();
        let r = t.ioas_unmap(0, 8 * PS, |_, _, _| {}, |a| removed.push(*a.handle()));
        assert_eq!((r, removed.as_slice()), (Ok(2 * PS), &[2][..]));
        // Unmap-all counts bytes.
        map_fixed(&mut t, PS, PS, 1).unwrap();
        map_fixed(&mut t, 3 * PS, PS, 1).unwrap();
        assert_eq!(unmap(&mut t, 0, MAX), Ok(2 * PS));
    }

    #[test]
    fn unmap_all_wraps_like_c() {
        let mut t = iopt();
        map_fixed(&mut t, 0, 1 << 63, 1).unwrap();
        map_fixed(&mut t, 1 << 63, 1 << 63, 2).unwrap();
        assert_eq!(unmap(&mut t, 0, MAX), Ok(0));
        assert!(t.areas().is_empty());
    }

    #[test]
    fn unmap_busy_and_accesses() {
        let mut t = iopt();
        let p = [piece(1, 0, PS)];
        t.map_pages_pending(&p, PS, Placement::Fixed(PS), RW)
            .unwrap();
        assert_eq!(unmap(&mut t, 0, MAX), Err(Errno::EBUSY));
        assert_eq!(pieces(&t, PS, PS), Err(Errno::ENOENT));
        assert_eq!(t.split_area(PS + 8, false), Err(Errno::EBUSY));
        assert_eq!(t.finish_map(PS, PS), 1);
        assert_eq!(pieces(&t, PS, 1).unwrap().len(), 1);

        // An access that goes away when notified.
        t.area_containing_mut(PS).unwrap().set_num_accesses(1);
        let mut notified = 0;
        let r = t.ioas_unmap(
            0,
            MAX,
            |t, iova, len| {
                notified += 1;
                assert_eq!((iova, len), (PS, PS));
                assert!(t.area_containing(iova).unwrap().prevent_access());
                t.area_containing_mut(iova).unwrap().set_num_accesses(0);
            },
            |_| {},
        );
        assert_eq!((r, notified), (Ok(PS), 1));

        // An access that never goes away: EDEADLOCK after 101 notifications; the bytes
        // unmapped before are still reported by the iopt layer.
        map_fixed(&mut t, PS, PS, 1).unwrap();
        map_fixed(&mut t, 2 * PS, PS, 2).unwrap();
        t.area_containing_mut(2 * PS).unwrap().set_num_accesses(1);
        let mut notified = 0;
        let r = t.unmap_all(|_, _, _| notified += 1, |_| {});
        assert_eq!((r, notified), ((PS, Err(Errno::EDEADLOCK)), 101));
        assert!(t.areas().get_nth(0).unwrap().prevent_access());
        assert_eq!(t.split_area(2 * PS + 8, false), Err(Errno::EBUSY));

        // finish_map only touches pending areas fully inside the range.
        let mut t = iopt();
        t.map_pages_pending(&p, PS, Placement::Fixed(PS), RW)
            .unwrap();
        t.map_pages_pending(&p, PS, Placement::Fixed(2 * PS), RW)
            .unwrap();
        assert_eq!(t.finish_map(PS, PS + 1), 1);
        assert!(t.areas().get_nth(1).unwrap().is_pending());
        assert_eq!(t.abort_map(PS, 2 * PS - 1, |_| {}), 0);
        assert_eq!(t.abort_map(0, 3 * PS, |_| {}), 1);

        // abort_map removes only pending areas.
        let mut t = iopt();
        map_fixed(&mut t, PS, PS, 1).unwrap();
        t.map_pages_pending(&p, PS, Placement::Fixed(2 * PS), RW)
            .unwrap();
        let mut gone = Vec::new();
        assert_eq!(t.abort_map(0, 8 * PS, |a| gone.push(a.iova())), 1);
        assert_eq!((gone.as_slice(), t.areas().len()), (&[2 * PS][..], 1));
    }

    #[test]
    fn get_pages_rules() {
        let mut t = iopt();
        assert_eq!(pieces(&t, PS, 0), Err(Errno::EINVAL));
        assert_eq!(pieces(&t, MAX, 2), Err(Errno::EOVERFLOW));
        assert_eq!(pieces(&t, PS, 1), Err(Errno::ENOENT));
        t.map_pages(&[piece(1, 0x123, PS)], PS, Placement::Fixed(PS), RW)
            .unwrap();
        t.map_pages(&[piece(2, 0x10000, PS)], PS, Placement::Fixed(2 * PS), RW)
            .unwrap();
        t.map_pages(&[piece(3, 0, PS)], PS, Placement::Fixed(4 * PS), RW)
            .unwrap();
        let got = pieces(&t, PS + 0x10, PS).unwrap();
        let want = [
            Piece {
                handle: 1,
                iova: PS + 0x10,
                start_byte: 0x133,
                length: PS - 0x10,
            },
            Piece {
                handle: 2,
                iova: 2 * PS,
                start_byte: 0x10000,
                length: 0x10,
            },
        ];
        assert_eq!(got, want);
        // A gap between areas.
        assert_eq!(pieces(&t, PS, 4 * PS), Err(Errno::ENOENT));
        assert_eq!(pieces(&t, 3 * PS, PS), Err(Errno::ENOENT));
        // The consumer's errors come first.
        assert_eq!(
            t.get_pages(PS, 4 * PS, |_| Err(Errno::ENOMEM)),
            Err(Errno::ENOMEM)
        );
    }

    #[test]
    fn allow_iovas_rules() {
        let mut t = iopt();
        t.reserve_iova(0x10000, 0x1ffff, 1).unwrap();
        assert_eq!(t.allow_iovas(spans(&[(PS, PS)])), Err(Errno::EINVAL));
        assert_eq!(t.allow_iovas(spans(&[(2 * PS, PS)])), Err(Errno::EINVAL));
        assert_eq!(
            t.allow_iovas(spans(&[(PS, 3 * PS), (3 * PS, 4 * PS)])),
            Err(Errno::EINVAL)
        );
        // Load errors come before EADDRINUSE.
        assert_eq!(
            t.allow_iovas(spans(&[(0x10000, 0x10001), (5, 5)])),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            t.allow_iovas(spans(&[(PS, 2 * PS), (0x1ffff, 0x20000)])),
            Err(Errno::EADDRINUSE)
        );
        assert!(t.allowed().is_empty());
        // Unsorted is fine; the table is sorted. Areas outside are not checked.
        map_fixed(&mut t, 0x100000, PS, 1).unwrap();
        t.allow_iovas(spans(&[(0x30000, 0x3ffff), (0x20000, 0x2ffff)]))
            .unwrap();
        let s = |start, last| Span { start, last };
        assert_eq!(
            t.allowed().iter().copied().collect::<Vec<_>>(),
            [s(0x20000, 0x2ffff), s(0x30000, 0x3ffff)]
        );
        // A copy fault aborts the load.
        let bad = [Ok(s(1, 2)), Err(Errno::EFAULT)];
        assert_eq!(t.allow_iovas(bad), Err(Errno::EFAULT));
        assert_eq!(t.allowed().len(), 2);
        t.allow_iovas(spans(&[])).unwrap();
        assert!(t.allowed().is_empty());
    }

    #[test]
    fn reserve_rules() {
        let mut t = iopt();
        map_fixed(&mut t, 0x10000, PS, 1).unwrap();
        t.allow_iovas(spans(&[(0x20000, 0x2ffff)])).unwrap();
        assert_eq!(t.reserve_iova(0, 0x10000, 1), Err(Errno::EADDRINUSE));
        assert_eq!(t.reserve_iova(0x2ffff, MAX, 1), Err(Errno::EADDRINUSE));
        assert_eq!(t.reserve_iova(2, 1, 1), Err(Errno::EINVAL));
        t.reserve_iova(0x30000, MAX, 1).unwrap();
        t.reserve_iova(0x40000, 0x4ffff, 2).unwrap();
        t.reserve_iova(0x30000, MAX, 1).unwrap();
        assert_eq!(t.reserved().len(), 3);
        assert_eq!(t.remove_reserved_iova(1), 2);
        assert_eq!(t.remove_reserved_iova(1), 0);
        assert_eq!(t.reserved().len(), 1);
    }

    #[test]
    fn iova_ranges_are_reserved_holes() {
        let mut t = iopt();
        let s = |start, last| Span { start, last };
        let mut out = [s(0, 0); 4];
        assert_eq!(t.iova_ranges(&mut out), 1);
        assert_eq!(out[0], s(0, MAX));
        t.allow_iovas(spans(&[(0x1000, 0x1fff)])).unwrap();
        t.reserve_iova(0, 0xfff, 1).unwrap();
        t.reserve_iova(0x8000, 0x8fff, 1).unwrap();
        t.reserve_iova(0x8800, 0x9fff, 2).unwrap();
        t.reserve_iova(0xa000, 0xafff, 2).unwrap();
        t.reserve_iova(MAX, MAX, 2).unwrap();
        assert_eq!(t.iova_ranges(&mut out[..1]), 2);
        assert_eq!(out[0], s(0x1000, 0x7fff));
        assert_eq!(t.iova_ranges(&mut out), 2);
        assert_eq!(out[1], s(0xb000, MAX - 1));
        let mut n = 0;
        assert_eq!(
            t.for_each_iova_range(|_| {
                n += 1;
                Err(Errno::EFAULT)
            }),
            Err(Errno::EFAULT)
        );
        assert_eq!(n, 1);
    }

    #[test]
    fn large_pages_and_alignment() {
        let mut t = iopt();
        // Domains without areas do not prevent it.
        assert_eq!(t.disable_large_pages(true, 1), Ok(()));
        assert_eq!(t.enable_large_pages(1), Ok(()));
        map_fixed(&mut t, PS, 0x800, 1).unwrap();
        assert_eq!(t.disable_large_pages(false, 1), Err(Errno::EADDRINUSE));
        assert!(!t.large_pages_disabled());
        assert_eq!(t.calculate_iova_alignment(PS), Err(Errno::EADDRINUSE));
        assert_eq!(t.calculate_iova_alignment(3), Err(Errno::EINVAL));
        assert_eq!(t.iova_alignment(), 1);
        unmap(&mut t, 0, MAX).unwrap();
        map_fixed(&mut t, PS, PS, 1).unwrap();
        assert_eq!(t.disable_large_pages(true, 1), Err(Errno::EINVAL));
        assert_eq!(t.disable_large_pages(false, 1), Ok(()));
        assert_eq!((t.iova_alignment(), t.large_pages_disabled()), (PS, true));
        assert_eq!(t.disable_large_pages(true, 1), Ok(()));
        assert_eq!(t.enable_large_pages(1), Ok(()));
        assert_eq!(t.iova_alignment(), 1);
        assert_eq!(t.set_iova_alignment(PS), Ok(()));
        assert_eq!(t.set_iova_alignment(2 * PS), Err(Errno::EADDRINUSE));
        assert_eq!(t.iova_alignment(), PS);
    }

    #[test]
    fn split_rules() {
        let mut t = iopt();
        t.map_pages(
            &[piece(1, 0x2000, 4 * PS)],
            4 * PS,
            Placement::Fixed(PS),
            RW,
        )
        .unwrap();
        assert_eq!(t.split_area(PS, false), Ok(None));
        assert_eq!(t.split_area(5 * PS - 1, false), Ok(None));
        assert_eq!(t.split_area(10 * PS, false), Ok(None));
        assert_eq!(t.split_area(2 * PS, true), Err(Errno::EINVAL));
        t.area_containing_mut(PS).unwrap().set_num_accesses(1);
        assert_eq!(t.split_area(2 * PS, false), Err(Errno::EINVAL));
        t.area_containing_mut(PS).unwrap().set_num_accesses(0);
        t.calculate_iova_alignment(PS).unwrap();
        assert_eq!(t.split_area(2 * PS, false), Err(Errno::EINVAL));
        assert_eq!(t.split_area(2 * PS - 1, false), Ok(Some(&1)));
        let mut split = Vec::new();
        let r = t.cut_iova(&[3 * PS - 1, 4 * PS - 1, 99], false, |&h| split.push(h));
        assert_eq!((r, split.len(), t.areas().len()), (Ok(()), 2, 4));
        let a = t.areas().get_nth(3).unwrap();
        assert_eq!(
            (a.iova(), a.last_iova(), a.start_byte()),
            (4 * PS, 5 * PS - 1, 0x5000)
        );
        assert_eq!(pieces(&t, PS, 4 * PS).unwrap().len(), 4);
        // With large pages disabled a domain does not prevent splitting.
        t.disable_large_pages(false, 1).unwrap();
        assert_eq!(t.cut_iova(&[2 * PS - 1], true, |_| {}), Ok(()));
        assert_eq!(unmap(&mut t, 2 * PS, 2 * PS), Ok(2 * PS));
    }

    #[test]
    fn areas_own_their_handles() {
        use std::rc::Rc;
        let mut t = Iopt::<Rc<u32>, _>::new(VecStorage, IoptConfig::X86_64_THP);
        let h = Rc::new(1);
        let p = |start_byte, length| MapPiece {
            handle: Rc::clone(&h),
            start_byte,
            length,
            writable: true,
        };
        // A failed map keeps no clone; a successful one keeps one per area.
        let ro = MapPiece {
            writable: false,
            ..p(0, PS)
        };
        let two = [p(0, PS), ro];
        assert_eq!(
            t.map_pages(&two, 2 * PS, Placement::Fixed(PS), RW),
            Err(Errno::EPERM)
        );
        drop(two);
        assert_eq!(Rc::strong_count(&h), 1);
        let four = [p(0, 4 * PS)];
        t.map_pages(&four, 4 * PS, Placement::Fixed(PS), RW)
            .unwrap();
        drop(four);
        assert_eq!(Rc::strong_count(&h), 2);
        // A split clones the handle for the new right part.
        let r = t.cut_iova(&[2 * PS - 1, 3 * PS - 1], false, |x| {
            assert!(Rc::ptr_eq(x, &h))
        });
        assert_eq!((r, Rc::strong_count(&h)), (Ok(()), 4));
        // The pieces of a copy hold their own clones.
        let mut got = Vec::new();
        t.get_pages(PS, 2 * PS, |piece| {
            got.push(piece);
            Ok(())
        })
        .unwrap();
        assert_eq!(Rc::strong_count(&h), 6);
        drop(got);
        // Removed and aborted areas are handed back by value and drop their clone.
        let mut removed = Vec::new();
        let r = t.ioas_unmap(PS, 2 * PS, |_, _, _| {}, |a| removed.push(a));
        assert_eq!((r, Rc::strong_count(&h)), (Ok(2 * PS), 4));
        drop(removed);
        assert_eq!(Rc::strong_count(&h), 2);
        t.map_pages_pending(&[p(0, PS)], PS, Placement::Fixed(8 * PS), RW)
            .unwrap();
        assert_eq!(Rc::strong_count(&h), 3);
        assert_eq!(t.abort_map(8 * PS, PS, drop), 1);
        assert_eq!(Rc::strong_count(&h), 2);
        drop(t);
        assert_eq!(Rc::strong_count(&h), 1);
    }
}
