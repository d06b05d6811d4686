// SPDX-License-Identifier: GPL-2.0

//! Sorted tables of inclusive intervals `[start, last]`, the core's interval trees.
//!
//! The C code keeps areas, allowed and reserved ranges in `interval_tree`s (augmented
//! rbtrees). Here they are sorted arrays in [`Slots`]:
//!
//! - [`IntervalSet`]: intervals that never overlap (areas, allowed ranges), sorted by start;
//!   lookups are binary searches.
//! - [`IntervalMultiSet`]: intervals that may overlap (reserved ranges), sorted by
//!   `(start, last)`; lookups scan the prefix that starts at or before the point, which is
//!   fine for the handful of reserved ranges an IOAS has.
//!
//! [`Holes`] walks the gaps left by the union of two tables inside a window, like
//! `interval_tree_double_span_iter` (`drivers/iommu/iommufd/double_span.h`) does for its
//! hole spans; [`Runs`] walks the used spans of one [`IntervalSet`], adjacent intervals
//! merged, like `interval_tree_span_iter` (`lib/interval_tree.c`) does for used spans.
//!
//! Ranges are inclusive so that `[x, u64::MAX]` is representable; no arithmetic here can
//! overflow or index out of bounds.

use super::errno::{Errno, Result};
use super::storage::{Slots, Storage};
use core::marker::PhantomData;

/// An inclusive range of IOVA `[start, last]`; valid when `start <= last`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Span {
    /// First address.
    pub start: u64,
    /// Last address (inclusive).
    pub last: u64,
}

impl Span {
    /// `[start, last]`, or `None` if `start > last`.
    pub const fn new(start: u64, last: u64) -> Option<Span> {
        if start <= last {
            Some(Span { start, last })
        } else {
            None
        }
    }

    /// `[start, start + length - 1]`, or `None` if `length` is 0 or the end overflows.
    pub const fn from_len(start: u64, length: u64) -> Option<Span> {
        if length == 0 {
            return None;
        }
        match start.checked_add(length - 1) {
            Some(last) => Some(Span { start, last }),
            None => None,
        }
    }

    /// Whether `addr` is inside.
    pub const fn contains(&self, addr: u64) -> bool {
        self.start <= addr && addr <= self.last
    }

    /// Whether the two ranges share at least one address.
    pub const fn intersects(&self, other: &Span) -> bool {
        self.start <= other.last && other.start <= self.last
    }

    /// The number of addresses, saturated at `u64::MAX` (only `[0, u64::MAX]` saturates).
    pub const fn length(&self) -> u64 {
        self.last.wrapping_sub(self.start).saturating_add(1)
    }
}

/// Something stored in an interval table: it covers a [`Span`].
pub trait HasSpan {
    /// The covered range. Must stay the same while the value is in a table.
    fn span(&self) -> Span;
}

impl HasSpan for Span {
    fn span(&self) -> Span {
        *self
    }
}

/// Point queries over a table, what [`Holes`] needs.
pub trait Cover {
    /// If `pos` is covered, the largest `last` of the intervals that contain it.
    fn covering_last(&self, pos: u64) -> Option<u64>;
    /// The smallest `start` greater than `pos`, if any.
    fn next_start_after(&self, pos: u64) -> Option<u64>;
}

/// The empty table, for [`Holes`] over a single table.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoCover;

impl Cover for NoCover {
    fn covering_last(&self, _pos: u64) -> Option<u64> {
        None
    }
    fn next_start_after(&self, _pos: u64) -> Option<u64> {
        None
    }
}

/// Index of the first element that does not satisfy `pred` (elements that satisfy it form
/// a prefix).
fn partition<T: HasSpan>(items: &[T], pred: impl Fn(Span) -> bool) -> usize {
    items.partition_point(|e| pred(e.span()))
}

/// Intervals per block of an [`IntervalSet`]: a full block splits in two halves.
///
/// An insert or remove moves the intervals after it in its block: with 16, at most 15 (an
/// io_pagetable area is 48 bytes, so well under a KiB; 64 made the one-page map and unmap of
/// an IOAS with hundreds of areas twice as slow as C's interval tree). The block index (one
/// entry per block, searched first) stays short: 10,000 areas are 600 to 1,300 blocks, and
/// it only changes when a block splits, empties or merges.
pub const BLOCK: usize = 16;

