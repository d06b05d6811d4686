// SPDX-License-Identifier: GPL-2.0

//! Model-based test of `iommufd_core::iopt`.
//!
//! Random sequences of operations run on the real [`Iopt`] (on `Vec` storage with fault
//! injection) and on [`Model`], a deliberately naive transcription of the C rules of
//! `drivers/iommu/iommufd/io_pagetable.c` and `ioas.c` (6.12) over a `BTreeMap` and plain
//! vectors, with every question answered by a linear scan. Every result, errno, removed
//! handle and the full state are compared after each step. When an injected `ENOMEM`
//! fires, the real table must report `ENOMEM` and be exactly as before.
//!
//! The real table's handles are reference counted ([`H`]): after each step, every pages
//! object must have exactly one live handle per area that maps it (plus the harness's own),
//! so areas own their handle, splits clone it, and removed, aborted or failed areas drop it.
//!
//! `IOPT_MODEL_CASES=n` changes the number of cases (default [`DEFAULT_CASES`]);
//! `IOPT_MODEL_RANDOM=1` uses a random seed instead of the fixed one.

mod common;

use common::{FaultPlan, TestStorage};
use iommufd_core::errno::{Errno, Result};
use iommufd_core::interval::Span;
use iommufd_core::iopt::{
    Area, Iopt, IoptConfig, MapPiece, Piece, Placement, IOMMU_CACHE, IOMMU_READ, IOMMU_WRITE,
};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

const PS: u64 = 4096;
const HPAGE: u64 = 2 << 20;
const MAX: u64 = u64::MAX;
const DEFAULT_CASES: u32 = 2500;

/// The real table's handle of a pages object: its id, reference counted.
type H = Rc<u32>;

/// The id of a pages object, from the model's handle (the id) or the real table's ([`H`]).
trait HandleId: Clone {
    fn id(&self) -> u32;
}

impl HandleId for u32 {
    fn id(&self) -> u32 {
        *self
    }
}

impl HandleId for H {
    fn id(&self) -> u32 {
        **self
    }
}

// ---------------------------------------------------------------------------------------
// The reference model.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct MArea {
    iova: u64,
    last: u64,
    handle: u32,
    start_byte: u64,
    prot: u32,
    pending: bool,
    accesses: u32,
    prevent: bool,
}

impl MArea {
    fn len(&self) -> u64 {
        self.last - self.iova + 1
    }
}

/// Everything observable, for comparison.
#[derive(Clone, Debug, PartialEq, Eq)]
struct State {
    areas: Vec<MArea>,
    allowed: Vec<(u64, u64)>,
    reserved: Vec<(u64, u64, usize)>,
    align: u64,
    no_large: bool,
}

#[derive(Clone, Debug)]
struct Model {
    areas: BTreeMap<u64, MArea>,
    allowed: Vec<(u64, u64)>,
    /// In insertion order.
    reserved: Vec<(u64, u64, usize)>,
    align: u64,
    no_large: bool,
}

fn hits(a: u64, b: u64, s: u64, l: u64) -> bool {
    a <= l && s <= b
}

/// `__alloc_iova_check_range()`, in 128-bit arithmetic.
fn check_range(start: u64, last: u64, length: u64, align: u64, off: u64) -> Option<u64> {
    let up = start as u128 + align as u128 - 1;
    if up > MAX as u128 {
        return None;
    }
    let aligned = ((up as u64) & !(align - 1)) | off;
    if aligned >= last || ((last - aligned) as u128) < length as u128 - 1 {
        return None;
    }
    Some(aligned)
}

impl Model {
    fn new() -> Self {
        Model {
            areas: BTreeMap::new(),
            allowed: Vec::new(),
            reserved: Vec::new(),
            align: 1,
            no_large: false,
        }
    }

    fn state(&self) -> State {
        let mut reserved = self.reserved.clone();
        reserved.sort_by_key(|&(s, l, _)| (s, l));
        State {
            areas: self.areas.values().copied().collect(),
            allowed: self.allowed.clone(),
            reserved,
            align: self.align,
            no_large: self.no_large,
        }
    }

    fn area_hit(&self, a: u64, b: u64) -> bool {
        self.areas.values().any(|x| hits(a, b, x.iova, x.last))
    }
    fn reserved_hit(&self, a: u64, b: u64) -> bool {
        self.reserved.iter().any(|&(s, l, _)| hits(a, b, s, l))
    }
    fn allowed_hit(&self, a: u64, b: u64) -> bool {
        self.allowed.iter().any(|&(s, l)| hits(a, b, s, l))
    }
    fn area_at(&self, p: u64) -> Option<MArea> {
        self.areas
            .values()
            .find(|x| x.iova <= p && p <= x.last)
            .copied()
    }

    /// Intervals of areas and reserved ranges, for the allocator.
    fn used(&self) -> Vec<(u64, u64)> {
        let mut v: Vec<(u64, u64)> = self.areas.values().map(|a| (a.iova, a.last)).collect();
        v.extend(self.reserved.iter().map(|&(s, l, _)| (s, l)));
        v
    }

