// SPDX-License-Identifier: GPL-2.0

//! `IOMMU_TEST_CMD`, the mock's test multiplexer (`drivers/iommu/iommufd/selftest.c`,
//! `iommufd_test()`), with the uAPI of `drivers/iommufd/iommufd_test.h` (the pinned tree's
//! header plus `MOCK_FLAGS_DEVICE_PASID`, `MOCK_PASID_WIDTH` and the PASID ops of the later
//! one, and iommufd-rs's own `IOMMU_TEST_OP_RS_PASID_ASSIGN`).

use super::super::errno::{Errno, Result};
use super::super::uapi::Cmd;
use super::{impl_ucmd, misaligned, Field, FieldDesc, Layout, DEFAULT_PAGE_SIZE, SIZE_FIELD};

/// `IOMMU_TEST_OP_ADD_RESERVED`.
pub const IOMMU_TEST_OP_ADD_RESERVED: u32 = 1;
/// `IOMMU_TEST_OP_MOCK_DOMAIN`.
pub const IOMMU_TEST_OP_MOCK_DOMAIN: u32 = 2;
/// `IOMMU_TEST_OP_MD_CHECK_MAP`.
pub const IOMMU_TEST_OP_MD_CHECK_MAP: u32 = 3;
/// `IOMMU_TEST_OP_MD_CHECK_REFS`.
pub const IOMMU_TEST_OP_MD_CHECK_REFS: u32 = 4;
/// `IOMMU_TEST_OP_CREATE_ACCESS`.
pub const IOMMU_TEST_OP_CREATE_ACCESS: u32 = 5;
/// `IOMMU_TEST_OP_DESTROY_ACCESS_PAGES`.
pub const IOMMU_TEST_OP_DESTROY_ACCESS_PAGES: u32 = 6;
/// `IOMMU_TEST_OP_ACCESS_PAGES`.
pub const IOMMU_TEST_OP_ACCESS_PAGES: u32 = 7;
/// `IOMMU_TEST_OP_ACCESS_RW`.
pub const IOMMU_TEST_OP_ACCESS_RW: u32 = 8;
/// `IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT`.
pub const IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT: u32 = 9;
/// `IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE`.
pub const IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE: u32 = 10;
/// `IOMMU_TEST_OP_ACCESS_REPLACE_IOAS`.
pub const IOMMU_TEST_OP_ACCESS_REPLACE_IOAS: u32 = 11;
/// `IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS`.
pub const IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS: u32 = 12;
/// `IOMMU_TEST_OP_DIRTY`.
pub const IOMMU_TEST_OP_DIRTY: u32 = 13;
/// `IOMMU_TEST_OP_MD_CHECK_IOTLB`.
pub const IOMMU_TEST_OP_MD_CHECK_IOTLB: u32 = 14;
/// `IOMMU_TEST_OP_TRIGGER_IOPF`.
pub const IOMMU_TEST_OP_TRIGGER_IOPF: u32 = 15;
/// `IOMMU_TEST_OP_DEV_CHECK_CACHE` (later test uAPI): reserved, so that the PASID ops keep
/// upstream's numbers; not implemented (`EOPNOTSUPP`, as any unknown op).
pub const IOMMU_TEST_OP_DEV_CHECK_CACHE: u32 = 16;
/// `IOMMU_TEST_OP_TRIGGER_VEVENT` (later test uAPI): reserved like
/// [`IOMMU_TEST_OP_DEV_CHECK_CACHE`], `EOPNOTSUPP`.
pub const IOMMU_TEST_OP_TRIGGER_VEVENT: u32 = 17;
/// `IOMMU_TEST_OP_PASID_ATTACH` (later test uAPI).
pub const IOMMU_TEST_OP_PASID_ATTACH: u32 = 18;
/// `IOMMU_TEST_OP_PASID_REPLACE` (later test uAPI).
pub const IOMMU_TEST_OP_PASID_REPLACE: u32 = 19;
/// `IOMMU_TEST_OP_PASID_DETACH` (later test uAPI).
pub const IOMMU_TEST_OP_PASID_DETACH: u32 = 20;
/// `IOMMU_TEST_OP_PASID_CHECK_HWPT` (later test uAPI).
pub const IOMMU_TEST_OP_PASID_CHECK_HWPT: u32 = 21;
/// `IOMMU_TEST_OP_RS_PASID_ASSIGN` (iommufd-rs only, far from upstream's numbers): allocate a
/// global PASID and attach a HWPT to it (`iommufd_device_pasid_assign`).
pub const IOMMU_TEST_OP_RS_PASID_ASSIGN: u32 = 0x10001;
/// `IOMMU_TEST_OP_RS_DEV_PASID_ATTACH` (iommufd-rs only): `PASID_ATTACH` on any bound device,
/// named by its iommufd device object (a VFIO device too), through the kAPI.
pub const IOMMU_TEST_OP_RS_DEV_PASID_ATTACH: u32 = 0x10002;
/// `IOMMU_TEST_OP_RS_DEV_PASID_DETACH` (iommufd-rs only): its `PASID_DETACH`.
pub const IOMMU_TEST_OP_RS_DEV_PASID_DETACH: u32 = 0x10003;
/// `IOMMU_TEST_OP_RS_FLOOR_PIN_MAP` (iommufd-rs only, for the benchmark's floor): pin user
/// pages and map them into a mock domain directly, then unmap and unpin, with no iommufd
/// bookkeeping (the `check_map` member).
pub const IOMMU_TEST_OP_RS_FLOOR_PIN_MAP: u32 = 0x10004;

/// `MOCK_APERTURE_START`.
pub const MOCK_APERTURE_START: u64 = 1 << 24;
/// `MOCK_APERTURE_LAST`.
pub const MOCK_APERTURE_LAST: u64 = (1 << 31) - 1;
/// `MOCK_FLAGS_ACCESS_WRITE`.
pub const MOCK_FLAGS_ACCESS_WRITE: u32 = 1 << 0;
/// `MOCK_FLAGS_ACCESS_SYZ`: IOVAs are syzkaller `(nth_area, offset)` pairs ([`syz_layout`]).
pub const MOCK_FLAGS_ACCESS_SYZ: u32 = 1 << 16;
/// `MOCK_ACCESS_RW_WRITE`.
pub const MOCK_ACCESS_RW_WRITE: u32 = 1 << 0;
/// `MOCK_ACCESS_RW_SLOW_PATH`.
pub const MOCK_ACCESS_RW_SLOW_PATH: u32 = 1 << 2;
/// `MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES`.
pub const MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES: u32 = 1 << 0;
/// `MOCK_FLAGS_DEVICE_NO_DIRTY`.
pub const MOCK_FLAGS_DEVICE_NO_DIRTY: u32 = 1 << 0;
/// `MOCK_FLAGS_DEVICE_HUGE_IOVA`.
pub const MOCK_FLAGS_DEVICE_HUGE_IOVA: u32 = 1 << 1;
/// `MOCK_FLAGS_DEVICE_PASID` (later test uAPI): the mock device supports PASIDs.
pub const MOCK_FLAGS_DEVICE_PASID: u32 = 1 << 2;
/// Every mock device flag accepted.
pub const MOCK_FLAGS_DEVICE_VALID: u32 =
    MOCK_FLAGS_DEVICE_NO_DIRTY | MOCK_FLAGS_DEVICE_HUGE_IOVA | MOCK_FLAGS_DEVICE_PASID;
/// `MOCK_NESTED_DOMAIN_IOTLB_ID_MAX`.
pub const MOCK_NESTED_DOMAIN_IOTLB_ID_MAX: u32 = 3;
/// `MOCK_NESTED_DOMAIN_IOTLB_NUM`.
pub const MOCK_NESTED_DOMAIN_IOTLB_NUM: u32 = 4;
/// `MOCK_PASID_WIDTH` (later test uAPI): the mock device's PASID width.
pub const MOCK_PASID_WIDTH: u32 = 20;
/// `IOMMU_HW_INFO_TYPE_SELFTEST`: the mock driver's hardware info type.
pub const IOMMU_HW_INFO_TYPE_SELFTEST: u32 = 0xfeed_beef;
/// `IOMMU_HW_INFO_SELFTEST_REGVAL`.
pub const IOMMU_HW_INFO_SELFTEST_REGVAL: u32 = 0xdead_beef;
/// `IOMMU_HWPT_DATA_SELFTEST`.
pub const IOMMU_HWPT_DATA_SELFTEST: u32 = 0xdead;
/// `IOMMU_TEST_IOTLB_DEFAULT`.
pub const IOMMU_TEST_IOTLB_DEFAULT: u32 = 0xbad_beef;
/// `IOMMU_HWPT_INVALIDATE_DATA_SELFTEST`.
pub const IOMMU_HWPT_INVALIDATE_DATA_SELFTEST: u32 = 0xdead_beef;
/// `IOMMU_HWPT_INVALIDATE_DATA_SELFTEST_INVALID`.
pub const IOMMU_HWPT_INVALIDATE_DATA_SELFTEST_INVALID: u32 = 0xdad_beef;
/// `IOMMU_TEST_INVALIDATE_FLAG_ALL`.
pub const IOMMU_TEST_INVALIDATE_FLAG_ALL: u32 = 1 << 0;

/// The cap on `ACCESS_PAGES` and `ACCESS_RW` lengths, above which they answer `ENOMEM`
/// (`16*1024*1024`, C `iommufd_test_access_pages()` and `iommufd_test_access_rw()`).
pub const MOCK_ACCESS_MAX_LENGTH: u64 = 16 * 1024 * 1024;
/// The cap on the number of bits of an `IOMMU_TEST_OP_DIRTY` bitmap (`SZ_16M *
/// BITS_PER_BYTE`, C `iommufd_test_dirty()`).
pub const MOCK_DIRTY_MAX_BITS: u64 = (16 << 20) * 8;
/// The smallest `SET_TEMP_MEMORY_LIMIT` (`sizeof(unsigned long) + sizeof(u32)`,
/// C `iommufd_test()`).
pub const MOCK_MEMORY_LIMIT_MIN: u32 = (core::mem::size_of::<usize>() + 4) as u32;

