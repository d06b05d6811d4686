// SPDX-License-Identifier: GPL-2.0

//! The core's ioctl table against the C headers: compiles a small C program against our
//! `include/uapi/linux/iommufd.h` and `drivers/iommufd/iommufd_test.h` (what the selftests
//! are built with) and checks every op's number, `sizeof` and `offsetofend(last)`.

use iommufd_core::uapi::{Cmd, OPS};
use std::{path::PathBuf, process::Command};

const PROBE: &str = r#"
#include <stdio.h>
#include <stddef.h>
#include <stdbool.h>
#include <linux/types.h>
#include <linux/iommufd.h>
#include "iommufd_test.h"
#define offsetofend(T, m) (offsetof(T, m) + sizeof(((T *)0)->m))
#define P(ioc, T, last) printf("%u %zu %zu\n", (unsigned)(ioc), sizeof(T), offsetofend(T, last))
int main(void)
{
	P(IOMMU_DESTROY, struct iommu_destroy, id);
	P(IOMMU_IOAS_ALLOC, struct iommu_ioas_alloc, out_ioas_id);
	P(IOMMU_IOAS_ALLOW_IOVAS, struct iommu_ioas_allow_iovas, allowed_iovas);
	P(IOMMU_IOAS_COPY, struct iommu_ioas_copy, src_iova);
	P(IOMMU_IOAS_IOVA_RANGES, struct iommu_ioas_iova_ranges, out_iova_alignment);
	P(IOMMU_IOAS_MAP, struct iommu_ioas_map, iova);
	P(IOMMU_IOAS_UNMAP, struct iommu_ioas_unmap, length);
	P(IOMMU_OPTION, struct iommu_option, val64);
	P(IOMMU_VFIO_IOAS, struct iommu_vfio_ioas, __reserved);
	P(IOMMU_HWPT_ALLOC, struct iommu_hwpt_alloc, __reserved);
	P(IOMMU_GET_HW_INFO, struct iommu_hw_info, __reserved);
	P(IOMMU_HWPT_SET_DIRTY_TRACKING, struct iommu_hwpt_set_dirty_tracking, __reserved);
	P(IOMMU_HWPT_GET_DIRTY_BITMAP, struct iommu_hwpt_get_dirty_bitmap, data);
	P(IOMMU_HWPT_INVALIDATE, struct iommu_hwpt_invalidate, __reserved);
	P(IOMMU_FAULT_QUEUE_ALLOC, struct iommu_fault_alloc, out_fault_fd);
	P(IOMMU_TEST_CMD, struct iommu_test_cmd, last);
	return 0;
}
"#;

#[test]
fn ops_match_the_c_headers() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../..");
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let src = out.join("uapi_probe.c");
    let bin = out.join("uapi_probe");
    std::fs::write(&src, PROBE).unwrap();
    let cc = Command::new("cc")
        .arg("-isystem")
        .arg(root.join("include/uapi"))
        .arg("-I")
        .arg(root.join("drivers/iommufd"))
        .arg(&src)
        .arg("-o")
        .arg(&bin)
        .status()
        .expect("a C compiler (cc) is needed for this test");
    assert!(cc.success(), "the uAPI probe did not compile");
    let run = Command::new(&bin).output().unwrap();
    assert!(run.status.success());
    let text = String::from_utf8(run.stdout).unwrap();
    let rows: Vec<(u32, usize, usize)> = text
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            (
                f[0].parse().unwrap(),
                f[1].parse().unwrap(),
                f[2].parse().unwrap(),
            )
        })
        .collect();
    assert_eq!(rows.len(), OPS.len());
    for (op, (num, size, min)) in OPS.iter().zip(rows) {
        assert_eq!(op.cmd.ioctl_num(), num, "{:?} number", op.cmd);
        assert_eq!(op.size, size, "{:?} sizeof", op.cmd);
        assert_eq!(op.min_size, min, "{:?} offsetofend(last)", op.cmd);
    }
    assert_eq!(OPS.last().map(|o| o.cmd), Some(Cmd::Test));
}