    fn alloc(&self, uptr: u64, length: u64) -> Result<u64> {
        let off = uptr % PS;
        if length == 0 || length >= MAX / 2 {
            return Err(Errno::EOVERFLOW);
        }
        let mut pow = 1u64;
        while pow < length {
            pow *= 2;
        }
        let mut align = if uptr == 0 {
            pow
        } else {
            let mut low = 1u64;
            while uptr & low == 0 {
                low <<= 1;
            }
            pow.min(low)
        };
        if align >= HPAGE {
            align = HPAGE;
        }
        if align < self.align {
            return Err(Errno::EINVAL);
        }
        let (wlo, whi) = (PS, MAX - PS);
        // Allowed spans: adjacent ranges merged, clipped to the window.
        let mut runs: Vec<(u64, u64)> = Vec::new();
        if self.allowed.is_empty() {
            runs.push((wlo, whi));
        } else {
            let mut sorted = self.allowed.clone();
            sorted.sort();
            let mut merged: Vec<(u64, u64)> = Vec::new();
            for (s, l) in sorted {
                match merged.last_mut() {
                    Some(m) if m.1 as u128 + 1 == s as u128 => m.1 = l,
                    _ => merged.push((s, l)),
                }
            }
            for (s, l) in merged {
                let (s, l) = (s.max(wlo), l.min(whi));
                if s <= l {
                    runs.push((s, l));
                }
            }
        }
        let used = self.used();
        let covering = |p: u64| {
            used.iter()
                .filter(|&&(s, l)| s <= p && p <= l)
                .map(|&(_, l)| l)
                .max()
        };
        let next_start = |p: u64| used.iter().map(|&(s, _)| s).filter(|&s| s > p).min();
        for (s, l) in runs {
            let Some(mut p) = check_range(s, l, length, align, off) else {
                continue;
            };
            'holes: loop {
                while let Some(e) = covering(p) {
                    if e >= l {
                        break 'holes;
                    }
                    p = e + 1;
                }
                let hl = match next_start(p) {
                    Some(n) if n <= l => n - 1,
                    _ => l,
                };
                if let Some(x) = check_range(p, hl, length, align, off) {
                    return Ok(x);
                }
                if hl >= l {
                    break;
                }
                p = hl + 1;
            }
        }
        Err(Errno::ENOSPC)
    }

    fn check(&self, iova: u64, length: u64) -> Result {
        if !iova.is_multiple_of(self.align) {
            return Err(Errno::EINVAL);
        }
        let last = iova as u128 + length.wrapping_sub(1) as u128;
        if last > MAX as u128 {
            return Err(Errno::EOVERFLOW);
        }
        let last = last as u64;
        if self.reserved_hit(iova, last) {
            return Err(Errno::EINVAL);
        }
        if self.area_hit(iova, last) {
            return Err(Errno::EEXIST);
        }
        Ok(())
    }

    fn map(
        &mut self,
        pieces: &[MapPiece<u32>],
        length: u64,
        place: Placement,
        prot: u32,
        pending: bool,
    ) -> Result<u64> {
        let sum: u128 = pieces.iter().map(|p| p.length as u128).sum();
        if pieces.is_empty() || pieces.iter().any(|p| p.length == 0) || sum != length as u128 {
            return Err(Errno::EINVAL);
        }
        if !length.is_multiple_of(self.align) || length == 0 {
            return Err(Errno::EINVAL);
        }
        let iova = match place {
            Placement::Alloc { uptr } => self.alloc(uptr, length)?,
            Placement::Fixed(iova) => {
                self.check(iova, length)?;
                iova
            }
        };
        let mut new = Vec::new();
        let mut cur = iova as u128;
        for p in pieces {
            if prot & IOMMU_WRITE != 0 && !p.writable {
                return Err(Errno::EPERM);
            }
            if !(p.start_byte % PS).is_multiple_of(self.align) {
                return Err(Errno::EINVAL);
            }
            let last = cur + p.length as u128 - 1;
            if last > MAX as u128 || p.start_byte as u128 + p.length as u128 - 1 > MAX as u128 {
                return Err(Errno::EOVERFLOW);
            }
            new.push(MArea {
                iova: cur as u64,
                last: last as u64,
                handle: p.handle,
                start_byte: p.start_byte,
                prot,
                pending,
                accesses: 0,
                prevent: false,
            });
            cur = last + 1;
        }
        for a in new {
            self.areas.insert(a.iova, a);
        }
        Ok(iova)
    }

    fn get_pages(&self, iova: u64, length: u64) -> Result<Vec<Piece<u32>>> {
        if length == 0 {
            return Err(Errno::EINVAL);
        }
        let last = iova.checked_add(length - 1).ok_or(Errno::EOVERFLOW)?;
        let mut out = Vec::new();
        let mut cur = iova;
        loop {
            let Some(a) = self.area_at(cur) else {
                return Err(Errno::ENOENT);
            };
            if a.pending || (cur != iova && a.iova != cur) {
                return Err(Errno::ENOENT);
            }
            let pl = last.min(a.last);
            out.push(Piece {
                handle: a.handle,
                iova: cur,
                start_byte: a.start_byte + (cur - a.iova),
                length: pl - cur + 1,
            });
            if last <= a.last {
                return Ok(out);
            }
            cur = a.last + 1;
        }
    }

    /// `iopt_unmap_iova_range()`; accesses go away when notified if `responsive`.
    fn unmap_range(
        &mut self,
        mut start: u64,
        last: u64,
        responsive: bool,
        removed: &mut Vec<u32>,
    ) -> (u64, Result) {
        let mut unmapped = 0u64;
        loop {
            let Some(a) = self
                .areas
                .values()
                .find(|a| hits(start, last, a.iova, a.last))
                .copied()
            else {
                return (unmapped, Ok(()));
            };
            if a.pending {
                return (unmapped, Err(Errno::EBUSY));
            }
            if a.iova < start || a.last > last {
                return (unmapped, Err(Errno::ENOENT));
            }
            if a.accesses != 0 && !responsive {
                self.areas.get_mut(&a.iova).unwrap().prevent = true;
                return (unmapped, Err(Errno::EDEADLOCK));
            }
            self.areas.remove(&a.iova);
            removed.push(a.handle);
            unmapped = unmapped.wrapping_add(a.len());
            if a.last >= last {
                return (unmapped, Ok(()));
            }
            start = a.last + 1;
        }
    }

    fn ioas_unmap(
        &mut self,
        iova: u64,
        length: u64,
        responsive: bool,
        removed: &mut Vec<u32>,
    ) -> Result<u64> {
        if iova == 0 && length == MAX {
            let (n, rc) = self.unmap_range(0, MAX, responsive, removed);
            return rc.map(|()| n);
        }
        if iova == MAX || length == MAX {
            return Err(Errno::EOVERFLOW);
        }
        if length == 0 {
            return Err(Errno::EINVAL);
        }
        let last = iova.checked_add(length - 1).ok_or(Errno::EOVERFLOW)?;
        let (n, rc) = self.unmap_range(iova, last, responsive, removed);
        rc?;
        if n == 0 {
            return Err(Errno::ENOENT);
        }
        Ok(n)
    }

    fn allow(&mut self, ranges: &[(u64, u64)]) -> Result {
        let mut new: Vec<(u64, u64)> = Vec::new();
        for &(s, l) in ranges {
            if s >= l || new.iter().any(|&(a, b)| hits(a, b, s, l)) {
                return Err(Errno::EINVAL);
            }
            new.push((s, l));
        }
        if new.iter().any(|&(s, l)| self.reserved_hit(s, l)) {
            return Err(Errno::EADDRINUSE);
        }
        new.sort();
        self.allowed = new;
        Ok(())
    }

    fn reserve(&mut self, s: u64, l: u64, owner: usize) -> Result {
        if s > l {
            return Err(Errno::EINVAL);
        }
        if self.area_hit(s, l) || self.allowed_hit(s, l) {
            return Err(Errno::EADDRINUSE);
        }
        self.reserved.push((s, l, owner));
        Ok(())
    }

    fn remove_reserved(&mut self, owner: usize) -> usize {
        let before = self.reserved.len();
        self.reserved.retain(|r| r.2 != owner);
        before - self.reserved.len()
    }

    /// Holes of the reserved ranges in `[0, MAX]`, by sweeping the sorted list.
    fn iova_ranges(&self) -> Vec<(u64, u64)> {
        let mut r = self.reserved.clone();
        r.sort();
        let mut out = Vec::new();
        let mut next: u128 = 0; // first address not yet known covered
        for (s, l, _) in r {
            if (s as u128) > next {
                out.push((next as u64, s - 1));
            }
            next = next.max(l as u128 + 1);
        }
        if next <= MAX as u128 {
            out.push((next as u64, MAX));
        }
        out
    }

    fn misaligned(&self, a: u64) -> bool {
        self.areas.values().any(|x| {
            !x.iova.is_multiple_of(a)
                || !x.len().is_multiple_of(a)
                || !(x.start_byte % PS).is_multiple_of(a)
        })
    }

    fn calc(&mut self, required: u64) -> Result {
        let base = if self.no_large { PS } else { 1 };
        let new = base.max(required);
        if new > self.align && self.misaligned(new) {
            return Err(Errno::EADDRINUSE);
        }
        self.align = new;
        Ok(())
    }

    fn set_huge(&mut self, enable: bool, domains: bool, required: u64) -> Result {
        if enable {
            self.no_large = false;
            return self.calc(required);
        }
        if self.no_large {
            return Ok(());
        }
        if domains && !self.areas.is_empty() {
            return Err(Errno::EINVAL);
        }
        self.no_large = true;
        let rc = self.calc(required);
        if rc.is_err() {
            self.no_large = false;
        }
        rc
    }

    fn split(&mut self, iova: u64, domains: bool) -> Result<Option<u32>> {
        let Some(a) = self.area_at(iova) else {
            return Ok(None);
        };
        if iova == a.iova || iova == a.last {
            return Ok(None);
        }
        if a.pending || a.prevent {
            return Err(Errno::EBUSY);
        }
        let ns = iova + 1;
        let rsb = a.start_byte + (ns - a.iova);
        if !ns.is_multiple_of(self.align) || !rsb.is_multiple_of(self.align) {
            return Err(Errno::EINVAL);
        }
        if a.accesses != 0 || (domains && !self.no_large) {
            return Err(Errno::EINVAL);
        }
        let lhs = MArea { last: iova, ..a };
        let rhs = MArea {
            iova: ns,
            start_byte: rsb,
            ..a
        };
        self.areas.insert(lhs.iova, lhs);
        self.areas.insert(rhs.iova, rhs);
        Ok(Some(a.handle))
    }

    fn finish(&mut self, iova: u64, length: u64) -> usize {
        let Some(last) = length.checked_sub(1).and_then(|l| iova.checked_add(l)) else {
            return 0;
        };
        let mut n = 0;
        for a in self.areas.values_mut() {
            if a.pending && a.iova >= iova && a.last <= last {
                a.pending = false;
                n += 1;
            }
        }
        n
    }

    fn abort(&mut self, iova: u64, length: u64) -> Vec<u32> {
        let Some(last) = length.checked_sub(1).and_then(|l| iova.checked_add(l)) else {
            return Vec::new();
        };
        let gone: Vec<MArea> = self
            .areas
            .values()
            .filter(|a| a.pending && a.iova >= iova && a.last <= last)
            .copied()
            .collect();
        for a in &gone {
            self.areas.remove(&a.iova);
        }
        gone.iter().map(|a| a.handle).collect()
    }
}

