// SPDX-License-Identifier: GPL-2.0

//! User memory access in the core's errno terms: every fault is `EFAULT`, and addresses
//! computed from user-supplied bases never wrap.

use crate::iommufd_core::errno::Errno;
use kernel::uaccess::{UserPtr, UserSlice};

/// Copies `bytes` to user address `at`.
pub(crate) fn write(at: UserPtr, bytes: &[u8]) -> Result<(), Errno> {
    UserSlice::new(at, bytes.len())
        .writer()
        .write_slice(bytes)
        .map_err(|_| Errno::EFAULT)
}

/// Fills `buf` from user address `at`.
pub(crate) fn read(at: UserPtr, buf: &mut [u8]) -> Result<(), Errno> {
    UserSlice::new(at, buf.len())
        .reader()
        .read_slice(buf)
        .map_err(|_| Errno::EFAULT)
}

/// The address `base + offset`; `EFAULT` if it wraps.
pub(crate) fn offset(base: UserPtr, offset: usize) -> Result<UserPtr, Errno> {
    base.checked_add(offset).ok_or(Errno::EFAULT)
}

/// The address of element `index` of a user array of `size`-byte elements at `base`;
/// `EFAULT` if it wraps.
pub(crate) fn element(base: UserPtr, index: usize, size: usize) -> Result<UserPtr, Errno> {
    offset(base, index.checked_mul(size).ok_or(Errno::EFAULT)?)
}

/// C `clear_user()`: zeroes `len` bytes at `at`. `EFAULT` if that faults.
pub(crate) fn clear(at: UserPtr, len: usize) -> Result<(), Errno> {
    const ZEROS: [u8; 256] = [0; 256];
    let mut done = 0;
    while done < len {
        let n = (len - done).min(ZEROS.len());
        write(offset(at, done)?, &ZEROS[..n])?;
        done += n;
    }
    Ok(())
}
