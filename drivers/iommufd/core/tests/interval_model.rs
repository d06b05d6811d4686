// SPDX-License-Identifier: GPL-2.0

//! Model-based test of `iommufd_core::interval::IntervalSet`, the blocked interval set.
//!
//! Long random sequences of inserts, removals and queries run on the real set (on `Vec`
//! storage with fault injection) and on a `BTreeMap` answered by linear scans. The sets grow
//! to hundreds of intervals, so blocks split, empty and merge; after every step the contents,
//! the answers and the block invariants are compared. When an injected `ENOMEM` fires, the
//! insert must report it and leave the set exactly as before.
//!
//! `INTERVAL_MODEL_CASES=n` changes the number of cases; `INTERVAL_MODEL_RANDOM=1` uses a
//! random seed.

mod common;

use common::TestStorage;
use iommufd_core::errno::Errno;
use iommufd_core::interval::{Cover, HasSpan, IntervalSet, Span, BLOCK};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The most intervals and blocks one set reached, and the `ENOMEM`s that fired.
static MAX_LEN: AtomicUsize = AtomicUsize::new(0);
static MAX_BLOCKS: AtomicUsize = AtomicUsize::new(0);
static FAULTS: AtomicUsize = AtomicUsize::new(0);

/// The address space of the test: small, so that inserts collide and runs touch.
const SPACE: u64 = 1 << 13;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Item {
    span: Span,
    tag: u32,
}

impl HasSpan for Item {
    fn span(&self) -> Span {
        self.span
    }
}

#[derive(Clone, Debug)]
enum Op {
    Insert {
        start: u64,
        len: u64,
        fault: Option<u32>,
    },
    RemoveAt(u64),
    /// Removes every interval intersecting `[start, start + len)`, one search each.
    RemoveRange {
        start: u64,
        len: u64,
    },
    Query {
        start: u64,
        len: u64,
    },
}

fn op(grow: bool) -> impl Strategy<Value = Op> {
    let addr = 0..SPACE;
    let insert = (addr.clone(), 1u64..12, prop::option::weighted(0.1, 0u32..3))
        .prop_map(|(start, len, fault)| Op::Insert { start, len, fault });
    let (wi, wr) = if grow { (6, 1) } else { (1, 4) };
    prop_oneof![
        wi => insert,
        wr => addr.clone().prop_map(Op::RemoveAt),
        1 => (addr.clone(), 1u64..200).prop_map(|(start, len)| Op::RemoveRange { start, len }),
        3 => (addr, 1u64..300).prop_map(|(start, len)| Op::Query { start, len }),
    ]
}

type Model = BTreeMap<u64, (u64, u32)>;

fn model_items(m: &Model) -> Vec<Item> {
    m.iter()
        .map(|(&start, &(last, tag))| Item {
            span: Span { start, last },
            tag,
        })
        .collect()
}

fn model_first_hit(m: &Model, s: Span) -> Option<Item> {
    model_items(m).into_iter().find(|i| i.span.intersects(&s))
}

fn check(real: &IntervalSet<Item, TestStorage>, m: &Model) -> Result<(), TestCaseError> {
    let got: Vec<Item> = real.iter().copied().collect();
    prop_assert_eq!(&got, &model_items(m));
    prop_assert_eq!(real.len(), m.len());
    prop_assert_eq!(real.is_empty(), m.is_empty());
    // Blocks: none empty, none too big, the lengths add up, and no two neighbours are both
    // below a quarter block (so there are O(N / BLOCK) of them).
    let lens: Vec<usize> = real.block_lens().collect();
    if m.is_empty() {
        // An emptied set keeps its one block.
        prop_assert!(lens.is_empty() || lens == [0], "{:?}", lens);
    } else {
        prop_assert!(lens.iter().all(|&n| (1..=BLOCK).contains(&n)), "{:?}", lens);
    }
    prop_assert_eq!(lens.iter().sum::<usize>(), m.len());
    MAX_LEN.fetch_max(m.len(), Ordering::Relaxed);
    MAX_BLOCKS.fetch_max(lens.len(), Ordering::Relaxed);
    prop_assert!(
        lens.windows(2)
            .all(|w| w[0] >= BLOCK / 4 || w[1] >= BLOCK / 4),
        "two small blocks side by side: {:?}",
        lens
    );
    Ok(())
}

