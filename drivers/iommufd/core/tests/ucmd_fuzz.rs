// SPDX-License-Identifier: GPL-2.0

//! Fuzzing the uAPI decoders under `cargo test`, with a fixed budget and a fixed seed.
//!
//! Every decoder gets [`CASES`] buffers, drawn from a small deterministic PRNG (splitmix64):
//! random bytes of random length, valid structs with random bit flips, valid structs cut
//! short, and valid or zero structs with one field set to an edge value (0, 1, all ones,
//! `ULONG_MAX - 1`, powers of two, ...). For each buffer:
//!
//! - decoding must not panic, and must give the same result twice;
//! - the result must not depend on the bytes past `sizeof` nor change when the buffer is
//!   zero-filled up to `sizeof` (the `copy_struct_from_user()` model);
//! - an error must be one of the errnos the C handler can return before its first lookup;
//! - an accepted buffer must round-trip: `decode(encode(x)) == x`, both into a zeroed buffer
//!   and over the original bytes;
//! - `encode_response` must not panic on buffers of any length.
//!
//! Each test prints its counts (`cargo test -- --nocapture` shows them) and puts them in its
//! final assertion's message.

use iommufd_core::errno::{Errno, Result};
use iommufd_core::ucmd::{
    device::HwInfo,
    fault::FaultAlloc,
    hwpt::{HwptAlloc, HwptGetDirtyBitmap, HwptInvalidate, HwptSetDirtyTracking},
    ioas::{IoasAlloc, IoasAllowIovas, IoasCopy, IoasIovaRanges, IoasMap, IoasUnmap},
    main::{Destroy, IommuOption, OptionId},
    test_cmd::{self, TestCmd, TestOp},
    vfio::{VfioIoas, VfioIoasOp},
    UcmdStruct, ULONG_MAX,
};
use std::fmt::Debug;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Buffers per decoder.
const CASES: u64 = 200_000;
/// Buffers per variant of a decoder already fuzzed with [`CASES`] (another `PAGE_SIZE`, the
/// mock's `IOAS_COPY`), and per run of the reproducibility check.
const VARIANT_CASES: u64 = 50_000;

/// splitmix64: small, fast and deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn edge(&mut self) -> u64 {
        let edges = [
            0,
            1,
            2,
            3,
            4,
            7,
            8,
            0xff,
            0x800,
            0x1000,
            0x1001,
            0xffff,
            0x1_0000,
            1 << 19,
            (1 << 19) + 1,
            16 << 20,
            (16 << 20) + 1,
            0x7fff_ffff,
            0x8000_0000,
            0xffff_fffe,
            0xffff_ffff,
            0x1_0000_0000,
            ULONG_MAX - 1,
            ULONG_MAX,
            u64::MAX - 0xfff,
            1 << 63,
        ];
        match self.below(3) {
            0 => edges[self.below(edges.len() as u64) as usize],
            1 => 1 << self.below(64),
            _ => self.next(),
        }
    }
}

