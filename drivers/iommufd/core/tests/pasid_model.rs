// SPDX-License-Identifier: GPL-2.0

//! Model-based test of `iommufd_core::pasid`.
//!
//! Random sequences of attach, replace, detach, unbind and RID attach/detach run on one IOMMU
//! group of three devices, both through the real [`PasidTable`] (on `Vec` storage with fault
//! injection, driven the way the kernel shell drives it: `check_pasid`, `check_*`, `reserve`,
//! the driver call, `commit_*`) and through [`Model`], a plain map from (device, PASID) to
//! (HWPT, compat) that states upstream's rules directly. Every result (the `Ok` value or the
//! errno) and the whole state, read through every query of the table, are compared after each
//! step; a failed operation must leave the table exactly as it was. An armed `ENOMEM` on
//! `reserve` and a failing driver call (programming the domain) are both injected.
//!
//! Devices 0 and 1 have `max_pasids == 1 << 20`, device 2 none; PASIDs are drawn from
//! {0, 1, 2, 100, 1024, max - 1, max}. HWPTs 0 and 1 are PASID-compatible, HWPT 2 is not.
//!
//! `PASID_MODEL_CASES=n` changes the number of cases (default [`DEFAULT_CASES`]);
//! `PASID_MODEL_RANDOM=1` uses a random seed instead of the fixed one.

mod common;

use common::{FaultPlan, TestStorage};
use iommufd_core::errno::{Errno, Result};
use iommufd_core::pasid::{check_pasid, AttachPlan, Detached, PasidTable, Replace, IOMMU_NO_PASID};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

const DEFAULT_CASES: u32 = 2000;

const MAX: u32 = 1 << 20;
/// The devices' object ids and `max_pasids`.
const DEVS: [u32; 3] = [1, 2, 3];
const MAX_PASIDS: [u32; 3] = [MAX, MAX, 0];
/// The HWPTs' object ids and PASID-compat flags.
const HWPTS: [u32; 3] = [20, 21, 22];
const COMPAT: [bool; 3] = [true, true, false];
const PASIDS: [u32; 7] = [IOMMU_NO_PASID, 1, 2, 100, 1024, MAX - 1, MAX];
/// What the mock driver answers when it fails to program a domain.
const DRIVER_ERR: Errno = Errno::EIO;

#[derive(Clone, Copy, Debug)]
enum Op {
    /// `fault`: `reserve` fails; `driver_fail`: programming the domain fails; `existing`:
    /// take the PASID and HWPT of an attachment the group has (the `Index`-th), if any, so
    /// that devices join.
    Attach {
        dev: usize,
        pasid: u32,
        hwpt: usize,
        fault: bool,
        driver_fail: bool,
        existing: Option<prop::sample::Index>,
    },
    /// `existing`: replace an attachment the group has (the `Index`-th), if any, instead of
    /// `(dev, pasid)`, which are mostly not attached.
    Replace {
        dev: usize,
        pasid: u32,
        hwpt: usize,
        driver_fail: bool,
        existing: Option<prop::sample::Index>,
    },
    /// `existing`: as for `Replace`.
    Detach {
        dev: usize,
        pasid: u32,
        existing: Option<prop::sample::Index>,
    },
    /// The shell's unbind: detach the device from every PASID, lowest first.
    Unbind {
        dev: usize,
    },
    RidAttach {
        hwpt: usize,
    },
    RidDetach,
}

impl Op {
    fn kind(&self) -> &'static str {
        match self {
            Op::Attach { .. } => "attach",
            Op::Replace { .. } => "replace",
            Op::Detach { .. } => "detach",
            Op::Unbind { .. } => "unbind",
            Op::RidAttach { .. } => "rid_attach",
            Op::RidDetach => "rid_detach",
        }
    }
}

