// SPDX-License-Identifier: GPL-2.0

//! The fault file's records and cookies against plain models: the response-cookie allocator
//! against a set scanned from 1 through random allocate/answer sequences (what a fault
//! object's reads and writes do to `fault->response`), and the record codecs against byte
//! layouts written out field by field.

use iommufd_core::{
    errno::Errno,
    ucmd::fault::{
        alloc_cookie, check_read, check_write, group_fits, PageResponse, PageResponseCode, PgFault,
    },
};
use proptest::prelude::*;
use std::collections::BTreeSet;

/// C `xa_alloc()` on an `XA_FLAGS_ALLOC1` xarray with `xa_limit_32b`, by brute force.
fn model_alloc(used: &BTreeSet<u32>) -> Option<u32> {
    (1..=u32::MAX).find(|c| !used.contains(c))
}

#[derive(Clone, Debug)]
enum Op {
    /// A group is read: it gets a cookie.
    Read,
    /// The `n`-th pending group (modulo their number) is answered.
    Answer(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![3 => Just(Op::Read), 2 => any::<usize>().prop_map(Op::Answer)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn cookies_match_the_model(ops in prop::collection::vec(op(), 1..80)) {
        let mut used = BTreeSet::new();
        for op in ops {
            match op {
                Op::Read => {
                    let c = alloc_cookie(used.iter().copied());
                    prop_assert_eq!(c.ok(), model_alloc(&used));
                    prop_assert!(used.insert(c.unwrap()));
                }
                Op::Answer(n) => {
                    if let Some(&c) = used.iter().nth(n % used.len().max(1)) {
                        used.remove(&c);
                    }
                }
            }
        }
    }

    #[test]
    fn pgfault_bytes_match_the_c_struct(
        flags: u32, dev_id: u32, pasid: u32, grpid: u32, perm: u32, addr: u64, cookie: u32,
    ) {
        let f = PgFault { flags, dev_id, pasid, grpid, perm, addr, cookie };
        // `struct iommu_hwpt_pgfault` written out member by member.
        let mut want = Vec::new();
        for v in [flags, dev_id, pasid, grpid, perm, 0] {
            want.extend_from_slice(&v.to_ne_bytes());
        }
        want.extend_from_slice(&addr.to_ne_bytes());
        want.extend_from_slice(&0u32.to_ne_bytes());
        want.extend_from_slice(&cookie.to_ne_bytes());
        prop_assert_eq!(&f.encode()[..], &want[..]);
        prop_assert_eq!(PgFault::decode(&want), f);
    }

    #[test]
    fn page_responses_match_the_model(bytes: [u8; 8], short in 0usize..=8) {
        // Any buffer, also a short one (reads as zero past its end).
        let buf = &bytes[..short];
        let mut full = [0u8; 8];
        full[..short].copy_from_slice(buf);
        let cookie = u32::from_ne_bytes(full[0..4].try_into().unwrap());
        let code = u32::from_ne_bytes(full[4..8].try_into().unwrap());
        let want = match code {
            0 => Ok(PageResponse { cookie, code: PageResponseCode::Success }),
            1 => Ok(PageResponse { cookie, code: PageResponseCode::Invalid }),
            _ => Err(Errno::EINVAL),
        };
        let got = PageResponse::decode(buf);
        prop_assert_eq!(got, want);
        if let Ok(r) = got {
            prop_assert_eq!(r.encode(), full);
        }
    }

    #[test]
    fn read_sizes_match_c(count in 0usize..400, pos in -2i64..3, done in 0usize..400, n in 0usize..12) {
        prop_assert_eq!(check_read(count, pos).is_ok(), pos == 0 && count % 40 == 0);
        prop_assert_eq!(check_write(count, pos).is_ok(), pos == 0 && count % 8 == 0);
        // C: `done >= count || group->fault_count * fault_size > count - done` stops the read.
        let stop = done >= count || n * 40 > count - done;
        prop_assert_eq!(group_fits(done, count, n), !stop);
    }
}