// ---------------------------------------------------------------------------------------
// Operations.

/// An address, possibly relative to an existing area so that operations hit something.
#[derive(Clone, Copy, Debug)]
enum Addr {
    Raw(u64),
    /// `off` bytes into area `sel % n` (from its end if `from_end`), clamped into it.
    Area {
        sel: usize,
        off: u64,
        from_end: bool,
    },
}

#[derive(Clone, Debug)]
enum Op {
    Map {
        uptr: u64,
        length: u64,
        fixed: Option<Addr>,
        writable: bool,
        write: bool,
        pending: bool,
    },
    /// Over the range of [`Harness::area_range`].
    Finish(usize, usize, bool),
    Abort(usize, usize, bool),
    Unmap {
        iova: Addr,
        length: u64,
        responsive: bool,
    },
    /// From the start of area `sel` to the end of area `sel + count` (iopt level).
    UnmapAreas {
        sel: usize,
        count: usize,
        shrink: bool,
        responsive: bool,
    },
    UnmapAll {
        responsive: bool,
    },
    Copy {
        src: Addr,
        length: u64,
        dst: Option<Addr>,
        write: bool,
    },
    /// A copy from `off` bytes into area `sel` to the end of area `sel + count`.
    CopyAreas {
        sel: usize,
        count: usize,
        off: u64,
        dst: Option<Addr>,
        write: bool,
    },
    Allow(Vec<(u64, u64)>),
    AllowAroundReserved,
    Reserve {
        start: Addr,
        length: u64,
        owner: usize,
    },
    RemoveReserved(usize),
    IovaRanges(usize),
    Huge {
        enable: bool,
        domains: bool,
    },
    Required(u64),
    Access {
        sel: usize,
        n: u32,
    },
    Cut {
        at: Vec<Addr>,
        domains: bool,
    },
}