fn op() -> impl Strategy<Value = Op> {
    let dev = || 0usize..3;
    let pasid = || prop::sample::select(PASIDS.to_vec());
    let hwpt = || 0usize..3;
    let existing = || prop::option::weighted(0.6, any::<prop::sample::Index>());
    prop_oneof![
        6 => (
            dev(),
            pasid(),
            hwpt(),
            prop::bool::weighted(0.15),
            prop::bool::weighted(0.1),
            prop::option::weighted(0.3, any::<prop::sample::Index>()),
        )
            .prop_map(|(dev, pasid, hwpt, fault, driver_fail, existing)| Op::Attach {
                dev,
                pasid,
                hwpt,
                fault,
                driver_fail,
                existing,
            }),
        3 => (dev(), pasid(), hwpt(), prop::bool::weighted(0.1), existing()).prop_map(
            |(dev, pasid, hwpt, driver_fail, existing)| Op::Replace {
                dev,
                pasid,
                hwpt,
                driver_fail,
                existing,
            }
        ),
        3 => (dev(), pasid(), existing()).prop_map(|(dev, pasid, existing)| Op::Detach {
            dev,
            pasid,
            existing
        }),
        1 => dev().prop_map(|dev| Op::Unbind { dev }),
        2 => hwpt().prop_map(|hwpt| Op::RidAttach { hwpt }),
        1 => Just(Op::RidDetach),
    ]
}

/// What an operation returned.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Out {
    Attach(Result<AttachPlan>),
    Replace(Result<Replace<u32>>),
    Detach(Option<Detached<u32>>),
    Unbind(Vec<(u32, Detached<u32>)>),
    Rid(Result),
}

impl Out {
    fn error(&self) -> Option<Errno> {
        match self {
            Out::Attach(Err(e)) | Out::Replace(Err(e)) | Out::Rid(Err(e)) => Some(*e),
            _ => None,
        }
    }
}

// ---------------------------------------------------------------------------------------
// The reference model.

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Model {
    /// (device id, PASID) -> (HWPT id, compat).
    map: BTreeMap<(u32, u32), (u32, bool)>,
    /// The RID: `Some(compat)` of its HWPT when attached.
    rid: Option<bool>,
}

impl Model {
    /// The group's HWPT on `pasid`: the one of any device on it (they are all the same).
    fn group_hwpt(&self, pasid: u32) -> Option<(u32, bool)> {
        let all: BTreeSet<(u32, bool)> = self
            .map
            .iter()
            .filter(|((_, p), _)| *p == pasid)
            .map(|(_, v)| *v)
            .collect();
        assert!(all.len() <= 1, "the model split PASID {pasid}: {all:?}");
        all.into_iter().next()
    }

    fn pasid_ok(dev: usize, pasid: u32) -> bool {
        pasid != 0 && pasid < MAX_PASIDS[dev]
    }

    fn run(&mut self, op: &Op) -> Out {
        match *op {
            Op::Attach {
                dev,
                pasid,
                hwpt,
                fault,
                driver_fail,
                ..
            } => Out::Attach(self.attach(dev, pasid, hwpt, fault, driver_fail)),
            Op::Replace {
                dev,
                pasid,
                hwpt,
                driver_fail,
                ..
            } => Out::Replace(self.replace(dev, pasid, hwpt, driver_fail)),
            Op::Detach { dev, pasid, .. } => Out::Detach(self.detach(DEVS[dev], pasid)),
            Op::Unbind { dev } => {
                let d = DEVS[dev];
                let pasids: Vec<u32> = self
                    .map
                    .keys()
                    .filter(|(x, _)| *x == d)
                    .map(|(_, p)| *p)
                    .collect();
                Out::Unbind(
                    pasids
                        .into_iter()
                        .map(|p| (p, self.detach(d, p).unwrap()))
                        .collect(),
                )
            }
            Op::RidAttach { hwpt } => {
                let compat = COMPAT[hwpt];
                if !compat && !self.map.is_empty() {
                    return Out::Rid(Err(Errno::EINVAL));
                }
                self.rid = Some(compat);
                Out::Rid(Ok(()))
            }
            Op::RidDetach => {
                self.rid = None;
                Out::Rid(Ok(()))
            }
        }
    }

