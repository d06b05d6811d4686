// SPDX-License-Identifier: GPL-2.0

//! Decoding and validation of the iommufd ioctl argument structs.
//!
//! The kernel shell reads a command's struct with `copy_struct_from_user()` into a buffer of
//! exactly `op.size` bytes (see [`super::uapi::OPS`]): a shorter user struct is zero-filled, a
//! longer one has already been checked for a zero tail. The types here turn such a buffer into
//! a typed, validated Rust struct (`decode`), and write the fields a handler sends back into
//! the same buffer (`encode_response`), which the shell then copies back to the user as
//! C `iommufd_ucmd_respond()` does (in `drivers/iommu/iommufd/iommufd_private.h`): the first
//! [`respond_len`] bytes of the buffer.
//!
//! Each `decode` performs, in the same order as the C handler of the pinned tree, every check
//! the handler makes before its first object lookup or other side effect, and returns the same
//! errno. Checks the C code makes only after an object lookup are not part of `decode`; they
//! are documented (and, when pure, offered as helper methods) on the type, for the shell to
//! call at the point where C makes them.
//!
//! Conventions shared by every command type:
//!
//! - fields carry the C names in snake_case; `__reserved` fields are checked (when C checks
//!   them) but not kept;
//! - output-only fields (`out_*`) are never read by C before it sets them; `decode` leaves them
//!   zero and `encode_response` writes them;
//! - bytes past the end of the buffer read as zero (the zero fill of
//!   `copy_struct_from_user()`), bytes past the struct's `sizeof` are ignored; a write only
//!   touches the bytes that fit. None of the functions panics, whatever the buffer holds or
//!   however long it is;
//! - `encode` is the inverse of `decode`: it writes every input field (and `size`), so that
//!   `decode(encode(decode(b)?))` is `decode(b)`.
//!
//! The uAPI is native endian: the kernel and user space share the CPU's byte order.

use super::errno::Result;
use super::uapi::{Cmd, OPS};

pub mod device;
pub mod fault;
pub mod hwpt;
pub mod ioas;
pub mod main;
pub mod test_cmd;
pub mod vfio;

/// `ULONG_MAX` of the kernel: Linux's `unsigned long` is as wide as a pointer.
pub const ULONG_MAX: u64 = usize::MAX as u64;

/// `x >= ULONG_MAX`, C's overflow test for a `u64` going into an `unsigned long` (on a
/// 64-bit kernel it is `x == U64_MAX`; the comparison is kept as C writes it).
#[allow(clippy::absurd_extreme_comparisons)]
pub fn ge_ulong_max(x: u64) -> bool {
    x >= ULONG_MAX
}

/// `x > ULONG_MAX`: never true on a 64-bit kernel, kept as C writes it.
#[allow(clippy::absurd_extreme_comparisons)]
pub fn gt_ulong_max(x: u64) -> bool {
    x > ULONG_MAX
}

/// The `PAGE_SIZE` the plain `decode` functions assume (4 KiB, as on x86-64). The kernel shell
/// should call the `decode_with_page_size` variants with the kernel's real `PAGE_SIZE`.
pub const DEFAULT_PAGE_SIZE: u64 = 4096;

/// One field of a uAPI struct: `N` bytes at byte `offset`, native endian.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Field<const N: usize> {
    /// The C member designator, as `offsetof()` takes it (`"flags"`, `"dirty.out_nr_dirty"`).
    pub name: &'static str,
    /// `offsetof()` of the member.
    pub offset: usize,
}

impl<const N: usize> Field<N> {
    /// A field named `name` at `offset`.
    pub const fn new(name: &'static str, offset: usize) -> Self {
        Self { name, offset }
    }

    /// The field's description, for the layout tables.
    pub const fn desc(self) -> FieldDesc {
        FieldDesc {
            name: self.name,
            offset: self.offset,
            size: N,
        }
    }

    /// The field's bytes in `buf`; bytes past the end of `buf` read as zero.
    pub fn get(self, buf: &[u8]) -> [u8; N] {
        let mut out = [0u8; N];
        if let Some(src) = buf.get(self.offset..) {
            for (d, s) in out.iter_mut().zip(src) {
                *d = *s;
            }
        }
        out
    }