/// Splits a syzkaller-mode IOVA into `(nth_area, offset)`: C reads the `u64` as `struct
/// syz_layout { __u32 nth_area; __u32 offset; }` (C `__iommufd_test_syz_conv_iova()`).
pub fn syz_layout(iova: u64) -> (u32, u32) {
    let b = iova.to_ne_bytes();
    (
        Field::<4>::new("nth_area", 0).get_u32(&b),
        Field::<4>::new("offset", 4).get_u32(&b),
    )
}

/// One `IOMMU_TEST_CMD` operation, with its member of the union.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum TestOp {
    /// `IOMMU_TEST_OP_ADD_RESERVED` (`id`: the IOAS): reserve an IOVA range.
    AddReserved {
        /// First IOVA.
        start: u64,
        /// Bytes (nonzero; `start + length - 1` does not overflow).
        length: u64,
    },
    /// `IOMMU_TEST_OP_MOCK_DOMAIN` (`id`: the IOAS or HWPT to attach to): create a mock
    /// device, bind and attach it.
    MockDomain {
        /// Output: the selftest object's id.
        out_stdev_id: u32,
        /// Output: the HWPT attached.
        out_hwpt_id: u32,
        /// Output: the bound device's id.
        out_idev_id: u32,
    },
    /// `IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS`: `MockDomain` with mock device flags.
    MockDomainFlags {
        /// Output: the selftest object's id.
        out_stdev_id: u32,
        /// Output: the HWPT attached.
        out_hwpt_id: u32,
        /// Output: the bound device's id.
        out_idev_id: u32,
        /// `MOCK_FLAGS_DEVICE_*`.
        dev_flags: u32,
    },
    /// `IOMMU_TEST_OP_MD_CHECK_MAP` (`id`: the mock HWPT): check the PFNs behind an IOVA
    /// range.
    MdCheckMap {
        /// First IOVA.
        iova: u64,
        /// Bytes.
        length: u64,
        /// The user address the range should map.
        uptr: u64,
    },
    /// `IOMMU_TEST_OP_MD_CHECK_REFS`: check the pin counts of user pages.
    MdCheckRefs {
        /// Bytes.
        length: u64,
        /// User address.
        uptr: u64,
        /// Expected pin count.
        refs: u32,
    },
    /// `IOMMU_TEST_OP_CREATE_ACCESS` (`id`: the IOAS): create an access object and its fd.
    CreateAccess {
        /// Output: the access fd.
        out_access_fd: u32,
        /// `MOCK_FLAGS_ACCESS_CREATE_*`.
        flags: u32,
    },
    /// `IOMMU_TEST_OP_DESTROY_ACCESS_PAGES` (`id`: the access fd): unpin an item.
    DestroyAccessPages {
        /// The item from `ACCESS_PAGES`.
        access_pages_id: u32,
    },
    /// `IOMMU_TEST_OP_ACCESS_PAGES` (`id`: the access fd): pin pages through the access.
    AccessPages {
        /// `MOCK_FLAGS_ACCESS_*`.
        flags: u32,
        /// Output: the item's id.
        out_access_pages_id: u32,
        /// First IOVA.
        iova: u64,
        /// Bytes.
        length: u64,
        /// User address to compare the pages with (0: no check).
        uptr: u64,
    },
    /// `IOMMU_TEST_OP_ACCESS_RW` (`id`: the access fd): read or write through the access.
    AccessRw {
        /// First IOVA.
        iova: u64,
        /// Bytes.
        length: u64,
        /// User buffer.
        uptr: u64,
        /// `MOCK_ACCESS_RW_*`, `MOCK_FLAGS_ACCESS_SYZ`.
        flags: u32,
    },
    /// `IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT`: set the batch memory limit.
    SetTempMemoryLimit {
        /// The limit, at least [`MOCK_MEMORY_LIMIT_MIN`].
        limit: u32,
    },
    /// `IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE` (`id`: the selftest device object): replace its
    /// domain.
    MockDomainReplace {
        /// Input: the new IOAS or HWPT; output: the HWPT attached.
        pt_id: u32,
    },
    /// `IOMMU_TEST_OP_ACCESS_REPLACE_IOAS` (`id`: the access fd): move the access.
    AccessReplaceIoas {
        /// The new IOAS.
        ioas_id: u32,
    },
    /// `IOMMU_TEST_OP_DIRTY` (`id`: the mock HWPT): mark IOVAs dirty from a user bitmap.
    Dirty {
        /// Unused by the pinned C code.
        flags: u32,
        /// First IOVA.
        iova: u64,
        /// Bytes.
        length: u64,
        /// IOVA bytes per bit.
        page_size: u64,
        /// User bitmap.
        uptr: u64,
        /// Output: number of IOVAs marked.
        out_nr_dirty: u64,
    },
    /// `IOMMU_TEST_OP_MD_CHECK_IOTLB` (`id`: the nested mock HWPT): check an IOTLB entry.
    MdCheckIotlb {
        /// The entry (`> MOCK_NESTED_DOMAIN_IOTLB_ID_MAX`: `EINVAL` after the lookup,
        /// C `iommufd_test_md_check_iotlb()`).
        id: u32,
        /// The expected value.
        iotlb: u32,
    },
    /// `IOMMU_TEST_OP_TRIGGER_IOPF`: report a page fault on a mock device.
    TriggerIopf {
        /// The device.
        dev_id: u32,
        /// PASID (`IOMMU_NO_PASID`, 0, for none).
        pasid: u32,
        /// Page request group.
        grpid: u32,
        /// `IOMMU_PGFAULT_PERM_*`.
        perm: u32,
        /// Fault address.
        addr: u64,
    },
    /// `IOMMU_TEST_OP_PASID_ATTACH` (`id`: the selftest device object): attach a HWPT to a
    /// PASID of its device.
    PasidAttach {
        /// The PASID (checked after the device lookup, by
        /// [`check_pasid`](super::super::pasid::check_pasid)).
        pasid: u32,
        /// Input: the HWPT; output: the HWPT attached.
        pt_id: u32,
    },
    /// `IOMMU_TEST_OP_PASID_REPLACE` (`id`: the selftest device object): move a PASID of its
    /// device to another HWPT.
    PasidReplace {
        /// The PASID.
        pasid: u32,
        /// Input: the new HWPT; output: the HWPT attached.
        pt_id: u32,
    },
    /// `IOMMU_TEST_OP_PASID_DETACH` (`id`: the selftest device object): detach a PASID of its
    /// device.
    PasidDetach {
        /// The PASID.
        pasid: u32,
    },
    /// `IOMMU_TEST_OP_PASID_CHECK_HWPT` (`id`: the selftest device object): check which HWPT
    /// a PASID of its device is attached to.
    PasidCheckHwpt {
        /// The PASID.
        pasid: u32,
        /// The expected HWPT (0: expect none).
        hwpt_id: u32,
    },
    /// `IOMMU_TEST_OP_RS_PASID_ASSIGN` (`id`: the selftest device object): allocate a PASID
    /// from the global PASID space and attach a HWPT to it.
    PasidAssign {
        /// Output: the PASID allocated.
        out_pasid: u32,
        /// The HWPT.
        pt_id: u32,
    },
    /// `IOMMU_TEST_OP_RS_DEV_PASID_ATTACH` (`id`: an iommufd device object, e.g. a VFIO
    /// device's): attach a HWPT to one PASID of it (the `pasid_attach` member).
    DevPasidAttach {
        /// The PASID.
        pasid: u32,
        /// Input: the HWPT; output: the HWPT attached.
        pt_id: u32,
    },
    /// `IOMMU_TEST_OP_RS_DEV_PASID_DETACH` (`id`: an iommufd device object): detach a PASID
    /// of it (the `pasid_detach` member).
    DevPasidDetach {
        /// The PASID.
        pasid: u32,
    },
    /// `IOMMU_TEST_OP_RS_FLOOR_PIN_MAP` (`id`: a mock paging HWPT): pin `[uptr, uptr +
    /// length)`, map it at `iova` into the HWPT's domain, unmap it and unpin (the
    /// `check_map` member).
    FloorPinMap {
        /// First IOVA.
        iova: u64,
        /// Bytes.
        length: u64,
        /// The user address.
        uptr: u64,
    },
}

