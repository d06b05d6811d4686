// SPDX-License-Identifier: GPL-2.0

//! Explicit, fallible storage for the core's tables.
//!
//! The core never allocates by itself: every table lives in a [`Slots`] container that the
//! user of the core provides through a [`Storage`] factory. The kernel implements them on
//! `KVec` (insert is `push` + `rotate_right`, remove is `rotate_left` + `pop`); the host tests
//! implement them on `std` vectors, with optional fault injection.
//!
//! Contract relied on by the core: after `try_reserve(n)` succeeded, the next `n` calls to
//! `try_insert` do not allocate and cannot fail. Operations that change several things
//! reserve first, so that an `ENOMEM` leaves everything unchanged.

use super::errno::Result;

/// A growable array of `T`, with fallible growth.
pub trait Slots<T> {
    /// The elements, in order.
    fn as_slice(&self) -> &[T];
    /// The elements, in order, mutably.
    fn as_mut_slice(&mut self) -> &mut [T];
    /// Makes room for `additional` more elements; `Err(Errno::ENOMEM)` if it cannot.
    fn try_reserve(&mut self, additional: usize) -> Result;
    /// Inserts `value` at `index` (`index <= len`, callers guarantee it), shifting the tail.
    ///
    /// Must not allocate if a `try_reserve` covering this element succeeded before; may
    /// return `Err(Errno::ENOMEM)` otherwise.
    fn try_insert(&mut self, index: usize, value: T) -> Result;
    /// Removes and returns the element at `index` (`index < len`, callers guarantee it),
    /// shifting the tail down.
    fn remove(&mut self, index: usize) -> T;
    /// How many elements fit without allocating: `try_insert` cannot fail while `len` is
    /// below it. The default claims no spare room, which is always safe (callers then
    /// `try_reserve` first).
    fn capacity(&self) -> usize {
        self.as_slice().len()
    }
}

/// A factory of empty [`Slots`] containers, one type of container per element type.
pub trait Storage: Clone {
    /// The container used for elements of type `T`.
    type Table<T>: Slots<T>;
    /// Returns a new, empty container. Must not fail (it should not allocate yet).
    fn new_table<T>(&self) -> Self::Table<T>;
}

#[cfg(test)]
pub(crate) mod test_impl {
    //! `std` vectors as [`Slots`], for the unit tests inside the crate.
    extern crate std;

    use super::super::errno::{Errno, Result};
    use super::{Slots, Storage};
    use std::vec::Vec;

    impl<T> Slots<T> for Vec<T> {
        fn as_slice(&self) -> &[T] {
            self
        }
        fn as_mut_slice(&mut self) -> &mut [T] {
            self
        }
        fn try_reserve(&mut self, additional: usize) -> Result {
            Vec::try_reserve(self, additional).map_err(|_| Errno::ENOMEM)
        }
        fn try_insert(&mut self, index: usize, value: T) -> Result {
            assert!(self.len() < self.capacity(), "insert without reservation");
            self.insert(index, value);
            Ok(())
        }
        fn remove(&mut self, index: usize) -> T {
            Vec::remove(self, index)
        }
        fn capacity(&self) -> usize {
            Vec::capacity(self)
        }
    }

    /// Storage on `std` vectors.
    #[derive(Clone, Copy, Default, Debug)]
    pub(crate) struct VecStorage;

    impl Storage for VecStorage {
        type Table<T> = Vec<T>;
        fn new_table<T>(&self) -> Vec<T> {
            Vec::new()
        }
    }
}
