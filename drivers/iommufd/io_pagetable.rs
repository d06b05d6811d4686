// SPDX-License-Identifier: GPL-2.0

//! The io_pagetable of an IOAS ([`IoptState`], C `struct io_pagetable`: the core's IOVA
//! bookkeeping, the domains and the accesses) and its domain side (C `io_pagetable.c`:
//! `iopt_table_add_domain`,
//! `iopt_table_remove_domain`, `iopt_fill_domain`, `iopt_unfill_domain`,
//! `iopt_table_enforce_dev_resv_regions`; `pages.c`: `iopt_area_fill_domain(s)`,
//! `batch_to_domain`, `batch_iommu_map_small`).
//!
//! Every area of an io_pagetable with at least one domain is *filled*: each page it covers
//! has one user for the area in its pages object (so it is pinned, once, however many
//! areas and domains use it) and the area is mapped in every domain. With no domain, areas
//! are not filled and nothing is pinned for them (accesses pin on their own).
//!
//! Lock order: one table for the module, `Documentation/locking.md`. Here: everything here runs
//! under `Ioas::iopt` (C holds `domains_rwsem` and `iova_rwsem`); a pages object's lock nests
//! inside it, and pinning takes the source mm's `mmap_lock` inside that.

use crate::{
    iommufd_core::{
        errno::Errno,
        iopt::{Area, Iopt, IoptConfig, UnmapCursor, UnmapStop},
        ucmd::hwpt::HwptGetDirtyBitmap,
    },
    pages::{Pages, PAGE_SIZE},
    storage::KStorage,
};
use kernel::iommu::{
    dev::{ResvRegions, ResvType},
    DirtyBitmap, Domain, IotlbGather, IovaBitmap,
};
use kernel::{bindings, prelude::*, sync::Arc};

/// The smallest IO page size of a domain (`PAGE_SIZE` if its driver gave none).
fn min_page_size(dom: &Domain) -> u64 {
    dom.min_page_size().unwrap_or(PAGE_SIZE)
}

/// `iommu_map()` of pinned pages: the area that maps them holds them pinned (one page user per
/// domain-filled area, see [`IoptState`]) until [`unmap_nofail`] takes the mapping away.
fn map_pinned(dom: &Domain, iova: u64, paddr: u64, size: u64, prot: u32) -> Result<(), Errno> {
    // SAFETY: `paddr` is the physical address of pages the caller's area holds pinned, and
    // they stay pinned until the area is unmapped from this domain (`IoptState` invariants).
    Ok(unsafe { dom.map(iova, paddr, size, prot) }?)
}

/// C `iommu_unmap_nofail()`: unmaps `[iova, iova + size)`, warning if the driver unmaps less.
fn unmap_nofail(dom: &Domain, iova: u64, size: u64) {
    if size == 0 {
        return;
    }
    let done = dom.unmap(iova, size);
    if done != size {
        pr_warn!(
            "iommufd: domain unmapped {} of {} bytes at {:#x}\n",
            done,
            size,
            iova
        );
    }
}

/// Page indexes `[first, last]` of an area in its pages object.
fn area_indexes(area: &Area<Arc<Pages>>) -> (u64, u64) {
    let first = area.start_byte() / PAGE_SIZE;
    let last = (area.start_byte() + area.length() - 1) / PAGE_SIZE;
    (first, last)
}

/// C `batch_iommu_map_small()`: one `PAGE_SIZE` at a time, so that later splits (VFIO type1
/// compatibility, which disables large pages) can unmap any page-aligned part.
fn map_small(dom: &Domain, iova: u64, paddr: u64, size: u64, prot: u32) -> Result<(), Errno> {
    let mut done = 0;
    while done < size {
        let step = PAGE_SIZE.min(size - done);
        if let Err(e) = map_pinned(dom, iova + done, paddr + done, step, prot) {
            unmap_nofail(dom, iova, done);
            return Err(e);
        }
        done += step;
    }
    Ok(())
}