/// `struct iommu_test_cmd`.
///
/// `decode` dispatches on `op` as C `iommufd_test()` does, `EOPNOTSUPP` for an unknown one
/// (its `default:` case), and makes each op's checks that precede its first lookup or side
/// effect; neither `__reserved` nor `last` is checked by C:
///
/// - `ADD_RESERVED` (C `iommufd_test_add_reserved()`): `length == 0`: `EINVAL`;
///   `start + length - 1` overflows: `EOVERFLOW`; then the IOAS lookup;
/// - `MOCK_DOMAIN`: nothing (the union's `dev_flags` is ignored, C
///   `iommufd_test_mock_domain()`);
/// - `MOCK_DOMAIN_FLAGS`: a device flag other than `NO_DIRTY`, `HUGE_IOVA` and `PASID` (the
///   last from the later uAPI): `EINVAL` (C `mock_dev_create()`). In C this comes after the
///   `iommufd_object_alloc()` of `iommufd_test_mock_domain()`, an allocation whose only
///   failures (`ENOMEM`) do not depend on the input and which is undone on error; it is
///   hoisted here;
/// - `MD_CHECK_MAP` (C `iommufd_test_md_check_pa()`): `iova`, `length` or `uptr` not a
///   multiple of `MOCK_IO_PAGE_SIZE` (`PAGE_SIZE / 2`), or `uptr + length` overflows:
///   `EINVAL`; then the HWPT lookup;
/// - `MD_CHECK_REFS` (C `iommufd_test_md_check_refs()`): `length` or `uptr` not a multiple of
///   `PAGE_SIZE`, or `uptr + length` overflows: `EINVAL`; no lookup follows, only page
///   pinning;
/// - `CREATE_ACCESS`: a flag other than `NEEDS_PIN_PAGES`: `EOPNOTSUPP` (C
///   `iommufd_test_create_access()`);
/// - `ACCESS_PAGES` (C `iommufd_test_access_pages()`): `length > 16 MiB`: `ENOMEM`; a flag
///   other than `ACCESS_WRITE` and `ACCESS_SYZ`: `EOPNOTSUPP`; then the access fd lookup;
/// - `ACCESS_RW` (C `iommufd_test_access_rw()`): `length > 16 MiB`: `ENOMEM`; a flag other
///   than `RW_WRITE`, `RW_SLOW_PATH` and `ACCESS_SYZ`: `EOPNOTSUPP`;
/// - `SET_TEMP_MEMORY_LIMIT`: `limit < sizeof(unsigned long) + sizeof(u32)`: `EINVAL` (in
///   C `iommufd_test()` itself);
/// - `DIRTY` (C `iommufd_test_dirty()`): `page_size == 0`, `length == 0`, `iova` or `length`
///   not a multiple of `page_size`, or `uptr == 0`: `EINVAL`; more than
///   `SZ_16M * BITS_PER_BYTE` pages: `EOVERFLOW`; then the HWPT lookup;
/// - `MOCK_DOMAIN_REPLACE`, `ACCESS_REPLACE_IOAS`, `DESTROY_ACCESS_PAGES`, `MD_CHECK_IOTLB`,
///   `TRIGGER_IOPF`: nothing before their lookup (C `iommufd_test_mock_domain_replace()`,
///   `iommufd_test_access_replace_ioas()`, `iommufd_test_access_item_destroy()`,
///   `iommufd_test_md_check_iotlb()`, `iommufd_test_trigger_iopf()`);
/// - `PASID_ATTACH`, `PASID_REPLACE`, `PASID_DETACH`, `PASID_CHECK_HWPT` (later uAPI,
///   `iommufd_test_pasid_attach()` and its siblings) and `RS_PASID_ASSIGN`: nothing before the
///   selftest device lookup; the PASID is checked after it, against that device
///   ([`check_pasid`](super::super::pasid::check_pasid)), so that a bad `id` is `ENOENT`
///   whatever the PASID, as upstream.
///
/// `DEV_CHECK_CACHE` and `TRIGGER_VEVENT` of the later uAPI are only reserved numbers here:
/// `EOPNOTSUPP`, as any unknown op.
///
/// Responses (`iommufd_ucmd_respond(ucmd, sizeof(*cmd))`): `MOCK_DOMAIN(_FLAGS)` the three ids
/// (C `iommufd_test_mock_domain()`), `MOCK_DOMAIN_REPLACE` `pt_id` (C
/// `iommufd_test_mock_domain_replace()`), `CREATE_ACCESS` `out_access_fd` (C
/// `iommufd_test_create_access()`), `ACCESS_PAGES` `out_access_pages_id` (C
/// `iommufd_test_access_pages()`), `DIRTY` `out_nr_dirty` (C `iommufd_test_dirty()`);
/// `PASID_ATTACH` and `PASID_REPLACE` `pt_id` (the HWPT attached, as `iommufd_device_attach()`
/// writes it back), `RS_PASID_ASSIGN` `out_pasid`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct TestCmd {
    /// The object the op applies to (an IOAS, HWPT, device object or access fd, by op).
    pub id: u32,
    /// The op and its arguments.
    pub op: TestOp,
}

/// The union's offset in `struct iommu_test_cmd`.
const U: usize = 16;

impl TestCmd {
    /// `op`.
    pub const OP: Field<4> = Field::new("op", 4);
    /// `id`.
    pub const ID: Field<4> = Field::new("id", 8);
    /// `__reserved` (not checked).
    pub const RESERVED: Field<4> = Field::new("__reserved", 12);
    /// `add_reserved.start`.
    pub const ADD_RESERVED_START: Field<8> = Field::new("add_reserved.start", U);
    /// `add_reserved.length`.
    pub const ADD_RESERVED_LENGTH: Field<8> = Field::new("add_reserved.length", U + 8);
    /// `mock_domain.out_stdev_id`.
    pub const MOCK_DOMAIN_OUT_STDEV_ID: Field<4> = Field::new("mock_domain.out_stdev_id", U);
    /// `mock_domain.out_hwpt_id`.
    pub const MOCK_DOMAIN_OUT_HWPT_ID: Field<4> = Field::new("mock_domain.out_hwpt_id", U + 4);
    /// `mock_domain.out_idev_id`.
    pub const MOCK_DOMAIN_OUT_IDEV_ID: Field<4> = Field::new("mock_domain.out_idev_id", U + 8);
    /// `mock_domain_flags.out_stdev_id`.
    pub const MOCK_DOMAIN_FLAGS_OUT_STDEV_ID: Field<4> =
        Field::new("mock_domain_flags.out_stdev_id", U);
    /// `mock_domain_flags.out_hwpt_id`.
    pub const MOCK_DOMAIN_FLAGS_OUT_HWPT_ID: Field<4> =
        Field::new("mock_domain_flags.out_hwpt_id", U + 4);
    /// `mock_domain_flags.out_idev_id`.
    pub const MOCK_DOMAIN_FLAGS_OUT_IDEV_ID: Field<4> =
        Field::new("mock_domain_flags.out_idev_id", U + 8);
    /// `mock_domain_flags.dev_flags`.
    pub const MOCK_DOMAIN_FLAGS_DEV_FLAGS: Field<4> =
        Field::new("mock_domain_flags.dev_flags", U + 12);
    /// `mock_domain_replace.pt_id`.
    pub const MOCK_DOMAIN_REPLACE_PT_ID: Field<4> = Field::new("mock_domain_replace.pt_id", U);
    /// `check_map.iova`.
    pub const CHECK_MAP_IOVA: Field<8> = Field::new("check_map.iova", U);
    /// `check_map.length`.
    pub const CHECK_MAP_LENGTH: Field<8> = Field::new("check_map.length", U + 8);
    /// `check_map.uptr`.
    pub const CHECK_MAP_UPTR: Field<8> = Field::new("check_map.uptr", U + 16);
    /// `check_refs.length`.
    pub const CHECK_REFS_LENGTH: Field<8> = Field::new("check_refs.length", U);
    /// `check_refs.uptr`.
    pub const CHECK_REFS_UPTR: Field<8> = Field::new("check_refs.uptr", U + 8);
    /// `check_refs.refs`.
    pub const CHECK_REFS_REFS: Field<4> = Field::new("check_refs.refs", U + 16);
    /// `create_access.out_access_fd`.
    pub const CREATE_ACCESS_OUT_ACCESS_FD: Field<4> = Field::new("create_access.out_access_fd", U);
    /// `create_access.flags`.
    pub const CREATE_ACCESS_FLAGS: Field<4> = Field::new("create_access.flags", U + 4);
    /// `destroy_access_pages.access_pages_id`.
    pub const DESTROY_ACCESS_PAGES_ACCESS_PAGES_ID: Field<4> =
        Field::new("destroy_access_pages.access_pages_id", U);
    /// `access_pages.flags`.
    pub const ACCESS_PAGES_FLAGS: Field<4> = Field::new("access_pages.flags", U);
    /// `access_pages.out_access_pages_id`.
    pub const ACCESS_PAGES_OUT_ACCESS_PAGES_ID: Field<4> =
        Field::new("access_pages.out_access_pages_id", U + 4);
    /// `access_pages.iova`.
    pub const ACCESS_PAGES_IOVA: Field<8> = Field::new("access_pages.iova", U + 8);
    /// `access_pages.length`.
    pub const ACCESS_PAGES_LENGTH: Field<8> = Field::new("access_pages.length", U + 16);
    /// `access_pages.uptr`.
    pub const ACCESS_PAGES_UPTR: Field<8> = Field::new("access_pages.uptr", U + 24);
    /// `access_rw.iova`.
    pub const ACCESS_RW_IOVA: Field<8> = Field::new("access_rw.iova", U);
    /// `access_rw.length`.
    pub const ACCESS_RW_LENGTH: Field<8> = Field::new("access_rw.length", U + 8);
    /// `access_rw.uptr`.
    pub const ACCESS_RW_UPTR: Field<8> = Field::new("access_rw.uptr", U + 16);
    /// `access_rw.flags`.
    pub const ACCESS_RW_FLAGS: Field<4> = Field::new("access_rw.flags", U + 24);
    /// `memory_limit.limit`.
    pub const MEMORY_LIMIT_LIMIT: Field<4> = Field::new("memory_limit.limit", U);
    /// `access_replace_ioas.ioas_id`.
    pub const ACCESS_REPLACE_IOAS_IOAS_ID: Field<4> = Field::new("access_replace_ioas.ioas_id", U);
    /// `dirty.flags`.
    pub const DIRTY_FLAGS: Field<4> = Field::new("dirty.flags", U);
    /// `dirty.iova`.
    pub const DIRTY_IOVA: Field<8> = Field::new("dirty.iova", U + 8);
    /// `dirty.length`.
    pub const DIRTY_LENGTH: Field<8> = Field::new("dirty.length", U + 16);
    /// `dirty.page_size`.
    pub const DIRTY_PAGE_SIZE: Field<8> = Field::new("dirty.page_size", U + 24);
    /// `dirty.uptr`.
    pub const DIRTY_UPTR: Field<8> = Field::new("dirty.uptr", U + 32);
    /// `dirty.out_nr_dirty`.
    pub const DIRTY_OUT_NR_DIRTY: Field<8> = Field::new("dirty.out_nr_dirty", U + 40);
    /// `check_iotlb.id`.
    pub const CHECK_IOTLB_ID: Field<4> = Field::new("check_iotlb.id", U);
    /// `check_iotlb.iotlb`.
    pub const CHECK_IOTLB_IOTLB: Field<4> = Field::new("check_iotlb.iotlb", U + 4);
    /// `trigger_iopf.dev_id`.
    pub const TRIGGER_IOPF_DEV_ID: Field<4> = Field::new("trigger_iopf.dev_id", U);
    /// `trigger_iopf.pasid`.
    pub const TRIGGER_IOPF_PASID: Field<4> = Field::new("trigger_iopf.pasid", U + 4);
    /// `trigger_iopf.grpid`.
    pub const TRIGGER_IOPF_GRPID: Field<4> = Field::new("trigger_iopf.grpid", U + 8);
    /// `trigger_iopf.perm`.
    pub const TRIGGER_IOPF_PERM: Field<4> = Field::new("trigger_iopf.perm", U + 12);
    /// `trigger_iopf.addr`.
    pub const TRIGGER_IOPF_ADDR: Field<8> = Field::new("trigger_iopf.addr", U + 16);
    /// `pasid_attach.pasid`.
    pub const PASID_ATTACH_PASID: Field<4> = Field::new("pasid_attach.pasid", U);
    /// `pasid_attach.pt_id`.
    pub const PASID_ATTACH_PT_ID: Field<4> = Field::new("pasid_attach.pt_id", U + 4);
    /// `pasid_replace.pasid`.
    pub const PASID_REPLACE_PASID: Field<4> = Field::new("pasid_replace.pasid", U);
    /// `pasid_replace.pt_id`.
    pub const PASID_REPLACE_PT_ID: Field<4> = Field::new("pasid_replace.pt_id", U + 4);
    /// `pasid_detach.pasid`.
    pub const PASID_DETACH_PASID: Field<4> = Field::new("pasid_detach.pasid", U);
    /// `pasid_check.pasid`.
    pub const PASID_CHECK_PASID: Field<4> = Field::new("pasid_check.pasid", U);
    /// `pasid_check.hwpt_id`.
    pub const PASID_CHECK_HWPT_ID: Field<4> = Field::new("pasid_check.hwpt_id", U + 4);
    /// `pasid_assign.out_pasid`.
    pub const PASID_ASSIGN_OUT_PASID: Field<4> = Field::new("pasid_assign.out_pasid", U);
    /// `pasid_assign.pt_id`.
    pub const PASID_ASSIGN_PT_ID: Field<4> = Field::new("pasid_assign.pt_id", U + 4);
    /// `last` (not checked).
    pub const LAST: Field<4> = Field::new("last", 64);

