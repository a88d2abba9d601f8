//! The server: kernel transport, request routing, log state.
//!
//! ```text
//! kernel ──netlink──> ConnectorSocket ──datagrams──> Dispatcher ──> Router ──> LogTable
//!        <──replies──                 <──frames───              <──Outcome──
//! ```
//!
//! * [`Dispatcher`] turns datagrams into requests and outcomes into reply
//!   frames, with every transport rule: only the kernel is listened to,
//!   undecodable requests get an error reply (or a bare NACK when not even
//!   the header arrived), successful replies have exactly the size their
//!   type requires. It performs no I/O on the socket, so it is tested (and
//!   fuzzed) without a kernel.
//! * A [`Router`] decides where a request is answered. [`LocalRouter`]
//!   answers every request at once from the [`LogTable`]: a single node. A
//!   cluster layer is another router: it may answer some requests locally
//!   and send others to its peers, keeping them ([`OwnedRequest`]) until the
//!   agreed message comes back, then answer through [`Server::reply`]
//!   after applying them to the table.
//! * [`Server`] owns the socket and runs the loop step: receive a batch,
//!   dispatch, bring the state files up to date, send the replies.

use super::abi::{RequestType, REQUEST_SIZE};
use super::codec::{
    decode_frame, decode_request, encode_ack, encode_reply, FrameError, Header, RawRequest,
    ReplyFrame,
};
use super::socket::{ConnectorSocket, RecvBatch};
use super::table::{ulog, LogTable, Outcome};
use crate::log::{Level, Logger, Record};
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::Arc;

pub use super::codec::OwnedRequest;

/// Where requests are answered.
pub trait Router {
    /// A well-formed request from the kernel. Return the outcome to answer
    /// at once, or `None` to answer later with [`Server::reply`] (the
    /// router then keeps what it needs, e.g. an [`OwnedRequest`]).
    fn route(&mut self, table: &mut LogTable, request: &RawRequest<'_>) -> Option<Outcome>;
}

/// Every request answered at once by the local table (a single node).
#[derive(Clone, Copy, Debug, Default)]
pub struct LocalRouter;

impl Router for LocalRouter {
    fn route(&mut self, table: &mut LogTable, request: &RawRequest<'_>) -> Option<Outcome> {
        Some(table.handle(request))
    }
}

/// Datagrams in, reply frames out (no socket I/O).
pub struct Dispatcher<R: Router = LocalRouter> {
    table: LogTable,
    router: R,
    port: u32,
    logger: Option<Arc<dyn Logger>>,
    dropped: u64,
}

impl<R: Router> std::fmt::Debug for Dispatcher<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher")
            .field("table", &self.table)
            .field("port", &self.port)
            .finish()
    }
}

/// A successful reply must have the size the kernel expects for its type;
/// anything else is answered `EIO` (the kernel would misread it).
fn check_size(kind: Option<RequestType>, out: Outcome) -> Result<Outcome, usize> {
    match (out.error, kind.and_then(RequestType::reply_size)) {
        (0, Some(n)) if out.payload.len() != n => Err(out.payload.len()),
        _ => Ok(out),
    }
}

impl<R: Router> Dispatcher<R> {
    /// A dispatcher over `table` through `router`; replies carry `port` as
    /// their `nlmsg_pid`.
    pub fn new(table: LogTable, router: R, port: u32, logger: Option<Arc<dyn Logger>>) -> Self {
        Dispatcher {
            table,
            router,
            port,
            logger,
            dropped: 0,
        }
    }

    /// The logs.
    pub fn table(&self) -> &LogTable {
        &self.table
    }

    /// The logs, writable.
    pub fn table_mut(&mut self) -> &mut LogTable {
        &mut self.table
    }

    /// The table and the router at once (a cluster router applies agreed
    /// messages to the table).
    pub fn parts_mut(&mut self) -> (&mut LogTable, &mut R) {
        (&mut self.table, &mut self.router)
    }

    /// The router.
    pub fn router_mut(&mut self) -> &mut R {
        &mut self.router
    }