impl Op {
    fn kind(&self) -> &'static str {
        match self {
            Op::Map {
                pending: false,
                fixed: None,
                ..
            } => "map (alloc)",
            Op::Map { pending: false, .. } => "map (fixed)",
            Op::Map { pending: true, .. } => "map (pending)",
            Op::Finish(..) => "finish_map",
            Op::Abort(..) => "abort_map",
            Op::Unmap { .. } => "ioas_unmap",
            Op::UnmapAreas { .. } => "unmap_iova_range",
            Op::UnmapAll { .. } => "ioas_unmap (all)",
            Op::Copy { .. } => "copy",
            Op::CopyAreas { .. } => "copy (of areas)",
            Op::Allow(_) | Op::AllowAroundReserved => "allow_iovas",
            Op::Reserve { .. } => "reserve_iova",
            Op::RemoveReserved(_) => "remove_reserved_iova",
            Op::IovaRanges(_) => "iova_ranges",
            Op::Huge { .. } => "huge pages",
            Op::Required(_) => "calculate_iova_alignment",
            Op::Access { .. } => "set num_accesses",
            Op::Cut { .. } => "cut_iova",
        }
    }
}

fn raw_addr() -> impl Strategy<Value = u64> {
    prop_oneof![
        4 => (0u64..48).prop_map(|k| k * PS),
        2 => (0u64..48, prop_oneof![Just(1u64), Just(2), Just(0x800), Just(PS - 1)])
            .prop_map(|(k, o)| k * PS + o),
        1 => (1u64..6).prop_map(|k| 0u64.wrapping_sub(k * PS)),
        1 => (0u64..3).prop_map(|k| MAX - k),
        1 => (0u64..4).prop_map(|k| k * HPAGE),
        1 => any::<u64>(),
    ]
}

fn addr() -> impl Strategy<Value = Addr> {
    prop_oneof![
        2 => raw_addr().prop_map(Addr::Raw),
        3 => (any::<usize>(), prop_oneof![Just(0u64), Just(1), Just(PS), Just(PS - 1), 0u64..3 * PS], any::<bool>())
            .prop_map(|(sel, off, from_end)| Addr::Area { sel, off, from_end }),
    ]
}

fn length() -> impl Strategy<Value = u64> {
    prop_oneof![
        6 => (1u64..6).prop_map(|k| k * PS),
        1 => (1u64..3).prop_map(|k| k * HPAGE),
        1 => Just(0u64),
        1 => prop_oneof![Just(1u64), Just(2), Just(0x800), Just(PS + 1)],
        1 => prop_oneof![Just(MAX), Just(MAX / 2), Just(MAX / 2 - 1), Just(1u64 << 63)],
        1 => (1u64..4).prop_map(|k| 0u64.wrapping_sub(k * PS)),
    ]
}

fn uptr() -> impl Strategy<Value = u64> {
    prop_oneof![
        3 => (1u64..64).prop_map(|k| k * PS),
        1 => (1u64..64, 1u64..PS).prop_map(|(k, o)| k * PS + o),
        1 => (1u64..8).prop_map(|k| k * HPAGE),
        1 => Just(0u64),
        1 => 0u64..1 << 40,
    ]
}

