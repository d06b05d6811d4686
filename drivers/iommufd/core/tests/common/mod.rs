// SPDX-License-Identifier: GPL-2.0

//! Host-side [`Slots`]/[`Storage`] on `std` vectors, with fault injection.
//!
//! Every `try_reserve` is an allocation point; a [`FaultPlan`] can make the n-th one fail
//! with `ENOMEM`. Capacity is reserved exactly, and `try_insert` panics if it is called
//! without room: that would be an insert the core did not reserve for.

#![allow(dead_code)]

use iommufd_core::errno::{Errno, Result};
use iommufd_core::storage::{Slots, Storage};
use std::cell::Cell;
use std::rc::Rc;

/// When to fail an allocation, shared by every table of one storage.
#[derive(Default, Debug)]
pub struct FaultPlan {
    /// Fail the allocation point reached when this hits 0 (`None`: never).
    countdown: Cell<Option<u32>>,
    /// Whether an armed fault fired.
    fired: Cell<bool>,
    /// Allocation points reached, in total.
    points: Cell<u64>,
}

impl FaultPlan {
    /// Fails the `n`-th allocation point from now (0 = the next one).
    pub fn arm(&self, n: u32) {
        self.countdown.set(Some(n));
        self.fired.set(false);
    }

    /// Stops failing; returns whether the armed fault fired.
    pub fn disarm(&self) -> bool {
        self.countdown.set(None);
        self.fired.replace(false)
    }

    /// An allocation point: `ENOMEM` if it is the one armed.
    pub fn alloc_point(&self) -> Result {
        self.points.set(self.points.get() + 1);
        match self.countdown.get() {
            Some(0) => {
                self.countdown.set(None);
                self.fired.set(true);
                Err(Errno::ENOMEM)
            }
            Some(n) => {
                self.countdown.set(Some(n - 1));
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Allocation points reached so far.
    pub fn points(&self) -> u64 {
        self.points.get()
    }
}

/// A `Vec` as [`Slots`].
#[derive(Debug)]
pub struct VecSlots<T> {
    vec: Vec<T>,
    plan: Rc<FaultPlan>,
}

impl<T> Slots<T> for VecSlots<T> {
    fn as_slice(&self) -> &[T] {
        &self.vec
    }
    fn as_mut_slice(&mut self) -> &mut [T] {
        &mut self.vec
    }
    fn try_reserve(&mut self, additional: usize) -> Result {
        self.plan.alloc_point()?;
        self.vec
            .try_reserve_exact(additional)
            .map_err(|_| Errno::ENOMEM)
    }
    fn try_insert(&mut self, index: usize, value: T) -> Result {
        assert!(
            self.vec.len() < self.vec.capacity(),
            "try_insert without a reservation"
        );
        self.vec.insert(index, value);
        Ok(())
    }
    fn remove(&mut self, index: usize) -> T {
        self.vec.remove(index)
    }
    fn capacity(&self) -> usize {
        self.vec.capacity()
    }
}

/// [`Storage`] of [`VecSlots`] sharing one [`FaultPlan`].
#[derive(Clone, Debug, Default)]
pub struct TestStorage {
    pub plan: Rc<FaultPlan>,
}

impl Storage for TestStorage {
    type Table<T> = VecSlots<T>;
    fn new_table<T>(&self) -> VecSlots<T> {
        VecSlots {
            vec: Vec::new(),
            plan: self.plan.clone(),
        }
    }
}

/// The runner of a model-based property test: `DEFAULT` cases unless `<PREFIX>_CASES` says
/// otherwise; deterministic by default, so that CI is reproducible and the counts can be
/// quoted, and `<PREFIX>_RANDOM=1` explores new sequences.
pub fn model_runner(prefix: &str, default_cases: u32) -> proptest::test_runner::TestRunner {
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    let cases = std::env::var(format!("{prefix}_CASES"))
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_cases);
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    if std::env::var_os(format!("{prefix}_RANDOM")).is_some() {
        TestRunner::new(config)
    } else {
        TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha))
    }
}
