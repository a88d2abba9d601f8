//! `dm-log-userspace`: a userspace dirty-log server for `mirror` targets.
//!
//! A mirror table with a `userspace` log hands every dirty-log call (is
//! this region clean, in sync; mark, clear, flush; what to resync next) to
//! a server in userspace over the netlink connector:
//!
//! ```text
//! 0 <len> mirror userspace 4 <uuid> clustered-disk <logdev> <region_size> 2 <dev0> 0 <dev1> 0
//! 0 <len> mirror userspace 3 <uuid> clustered-core <region_size> 2 <dev0> 0 <dev1> 0
//! ```
//!
//! This module is such a server, as a library (the `dm-ulogd` daemon is a
//! thin shell over it):
//!
//! * [`abi`]: the `#[repr(C)]` layouts (`dm_ulog_request`, `cn_msg`,
//!   `nlmsghdr`) with compile-time checks, constants, request types.
//! * [`codec`]: pure decode of requests and encode of replies (no I/O).
//! * [`ctr`]: the constructor string; [`bitset`]: region bits; [`disk`]:
//!   the kernel `disk` log's on-disk format and the `O_DIRECT` log device.
//! * [`log`]: one log's semantics; [`table`]: every log of a server and the
//!   request dispatch; [`state`]: state files that let a restarted server
//!   take live mirrors back exactly.
//! * [`socket`]: the connector socket (the only `unsafe` here);
//!   [`server`]: transport rules, the [`Router`] seam a
//!   cluster layer plugs into, and the receive/answer loop step.
//!
//! ```no_run
//! use devmapper::ulog::{server::{LocalRouter, Server}, socket::ConnectorSocket, table::{LogTable, TableOptions}};
//! let socket = ConnectorSocket::open()?;
//! let table = LogTable::new(TableOptions::default(), None)?;
//! let mut server = Server::new(socket, table, LocalRouter, None);
//! loop {
//!     // poll(server.fd()) for input, then:
//!     server.process(16).map_err(|e| devmapper::Error::new(devmapper::ErrorKind::Io, e.to_string()))?;
//! #   break;
//! }
//! # Ok::<(), devmapper::Error>(())
//! ```

pub mod abi;
pub mod bitset;
pub mod cluster;
pub mod codec;
pub mod ctr;
pub mod disk;
pub mod log;
pub mod server;
pub mod socket;
pub mod state;
pub mod table;

pub use codec::{Header, RawRequest, Request, Uuid};
pub use server::{Dispatcher, LocalRouter, Router, Server};
pub use table::{LogTable, Outcome, TableOptions};