/// C `iopt_area_fill_domain()` / `batch_to_domain()`: maps the (pinned) pages of `area` into
/// `dom`, one call per physically contiguous run. All or nothing.
fn map_area(dom: &Domain, area: &Area<Arc<Pages>>, small: bool) -> Result<(), Errno> {
    let (first, last) = area_indexes(area);
    let area_start = area.start_byte();
    let area_end = area_start + area.length();
    let prot = area.iommu_prot();
    let mut mapped: u64 = 0;
    let pages = area.handle();
    let rc = pages.for_each_pfn_run(first, last, |index, pfn, n| {
        let run_start = index * PAGE_SIZE;
        let lo = run_start.max(area_start);
        let hi = (run_start + n * PAGE_SIZE).min(area_end);
        let iova = area.iova() + (lo - area_start);
        let paddr = (pfn << bindings::PAGE_SHIFT) + (lo - run_start);
        if small {
            map_small(dom, iova, paddr, hi - lo, prot)?;
        } else {
            map_pinned(dom, iova, paddr, hi - lo, prot)?;
        }
        mapped = hi - area_start;
        Ok(())
    });
    if let Err(e) = rc {
        unmap_nofail(dom, area.iova(), mapped);
        return Err(e);
    }
    Ok(())
}

/// C `iopt_area_unmap_domain()`.
fn unmap_area(dom: &Domain, area: &Area<Arc<Pages>>) {
    unmap_nofail(dom, area.iova(), area.length());
}

/// The io_pagetable of an IOAS (C `struct io_pagetable`, the IOVA side).
///
/// # Invariants
///
/// If `domains` is not empty, every area that is not pending is filled: its pages have one
/// user for it and it is mapped in every domain (see [`crate::io_pagetable`]). Each area
/// holds a reference to its pages object (its handle in the core), so the pages outlive it.
/// An area leaving the io_pagetable is unfilled ([`IoptState::release_area`]) before its
/// reference is dropped.
pub(crate) struct IoptState {
    pub(crate) iopt: Iopt<Arc<Pages>, KStorage>,
    /// C `iopt->domains`: the domains this io_pagetable maps into.
    pub(crate) domains: KVec<Arc<Domain>>,
    /// C `iopt->access_list`.
    pub(crate) accesses: crate::access::AccessList,
}

impl IoptState {
    pub(crate) fn new() -> Self {
        // C: IOVA allocation aligns up to HPAGE_SIZE with CONFIG_TRANSPARENT_HUGEPAGE.
        let max_align = if cfg!(CONFIG_TRANSPARENT_HUGEPAGE) {
            2 << 20
        } else {
            PAGE_SIZE
        };
        let config = IoptConfig::new(PAGE_SIZE, max_align).unwrap_or(IoptConfig::X86_64_THP);
        IoptState {
            iopt: Iopt::new(KStorage, config),
            domains: KVec::new(),
            accesses: crate::access::AccessList::new(),
        }
    }

    /// Unmaps everything (C `iopt_unmap_all` in `iommufd_ioas_destroy`). Never fails.
    fn unmap_all(&mut self) {
        let domains = &self.domains;
        let (_, rc) = self
            .iopt
            .unmap_all(|_, _, _| {}, |area| IoptState::release_area(domains, area));
        if let Err(e) = rc {
            if e != Errno::ENOENT {
                pr_warn!("iommufd: unmap at IOAS destroy failed: {}\n", e.name());
            }
            // As C (which only warns): areas that could not be unmapped keep their pages
            // (pinned, maybe still mapped in a domain) forever rather than dropping them
            // unfilled. Cannot happen: accesses hold the IOAS, and areas are pending only
            // while the io_pagetable is locked.
            let config = self.iopt.config();
            core::mem::forget(core::mem::replace(
                &mut self.iopt,
                Iopt::new(KStorage, config),
            ));
        }
    }
}

impl Drop for IoptState {
    fn drop(&mut self) {
        self.unmap_all();
    }
}

impl IoptState {
    /// The core's io_pagetable, read only.
    pub(crate) fn core(&self) -> &Iopt<Arc<Pages>, KStorage> {
        &self.iopt
    }

    /// The core's io_pagetable, to update areas' access counts and the IOVA alignment.
    /// Areas must not be removed through it (they would not be unfilled).
    pub(crate) fn core_mut(&mut self) -> &mut Iopt<Arc<Pages>, KStorage> {
        &mut self.iopt
    }

    /// The IOVA alignment the accesses (and later domains) require (C
    /// `iopt_calculate_iova_alignment()`'s inputs).
    pub(crate) fn required_alignment(&self) -> u64 {
        self.accesses
            .required_alignment()
            .max(self.domains_alignment())
    }

    /// One step of C `iopt_unmap_iova_range()` (see [`crate::access::unmap_iova_range`]):
    /// removed areas are unfilled and give back their pages reference.
    pub(crate) fn unmap_step(
        &mut self,
        cursor: &mut UnmapCursor,
    ) -> core::result::Result<(), UnmapStop> {
        let domains = &self.domains;
        self.iopt
            .unmap_step(cursor, |area| IoptState::release_area(domains, area))
    }