fn allowed_list() -> impl Strategy<Value = Vec<(u64, u64)>> {
    let range = prop_oneof![
        4 => ((0u64..48), (1u64..16)).prop_map(|(k, n)| (k * PS, (k + n) * PS - 1)),
        1 => (raw_addr(), raw_addr()),
        1 => raw_addr().prop_map(|a| (a, a)),
    ];
    // Adjacent ranges, which the allocator must see as one span.
    let adjacent = (1u64..48, 1u64..4, 1u64..4, any::<bool>()).prop_map(|(k, n, m, rev)| {
        let mut v = vec![
            (k * PS, (k + n) * PS - 1),
            ((k + n) * PS, (k + n + m) * PS - 1),
        ];
        if rev {
            v.reverse();
        }
        v
    });
    prop_oneof![3 => prop::collection::vec(range, 0..4), 1 => adjacent]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (uptr(), length(), prop::option::weighted(0.5, addr()), any::<bool>(), any::<bool>(), prop::bool::weighted(0.15))
            .prop_map(|(uptr, length, fixed, writable, write, pending)| Op::Map { uptr, length, fixed, writable, write, pending }),
        1 => (any::<usize>(), 0usize..3, any::<bool>()).prop_map(|(s, c, k)| Op::Finish(s, c, k)),
        1 => (any::<usize>(), 0usize..3, any::<bool>()).prop_map(|(s, c, k)| Op::Abort(s, c, k)),
        3 => (addr(), length(), prop::bool::weighted(0.8))
            .prop_map(|(iova, length, responsive)| Op::Unmap { iova, length, responsive }),
        3 => (any::<usize>(), 0usize..3, prop::bool::weighted(0.2), prop::bool::weighted(0.8))
            .prop_map(|(sel, count, shrink, responsive)| Op::UnmapAreas { sel, count, shrink, responsive }),
        1 => prop::bool::weighted(0.8).prop_map(|responsive| Op::UnmapAll { responsive }),
        4 => (addr(), length(), prop::option::weighted(0.5, addr()), any::<bool>())
            .prop_map(|(src, length, dst, write)| Op::Copy { src, length, dst, write }),
        4 => (any::<usize>(), 0usize..3, prop_oneof![Just(0u64), Just(PS), 0u64..2 * PS], prop::option::weighted(0.5, addr()), any::<bool>())
            .prop_map(|(sel, count, off, dst, write)| Op::CopyAreas { sel, count, off, dst, write }),
        2 => allowed_list().prop_map(Op::Allow),
        1 => Just(Op::AllowAroundReserved),
        3 => (addr(), length(), 0usize..3)
            .prop_map(|(start, length, owner)| Op::Reserve { start, length, owner }),
        1 => (0usize..3).prop_map(Op::RemoveReserved),
        1 => (0usize..4).prop_map(Op::IovaRanges),
        1 => (any::<bool>(), prop::bool::weighted(0.3)).prop_map(|(enable, domains)| Op::Huge { enable, domains }),
        1 => prop_oneof![Just(1u64), Just(2), Just(PS)].prop_map(Op::Required),
        1 => (any::<usize>(), 0u32..3).prop_map(|(sel, n)| Op::Access { sel, n }),
        2 => (prop::collection::vec(addr(), 1..3), prop::bool::weighted(0.2))
            .prop_map(|(at, domains)| Op::Cut { at, domains }),
    ]
}

/// An operation, with an allocation fault armed for it or not.
fn step() -> impl Strategy<Value = (Option<u32>, Op)> {
    (prop::option::weighted(0.15, 0u32..4), op())
}

// ---------------------------------------------------------------------------------------
// The harness.

static CASES: AtomicU64 = AtomicU64::new(0);
static OPS: AtomicU64 = AtomicU64::new(0);
static FAULTS: AtomicU64 = AtomicU64::new(0);
/// Per kind of operation: how many ran, how many succeeded, which errnos were seen.
type Stats = BTreeMap<&'static str, (u64, u64, BTreeSet<&'static str>)>;
static STATS: Mutex<Stats> = Mutex::new(BTreeMap::new());

struct Harness {
    real: Iopt<H, TestStorage>,
    plan: Rc<FaultPlan>,
    model: Model,
    /// Pages objects: handle -> (page-aligned uptr, writable).
    pages: HashMap<u32, (u64, bool)>,
    next_handle: u32,
    /// The harness's own reference to each pages object the real table was given.
    handles: HashMap<u32, H>,
    /// What domains and accesses demand of the alignment.
    required: u64,
}

fn real_state(t: &Iopt<H, TestStorage>) -> State {
    let conv = |a: &Area<H>| MArea {
        iova: a.iova(),
        last: a.last_iova(),
        handle: a.handle().id(),
        start_byte: a.start_byte(),
        prot: a.iommu_prot(),
        pending: a.is_pending(),
        accesses: a.num_accesses(),
        prevent: a.prevent_access(),
    };
    State {
        areas: t.areas().iter().map(conv).collect(),
        allowed: t.allowed().iter().map(|s| (s.start, s.last)).collect(),
        reserved: t
            .reserved()
            .iter()
            .map(|r| (r.span.start, r.span.last, r.owner))
            .collect(),
        align: t.iova_alignment(),
        no_large: t.large_pages_disabled(),
    }
}

/// What an operation returned, for comparison.
#[derive(Debug, PartialEq, Eq)]
enum Out {
    Res(Result),
    Iova(Result<u64>),
    Unmap(Result<u64>, Vec<u32>),
    UnmapIopt(u64, Result, Vec<u32>),
    Copy(Result<Vec<Piece<u32>>>, Option<Result<u64>>),
    Count(usize),
    Ranges(usize, Vec<(u64, u64)>),
    Cut(Result, Vec<u32>),
    Abort(Vec<u32>),
    Nothing,
}

impl Out {
    /// The first error reported, if any.
    fn error(&self) -> Option<Errno> {
        match self {
            Out::Res(r) | Out::UnmapIopt(_, r, _) | Out::Cut(r, _) => r.err(),
            Out::Iova(r) | Out::Unmap(r, _) => r.err(),
            Out::Copy(r, m) => r.as_ref().err().copied().or(m.and_then(|m| m.err())),
            _ => None,
        }
    }

    fn is_enomem(&self) -> bool {
        let e = Some(Errno::ENOMEM);
        match self {
            Out::Res(r) => r.err() == e,
            Out::Iova(r) => r.err() == e,
            Out::Copy(r, m) => r.as_ref().err() == e.as_ref() || m.and_then(|m| m.err()) == e,
            Out::Cut(r, _) => r.err() == e,
            _ => false,
        }
    }
}

impl Harness {
    fn new() -> Self {
        let storage = TestStorage::default();
        let plan = storage.plan.clone();
        Harness {
            real: Iopt::new(storage, IoptConfig::X86_64_THP),
            plan,
            model: Model::new(),
            pages: HashMap::new(),
            next_handle: 1,
            handles: HashMap::new(),
            required: 1,
        }
    }

