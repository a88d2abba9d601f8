//! libdevmapper-rs: Linux device-mapper userspace in Rust.
//!
//! Layers, bottom up: [`kernel`] (ABI structs, pure codec, the control device),
//! the libdevmapper semantics shared by both front ends ([`task`], [`mangle`],
//! [`udev`], [`nodes`]), the safe Rust API ([`dm`]), and the C ABI shell
//! (`capi`, exported as `libdevmapper.so`).

#![deny(unsafe_op_in_unsafe_fn)]

#[macro_use]
pub mod log;
pub mod config;
pub mod kernel;

pub use kernel::abi;
pub mod devices;
pub mod dm;
pub mod mangle;
pub mod nodes;
pub mod secret;
pub mod state;
pub mod targets;
pub mod task;
pub mod udev;
pub mod units;