/// What one decoder's run saw.
#[derive(Default, Debug, PartialEq, Eq)]
struct Stats {
    cases: u64,
    accepted: u64,
    rejected: Vec<(Errno, u64)>,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Fills `b` with one buffer for a struct of `size` bytes whose fields are `fields` (offset,
/// size).
fn generate(
    rng: &mut Rng,
    b: &mut Vec<u8>,
    size: usize,
    fields: &[(usize, usize)],
    seeds: &[Vec<u8>],
) {
    let seed = &seeds[rng.below(seeds.len() as u64) as usize];
    b.clear();
    match rng.below(6) {
        // Random bytes, random length (past sizeof too).
        0 => {
            let len = rng.below(size as u64 + 9) as usize;
            b.extend((0..len).map(|_| rng.next() as u8));
        }
        // A valid struct with a few bit flips.
        1 => {
            b.extend_from_slice(seed);
            for _ in 0..=rng.below(4) {
                let bit = rng.below(size as u64 * 8) as usize;
                b[bit / 8] ^= 1 << (bit % 8);
            }
        }
        // A valid struct cut short.
        2 => {
            b.extend_from_slice(seed);
            b.truncate(rng.below(size as u64 + 1) as usize);
        }
        // A valid or all-zero struct with one or two fields set to edge values.
        3 | 4 => {
            if rng.below(4) == 0 {
                b.resize(size, 0);
            } else {
                b.extend_from_slice(seed);
            }
            for _ in 0..=rng.below(2) {
                let (off, fsize) = fields[rng.below(fields.len() as u64) as usize];
                let v = rng.edge().to_ne_bytes();
                b[off..off + fsize].copy_from_slice(&v[..fsize]);
            }
        }
        // A valid struct with junk past sizeof.
        _ => {
            b.extend_from_slice(seed);
            for _ in 0..rng.below(16) {
                b.push(rng.next() as u8);
            }
        }
    }
}

/// Copies `src` into `dst`, then zero-fills or cuts it to `len` bytes.
fn copy_to(dst: &mut Vec<u8>, src: &[u8], len: usize) {
    dst.clear();
    dst.extend_from_slice(src);
    dst.resize(len, 0);
}

fn run<T, D>(name: &str, seed: u64, seeds: &[Vec<u8>], allowed: &[Errno], decode: D) -> Stats
where
    T: UcmdStruct + PartialEq + Debug,
    D: Fn(&[u8]) -> Result<T>,
{
    run_n(name, CASES, seed, seeds, allowed, decode)
}

fn run_n<T, D>(
    name: &str,
    cases: u64,
    seed: u64,
    seeds: &[Vec<u8>],
    allowed: &[Errno],
    decode: D,
) -> Stats
where
    T: UcmdStruct + PartialEq + Debug,
    D: Fn(&[u8]) -> Result<T>,
{
    let size = T::LAYOUT.size;
    let fields: Vec<(usize, usize)> = T::LAYOUT
        .fields
        .iter()
        .map(|f| (f.offset, f.size))
        .collect();
    for s in seeds {
        assert_eq!(s.len(), size, "{name}: seed length");
        assert!(decode(s).is_ok(), "{name}: seed {} is rejected", hex(s));
    }
    let mut rng = Rng(seed);
    let mut stats = Stats::default();
    let (mut buf, mut tmp) = (Vec::new(), Vec::new());
    for _ in 0..cases {
        generate(&mut rng, &mut buf, size, &fields, seeds);
        let resp_len = rng.below(size as u64 + 8) as usize;
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let r = decode(&buf);
            assert_eq!(r, decode(&buf), "not deterministic");
            // Zero fill up to sizeof, and bytes past it, change nothing.
            copy_to(&mut tmp, &buf, size);
            assert_eq!(r, decode(&tmp), "zero fill changes the result");
            tmp.extend([0xa5; 8]);
            assert_eq!(r, decode(&tmp), "bytes past sizeof change the result");
            if let Ok(x) = &r {
                copy_to(&mut tmp, &[], size);
                x.encode(&mut tmp);
                assert_eq!(decode(&tmp).as_ref(), Ok(x), "round trip (zeroed)");
                copy_to(&mut tmp, &buf, size);
                x.encode(&mut tmp);
                assert_eq!(decode(&tmp).as_ref(), Ok(x), "round trip (over input)");
                copy_to(&mut tmp, &buf, resp_len);
                x.encode_response(&mut tmp);
                x.encode(&mut tmp);
            }
            r
        }));
        let r = match outcome {
            Ok(r) => r,
            Err(_) => panic!("{name}: panicked on {} (len {})", hex(&buf), buf.len()),
        };
        stats.cases += 1;
        match r {
            Ok(_) => stats.accepted += 1,
            Err(e) => {
                assert!(
                    allowed.contains(&e),
                    "{name}: unexpected {} for {}",
                    e.name(),
                    hex(&buf)
                );
                match stats.rejected.iter_mut().find(|(x, _)| *x == e) {
                    Some((_, n)) => *n += 1,
                    None => stats.rejected.push((e, 1)),
                }
            }
        }
    }
    stats.rejected.sort_by_key(|(e, _)| e.0);
    let rejected: Vec<String> = stats
        .rejected
        .iter()
        .map(|(e, n)| format!("{}={n}", e.name()))
        .collect();
    eprintln!(
        "ucmd_fuzz {name}: {} cases, {} accepted, rejected {}",
        stats.cases,
        stats.accepted,
        rejected.join(" ")
    );
    stats
}