    const FIELDS: [FieldDesc; 57] = [
        SIZE_FIELD.desc(),
        Self::OP.desc(),
        Self::ID.desc(),
        Self::RESERVED.desc(),
        Self::ADD_RESERVED_START.desc(),
        Self::ADD_RESERVED_LENGTH.desc(),
        Self::MOCK_DOMAIN_OUT_STDEV_ID.desc(),
        Self::MOCK_DOMAIN_OUT_HWPT_ID.desc(),
        Self::MOCK_DOMAIN_OUT_IDEV_ID.desc(),
        Self::MOCK_DOMAIN_FLAGS_OUT_STDEV_ID.desc(),
        Self::MOCK_DOMAIN_FLAGS_OUT_HWPT_ID.desc(),
        Self::MOCK_DOMAIN_FLAGS_OUT_IDEV_ID.desc(),
        Self::MOCK_DOMAIN_FLAGS_DEV_FLAGS.desc(),
        Self::MOCK_DOMAIN_REPLACE_PT_ID.desc(),
        Self::CHECK_MAP_IOVA.desc(),
        Self::CHECK_MAP_LENGTH.desc(),
        Self::CHECK_MAP_UPTR.desc(),
        Self::CHECK_REFS_LENGTH.desc(),
        Self::CHECK_REFS_UPTR.desc(),
        Self::CHECK_REFS_REFS.desc(),
        Self::CREATE_ACCESS_OUT_ACCESS_FD.desc(),
        Self::CREATE_ACCESS_FLAGS.desc(),
        Self::DESTROY_ACCESS_PAGES_ACCESS_PAGES_ID.desc(),
        Self::ACCESS_PAGES_FLAGS.desc(),
        Self::ACCESS_PAGES_OUT_ACCESS_PAGES_ID.desc(),
        Self::ACCESS_PAGES_IOVA.desc(),
        Self::ACCESS_PAGES_LENGTH.desc(),
        Self::ACCESS_PAGES_UPTR.desc(),
        Self::ACCESS_RW_IOVA.desc(),
        Self::ACCESS_RW_LENGTH.desc(),
        Self::ACCESS_RW_UPTR.desc(),
        Self::ACCESS_RW_FLAGS.desc(),
        Self::MEMORY_LIMIT_LIMIT.desc(),
        Self::ACCESS_REPLACE_IOAS_IOAS_ID.desc(),
        Self::DIRTY_FLAGS.desc(),
        Self::DIRTY_IOVA.desc(),
        Self::DIRTY_LENGTH.desc(),
        Self::DIRTY_PAGE_SIZE.desc(),
        Self::DIRTY_UPTR.desc(),
        Self::DIRTY_OUT_NR_DIRTY.desc(),
        Self::CHECK_IOTLB_ID.desc(),
        Self::CHECK_IOTLB_IOTLB.desc(),
        Self::TRIGGER_IOPF_DEV_ID.desc(),
        Self::TRIGGER_IOPF_PASID.desc(),
        Self::TRIGGER_IOPF_GRPID.desc(),
        Self::TRIGGER_IOPF_PERM.desc(),
        Self::TRIGGER_IOPF_ADDR.desc(),
        Self::PASID_ATTACH_PASID.desc(),
        Self::PASID_ATTACH_PT_ID.desc(),
        Self::PASID_REPLACE_PASID.desc(),
        Self::PASID_REPLACE_PT_ID.desc(),
        Self::PASID_DETACH_PASID.desc(),
        Self::PASID_CHECK_PASID.desc(),
        Self::PASID_CHECK_HWPT_ID.desc(),
        Self::PASID_ASSIGN_OUT_PASID.desc(),
        Self::PASID_ASSIGN_PT_ID.desc(),
        Self::LAST.desc(),
    ];

    /// The struct's layout (union members named `member.field`).
    pub const LAYOUT: Layout = Layout {
        c_struct: "iommu_test_cmd",
        size: 72,
        fields: &Self::FIELDS,
    };

    /// Decodes and checks the command with `PAGE_SIZE` = [`DEFAULT_PAGE_SIZE`].
    pub fn decode(buf: &[u8]) -> Result<Self> {
        Self::decode_with_page_size(buf, DEFAULT_PAGE_SIZE)
    }