    /// C `iopt_cut_iova()`: splits areas so that each IOVA of `iovas` ends one; the new right
    /// halves hold their own reference to their pages objects (cloned by the core).
    pub(crate) fn cut_iova(&mut self, iovas: &[u64]) -> Result<(), Errno> {
        // With domains, splitting needs large pages disabled, so the IOVA alignment is at
        // least PAGE_SIZE and a split never falls inside a page: the halves' page users add up
        // to the whole's, and each half's mappings are whole `map_small` pages.
        let filled = self.has_domains();
        self.iopt.cut_iova(iovas, filled, |_| {})
    }

    /// C `iopt_disable_large_pages()`.
    pub(crate) fn disable_large_pages(&mut self) -> Result<(), Errno> {
        let required = self.required_alignment();
        let filled = self.has_domains();
        self.iopt.disable_large_pages(filled, required)
    }
}

impl IoptState {
    /// Whether areas are filled (there is a domain).
    pub(crate) fn has_domains(&self) -> bool {
        !self.domains.is_empty()
    }

    /// The largest minimum IO page size of the domains (1 with none), for the alignment.
    pub(crate) fn domains_alignment(&self) -> u64 {
        self.domains
            .iter()
            .map(|d| min_page_size(d))
            .max()
            .unwrap_or(1)
    }

    /// The page sizes every domain supports (`u64::MAX` with none).
    pub(crate) fn domains_pgsize_bitmap(&self) -> u64 {
        self.domains
            .iter()
            .fold(u64::MAX, |acc, d| acc & d.pgsize_bitmap())
    }

    /// C `iopt_area_fill_domains()`: pins the pages of a new area and maps it into every
    /// domain. All or nothing. No-op without domains.
    pub(crate) fn fill_area(&self, area: &Area<Arc<Pages>>) -> Result<(), Errno> {
        if self.domains.is_empty() {
            return Ok(());
        }
        let (first, last) = area_indexes(area);
        let pages = area.handle();
        pages.add_users(first, last)?;
        let small = self.iopt.large_pages_disabled();
        for (i, dom) in self.domains.iter().enumerate() {
            if let Err(e) = map_area(dom, area, small) {
                for done in self.domains.iter().take(i) {
                    unmap_area(done, area);
                }
                pages.remove_users(first, last);
                return Err(e);
            }
        }
        Ok(())
    }

    /// C `iopt_area_unfill_domains()`: unmaps an area leaving the io_pagetable from every
    /// domain and drops its page users. Never fails. No-op without domains.
    pub(crate) fn unfill_area(domains: &[Arc<Domain>], area: &Area<Arc<Pages>>) {
        if domains.is_empty() {
            return;
        }
        for dom in domains {
            unmap_area(dom, area);
        }
        let (first, last) = area_indexes(area);
        area.handle().remove_users(first, last);
    }

    /// Gives back everything an area removed from the io_pagetable whose domains are
    /// `domains` held: its domain mappings and page users, then its reference to the pages
    /// object (which may be the last: the pages object goes after it is unfilled, as in C's
    /// `iopt_area_unfill_domains()` before `iopt_put_pages()`).
    pub(crate) fn release_area(domains: &[Arc<Domain>], area: Area<Arc<Pages>>) {
        Self::unfill_area(domains, &area);
        drop(area);
    }

    /// Fills the areas inside `[iova, iova + length)` just inserted pending, then marks them
    /// mapped; on failure unfills what was filled and aborts them (dropping their pages
    /// references).
    pub(crate) fn fill_pending(&mut self, iova: u64, length: u64) -> Result<(), Errno> {
        if self.domains.is_empty() {
            // Nothing to fill (areas are filled only for domains): one walk, not two.
            self.iopt.finish_map(iova, length);
            return Ok(());
        }
        let last = iova + (length - 1);
        let mut rc = Ok(());
        let mut filled = 0usize;
        // From the area at `iova` on, not from the first: O(log N) to start, and no walk
        // over the (not pending) areas after `last`.
        for area in self.iopt.areas_from(iova) {
            if area.iova() > last {
                break;
            }
            if !area.is_pending() {
                continue;
            }
            if let Err(e) = self.fill_area(area) {
                rc = Err(e);
                break;
            }
            filled += 1;
        }
        if let Err(e) = rc {
            let domains = &self.domains;
            let mut n = 0usize;
            self.iopt.abort_map(iova, length, |area| {
                if n < filled {
                    Self::unfill_area(domains, &area);
                }
                n += 1;
                drop(area);
            });
            return Err(e);
        }
        self.iopt.finish_map(iova, length);
        Ok(())
    }

