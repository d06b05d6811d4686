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
use super::storage::Slots;
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

/// A sorted set of non-overlapping intervals.
pub struct IntervalSet<T, S> {
    slots: S,
    _marker: PhantomData<T>,
}

impl<T: HasSpan, S: Slots<T>> IntervalSet<T, S> {
    /// Wraps an empty container (elements already in it must be sorted and disjoint).
    pub fn new(slots: S) -> Self {
        IntervalSet {
            slots,
            _marker: PhantomData,
        }
    }

    /// All intervals, sorted by start.
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

    /// Makes room for `additional` more intervals (`ENOMEM`).
    pub fn try_reserve(&mut self, additional: usize) -> Result {
        self.slots.try_reserve(additional)
    }

    /// Index of the first interval intersecting `span`.
    pub fn first_intersecting(&self, span: Span) -> Option<usize> {
        let items = self.as_slice();
        let idx = partition(items, |s| s.last < span.start);
        match items.get(idx) {
            Some(e) if e.span().start <= span.last => Some(idx),
            _ => None,
        }
    }

    /// The intervals intersecting `span`, in order.
    pub fn intersecting(&self, span: Span) -> &[T] {
        let items = self.as_slice();
        let lo = partition(items, |s| s.last < span.start);
        let hi = partition(items, |s| s.start <= span.last);
        items.get(lo..hi).unwrap_or(&[])
    }

    /// Whether any interval intersects `span`.
    pub fn any_intersecting(&self, span: Span) -> bool {
        self.first_intersecting(span).is_some()
    }

    /// Index of the interval containing `addr`.
    pub fn index_containing(&self, addr: u64) -> Option<usize> {
        self.first_intersecting(Span {
            start: addr,
            last: addr,
        })
    }

    /// Inserts `value`: `EINVAL` if its span is invalid, `EEXIST` if it overlaps an interval,
    /// `ENOMEM` if there is no room. Returns its index. Changes nothing on failure.
    pub fn insert(&mut self, value: T) -> Result<usize> {
        let span = value.span();
        if span.start > span.last {
            return Err(Errno::EINVAL);
        }
        if self.any_intersecting(span) {
            return Err(Errno::EEXIST);
        }
        let idx = partition(self.as_slice(), |s| s.start < span.start);
        self.slots.try_reserve(1)?;
        self.slots.try_insert(idx, value)?;
        Ok(idx)
    }

    /// Removes and returns the interval at `idx`, if there is one.
    pub fn remove_at(&mut self, idx: usize) -> Option<T> {
        if idx < self.len() {
            Some(self.slots.remove(idx))
        } else {
            None
        }
    }

    /// The interval at `idx`, mutably. The caller must keep the set sorted and disjoint.
    pub(crate) fn get_mut(&mut self, idx: usize) -> Option<&mut T> {
        self.slots.as_mut_slice().get_mut(idx)
    }

    /// Inserts at `idx` without checks, after a successful `try_reserve`. The caller must
    /// keep the set sorted and disjoint.
    pub(crate) fn insert_at(&mut self, idx: usize, value: T) -> Result {
        if idx > self.len() {
            return Err(Errno::EINVAL);
        }
        self.slots.try_insert(idx, value)
    }

    /// The used spans inside `within`: runs of adjacent or touching intervals, merged and
    /// clipped to `within`, in order.
    pub fn runs(&self, within: Span) -> Runs<'_, T> {
        let items = self.as_slice();
        Runs {
            items,
            idx: partition(items, |s| s.last < within.start),
            within,
        }
    }
}

impl<T: HasSpan, S: Slots<T>> Cover for IntervalSet<T, S> {
    fn covering_last(&self, pos: u64) -> Option<u64> {
        let idx = self.index_containing(pos)?;
        self.as_slice().get(idx).map(|e| e.span().last)
    }

    fn next_start_after(&self, pos: u64) -> Option<u64> {
        let items = self.as_slice();
        let idx = partition(items, |s| s.start <= pos);
        items.get(idx).map(|e| e.span().start)
    }
}

/// Iterator over the used spans of an [`IntervalSet`], see [`IntervalSet::runs`].
pub struct Runs<'a, T> {
    items: &'a [T],
    idx: usize,
    within: Span,
}

impl<T: HasSpan> Iterator for Runs<'_, T> {
    type Item = Span;

    fn next(&mut self) -> Option<Span> {
        let first = self.items.get(self.idx)?.span();
        if first.start > self.within.last || self.within.start > self.within.last {
            self.idx = self.items.len();
            return None;
        }
        let start = first.start.max(self.within.start);
        let mut last = first.last;
        self.idx += 1;
        while let Some(e) = self.items.get(self.idx) {
            let s = e.span();
            if last.checked_add(1) != Some(s.start) {
                break;
            }
            last = s.last;
            self.idx += 1;
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
    use super::*;
    use std::vec::Vec;

    fn sp(start: u64, last: u64) -> Span {
        Span { start, last }
    }

    fn set(spans: &[(u64, u64)]) -> IntervalSet<Span, Vec<Span>> {
        let mut s = IntervalSet::new(Vec::new());
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
        assert_eq!(s.insert(sp(20, 29)), Ok(1));
        assert_eq!(s.intersecting(sp(15, 30)).len(), 3);
        assert_eq!(s.intersecting(sp(0, 9)).len(), 0);
        assert_eq!(s.intersecting(sp(40, u64::MAX - 2)).len(), 0);
        assert_eq!(s.index_containing(u64::MAX), Some(3));
        assert_eq!(s.covering_last(12), Some(19));
        assert_eq!(s.next_start_after(12), Some(20));
        assert_eq!(s.next_start_after(u64::MAX), None);
        assert_eq!(s.remove_at(9), None);
        assert_eq!(s.remove_at(1), Some(sp(20, 29)));
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