    /// Decodes and checks the command (see the type's documentation); `page_size` is the
    /// kernel's `PAGE_SIZE` (used by `MD_CHECK_MAP` and `MD_CHECK_REFS`).
    pub fn decode_with_page_size(buf: &[u8], page_size: u64) -> Result<Self> {
        let id = Self::ID.get_u32(buf);
        let op = match Self::OP.get_u32(buf) {
            IOMMU_TEST_OP_ADD_RESERVED => {
                let start = Self::ADD_RESERVED_START.get_u64(buf);
                let length = Self::ADD_RESERVED_LENGTH.get_u64(buf);
                // First check of C `iommufd_test_add_reserved()`.
                if length == 0 {
                    return Err(Errno::EINVAL);
                }
                // Second check of C `iommufd_test_add_reserved()`.
                if start.checked_add(length - 1).is_none() {
                    return Err(Errno::EOVERFLOW);
                }
                TestOp::AddReserved { start, length }
            }
            IOMMU_TEST_OP_MOCK_DOMAIN => TestOp::MockDomain {
                out_stdev_id: 0,
                out_hwpt_id: 0,
                out_idev_id: 0,
            },
            IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS => {
                let dev_flags = Self::MOCK_DOMAIN_FLAGS_DEV_FLAGS.get_u32(buf);
                // C `mock_dev_create()` (hoisted above the `iommufd_object_alloc()` of
                // `iommufd_test_mock_domain()`; PASID from the later uAPI)
                if dev_flags & !MOCK_FLAGS_DEVICE_VALID != 0 {
                    return Err(Errno::EINVAL);
                }
                TestOp::MockDomainFlags {
                    out_stdev_id: 0,
                    out_hwpt_id: 0,
                    out_idev_id: 0,
                    dev_flags,
                }
            }
            IOMMU_TEST_OP_MD_CHECK_MAP => {
                let iova = Self::CHECK_MAP_IOVA.get_u64(buf);
                let length = Self::CHECK_MAP_LENGTH.get_u64(buf);
                let uptr = Self::CHECK_MAP_UPTR.get_u64(buf);
                let mock_io_page_size = page_size / 2;
                // First check of C `iommufd_test_md_check_pa()`.
                if misaligned(iova, mock_io_page_size)
                    || misaligned(length, mock_io_page_size)
                    || misaligned(uptr, mock_io_page_size)
                    || uptr.checked_add(length).is_none()
                {
                    return Err(Errno::EINVAL);
                }
                TestOp::MdCheckMap { iova, length, uptr }
            }
            IOMMU_TEST_OP_MD_CHECK_REFS => {
                let length = Self::CHECK_REFS_LENGTH.get_u64(buf);
                let uptr = Self::CHECK_REFS_UPTR.get_u64(buf);
                // First check of C `iommufd_test_md_check_refs()`.
                if misaligned(length, page_size)
                    || misaligned(uptr, page_size)
                    || uptr.checked_add(length).is_none()
                {
                    return Err(Errno::EINVAL);
                }
                TestOp::MdCheckRefs {
                    length,
                    uptr,
                    refs: Self::CHECK_REFS_REFS.get_u32(buf),
                }
            }
            IOMMU_TEST_OP_CREATE_ACCESS => {
                let flags = Self::CREATE_ACCESS_FLAGS.get_u32(buf);
                // First check of C `iommufd_test_create_access()`.
                if flags & !MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES != 0 {
                    return Err(Errno::EOPNOTSUPP);
                }
                TestOp::CreateAccess {
                    out_access_fd: 0,
                    flags,
                }
            }
            IOMMU_TEST_OP_DESTROY_ACCESS_PAGES => TestOp::DestroyAccessPages {
                access_pages_id: Self::DESTROY_ACCESS_PAGES_ACCESS_PAGES_ID.get_u32(buf),
            },
            IOMMU_TEST_OP_ACCESS_PAGES => {
                let length = Self::ACCESS_PAGES_LENGTH.get_u64(buf);
                let flags = Self::ACCESS_PAGES_FLAGS.get_u32(buf);
                // First check of C `iommufd_test_access_pages()`.
                if length > MOCK_ACCESS_MAX_LENGTH {
                    return Err(Errno::ENOMEM);
                }
                // Second check of C `iommufd_test_access_pages()`.
                if flags & !(MOCK_FLAGS_ACCESS_WRITE | MOCK_FLAGS_ACCESS_SYZ) != 0 {
                    return Err(Errno::EOPNOTSUPP);
                }
                TestOp::AccessPages {
                    flags,
                    out_access_pages_id: 0,
                    iova: Self::ACCESS_PAGES_IOVA.get_u64(buf),
                    length,
                    uptr: Self::ACCESS_PAGES_UPTR.get_u64(buf),
                }
            }
            IOMMU_TEST_OP_ACCESS_RW => {
                let length = Self::ACCESS_RW_LENGTH.get_u64(buf);
                let flags = Self::ACCESS_RW_FLAGS.get_u32(buf);
                // First check of C `iommufd_test_access_rw()`.
                if length > MOCK_ACCESS_MAX_LENGTH {
                    return Err(Errno::ENOMEM);
                }
                // Second check of C `iommufd_test_access_rw()`.
                if flags
                    & !(MOCK_ACCESS_RW_WRITE | MOCK_ACCESS_RW_SLOW_PATH | MOCK_FLAGS_ACCESS_SYZ)
                    != 0
                {
                    return Err(Errno::EOPNOTSUPP);
                }
                TestOp::AccessRw {
                    iova: Self::ACCESS_RW_IOVA.get_u64(buf),
                    length,
                    uptr: Self::ACCESS_RW_UPTR.get_u64(buf),
                    flags,
                }
            }
            IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT => {
                let limit = Self::MEMORY_LIMIT_LIMIT.get_u32(buf);
                // The `SET_TEMP_MEMORY_LIMIT` case of C `iommufd_test()`.
                if limit < MOCK_MEMORY_LIMIT_MIN {
                    return Err(Errno::EINVAL);
                }
                TestOp::SetTempMemoryLimit { limit }
            }
            IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE => TestOp::MockDomainReplace {
                pt_id: Self::MOCK_DOMAIN_REPLACE_PT_ID.get_u32(buf),
            },
            IOMMU_TEST_OP_ACCESS_REPLACE_IOAS => TestOp::AccessReplaceIoas {
                ioas_id: Self::ACCESS_REPLACE_IOAS_IOAS_ID.get_u32(buf),
            },
            IOMMU_TEST_OP_DIRTY => {
                let iova = Self::DIRTY_IOVA.get_u64(buf);
                let length = Self::DIRTY_LENGTH.get_u64(buf);
                let dirty_page_size = Self::DIRTY_PAGE_SIZE.get_u64(buf);
                let uptr = Self::DIRTY_UPTR.get_u64(buf);
                // First check of C `iommufd_test_dirty()` (`page_size == 0` first, so the
                // remainders are defined)
                if dirty_page_size == 0
                    || length == 0
                    || misaligned(iova, dirty_page_size)
                    || misaligned(length, dirty_page_size)
                    || uptr == 0
                {
                    return Err(Errno::EINVAL);
                }
                // Second check of C `iommufd_test_dirty()`.
                if length / dirty_page_size > MOCK_DIRTY_MAX_BITS {
                    return Err(Errno::EOVERFLOW);
                }
                TestOp::Dirty {
                    flags: Self::DIRTY_FLAGS.get_u32(buf),
                    iova,
                    length,
                    page_size: dirty_page_size,
                    uptr,
                    out_nr_dirty: 0,
                }
            }
            IOMMU_TEST_OP_MD_CHECK_IOTLB => TestOp::MdCheckIotlb {
                id: Self::CHECK_IOTLB_ID.get_u32(buf),
                iotlb: Self::CHECK_IOTLB_IOTLB.get_u32(buf),
            },
            IOMMU_TEST_OP_TRIGGER_IOPF => TestOp::TriggerIopf {
                dev_id: Self::TRIGGER_IOPF_DEV_ID.get_u32(buf),
                pasid: Self::TRIGGER_IOPF_PASID.get_u32(buf),
                grpid: Self::TRIGGER_IOPF_GRPID.get_u32(buf),
                perm: Self::TRIGGER_IOPF_PERM.get_u32(buf),
                addr: Self::TRIGGER_IOPF_ADDR.get_u64(buf),
            },
            // The PASID ops check nothing before the device lookup: a PASID is only valid or
            // not for a given device (`check_pasid`).
            IOMMU_TEST_OP_PASID_ATTACH => TestOp::PasidAttach {
                pasid: Self::PASID_ATTACH_PASID.get_u32(buf),
                pt_id: Self::PASID_ATTACH_PT_ID.get_u32(buf),
            },
            IOMMU_TEST_OP_PASID_REPLACE => TestOp::PasidReplace {
                pasid: Self::PASID_REPLACE_PASID.get_u32(buf),
                pt_id: Self::PASID_REPLACE_PT_ID.get_u32(buf),
            },
            IOMMU_TEST_OP_PASID_DETACH => TestOp::PasidDetach {
                pasid: Self::PASID_DETACH_PASID.get_u32(buf),
            },
            IOMMU_TEST_OP_PASID_CHECK_HWPT => TestOp::PasidCheckHwpt {
                pasid: Self::PASID_CHECK_PASID.get_u32(buf),
                hwpt_id: Self::PASID_CHECK_HWPT_ID.get_u32(buf),
            },
            IOMMU_TEST_OP_RS_PASID_ASSIGN => TestOp::PasidAssign {
                out_pasid: 0,
                pt_id: Self::PASID_ASSIGN_PT_ID.get_u32(buf),
            },
            IOMMU_TEST_OP_RS_DEV_PASID_ATTACH => TestOp::DevPasidAttach {
                pasid: Self::PASID_ATTACH_PASID.get_u32(buf),
                pt_id: Self::PASID_ATTACH_PT_ID.get_u32(buf),
            },
            IOMMU_TEST_OP_RS_DEV_PASID_DETACH => TestOp::DevPasidDetach {
                pasid: Self::PASID_DETACH_PASID.get_u32(buf),
            },
            IOMMU_TEST_OP_RS_FLOOR_PIN_MAP => {
                let iova = Self::CHECK_MAP_IOVA.get_u64(buf);
                let length = Self::CHECK_MAP_LENGTH.get_u64(buf);
                let uptr = Self::CHECK_MAP_UPTR.get_u64(buf);
                if length == 0
                    || misaligned(iova, page_size)
                    || misaligned(length, page_size)
                    || misaligned(uptr, page_size)
                    || uptr.checked_add(length).is_none()
                    || iova.checked_add(length).is_none()
                {
                    return Err(Errno::EINVAL);
                }
                TestOp::FloorPinMap { iova, length, uptr }
            }
            // The `default:` case of C `iommufd_test()` (`DEV_CHECK_CACHE` and
            // `TRIGGER_VEVENT` too)
            _ => return Err(Errno::EOPNOTSUPP),
        };
        Ok(Self { id, op })
    }

    /// The raw `IOMMU_TEST_OP_*` value of the op.
    pub fn op_raw(&self) -> u32 {
        match self.op {
            TestOp::AddReserved { .. } => IOMMU_TEST_OP_ADD_RESERVED,
            TestOp::MockDomain { .. } => IOMMU_TEST_OP_MOCK_DOMAIN,
            TestOp::MockDomainFlags { .. } => IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS,
            TestOp::MdCheckMap { .. } => IOMMU_TEST_OP_MD_CHECK_MAP,
            TestOp::MdCheckRefs { .. } => IOMMU_TEST_OP_MD_CHECK_REFS,
            TestOp::CreateAccess { .. } => IOMMU_TEST_OP_CREATE_ACCESS,
            TestOp::DestroyAccessPages { .. } => IOMMU_TEST_OP_DESTROY_ACCESS_PAGES,
            TestOp::AccessPages { .. } => IOMMU_TEST_OP_ACCESS_PAGES,
            TestOp::AccessRw { .. } => IOMMU_TEST_OP_ACCESS_RW,
            TestOp::SetTempMemoryLimit { .. } => IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT,
            TestOp::MockDomainReplace { .. } => IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE,
            TestOp::AccessReplaceIoas { .. } => IOMMU_TEST_OP_ACCESS_REPLACE_IOAS,
            TestOp::Dirty { .. } => IOMMU_TEST_OP_DIRTY,
            TestOp::MdCheckIotlb { .. } => IOMMU_TEST_OP_MD_CHECK_IOTLB,
            TestOp::TriggerIopf { .. } => IOMMU_TEST_OP_TRIGGER_IOPF,
            TestOp::PasidAttach { .. } => IOMMU_TEST_OP_PASID_ATTACH,
            TestOp::PasidReplace { .. } => IOMMU_TEST_OP_PASID_REPLACE,
            TestOp::PasidDetach { .. } => IOMMU_TEST_OP_PASID_DETACH,
            TestOp::PasidCheckHwpt { .. } => IOMMU_TEST_OP_PASID_CHECK_HWPT,
            TestOp::PasidAssign { .. } => IOMMU_TEST_OP_RS_PASID_ASSIGN,
            TestOp::DevPasidAttach { .. } => IOMMU_TEST_OP_RS_DEV_PASID_ATTACH,
            TestOp::DevPasidDetach { .. } => IOMMU_TEST_OP_RS_DEV_PASID_DETACH,
            TestOp::FloorPinMap { .. } => IOMMU_TEST_OP_RS_FLOOR_PIN_MAP,
        }
    }

