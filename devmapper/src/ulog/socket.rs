//! The netlink connector socket the kernel's userspace logs talk through.
//!
//! `socket(AF_NETLINK, SOCK_DGRAM, NETLINK_CONNECTOR)`, bound with port id
//! 0 (the kernel assigns one), member of multicast group `CN_IDX_DM` (7):
//! the kernel broadcasts every request to that group, and takes replies
//! sent to port 0 (itself). Two privileges are needed:
//!
//! * joining the group needs `CAP_NET_ADMIN` (the connector does not let
//!   unprivileged sockets receive);
//! * the kernel silently drops replies from senders without
//!   `CAP_SYS_ADMIN` (`cn_ulog_callback`), which would leave every mirror
//!   waiting: [`ConnectorSocket::open`] checks for it first and says so.
//!
//! Requests are read many at a time (`recvmmsg`) and replies sent many at a
//! time (`sendmmsg`), without blocking. One of the few files of the crate
//! allowed `unsafe`: the socket calls themselves.

#![allow(unsafe_code)]

use super::abi::{CN_IDX_DM, NETLINK_ADD_MEMBERSHIP, NETLINK_CONNECTOR, SOL_NETLINK};
use crate::error::{Error, ErrorKind};
use std::io;
use std::mem::{size_of, zeroed};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// Bytes per received datagram (the kernel's are at most 16 + 512).
pub const RECV_BUF_SIZE: usize = 2048;
/// Datagrams per `recvmmsg`/`sendmmsg` call, at most.
pub const BATCH: usize = 32;
/// Datagrams a `recvmmsg` asks for at least: the batch grows (doubling, up
/// to [`BATCH`]) while receives come back full and shrinks to twice what
/// the last one got, so a mirror at queue depth 1 (one request at a time)
/// does not pay for setting up 32 headers per request.
const MIN_BATCH: usize = 4;
/// `CAP_NET_ADMIN` (`linux/capability.h`).
const CAP_NET_ADMIN: u32 = 12;
/// `CAP_SYS_ADMIN` (`linux/capability.h`).
const CAP_SYS_ADMIN: u32 = 21;
/// Receive buffer asked for (`SO_RCVBUFFORCE`, else `SO_RCVBUF`).
const RCVBUF: libc::c_int = 1 << 20;

/// The capability bits that matter here, from `/proc/self/status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capabilities {
    /// `CAP_SYS_ADMIN`: the kernel accepts our replies.
    pub sys_admin: bool,
    /// `CAP_NET_ADMIN`: we may join the connector group.
    pub net_admin: bool,
}

impl Capabilities {
    /// The effective capabilities of this process (`None` when
    /// `/proc/self/status` cannot be read).
    pub fn current() -> Option<Capabilities> {
        Capabilities::parse(&std::fs::read_to_string("/proc/self/status").ok()?)
    }

    /// Read the `CapEff:` line of a `/proc/<pid>/status` text.
    pub fn parse(status: &str) -> Option<Capabilities> {
        let hex = status
            .lines()
            .find_map(|l| l.strip_prefix("CapEff:"))?
            .trim();
        let bits = u64::from_str_radix(hex, 16).ok()?;
        Some(Capabilities {
            sys_admin: bits & (1 << CAP_SYS_ADMIN) != 0,
            net_admin: bits & (1 << CAP_NET_ADMIN) != 0,
        })
    }
}

fn os_error(what: &str) -> Error {
    let e = io::Error::last_os_error();
    let errno = e.raw_os_error().unwrap_or(libc::EIO);
    Error::from_errno(
        errno,
        format!("{what}: {}", crate::kernel::sys::strerror(errno)),
    )
}

/// The connector socket.
#[derive(Debug)]
pub struct ConnectorSocket {
    fd: OwnedFd,
    port: u32,
}

/// One datagram of a [`RecvBatch`].
#[derive(Clone, Copy, Debug)]
pub struct Received<'a> {
    /// The bytes received.
    pub data: &'a [u8],
    /// The sender's port id (0: the kernel).
    pub sender: u32,
    /// The datagram was longer than the buffer (`MSG_TRUNC`).
    pub truncated: bool,
}

/// Buffers for up to [`BATCH`] datagrams.
pub struct RecvBatch {
    bufs: Vec<[u8; RECV_BUF_SIZE]>,
    meta: [(usize, u32, bool); BATCH],
    n: usize,
    /// Buffers the next receive offers.
    want: usize,
    /// Buffers the last receive offered.
    offered: usize,
}

impl std::fmt::Debug for RecvBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RecvBatch({} received)", self.n)
    }
}

impl Default for RecvBatch {
    fn default() -> Self {
        RecvBatch::new()
    }
}

impl RecvBatch {
    /// Empty buffers.
    pub fn new() -> RecvBatch {
        RecvBatch {
            bufs: vec![[0u8; RECV_BUF_SIZE]; BATCH],
            meta: [(0, 0, false); BATCH],
            n: 0,
            want: MIN_BATCH,
            offered: 0,
        }
    }