    /// C `iopt_table_add_domain()`: checks the alignment, reserves what is outside the
    /// aperture (owner: the domain), fills the domain with every area (pinning them if this
    /// is the first domain) and adds it. Changes nothing on failure.
    pub(crate) fn add_domain(&mut self, dom: Arc<Domain>) -> Result<(), Errno> {
        if self.domains.iter().any(|d| Arc::ptr_eq(d, &dom)) {
            return Err(Errno::EEXIST);
        }
        let new_alignment = min_page_size(&dom).max(self.iopt.iova_alignment());
        if new_alignment > PAGE_SIZE {
            return Err(Errno::EINVAL);
        }
        if new_alignment != self.iopt.iova_alignment() {
            self.iopt.check_iova_alignment(new_alignment)?;
        }
        let owner = dom.as_raw() as usize;
        let (ap_start, ap_end) = dom.aperture();
        let rc = (|| {
            if ap_start != 0 {
                self.iopt.reserve_iova(0, ap_start - 1, owner)?;
            }
            if ap_end != u64::MAX {
                self.iopt.reserve_iova(ap_end + 1, u64::MAX, owner)?;
            }
            self.domains
                .reserve(1, GFP_KERNEL_ACCOUNT)
                .map_err(|_| Errno::ENOMEM)?;
            self.fill_domain(&dom)
        })();
        if let Err(e) = rc {
            self.iopt.remove_reserved_iova(owner);
            return Err(e);
        }
        let _ = self.iopt.set_iova_alignment(new_alignment);
        // Room was reserved above.
        let _ = self.domains.push(dom, GFP_KERNEL_ACCOUNT);
        Ok(())
    }

    /// C `iopt_fill_domain()`: maps every area into `dom`; first pins them all if there was
    /// no domain yet. All or nothing.
    fn fill_domain(&self, dom: &Domain) -> Result<(), Errno> {
        let first_domain = self.domains.is_empty();
        let small = self.iopt.large_pages_disabled();
        let areas = self.iopt.areas();
        for (i, area) in areas.iter().enumerate() {
            if area.is_pending() {
                continue;
            }
            let rc = (|| {
                if first_domain {
                    let (first, last) = area_indexes(area);
                    let pages = area.handle();
                    pages.add_users(first, last)?;
                    if let Err(e) = map_area(dom, area, small) {
                        pages.remove_users(first, last);
                        return Err(e);
                    }
                    Ok(())
                } else {
                    map_area(dom, area, small)
                }
            })();
            if let Err(e) = rc {
                for done in areas.iter().take(i).filter(|a| !a.is_pending()) {
                    unmap_area(dom, done);
                    if first_domain {
                        let (first, last) = area_indexes(done);
                        done.handle().remove_users(first, last);
                    }
                }
                return Err(e);
            }
        }
        Ok(())
    }

    /// C `iopt_table_remove_domain()`: unmaps every area from `dom`, unpins them if it was
    /// the last domain, drops its reservations and recalculates the alignment. Never fails.
    pub(crate) fn remove_domain(&mut self, dom: &Arc<Domain>) {
        let Some(pos) = self.domains.iter().position(|d| Arc::ptr_eq(d, dom)) else {
            pr_warn!("iommufd: removing a domain that is not in the io_pagetable\n");
            return;
        };
        // Keep the list dense: move the tail entry into the hole (as C does).
        // The list's reference is dropped here; the caller holds the domain.
        let _ = crate::storage::swap_remove(&mut self.domains, pos);
        let now_empty = self.domains.is_empty();
        for area in self.iopt.areas() {
            if area.is_pending() {
                continue;
            }
            unmap_area(dom, area);
            if now_empty {
                let (first, last) = area_indexes(area);
                area.handle().remove_users(first, last);
            }
        }
        self.iopt.remove_reserved_iova(dom.as_raw() as usize);
        let required = self.required_alignment();
        if let Err(e) = self.iopt.calculate_iova_alignment(required) {
            pr_warn!("iommufd: alignment after removing a domain: {}\n", e.name());
        }
    }