/// A block below this many intervals is merged into a neighbour with room.
const BLOCK_MIN: usize = BLOCK / 4;

/// Where an interval sits in an [`IntervalSet`]: its block and its index in the block.
///
/// Valid until the set changes; [`IntervalSet::get_mut`] keeps it valid.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Pos {
    block: usize,
    idx: usize,
}

/// A sorted set of non-overlapping intervals, kept in blocks (a one-level B+-tree).
///
/// The intervals are in sorted blocks of at most [`BLOCK`], none empty (except the one block
/// an emptied set keeps), the blocks in order.
/// A lookup is a binary search over the blocks (by their last interval) and then inside one
/// block: O(log N). An insert or remove moves at most one block's tail, plus, when a block
/// splits, empties or merges, one entry of the block index: O(BLOCK + N / BLOCK) moves of
/// small entries, where a single sorted array moved O(N) intervals.
///
/// Memory comes from the [`Storage`]: every block is one of its tables, with room for
/// [`BLOCK`] intervals, and the set keeps at most one spare block, so that a map/unmap
/// pair on an empty set does not allocate.
pub struct IntervalSet<T, S: Storage> {
    storage: S,
    blocks: S::Table<S::Table<T>>,
    spare: Option<S::Table<T>>,
    len: usize,
}

impl<T: HasSpan, S: Storage> IntervalSet<T, S> {
    /// An empty set; does not allocate.
    pub fn new(storage: S) -> Self {
        IntervalSet {
            blocks: storage.new_table(),
            storage,
            spare: None,
            len: 0,
        }
    }

