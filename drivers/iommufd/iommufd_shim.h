/* SPDX-License-Identifier: GPL-2.0 */
/* iommufd-rs: functions of iommufd_shim.c, called from Rust (see its extern block). */
#ifndef IOMMUFD_RS_SHIM_H
#define IOMMUFD_RS_SHIM_H

#include <linux/types.h>

struct file;

bool iommufd_rs_allow_unsafe_interrupts(void);
void iommufd_rs_get_file(struct file *file);
bool iommufd_rs_should_fail(void);
int iommufd_rs_test_init(void);
void iommufd_rs_test_exit(void);

struct iommu_dirty_bitmap;
struct rw_semaphore;
struct xarray;

int iommufd_rs_mock_ida_alloc(void);
void iommufd_rs_mock_ida_free(int id);
void iommufd_rs_mock_xa_init(struct xarray *xa);
void iommufd_rs_mock_init_rwsem(struct rw_semaphore *sem);
void iommufd_rs_dirty_bitmap_record(struct iommu_dirty_bitmap *dirty, unsigned long iova,
				    unsigned long length);
void iommufd_rs_warn(const char *file, int line);

#endif
