// SPDX-License-Identifier: GPL-2.0

//! iommufd-rs: `/dev/iommu`, the user API to control the IOMMU subsystem as it relates to
//! managing IO page tables that point at user space memory, in Rust.
//!
//! A drop-in replacement for the C `drivers/iommu/iommufd` of the pinned 6.12 tree. The pure
//! logic (uAPI decoding, IOVA bookkeeping, object table rules) lives in `core/src/` and is
//! shared, unchanged, with the host tests; the files here are the kernel shell around it.

use core::sync::atomic::{AtomicPtr, Ordering};
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
mod debugfs;
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
mod registry;
#[cfg(CONFIG_IOMMUFD_TEST)]
mod selftest;
mod shim;
mod storage;
mod test_hooks;
mod user;
mod vendor;
mod vfio_compat;

/// The debugfs view's registry of contexts, for contexts to register in at open and leave at
/// close. Set at module init before the misc devices exist, cleared in the module's drop
/// before the view (which owns the registry) goes.
static DEBUGFS_REGISTRY: AtomicPtr<registry::Registry> = AtomicPtr::new(core::ptr::null_mut());

/// The registry of [`DEBUGFS_REGISTRY`], if the module is initialised.
pub(crate) fn debugfs_registry() -> Option<&'static registry::Registry> {
    let reg = DEBUGFS_REGISTRY.load(Ordering::Acquire);
    // SAFETY: A non-null pointer is the registry of the module's `DebugfsView`, which lives
    // until the module goes; every caller is a context, which keeps the module loaded (its
    // file holds a module reference), so the registry outlives the borrow.
    unsafe { reg.as_ref() }
}

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
    /// `/sys/kernel/debug/iommufd/`: dropped last, after the devices no context can be opened
    /// on any more.
    _debugfs: debugfs::DebugfsView,
}

impl kernel::Module for IommufdModule {
    fn init(module: &'static ThisModule) -> Result<Self> {
        // First: contexts register in it from their open on.
        let debugfs = debugfs::DebugfsView::new(module)?;
        DEBUGFS_REGISTRY.store(
            core::ptr::from_ref(debugfs.registry()).cast_mut(),
            Ordering::Release,
        );
        Self::register(module, debugfs).inspect_err(|_| {
            // The view goes with the error: nothing may find its registry.
            DEBUGFS_REGISTRY.store(core::ptr::null_mut(), Ordering::Release);
        })
    }
}

impl IommufdModule {
    /// The rest of [`kernel::Module::init`]: the misc devices and the selftest.
    fn register(module: &'static ThisModule, debugfs: debugfs::DebugfsView) -> Result<Self> {
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
            _debugfs: debugfs,
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
        DEBUGFS_REGISTRY.store(core::ptr::null_mut(), Ordering::Release);
    }
}