    /// Datagrams ignored (not from the kernel, not a dm log message).
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    fn logger(&self) -> Option<&dyn Logger> {
        self.logger.as_deref()
    }

    /// The reply frame of an outcome.
    pub fn reply_frame(&self, header: &Header, out: Outcome) -> ReplyFrame {
        let out = match check_size(header.kind(), out) {
            Ok(o) => o,
            Err(len) => {
                ulog!(
                    self.logger(),
                    Level::Error,
                    "internal error: a {}-byte reply to {:?} [{}]; answered EIO",
                    len,
                    header.kind(),
                    header.seq
                );
                Outcome::errno(libc::EIO)
            }
        };
        encode_reply(header, out.error, &out.payload, self.port)
    }

    /// Handle one datagram: the reply to send, if any. `sender` is the
    /// netlink port it came from (only the kernel's, 0, is served);
    /// `truncated` says it did not fit the receive buffer.
    pub fn datagram(&mut self, data: &[u8], sender: u32, truncated: bool) -> Option<ReplyFrame> {
        if sender != 0 {
            self.dropped += 1;
            ulog!(
                self.logger(),
                Level::Warn,
                "ignored a message from netlink port {sender}: only the kernel is served"
            );
            return None;
        }
        let frame = match decode_frame(data) {
            Ok(f) => f,
            Err(FrameError::NotDm { .. }) => {
                self.dropped += 1;
                return None;
            }
            Err(e) => {
                self.dropped += 1;
                ulog!(self.logger(), Level::Warn, "ignored a netlink message: {e}");
                return None;
            }
        };
        if frame.data.is_empty() {
            // A bare ACK: the kernel never sends one.
            self.dropped += 1;
            return None;
        }
        let raw = match decode_request(frame.data) {
            Ok(r) if truncated => {
                // The buffer held less than the datagram: treat as truncated.
                let e = super::codec::RequestError::Truncated {
                    header: r.header,
                    available: frame.data.len().saturating_sub(REQUEST_SIZE),
                };
                ulog!(
                    self.logger(),
                    Level::Warn,
                    "{e}: answered {}",
                    crate::kernel::sys::strerror(e.errno())
                );
                return Some(self.reply_frame(&r.header, Outcome::errno(e.errno())));
            }
            Ok(r) => r,
            Err(e) => {
                ulog!(
                    self.logger(),
                    Level::Warn,
                    "{e}: answered {}",
                    crate::kernel::sys::strerror(e.errno())
                );
                return Some(match e.header() {
                    Some(h) => self.reply_frame(h, Outcome::errno(e.errno())),
                    None => encode_ack(frame.cn_seq, e.errno() as u32, self.port),
                });
            }
        };
        let out = self.router.route(&mut self.table, &raw)?;
        Some(self.reply_frame(&raw.header, out))
    }
}

/// The connector socket and a dispatcher: one step of a server's loop at a
/// time ([`Server::process`]), driven by the caller's `poll`.
pub struct Server<R: Router = LocalRouter> {
    socket: ConnectorSocket,
    dispatcher: Dispatcher<R>,
    batch: RecvBatch,
    out: Vec<ReplyFrame>,
    logger: Option<Arc<dyn Logger>>,
    overruns: u64,
}

impl<R: Router> std::fmt::Debug for Server<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("socket", &self.socket)
            .field("dispatcher", &self.dispatcher)
            .finish()
    }
}

impl<R: Router> Server<R> {
    /// A server on an open socket.
    pub fn new(
        socket: ConnectorSocket,
        table: LogTable,
        router: R,
        logger: Option<Arc<dyn Logger>>,
    ) -> Self {
        let port = socket.port();
        Server {
            socket,
            dispatcher: Dispatcher::new(table, router, port, logger.clone()),
            batch: RecvBatch::new(),
            out: Vec::with_capacity(super::socket::BATCH),
            logger,
            overruns: 0,
        }
    }

    /// The dispatcher (table, router).
    pub fn dispatcher(&self) -> &Dispatcher<R> {
        &self.dispatcher
    }