    fn attach(
        &mut self,
        dev: usize,
        pasid: u32,
        hwpt: usize,
        fault: bool,
        driver_fail: bool,
    ) -> Result<AttachPlan> {
        let (d, h, compat) = (DEVS[dev], HWPTS[hwpt], COMPAT[hwpt]);
        if !Self::pasid_ok(dev, pasid) {
            return Err(Errno::EINVAL);
        }
        if self.map.contains_key(&(d, pasid)) {
            return Err(Errno::EBUSY);
        }
        let plan = match self.group_hwpt(pasid) {
            Some((g, _)) if g != h => return Err(Errno::EINVAL),
            Some(_) => AttachPlan::Join,
            None if !compat => return Err(Errno::EINVAL),
            None if self.rid == Some(false) => return Err(Errno::EINVAL),
            None => AttachPlan::First,
        };
        if fault {
            return Err(Errno::ENOMEM);
        }
        if driver_fail && plan == AttachPlan::First {
            return Err(DRIVER_ERR);
        }
        self.map.insert((d, pasid), (h, compat));
        Ok(plan)
    }

    fn replace(
        &mut self,
        dev: usize,
        pasid: u32,
        hwpt: usize,
        driver_fail: bool,
    ) -> Result<Replace<u32>> {
        let (d, h, compat) = (DEVS[dev], HWPTS[hwpt], COMPAT[hwpt]);
        if !Self::pasid_ok(dev, pasid) {
            return Err(Errno::EINVAL);
        }
        let Some(&(old, old_compat)) = self.map.get(&(d, pasid)) else {
            return Err(Errno::EINVAL);
        };
        if old == h {
            return Ok(Replace::Same);
        }
        if !compat || self.rid == Some(false) {
            return Err(Errno::EINVAL);
        }
        if driver_fail {
            return Err(DRIVER_ERR);
        }
        for ((_, p), v) in self.map.iter_mut() {
            if *p == pasid {
                *v = (h, compat);
            }
        }
        Ok(Replace::Change { old, old_compat })
    }

    fn detach(&mut self, d: u32, pasid: u32) -> Option<Detached<u32>> {
        let (hwpt, _) = self.map.remove(&(d, pasid))?;
        let last = !self.map.keys().any(|(_, p)| *p == pasid);
        Some(Detached { hwpt, last })
    }
}

// ---------------------------------------------------------------------------------------
// The harness.

static CASES: AtomicU64 = AtomicU64::new(0);
static OPS: AtomicU64 = AtomicU64::new(0);
static FAULTS: AtomicU64 = AtomicU64::new(0);
/// Per kind of operation, per outcome (an `Ok` value or an errno): how many.
type Stats = BTreeMap<&'static str, BTreeMap<&'static str, u64>>;
static STATS: Mutex<Stats> = Mutex::new(BTreeMap::new());

type Table = PasidTable<u32, u32, TestStorage>;

struct Harness {
    real: Table,
    /// The shell's RID state, as it passes it to the rules.
    rid: Option<bool>,
    plan: Rc<FaultPlan>,
    model: Model,
}

/// The table's state as the model holds it, checking the table's own invariants on the way.
fn real_state(t: &Table, rid: Option<bool>) -> Model {
    let mut map = BTreeMap::new();
    let mut prev = 0;
    for e in t.entries() {
        assert_ne!(e.pasid, IOMMU_NO_PASID, "the RID in the PASID table");
        assert!(e.pasid >= prev, "entries out of PASID order");
        prev = e.pasid;
        let dup = map.insert((e.dev, e.pasid), (e.hwpt, e.compat));
        assert!(dup.is_none(), "two entries for {:?}", (e.dev, e.pasid));
    }
    Model { map, rid }
}

impl Harness {
    fn new() -> Self {
        let storage = TestStorage::default();
        Harness {
            real: PasidTable::new(&storage),
            rid: None,
            plan: storage.plan.clone(),
            model: Model::default(),
        }
    }