    fn resolve(&self, a: Addr) -> u64 {
        match a {
            Addr::Raw(v) => v,
            Addr::Area { sel, off, from_end } => {
                let areas = &self.model.areas;
                match areas.values().nth(sel % areas.len().max(1)) {
                    None => off,
                    Some(x) => {
                        let off = off.min(x.last - x.iova);
                        if from_end {
                            x.last - off
                        } else {
                            x.iova + off
                        }
                    }
                }
            }
        }
    }

    /// From the start of area `sel` to the end of area `sel + count` (or of `sel` if that is
    /// before), one byte less if `shrink`.
    fn area_range(&self, sel: usize, count: usize, shrink: bool) -> Option<(u64, u64)> {
        let a = self.nth_area(sel)?;
        let b = self.nth_area(sel.wrapping_add(count))?;
        let (start, mut last) = (a.iova, b.last.max(a.last));
        if shrink && last > start {
            last -= 1;
        }
        Some((start, last))
    }

    fn nth_area(&self, sel: usize) -> Option<MArea> {
        let n = self.model.areas.len();
        self.model.areas.values().nth(sel % n.max(1)).copied()
    }

    fn prot(write: bool) -> u32 {
        IOMMU_READ | IOMMU_CACHE | if write { IOMMU_WRITE } else { 0 }
    }

    fn notify(responsive: bool) -> impl FnMut(&mut Iopt<H, TestStorage>, u64, u64) {
        move |t, iova, _| {
            if responsive {
                if let Some(a) = t.area_containing_mut(iova) {
                    a.set_num_accesses(0);
                }
            }
        }
    }

    /// Runs `op` on the real table, returning its outcome.
    fn run_real(&mut self, op: &Op) -> Out {
        let copy;
        let op = match *op {
            Op::CopyAreas { .. } => {
                copy = self.copy_areas(op);
                &copy
            }
            _ => op,
        };
        match *op {
            Op::Map {
                uptr,
                length,
                fixed,
                writable,
                write,
                pending,
            } => {
                let id = self.next_handle;
                let handle = Rc::clone(self.handles.entry(id).or_insert_with(|| Rc::new(id)));
                let piece = MapPiece {
                    handle,
                    start_byte: uptr % PS,
                    length,
                    writable,
                };
                let place = match fixed {
                    Some(a) => Placement::Fixed(self.resolve(a)),
                    None => Placement::Alloc { uptr },
                };
                let t = &mut self.real;
                let r = if pending {
                    t.map_pages_pending(&[piece], length, place, Self::prot(write))
                } else {
                    t.map_pages(&[piece], length, place, Self::prot(write))
                };
                Out::Iova(r)
            }
            Op::Finish(sel, count, shrink) => match self.area_range(sel, count, shrink) {
                Some((s, l)) => Out::Count(self.real.finish_map(s, l - s + 1)),
                None => Out::Nothing,
            },
            Op::Abort(sel, count, shrink) => match self.area_range(sel, count, shrink) {
                Some((s, l)) => {
                    let mut v = Vec::new();
                    self.real
                        .abort_map(s, l - s + 1, |x| v.push(x.handle().id()));
                    Out::Abort(v)
                }
                None => Out::Nothing,
            },
            Op::Unmap {
                iova,
                length,
                responsive,
            } => {
                let iova = self.resolve(iova);
                let mut v = Vec::new();
                let r = self
                    .real
                    .ioas_unmap(iova, length, Self::notify(responsive), |x| {
                        v.push(x.handle().id())
                    });
                Out::Unmap(r, v)
            }
            Op::UnmapAreas {
                sel,
                count,
                shrink,
                responsive,
            } => {
                let Some((start, last)) = self.area_range(sel, count, shrink) else {
                    return Out::Nothing;
                };
                let mut v = Vec::new();
                let (n, r) =
                    self.real
                        .unmap_iova_range(start, last, Self::notify(responsive), |x| {
                            v.push(x.handle().id())
                        });
                Out::UnmapIopt(n, r, v)
            }
            Op::UnmapAll { responsive } => {
                let mut v = Vec::new();
                let r = self.real.ioas_unmap(0, MAX, Self::notify(responsive), |x| {
                    v.push(x.handle().id())
                });
                Out::Unmap(r, v)
            }
            Op::Copy {
                src,
                length,
                dst,
                write,
            } => {
                let src = self.resolve(src);
                let dst = dst.map(|d| self.resolve(d));
                let mut got = Vec::new();
                let plan = self.plan.clone();
                let r = self.real.get_pages(src, length, |p| {
                    plan.alloc_point()?;
                    got.push(p);
                    Ok(())
                });
                if let Err(e) = r {
                    return Out::Copy(Err(e), None);
                }
                let (pieces, place) = self.copy_args(&got, dst);
                let m = self
                    .real
                    .map_pages(&pieces, length, place, Self::prot(write));
                let got = got
                    .into_iter()
                    .map(|p| Piece {
                        handle: p.handle.id(),
                        iova: p.iova,
                        start_byte: p.start_byte,
                        length: p.length,
                    })
                    .collect();
                Out::Copy(Ok(got), Some(m))
            }
            Op::Allow(ref ranges) => Out::Res(
                self.real
                    .allow_iovas(ranges.iter().map(|&(start, last)| Ok(Span { start, last }))),
            ),
            Op::AllowAroundReserved => {
                let ranges = self.model.iova_ranges();
                let r = self.real.allow_iovas(
                    ranges
                        .iter()
                        .filter(|r| r.0 < r.1)
                        .map(|&(start, last)| Ok(Span { start, last })),
                );
                Out::Res(r)
            }
            Op::Reserve {
                start,
                length,
                owner,
            } => {
                let start = self.resolve(start);
                let last = start.wrapping_add(length.wrapping_sub(1));
                Out::Res(self.real.reserve_iova(start, last, owner))
            }
            Op::RemoveReserved(owner) => Out::Count(self.real.remove_reserved_iova(owner)),
            Op::IovaRanges(cap) => {
                let mut buf = vec![Span { start: 1, last: 0 }; cap];
                let n = self.real.iova_ranges(&mut buf);
                let mut all = Vec::new();
                self.real
                    .for_each_iova_range(|s| {
                        all.push(s);
                        Ok(())
                    })
                    .unwrap();
                assert_eq!(all.len(), n);
                assert_eq!(&all[..n.min(cap)], &buf[..n.min(cap)]);
                Out::Ranges(n, all.iter().map(|s| (s.start, s.last)).collect())
            }
            Op::Huge { enable, domains } => Out::Res(if enable {
                self.real.enable_large_pages(self.required)
            } else {
                self.real.disable_large_pages(domains, self.required)
            }),
            Op::Required(a) => Out::Res(self.real.calculate_iova_alignment(a)),
            Op::Access { sel, n } => {
                if let Some(a) = self.nth_area(sel) {
                    self.real
                        .area_containing_mut(a.iova)
                        .unwrap()
                        .set_num_accesses(n);
                }
                Out::Nothing
            }
            Op::Cut { ref at, domains } => {
                let iovas: Vec<u64> = at.iter().map(|&a| self.resolve(a)).collect();
                let mut v = Vec::new();
                let r = self.real.cut_iova(&iovas, domains, |h| v.push(h.id()));
                Out::Cut(r, v)
            }
            Op::CopyAreas { .. } => unreachable!("resolved above"),
        }
    }