    /// The dispatcher, writable.
    pub fn dispatcher_mut(&mut self) -> &mut Dispatcher<R> {
        &mut self.dispatcher
    }

    /// The socket's descriptor, to poll for input.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }

    /// Times the socket overflowed (requests lost; the kernel resends).
    pub fn overruns(&self) -> u64 {
        self.overruns
    }

    /// Answer everything queued now, batch by batch (at most `max_batches`,
    /// so a busy socket cannot starve signal handling). Returns the number
    /// of datagrams handled.
    pub fn process(&mut self, max_batches: usize) -> io::Result<usize> {
        let mut total = 0;
        for _ in 0..max_batches {
            let n = match self.socket.recv_batch(&mut self.batch) {
                Ok(n) => n,
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    self.overruns += 1;
                    ulog!(
                        self.logger.as_deref(),
                        Level::Warn,
                        "the socket overflowed: requests were lost (the kernel resends them after 15 s)"
                    );
                    continue;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if n == 0 {
                break;
            }
            total += n;
            self.out.clear();
            for i in 0..n {
                let Some(d) = self.batch.get(i) else { continue };
                if let Some(f) = self.dispatcher.datagram(d.data, d.sender, d.truncated) {
                    self.out.push(f);
                }
            }
            // Replies only after what they acknowledge is kept.
            self.dispatcher.table.persist();
            self.flush_out();
            if !self.batch.was_full() {
                break;
            }
        }
        Ok(total)
    }

    fn flush_out(&mut self) {
        if self.out.is_empty() {
            return;
        }
        // No allocation per batch: the frames' slices on the stack.
        for chunk in self.out.chunks(super::socket::BATCH) {
            let mut frames: [&[u8]; super::socket::BATCH] = [&[]; super::socket::BATCH];
            for (s, f) in frames.iter_mut().zip(chunk) {
                *s = f.as_bytes();
            }
            let frames = frames.get(..chunk.len()).unwrap_or(&[]);
            let (sent, err) = self.socket.send_batch(frames);
            if let Some(e) = err {
                ulog!(
                    self.logger.as_deref(),
                    Level::Error,
                    "cannot send {} of {} replies to the kernel: {e} (it resends after 15 s)",
                    frames.len() - sent,
                    frames.len()
                );
            }
        }
        self.out.clear();
    }

    /// Answer a request a router kept (`None` from [`Router::route`]).
    pub fn reply(&mut self, header: &Header, outcome: Outcome) -> io::Result<()> {
        self.dispatcher.table.persist();
        let f = self.dispatcher.reply_frame(header, outcome);
        match self.socket.send_batch(&[f.as_bytes()]) {
            (_, Some(e)) => Err(e),
            _ => Ok(()),
        }
    }

    /// A clean stop: every running disk log written (see
    /// [`LogTable::shutdown`]). Returns how many.
    pub fn shutdown(&mut self) -> usize {
        self.dispatcher.table.shutdown()
    }
}

#[cfg(test)]
mod tests {
    use super::super::abi::DM_ULOG_REQUEST_VERSION;
    use super::super::codec::{decode_reply, encode_request, Uuid};
    use super::super::table::TableOptions;
    use super::*;

    fn header(kind: u32, seq: u32) -> Header {
        Header {
            luid: 9,
            uuid: Uuid::new(b"mirror-1").unwrap(),
            padding: [0; 3],
            version: DM_ULOG_REQUEST_VERSION,
            error: 0,
            seq,
            request_type: kind,
            data_size: 0,
        }
    }

    fn dispatcher() -> Dispatcher {
        Dispatcher::new(
            LogTable::new(TableOptions::default(), None).unwrap(),
            LocalRouter,
            77,
            None,
        )
    }