fn enc<T: UcmdStruct>(x: T) -> Vec<u8> {
    let mut b = vec![0u8; T::LAYOUT.size];
    x.encode(&mut b);
    b
}

fn check(name: &str, s: Stats, expect_errors: bool) {
    check_n(name, CASES, s, expect_errors)
}

fn check_n(name: &str, cases: u64, s: Stats, expect_errors: bool) {
    assert!(
        s.cases == cases && s.accepted > 0 && (!expect_errors || !s.rejected.is_empty()),
        "{name}: {s:?} ({} cases run)",
        s.cases
    );
}

const EOPNOTSUPP: Errno = Errno::EOPNOTSUPP;
const EINVAL: Errno = Errno::EINVAL;
const EOVERFLOW: Errno = Errno::EOVERFLOW;
const ENOMEM: Errno = Errno::ENOMEM;

#[test]
fn fuzz_destroy() {
    let seeds = [enc(Destroy { id: 1 })];
    let s = run("destroy", 1, &seeds, &[], Destroy::decode);
    check("destroy", s, false);
}

#[test]
fn fuzz_ioas_alloc() {
    let seeds = [enc(IoasAlloc { out_ioas_id: 0 })];
    let s = run("ioas_alloc", 2, &seeds, &[EOPNOTSUPP], IoasAlloc::decode);
    check("ioas_alloc", s, true);
}

#[test]
fn fuzz_ioas_allow_iovas() {
    let seeds = [enc(IoasAllowIovas {
        ioas_id: 1,
        num_iovas: 2,
        allowed_iovas: 0x7000_0000,
    })];
    let s = run(
        "ioas_allow_iovas",
        3,
        &seeds,
        &[EOPNOTSUPP],
        IoasAllowIovas::decode,
    );
    check("ioas_allow_iovas", s, true);
}

fn copy_seeds() -> Vec<Vec<u8>> {
    vec![
        enc(IoasCopy {
            flags: 6,
            dst_ioas_id: 1,
            src_ioas_id: 2,
            length: 0x1000,
            dst_iova: 0,
            src_iova: 0x10000,
        }),
        enc(IoasCopy {
            flags: 5,
            dst_ioas_id: 1,
            src_ioas_id: 2,
            length: 0x1000,
            dst_iova: 0x20000,
            src_iova: 0x10000,
        }),
    ]
}

#[test]
fn fuzz_ioas_copy() {
    let s = run(
        "ioas_copy",
        4,
        &copy_seeds(),
        &[EOPNOTSUPP, EOVERFLOW, EINVAL],
        IoasCopy::decode,
    );
    check("ioas_copy", s, true);
}

#[test]
fn fuzz_ioas_copy_mock() {
    let mut seeds = copy_seeds();
    let mut syz = seeds[0].clone();
    IoasCopy::FLAGS.put_u32(&mut syz, 6 | test_cmd::MOCK_FLAGS_ACCESS_SYZ);
    seeds.push(syz);
    let conv = |id: u32, iova: u64| -> u64 {
        let (nth, off) = test_cmd::syz_layout(iova);
        if id & 1 == 0 {
            iova
        } else {
            u64::from(nth) * 0x1000 + u64::from(off)
        }
    };
    let s = run_n(
        "ioas_copy_mock",
        VARIANT_CASES,
        5,
        &seeds,
        &[EOPNOTSUPP, EOVERFLOW, EINVAL],
        |b: &[u8]| IoasCopy::decode_mock(b, conv),
    );
    check_n("ioas_copy_mock", VARIANT_CASES, s, true);
}