    /// [`Op::CopyAreas`] as an [`Op::Copy`] of the current areas.
    fn copy_areas(&self, op: &Op) -> Op {
        let Op::CopyAreas {
            sel,
            count,
            off,
            dst,
            write,
        } = *op
        else {
            unreachable!()
        };
        let (src, length) = match (self.nth_area(sel), self.nth_area(sel.wrapping_add(count))) {
            (Some(a), Some(b)) => {
                let src = a.iova + off.min(a.len() - 1);
                (src, b.last.max(a.last) - src + 1)
            }
            _ => (off, PS),
        };
        Op::Copy {
            src: Addr::Raw(src),
            length,
            dst,
            write,
        }
    }

    /// The pieces and placement of the map half of a copy.
    fn copy_args<T: HandleId>(
        &self,
        got: &[Piece<T>],
        dst: Option<u64>,
    ) -> (Vec<MapPiece<T>>, Placement) {
        let pieces: Vec<MapPiece<T>> = got
            .iter()
            .map(|p| MapPiece {
                handle: p.handle.clone(),
                start_byte: p.start_byte,
                length: p.length,
                writable: self.pages[&p.handle.id()].1,
            })
            .collect();
        let place = match dst {
            Some(d) => Placement::Fixed(d),
            None => {
                let first = &got[0];
                Placement::Alloc {
                    uptr: self.pages[&first.handle.id()]
                        .0
                        .wrapping_add(first.start_byte),
                }
            }
        };
        (pieces, place)
    }

    /// Runs `op` on the model.
    fn run_model(&mut self, op: &Op) -> Out {
        let copy;
        let op = match *op {
            Op::CopyAreas { .. } => {
                copy = self.copy_areas(op);
                &copy
            }
            _ => op,
        };
        match *op {
            Op::Map {
                uptr,
                length,
                fixed,
                writable,
                write,
                pending,
            } => {
                let handle = self.next_handle;
                let piece = MapPiece {
                    handle,
                    start_byte: uptr % PS,
                    length,
                    writable,
                };
                let place = match fixed {
                    Some(a) => Placement::Fixed(self.resolve(a)),
                    None => Placement::Alloc { uptr },
                };
                let r = self
                    .model
                    .map(&[piece], length, place, Self::prot(write), pending);
                Out::Iova(r)
            }
            Op::Finish(sel, count, shrink) => match self.area_range(sel, count, shrink) {
                Some((s, l)) => Out::Count(self.model.finish(s, l - s + 1)),
                None => Out::Nothing,
            },
            Op::Abort(sel, count, shrink) => match self.area_range(sel, count, shrink) {
                Some((s, l)) => Out::Abort(self.model.abort(s, l - s + 1)),
                None => Out::Nothing,
            },
            Op::Unmap {
                iova,
                length,
                responsive,
            } => {
                let iova = self.resolve(iova);
                let mut v = Vec::new();
                let r = self.model.ioas_unmap(iova, length, responsive, &mut v);
                Out::Unmap(r, v)
            }
            Op::UnmapAreas {
                sel,
                count,
                shrink,
                responsive,
            } => {
                let Some((start, last)) = self.area_range(sel, count, shrink) else {
                    return Out::Nothing;
                };
                let mut v = Vec::new();
                let (n, r) = self.model.unmap_range(start, last, responsive, &mut v);
                Out::UnmapIopt(n, r, v)
            }
            Op::UnmapAll { responsive } => {
                let mut v = Vec::new();
                let r = self.model.ioas_unmap(0, MAX, responsive, &mut v);
                Out::Unmap(r, v)
            }
            Op::Copy {
                src,
                length,
                dst,
                write,
            } => {
                let src = self.resolve(src);
                let dst = dst.map(|d| self.resolve(d));
                let got = match self.model.get_pages(src, length) {
                    Err(e) => return Out::Copy(Err(e), None),
                    Ok(g) => g,
                };
                let (pieces, place) = self.copy_args(&got, dst);
                let m = self
                    .model
                    .map(&pieces, length, place, Self::prot(write), false);
                Out::Copy(Ok(got), Some(m))
            }
            Op::CopyAreas { .. } => unreachable!("resolved above"),
            Op::Allow(ref ranges) => Out::Res(self.model.allow(ranges)),
            Op::AllowAroundReserved => {
                let ranges: Vec<(u64, u64)> = self
                    .model
                    .iova_ranges()
                    .into_iter()
                    .filter(|r| r.0 < r.1)
                    .collect();
                Out::Res(self.model.allow(&ranges))
            }
            Op::Reserve {
                start,
                length,
                owner,
            } => {
                let start = self.resolve(start);
                let last = start.wrapping_add(length.wrapping_sub(1));
                Out::Res(self.model.reserve(start, last, owner))
            }
            Op::RemoveReserved(owner) => Out::Count(self.model.remove_reserved(owner)),
            Op::IovaRanges(_) => {
                let all = self.model.iova_ranges();
                Out::Ranges(all.len(), all)
            }
            Op::Huge { enable, domains } => {
                Out::Res(self.model.set_huge(enable, domains, self.required))
            }
            Op::Required(a) => Out::Res(self.model.calc(a)),
            Op::Access { sel, n } => {
                if let Some(a) = self.nth_area(sel) {
                    self.model.areas.get_mut(&a.iova).unwrap().accesses = n;
                }
                Out::Nothing
            }
            Op::Cut { ref at, domains } => {
                let iovas: Vec<u64> = at.iter().map(|&a| self.resolve(a)).collect();
                let mut v = Vec::new();
                for iova in iovas {
                    match self.model.split(iova, domains) {
                        Ok(Some(h)) => v.push(h),
                        Ok(None) => {}
                        Err(e) => return Out::Cut(Err(e), v),
                    }
                }
                Out::Cut(Ok(()), v)
            }
        }
    }

