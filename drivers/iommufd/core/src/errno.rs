// SPDX-License-Identifier: GPL-2.0

//! Error numbers, as the core reports them.
//!
//! The core cannot use `kernel::error::Error`, so it has its own small type carrying the
//! positive errno value; the kernel shell turns it into an `Error` at the boundary.

/// A positive Linux errno value.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Errno(pub i32);

macro_rules! errnos {
    ($($name:ident = $val:literal,)*) => {
        impl Errno {
            $(
                #[allow(missing_docs)]
                pub const $name: Errno = Errno($val);
            )*

            /// The symbolic name (`"EINVAL"`), for messages and test output.
            pub fn name(self) -> &'static str {
                match self.0 {
                    $($val => stringify!($name),)*
                    _ => "E?",
                }
            }
        }
    };
}

// Values from include/uapi/asm-generic/errno-base.h and errno.h (x86 and arm64 share them).
errnos! {
    EPERM = 1,
    EIO = 5,
    EBADF = 9,
    ENOENT = 2,
    EFAULT = 14,
    EBUSY = 16,
    EEXIST = 17,
    ENODEV = 19,
    EINVAL = 22,
    ENOSPC = 28,
    ESPIPE = 29,
    ENOMEM = 12,
    ENOTTY = 25,
    E2BIG = 7,
    EDEADLOCK = 35,
    EMSGSIZE = 90,
    EOPNOTSUPP = 95,
    EOVERFLOW = 75,
    ERANGE = 34,
    EADDRINUSE = 98,
    EBADFD = 77,
}

/// The core's result type.
pub type Result<T = ()> = core::result::Result<T, Errno>;