    #[test]
    fn a_mirror_lifecycle_through_datagrams() {
        let mut d = dispatcher();
        let mut seq = 0;
        let mut call = |d: &mut Dispatcher, kind: RequestType, payload: &[u8]| {
            seq += 1;
            let f = d
                .datagram(
                    &encode_request(&header(kind as u32, seq), payload),
                    0,
                    false,
                )
                .unwrap();
            let (frame, raw) = decode_reply(f.as_bytes()).unwrap();
            assert_eq!(frame.nl_pid, 77);
            let raw = raw.unwrap();
            assert_eq!(raw.header.seq, seq);
            assert_eq!(raw.header.request_type, kind as u32);
            (raw.header.error, raw.payload.to_vec())
        };
        assert_eq!(
            call(&mut d, RequestType::Ctr, b"4096 clustered-core 1024").0,
            0
        );
        assert_eq!(
            call(&mut d, RequestType::GetRegionSize, b""),
            (0, 1024u64.to_ne_bytes().to_vec())
        );
        assert_eq!(call(&mut d, RequestType::Resume, b"").0, 0);
        for r in 0..4u64 {
            let (e, p) = call(&mut d, RequestType::GetResyncWork, b"");
            assert_eq!(e, 0);
            assert_eq!(p, [1i64.to_ne_bytes(), r.to_ne_bytes()].concat());
            let mut arg = r.to_ne_bytes().to_vec();
            arg.extend_from_slice(&1i64.to_ne_bytes());
            assert_eq!(call(&mut d, RequestType::SetRegionSync, &arg), (0, vec![]));
        }
        assert_eq!(call(&mut d, RequestType::GetResyncWork, b"").1, [0u8; 16]);
        assert_eq!(
            call(&mut d, RequestType::GetSyncCount, b""),
            (0, 4u64.to_ne_bytes().to_vec())
        );
        assert_eq!(
            call(
                &mut d,
                RequestType::MarkRegion,
                &[1u64.to_ne_bytes(), 2u64.to_ne_bytes()].concat()
            ),
            (0, vec![])
        );
        assert_eq!(call(&mut d, RequestType::Flush, b""), (0, vec![]));
        assert_eq!(
            call(&mut d, RequestType::IsClean, &1u64.to_ne_bytes()),
            (0, 0i64.to_ne_bytes().to_vec())
        );
        assert_eq!(
            call(&mut d, RequestType::ClearRegion, &1u64.to_ne_bytes()),
            (0, vec![])
        );
        assert_eq!(
            call(&mut d, RequestType::IsClean, &1u64.to_ne_bytes()),
            (0, 1i64.to_ne_bytes().to_vec())
        );
        assert_eq!(
            call(&mut d, RequestType::InSync, &3u64.to_ne_bytes()),
            (0, 1i64.to_ne_bytes().to_vec())
        );
        assert_eq!(
            call(&mut d, RequestType::StatusInfo, b""),
            (0, b"1 clustered-core".to_vec())
        );
        assert_eq!(
            call(&mut d, RequestType::StatusTable, b""),
            (0, b"clustered-core 1024 ".to_vec())
        );
        assert_eq!(
            call(&mut d, RequestType::IsRemoteRecovering, &0u64.to_ne_bytes()).1,
            [0i64.to_ne_bytes(), 4u64.to_ne_bytes()].concat()
        );
        assert_eq!(call(&mut d, RequestType::Presuspend, b"").0, 0);
        assert_eq!(call(&mut d, RequestType::Postsuspend, b"").0, 0);
        assert_eq!(call(&mut d, RequestType::Resume, b"").0, 0);
        assert_eq!(call(&mut d, RequestType::Dtr, b"").0, 0);
        assert_eq!(call(&mut d, RequestType::GetSyncCount, b"").0, -libc::ESRCH);
        let s = d.table().stats();
        assert_eq!(s.requests[RequestType::GetResyncWork as usize], 5);
        assert_eq!(s.unknown_log, 1);
    }

