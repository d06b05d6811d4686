// SPDX-License-Identifier: GPL-2.0

//! iommufd-rs: `/dev/iommu`, the user API to control the IOMMU subsystem as it relates to
//! managing IO page tables that point at user space memory, in Rust.
//!
//! A drop-in replacement for the C `drivers/iommu/iommufd` of the pinned 6.12 tree. The pure
//! logic (uAPI decoding, IOVA bookkeeping, object table rules) lives in `core/src/` and is
//! shared, unchanged, with the host tests; the files here are the kernel shell around it.

use kernel::{
    c_str,
    miscdevice::{MiscDeviceOptions, MiscDeviceRegistration},
    prelude::*,
};

// The pure core is a crate of its own on the host (where its `pub` API is reachable and all of
// it is exercised by `cargo test`); here it is a private module of which the shell uses a part.
#[allow(unreachable_pub, dead_code)]
#[path = "core/src/lib.rs"]
pub(crate) mod iommufd_core;

mod access;
mod ctx;
mod device;
mod error;
mod fault;
mod hw_pagetable;
mod io_pagetable;
mod ioas;
mod ioctl;
mod kapi;
#[cfg(CONFIG_IOMMUFD_TEST)]
mod mock;
mod object;
mod pages;
mod pasid;
#[cfg(CONFIG_IOMMUFD_TEST)]
mod selftest;
mod shim;
mod storage;
mod test_hooks;
mod user;
mod vendor;
mod vfio_compat;

/// The `allow_unsafe_interrupts` module parameter (kept in `iommufd_shim.c`).
pub(crate) fn allow_unsafe_interrupts() -> bool {
    // SAFETY: Reads a module parameter; callable from any context.
    unsafe { shim::iommufd_rs_allow_unsafe_interrupts() }
}

module! {
    type: IommufdModule,
    name: "iommufd",
    author: "iommufd-rs developers",
    description: "I/O Address Space Management for passthrough devices (Rust)",
    license: "GPL",
}

struct IommufdModule {
    _iommu: Pin<KBox<MiscDeviceRegistration<ctx::IommufdCtx>>>,
    /// `/dev/vfio/vfio`, when iommufd provides the VFIO container.
    _vfio: Option<Pin<KBox<MiscDeviceRegistration<ctx::IommufdCtx>>>>,
    /// The selftest's fault attribute and mock IOMMU (C `iommufd_test_init`).
    #[cfg(CONFIG_IOMMUFD_TEST)]
    _test: selftest::TestRegistration,
}

impl kernel::Module for IommufdModule {
    fn init(module: &'static ThisModule) -> Result<Self> {
        // As C `iommu_misc_dev`: /dev/iommu, dynamic minor, mode 0660.
        let iommu = KBox::pin_init(
            MiscDeviceRegistration::register(
                MiscDeviceOptions {
                    name: c_str!("iommu"),
                    nodename: Some(c_str!("iommu")),
                    mode: 0o660,
                    minor: None,
                },
                module,
            ),
            GFP_KERNEL,
        )?;
        // As C `vfio_misc_dev`: the VFIO container node, fixed minor, mode 0666.
        let vfio = if cfg!(CONFIG_IOMMUFD_VFIO_CONTAINER) {
            Some(KBox::pin_init(
                MiscDeviceRegistration::register(
                    MiscDeviceOptions {
                        name: c_str!("vfio"),
                        nodename: Some(c_str!("vfio/vfio")),
                        mode: 0o666,
                        minor: Some(vfio_compat::VFIO_MINOR),
                    },
                    module,
                ),
                GFP_KERNEL,
            )?)
        } else {
            None
        };
        // For `iommufd_ctx_from_file`: the registrations are pinned and outlive every file.
        kapi::REGISTRATIONS[0].store(
            (&*iommu as *const MiscDeviceRegistration<ctx::IommufdCtx>).cast_mut(),
            core::sync::atomic::Ordering::Release,
        );
        if let Some(v) = &vfio {
            kapi::REGISTRATIONS[1].store(
                (&**v as *const MiscDeviceRegistration<ctx::IommufdCtx>).cast_mut(),
                core::sync::atomic::Ordering::Release,
            );
        }
        Ok(Self {
            _iommu: iommu,
            _vfio: vfio,
            #[cfg(CONFIG_IOMMUFD_TEST)]
            _test: selftest::TestRegistration::new()?,
        })
    }
}

impl Drop for IommufdModule {
    fn drop(&mut self) {
        for r in kapi::REGISTRATIONS.iter() {
            r.store(core::ptr::null_mut(), core::sync::atomic::Ordering::Release);
        }
    }
}