    /// Number of intervals.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no intervals.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// All intervals, sorted by start.
    pub fn iter(&self) -> Iter<'_, T, S> {
        self.iter_at(self.first_pos())
    }

    /// The intervals that end at or after `addr`, sorted by start: the first one contains
    /// `addr` or lies after it.
    pub fn iter_from(&self, addr: u64) -> Iter<'_, T, S> {
        self.iter_at(self.first_ending_at_or_after(addr))
    }

    /// The intervals intersecting `span`, in order.
    pub fn intersecting(&self, span: Span) -> impl Iterator<Item = &T> + '_ {
        self.iter_from(span.start)
            .take_while(move |e| e.span().start <= span.last)
    }

    /// The number of intervals in each block, in order: for tests of the block invariants
    /// (none empty unless the set is, none above [`BLOCK`], and no two neighbours both below
    /// a quarter).
    pub fn block_lens(&self) -> impl Iterator<Item = usize> + '_ {
        self.blocks.as_slice().iter().map(|b| b.as_slice().len())
    }

    /// The `n`-th interval in order (a walk over the blocks: O(N / BLOCK)).
    pub fn get_nth(&self, n: usize) -> Option<&T> {
        let mut n = n;
        for block in self.blocks.as_slice() {
            let items = block.as_slice();
            match items.get(n) {
                Some(e) => return Some(e),
                None => n -= items.len(),
            }
        }
        None
    }

    /// The interval at `pos`.
    pub fn get(&self, pos: Pos) -> Option<&T> {
        self.blocks
            .as_slice()
            .get(pos.block)?
            .as_slice()
            .get(pos.idx)
    }

    /// The interval at `pos`, mutably. The caller must keep the set sorted and disjoint.
    pub(crate) fn get_mut(&mut self, pos: Pos) -> Option<&mut T> {
        self.blocks
            .as_mut_slice()
            .get_mut(pos.block)?
            .as_mut_slice()
            .get_mut(pos.idx)
    }

    /// The position after `pos`.
    pub fn next_pos(&self, pos: Pos) -> Option<Pos> {
        let blocks = self.blocks.as_slice();
        let len = blocks.get(pos.block)?.as_slice().len();
        let next = if pos.idx + 1 < len {
            Pos {
                block: pos.block,
                idx: pos.idx + 1,
            }
        } else {
            Pos {
                block: pos.block + 1,
                idx: 0,
            }
        };
        blocks.get(next.block)?;
        Some(next)
    }

    fn first_pos(&self) -> Option<Pos> {
        if self.is_empty() {
            return None;
        }
        Some(Pos { block: 0, idx: 0 })
    }

    fn iter_at(&self, pos: Option<Pos>) -> Iter<'_, T, S> {
        let (block, idx) = match pos {
            Some(p) => (p.block, p.idx),
            None => (self.blocks.as_slice().len(), 0),
        };
        let items = self
            .blocks
            .as_slice()
            .get(block)
            .map_or(&[][..], |b| b.as_slice().get(idx..).unwrap_or(&[]));
        Iter {
            set: self,
            block,
            items: items.iter(),
        }
    }

    /// The first interval whose `last` is at least `addr` (so the one containing `addr`,
    /// if any, else the next one).
    fn first_ending_at_or_after(&self, addr: u64) -> Option<Pos> {
        let blocks = self.blocks.as_slice();
        // Blocks are never empty (but for the one of an empty set, which this skips); a
        // block's last interval ends it.
        let block =
            blocks.partition_point(|b| b.as_slice().last().is_some_and(|e| e.span().last < addr));
        let items = blocks.get(block)?.as_slice();
        let idx = items.partition_point(|e| e.span().last < addr);
        if idx < items.len() {
            Some(Pos { block, idx })
        } else {
            None
        }
    }

    /// The first interval intersecting `span`.
    pub fn first_intersecting(&self, span: Span) -> Option<Pos> {
        let pos = self.first_ending_at_or_after(span.start)?;
        match self.get(pos) {
            Some(e) if e.span().start <= span.last => Some(pos),
            _ => None,
        }
    }

    /// Whether any interval intersects `span`.
    pub fn any_intersecting(&self, span: Span) -> bool {
        self.first_intersecting(span).is_some()
    }

    /// The interval containing `addr`.
    pub fn index_containing(&self, addr: u64) -> Option<Pos> {
        self.first_intersecting(Span {
            start: addr,
            last: addr,
        })
    }

    /// A new empty block with room for [`BLOCK`] intervals (`ENOMEM`).
    fn alloc_block(&self) -> Result<S::Table<T>> {
        let mut block = self.storage.new_table();
        block.try_reserve(BLOCK)?;
        Ok(block)
    }

    /// Makes sure the next insert cannot fail (`ENOMEM`): room for one more block in the
    /// index and a spare block, for a first block or a split. Fewer than [`BLOCK`] intervals
    /// in a block that exists cannot fill it, so then nothing is needed. Later inserts may
    /// still need memory; they fail with `ENOMEM` and change nothing if there is none.
    ///
    /// `additional` only says that an insert follows (0: nothing to do).
    pub fn try_reserve(&mut self, additional: usize) -> Result {
        if additional == 0 {
            return Ok(());
        }
        let nblocks = self.blocks.as_slice().len();
        if nblocks != 0 && self.len < BLOCK {
            return Ok(());
        }
        if self.blocks.capacity() <= nblocks {
            self.blocks.try_reserve(1)?;
        }
        if self.spare.is_none() {
            self.spare = Some(self.alloc_block()?);
        }
        Ok(())
    }

    /// Inserts `value`: `EINVAL` if its span is invalid, `EEXIST` if it overlaps an interval,
    /// `ENOMEM` if there is no room. Changes nothing on failure.
    pub fn insert(&mut self, value: T) -> Result {
        let span = value.span();
        if span.start > span.last {
            return Err(Errno::EINVAL);
        }
        if self.any_intersecting(span) {
            return Err(Errno::EEXIST);
        }
        self.insert_unchecked(value)
    }

    /// Inserts `value`, which must not overlap any interval (the caller checked). `ENOMEM`
    /// (and no change) if a block must be split or added and there is no memory.
    pub(crate) fn insert_unchecked(&mut self, value: T) -> Result {
        let start = value.span().start;
        let nblocks = self.blocks.as_slice().len();
        // The block to insert into: the first whose last interval ends after `start`
        // (disjoint, so it starts after it too), or the last block.
        let block = self
            .blocks
            .as_slice()
            .partition_point(|b| b.as_slice().last().is_some_and(|e| e.span().last < start))
            .min(nblocks.saturating_sub(1));
        let room = match self.blocks.as_slice().get(block) {
            None => {
                // Empty set: the first block.
                self.try_reserve(1)?;
                let Some(mut first) = self.spare.take() else {
                    return Err(Errno::ENOMEM);
                };
                first.try_insert(0, value)?;
                self.blocks.try_insert(0, first)?;
                self.len += 1;
                return Ok(());
            }
            Some(b) => b.as_slice().len() < BLOCK,
        };
        if room {
            let Some(b) = self.blocks.as_mut_slice().get_mut(block) else {
                return Err(Errno::EINVAL);
            };
            if b.capacity() <= b.as_slice().len() {
                b.try_reserve(1)?;
            }
            let idx = b.as_slice().partition_point(|e| e.span().start < start);
            b.try_insert(idx, value)?;
            self.len += 1;
            return Ok(());
        }
        // Full block: split it in halves into the spare block (reserved first, so nothing
        // changes on `ENOMEM`), then insert into the half `value` belongs to.
        self.try_reserve(1)?;
        let Some(mut upper) = self.spare.take() else {
            return Err(Errno::ENOMEM);
        };
        let Some(b) = self.blocks.as_mut_slice().get_mut(block) else {
            self.spare = Some(upper);
            return Err(Errno::EINVAL);
        };
        // Moves the upper half off the end (no shifting), then puts it back in order.
        let half = BLOCK / 2;
        while let Some(last) = b.as_slice().len().checked_sub(1).filter(|&l| l >= half) {
            let e = b.remove(last);
            // `upper` has room for `BLOCK` (from `alloc_block`), so this cannot fail.
            upper.try_insert(upper.as_slice().len(), e)?;
        }
        upper.as_mut_slice().reverse();
        let goes_up = upper
            .as_slice()
            .first()
            .is_some_and(|e| e.span().start < start);
        let target = if goes_up { &mut upper } else { b };
        let idx = target
            .as_slice()
            .partition_point(|e| e.span().start < start);
        // Either half has `BLOCK / 2` free slots.
        target.try_insert(idx, value)?;
        // Room in the index was reserved by `try_reserve`.
        self.blocks.try_insert(block + 1, upper)?;
        self.len += 1;
        Ok(())
    }

    /// Removes and returns the interval at `pos`, if there is one. Positions are invalid
    /// afterwards.
    pub fn remove(&mut self, pos: Pos) -> Option<T> {
        let blocks = self.blocks.as_mut_slice();
        let b = blocks.get_mut(pos.block)?;
        let len = b.as_slice().len();
        if pos.idx >= len {
            return None;
        }
        let value = b.remove(pos.idx);
        self.len -= 1;
        let left = len - 1;
        if left == 0 && self.len == 0 {
            // The set is empty and this was its only block: keep it for the next insert,
            // so that a map/unmap pair on an empty IOAS neither allocates nor touches the
            // index.
        } else if left == 0 {
            let empty = self.blocks.remove(pos.block);
            if self.spare.is_none() {
                self.spare = Some(empty);
            }
        } else if left < BLOCK_MIN {
            self.merge(pos.block);
        }
        Some(value)
    }

    /// Moves the intervals of the small block `block` into a neighbour that has room for
    /// them without allocating, and drops the emptied block from the index. No-op if neither
    /// neighbour has room.
    fn merge(&mut self, block: usize) {
        let blocks = self.blocks.as_mut_slice();
        let n = blocks.get(block).map_or(0, |b| b.as_slice().len());
        let fits = |b: &S::Table<T>| {
            let len = b.as_slice().len();
            len + n <= BLOCK * 3 / 4 && b.capacity() >= len + n
        };
        if block > 0 && blocks.get(block - 1).is_some_and(fits) {
            let (lo, hi) = blocks.split_at_mut(block);
            let (Some(prev), Some(cur)) = (lo.last_mut(), hi.first_mut()) else {
                return;
            };
            while !cur.as_slice().is_empty() {
                let e = cur.remove(0);
                let at = prev.as_slice().len();
                // `fits` checked the capacity.
                if prev.try_insert(at, e).is_err() {
                    return;
                }
            }
        } else if blocks.get(block + 1).is_some_and(fits) {
            let (lo, hi) = blocks.split_at_mut(block + 1);
            let (Some(cur), Some(next)) = (lo.last_mut(), hi.first_mut()) else {
                return;
            };
            while let Some(last) = cur.as_slice().len().checked_sub(1) {
                let e = cur.remove(last);
                if next.try_insert(0, e).is_err() {
                    return;
                }
            }
        } else {
            return;
        }
        let empty = self.blocks.remove(block);
        if self.spare.is_none() {
            self.spare = Some(empty);
        }
    }

    /// The used spans inside `within`: runs of adjacent or touching intervals, merged and
    /// clipped to `within`, in order.
    pub fn runs(&self, within: Span) -> Runs<'_, T, S> {
        Runs {
            items: self.iter_from(within.start).peekable(),
            within,
        }
    }
}