#[test]
fn fuzz_ioas_iova_ranges() {
    let seeds = [enc(IoasIovaRanges {
        ioas_id: 1,
        num_iovas: 4,
        allowed_iovas: 0x7000_0000,
        out_iova_alignment: 0,
    })];
    let s = run(
        "ioas_iova_ranges",
        6,
        &seeds,
        &[EOPNOTSUPP],
        IoasIovaRanges::decode,
    );
    check("ioas_iova_ranges", s, true);
}

#[test]
fn fuzz_ioas_map() {
    let seeds = [
        enc(IoasMap {
            flags: 6,
            ioas_id: 1,
            user_va: 0x7f00_0000_0000,
            length: 0x1000,
            iova: 0,
        }),
        enc(IoasMap {
            flags: 7,
            ioas_id: 1,
            user_va: 0x7f00_0000_0000,
            length: 0x20_0000,
            iova: 0x100_0000,
        }),
    ];
    let s = run(
        "ioas_map",
        7,
        &seeds,
        &[EOPNOTSUPP, EOVERFLOW, EINVAL],
        IoasMap::decode,
    );
    check("ioas_map", s, true);
}

#[test]
fn fuzz_ioas_unmap() {
    let seeds = [enc(IoasUnmap {
        ioas_id: 1,
        iova: 0,
        length: u64::MAX,
    })];
    let s = run("ioas_unmap", 8, &seeds, &[], IoasUnmap::decode);
    check("ioas_unmap", s, false);
}

#[test]
fn fuzz_option() {
    let seeds = [
        enc(IommuOption {
            option_id: OptionId::RlimitMode,
            op: 1,
            object_id: 0,
            val64: 0,
        }),
        enc(IommuOption {
            option_id: OptionId::HugePages,
            op: 0,
            object_id: 3,
            val64: 1,
        }),
    ];
    let s = run("option", 9, &seeds, &[EOPNOTSUPP], IommuOption::decode);
    check("option", s, true);
}

#[test]
fn fuzz_vfio_ioas() {
    let seeds = [
        enc(VfioIoas {
            ioas_id: 0,
            op: VfioIoasOp::Get,
        }),
        enc(VfioIoas {
            ioas_id: 2,
            op: VfioIoasOp::Set,
        }),
    ];
    let s = run("vfio_ioas", 10, &seeds, &[EOPNOTSUPP], VfioIoas::decode);
    check("vfio_ioas", s, true);
}

#[test]
fn fuzz_hwpt_alloc() {
    let seeds = [
        enc(HwptAlloc {
            flags: 0,
            dev_id: 2,
            pt_id: 1,
            out_hwpt_id: 0,
            data_type: 0,
            data_len: 0,
            data_uptr: 0,
            fault_id: 0,
        }),
        enc(HwptAlloc {
            flags: 4,
            dev_id: 2,
            pt_id: 5,
            out_hwpt_id: 0,
            data_type: test_cmd::IOMMU_HWPT_DATA_SELFTEST,
            data_len: 4,
            data_uptr: 0x7000,
            fault_id: 6,
        }),
    ];
    let s = run(
        "hwpt_alloc",
        11,
        &seeds,
        &[EOPNOTSUPP, EINVAL],
        HwptAlloc::decode,
    );
    check("hwpt_alloc", s, true);
}