    /// How many datagrams the last receive got.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Whether the last receive filled every buffer it offered (more may
    /// be queued).
    pub fn was_full(&self) -> bool {
        self.n > 0 && self.n >= self.offered
    }

    /// Whether the last receive got none.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Datagram `i` of the last receive.
    pub fn get(&self, i: usize) -> Option<Received<'_>> {
        if i >= self.n {
            return None;
        }
        let (len, sender, truncated) = *self.meta.get(i)?;
        let buf = self.bufs.get(i)?;
        Some(Received {
            data: buf.get(..len.min(RECV_BUF_SIZE))?,
            sender,
            truncated,
        })
    }
}

fn kernel_addr() -> libc::sockaddr_nl {
    // SAFETY: sockaddr_nl is plain integers; all-zero is valid.
    let mut a: libc::sockaddr_nl = unsafe { zeroed() };
    a.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    a
}

impl ConnectorSocket {
    /// Open, bind and join `CN_IDX_DM`. Fails with a message naming the
    /// missing privilege when the process lacks `CAP_SYS_ADMIN` or
    /// `CAP_NET_ADMIN`.
    pub fn open() -> Result<ConnectorSocket, Error> {
        if let Some(c) = Capabilities::current() {
            if !c.sys_admin {
                return Err(Error::new(
                    ErrorKind::PermissionDenied,
                    "CAP_SYS_ADMIN is needed: the kernel drops dm-log-userspace replies from \
                     senders without it (run as root)",
                )
                .with_errno(libc::EPERM));
            }
        }
        // SAFETY: plain socket(2) call with constant arguments.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_DGRAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
                NETLINK_CONNECTOR,
            )
        };
        if fd < 0 {
            let e = os_error("cannot open a netlink connector socket");
            return Err(if e.errno() == Some(libc::EPROTONOSUPPORT) {
                e.with_note("the kernel has no netlink connector (CONFIG_CONNECTOR)")
            } else {
                e
            });
        }
        // SAFETY: fd is a fresh descriptor we own; OwnedFd closes it.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let addr = kernel_addr();
        // SAFETY: addr is a valid sockaddr_nl and the length is its size.
        let r = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&addr as *const libc::sockaddr_nl).cast(),
                size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if r < 0 {
            return Err(os_error("cannot bind the netlink connector socket"));
        }
        let group: libc::c_int = CN_IDX_DM as libc::c_int;
        // SAFETY: the option value is a live c_int and its size is given.
        let r = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                SOL_NETLINK,
                NETLINK_ADD_MEMBERSHIP,
                (&group as *const libc::c_int).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if r < 0 {
            let e = os_error("cannot join the device-mapper connector group (CN_IDX_DM)");
            return Err(
                if matches!(e.errno(), Some(libc::EPERM) | Some(libc::EACCES)) {
                    e.with_kind(ErrorKind::PermissionDenied)
                        .with_note("joining it needs CAP_NET_ADMIN (run as root)")
                } else {
                    e
                },
            );
        }
        for opt in [libc::SO_RCVBUFFORCE, libc::SO_RCVBUF] {
            // SAFETY: the option value is a live c_int and its size is given.
            let r = unsafe {
                libc::setsockopt(
                    fd.as_raw_fd(),
                    libc::SOL_SOCKET,
                    opt,
                    (&RCVBUF as *const libc::c_int).cast(),
                    size_of::<libc::c_int>() as libc::socklen_t,
                )
            };
            if r == 0 {
                break;
            }
        }
        let mut bound = kernel_addr();
        let mut len = size_of::<libc::sockaddr_nl>() as libc::socklen_t;
        // SAFETY: bound/len describe a writable sockaddr_nl of that size.
        let r = unsafe {
            libc::getsockname(
                fd.as_raw_fd(),
                (&mut bound as *mut libc::sockaddr_nl).cast(),
                &mut len,
            )
        };
        if r < 0 {
            return Err(os_error("cannot read the netlink port id"));
        }
        Ok(ConnectorSocket {
            fd,
            port: bound.nl_pid,
        })
    }

    /// The port id the kernel assigned (sent as `nlmsg_pid`).
    pub fn port(&self) -> u32 {
        self.port
    }

    /// Receive what is queued, up to [`BATCH`] datagrams, without
    /// blocking. Returns how many (0: nothing queued). `ENOBUFS` means the
    /// socket overflowed and requests were lost (the kernel resends them
    /// after its 15 s timeout).
    pub fn recv_batch(&self, batch: &mut RecvBatch) -> io::Result<usize> {
        batch.n = 0;
        batch.offered = 0;
        // SAFETY: iovec, sockaddr_nl and mmsghdr are plain C structs for
        // which all-zero is a valid value.
        let mut iovs: [libc::iovec; BATCH] = unsafe { zeroed() };
        // SAFETY: as above.
        let mut addrs: [libc::sockaddr_nl; BATCH] = unsafe { zeroed() };
        // SAFETY: as above.
        let mut msgs: [libc::mmsghdr; BATCH] = unsafe { zeroed() };
        let vlen = batch.want.clamp(1, BATCH).min(batch.bufs.len());
        for (i, buf) in batch.bufs.iter_mut().enumerate().take(vlen) {
            iovs[i].iov_base = buf.as_mut_ptr().cast();
            iovs[i].iov_len = buf.len();
            msgs[i].msg_hdr.msg_name = (&mut addrs[i] as *mut libc::sockaddr_nl).cast();
            msgs[i].msg_hdr.msg_namelen = size_of::<libc::sockaddr_nl>() as libc::socklen_t;
            msgs[i].msg_hdr.msg_iov = &mut iovs[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        // SAFETY: every mmsghdr points at its own live iovec (into a buffer
        // of batch.bufs, borrowed mutably for this call) and sockaddr_nl;
        // vlen does not exceed the initialised entries; no timeout.
        let r = unsafe {
            libc::recvmmsg(
                self.fd.as_raw_fd(),
                msgs.as_mut_ptr(),
                vlen as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::WouldBlock {
                return Ok(0);
            }
            return Err(e);
        }
        let n = (r as usize).min(vlen);
        for (i, m) in msgs.iter().enumerate().take(n) {
            let truncated = m.msg_hdr.msg_flags & libc::MSG_TRUNC != 0;
            batch.meta[i] = (m.msg_len as usize, addrs[i].nl_pid, truncated);
        }
        batch.n = n;
        batch.offered = vlen;
        batch.want = if n >= vlen {
            (vlen * 2).min(BATCH)
        } else {
            (n * 2).clamp(MIN_BATCH, BATCH)
        };
        Ok(n)
    }

    /// Send datagrams to the kernel (port 0). Returns how many were sent
    /// before an error, if one happened.
    pub fn send_batch(&self, frames: &[&[u8]]) -> (usize, Option<io::Error>) {
        let mut sent = 0;
        let dest = kernel_addr();
        while sent < frames.len() {
            let chunk = &frames[sent..frames.len().min(sent + BATCH)];
            // SAFETY: plain C structs, all-zero valid.
            let mut iovs: [libc::iovec; BATCH] = unsafe { zeroed() };
            // SAFETY: as above.
            let mut msgs: [libc::mmsghdr; BATCH] = unsafe { zeroed() };
            for (i, f) in chunk.iter().enumerate() {
                // The kernel only reads through iov_base (sendmsg).
                iovs[i].iov_base = f.as_ptr() as *mut libc::c_void;
                iovs[i].iov_len = f.len();
                msgs[i].msg_hdr.msg_name = (&dest as *const libc::sockaddr_nl) as *mut libc::c_void;
                msgs[i].msg_hdr.msg_namelen = size_of::<libc::sockaddr_nl>() as libc::socklen_t;
                msgs[i].msg_hdr.msg_iov = &mut iovs[i];
                msgs[i].msg_hdr.msg_iovlen = 1;
            }
            // SAFETY: the first chunk.len() headers point at live iovecs over
            // the caller's frames (only read) and at the destination address.
            let r = unsafe {
                libc::sendmmsg(
                    self.fd.as_raw_fd(),
                    msgs.as_mut_ptr(),
                    chunk.len() as libc::c_uint,
                    0,
                )
            };
            if r < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return (sent, Some(e));
            }
            if r == 0 {
                return (sent, Some(io::Error::from_raw_os_error(libc::EIO)));
            }
            sent += r as usize;
        }
        (sent, None)
    }
}

impl AsFd for ConnectorSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capability_lines() {
        let root = "Name:\tx\nCapInh:\t0000000000000000\nCapEff:\t000001ffffffffff\n";
        assert_eq!(
            Capabilities::parse(root),
            Some(Capabilities {
                sys_admin: true,
                net_admin: true
            })
        );
        let none = "CapEff:\t0000000000000000\n";
        assert_eq!(
            Capabilities::parse(none),
            Some(Capabilities {
                sys_admin: false,
                net_admin: false
            })
        );
        let net_only = format!("CapEff:\t{:016x}\n", 1u64 << 12);
        assert_eq!(
            Capabilities::parse(&net_only),
            Some(Capabilities {
                sys_admin: false,
                net_admin: true
            })
        );
        assert_eq!(Capabilities::parse("Name: x\n"), None);
        assert_eq!(Capabilities::parse("CapEff:\tzz\n"), None);
    }

    #[test]
    fn empty_batches() {
        let b = RecvBatch::new();
        assert!(b.is_empty());
        assert!(b.get(0).is_none());
    }
}