    fn attach(
        &mut self,
        dev: usize,
        pasid: u32,
        hwpt: usize,
        fault: bool,
        driver_fail: bool,
    ) -> Result<AttachPlan> {
        let (d, h, compat) = (DEVS[dev], HWPTS[hwpt], COMPAT[hwpt]);
        check_pasid(pasid, MAX_PASIDS[dev])?;
        let plan = self.real.check_attach(d, pasid, h, compat, self.rid)?;
        if fault {
            self.plan.arm(0);
        }
        let reserved = self.real.reserve();
        let fired = self.plan.disarm();
        assert_eq!(fired, fault, "reserve is the one allocation point");
        assert_eq!(reserved.is_err(), fired);
        if fired {
            FAULTS.fetch_add(1, Ordering::Relaxed);
        }
        reserved?;
        // The domain is programmed only for the first device; a failure drops the reservation
        // and records nothing.
        if driver_fail && plan == AttachPlan::First {
            return Err(DRIVER_ERR);
        }
        self.real.commit_attach(d, pasid, h, compat);
        Ok(plan)
    }

    fn replace(
        &mut self,
        dev: usize,
        pasid: u32,
        hwpt: usize,
        driver_fail: bool,
    ) -> Result<Replace<u32>> {
        let (d, h, compat) = (DEVS[dev], HWPTS[hwpt], COMPAT[hwpt]);
        check_pasid(pasid, MAX_PASIDS[dev])?;
        let r = self.real.check_replace(d, pasid, h, compat, self.rid)?;
        if let Replace::Change { old, old_compat } = r {
            assert_eq!(self.real.hwpt_of(pasid), Some((old, old_compat)));
            if driver_fail {
                return Err(DRIVER_ERR);
            }
            self.real.commit_replace(pasid, h, compat);
        }
        Ok(r)
    }

    fn run_real(&mut self, op: &Op) -> Out {
        match *op {
            Op::Attach {
                dev,
                pasid,
                hwpt,
                fault,
                driver_fail,
                ..
            } => Out::Attach(self.attach(dev, pasid, hwpt, fault, driver_fail)),
            Op::Replace {
                dev,
                pasid,
                hwpt,
                driver_fail,
                ..
            } => Out::Replace(self.replace(dev, pasid, hwpt, driver_fail)),
            Op::Detach { dev, pasid, .. } => Out::Detach(self.real.detach(DEVS[dev], pasid)),
            Op::Unbind { dev } => {
                let mut out = Vec::new();
                while let Some(p) = self.real.first_pasid_of(DEVS[dev]) {
                    let d = self.real.detach(DEVS[dev], p);
                    out.push((p, d.expect("first_pasid_of gave an attached PASID")));
                }
                Out::Unbind(out)
            }
            Op::RidAttach { hwpt } => Out::Rid(self.real.check_rid(COMPAT[hwpt]).map(|()| {
                self.rid = Some(COMPAT[hwpt]);
            })),
            Op::RidDetach => {
                self.rid = None;
                Out::Rid(Ok(()))
            }
        }
    }

    /// Every query of the table against the model.
    fn check_queries(&self) -> core::result::Result<(), TestCaseError> {
        let (t, m) = (&self.real, &self.model);
        prop_assert_eq!(t.is_empty(), m.map.is_empty());
        prop_assert_eq!(t.check_rid(true), Ok(()));
        prop_assert_eq!(t.check_rid(false).is_ok(), m.map.is_empty());
        for &p in &PASIDS {
            prop_assert_eq!(t.hwpt_of(p), m.group_hwpt(p), "hwpt_of({})", p);
            let n = m.map.keys().filter(|(_, x)| *x == p).count();
            prop_assert_eq!(t.devices_on(p), n, "devices_on({})", p);
            for &d in &DEVS {
                prop_assert_eq!(t.is_attached(d, p), m.map.contains_key(&(d, p)));
            }
        }
        for &d in &DEVS {
            let first = m.map.keys().filter(|(x, _)| *x == d).map(|(_, p)| *p).min();
            prop_assert_eq!(t.first_pasid_of(d), first, "first_pasid_of({})", d);
        }
        Ok(())
    }