fn query(real: &IntervalSet<Item, TestStorage>, m: &Model, s: Span) -> Result<(), TestCaseError> {
    let items = model_items(m);
    let first = real
        .first_intersecting(s)
        .and_then(|p| real.get(p))
        .copied();
    prop_assert_eq!(first, model_first_hit(m, s));
    prop_assert_eq!(real.any_intersecting(s), first.is_some());
    let hits: Vec<Item> = real.intersecting(s).copied().collect();
    let want: Vec<Item> = items
        .iter()
        .filter(|i| i.span.intersects(&s))
        .copied()
        .collect();
    prop_assert_eq!(hits, want);
    let from: Vec<Item> = real.iter_from(s.start).take(5).copied().collect();
    let want: Vec<Item> = items
        .iter()
        .filter(|i| i.span.last >= s.start)
        .take(5)
        .copied()
        .collect();
    prop_assert_eq!(from, want);
    let cover = items
        .iter()
        .find(|i| i.span.contains(s.start))
        .map(|i| i.span.last);
    prop_assert_eq!(real.covering_last(s.start), cover);
    let next = items.iter().map(|i| i.span.start).find(|&st| st > s.start);
    prop_assert_eq!(real.next_start_after(s.start), next);
    let n = (s.last - s.start) as usize;
    prop_assert_eq!(real.get_nth(n).copied(), items.get(n).copied());
    // Runs: the model's intervals merged where they touch, clipped.
    let mut runs: Vec<Span> = Vec::new();
    for i in items.iter().filter(|i| i.span.intersects(&s)) {
        let (a, b) = (i.span.start.max(s.start), i.span.last.min(s.last));
        match runs.last_mut() {
            Some(r) if r.last + 1 == i.span.start && i.span.start > s.start => r.last = b,
            _ => runs.push(Span { start: a, last: b }),
        }
    }
    let got: Vec<Span> = real.runs(s).collect();
    prop_assert_eq!(got, runs);
    Ok(())
}

fn run(ops: &[Op]) -> Result<(), TestCaseError> {
    let storage = TestStorage::default();
    let plan = storage.plan.clone();
    let mut real: IntervalSet<Item, TestStorage> = IntervalSet::new(storage);
    let mut m = Model::new();
    let mut tag = 0u32;
    for op in ops {
        match *op {
            Op::Insert { start, len, fault } => {
                tag += 1;
                let span = Span {
                    start,
                    last: start + len - 1,
                };
                let before: Vec<Item> = real.iter().copied().collect();
                if let Some(n) = fault {
                    plan.arm(n);
                }
                let rc = real.insert(Item { span, tag });
                if plan.disarm() {
                    FAULTS.fetch_add(1, Ordering::Relaxed);
                    prop_assert_eq!(rc, Err(Errno::ENOMEM));
                    let after: Vec<Item> = real.iter().copied().collect();
                    prop_assert_eq!(after, before, "ENOMEM changed the set");
                } else {
                    let clash = m
                        .iter()
                        .any(|(&s, &(l, _))| Span { start: s, last: l }.intersects(&span));
                    if clash {
                        prop_assert_eq!(rc, Err(Errno::EEXIST));
                    } else {
                        prop_assert_eq!(rc, Ok(()));
                        m.insert(start, (span.last, tag));
                    }
                }
            }
            Op::RemoveAt(addr) => {
                let got = real.index_containing(addr).and_then(|p| real.remove(p));
                let key = m
                    .iter()
                    .find(|(&s, &(l, _))| s <= addr && addr <= l)
                    .map(|(&s, _)| s);
                let want = key.and_then(|k| m.remove(&k)).map(|(last, tag)| Item {
                    span: Span {
                        start: key.unwrap_or(0),
                        last,
                    },
                    tag,
                });
                prop_assert_eq!(got, want);
            }
            Op::RemoveRange { start, len } => {
                let s = Span {
                    start,
                    last: start + len - 1,
                };
                while let Some(p) = real.first_intersecting(s) {
                    let got = real.remove(p);
                    prop_assert!(got.is_some());
                }
                m.retain(|&st, &mut (l, _)| !Span { start: st, last: l }.intersects(&s));
            }
            Op::Query { start, len } => {
                query(
                    &real,
                    &m,
                    Span {
                        start,
                        last: start + len - 1,
                    },
                )?;
            }
        }
        check(&real, &m)?;
    }
    Ok(())
}

