/* SPDX-License-Identifier: GPL-2.0 */
/*
 * iommufd-rs: the PASID attach kind of the exported kernel API (namespace IOMMUFD).
 *
 * The 6.12 kAPI (include/linux/iommufd.h) attaches a page table to a bound device's RID
 * only. These calls attach a PASID-compatible HWPT (allocated with IOMMU_HWPT_ALLOC_PASID)
 * to one PASID of the device. The rules and errnos are upstream's; see
 * Documentation/attach.md.
 */
#ifndef __LINUX_IOMMUFD_PASID_H
#define __LINUX_IOMMUFD_PASID_H

#include <linux/types.h>

struct iommufd_device;

/* Attach the HWPT *pt_id to @pasid of @idev. An IOAS is refused (EINVAL). */
int iommufd_device_pasid_attach(struct iommufd_device *idev, u32 pasid, u32 *pt_id);
/*
 * Move @pasid of @idev from its current HWPT to *pt_id. 6.12's iommu core has no PASID
 * replace, so this is a detach and an attach; on failure the old HWPT is attached again.
 */
int iommufd_device_pasid_replace(struct iommufd_device *idev, u32 pasid, u32 *pt_id);
/* Detach @pasid of @idev; a PASID from iommufd_device_pasid_assign() is freed. */
void iommufd_device_pasid_detach(struct iommufd_device *idev, u32 pasid);
/*
 * Allocate a PASID from the global PASID space (iommu_alloc_global_pasid), attach *pt_id to
 * it and return it in *pasid. It is freed by iommufd_device_pasid_detach() or on unbind.
 */
int iommufd_device_pasid_assign(struct iommufd_device *idev, u32 *pt_id, u32 *pasid);

#endif