impl<T: HasSpan, S: Storage> Cover for IntervalSet<T, S> {
    fn covering_last(&self, pos: u64) -> Option<u64> {
        let at = self.index_containing(pos)?;
        self.get(at).map(|e| e.span().last)
    }

    fn next_start_after(&self, pos: u64) -> Option<u64> {
        // Disjoint and sorted: the first interval ending after `pos` is the one containing
        // it (then the next one starts after it) or the first one starting after it.
        let mut it = self.iter_from(pos);
        let e = it.next()?;
        if e.span().start > pos {
            return Some(e.span().start);
        }
        it.next().map(|e| e.span().start)
    }
}

impl<'a, T: HasSpan, S: Storage> IntoIterator for &'a IntervalSet<T, S> {
    type Item = &'a T;
    type IntoIter = Iter<'a, T, S>;

    fn into_iter(self) -> Iter<'a, T, S> {
        self.iter()
    }
}

/// Iterator over the intervals of an [`IntervalSet`], in order.
pub struct Iter<'a, T, S: Storage> {
    set: &'a IntervalSet<T, S>,
    block: usize,
    items: core::slice::Iter<'a, T>,
}

impl<'a, T, S: Storage> Iterator for Iter<'a, T, S> {
    type Item = &'a T;

    fn next(&mut self) -> Option<&'a T> {
        loop {
            if let Some(e) = self.items.next() {
                return Some(e);
            }
            self.block += 1;
            self.items = self
                .set
                .blocks
                .as_slice()
                .get(self.block)?
                .as_slice()
                .iter();
        }
    }
}