    /// The mock device flags a `MOCK_DOMAIN` op creates its device with (0 for plain
    /// `MOCK_DOMAIN`, C `iommufd_test_mock_domain()`); `None` for the other ops.
    pub fn mock_dev_flags(&self) -> Option<u32> {
        match self.op {
            TestOp::MockDomain { .. } => Some(0),
            TestOp::MockDomainFlags { dev_flags, .. } => Some(dev_flags),
            _ => None,
        }
    }

    /// Writes `size`, `op`, `id` and the op's input fields.
    pub fn encode(&self, buf: &mut [u8]) {
        SIZE_FIELD.put_u32(buf, Self::LAYOUT.size as u32);
        Self::OP.put_u32(buf, self.op_raw());
        Self::ID.put_u32(buf, self.id);
        match self.op {
            TestOp::AddReserved { start, length } => {
                Self::ADD_RESERVED_START.put_u64(buf, start);
                Self::ADD_RESERVED_LENGTH.put_u64(buf, length);
            }
            TestOp::MockDomain { .. } => {}
            TestOp::MockDomainFlags { dev_flags, .. } => {
                Self::MOCK_DOMAIN_FLAGS_DEV_FLAGS.put_u32(buf, dev_flags);
            }
            TestOp::MdCheckMap { iova, length, uptr }
            | TestOp::FloorPinMap { iova, length, uptr } => {
                Self::CHECK_MAP_IOVA.put_u64(buf, iova);
                Self::CHECK_MAP_LENGTH.put_u64(buf, length);
                Self::CHECK_MAP_UPTR.put_u64(buf, uptr);
            }
            TestOp::MdCheckRefs { length, uptr, refs } => {
                Self::CHECK_REFS_LENGTH.put_u64(buf, length);
                Self::CHECK_REFS_UPTR.put_u64(buf, uptr);
                Self::CHECK_REFS_REFS.put_u32(buf, refs);
            }
            TestOp::CreateAccess { flags, .. } => {
                Self::CREATE_ACCESS_FLAGS.put_u32(buf, flags);
            }
            TestOp::DestroyAccessPages { access_pages_id } => {
                Self::DESTROY_ACCESS_PAGES_ACCESS_PAGES_ID.put_u32(buf, access_pages_id);
            }
            TestOp::AccessPages {
                flags,
                iova,
                length,
                uptr,
                ..
            } => {
                Self::ACCESS_PAGES_FLAGS.put_u32(buf, flags);
                Self::ACCESS_PAGES_IOVA.put_u64(buf, iova);
                Self::ACCESS_PAGES_LENGTH.put_u64(buf, length);
                Self::ACCESS_PAGES_UPTR.put_u64(buf, uptr);
            }
            TestOp::AccessRw {
                iova,
                length,
                uptr,
                flags,
            } => {
                Self::ACCESS_RW_IOVA.put_u64(buf, iova);
                Self::ACCESS_RW_LENGTH.put_u64(buf, length);
                Self::ACCESS_RW_UPTR.put_u64(buf, uptr);
                Self::ACCESS_RW_FLAGS.put_u32(buf, flags);
            }
            TestOp::SetTempMemoryLimit { limit } => {
                Self::MEMORY_LIMIT_LIMIT.put_u32(buf, limit);
            }
            TestOp::MockDomainReplace { pt_id } => {
                Self::MOCK_DOMAIN_REPLACE_PT_ID.put_u32(buf, pt_id);
            }
            TestOp::AccessReplaceIoas { ioas_id } => {
                Self::ACCESS_REPLACE_IOAS_IOAS_ID.put_u32(buf, ioas_id);
            }
            TestOp::Dirty {
                flags,
                iova,
                length,
                page_size,
                uptr,
                ..
            } => {
                Self::DIRTY_FLAGS.put_u32(buf, flags);
                Self::DIRTY_IOVA.put_u64(buf, iova);
                Self::DIRTY_LENGTH.put_u64(buf, length);
                Self::DIRTY_PAGE_SIZE.put_u64(buf, page_size);
                Self::DIRTY_UPTR.put_u64(buf, uptr);
            }
            TestOp::MdCheckIotlb { id, iotlb } => {
                Self::CHECK_IOTLB_ID.put_u32(buf, id);
                Self::CHECK_IOTLB_IOTLB.put_u32(buf, iotlb);
            }
            TestOp::TriggerIopf {
                dev_id,
                pasid,
                grpid,
                perm,
                addr,
            } => {
                Self::TRIGGER_IOPF_DEV_ID.put_u32(buf, dev_id);
                Self::TRIGGER_IOPF_PASID.put_u32(buf, pasid);
                Self::TRIGGER_IOPF_GRPID.put_u32(buf, grpid);
                Self::TRIGGER_IOPF_PERM.put_u32(buf, perm);
                Self::TRIGGER_IOPF_ADDR.put_u64(buf, addr);
            }
            TestOp::PasidAttach { pasid, pt_id } | TestOp::DevPasidAttach { pasid, pt_id } => {
                Self::PASID_ATTACH_PASID.put_u32(buf, pasid);
                Self::PASID_ATTACH_PT_ID.put_u32(buf, pt_id);
            }
            TestOp::PasidReplace { pasid, pt_id } => {
                Self::PASID_REPLACE_PASID.put_u32(buf, pasid);
                Self::PASID_REPLACE_PT_ID.put_u32(buf, pt_id);
            }
            TestOp::PasidDetach { pasid } | TestOp::DevPasidDetach { pasid } => {
                Self::PASID_DETACH_PASID.put_u32(buf, pasid);
            }
            TestOp::PasidCheckHwpt { pasid, hwpt_id } => {
                Self::PASID_CHECK_PASID.put_u32(buf, pasid);
                Self::PASID_CHECK_HWPT_ID.put_u32(buf, hwpt_id);
            }
            TestOp::PasidAssign { pt_id, .. } => {
                Self::PASID_ASSIGN_PT_ID.put_u32(buf, pt_id);
            }
        }
    }

    /// Writes the op's output fields (see the type's documentation); nothing for the ops
    /// without a response.
    pub fn encode_response(&self, buf: &mut [u8]) {
        match self.op {
            TestOp::MockDomain {
                out_stdev_id,
                out_hwpt_id,
                out_idev_id,
            } => {
                Self::MOCK_DOMAIN_OUT_HWPT_ID.put_u32(buf, out_hwpt_id);
                Self::MOCK_DOMAIN_OUT_STDEV_ID.put_u32(buf, out_stdev_id);
                Self::MOCK_DOMAIN_OUT_IDEV_ID.put_u32(buf, out_idev_id);
            }
            TestOp::MockDomainFlags {
                out_stdev_id,
                out_hwpt_id,
                out_idev_id,
                ..
            } => {
                // C writes through `mock_domain`, whose ids share these offsets.
                Self::MOCK_DOMAIN_FLAGS_OUT_HWPT_ID.put_u32(buf, out_hwpt_id);
                Self::MOCK_DOMAIN_FLAGS_OUT_STDEV_ID.put_u32(buf, out_stdev_id);
                Self::MOCK_DOMAIN_FLAGS_OUT_IDEV_ID.put_u32(buf, out_idev_id);
            }
            TestOp::MockDomainReplace { pt_id } => {
                Self::MOCK_DOMAIN_REPLACE_PT_ID.put_u32(buf, pt_id);
            }
            TestOp::CreateAccess { out_access_fd, .. } => {
                Self::CREATE_ACCESS_OUT_ACCESS_FD.put_u32(buf, out_access_fd);
            }
            TestOp::AccessPages {
                out_access_pages_id,
                ..
            } => {
                Self::ACCESS_PAGES_OUT_ACCESS_PAGES_ID.put_u32(buf, out_access_pages_id);
            }
            TestOp::Dirty { out_nr_dirty, .. } => {
                Self::DIRTY_OUT_NR_DIRTY.put_u64(buf, out_nr_dirty);
            }
            TestOp::PasidAttach { pt_id, .. } | TestOp::DevPasidAttach { pt_id, .. } => {
                Self::PASID_ATTACH_PT_ID.put_u32(buf, pt_id);
            }
            TestOp::PasidReplace { pt_id, .. } => {
                Self::PASID_REPLACE_PT_ID.put_u32(buf, pt_id);
            }
            TestOp::PasidAssign { out_pasid, .. } => {
                Self::PASID_ASSIGN_OUT_PASID.put_u32(buf, out_pasid);
            }
            TestOp::AddReserved { .. }
            | TestOp::MdCheckMap { .. }
            | TestOp::FloorPinMap { .. }
            | TestOp::MdCheckRefs { .. }
            | TestOp::DestroyAccessPages { .. }
            | TestOp::AccessRw { .. }
            | TestOp::SetTempMemoryLimit { .. }
            | TestOp::AccessReplaceIoas { .. }
            | TestOp::MdCheckIotlb { .. }
            | TestOp::TriggerIopf { .. }
            | TestOp::PasidDetach { .. }
            | TestOp::DevPasidDetach { .. }
            | TestOp::PasidCheckHwpt { .. } => {}
        }
    }
}

