// SPDX-License-Identifier: GPL-2.0

//! Rate-limited logging.
//!
//! C header: [`include/linux/printk.h`](srctree/include/linux/printk.h)

use crate::{bindings, str::CStr};

/// Whether a line may be logged now, under the kernel's shared printk rate limit (C
/// `printk_ratelimit()`): at most `printk_ratelimit_burst` lines per
/// `printk_ratelimit` seconds, counted for all callers together. `name` appears in the
/// "callbacks suppressed" line the kernel prints after a suppressed burst.
///
/// # Examples
///
/// ```
/// use kernel::{c_str, ratelimit::printk_ratelimit};
///
/// if printk_ratelimit(c_str!("my_driver")) {
///     pr_info!("something happened\n");
/// }
/// ```
pub fn printk_ratelimit(name: &'static CStr) -> bool {
    // SAFETY: `name` is NUL-terminated and lives for the whole run (`'static`), as the
    // rate-limit state keeps it for its message; the function takes its own spinlock
    // (trylock) and may be called from any context.
    unsafe { bindings::__printk_ratelimit(name.as_char_ptr()) != 0 }
}