/// Iterator over the used spans of an [`IntervalSet`], see [`IntervalSet::runs`].
pub struct Runs<'a, T, S: Storage> {
    items: core::iter::Peekable<Iter<'a, T, S>>,
    within: Span,
}

impl<T: HasSpan, S: Storage> Iterator for Runs<'_, T, S> {
    type Item = Span;

    fn next(&mut self) -> Option<Span> {
        let first = self.items.peek()?.span();
        if first.start > self.within.last || self.within.start > self.within.last {
            return None;
        }
        self.items.next();
        let start = first.start.max(self.within.start);
        let mut last = first.last;
        while let Some(e) = self.items.peek() {
            let s = e.span();
            if last.checked_add(1) != Some(s.start) {
                break;
            }
            last = s.last;
            self.items.next();
        }
        Some(Span {
            start,
            last: last.min(self.within.last),
        })
    }
}

/// A sorted multiset of intervals that may overlap.
pub struct IntervalMultiSet<T, S> {
    slots: S,
    _marker: PhantomData<T>,
}

impl<T: HasSpan, S: Slots<T>> IntervalMultiSet<T, S> {
    /// Wraps an empty container.
    pub fn new(slots: S) -> Self {
        IntervalMultiSet {
            slots,
            _marker: PhantomData,
        }
    }

    /// All intervals, sorted by `(start, last)`, equal ones in insertion order.
    pub fn as_slice(&self) -> &[T] {
        self.slots.as_slice()
    }

    /// Number of intervals.
    pub fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// Whether there are no intervals.
    pub fn is_empty(&self) -> bool {
        self.as_slice().is_empty()
    }