    /// Stores `bytes` as the field in `buf`; the bytes that do not fit are dropped.
    pub fn put(self, buf: &mut [u8], bytes: [u8; N]) {
        if let Some(dst) = buf.get_mut(self.offset..) {
            for (d, s) in dst.iter_mut().zip(bytes.iter()) {
                *d = *s;
            }
        }
    }

    /// Whether every byte of the field is zero (for `__reserved` checks).
    pub fn is_zero(self, buf: &[u8]) -> bool {
        self.get(buf).iter().all(|b| *b == 0)
    }
}

impl Field<1> {
    /// Reads a `__u8`.
    pub fn get_u8(self, buf: &[u8]) -> u8 {
        u8::from_ne_bytes(self.get(buf))
    }

    /// Writes a `__u8`.
    pub fn put_u8(self, buf: &mut [u8], v: u8) {
        self.put(buf, v.to_ne_bytes())
    }
}

impl Field<2> {
    /// Reads a `__u16`.
    pub fn get_u16(self, buf: &[u8]) -> u16 {
        u16::from_ne_bytes(self.get(buf))
    }

    /// Writes a `__u16`.
    pub fn put_u16(self, buf: &mut [u8], v: u16) {
        self.put(buf, v.to_ne_bytes())
    }
}

impl Field<4> {
    /// Reads a `__u32`.
    pub fn get_u32(self, buf: &[u8]) -> u32 {
        u32::from_ne_bytes(self.get(buf))
    }

    /// Writes a `__u32`.
    pub fn put_u32(self, buf: &mut [u8], v: u32) {
        self.put(buf, v.to_ne_bytes())
    }
}

impl Field<8> {
    /// Reads a `__u64` / `__aligned_u64`.
    pub fn get_u64(self, buf: &[u8]) -> u64 {
        u64::from_ne_bytes(self.get(buf))
    }

    /// Writes a `__u64` / `__aligned_u64`.
    pub fn put_u64(self, buf: &mut [u8], v: u64) {
        self.put(buf, v.to_ne_bytes())
    }
}

/// A field's name, offset and size, as the layout tables list them.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct FieldDesc {
    /// The C member designator.
    pub name: &'static str,
    /// `offsetof()`.
    pub offset: usize,
    /// `sizeof()` of the member.
    pub size: usize,
}

/// The layout of one uAPI struct: every field the decoders use, reserved ones included.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Layout {
    /// The C struct tag (`"iommu_ioas_map"` for `struct iommu_ioas_map`).
    pub c_struct: &'static str,
    /// `sizeof()` of the struct.
    pub size: usize,
    /// The fields, in declaration order.
    pub fields: &'static [FieldDesc],
}

/// The `size` field every iommufd command struct starts with.
pub const SIZE_FIELD: Field<4> = Field::new("size", 0);

/// What every command struct offers; implemented by the types of the submodules.
pub trait UcmdStruct: Sized {
    /// The command the struct belongs to.
    const CMD: Cmd;
    /// The struct's layout.
    const LAYOUT: Layout;
    /// Decodes and checks a command buffer (see the type's own `decode`).
    fn decode(buf: &[u8]) -> Result<Self>;
    /// Writes every input field, and `size` (the inverse of `decode`).
    fn encode(&self, buf: &mut [u8]);
    /// Writes the fields the C handler sets before `iommufd_ucmd_respond()`.
    fn encode_response(&self, buf: &mut [u8]);
}

/// `op.size` of `cmd` in [`OPS`] (0 if absent), usable in constants.
pub const fn op_size(cmd: Cmd) -> usize {
    let mut i = 0;
    while i < OPS.len() {
        if OPS[i].cmd as u32 == cmd as u32 {
            return OPS[i].size;
        }
        i += 1;
    }
    0
}

