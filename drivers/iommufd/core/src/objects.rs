// SPDX-License-Identifier: GPL-2.0

//! The object table of one iommufd context: IDs and the rules of their life.
//!
//! Mirrors `main.c` of the pinned tree (`_iommufd_object_alloc`, `iommufd_object_finalize`,
//! `iommufd_object_abort`, `iommufd_get_object`, `iommufd_put_object`,
//! `iommufd_object_remove`, and the leaf-first teardown of `iommufd_fops_release`):
//!
//! - an ID is the lowest free index >= 1 (`XA_FLAGS_ALLOC1`, `xa_limit_31b`) and is reserved
//!   before the object is built; the object is published only by [`ObjectTable::finalize`], so
//!   a half-built object is never found ([`ObjectTable::get`] gives `ENOENT`);
//! - IDs are never reused while their object lives (a freed ID may be handed out again);
//! - [`ObjectTable::get`] takes a reference (C: `users` and `shortterm_users`), which
//!   [`ObjectTable::put`] gives back; other objects may hold long-term references
//!   ([`ObjectTable::add_user`]);
//! - `IOMMU_DESTROY` ([`ObjectTable::remove`]) fails with `EBUSY` while anybody holds a
//!   reference, `ENOENT` for an ID that is free, reserved, or of another kind;
//! - a destroy that waits for in-flight references (C `REMOVE_WAIT_SHORTTERM`, used by device
//!   unbind and access destroy) first drains the object ([`ObjectTable::start_drain`]): from
//!   then on lookups fail with `ENOENT`, so lookups that keep overlapping cannot starve it
//!   (C stops new lookups only once `shortterm_users` reached zero);
//! - closing the file removes leaves (objects nobody references) until the table is empty
//!   ([`ObjectTable::take_leaf`]).
//!
//! The table stores the caller's object handle `O` (in the kernel an `Arc` of the object); the
//! caller runs the object's destroy after the table gave it back, outside the table's lock.

use super::{
    errno::{Errno, Result},
    storage::Slots,
};

/// The largest ID (`xa_limit_31b`).
pub const MAX_ID: u32 = i32::MAX as u32;

/// One slot of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slot<O> {
    /// No object; the ID may be handed out.
    Free,
    /// Reserved by [`ObjectTable::reserve`], the object is being built (C: `XA_ZERO_ENTRY`).
    Reserved,
    /// A published object.
    Live {
        /// The object.
        obj: O,
        /// References other than the table's own (C: `users - 1`): in-flight ioctls and
        /// long-term users.
        users: u32,
        /// The in-flight part of `users` (C: `shortterm_users - 1`).
        shortterm: u32,
        /// A destroy waits for the in-flight references to end: no new lookups.
        draining: bool,
    },
}

/// Something stored in the table: it knows its kind, for typed lookups.
pub trait Kinded {
    /// The object's kind (C: `enum iommufd_object_type`).
    fn kind(&self) -> u32;
}

/// The object table over a caller-provided storage.
///
/// # Invariants
///
/// Slot 0 is never used (IDs start at 1); the table never ends with a `Free` slot.
pub struct ObjectTable<O, S: Slots<Slot<O>>> {
    slots: S,
    _o: core::marker::PhantomData<O>,
}

impl<O: Clone + Kinded, S: Slots<Slot<O>>> ObjectTable<O, S> {
    /// An empty table over `slots` (which must be empty).
    pub fn new(slots: S) -> Self {
        ObjectTable {
            slots,
            _o: core::marker::PhantomData,
        }
    }

    fn slot(&self, id: u32) -> Option<&Slot<O>> {
        if id == 0 {
            return None;
        }
        self.slots.as_slice().get(id as usize)
    }

    fn slot_mut(&mut self, id: u32) -> Option<&mut Slot<O>> {
        if id == 0 {
            return None;
        }
        self.slots.as_mut_slice().get_mut(id as usize)
    }

    /// Number of live or reserved objects.
    pub fn count(&self) -> usize {
        self.slots
            .as_slice()
            .iter()
            .filter(|s| !matches!(s, Slot::Free))
            .count()
    }