    /// Points an op with `existing` at the `Index`-th attachment of the group, if it has any
    /// (resolved on the model, whose state is the table's).
    fn resolve(&self, op: &Op) -> Op {
        let pick = |ix: &Option<prop::sample::Index>| {
            let keys: Vec<&(u32, u32)> = self.model.map.keys().collect();
            match ix {
                Some(ix) if !keys.is_empty() => {
                    let (d, p) = *keys[ix.index(keys.len())];
                    Some((DEVS.iter().position(|x| *x == d).unwrap(), p))
                }
                _ => None,
            }
        };
        let mut op = *op;
        match &mut op {
            Op::Attach {
                pasid,
                hwpt,
                existing,
                ..
            } => {
                if let Some((d, p)) = pick(existing) {
                    let (h, _) = self.model.map[&(DEVS[d], p)];
                    (*pasid, *hwpt) = (p, HWPTS.iter().position(|x| *x == h).unwrap());
                }
            }
            Op::Replace {
                dev,
                pasid,
                existing,
                ..
            }
            | Op::Detach {
                dev,
                pasid,
                existing,
            } => {
                if let Some((d, p)) = pick(existing) {
                    (*dev, *pasid) = (d, p);
                }
            }
            _ => {}
        }
        op
    }

    fn step(&mut self, op: &Op) -> core::result::Result<(), TestCaseError> {
        OPS.fetch_add(1, Ordering::Relaxed);
        let op = &self.resolve(op);
        let before = real_state(&self.real, self.rid);
        let out = self.run_real(op);
        let want = self.model.run(op);
        prop_assert_eq!(&out, &want, "op {:?}", op);
        let after = real_state(&self.real, self.rid);
        if out.error().is_some() {
            prop_assert_eq!(&after, &before, "a failed {:?} changed the state", op);
        }
        prop_assert_eq!(&after, &self.model, "state after {:?}", op);
        self.check_queries()?;
        let outcome = match &out {
            Out::Attach(Ok(AttachPlan::First)) => "First",
            Out::Attach(Ok(AttachPlan::Join)) => "Join",
            Out::Replace(Ok(Replace::Same)) => "Same",
            Out::Replace(Ok(Replace::Change { .. })) => "Change",
            Out::Detach(Some(Detached { last: true, .. })) => "last",
            Out::Detach(Some(Detached { last: false, .. })) => "not-last",
            Out::Detach(None) => "None",
            Out::Unbind(v) if v.is_empty() => "nothing",
            Out::Unbind(_) => "detached",
            Out::Rid(Ok(())) => "ok",
            Out::Attach(Err(e)) | Out::Replace(Err(e)) | Out::Rid(Err(e)) => e.name(),
        };
        *STATS
            .lock()
            .unwrap()
            .entry(op.kind())
            .or_default()
            .entry(outcome)
            .or_default() += 1;
        Ok(())
    }
}

#[test]
fn pasid_table_matches_model() {
    let mut runner = common::model_runner("PASID_MODEL", DEFAULT_CASES);
    let cases = runner.config().cases;
    let result = runner.run(&prop::collection::vec(op(), 1..80), |ops| {
        CASES.fetch_add(1, Ordering::Relaxed);
        let mut h = Harness::new();
        for op in &ops {
            h.step(op)?;
        }
        // Unbinding every device empties the table, and then any RID HWPT is allowed.
        for dev in 0..DEVS.len() {
            h.step(&Op::Unbind { dev })?;
        }
        prop_assert!(h.real.is_empty());
        prop_assert_eq!(h.real.check_rid(false), Ok(()));
        Ok(())
    });
    let (c, o, f) = (
        CASES.load(Ordering::Relaxed),
        OPS.load(Ordering::Relaxed),
        FAULTS.load(Ordering::Relaxed),
    );
    eprintln!(
        "pasid model: {cases} cases ({c} runs incl. shrinking), {o} operations (with the 3 \
         closing unbinds of each run), {f} of them with an injected ENOMEM that fired"
    );
    for (kind, outcomes) in STATS.lock().unwrap().iter() {
        let n: u64 = outcomes.values().sum();
        let each: Vec<String> = outcomes.iter().map(|(o, k)| format!("{o} {k}")).collect();
        eprintln!("  {kind:10} {n:6} compared: {}", each.join(", "));
    }
    if let Err(e) = result {
        panic!("{e}");
    }
}
