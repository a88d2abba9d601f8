//! The libdevmapper C ABI: `#[no_mangle] extern "C"` functions with the stock
//! names, types and layouts, each a thin shell over the `devmapper` core.
//!
//! An export converts its arguments (pointer handling lives in [`ffi`]),
//! calls one core function, converts the result to the C layout, and prints
//! libdm's failure line from the core's [`Error`](devmapper::Error). All of
//! libdevmapper's process-wide state is the one [`CTX`]. Every export runs
//! inside [`ffi::guard`], so a panic never unwinds into C.
//!
//! One file per family: `task.rs` (`dm_task_*`), `lib_state.rs` (versions,
//! directories, init/release/exit, mangling), `log.rs`, `udev.rs`,
//! `device.rs`, `mem.rs`, `pool.rs` (`dm_pool_*`), `report.rs` (`dm_report_*`),
//! `tree.rs` (`dm_tree_*`, read side), `timestamp.rs`, `strings.rs`,
//! `percent.rs`, `stats.rs` (`dm_stats_*`) and `histogram.rs`
//! (`dm_histogram_*`); `consts.rs` holds the header's constants.

#![allow(non_camel_case_types)]
#![allow(clippy::missing_safety_doc)]

use devmapper::Context;

mod ffi;

pub mod consts;
pub mod device;
pub mod histogram;
pub mod lib_state;
pub mod log;
pub mod mem;
pub mod percent;
pub mod pool;
pub mod report;
pub mod stats;
pub mod strings;
pub mod task;
pub mod timestamp;
pub mod tree;
pub mod udev;

/// libdevmapper's process-wide state: the context every export works in.
pub(crate) static CTX: Context = Context::libdm_compatible();