    /// The intervals that start at or before `addr`: the only ones that can contain it.
    fn starting_at_or_before(&self, addr: u64) -> &[T] {
        let items = self.as_slice();
        let end = partition(items, |s| s.start <= addr);
        items.get(..end).unwrap_or(&[])
    }

    /// Whether any interval intersects `span`.
    pub fn any_intersecting(&self, span: Span) -> bool {
        self.starting_at_or_before(span.last)
            .iter()
            .any(|e| e.span().last >= span.start)
    }

    /// Inserts `value`: `EINVAL` if its span is invalid, `ENOMEM` if there is no room.
    /// Changes nothing on failure.
    pub fn insert(&mut self, value: T) -> Result {
        let span = value.span();
        if span.start > span.last {
            return Err(Errno::EINVAL);
        }
        let idx = partition(self.as_slice(), |s| {
            s.start < span.start || (s.start == span.start && s.last <= span.last)
        });
        self.slots.try_reserve(1)?;
        self.slots.try_insert(idx, value)
    }

    /// Removes every interval for which `pred` holds; returns how many.
    pub fn remove_where(&mut self, mut pred: impl FnMut(&T) -> bool) -> usize {
        let mut removed = 0;
        let mut idx = self.len();
        while idx > 0 {
            idx -= 1;
            if self.as_slice().get(idx).is_some_and(&mut pred) {
                self.slots.remove(idx);
                removed += 1;
            }
        }
        removed
    }
}

impl<T: HasSpan, S: Slots<T>> Cover for IntervalMultiSet<T, S> {
    fn covering_last(&self, pos: u64) -> Option<u64> {
        self.starting_at_or_before(pos)
            .iter()
            .map(|e| e.span().last)
            .filter(|&last| last >= pos)
            .max()
    }

    fn next_start_after(&self, pos: u64) -> Option<u64> {
        let items = self.as_slice();
        let idx = partition(items, |s| s.start <= pos);
        items.get(idx).map(|e| e.span().start)
    }
}

/// Iterator over the maximal gaps of `a ∪ b` inside a window, in order.
pub struct Holes<'a, A: ?Sized, B: ?Sized> {
    a: &'a A,
    b: &'a B,
    pos: u64,
    last: u64,
    done: bool,
}

impl<'a, A: Cover + ?Sized, B: Cover + ?Sized> Holes<'a, A, B> {
    /// The holes of `a ∪ b` inside `window`.
    pub fn new(a: &'a A, b: &'a B, window: Span) -> Self {
        Holes {
            a,
            b,
            pos: window.start,
            last: window.last,
            done: window.start > window.last,
        }
    }
}