    /// The published objects with an ID of at least `from`, in ID order, each with its ID and
    /// its references `(users, shortterm)` (as [`Self::refs`]). For a view of the table that
    /// prints it a bounded chunk at a time, each chunk resuming after the last ID printed.
    pub fn live_from(&self, from: u32) -> impl Iterator<Item = (u32, &O, u32, u32)> + '_ {
        let from = from.max(1) as usize;
        self.slots
            .as_slice()
            .iter()
            .enumerate()
            .skip(from)
            .filter_map(|(id, s)| match s {
                Slot::Live {
                    obj,
                    users,
                    shortterm,
                    ..
                } => Some((u32::try_from(id).ok()?, obj, *users, *shortterm)),
                _ => None,
            })
    }

    /// Number of published objects (reserved IDs not counted).
    pub fn live_count(&self) -> usize {
        self.live_from(1).count()
    }

    /// Whether the table holds nothing (no live and no reserved object).
    pub fn is_empty(&self) -> bool {
        self.count() == 0
    }

    /// Reserves the lowest free ID (C: `xa_alloc(..., XA_ZERO_ENTRY, xa_limit_31b)`).
    /// `ENOMEM` if the table cannot grow, `EBUSY` if every ID is taken.
    pub fn reserve(&mut self) -> Result<u32> {
        let free = self
            .slots
            .as_slice()
            .iter()
            .enumerate()
            .skip(1)
            .find(|(_, s)| matches!(s, Slot::Free))
            .map(|(i, _)| i);
        if let Some(i) = free {
            if let Some(s) = self.slots.as_mut_slice().get_mut(i) {
                *s = Slot::Reserved;
            }
            return u32::try_from(i).map_err(|_| Errno::EBUSY);
        }
        let len = self.slots.as_slice().len();
        // Slot 0 is a placeholder so that IDs are indexes.
        let need = if len == 0 { 2 } else { 1 };
        let id = len + need - 1;
        if id > MAX_ID as usize {
            return Err(Errno::EBUSY);
        }
        self.slots.try_reserve(need)?;
        if len == 0 {
            self.slots.try_insert(0, Slot::Free)?;
        }
        self.slots.try_insert(id, Slot::Reserved)?;
        u32::try_from(id).map_err(|_| Errno::EBUSY)
    }

    /// Publishes `obj` under the reserved `id` (C: `iommufd_object_finalize`). Everything that
    /// can fail must be done before. Returns `obj` back if `id` was not reserved (a bug).
    pub fn finalize(&mut self, id: u32, obj: O) -> core::result::Result<(), O> {
        match self.slot_mut(id) {
            Some(s @ Slot::Reserved) => {
                *s = Slot::Live {
                    obj,
                    users: 0,
                    shortterm: 0,
                    draining: false,
                };
                Ok(())
            }
            _ => Err(obj),
        }
    }

    /// Gives back a reserved ID whose object was never published (C: `iommufd_object_abort`).
    pub fn abort(&mut self, id: u32) {
        if let Some(s @ Slot::Reserved) = self.slot_mut(id) {
            *s = Slot::Free;
        }
        self.trim();
    }

    /// Looks up a published object of `kind` (`None`: any kind) and takes an in-flight
    /// reference (C: `iommufd_get_object`). `ENOENT` otherwise, and while it drains.
    pub fn get(&mut self, id: u32, kind: Option<u32>) -> Result<O> {
        match self.slot_mut(id) {
            Some(Slot::Live {
                obj,
                users,
                shortterm,
                draining: false,
            }) if kind.is_none() || kind == Some(obj.kind()) => {
                *users = users.checked_add(1).ok_or(Errno::EBUSY)?;
                *shortterm = shortterm.saturating_add(1);
                Ok(obj.clone())
            }
            _ => Err(Errno::ENOENT),
        }
    }

    /// Gives back a reference taken by [`Self::get`] (C: `iommufd_put_object`).
    pub fn put(&mut self, id: u32) {
        if let Some(Slot::Live {
            users, shortterm, ..
        }) = self.slot_mut(id)
        {
            *users = users.saturating_sub(1);
            *shortterm = shortterm.saturating_sub(1);
        }
    }

    /// Turns an in-flight reference into a long-term one (C: `iommufd_ref_to_users`).
    pub fn ref_to_users(&mut self, id: u32) {
        if let Some(Slot::Live { shortterm, .. }) = self.slot_mut(id) {
            *shortterm = shortterm.saturating_sub(1);
        }
    }

    /// Takes a long-term reference on a published object (C: `refcount_inc(&obj->users)`).
    pub fn add_user(&mut self, id: u32) -> Result {
        match self.slot_mut(id) {
            Some(Slot::Live { users, .. }) => {
                *users = users.checked_add(1).ok_or(Errno::EBUSY)?;
                Ok(())
            }
            _ => Err(Errno::ENOENT),
        }
    }

    /// Drops a long-term reference (C: `refcount_dec(&obj->users)`).
    pub fn remove_user(&mut self, id: u32) {
        if let Some(Slot::Live { users, .. }) = self.slot_mut(id) {
            *users = users.saturating_sub(1);
        }
    }

    /// Starts draining a published object of `kind` (`None`: any kind) before a destroy
    /// that waits for its in-flight references: lookups fail from now on. Returns those
    /// references still held (C: `shortterm_users` after `iommufd_object_dec_wait_shortterm`
    /// gave up the table's own); `ENOENT` if there is no such object.
    pub fn start_drain(&mut self, id: u32, kind: Option<u32>) -> Result<u32> {
        match self.slot_mut(id) {
            Some(Slot::Live {
                obj,
                shortterm,
                draining,
                ..
            }) if kind.is_none() || kind == Some(obj.kind()) => {
                *draining = true;
                Ok(*shortterm)
            }
            _ => Err(Errno::ENOENT),
        }
    }

    /// Ends draining without destroying (the destroy failed; C restores `shortterm_users`):
    /// lookups work again.
    pub fn stop_drain(&mut self, id: u32) {
        if let Some(Slot::Live { draining, .. }) = self.slot_mut(id) {
            *draining = false;
        }
    }

    /// The references held on `id` (users, shortterm), if it is live.
    pub fn refs(&self, id: u32) -> Option<(u32, u32)> {
        match self.slot(id) {
            Some(Slot::Live {
                users, shortterm, ..
            }) => Some((*users, *shortterm)),
            _ => None,
        }
    }

    /// `IOMMU_DESTROY`: removes a published object nobody references and returns it for the
    /// caller to destroy (C: `iommufd_object_remove(ictx, NULL, id, 0)`). `ENOENT` for a free
    /// or reserved ID, `EBUSY` while referenced; nothing changes on error.
    pub fn remove(&mut self, id: u32, kind: Option<u32>) -> Result<O> {
        let slot = self.slot_mut(id).ok_or(Errno::ENOENT)?;
        match slot {
            Slot::Live { obj, .. } if kind.is_some_and(|k| obj.kind() != k) => {
                return Err(Errno::ENOENT)
            }
            Slot::Live { users: 0, .. } => {}
            Slot::Live { .. } => return Err(Errno::EBUSY),
            _ => return Err(Errno::ENOENT),
        }
        let old = core::mem::replace(slot, Slot::Free);
        self.trim();
        match old {
            Slot::Live { obj, .. } => Ok(obj),
            _ => Err(Errno::ENOENT),
        }
    }

    /// For closing the file: removes and returns one live object nobody references, if any
    /// (C: one step of the "destroy the 1-users leaves" loop of `iommufd_fops_release`).
    pub fn take_leaf(&mut self) -> Option<(u32, O)> {
        self.take_first(|s| matches!(s, Slot::Live { users: 0, .. }))
    }

    /// For closing the file when no leaf is left but objects are (a reference-counting bug):
    /// removes and returns any live object so that teardown still completes.
    pub fn take_any(&mut self) -> Option<(u32, O)> {
        self.take_first(|s| matches!(s, Slot::Live { .. }))
    }

    /// Removes and returns the first live object whose slot matches `pred`.
    fn take_first(&mut self, pred: impl Fn(&Slot<O>) -> bool) -> Option<(u32, O)> {
        let id = self.slots.as_slice().iter().position(pred)?;
        let slot = self.slots.as_mut_slice().get_mut(id)?;
        let old = core::mem::replace(slot, Slot::Free);
        self.trim();
        match old {
            Slot::Live { obj, .. } => Some((u32::try_from(id).ok()?, obj)),
            _ => None,
        }
    }

    /// Keeps the invariant: no trailing `Free` slots (and no lone placeholder).
    fn trim(&mut self) {
        loop {
            let len = self.slots.as_slice().len();
            if len == 0 {
                return;
            }
            let last_free = matches!(self.slots.as_slice().last(), Some(Slot::Free));
            if !last_free {
                return;
            }
            self.slots.remove(len - 1);
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    #[derive(Clone, Debug, PartialEq, Eq)]
    struct Obj(u32, &'static str);
    impl Kinded for Obj {
        fn kind(&self) -> u32 {
            self.0
        }
    }

    struct V(Vec<Slot<Obj>>);
    impl Slots<Slot<Obj>> for V {
        fn as_slice(&self) -> &[Slot<Obj>] {
            &self.0
        }
        fn as_mut_slice(&mut self) -> &mut [Slot<Obj>] {
            &mut self.0
        }
        fn try_reserve(&mut self, n: usize) -> Result {
            self.0.try_reserve(n).map_err(|_| Errno::ENOMEM)
        }
        fn try_insert(&mut self, i: usize, v: Slot<Obj>) -> Result {
            self.0.insert(i, v);
            Ok(())
        }
        fn remove(&mut self, i: usize) -> Slot<Obj> {
            self.0.remove(i)
        }
    }

    fn table() -> ObjectTable<Obj, V> {
        ObjectTable::new(V(Vec::new()))
    }

    #[test]
    fn live_from_lists_published_objects_in_order() {
        let mut t = table();
        let a = t.reserve().unwrap();
        let b = t.reserve().unwrap();
        let c = t.reserve().unwrap();
        t.finalize(a, Obj(1, "a")).unwrap();
        t.finalize(c, Obj(2, "c")).unwrap();
        // `b` is only reserved: not listed, not counted.
        t.add_user(c).unwrap();
        let all: Vec<_> = t
            .live_from(0)
            .map(|(id, o, u, s)| (id, o.1, u, s))
            .collect();
        assert_eq!(all, [(a, "a", 0, 0), (c, "c", 1, 0)]);
        let rest: Vec<_> = t.live_from(a + 1).map(|(id, ..)| id).collect();
        assert_eq!(rest, [c]);
        assert_eq!(t.live_from(c + 1).count(), 0);
        assert_eq!(t.live_count(), 2);
        assert_eq!(t.count(), 3);
        t.abort(b);
        t.remove_user(c);
        t.remove(c, None).unwrap();
        assert_eq!(t.live_count(), 1);
    }

    #[test]
    fn ids_start_at_one_and_reuse_lowest_free() {
        let mut t = table();
        assert_eq!(t.reserve(), Ok(1));
        assert_eq!(t.reserve(), Ok(2));
        assert_eq!(t.reserve(), Ok(3));
        assert!(t.finalize(1, Obj(1, "a")).is_ok());
        assert!(t.finalize(2, Obj(1, "b")).is_ok());
        assert!(t.finalize(3, Obj(1, "c")).is_ok());
        assert_eq!(t.remove(2, None), Ok(Obj(1, "b")));
        assert_eq!(t.reserve(), Ok(2));
        t.abort(2);
        assert_eq!(t.remove(3, None), Ok(Obj(1, "c")));
        assert_eq!(t.reserve(), Ok(2));
    }

    #[test]
    fn reserved_is_invisible() {
        let mut t = table();
        let id = t.reserve().unwrap();
        assert_eq!(t.get(id, None), Err(Errno::ENOENT));
        assert_eq!(t.remove(id, None), Err(Errno::ENOENT));
        assert_eq!(t.get(0, None), Err(Errno::ENOENT));
        assert_eq!(t.remove(0, None), Err(Errno::ENOENT));
        assert_eq!(t.remove(99, None), Err(Errno::ENOENT));
    }

    #[test]
    fn busy_while_referenced() {
        let mut t = table();
        let id = t.reserve().unwrap();
        t.finalize(id, Obj(7, "x")).unwrap();
        assert_eq!(t.get(id, Some(8)), Err(Errno::ENOENT));
        assert_eq!(t.get(id, Some(7)), Ok(Obj(7, "x")));
        assert_eq!(t.remove(id, None), Err(Errno::EBUSY));
        t.put(id);
        t.add_user(id).unwrap();
        assert_eq!(t.remove(id, None), Err(Errno::EBUSY));
        assert!(t.take_leaf().is_none());
        t.remove_user(id);
        assert_eq!(t.remove(id, Some(8)), Err(Errno::ENOENT));
        assert_eq!(t.take_leaf(), Some((id, Obj(7, "x"))));
        assert!(t.is_empty());
    }

    #[test]
    fn draining_stops_lookups_until_stopped() {
        let mut t = table();
        let id = t.reserve().unwrap();
        t.finalize(id, Obj(7, "x")).unwrap();
        assert_eq!(t.get(id, None), Ok(Obj(7, "x")));
        assert_eq!(t.start_drain(id, Some(8)), Err(Errno::ENOENT));
        assert_eq!(t.start_drain(id, Some(7)), Ok(1));
        // Overlapping lookups cannot start while it drains; the one in flight ends.
        assert_eq!(t.get(id, None), Err(Errno::ENOENT));
        t.put(id);
        assert_eq!(t.refs(id), Some((0, 0)));
        // A failed destroy gives the object back to lookups.
        t.stop_drain(id);
        assert_eq!(t.get(id, Some(7)), Ok(Obj(7, "x")));
        t.put(id);
        assert_eq!(t.start_drain(id, None), Ok(0));
        assert_eq!(t.remove(id, None), Ok(Obj(7, "x")));
        assert_eq!(t.start_drain(id, None), Err(Errno::ENOENT));
    }
}