impl_ucmd!(TestCmd, Cmd::Test);

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(op: u32, id: u32) -> [u8; 72] {
        let mut b = [0u8; 72];
        TestCmd::OP.put_u32(&mut b, op);
        TestCmd::ID.put_u32(&mut b, id);
        b
    }

    fn dec(b: &[u8]) -> Result<TestOp> {
        TestCmd::decode(b).map(|c| c.op)
    }

    #[test]
    fn unknown_ops() {
        for op in [
            0,
            IOMMU_TEST_OP_DEV_CHECK_CACHE,
            IOMMU_TEST_OP_TRIGGER_VEVENT,
            22,
            0x1_0000,
            0x1_0005,
            0x8000_0000,
            u32::MAX,
        ] {
            assert_eq!(dec(&cmd(op, 1)), Err(Errno::EOPNOTSUPP), "op {op}");
        }
        // __reserved and last are not checked.
        let mut b = cmd(IOMMU_TEST_OP_MOCK_DOMAIN, 1);
        TestCmd::RESERVED.put_u32(&mut b, 1);
        TestCmd::LAST.put_u32(&mut b, 1);
        assert!(dec(&b).is_ok());
    }

    #[test]
    fn floor_pin_map() {
        let mut b = cmd(IOMMU_TEST_OP_RS_FLOOR_PIN_MAP, 5);
        assert_eq!(dec(&b), Err(Errno::EINVAL));
        TestCmd::CHECK_MAP_IOVA.put_u64(&mut b, 1 << 24);
        TestCmd::CHECK_MAP_LENGTH.put_u64(&mut b, 2 * 4096);
        TestCmd::CHECK_MAP_UPTR.put_u64(&mut b, 0x10_0000);
        let c = TestCmd::decode(&b).unwrap();
        assert_eq!(c.id, 5);
        assert_eq!(
            c.op,
            TestOp::FloorPinMap {
                iova: 1 << 24,
                length: 2 * 4096,
                uptr: 0x10_0000
            }
        );
        assert_eq!(c.op_raw(), IOMMU_TEST_OP_RS_FLOOR_PIN_MAP);
        let mut e = [0u8; 72];
        c.encode(&mut e);
        assert_eq!(dec(&e), Ok(c.op));
        TestCmd::CHECK_MAP_UPTR.put_u64(&mut b, 0x10_0800);
        assert_eq!(dec(&b), Err(Errno::EINVAL));
        TestCmd::CHECK_MAP_UPTR.put_u64(&mut b, u64::MAX & !4095);
        assert_eq!(dec(&b), Err(Errno::EINVAL));
    }

    #[test]
    fn add_reserved() {
        let mut b = cmd(IOMMU_TEST_OP_ADD_RESERVED, 1);
        TestCmd::ADD_RESERVED_START.put_u64(&mut b, u64::MAX);
        assert_eq!(dec(&b), Err(Errno::EINVAL));
        TestCmd::ADD_RESERVED_LENGTH.put_u64(&mut b, 1);
        assert!(dec(&b).is_ok());
        TestCmd::ADD_RESERVED_LENGTH.put_u64(&mut b, 2);
        assert_eq!(dec(&b), Err(Errno::EOVERFLOW));
        TestCmd::ADD_RESERVED_START.put_u64(&mut b, 0x1000);
        assert_eq!(
            dec(&b),
            Ok(TestOp::AddReserved {
                start: 0x1000,
                length: 2
            })
        );
    }

    #[test]
    fn mock_domain_flags() {
        let mut b = cmd(IOMMU_TEST_OP_MOCK_DOMAIN, 3);
        // dev_flags is ignored by plain MOCK_DOMAIN.
        TestCmd::MOCK_DOMAIN_FLAGS_DEV_FLAGS.put_u32(&mut b, u32::MAX);
        let c = TestCmd::decode(&b).unwrap();
        assert_eq!(c.mock_dev_flags(), Some(0));
        TestCmd::OP.put_u32(&mut b, IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS);
        assert_eq!(dec(&b), Err(Errno::EINVAL));
        for f in [
            0,
            MOCK_FLAGS_DEVICE_NO_DIRTY,
            MOCK_FLAGS_DEVICE_HUGE_IOVA,
            MOCK_FLAGS_DEVICE_PASID,
            MOCK_FLAGS_DEVICE_VALID,
        ] {
            TestCmd::MOCK_DOMAIN_FLAGS_DEV_FLAGS.put_u32(&mut b, f);
            assert_eq!(TestCmd::decode(&b).unwrap().mock_dev_flags(), Some(f));
        }
        TestCmd::MOCK_DOMAIN_FLAGS_DEV_FLAGS.put_u32(&mut b, 1 << 3);
        assert_eq!(dec(&b), Err(Errno::EINVAL));
        // The response writes the three ids where the selftests read them.
        let mut out = cmd(IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS, 3);
        TestCmd {
            id: 3,
            op: TestOp::MockDomainFlags {
                out_stdev_id: 10,
                out_hwpt_id: 11,
                out_idev_id: 12,
                dev_flags: 0,
            },
        }
        .encode_response(&mut out);
        assert_eq!(TestCmd::MOCK_DOMAIN_OUT_STDEV_ID.get_u32(&out), 10);
        assert_eq!(TestCmd::MOCK_DOMAIN_OUT_HWPT_ID.get_u32(&out), 11);
        assert_eq!(TestCmd::MOCK_DOMAIN_OUT_IDEV_ID.get_u32(&out), 12);
    }

    #[test]
    fn md_check_map_alignment() {
        let mut b = cmd(IOMMU_TEST_OP_MD_CHECK_MAP, 3);
        TestCmd::CHECK_MAP_IOVA.put_u64(&mut b, 2048);
        TestCmd::CHECK_MAP_LENGTH.put_u64(&mut b, 2048);
        TestCmd::CHECK_MAP_UPTR.put_u64(&mut b, 0x10800);
        assert!(dec(&b).is_ok());
        TestCmd::CHECK_MAP_UPTR.put_u64(&mut b, 0x10801);
        assert_eq!(dec(&b), Err(Errno::EINVAL));
        TestCmd::CHECK_MAP_UPTR.put_u64(&mut b, u64::MAX - 2047);
        assert_eq!(dec(&b), Err(Errno::EINVAL));
        TestCmd::CHECK_MAP_UPTR.put_u64(&mut b, 0);
        TestCmd::CHECK_MAP_LENGTH.put_u64(&mut b, 1024);
        assert_eq!(dec(&b), Err(Errno::EINVAL));
        // A 64 KiB kernel has 32 KiB mock pages.
        TestCmd::CHECK_MAP_LENGTH.put_u64(&mut b, 2048);
        assert_eq!(
            TestCmd::decode_with_page_size(&b, 65536).map(|c| c.op),
            Err(Errno::EINVAL)
        );
        // A degenerate page size cannot divide by zero.
        assert_eq!(
            TestCmd::decode_with_page_size(&b, 1).map(|c| c.op),
            Err(Errno::EINVAL)
        );
    }

    #[test]
    fn md_check_refs_alignment() {
        let mut b = cmd(IOMMU_TEST_OP_MD_CHECK_REFS, 0);
        TestCmd::CHECK_REFS_LENGTH.put_u64(&mut b, 8192);
        TestCmd::CHECK_REFS_UPTR.put_u64(&mut b, 0x10000);
        TestCmd::CHECK_REFS_REFS.put_u32(&mut b, 1);
        assert_eq!(
            dec(&b),
            Ok(TestOp::MdCheckRefs {
                length: 8192,
                uptr: 0x10000,
                refs: 1
            })
        );
        TestCmd::CHECK_REFS_LENGTH.put_u64(&mut b, 2048);
        assert_eq!(dec(&b), Err(Errno::EINVAL));
        TestCmd::CHECK_REFS_LENGTH.put_u64(&mut b, 4096);
        TestCmd::CHECK_REFS_UPTR.put_u64(&mut b, 0x800);
        assert_eq!(dec(&b), Err(Errno::EINVAL));
        TestCmd::CHECK_REFS_UPTR.put_u64(&mut b, u64::MAX - 4095);
        assert_eq!(dec(&b), Err(Errno::EINVAL));
    }

    #[test]
    fn create_access_flags() {
        let mut b = cmd(IOMMU_TEST_OP_CREATE_ACCESS, 1);
        TestCmd::CREATE_ACCESS_FLAGS.put_u32(&mut b, MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES);
        assert!(dec(&b).is_ok());
        TestCmd::CREATE_ACCESS_FLAGS.put_u32(&mut b, 2);
        assert_eq!(dec(&b), Err(Errno::EOPNOTSUPP));
    }

    #[test]
    fn access_pages_and_rw() {
        let mut b = cmd(IOMMU_TEST_OP_ACCESS_PAGES, 5);
        TestCmd::ACCESS_PAGES_LENGTH.put_u64(&mut b, MOCK_ACCESS_MAX_LENGTH);
        TestCmd::ACCESS_PAGES_FLAGS
            .put_u32(&mut b, MOCK_FLAGS_ACCESS_WRITE | MOCK_FLAGS_ACCESS_SYZ);
        assert!(dec(&b).is_ok());
        // ENOMEM comes before the flags check.
        TestCmd::ACCESS_PAGES_LENGTH.put_u64(&mut b, MOCK_ACCESS_MAX_LENGTH + 1);
        TestCmd::ACCESS_PAGES_FLAGS.put_u32(&mut b, 1 << 5);
        assert_eq!(dec(&b), Err(Errno::ENOMEM));
        TestCmd::ACCESS_PAGES_LENGTH.put_u64(&mut b, 4096);
        assert_eq!(dec(&b), Err(Errno::EOPNOTSUPP));
        // MOCK_ACCESS_RW_SLOW_PATH is not an ACCESS_PAGES flag.
        TestCmd::ACCESS_PAGES_FLAGS.put_u32(&mut b, MOCK_ACCESS_RW_SLOW_PATH);
        assert_eq!(dec(&b), Err(Errno::EOPNOTSUPP));

        let mut b = cmd(IOMMU_TEST_OP_ACCESS_RW, 5);
        TestCmd::ACCESS_RW_LENGTH.put_u64(&mut b, 1);
        TestCmd::ACCESS_RW_FLAGS.put_u32(
            &mut b,
            MOCK_ACCESS_RW_WRITE | MOCK_ACCESS_RW_SLOW_PATH | MOCK_FLAGS_ACCESS_SYZ,
        );
        assert!(dec(&b).is_ok());
        TestCmd::ACCESS_RW_FLAGS.put_u32(&mut b, 2);
        assert_eq!(dec(&b), Err(Errno::EOPNOTSUPP));
        TestCmd::ACCESS_RW_LENGTH.put_u64(&mut b, u64::MAX);
        assert_eq!(dec(&b), Err(Errno::ENOMEM));

        let mut out = cmd(IOMMU_TEST_OP_ACCESS_PAGES, 5);
        TestCmd {
            id: 5,
            op: TestOp::AccessPages {
                flags: 0,
                out_access_pages_id: 42,
                iova: 0,
                length: 0,
                uptr: 0,
            },
        }
        .encode_response(&mut out);
        assert_eq!(TestCmd::ACCESS_PAGES_OUT_ACCESS_PAGES_ID.get_u32(&out), 42);
    }

    #[test]
    fn memory_limit() {
        let mut b = cmd(IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT, 0);
        TestCmd::MEMORY_LIMIT_LIMIT.put_u32(&mut b, MOCK_MEMORY_LIMIT_MIN - 1);
        assert_eq!(dec(&b), Err(Errno::EINVAL));
        TestCmd::MEMORY_LIMIT_LIMIT.put_u32(&mut b, MOCK_MEMORY_LIMIT_MIN);
        assert!(dec(&b).is_ok());
        assert_eq!(MOCK_MEMORY_LIMIT_MIN, 12);
    }

    #[test]
    fn dirty() {
        let mut b = cmd(IOMMU_TEST_OP_DIRTY, 2);
        let set = |b: &mut [u8], iova, length, ps, uptr| {
            TestCmd::DIRTY_IOVA.put_u64(b, iova);
            TestCmd::DIRTY_LENGTH.put_u64(b, length);
            TestCmd::DIRTY_PAGE_SIZE.put_u64(b, ps);
            TestCmd::DIRTY_UPTR.put_u64(b, uptr);
        };
        set(&mut b, 0x1000, 0x4000, 0x1000, 0x7000);
        assert!(dec(&b).is_ok());
        set(&mut b, 0x1000, 0x4000, 0, 0x7000);
        assert_eq!(dec(&b), Err(Errno::EINVAL));
        set(&mut b, 0x1000, 0, 0x1000, 0x7000);
        assert_eq!(dec(&b), Err(Errno::EINVAL));
        set(&mut b, 0x800, 0x4000, 0x1000, 0x7000);
        assert_eq!(dec(&b), Err(Errno::EINVAL));
        set(&mut b, 0x1000, 0x4800, 0x1000, 0x7000);
        assert_eq!(dec(&b), Err(Errno::EINVAL));
        set(&mut b, 0x1000, 0x4000, 0x1000, 0);
        assert_eq!(dec(&b), Err(Errno::EINVAL));
        set(&mut b, 0, MOCK_DIRTY_MAX_BITS, 1, 0x7000);
        assert!(dec(&b).is_ok());
        set(&mut b, 0, MOCK_DIRTY_MAX_BITS + 1, 1, 0x7000);
        assert_eq!(dec(&b), Err(Errno::EOVERFLOW));
        let mut c = TestCmd::decode(&cmd(IOMMU_TEST_OP_MOCK_DOMAIN, 0)).unwrap();
        c.op = TestOp::Dirty {
            flags: 0,
            iova: 0,
            length: 0,
            page_size: 0,
            uptr: 0,
            out_nr_dirty: 9,
        };
        c.encode_response(&mut b);
        assert_eq!(TestCmd::DIRTY_OUT_NR_DIRTY.get_u64(&b), 9);
    }

    #[test]
    fn ops_without_early_checks() {
        for op in [
            IOMMU_TEST_OP_DESTROY_ACCESS_PAGES,
            IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE,
            IOMMU_TEST_OP_ACCESS_REPLACE_IOAS,
            IOMMU_TEST_OP_MD_CHECK_IOTLB,
            IOMMU_TEST_OP_TRIGGER_IOPF,
            IOMMU_TEST_OP_PASID_ATTACH,
            IOMMU_TEST_OP_PASID_REPLACE,
            IOMMU_TEST_OP_PASID_DETACH,
            IOMMU_TEST_OP_PASID_CHECK_HWPT,
            IOMMU_TEST_OP_RS_PASID_ASSIGN,
        ] {
            let mut b = [0xa5u8; 72];
            TestCmd::OP.put_u32(&mut b, op);
            let c = TestCmd::decode(&b).unwrap();
            assert_eq!(c.op_raw(), op);
            assert_eq!(c.id, 0xa5a5_a5a5);
        }
        let mut b = cmd(IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE, 4);
        TestCmd::MOCK_DOMAIN_REPLACE_PT_ID.put_u32(&mut b, 6);
        let mut c = TestCmd::decode(&b).unwrap();
        assert_eq!(c.op, TestOp::MockDomainReplace { pt_id: 6 });
        c.op = TestOp::MockDomainReplace { pt_id: 8 };
        c.encode_response(&mut b);
        assert_eq!(TestCmd::MOCK_DOMAIN_REPLACE_PT_ID.get_u32(&b), 8);
    }

    #[test]
    fn pasid_ops() {
        // No decode-time check: every PASID, even the RID's and out-of-range ones, decodes.
        for pasid in [0, 1, 1 << 20, u32::MAX] {
            let mut b = cmd(IOMMU_TEST_OP_PASID_ATTACH, 4);
            TestCmd::PASID_ATTACH_PASID.put_u32(&mut b, pasid);
            TestCmd::PASID_ATTACH_PT_ID.put_u32(&mut b, 7);
            assert_eq!(dec(&b), Ok(TestOp::PasidAttach { pasid, pt_id: 7 }));
        }
        let mut b = cmd(IOMMU_TEST_OP_PASID_REPLACE, 4);
        TestCmd::PASID_REPLACE_PASID.put_u32(&mut b, 3);
        TestCmd::PASID_REPLACE_PT_ID.put_u32(&mut b, 8);
        assert_eq!(dec(&b), Ok(TestOp::PasidReplace { pasid: 3, pt_id: 8 }));
        let mut b = cmd(IOMMU_TEST_OP_PASID_DETACH, 4);
        TestCmd::PASID_DETACH_PASID.put_u32(&mut b, 3);
        TestCmd::PASID_CHECK_HWPT_ID.put_u32(&mut b, 9);
        assert_eq!(dec(&b), Ok(TestOp::PasidDetach { pasid: 3 }));
        let mut b = cmd(IOMMU_TEST_OP_PASID_CHECK_HWPT, 4);
        TestCmd::PASID_CHECK_PASID.put_u32(&mut b, 3);
        TestCmd::PASID_CHECK_HWPT_ID.put_u32(&mut b, 0);
        assert_eq!(
            dec(&b),
            Ok(TestOp::PasidCheckHwpt {
                pasid: 3,
                hwpt_id: 0
            })
        );
        // `out_pasid` is an output: what the user left there is not read.
        let mut b = cmd(IOMMU_TEST_OP_RS_PASID_ASSIGN, 4);
        TestCmd::PASID_ASSIGN_OUT_PASID.put_u32(&mut b, 55);
        TestCmd::PASID_ASSIGN_PT_ID.put_u32(&mut b, 9);
        let c = TestCmd::decode(&b).unwrap();
        assert_eq!(
            c.op,
            TestOp::PasidAssign {
                out_pasid: 0,
                pt_id: 9
            }
        );
        assert_eq!(c.op_raw(), IOMMU_TEST_OP_RS_PASID_ASSIGN);
    }

    #[test]
    fn pasid_responses() {
        let respond = |op| {
            let mut b = [0u8; 72];
            TestCmd { id: 4, op }.encode_response(&mut b);
            b
        };
        let b = respond(TestOp::PasidAttach { pasid: 3, pt_id: 8 });
        assert_eq!(TestCmd::PASID_ATTACH_PT_ID.get_u32(&b), 8);
        // The response leaves the input PASID alone.
        assert_eq!(TestCmd::PASID_ATTACH_PASID.get_u32(&b), 0);
        let b = respond(TestOp::PasidReplace { pasid: 3, pt_id: 9 });
        assert_eq!(TestCmd::PASID_REPLACE_PT_ID.get_u32(&b), 9);
        let b = respond(TestOp::PasidAssign {
            out_pasid: 0x20,
            pt_id: 9,
        });
        assert_eq!(TestCmd::PASID_ASSIGN_OUT_PASID.get_u32(&b), 0x20);
        assert_eq!(TestCmd::PASID_ASSIGN_PT_ID.get_u32(&b), 0);
        for op in [
            TestOp::PasidDetach { pasid: 3 },
            TestOp::PasidCheckHwpt {
                pasid: 3,
                hwpt_id: 9,
            },
        ] {
            assert_eq!(respond(op), [0u8; 72], "{op:?} has no response");
        }
        // encode round-trips through decode.
        for op in [
            TestOp::PasidAttach { pasid: 3, pt_id: 8 },
            TestOp::PasidReplace { pasid: 3, pt_id: 9 },
            TestOp::PasidDetach { pasid: 3 },
            TestOp::PasidCheckHwpt {
                pasid: 3,
                hwpt_id: 9,
            },
            TestOp::PasidAssign {
                out_pasid: 0,
                pt_id: 9,
            },
        ] {
            let c = TestCmd { id: 4, op };
            let mut b = [0u8; 72];
            c.encode(&mut b);
            assert_eq!(TestCmd::decode(&b), Ok(c));
        }
    }

    #[test]
    fn syz_layout_splits_in_memory_order() {
        let mut b = [0u8; 8];
        b[..4].copy_from_slice(&3u32.to_ne_bytes());
        b[4..].copy_from_slice(&0x20u32.to_ne_bytes());
        assert_eq!(syz_layout(u64::from_ne_bytes(b)), (3, 0x20));
    }
}