impl<A: Cover + ?Sized, B: Cover + ?Sized> Iterator for Holes<'_, A, B> {
    type Item = Span;

    fn next(&mut self) -> Option<Span> {
        if self.done {
            return None;
        }
        // Skip what is covered at `pos`, possibly by a chain of intervals.
        while let Some(end) = self
            .a
            .covering_last(self.pos)
            .max(self.b.covering_last(self.pos))
        {
            match end.checked_add(1) {
                Some(next) if end < self.last => self.pos = next,
                _ => {
                    self.done = true;
                    return None;
                }
            }
        }
        let next_used = match (
            self.a.next_start_after(self.pos),
            self.b.next_start_after(self.pos),
        ) {
            (Some(x), Some(y)) => Some(x.min(y)),
            (x, y) => x.or(y),
        };
        // `next_used > pos >= 0`, so `next_used - 1` cannot underflow.
        let hole_last = match next_used {
            Some(n) if n <= self.last => n.saturating_sub(1),
            _ => self.last,
        };
        let hole = Span {
            start: self.pos,
            last: hole_last,
        };
        match hole_last.checked_add(1) {
            Some(next) if hole_last < self.last => self.pos = next,
            _ => self.done = true,
        }
        Some(hole)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::super::storage::test_impl::VecStorage;
    use super::*;
    use std::vec::Vec;

    fn sp(start: u64, last: u64) -> Span {
        Span { start, last }
    }

    fn set(spans: &[(u64, u64)]) -> IntervalSet<Span, VecStorage> {
        let mut s = IntervalSet::new(VecStorage);
        for &(a, b) in spans {
            s.insert(sp(a, b)).unwrap();
        }
        s
    }

    #[test]
    fn span_basics() {
        assert_eq!(Span::new(2, 1), None);
        assert_eq!(Span::from_len(0, 0), None);
        assert_eq!(Span::from_len(u64::MAX, 1), Some(sp(u64::MAX, u64::MAX)));
        assert_eq!(Span::from_len(u64::MAX, 2), None);
        assert_eq!(sp(0, u64::MAX).length(), u64::MAX);
        assert_eq!(sp(5, 5).length(), 1);
        assert!(sp(0, 10).intersects(&sp(10, 20)));
        assert!(!sp(0, 9).intersects(&sp(10, 20)));
    }

    #[test]
    fn set_insert_and_query() {
        let mut s = set(&[(10, 19), (30, 39), (u64::MAX - 1, u64::MAX)]);
        assert_eq!(s.insert(sp(19, 25)), Err(Errno::EEXIST));
        assert_eq!(s.insert(sp(5, 4)), Err(Errno::EINVAL));
        assert_eq!(s.insert(sp(20, 29)), Ok(()));
        assert_eq!(s.intersecting(sp(15, 30)).count(), 3);
        assert_eq!(s.intersecting(sp(0, 9)).count(), 0);
        assert_eq!(s.intersecting(sp(40, u64::MAX - 2)).count(), 0);
        let top = s.index_containing(u64::MAX).and_then(|p| s.get(p));
        assert_eq!(top, Some(&sp(u64::MAX - 1, u64::MAX)));
        assert_eq!(s.get_nth(3), top);
        assert_eq!(s.covering_last(12), Some(19));
        assert_eq!(s.next_start_after(12), Some(20));
        assert_eq!(s.next_start_after(5), Some(10));
        assert_eq!(s.next_start_after(u64::MAX), None);
        assert_eq!(s.remove(Pos { block: 9, idx: 0 }), None);
        assert_eq!(s.remove(Pos { block: 0, idx: 9 }), None);
        let pos = s.index_containing(25).unwrap();
        assert_eq!(s.remove(pos), Some(sp(20, 29)));
        assert_eq!(s.len(), 3);
    }

    #[test]
    fn runs_merge_adjacent_and_clip() {
        let s = set(&[(10, 19), (20, 29), (31, 40), (u64::MAX - 5, u64::MAX)]);
        let r: Vec<Span> = s.runs(sp(15, u64::MAX - 1)).collect();
        assert_eq!(r, [sp(15, 29), sp(31, 40), sp(u64::MAX - 5, u64::MAX - 1)]);
        let r: Vec<Span> = s.runs(sp(0, 5)).collect();
        assert!(r.is_empty());
    }

    #[test]
    fn multiset_overlaps_and_holes() {
        let mut m = IntervalMultiSet::new(Vec::new());
        m.insert(sp(10, 100)).unwrap();
        m.insert(sp(20, 30)).unwrap();
        m.insert(sp(10, 100)).unwrap();
        m.insert(sp(150, u64::MAX)).unwrap();
        assert!(m.any_intersecting(sp(100, 120)));
        assert!(!m.any_intersecting(sp(101, 149)));
        assert_eq!(m.covering_last(25), Some(100));
        let a = set(&[(0, 5), (101, 101), (140, 149)]);
        let h: Vec<Span> = Holes::new(&m, &a, sp(0, u64::MAX)).collect();
        assert_eq!(h, [sp(6, 9), sp(102, 139)]);
        let h: Vec<Span> = Holes::new(&m, &NoCover, sp(0, u64::MAX)).collect();
        assert_eq!(h, [sp(0, 9), sp(101, 149)]);
        let h: Vec<Span> = Holes::new(&NoCover, &NoCover, sp(0, u64::MAX)).collect();
        assert_eq!(h, [sp(0, u64::MAX)]);
        assert_eq!(m.remove_where(|s| s.start == 10), 2);
        assert_eq!(m.len(), 2);
    }
}