#[test]
fn fuzz_get_hw_info() {
    let seeds = [
        enc(HwInfo {
            flags: 0,
            dev_id: 2,
            data_len: 8,
            data_uptr: 0x7000,
            in_data_type: 0,
            out_data_type: 0,
            out_max_pasid_log2: 0,
            out_capabilities: 0,
        }),
        enc(HwInfo {
            flags: 1,
            dev_id: 2,
            data_len: 8,
            data_uptr: 0x7000,
            in_data_type: test_cmd::IOMMU_HW_INFO_TYPE_SELFTEST,
            out_data_type: 0,
            out_max_pasid_log2: 0,
            out_capabilities: 0,
        }),
    ];
    let s = run("get_hw_info", 12, &seeds, &[EOPNOTSUPP], HwInfo::decode);
    check("get_hw_info", s, true);
}

#[test]
fn fuzz_hwpt_set_dirty_tracking() {
    let seeds = [enc(HwptSetDirtyTracking {
        flags: 1,
        hwpt_id: 3,
    })];
    let s = run(
        "hwpt_set_dirty_tracking",
        13,
        &seeds,
        &[EOPNOTSUPP],
        HwptSetDirtyTracking::decode,
    );
    check("hwpt_set_dirty_tracking", s, true);
}

#[test]
fn fuzz_hwpt_get_dirty_bitmap() {
    let seeds = [enc(HwptGetDirtyBitmap {
        hwpt_id: 3,
        flags: 1,
        iova: 0x100_0000,
        length: 0x10_0000,
        page_size: 0x1000,
        data: 0x7000,
    })];
    let s = run(
        "hwpt_get_dirty_bitmap",
        14,
        &seeds,
        &[EOPNOTSUPP],
        HwptGetDirtyBitmap::decode,
    );
    check("hwpt_get_dirty_bitmap", s, true);
}

fn invalidate_seeds() -> Vec<Vec<u8>> {
    vec![
        enc(HwptInvalidate {
            hwpt_id: 4,
            data_uptr: 0x7000,
            data_type: test_cmd::IOMMU_HWPT_INVALIDATE_DATA_SELFTEST,
            entry_len: 8,
            entry_num: 2,
        }),
        enc(HwptInvalidate {
            hwpt_id: 4,
            data_uptr: 0,
            data_type: 0,
            entry_len: 0,
            entry_num: 0,
        }),
    ]
}

#[test]
fn fuzz_hwpt_invalidate() {
    let s = run(
        "hwpt_invalidate",
        15,
        &invalidate_seeds(),
        &[EOPNOTSUPP, EINVAL],
        HwptInvalidate::decode,
    );
    check("hwpt_invalidate", s, true);
}

#[test]
fn fuzz_hwpt_invalidate_64k_pages() {
    let s = run_n(
        "hwpt_invalidate_64k",
        VARIANT_CASES,
        16,
        &invalidate_seeds(),
        &[EOPNOTSUPP, EINVAL],
        |b: &[u8]| HwptInvalidate::decode_with_page_size(b, 65536),
    );
    check_n("hwpt_invalidate_64k", VARIANT_CASES, s, true);
}

#[test]
fn fuzz_fault_queue_alloc() {
    let seeds = [enc(FaultAlloc {
        out_fault_id: 0,
        out_fault_fd: 0,
    })];
    let s = run(
        "fault_queue_alloc",
        17,
        &seeds,
        &[EOPNOTSUPP],
        FaultAlloc::decode,
    );
    check("fault_queue_alloc", s, true);
}

