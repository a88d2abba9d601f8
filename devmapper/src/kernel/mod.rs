//! The kernel interface: ABI layouts, pure encode/decode, and the control device.
//! `unsafe` in the core is confined to this module: `control.rs` (the ioctl)
//! and `sys.rs` (a few other syscalls) allow it, nothing else does.

pub mod abi;
pub mod codec;
pub mod control;
pub mod fiemap;
pub mod sys;
