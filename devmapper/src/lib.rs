//! Linux device-mapper in safe Rust.
//!
//! This crate speaks the kernel's dm ioctl protocol on `/dev/mapper/control`
//! and implements libdevmapper's semantics (tasks, name mangling, udev
//! cookies, `/dev/mapper` nodes) with an explicit [`Context`] instead of
//! process-wide state. It is the core of libdevmapper-rs, whose C library
//! is a thin shell over it, but it carries no C symbol and no build script:
//! a Rust program gets Rust only.
//!
//! * [`DeviceMapper`]: the typed API (one method per operation).
//! * [`Task`](task::Task): the engine every operation goes through; also
//!   what the C library's `dm_task_*` calls drive.
//! * [`Context`]: device directory, mangling mode, udev synchronisation,
//!   pending node operations, logger.
//! * [`Error`]: the one error type, with libdevmapper's wording.
//!
//! ```no_run
//! use devmapper::{DevId, DeviceMapper, DmName, RemoveOptions, Target};
//! let dm = DeviceMapper::new()?;
//! let name = DmName::new("scratch")?;
//! dm.create_with_table(&name, None, &[Target::new(0, 8192, "zero", "")], false)?;
//! println!("{:?}", dm.info(&DevId::Name(name.clone()))?);
//! dm.remove(&DevId::Name(name), RemoveOptions::default())?;
//! # Ok::<(), devmapper::Error>(())
//! ```
//!
//! Layers, bottom up: [`kernel`] (ABI structs, pure codec, the control
//! device: the only `unsafe` of the crate, fenced file by file), the
//! libdevmapper semantics ([`task`], [`mangle`], [`udev`], [`nodes`],
//! [`devices`], [`tree`]), the typed API ([`dm`], [`names`]), and
//! libdevmapper's helpers ([`strings`], [`percent`], [`timestamp`],
//! [`report`]). [`ulog`] is a `dm-log-userspace` server (the dirty log of
//! `mirror` targets in userspace), as a library.

#![deny(unsafe_code)]
#![deny(missing_docs)]

#[macro_use]
pub mod log;
pub mod context;
pub mod devices;
pub mod dm;
pub mod error;
pub mod kernel;
pub mod mangle;
pub mod names;
pub mod nodes;
pub mod percent;
pub mod report;
pub mod secret;
pub mod small;
pub mod stats;
pub mod strings;
pub mod targets;
pub mod task;
pub mod timestamp;
pub mod tree;
pub mod udev;
pub mod ulog;
pub mod units;

pub use context::Context;
pub use dm::{
    ControlFd, CreateOptions, DepsIter, DepsReply, DevId, Device, DeviceInfo, DeviceMapper,
    DeviceState, ListReply, ListedDevice, ListedDeviceRef, MessageReply, RemoveOptions,
    ResumeOptions, StatusReply, SuspendOptions, TableReadOptions, TableReply, TableSource, Target,
    TargetRef, TargetStatus, TargetStatusRef, TargetVersion,
};
pub use error::{Error, ErrorKind, Result};
pub use kernel::abi;
pub use names::{DmName, DmUuid};
pub use secret::Secret;
pub use targets::{StatusLine, Table, TableLine, TargetStatusLine};
pub use udev::UdevFlags;
pub use units::{Bytes, Sectors};

/// The libdevmapper release whose behaviour and ABI this crate reproduces
/// (Debian 12's), in libdevmapper's own format.
pub const LIBDM_VERSION: &str = "1.02.185 (2022-05-18)";
