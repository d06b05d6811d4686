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

#endif