/// Implements [`UcmdStruct`] by forwarding to the inherent methods, and checks at compile time
/// that the layout's size is the table's.
macro_rules! impl_ucmd {
    ($ty:ty, $cmd:expr) => {
        impl super::UcmdStruct for $ty {
            const CMD: super::super::uapi::Cmd = $cmd;
            const LAYOUT: super::Layout = <$ty>::LAYOUT;
            fn decode(buf: &[u8]) -> super::super::errno::Result<Self> {
                <$ty>::decode(buf)
            }
            fn encode(&self, buf: &mut [u8]) {
                <$ty>::encode(self, buf)
            }
            fn encode_response(&self, buf: &mut [u8]) {
                <$ty>::encode_response(self, buf)
            }
        }
        const _: () = assert!(<$ty>::LAYOUT.size == super::op_size($cmd));
    };
}
use impl_ucmd;

/// How many bytes of the command buffer go back to the user on a response: `min(user_size,
/// op_size)`, as `iommufd_ucmd_respond(ucmd, sizeof(*cmd))`
/// (a static inline in `drivers/iommu/iommufd/iommufd_private.h`; every handler passes
/// `sizeof(*cmd)`, which is the op's size).
pub fn respond_len(user_size: u32, op_size: usize) -> usize {
    core::cmp::min(usize::try_from(user_size).unwrap_or(usize::MAX), op_size)
}

/// Whether `x` is not a multiple of `align` (an `align` of zero counts as misaligned, so
/// that no input can divide by zero).
pub(crate) fn misaligned(x: u64, align: u64) -> bool {
    match x.checked_rem(align) {
        Some(r) => r != 0,
        None => true,
    }
}

/// The layouts of every struct the decoders use, for the layout test.
pub const LAYOUTS: [Layout; 19] = [
    main::Destroy::LAYOUT,
    ioas::IoasAlloc::LAYOUT,
    ioas::IoasAllowIovas::LAYOUT,
    ioas::IoasCopy::LAYOUT,
    ioas::IoasIovaRanges::LAYOUT,
    ioas::IoasMap::LAYOUT,
    ioas::IoasUnmap::LAYOUT,
    main::IommuOption::LAYOUT,
    vfio::VfioIoas::LAYOUT,
    hwpt::HwptAlloc::LAYOUT,
    device::HwInfo::LAYOUT,
    hwpt::HwptSetDirtyTracking::LAYOUT,
    hwpt::HwptGetDirtyBitmap::LAYOUT,
    hwpt::HwptInvalidate::LAYOUT,
    fault::FaultAlloc::LAYOUT,
    test_cmd::TestCmd::LAYOUT,
    ioas::IovaRange::LAYOUT,
    fault::PgFault::LAYOUT,
    fault::PageResponse::LAYOUT,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_read_zero_past_the_end_and_write_what_fits() {
        let f: Field<8> = Field::new("x", 4);
        let buf = [1u8, 2, 3, 4, 5, 6];
        assert_eq!(f.get(&buf), [5, 6, 0, 0, 0, 0, 0, 0]);
        assert_eq!(f.get(&[]), [0; 8]);
        let far: Field<4> = Field::new("far", usize::MAX);
        assert_eq!(far.get_u32(&buf), 0);
        let mut out = [0u8; 6];
        f.put_u64(&mut out, u64::from_ne_bytes([9, 8, 7, 6, 5, 4, 3, 2]));
        assert_eq!(out, [0, 0, 0, 0, 9, 8]);
        far.put_u32(&mut out, 7);
        assert_eq!(out, [0, 0, 0, 0, 9, 8]);
    }

    #[test]
    fn respond_len_is_the_min() {
        assert_eq!(respond_len(0, 40), 0);
        assert_eq!(respond_len(24, 48), 24);
        assert_eq!(respond_len(u32::MAX, 48), 48);
    }

    #[test]
    fn layouts_match_the_op_table() {
        // The first 16 layouts are the commands', in table order; then the structs that are
        // not commands (`iommu_iova_range`, the fault file's records).
        assert_eq!(LAYOUTS.len(), OPS.len() + 3);
        for (l, o) in LAYOUTS.iter().zip(OPS.iter()) {
            assert_eq!(l.size, o.size, "{} vs {:?}", l.c_struct, o.cmd);
        }
    }

    #[test]
    fn misaligned_never_divides_by_zero() {
        assert!(misaligned(5, 0));
        assert!(misaligned(0, 0));
        assert!(!misaligned(8, 4));
        assert!(misaligned(6, 4));
    }
}
