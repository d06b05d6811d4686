// SPDX-License-Identifier: GPL-2.0

//! Platform devices.
//!
//! C header: [`include/linux/platform_device.h`](srctree/include/linux/platform_device.h).

use core::ptr::NonNull;
use kernel::{bindings, device::Device, error::from_err_ptr, prelude::*, str::CStr};

/// A platform device without a driver, registered by a module (C
/// `platform_device_register_simple()`-like, through `platform_device_register_full()`);
/// dropping it is C `platform_device_unregister()`.
///
/// # Invariants
///
/// `pdev` is a registered platform device, registered by this value.
pub struct PlatformDevice {
    pdev: NonNull<bindings::platform_device>,
}

// SAFETY: The device is refcounted and may be unregistered from any thread.
unsafe impl Send for PlatformDevice {}
// SAFETY: `&PlatformDevice` only gives the device and its name.
unsafe impl Sync for PlatformDevice {}

impl PlatformDevice {
    /// Registers a platform device called `name` (id `PLATFORM_DEVID_NONE`).
    pub fn register(name: &'static CStr) -> Result<Self> {
        // SAFETY: All-zero is a valid `platform_device_info`.
        let mut info: bindings::platform_device_info = unsafe { core::mem::zeroed() };
        info.name = name.as_char_ptr();
        // SAFETY: `info` is valid for the call; the name is static.
        let pdev = from_err_ptr(unsafe { bindings::platform_device_register_full(&info) })?;
        // INVARIANT: Registered just above.
        Ok(Self {
            pdev: NonNull::new(pdev).ok_or(ENOMEM)?,
        })
    }

    /// The device.
    pub fn device(&self) -> &Device {
        // SAFETY: The platform device is registered (type invariant), so its device is live
        // while `self` is.
        unsafe { Device::as_ref(&raw mut (*self.pdev.as_ptr()).dev) }
    }

    /// The device's name (C `dev_name()`).
    pub fn name(&self) -> &CStr {
        // SAFETY: A registered device has its name, a NUL-terminated string that lives as long
        // as the device.
        unsafe { CStr::from_char_ptr((*self.pdev.as_ptr()).dev.kobj.name) }
    }
}

impl Drop for PlatformDevice {
    fn drop(&mut self) {
        // SAFETY: Registered by `register` (type invariant), unregistered once.
        unsafe { bindings::platform_device_unregister(self.pdev.as_ptr()) };
    }
}