#[test]
fn interval_set_matches_model() {
    let mut runner = common::model_runner("INTERVAL_MODEL", 48);
    // Grow to several hundred intervals (many blocks), then shrink (merges, empty blocks).
    let ops = (
        prop::collection::vec(op(true), 300..1500),
        prop::collection::vec(op(false), 300..1500),
    );
    let result = runner.run(&ops, |(grow, shrink)| {
        let all: Vec<Op> = grow.into_iter().chain(shrink).collect();
        run(&all)
    });
    eprintln!(
        "interval model: {} cases, up to {} intervals in {} blocks, {} injected ENOMEMs fired",
        runner.config().cases,
        MAX_LEN.load(Ordering::Relaxed),
        MAX_BLOCKS.load(Ordering::Relaxed),
        FAULTS.load(Ordering::Relaxed)
    );
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// The edges: an interval ending at `u64::MAX`, ascending and descending fills (every
/// insert at one end of a block), and emptying from the front and the back.
#[test]
fn interval_set_edges() {
    let storage = TestStorage::default();
    let mut s: IntervalSet<Span, TestStorage> = IntervalSet::new(storage);
    let n = 10 * BLOCK as u64;
    for i in 0..n {
        s.insert(Span {
            start: 2 * i,
            last: 2 * i,
        })
        .unwrap();
    }
    for i in (n..2 * n).rev() {
        s.insert(Span {
            start: 2 * i,
            last: 2 * i,
        })
        .unwrap();
    }
    s.insert(Span {
        start: u64::MAX - 1,
        last: u64::MAX,
    })
    .unwrap();
    assert_eq!(s.len(), 2 * n as usize + 1);
    assert!(s.block_lens().all(|l| (1..=BLOCK).contains(&l)));
    assert_eq!(s.next_start_after(2 * n - 1), Some(2 * n));
    assert_eq!(s.covering_last(u64::MAX), Some(u64::MAX));
    let runs: Vec<Span> = s
        .runs(Span {
            start: 0,
            last: u64::MAX,
        })
        .collect();
    assert_eq!(runs.len(), 2 * n as usize + 1);
    for i in 0..n {
        let p = s.index_containing(2 * i).unwrap();
        assert_eq!(
            s.remove(p),
            Some(Span {
                start: 2 * i,
                last: 2 * i
            })
        );
        let p = s.index_containing(2 * (2 * n - 1 - i)).unwrap();
        assert!(s.remove(p).is_some());
    }
    assert_eq!(s.len(), 1);
    assert_eq!(s.block_lens().count(), 1);
    let p = s.index_containing(u64::MAX).unwrap();
    assert!(s.remove(p).is_some());
    assert!(s.is_empty());
    assert_eq!(s.iter().count(), 0);
    assert_eq!(s.block_lens().collect::<Vec<_>>(), [0]);
    assert_eq!(
        s.first_intersecting(Span {
            start: 0,
            last: u64::MAX
        }),
        None
    );
    assert_eq!(s.next_start_after(0), None);
    assert_eq!(s.get_nth(0), None);
    s.insert(Span { start: 7, last: 9 }).unwrap();
    assert_eq!(s.covering_last(8), Some(9));
    assert_eq!(s.block_lens().collect::<Vec<_>>(), [1]);
}

/// Host timing of the cost curve's pattern (`cargo test --release --test interval_model --
/// --ignored --nocapture`): N one-page intervals two pages apart, then insert and remove one
/// in a hole spread over the range, against a single sorted `Vec` as the set was before.
#[test]
#[ignore]
fn interval_set_cost_curve() {
    use std::time::Instant;
    /// As big as an area in the kernel (48 bytes).
    #[derive(Clone, Copy)]
    struct Fat {
        span: Span,
        _pad: [u64; 4],
    }
    impl HasSpan for Fat {
        fn span(&self) -> Span {
            self.span
        }
    }
    let fat = |i: u64| Fat {
        span: Span { start: i, last: i },
        _pad: [0; 4],
    };
    const K: u64 = 2000;
    for n in [1u64, 100, 1000, 10_000, 100_000] {
        let mut s: IntervalSet<Fat, TestStorage> = IntervalSet::new(TestStorage::default());
        let mut v: Vec<Fat> = Vec::new();
        for i in 0..n {
            s.insert(fat(2 * i)).unwrap();
            v.push(fat(2 * i));
        }
        let t = Instant::now();
        for k in 0..K {
            let hole = 2 * ((k * 7919) % n) + 1;
            s.insert(fat(hole)).unwrap();
            let p = s.index_containing(hole).unwrap();
            s.remove(p).unwrap();
        }
        let blocked = t.elapsed().as_nanos() as f64 / K as f64;
        let t = Instant::now();
        for k in 0..K {
            let hole = 2 * ((k * 7919) % n) + 1;
            let at = v.partition_point(|e| e.span.start < hole);
            v.insert(at, fat(hole));
            v.remove(at);
        }
        let flat = t.elapsed().as_nanos() as f64 / K as f64;
        eprintln!("N={n}: insert+remove {blocked:.0} ns blocked, {flat:.0} ns one sorted Vec");
    }
}