    #[test]
    fn transport_rules() {
        let mut d = dispatcher();
        let good = encode_request(&header(RequestType::Ctr as u32, 1), b"64 core 2");
        // Not from the kernel: ignored.
        assert!(d.datagram(&good, 1234, false).is_none());
        // Garbage: ignored.
        assert!(d.datagram(b"junk", 0, false).is_none());
        // Header cut short: a bare NACK asking for a resend, by cn_msg.seq.
        let mut short = good[..16 + 20 + 100].to_vec();
        let n = short.len() as u32;
        short[0..4].copy_from_slice(&n.to_ne_bytes());
        short[16 + 16..16 + 18].copy_from_slice(&100u16.to_ne_bytes());
        let f = d.datagram(&short, 0, false).unwrap();
        let (frame, raw) = decode_reply(f.as_bytes()).unwrap();
        assert!(raw.is_none());
        assert_eq!((frame.cn_seq, frame.cn_ack), (1, libc::EAGAIN as u32));
        // Truncated by the receive buffer: an error reply.
        let f = d.datagram(&good, 0, true).unwrap();
        let (_, raw) = decode_reply(f.as_bytes()).unwrap();
        assert_eq!(raw.unwrap().header.error, -libc::EINVAL);
        // Unknown type: EOPNOTSUPP, echoing the type.
        let f = d
            .datagram(&encode_request(&header(40, 5), b""), 0, false)
            .unwrap();
        let (_, raw) = decode_reply(f.as_bytes()).unwrap();
        let raw = raw.unwrap();
        assert_eq!(
            (raw.header.error, raw.header.request_type, raw.header.seq),
            (-libc::EOPNOTSUPP, 40, 5)
        );
    }

    #[test]
    fn wrong_reply_sizes_become_eio() {
        let d = dispatcher();
        let h = header(RequestType::IsClean as u32, 3);
        let f = d.reply_frame(
            &h,
            Outcome::ok(super::super::codec::ReplyPayload::pair(1, 1)),
        );
        let (_, raw) = decode_reply(f.as_bytes()).unwrap();
        assert_eq!(raw.unwrap().header.error, -libc::EIO);
    }

    /// Random, truncated and oversized datagrams through the whole decode
    /// and dispatch path: nothing panics, every reply decodes, and a
    /// server that was fed garbage still serves a good request.
    #[test]
    fn random_datagrams_never_panic() {
        let mut d = dispatcher();
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let ctr = encode_request(&header(RequestType::Ctr as u32, 1), b"8192 core 64");
        assert!(d.datagram(&ctr, 0, false).is_some());
        for i in 0..20000u32 {
            let kind = (next() % 20) as u32;
            let plen = (next() % 400) as usize;
            let payload: Vec<u8> = (0..plen).map(|_| next() as u8).collect();
            let mut dg = encode_request(&header(kind, i), &payload);
            match next() % 6 {
                0 => dg.truncate((next() as usize) % (dg.len() + 1)),
                1 => {
                    let at = (next() as usize) % dg.len();
                    dg[at] = next() as u8;
                }
                2 => {
                    // data_size lies.
                    let off = 16 + 20 + 156;
                    let v = (next() % 1000) as u32;
                    dg[off..off + 4].copy_from_slice(&v.to_ne_bytes());
                }
                3 => {
                    // cn_msg.len lies.
                    let v = (next() % 2000) as u16;
                    dg[16 + 16..16 + 18].copy_from_slice(&v.to_ne_bytes());
                }
                4 => dg.extend((0..(next() % 600)).map(|_| next() as u8)),
                _ => {}
            }
            if let Some(f) = d.datagram(&dg, 0, next() % 50 == 0) {
                let (_, raw) = decode_reply(f.as_bytes()).expect("our replies decode");
                if let Some(raw) = raw {
                    assert!(raw.header.error <= 0);
                    assert!(raw.payload.len() <= super::super::abi::MAX_REPLY_PAYLOAD);
                }
            }
        }
        let q = encode_request(&header(RequestType::GetRegionSize as u32, 99), b"");
        let f = d.datagram(&q, 0, false).unwrap();
        let (_, raw) = decode_reply(f.as_bytes()).unwrap();
        // The random traffic may have destroyed or replaced the log (it
        // holds the same uuid); what matters is a well-formed answer.
        let raw = raw.unwrap();
        assert_eq!(raw.header.seq, 99);
        assert!(raw.header.error == 0 || raw.header.error == -libc::ESRCH);
    }
}
