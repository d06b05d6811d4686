// SPDX-License-Identifier: GPL-2.0

//! The whole matrix of `iommufd_core::vendor`: every vendor configuration below, every kind of
//! HW page table, allocated ([`check_alloc`]) and attached to the RID, a PASID and a software
//! access ([`check_attach`]).
//!
//! The expected results are written out in [`EXPECTED`], one row per (vendor, kind), worked
//! out by hand from the 6.12 drivers (see the comments on each block), not derived from the
//! code under test. The check runs both ways: every row is compared with what the code
//! answers, and every (vendor, kind) the test enumerates on its own must have exactly one row.
//! The VT-d configurations are built from raw `cap_reg`/`ecap_reg` values, with the bit
//! positions written here again from the Intel driver's `iommu.h`.
//!
//! The counts are printed (`cargo test -- --nocapture`) so that they can be quoted.

use iommufd_core::errno::Errno;
use iommufd_core::vendor::{
    check_alloc, check_attach, HwptDesc, MockCaps, SmmuCaps, Target, Vendor, VtdCaps,
};

// The flags, as numbers of the uAPI (`enum iommufd_hwpt_alloc_flags`).
const NP: u32 = 1 << 0;
const DIRTY: u32 = 1 << 1;
const PASID: u32 = 1 << 3;

// ECAP bits (iommu.h: ecap_smpwc 48, ecap_flts 47, ecap_slts 46, ecap_slads 45, ecap_smts 43,
// ecap_pasid 40, ecap_pss 39:35, ecap_nest 26, ecap_sc_support 7, ecap_qis 1).
const SMPWC: u64 = 1 << 48;
const FLTS: u64 = 1 << 47;
const SLTS: u64 = 1 << 46;
const SLADS: u64 = 1 << 45;
const SMTS: u64 = 1 << 43;
const ECAP_PASID: u64 = 1 << 40;
const PSS_19: u64 = 19 << 35;
const NEST: u64 = 1 << 26;
const SC: u64 = 1 << 7;
const QIS: u64 = 1 << 1;
// A CAP register: 48-bit MGAW (47 << 16), SAGAW 4-level (bit 10), caching mode off.
const CAP: u64 = (47 << 16) | (1 << 10);

/// A PCI device with a 20-bit PASID capability.
const DEV_PASIDS: u32 = 1 << 20;

/// The vendor configurations: name, the vendor, and the device's `max_pasids` as the iommu
/// core computes it (the device's width capped by the IOMMU's).
fn vendors() -> Vec<(&'static str, Vendor, u32)> {
    let vtd = |ecap| Vendor::IntelVtd(VtdCaps::decode(CAP, ecap));
    let smmu = |max_pasids, dirty, s1| {
        Vendor::ArmSmmuV3(SmmuCaps {
            max_pasids,
            dirty,
            s1,
            s2: true,
        })
    };
    let mock = |pasid, dirty| Vendor::Mock(MockCaps { pasid, dirty });
    vec![
        // No scalable mode: context entries, no PASID table.
        ("vtd-legacy", vtd(SC | QIS), 0),
        // QEMU's x-scalable-mode=on: scalable mode, second stage, no PASID.
        ("vtd-sm", vtd(SC | QIS | SMTS | SLTS), 0),
        // Scalable mode with 20-bit PASIDs, no nesting, no dirty tracking.
        (
            "vtd-sm-pasid",
            vtd(SC | QIS | SMTS | SLTS | FLTS | ECAP_PASID | PSS_19),
            DEV_PASIDS,
        ),
        // Server parts: PASIDs, nesting and second-stage dirty tracking.
        (
            "vtd-nest-slads",
            vtd(SC | QIS | SMTS | SLTS | FLTS | ECAP_PASID | PSS_19 | NEST | SLADS | SMPWC),
            DEV_PASIDS,
        ),
        // First stage only: 6.12 has nowhere to put a user (second-stage) domain.
        (
            "vtd-sm-pasid-no-slts",
            vtd(SC | QIS | SMTS | FLTS | ECAP_PASID | PSS_19),
            DEV_PASIDS,
        ),
        ("smmu-pasid", smmu(DEV_PASIDS, true, true), DEV_PASIDS),
        ("smmu-no-pasid", smmu(0, false, true), 0),
        ("smmu-s2-only", smmu(DEV_PASIDS, false, false), DEV_PASIDS),
        ("mock-pasid", mock(true, true), DEV_PASIDS),
        ("mock", mock(false, true), 0),
        ("mock-pasid-no-dirty", mock(true, false), DEV_PASIDS),
    ]
}

