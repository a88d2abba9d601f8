//! The kernel interface: ABI layouts, pure encode/decode, and the control device.
//! `unsafe` in the core is confined to this module (the ioctl and a few syscalls).

pub mod abi;
pub mod codec;
pub mod control;
pub mod fiemap;
pub mod sys;