fn test_cmd_seeds() -> Vec<Vec<u8>> {
    let ops = [
        TestOp::AddReserved {
            start: 0x1000,
            length: 0x1000,
        },
        TestOp::MockDomain {
            out_stdev_id: 0,
            out_hwpt_id: 0,
            out_idev_id: 0,
        },
        TestOp::MockDomainFlags {
            out_stdev_id: 0,
            out_hwpt_id: 0,
            out_idev_id: 0,
            dev_flags: test_cmd::MOCK_FLAGS_DEVICE_PASID,
        },
        TestOp::MdCheckMap {
            iova: 0x100_0000,
            length: 0x2000,
            uptr: 0x7000_0000,
        },
        TestOp::MdCheckRefs {
            length: 0x2000,
            uptr: 0x7000_0000,
            refs: 1,
        },
        TestOp::CreateAccess {
            out_access_fd: 0,
            flags: 1,
        },
        TestOp::DestroyAccessPages { access_pages_id: 1 },
        TestOp::AccessPages {
            flags: 1,
            out_access_pages_id: 0,
            iova: 0x100_0000,
            length: 0x1000,
            uptr: 0x7000_0000,
        },
        TestOp::AccessRw {
            iova: 0x100_0000,
            length: 8,
            uptr: 0x7000_0000,
            flags: 5,
        },
        TestOp::SetTempMemoryLimit { limit: 64 },
        TestOp::MockDomainReplace { pt_id: 3 },
        TestOp::AccessReplaceIoas { ioas_id: 3 },
        TestOp::Dirty {
            flags: 0,
            iova: 0x100_0000,
            length: 0x10_0000,
            page_size: 0x1000,
            uptr: 0x7000_0000,
            out_nr_dirty: 0,
        },
        TestOp::MdCheckIotlb { id: 1, iotlb: 2 },
        TestOp::TriggerIopf {
            dev_id: 2,
            pasid: 0,
            grpid: 1,
            perm: 3,
            addr: 0x100_0000,
        },
        TestOp::PasidAttach { pasid: 1, pt_id: 3 },
        TestOp::PasidReplace { pasid: 1, pt_id: 4 },
        TestOp::PasidDetach { pasid: 1 },
        TestOp::PasidCheckHwpt {
            pasid: 1,
            hwpt_id: 3,
        },
        TestOp::PasidAssign {
            out_pasid: 0,
            pt_id: 3,
        },
        TestOp::DevPasidAttach { pasid: 1, pt_id: 3 },
        TestOp::DevPasidDetach { pasid: 1 },
    ];
    ops.iter().map(|&op| enc(TestCmd { id: 1, op })).collect()
}

#[test]
fn fuzz_test_cmd() {
    let seeds = test_cmd_seeds();
    assert_eq!(seeds.len(), 22, "one seed per op");
    let s = run(
        "test_cmd",
        18,
        &seeds,
        &[EOPNOTSUPP, EINVAL, EOVERFLOW, ENOMEM],
        TestCmd::decode,
    );
    check("test_cmd", s, true);
}

#[test]
fn fuzz_test_cmd_64k_pages() {
    let s = run_n(
        "test_cmd_64k",
        VARIANT_CASES,
        19,
        &test_cmd_seeds()[..3],
        &[EOPNOTSUPP, EINVAL, EOVERFLOW, ENOMEM],
        |b: &[u8]| TestCmd::decode_with_page_size(b, 65536),
    );
    check_n("test_cmd_64k", VARIANT_CASES, s, true);
}

#[test]
fn fuzz_runs_are_reproducible() {
    // The same seed gives the same statistics (the PRNG and the decoders are deterministic).
    let seeds = [enc(IoasMap {
        flags: 6,
        ioas_id: 1,
        user_va: 0x1000,
        length: 0x1000,
        iova: 0,
    })];
    let all = [EOPNOTSUPP, EOVERFLOW, EINVAL];
    let a = run_n(
        "ioas_map_a",
        VARIANT_CASES,
        99,
        &seeds,
        &all,
        IoasMap::decode,
    );
    let b = run_n(
        "ioas_map_b",
        VARIANT_CASES,
        99,
        &seeds,
        &all,
        IoasMap::decode,
    );
    assert_eq!(a, b);
    let c = run_n(
        "ioas_map_c",
        VARIANT_CASES,
        100,
        &seeds,
        &all,
        IoasMap::decode,
    );
    assert_ne!(a, c, "another seed explores other buffers");
}
