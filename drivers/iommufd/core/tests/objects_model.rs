// SPDX-License-Identifier: GPL-2.0

//! The object table against a plain model: random operation sequences, every result and the
//! whole visible state compared after each step, with allocation failures injected.
//! 2000 cases of 1..60 operations (about 60k operations) per run.

use iommufd_core::{
    errno::{Errno, Result},
    objects::{Kinded, ObjectTable, Slot},
    storage::Slots,
};
use proptest::prelude::*;
use std::{cell::Cell, collections::BTreeMap, rc::Rc};

#[derive(Clone, Debug, PartialEq, Eq)]
struct Obj {
    kind: u32,
    tag: u32,
}

impl Kinded for Obj {
    fn kind(&self) -> u32 {
        self.kind
    }
}

/// `Vec` storage that fails `try_reserve` when the shared countdown hits zero.
struct FailingVec {
    v: Vec<Slot<Obj>>,
    countdown: Rc<Cell<u32>>,
}

impl Slots<Slot<Obj>> for FailingVec {
    fn as_slice(&self) -> &[Slot<Obj>] {
        &self.v
    }
    fn as_mut_slice(&mut self) -> &mut [Slot<Obj>] {
        &mut self.v
    }
    fn try_reserve(&mut self, n: usize) -> Result {
        let c = self.countdown.get();
        if c == 1 {
            self.countdown.set(0);
            return Err(Errno::ENOMEM);
        }
        self.countdown.set(c.saturating_sub(1));
        self.v.try_reserve(n).map_err(|_| Errno::ENOMEM)
    }
    fn try_insert(&mut self, i: usize, x: Slot<Obj>) -> Result {
        assert!(
            self.v.len() < self.v.capacity(),
            "insert without reservation"
        );
        self.v.insert(i, x);
        Ok(())
    }
    fn remove(&mut self, i: usize) -> Slot<Obj> {
        self.v.remove(i)
    }
}

#[derive(Clone, Debug, PartialEq)]
enum M {
    Reserved,
    Live {
        obj: Obj,
        users: u32,
        short: u32,
        drain: bool,
    },
}

#[derive(Default)]
struct Model {
    m: BTreeMap<u32, M>,
}

impl Model {
    fn reserve(&mut self) -> u32 {
        let id = (1..).find(|i| !self.m.contains_key(i)).unwrap();
        self.m.insert(id, M::Reserved);
        id
    }
}

#[derive(Clone, Debug)]
enum Op {
    Reserve,
    Finalize(u32, u32),
    Abort(u32),
    Get(u32, Option<u32>),
    Put(u32),
    AddUser(u32),
    RemoveUser(u32),
    Remove(u32, Option<u32>),
    StartDrain(u32, Option<u32>),
    StopDrain(u32),
    TakeLeaf,
    FailNextReserve,
}

fn op() -> impl Strategy<Value = Op> {
    let id = 0u32..12;
    let kind = prop::option::of(0u32..3);
    prop_oneof![
        3 => Just(Op::Reserve),
        3 => (id.clone(), 0u32..3).prop_map(|(i, k)| Op::Finalize(i, k)),
        1 => id.clone().prop_map(Op::Abort),
        3 => (id.clone(), kind.clone()).prop_map(|(i, k)| Op::Get(i, k)),
        2 => id.clone().prop_map(Op::Put),
        1 => id.clone().prop_map(Op::AddUser),
        1 => id.clone().prop_map(Op::RemoveUser),
        2 => (id.clone(), kind.clone()).prop_map(|(i, k)| Op::Remove(i, k)),
        1 => (id.clone(), kind).prop_map(|(i, k)| Op::StartDrain(i, k)),
        1 => id.prop_map(Op::StopDrain),
        1 => Just(Op::TakeLeaf),
        1 => Just(Op::FailNextReserve),
    ]
}