    /// C `iopt_table_enforce_dev_resv_regions()`: reserves the device's reserved regions
    /// (owner: the device). Returns the start of its software MSI window, if it has one.
    /// Changes nothing on failure.
    pub(crate) fn enforce_dev_resv_regions(
        &mut self,
        dev: &kernel::device::Device,
    ) -> Result<Option<u64>, Errno> {
        if crate::test_hooks::should_fail() {
            return Err(Errno::EINVAL);
        }
        let owner = dev as *const kernel::device::Device as usize;
        let mut sw_msi = None;
        let (mut num_hw_msi, mut num_sw_msi) = (0u32, 0u32);
        let iopt = &mut self.iopt;
        let mut rc = ResvRegions::for_each(dev, |resv| {
            match resv.kind {
                ResvType::DirectRelaxable => return Ok(()),
                ResvType::Msi => num_hw_msi += 1,
                ResvType::SwMsi => {
                    sw_msi = Some(resv.start);
                    num_sw_msi += 1;
                }
                _ => {}
            }
            if resv.length == 0 {
                return Ok(());
            }
            let last = resv.start.saturating_add(resv.length - 1);
            iopt.reserve_iova(resv.start, last, owner)
                .map_err(|e| kernel::error::Error::from_errno(-e.0))
        })
        .map_err(Errno::from);
        if rc.is_ok() && ((num_sw_msi != 0 && num_hw_msi != 0) || num_sw_msi > 1) {
            pr_warn!("iommufd: driver offers an invalid mix of MSI regions\n");
            rc = Err(Errno::EINVAL);
        }
        match rc {
            Ok(()) => Ok(sw_msi),
            Err(e) => {
                self.iopt.remove_reserved_iova(owner);
                Err(e)
            }
        }
    }

    /// C `iopt_remove_reserved_iova(iopt, dev)`.
    pub(crate) fn remove_dev_reserved(&mut self, dev: &kernel::device::Device) {
        self.iopt
            .remove_reserved_iova(dev as *const kernel::device::Device as usize);
    }
}

/// `IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR` (C `IOMMU_DIRTY_NO_CLEAR`).
const DIRTY_NO_CLEAR: u32 = 1 << 0;

impl IoptState {
    /// C `iopt_set_dirty_tracking()`: enabling first clears the dirty bits of every area so
    /// that the first read is a clean snapshot.
    pub(crate) fn set_dirty_tracking(&self, dom: &Domain, enable: bool) -> Result<(), Errno> {
        if !dom.has_dirty_ops() {
            return Err(Errno::EOPNOTSUPP);
        }
        if enable {
            let mut gather = IotlbGather::new(GFP_KERNEL)?;
            if dom.can_read_dirty() {
                for area in self.iopt.areas().iter().filter(|a| !a.is_pending()) {
                    let mut dirty = DirtyBitmap::clear_only(&mut gather);
                    let rc = dom.read_and_clear_dirty(area.iova(), area.length(), 0, &mut dirty);
                    if let Err(e) = rc {
                        dom.iotlb_sync(&mut gather);
                        return Err(e.into());
                    }
                }
            }
            dom.iotlb_sync(&mut gather);
        }
        Ok(dom.set_dirty_tracking(enable)?)
    }

    /// C `iopt_read_and_clear_dirty_data()` with `iommufd_check_iova_range()` (the core's
    /// [`HwptGetDirtyBitmap::check_iova_range`], against this IOAS's IOVA alignment): fills the
    /// user bitmap `cmd.data` with the dirty state of the range in `cmd.page_size` units.
    pub(crate) fn read_and_clear_dirty(
        &self,
        dom: &Domain,
        cmd: &HwptGetDirtyBitmap,
    ) -> Result<(), Errno> {
        cmd.check_iova_range(self.iopt.iova_alignment())?;
        let (flags, iova, length, page_size, data) =
            (cmd.flags, cmd.iova, cmd.length, cmd.page_size, cmd.data);
        if !dom.can_read_dirty() {
            return Err(Errno::EOPNOTSUPP);
        }
        let mut bitmap =
            IovaBitmap::alloc(iova, length, page_size, data).map_err(|_| Errno::ENOMEM)?;
        let mut gather = IotlbGather::new(GFP_KERNEL)?;
        // C `__iommu_read_and_clear_dirty()` per chunk: the chunk must be covered by
        // contiguous mapped areas (`EINVAL` otherwise).
        let rc = bitmap.for_each(&mut gather, |dirty, start, len| {
            let last = start + (len - 1);
            let mut cur = start;
            for area in self.iopt.areas_from(cur) {
                if area.last_iova() < cur {
                    continue;
                }
                if area.iova() > cur || area.is_pending() {
                    break;
                }
                let end = last.min(area.last_iova());
                dom.read_and_clear_dirty(cur, end - cur + 1, flags, dirty)?;
                if end == last {
                    return Ok(());
                }
                cur = end + 1;
            }
            Err(EINVAL)
        });
        if flags & DIRTY_NO_CLEAR == 0 {
            dom.iotlb_sync(&mut gather);
        }
        drop(bitmap);
        Ok(rc?)
    }
}