/// The kinds of HW page table: name, flags, nested (nested ones come with driver data).
const KINDS: [(&str, u32, bool); 9] = [
    ("paging", 0, false),
    ("paging+pasid", PASID, false),
    ("nest-parent", NP, false),
    ("nest-parent+pasid", NP | PASID, false),
    ("dirty", DIRTY, false),
    ("dirty+pasid", DIRTY | PASID, false),
    ("nest-parent+dirty", NP | DIRTY, false),
    ("nested", 0, true),
    ("nested+pasid", PASID, true),
];

/// An expected result: allowed, `EINVAL` or `EOPNOTSUPP`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum X {
    Ok,
    Inval,
    NotSup,
}
use X::{Inval as IN, NotSup as NS, Ok as OK};

impl X {
    fn of(r: Result<(), iommufd_core::vendor::Refusal>) -> X {
        match r.map_err(|e| e.errno()) {
            Ok(()) => X::Ok,
            Err(Errno::EINVAL) => X::Inval,
            Err(Errno::EOPNOTSUPP) => X::NotSup,
            Err(e) => panic!("unexpected errno {}", e.name()),
        }
    }
}

/// (vendor, kind, alloc, RID, PASID, access).
#[rustfmt::skip]
const EXPECTED: &[(&str, &str, X, X, X, X)] = &[
    // Legacy VT-d: nothing but plain paging. Dirty domains (from another IOMMU) fail
    // prepare_domain_attach_device, nested ones have no nested translation here, and the
    // device has no PASIDs.
    ("vtd-legacy", "paging",            OK, OK, IN, OK),
    ("vtd-legacy", "paging+pasid",      NS, OK, IN, OK),
    ("vtd-legacy", "nest-parent",       NS, OK, IN, OK),
    ("vtd-legacy", "nest-parent+pasid", NS, OK, IN, OK),
    ("vtd-legacy", "dirty",             NS, IN, IN, OK),
    ("vtd-legacy", "dirty+pasid",       NS, IN, IN, OK),
    ("vtd-legacy", "nest-parent+dirty", NS, IN, IN, OK),
    ("vtd-legacy", "nested",            NS, IN, IN, OK),
    ("vtd-legacy", "nested+pasid",      NS, IN, IN, OK),
    // Scalable mode without PASID: the same answers.
    ("vtd-sm", "paging",            OK, OK, IN, OK),
    ("vtd-sm", "paging+pasid",      NS, OK, IN, OK),
    ("vtd-sm", "nest-parent",       NS, OK, IN, OK),
    ("vtd-sm", "nest-parent+pasid", NS, OK, IN, OK),
    ("vtd-sm", "dirty",             NS, IN, IN, OK),
    ("vtd-sm", "dirty+pasid",       NS, IN, IN, OK),
    ("vtd-sm", "nest-parent+dirty", NS, IN, IN, OK),
    ("vtd-sm", "nested",            NS, IN, IN, OK),
    ("vtd-sm", "nested+pasid",      NS, IN, IN, OK),
    // PASIDs: paging domains serve them; intel_iommu_set_dev_pasid refuses dirty ones (EINVAL)
    // and nested domains have no set_dev_pasid (EOPNOTSUPP).
    ("vtd-sm-pasid", "paging",            OK, OK, OK, OK),
    ("vtd-sm-pasid", "paging+pasid",      OK, OK, OK, OK),
    ("vtd-sm-pasid", "nest-parent",       NS, OK, OK, OK),
    ("vtd-sm-pasid", "nest-parent+pasid", NS, OK, OK, OK),
    ("vtd-sm-pasid", "dirty",             NS, IN, IN, OK),
    ("vtd-sm-pasid", "dirty+pasid",       NS, IN, IN, OK),
    ("vtd-sm-pasid", "nest-parent+dirty", NS, IN, IN, OK),
    ("vtd-sm-pasid", "nested",            NS, IN, NS, OK),
    ("vtd-sm-pasid", "nested+pasid",      NS, IN, NS, OK),
    // Everything allocates but a PASID-compatible dirty or nested domain, which no PASID
    // could take.
    ("vtd-nest-slads", "paging",            OK, OK, OK, OK),
    ("vtd-nest-slads", "paging+pasid",      OK, OK, OK, OK),
    ("vtd-nest-slads", "nest-parent",       OK, OK, OK, OK),
    ("vtd-nest-slads", "nest-parent+pasid", OK, OK, OK, OK),
    ("vtd-nest-slads", "dirty",             OK, OK, IN, OK),
    ("vtd-nest-slads", "dirty+pasid",       NS, OK, IN, OK),
    ("vtd-nest-slads", "nest-parent+dirty", OK, OK, IN, OK),
    ("vtd-nest-slads", "nested",            OK, OK, NS, OK),
    ("vtd-nest-slads", "nested+pasid",      NS, OK, NS, OK),
    // No second stage: intel_pasid_setup_second_level fails every attach of a user domain.
    ("vtd-sm-pasid-no-slts", "paging",            OK, IN, IN, OK),
    ("vtd-sm-pasid-no-slts", "paging+pasid",      NS, IN, IN, OK),
    ("vtd-sm-pasid-no-slts", "nest-parent",       NS, IN, IN, OK),
    ("vtd-sm-pasid-no-slts", "nest-parent+pasid", NS, IN, IN, OK),
    ("vtd-sm-pasid-no-slts", "dirty",             NS, IN, IN, OK),
    ("vtd-sm-pasid-no-slts", "dirty+pasid",       NS, IN, IN, OK),
    ("vtd-sm-pasid-no-slts", "nest-parent+dirty", NS, IN, IN, OK),
    ("vtd-sm-pasid-no-slts", "nested",            NS, IN, NS, OK),
    ("vtd-sm-pasid-no-slts", "nested+pasid",      NS, IN, NS, OK),
    // SMMUv3 on 6.12: stage-1 paging domains, with dirty tracking, on the RID and on PASIDs;
    // no nest parent, no nested domain. A nest parent would be stage 2 (no PASID), a nested
    // domain RID only.
    ("smmu-pasid", "paging",            OK, OK, OK, OK),
    ("smmu-pasid", "paging+pasid",      OK, OK, OK, OK),
    ("smmu-pasid", "nest-parent",       NS, OK, IN, OK),
    ("smmu-pasid", "nest-parent+pasid", NS, OK, IN, OK),
    ("smmu-pasid", "dirty",             OK, OK, OK, OK),
    ("smmu-pasid", "dirty+pasid",       OK, OK, OK, OK),
    ("smmu-pasid", "nest-parent+dirty", NS, OK, IN, OK),
    ("smmu-pasid", "nested",            NS, OK, IN, OK),
    ("smmu-pasid", "nested+pasid",      NS, OK, IN, OK),
    // No PASIDs on the device, no dirty tracking on this SMMU (a dirty domain can only come
    // from another SMMU, which arm_smmu_attach_dev refuses).
    ("smmu-no-pasid", "paging",            OK, OK, IN, OK),
    ("smmu-no-pasid", "paging+pasid",      NS, OK, IN, OK),
    ("smmu-no-pasid", "nest-parent",       NS, OK, IN, OK),
    ("smmu-no-pasid", "nest-parent+pasid", NS, OK, IN, OK),
    ("smmu-no-pasid", "dirty",             NS, IN, IN, OK),
    ("smmu-no-pasid", "dirty+pasid",       NS, IN, IN, OK),
    ("smmu-no-pasid", "nest-parent+dirty", NS, IN, IN, OK),
    ("smmu-no-pasid", "nested",            NS, OK, IN, OK),
    ("smmu-no-pasid", "nested+pasid",      NS, OK, IN, OK),
    // Stage 2 only: domains are stage 2, which arm_smmu_s1_set_dev_pasid refuses.
    ("smmu-s2-only", "paging",            OK, OK, IN, OK),
    ("smmu-s2-only", "paging+pasid",      NS, OK, IN, OK),
    ("smmu-s2-only", "nest-parent",       NS, OK, IN, OK),
    ("smmu-s2-only", "nest-parent+pasid", NS, OK, IN, OK),
    ("smmu-s2-only", "dirty",             NS, IN, IN, OK),
    ("smmu-s2-only", "dirty+pasid",       NS, IN, IN, OK),
    ("smmu-s2-only", "nest-parent+dirty", NS, IN, IN, OK),
    ("smmu-s2-only", "nested",            NS, OK, IN, OK),
    ("smmu-s2-only", "nested+pasid",      NS, OK, IN, OK),
    // The mock serves everything on a PASID device.
    ("mock-pasid", "paging",            OK, OK, OK, OK),
    ("mock-pasid", "paging+pasid",      OK, OK, OK, OK),
    ("mock-pasid", "nest-parent",       OK, OK, OK, OK),
    ("mock-pasid", "nest-parent+pasid", OK, OK, OK, OK),
    ("mock-pasid", "dirty",             OK, OK, OK, OK),
    ("mock-pasid", "dirty+pasid",       OK, OK, OK, OK),
    ("mock-pasid", "nest-parent+dirty", OK, OK, OK, OK),
    ("mock-pasid", "nested",            OK, OK, OK, OK),
    ("mock-pasid", "nested+pasid",      OK, OK, OK, OK),
    // Without PASIDs: no PASID-compatible HWPT, no PASID attach.
    ("mock", "paging",            OK, OK, IN, OK),
    ("mock", "paging+pasid",      NS, OK, IN, OK),
    ("mock", "nest-parent",       OK, OK, IN, OK),
    ("mock", "nest-parent+pasid", NS, OK, IN, OK),
    ("mock", "dirty",             OK, OK, IN, OK),
    ("mock", "dirty+pasid",       NS, OK, IN, OK),
    ("mock", "nest-parent+dirty", OK, OK, IN, OK),
    ("mock", "nested",            OK, OK, IN, OK),
    ("mock", "nested+pasid",      NS, OK, IN, OK),
    // NO_DIRTY: mock_domain_nop_attach refuses dirty domains on the RID; the mock's
    // set_dev_pasid does not look.
    ("mock-pasid-no-dirty", "paging",            OK, OK, OK, OK),
    ("mock-pasid-no-dirty", "paging+pasid",      OK, OK, OK, OK),
    ("mock-pasid-no-dirty", "nest-parent",       OK, OK, OK, OK),
    ("mock-pasid-no-dirty", "nest-parent+pasid", OK, OK, OK, OK),
    ("mock-pasid-no-dirty", "dirty",             NS, IN, OK, OK),
    ("mock-pasid-no-dirty", "dirty+pasid",       NS, IN, OK, OK),
    ("mock-pasid-no-dirty", "nest-parent+dirty", NS, IN, OK, OK),
    ("mock-pasid-no-dirty", "nested",            OK, OK, OK, OK),
    ("mock-pasid-no-dirty", "nested+pasid",      OK, OK, OK, OK),
];