fn check_state(t: &ObjectTable<Obj, FailingVec>, m: &Model) {
    assert_eq!(t.count(), m.m.len());
    for id in 0..16u32 {
        let want = match m.m.get(&id) {
            Some(M::Live { users, short, .. }) => Some((*users, *short)),
            _ => None,
        };
        assert_eq!(t.refs(id), want, "refs of {id}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn table_matches_model(ops in prop::collection::vec(op(), 1..60)) {
        let countdown = Rc::new(Cell::new(0));
        let mut t = ObjectTable::new(FailingVec { v: Vec::new(), countdown: countdown.clone() });
        let mut m = Model::default();
        let mut tag = 0;
        for op in ops {
            match op {
                Op::Reserve => {
                    let fail = countdown.get() == 1;
                    let got = t.reserve();
                    // Reusing a free slot needs no allocation, so the injected failure may not
                    // trigger; when it does, nothing changes.
                    match got {
                        Err(Errno::ENOMEM) => prop_assert!(fail),
                        Ok(id) => prop_assert_eq!(id, m.reserve()),
                        Err(e) => prop_assert!(false, "reserve: {:?}", e),
                    }
                }
                Op::FailNextReserve => countdown.set(1),
                Op::Finalize(id, kind) => {
                    tag += 1;
                    let obj = Obj { kind, tag };
                    let ok = t.finalize(id, obj.clone()).is_ok();
                    let mok = m.m.get(&id) == Some(&M::Reserved);
                    prop_assert_eq!(ok, mok);
                    if mok {
                        m.m.insert(id, M::Live { obj, users: 0, short: 0, drain: false });
                    }
                }
                Op::Abort(id) => {
                    t.abort(id);
                    if m.m.get(&id) == Some(&M::Reserved) {
                        m.m.remove(&id);
                    }
                }
                Op::Get(id, kind) => {
                    let got = t.get(id, kind);
                    let want = match m.m.get_mut(&id) {
                        Some(M::Live { obj, users, short, drain: false })
                            if kind.is_none() || kind == Some(obj.kind) =>
                        {
                            *users += 1;
                            *short += 1;
                            Ok(obj.clone())
                        }
                        _ => Err(Errno::ENOENT),
                    };
                    prop_assert_eq!(got, want);
                }
                Op::Put(id) => {
                    // Only put what was got (the shell guarantees it).
                    if let Some(M::Live { users, short, .. }) = m.m.get_mut(&id) {
                        if *short > 0 {
                            *users -= 1;
                            *short -= 1;
                            t.put(id);
                        }
                    }
                }
                Op::AddUser(id) => {
                    let got = t.add_user(id);
                    let want = match m.m.get_mut(&id) {
                        Some(M::Live { users, .. }) => {
                            *users += 1;
                            Ok(())
                        }
                        _ => Err(Errno::ENOENT),
                    };
                    prop_assert_eq!(got, want);
                }
                Op::RemoveUser(id) => {
                    if let Some(M::Live { users, short, .. }) = m.m.get_mut(&id) {
                        if *users > *short {
                            *users -= 1;
                            t.remove_user(id);
                        }
                    }
                }
                Op::Remove(id, kind) => {
                    let got = t.remove(id, kind);
                    let want = match m.m.get(&id) {
                        Some(M::Live { obj, .. }) if kind.is_some_and(|k| k != obj.kind) => {
                            Err(Errno::ENOENT)
                        }
                        Some(M::Live { obj, users: 0, .. }) => Ok(obj.clone()),
                        Some(M::Live { .. }) => Err(Errno::EBUSY),
                        _ => Err(Errno::ENOENT),
                    };
                    if want.is_ok() {
                        m.m.remove(&id);
                    }
                    prop_assert_eq!(got, want);
                }
                Op::StartDrain(id, kind) => {
                    let got = t.start_drain(id, kind);
                    let want = match m.m.get_mut(&id) {
                        Some(M::Live { obj, short, drain, .. })
                            if kind.is_none() || kind == Some(obj.kind) =>
                        {
                            *drain = true;
                            Ok(*short)
                        }
                        _ => Err(Errno::ENOENT),
                    };
                    prop_assert_eq!(got, want);
                }
                Op::StopDrain(id) => {
                    t.stop_drain(id);
                    if let Some(M::Live { drain, .. }) = m.m.get_mut(&id) {
                        *drain = false;
                    }
                }
                Op::TakeLeaf => {
                    let got = t.take_leaf();
                    let want = m
                        .m
                        .iter()
                        .find(|(_, s)| matches!(s, M::Live { users: 0, .. }))
                        .map(|(id, s)| match s {
                            M::Live { obj, .. } => (*id, obj.clone()),
                            M::Reserved => unreachable!(),
                        });
                    if let Some((id, _)) = &want {
                        m.m.remove(id);
                    }
                    prop_assert_eq!(got, want);
                }
            }
            check_state(&t, &m);
        }
        // Closing: leaves first, then whatever is left; the table always ends empty of
        // live objects.
        while t.take_leaf().is_some() {}
        while t.take_any().is_some() {}
        prop_assert!(t.count() == m.m.values().filter(|s| **s == M::Reserved).count());
    }
}