    /// Bookkeeping of the harness after an operation that succeeded on both sides.
    fn after(&mut self, op: &Op, out: &Out) {
        match (op, out) {
            (Op::Map { uptr, writable, .. }, Out::Iova(Ok(_))) => {
                self.pages
                    .insert(self.next_handle, (uptr - uptr % PS, *writable));
                self.next_handle += 1;
            }
            (Op::Required(a), Out::Res(Ok(()))) => self.required = *a,
            _ => {}
        }
    }

    /// Every pages object has one live handle per area of the real table that maps it, plus
    /// the harness's own: nothing leaked, nothing dropped too early.
    fn check_handles(&self, op: &Op) -> std::result::Result<(), TestCaseError> {
        for (id, handle) in &self.handles {
            let areas = self
                .real
                .areas()
                .iter()
                .filter(|a| Rc::ptr_eq(a.handle(), handle))
                .count();
            prop_assert_eq!(
                Rc::strong_count(handle),
                areas + 1,
                "handles of pages {} after {:?}",
                id,
                op
            );
        }
        Ok(())
    }

    fn step(&mut self, fault: Option<u32>, op: &Op) -> std::result::Result<(), TestCaseError> {
        OPS.fetch_add(1, Ordering::Relaxed);
        let before = real_state(&self.real);
        prop_assert_eq!(&before, &self.model.state());
        // A cut splits one area after the other: only a single split is atomic.
        let fault = match op {
            Op::Cut { at, .. } if at.len() > 1 => None,
            _ => fault,
        };
        if let Some(n) = fault {
            self.plan.arm(n);
        }
        let out = self.run_real(op);
        let fired = self.plan.disarm();
        self.check_handles(op)?;
        if fired {
            FAULTS.fetch_add(1, Ordering::Relaxed);
            prop_assert!(
                out.is_enomem(),
                "fault fired but {:?} returned {:?}",
                op,
                out
            );
            prop_assert_eq!(
                &real_state(&self.real),
                &before,
                "ENOMEM changed the state: {:?}",
                op
            );
            return Ok(());
        }
        let want = self.run_model(op);
        prop_assert_eq!(&out, &want, "op {:?}", op);
        prop_assert_eq!(
            real_state(&self.real),
            self.model.state(),
            "state after {:?}",
            op
        );
        let mut stats = STATS.lock().unwrap();
        let entry = stats.entry(op.kind()).or_default();
        entry.0 += 1;
        match out.error() {
            None => entry.1 += 1,
            Some(e) => {
                entry.2.insert(e.name());
            }
        }
        drop(stats);
        self.after(op, &out);
        Ok(())
    }
}

#[test]
fn iopt_matches_model() {
    let mut runner = common::model_runner("IOPT_MODEL", DEFAULT_CASES);
    let cases = runner.config().cases;
    let result = runner.run(&prop::collection::vec(step(), 10..60), |steps| {
        CASES.fetch_add(1, Ordering::Relaxed);
        let mut h = Harness::new();
        for (fault, op) in &steps {
            h.step(*fault, op)?;
        }
        Ok(())
    });
    let (c, o, f) = (
        CASES.load(Ordering::Relaxed),
        OPS.load(Ordering::Relaxed),
        FAULTS.load(Ordering::Relaxed),
    );
    eprintln!(
        "iopt model: {cases} cases ({c} runs incl. shrinking), {o} operations, \
         {f} of them with an injected ENOMEM that fired"
    );
    for (kind, (n, ok, errs)) in STATS.lock().unwrap().iter() {
        let errs: Vec<&str> = errs.iter().copied().collect();
        eprintln!(
            "  {kind:26} {n:6} compared, {ok:6} ok, errors seen: {}",
            errs.join(" ")
        );
    }
    if let Err(e) = result {
        panic!("{e}");
    }
}