fn actual(vendor: &Vendor, flags: u32, nested: bool, max_pasids: u32) -> [X; 4] {
    let hwpt = HwptDesc { flags, nested };
    [
        X::of(check_alloc(vendor, flags, nested, nested)),
        X::of(check_attach(vendor, &hwpt, Target::Rid, max_pasids)),
        X::of(check_attach(vendor, &hwpt, Target::Pasid, max_pasids)),
        X::of(check_attach(vendor, &hwpt, Target::Access, max_pasids)),
    ]
}

#[test]
fn vendor_matrix() {
    let vendors = vendors();
    let (mut checked, mut refused, mut allowed) = (0u32, 0u32, 0u32);
    let mut mismatches = Vec::new();

    // Table to code: every row is what the code answers.
    for &(vname, kname, alloc, rid, pasid, access) in EXPECTED {
        let (_, vendor, max) = vendors
            .iter()
            .find(|(n, _, _)| *n == vname)
            .unwrap_or_else(|| panic!("unknown vendor {vname}"));
        let &(_, flags, nested) = KINDS
            .iter()
            .find(|(n, _, _)| *n == kname)
            .unwrap_or_else(|| panic!("unknown kind {kname}"));
        let want = [alloc, rid, pasid, access];
        let got = actual(vendor, flags, nested, *max);
        for (i, (w, g)) in want.iter().zip(got.iter()).enumerate() {
            checked += 1;
            if *w == X::Ok {
                allowed += 1;
            } else {
                refused += 1;
            }
            if w != g {
                let col = ["alloc", "rid", "pasid", "access"][i];
                mismatches.push(format!("{vname} {kname} {col}: want {w:?}, got {g:?}"));
            }
        }
    }

    // Code to table: every combination enumerated here has exactly one row.
    for (vname, _, _) in &vendors {
        for (kname, _, _) in KINDS {
            let rows = EXPECTED
                .iter()
                .filter(|r| r.0 == *vname && r.1 == kname)
                .count();
            if rows != 1 {
                mismatches.push(format!("{vname} {kname}: {rows} rows"));
            }
        }
    }
    assert_eq!(EXPECTED.len(), vendors.len() * KINDS.len());

    eprintln!(
        "vendor matrix: {} vendors x {} kinds x (alloc + 3 targets): {checked} cases checked, \
         {refused} refused, {allowed} allowed",
        vendors.len(),
        KINDS.len()
    );
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

/// Properties of the table itself: what iommufd promises with `IOMMU_HWPT_ALLOC_PASID` holds,
/// and the software path is never refused.
#[test]
fn table_properties() {
    for &(vname, kname, alloc, _, pasid, access) in EXPECTED {
        assert_eq!(access, X::Ok, "{vname} {kname}");
        let &(_, flags, _) = KINDS.iter().find(|(n, _, _)| *n == kname).unwrap();
        if flags & PASID != 0 && alloc == X::Ok {
            assert_eq!(
                pasid,
                X::Ok,
                "{vname} {kname}: PASID-compatible but no PASID"
            );
        }
    }
}

/// The device `max_pasids` of each configuration fits what the vendor allows.
#[test]
fn device_pasids_fit_the_vendor() {
    for (name, vendor, max) in vendors() {
        assert!(max <= vendor.max_pasids(), "{name}");
    }
}

/// The rule names are short, prefixed by their layer, and stable: the same case gives the
/// same name.
#[test]
fn every_refusal_names_its_rule() {
    let mut seen = std::collections::BTreeSet::new();
    for (_, vendor, max) in vendors() {
        for (_, flags, nested) in KINDS {
            let hwpt = HwptDesc { flags, nested };
            let results = [
                check_alloc(&vendor, flags, nested, nested),
                check_attach(&vendor, &hwpt, Target::Rid, max),
                check_attach(&vendor, &hwpt, Target::Pasid, max),
            ];
            for r in results.into_iter().filter_map(|r| r.err()) {
                let rule = r.rule();
                assert!(rule.len() < 64, "{rule}");
                assert!(
                    ["vtd: ", "smmuv3: ", "mock: ", "alloc: ", "pasid: "]
                        .iter()
                        .any(|p| rule.starts_with(p)),
                    "{rule}"
                );
                seen.insert(rule);
            }
        }
    }
    eprintln!("vendor matrix: {} distinct rules hit", seen.len());
}
