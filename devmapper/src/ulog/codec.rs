//! Pure encode/decode of `dm-log-userspace` traffic: netlink datagrams
//! holding a `cn_msg` holding a `dm_ulog_request` and its payload.
//!
//! No syscalls and no `unsafe`: every field is read and written at the
//! offsets of [`super::abi`] in native byte order. Decoding never panics on
//! any input and never trusts a length it has not checked against the bytes
//! it was given.
//!
//! The layers, outermost first:
//!
//! * [`decode_frame`]: `nlmsghdr` + `cn_msg`: the connector message and the
//!   bytes it carries.
//! * [`decode_request`]: the request header and its payload
//!   ([`RawRequest`]).
//! * [`RawRequest::parse`]: the typed request ([`Request`]) with its payload
//!   checked against the request type.
//!
//! Replies: [`encode_reply`] echoes the request header with an error and a
//! payload ([`ReplyPayload`]); [`encode_ack`] is the bare acknowledgement
//! (`cn_msg.len == 0`) whose `ack` carries a *positive* errno.

// Errors carry the request header inline (the 160 bytes an error reply
// echoes): decoding allocates nothing, even for hostile input.
#![allow(clippy::result_large_err)]

use super::abi::{
    cn_off, nl_off, rq_off, RequestType, CN_IDX_DM, CN_MSG_SIZE, CN_VAL_DM_USERSPACE_LOG,
    DM_UUID_LEN, MAX_PAYLOAD, MAX_REPLY_FRAME, MAX_REPLY_PAYLOAD, NLMSG_DONE, NLMSG_ERROR,
    NLMSG_HDR_SIZE, REQUEST_SIZE,
};
use std::fmt;

fn rd_u16(b: &[u8], off: usize) -> Option<u16> {
    let s = b.get(off..off.checked_add(2)?)?;
    Some(u16::from_ne_bytes([s[0], s[1]]))
}

fn rd_u32(b: &[u8], off: usize) -> Option<u32> {
    let s = b.get(off..off.checked_add(4)?)?;
    let mut a = [0u8; 4];
    a.copy_from_slice(s);
    Some(u32::from_ne_bytes(a))
}

fn rd_u64(b: &[u8], off: usize) -> Option<u64> {
    let s = b.get(off..off.checked_add(8)?)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(s);
    Some(u64::from_ne_bytes(a))
}

fn put(out: &mut [u8], off: usize, bytes: &[u8]) {
    if let Some(d) = out.get_mut(off..off + bytes.len()) {
        d.copy_from_slice(bytes);
    }
}

/// A log's universal identifier (`dm_ulog_request.uuid`): up to 128 bytes,
/// NUL-padded. Bytes, never reinterpreted as UTF-8.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Uuid([u8; DM_UUID_LEN]);

impl Uuid {
    /// The uuid of these bytes (at most 128; `None` when longer or when
    /// they hold a NUL).
    pub fn new(bytes: &[u8]) -> Option<Uuid> {
        if bytes.len() >= DM_UUID_LEN || bytes.contains(&0) {
            return None;
        }
        let mut u = [0u8; DM_UUID_LEN];
        u[..bytes.len()].copy_from_slice(bytes);
        Some(Uuid(u))
    }

    /// The uuid of a raw field, as the kernel fills it (bytes after the
    /// first NUL are ignored; a field without NUL keeps its 129 bytes).
    pub fn from_field(field: [u8; DM_UUID_LEN]) -> Uuid {
        let mut u = field;
        if let Some(end) = field.iter().position(|&b| b == 0) {
            u[end..].fill(0);
        }
        Uuid(u)
    }

    /// The bytes up to the first NUL.
    pub fn as_bytes(&self) -> &[u8] {
        let end = self.0.iter().position(|&b| b == 0).unwrap_or(DM_UUID_LEN);
        &self.0[..end]
    }

    /// The raw 129-byte field.
    pub fn field(&self) -> &[u8; DM_UUID_LEN] {
        &self.0
    }

    /// A printable form for log lines: bytes outside printable ASCII are
    /// written as `\xNN`.
    pub fn display(&self) -> EscapedBytes<'_> {
        EscapedBytes(self.as_bytes())
    }
}

impl fmt::Debug for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Uuid(\"{}\")", self.display())
    }
}

/// Bytes shown with non-printable ones escaped as `\xNN` (for log lines).
#[derive(Clone, Copy)]
pub struct EscapedBytes<'a>(pub &'a [u8]);

impl fmt::Display for EscapedBytes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use fmt::Write;
        for &b in self.0 {
            if (0x20..0x7f).contains(&b) && b != b'\\' {
                f.write_char(b as char)?;
            } else {
                write!(f, "\\x{b:02x}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for EscapedBytes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

/// A connector message taken out of a netlink datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    /// `nlmsghdr.nlmsg_seq`.
    pub nl_seq: u32,
    /// `nlmsghdr.nlmsg_pid` (0 for the kernel).
    pub nl_pid: u32,
    /// `cn_msg.seq` (the kernel sets it to the request's seq).
    pub cn_seq: u32,
    /// `cn_msg.ack`.
    pub cn_ack: u32,
    /// `cn_msg.flags`.
    pub cn_flags: u16,
    /// The `cn_msg.len` bytes following the `cn_msg`.
    pub data: &'a [u8],
}

/// Why a datagram is not a device-mapper connector message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// Shorter than `nlmsghdr` + `cn_msg`.
    Short {
        /// Bytes received.
        len: usize,
    },
    /// `nlmsg_len` is smaller than the headers or larger than the datagram.
    NetlinkLength {
        /// `nlmsg_len`.
        claimed: u32,
        /// Bytes received.
        len: usize,
    },
    /// An `NLMSG_ERROR` message (the errno it carries, positive).
    NetlinkError(i32),
    /// Another netlink message type than `NLMSG_DONE`.
    NetlinkType(u16),
    /// A connector message for another callback than dm's userspace log.
    NotDm {
        /// `cn_msg.id.idx`.
        idx: u32,
        /// `cn_msg.id.val`.
        val: u32,
    },
    /// `cn_msg.len` runs past the netlink message.
    ConnectorLength {
        /// `cn_msg.len`.
        claimed: u16,
        /// Bytes available after the `cn_msg`.
        available: usize,
    },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            FrameError::Short { len } => write!(f, "netlink datagram of {len} bytes is too short"),
            FrameError::NetlinkLength { claimed, len } => {
                write!(
                    f,
                    "netlink length {claimed} does not fit the {len}-byte datagram"
                )
            }
            FrameError::NetlinkError(e) => write!(f, "netlink error message (errno {e})"),
            FrameError::NetlinkType(t) => write!(f, "unexpected netlink message type {t}"),
            FrameError::NotDm { idx, val } => {
                write!(
                    f,
                    "connector message for {idx}:{val}, not device-mapper's log"
                )
            }
            FrameError::ConnectorLength { claimed, available } => write!(
                f,
                "connector length {claimed} exceeds the {available} bytes received"
            ),
        }
    }
}

/// Take the connector message out of one netlink datagram as the kernel
/// sends it (`NLMSG_DONE`, `cn_msg` for `CN_IDX_DM`/`CN_VAL_DM_USERSPACE_LOG`).
pub fn decode_frame(buf: &[u8]) -> Result<Frame<'_>, FrameError> {
    let short = FrameError::Short { len: buf.len() };
    if buf.len() < NLMSG_HDR_SIZE + CN_MSG_SIZE {
        // An NLMSG_ERROR is 16 + 4 + 16 bytes: still report its errno.
        if rd_u16(buf, nl_off::TYPE) == Some(NLMSG_ERROR) {
            if let Some(e) = rd_u32(buf, NLMSG_HDR_SIZE) {
                return Err(FrameError::NetlinkError((e as i32).wrapping_neg()));
            }
        }
        return Err(short);
    }
    let nl_len = rd_u32(buf, nl_off::LEN).ok_or(short)?;
    let nl_type = rd_u16(buf, nl_off::TYPE).ok_or(short)?;
    if nl_type == NLMSG_ERROR {
        let e = rd_u32(buf, NLMSG_HDR_SIZE).ok_or(short)? as i32;
        return Err(FrameError::NetlinkError(e.wrapping_neg()));
    }
    if nl_type != NLMSG_DONE {
        return Err(FrameError::NetlinkType(nl_type));
    }
    if (nl_len as usize) < NLMSG_HDR_SIZE + CN_MSG_SIZE || nl_len as usize > buf.len() {
        return Err(FrameError::NetlinkLength {
            claimed: nl_len,
            len: buf.len(),
        });
    }
    let msg = &buf[NLMSG_HDR_SIZE..nl_len as usize];
    let idx = rd_u32(msg, cn_off::IDX).ok_or(short)?;
    let val = rd_u32(msg, cn_off::VAL).ok_or(short)?;
    if idx != CN_IDX_DM || val != CN_VAL_DM_USERSPACE_LOG {
        return Err(FrameError::NotDm { idx, val });
    }
    let len = rd_u16(msg, cn_off::LEN).ok_or(short)?;
    let rest = &msg[CN_MSG_SIZE..];
    let data = rest
        .get(..len as usize)
        .ok_or(FrameError::ConnectorLength {
            claimed: len,
            available: rest.len(),
        })?;
    Ok(Frame {
        nl_seq: rd_u32(buf, nl_off::SEQ).ok_or(short)?,
        nl_pid: rd_u32(buf, nl_off::PID).ok_or(short)?,
        cn_seq: rd_u32(msg, cn_off::SEQ).ok_or(short)?,
        cn_ack: rd_u32(msg, cn_off::ACK).ok_or(short)?,
        cn_flags: rd_u16(msg, cn_off::FLAGS).ok_or(short)?,
        data,
    })
}

/// The header of a `dm_ulog_request`, as received (and echoed in replies).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Local unique id: tells apart the live and the inactive table's logs
    /// of one uuid (the kernel uses the address of its log context).
    pub luid: u64,
    /// The log's uuid (from the table).
    pub uuid: Uuid,
    /// The three padding bytes, echoed as received.
    pub padding: [u8; 3],
    /// `DM_ULOG_REQUEST_VERSION` of the sender.
    pub version: u32,
    /// Processing result (0 in requests).
    pub error: i32,
    /// Sequence number: replies are matched by it.
    pub seq: u32,
    /// The raw `request_type` field (type in the low byte).
    pub request_type: u32,
    /// Payload bytes following the header.
    pub data_size: u32,
}

impl Header {
    /// The request type, if it is one of version 3's.
    pub fn kind(&self) -> Option<RequestType> {
        RequestType::from_raw(self.request_type)
    }

    /// Decode the 160 header bytes (`None` when fewer are given).
    pub fn decode(b: &[u8]) -> Option<Header> {
        let mut uuid = [0u8; DM_UUID_LEN];
        uuid.copy_from_slice(b.get(rq_off::UUID..rq_off::UUID + DM_UUID_LEN)?);
        let mut padding = [0u8; 3];
        padding.copy_from_slice(b.get(rq_off::PADDING..rq_off::PADDING + 3)?);
        Some(Header {
            luid: rd_u64(b, rq_off::LUID)?,
            uuid: Uuid::from_field(uuid),
            padding,
            version: rd_u32(b, rq_off::VERSION)?,
            error: rd_u32(b, rq_off::ERROR)? as i32,
            seq: rd_u32(b, rq_off::SEQ)?,
            request_type: rd_u32(b, rq_off::REQUEST_TYPE)?,
            data_size: rd_u32(b, rq_off::DATA_SIZE)?,
        })
    }

    /// Write the 160 header bytes into `out[..160]` (`out` must hold them).
    pub fn encode(&self, out: &mut [u8]) {
        put(out, rq_off::LUID, &self.luid.to_ne_bytes());
        put(out, rq_off::UUID, self.uuid.field());
        put(out, rq_off::PADDING, &self.padding);
        put(out, rq_off::VERSION, &self.version.to_ne_bytes());
        put(out, rq_off::ERROR, &self.error.to_ne_bytes());
        put(out, rq_off::SEQ, &self.seq.to_ne_bytes());
        put(out, rq_off::REQUEST_TYPE, &self.request_type.to_ne_bytes());
        put(out, rq_off::DATA_SIZE, &self.data_size.to_ne_bytes());
    }
}

/// A request whose header decoded and whose payload is all there, not yet
/// checked against its type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawRequest<'a> {
    /// The header.
    pub header: Header,
    /// Exactly `header.data_size` bytes.
    pub payload: &'a [u8],
}

/// Why a connector message is not a usable request. The variants that
/// carry the header can be answered with an error reply; the others only
/// with a bare acknowledgement by `cn_msg.seq`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestError {
    /// Fewer than the 160 header bytes (the kernel says "Incomplete
    /// message").
    Incomplete {
        /// Bytes received.
        len: usize,
    },
    /// `data_size` runs past the bytes received.
    Truncated {
        /// The header.
        header: Header,
        /// Payload bytes received.
        available: usize,
    },
    /// `data_size` exceeds the kernel's 332-byte limit.
    Oversized {
        /// The header.
        header: Header,
    },
    /// The request type is 0 (a damaged transmission: the kernel always
    /// sets one) or not one of version 3's 17.
    UnknownType {
        /// The header.
        header: Header,
    },
    /// The payload does not have the size its type requires.
    BadPayload {
        /// The header.
        header: Header,
        /// The request type.
        kind: RequestType,
    },
}

impl RequestError {
    /// The header, when it could be read (an error reply is possible).
    pub fn header(&self) -> Option<&Header> {
        match self {
            RequestError::Incomplete { .. } => None,
            RequestError::Truncated { header, .. }
            | RequestError::Oversized { header }
            | RequestError::UnknownType { header }
            | RequestError::BadPayload { header, .. } => Some(header),
        }
    }

    /// The errno (positive) to answer with: `EAGAIN` asks the kernel to
    /// resend what looks like a damaged transmission (no header, or type
    /// 0, as cmirrord does), `EOPNOTSUPP` an unknown request type,
    /// `EINVAL` a malformed request.
    pub fn errno(&self) -> i32 {
        match self {
            RequestError::Incomplete { .. } => libc::EAGAIN,
            RequestError::UnknownType { header } if header.request_type & 0xff == 0 => libc::EAGAIN,
            RequestError::UnknownType { .. } => libc::EOPNOTSUPP,
            RequestError::Truncated { .. }
            | RequestError::Oversized { .. }
            | RequestError::BadPayload { .. } => libc::EINVAL,
        }
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::Incomplete { len } => {
                write!(
                    f,
                    "incomplete request: {len} bytes, the header alone is {REQUEST_SIZE}"
                )
            }
            RequestError::Truncated { header, available } => write!(
                f,
                "truncated request [{}]: data_size {} but {} payload bytes received",
                header.seq, header.data_size, available
            ),
            RequestError::Oversized { header } => write!(
                f,
                "oversized request [{}]: data_size {} exceeds the kernel's {} bytes",
                header.seq, header.data_size, MAX_PAYLOAD
            ),
            RequestError::UnknownType { header } => write!(
                f,
                "unknown request type {} [{}]",
                header.request_type, header.seq
            ),
            RequestError::BadPayload { header, kind } => write!(
                f,
                "{} request [{}] with a {}-byte payload",
                kind, header.seq, header.data_size
            ),
        }
    }
}

/// Read the request header and its payload out of a connector message's
/// data. Bytes past `data_size` are ignored.
pub fn decode_request(data: &[u8]) -> Result<RawRequest<'_>, RequestError> {
    let header = Header::decode(data).ok_or(RequestError::Incomplete { len: data.len() })?;
    let rest = &data[REQUEST_SIZE..];
    let size = header.data_size as usize;
    if size > MAX_PAYLOAD {
        return Err(RequestError::Oversized { header });
    }
    let payload = rest.get(..size).ok_or(RequestError::Truncated {
        header,
        available: rest.len(),
    })?;
    Ok(RawRequest { header, payload })
}

/// A list of regions (`__u64[]`), as MARK, CLEAR and an integrated FLUSH
/// carry them. Its byte length is a multiple of 8.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Regions<'a>(&'a [u8]);

impl<'a> Regions<'a> {
    /// The regions of a payload (`None` when its length is not a multiple
    /// of 8).
    pub fn new(bytes: &'a [u8]) -> Option<Regions<'a>> {
        (bytes.len() % 8 == 0).then_some(Regions(bytes))
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.0.len() / 8
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The regions in order.
    pub fn iter(&self) -> impl Iterator<Item = u64> + Clone + 'a {
        self.0.chunks_exact(8).map(|c| {
            let mut a = [0u8; 8];
            a.copy_from_slice(c);
            u64::from_ne_bytes(a)
        })
    }

    /// The payload bytes.
    pub fn bytes(&self) -> &'a [u8] {
        self.0
    }
}

impl fmt::Debug for Regions<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// A request with its payload decoded for its type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request<'a> {
    /// `"<dev_len_sectors> <log type> <args…>"` (NUL, if sent, removed).
    Ctr(&'a [u8]),
    /// Destroy (any payload ignored).
    Dtr,
    /// Presuspend.
    Presuspend,
    /// Postsuspend.
    Postsuspend,
    /// Resume.
    Resume,
    /// Region size.
    GetRegionSize,
    /// Is this region clean?
    IsClean(u64),
    /// Is this region in sync?
    InSync(u64),
    /// Commit, after marking these regions (integrated flush; usually none).
    Flush(Regions<'a>),
    /// Mark these regions dirty.
    MarkRegion(Regions<'a>),
    /// Mark these regions clean.
    ClearRegion(Regions<'a>),
    /// Which region should be recovered next?
    GetResyncWork,
    /// A region's recovery ended.
    SetRegionSync {
        /// The region.
        region: u64,
        /// Whether it is now in sync (`s64 != 0`).
        in_sync: bool,
    },
    /// How many regions are in sync?
    GetSyncCount,
    /// The log's `STATUSTYPE_INFO` words.
    StatusInfo,
    /// The log's `STATUSTYPE_TABLE` words.
    StatusTable,
    /// Is another node recovering this region?
    IsRemoteRecovering(u64),
}

impl<'a> RawRequest<'a> {
    /// Decode the payload for the request type.
    ///
    /// Requests without a payload accept and ignore one (older kernels sent
    /// the argument string with DTR); a fixed-size payload must have exactly
    /// its size; region lists a multiple of 8 bytes.
    pub fn parse(&self) -> Result<(RequestType, Request<'a>), RequestError> {
        let header = self.header;
        let kind = header.kind().ok_or(RequestError::UnknownType { header })?;
        let bad = RequestError::BadPayload { header, kind };
        let p = self.payload;
        let one = |p: &[u8]| -> Result<u64, RequestError> {
            if p.len() != 8 {
                return Err(bad);
            }
            rd_u64(p, 0).ok_or(bad)
        };
        let regions = |p: &'a [u8]| Regions::new(p).ok_or(bad);
        let req = match kind {
            RequestType::Ctr => {
                let args = match p.iter().position(|&b| b == 0) {
                    // NUL-terminated (the kernel's reconnect path sends the
                    // NUL); nothing may follow it.
                    Some(end) if p[end..].iter().all(|&b| b == 0) => &p[..end],
                    Some(_) => return Err(bad),
                    None => p,
                };
                if args.is_empty() {
                    return Err(bad);
                }
                Request::Ctr(args)
            }
            RequestType::Dtr => Request::Dtr,
            RequestType::Presuspend => Request::Presuspend,
            RequestType::Postsuspend => Request::Postsuspend,
            RequestType::Resume => Request::Resume,
            RequestType::GetRegionSize => Request::GetRegionSize,
            RequestType::IsClean => Request::IsClean(one(p)?),
            RequestType::InSync => Request::InSync(one(p)?),
            RequestType::Flush => Request::Flush(regions(p)?),
            RequestType::MarkRegion => Request::MarkRegion(regions(p)?),
            RequestType::ClearRegion => Request::ClearRegion(regions(p)?),
            RequestType::GetResyncWork => Request::GetResyncWork,
            RequestType::SetRegionSync => {
                if p.len() != 16 {
                    return Err(bad);
                }
                Request::SetRegionSync {
                    region: rd_u64(p, 0).ok_or(bad)?,
                    in_sync: rd_u64(p, 8).ok_or(bad)? != 0,
                }
            }
            RequestType::GetSyncCount => Request::GetSyncCount,
            RequestType::StatusInfo => Request::StatusInfo,
            RequestType::StatusTable => Request::StatusTable,
            RequestType::IsRemoteRecovering => Request::IsRemoteRecovering(one(p)?),
        };
        Ok((kind, req))
    }

    /// Whether a CTR payload ends in a NUL: the kernel's reconnect path
    /// (`userspace_do_request` after `-ESRCH`) sends the argument string
    /// with its NUL, the constructor without.
    pub fn ctr_has_nul(&self) -> bool {
        self.payload.last() == Some(&0)
    }
}

/// A request copied out of the receive buffer, for a router that answers
/// later (e.g. after a cluster round trip).
#[derive(Clone, Copy)]
pub struct OwnedRequest {
    header: Header,
    payload: [u8; MAX_PAYLOAD],
}

impl OwnedRequest {
    /// Copy a request (its payload is at most [`MAX_PAYLOAD`] bytes, as
    /// [`decode_request`] guarantees).
    pub fn new(raw: &RawRequest<'_>) -> OwnedRequest {
        let mut payload = [0u8; MAX_PAYLOAD];
        let n = raw.payload.len().min(MAX_PAYLOAD);
        payload[..n].copy_from_slice(&raw.payload[..n]);
        let mut header = raw.header;
        header.data_size = n as u32;
        OwnedRequest { header, payload }
    }

    /// The request, borrowed again.
    pub fn as_raw(&self) -> RawRequest<'_> {
        let n = (self.header.data_size as usize).min(MAX_PAYLOAD);
        RawRequest {
            header: self.header,
            payload: &self.payload[..n],
        }
    }

    /// The header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The request in its wire form (`dm_ulog_request` + payload), e.g. to
    /// send it to other nodes; [`decode_request`] reads it back.
    pub fn to_wire(&self) -> Vec<u8> {
        let raw = self.as_raw();
        let mut v = vec![0u8; REQUEST_SIZE + raw.payload.len()];
        self.header.encode(&mut v);
        v[REQUEST_SIZE..].copy_from_slice(raw.payload);
        v
    }
}

impl fmt::Debug for OwnedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedRequest")
            .field("header", &self.header)
            .field("payload", &self.as_raw().payload)
            .finish()
    }
}

/// The payload of a reply: at most [`MAX_REPLY_PAYLOAD`] bytes, inline.
#[derive(Clone, Copy)]
pub struct ReplyPayload {
    buf: [u8; MAX_REPLY_PAYLOAD],
    len: u16,
}

impl ReplyPayload {
    /// No payload (`data_size = 0`).
    pub const fn none() -> ReplyPayload {
        ReplyPayload {
            buf: [0; MAX_REPLY_PAYLOAD],
            len: 0,
        }
    }

    /// A `__u64`.
    pub fn u64(v: u64) -> ReplyPayload {
        let mut p = ReplyPayload::none();
        p.buf[..8].copy_from_slice(&v.to_ne_bytes());
        p.len = 8;
        p
    }

    /// A `__s64`.
    pub fn i64(v: i64) -> ReplyPayload {
        ReplyPayload::u64(v as u64)
    }

    /// `{__s64; __u64}` (GET_RESYNC_WORK, IS_REMOTE_RECOVERING).
    pub fn pair(i: i64, r: u64) -> ReplyPayload {
        let mut p = ReplyPayload::none();
        p.buf[..8].copy_from_slice(&i.to_ne_bytes());
        p.buf[8..16].copy_from_slice(&r.to_ne_bytes());
        p.len = 16;
        p
    }

    /// Bytes as they are (`None` when longer than [`MAX_REPLY_PAYLOAD`]).
    pub fn bytes(b: &[u8]) -> Option<ReplyPayload> {
        if b.len() > MAX_REPLY_PAYLOAD {
            return None;
        }
        let mut p = ReplyPayload::none();
        p.buf[..b.len()].copy_from_slice(b);
        p.len = b.len() as u16;
        Some(p)
    }

    /// Bytes followed by a NUL (a CTR reply's device name).
    pub fn c_string(b: &[u8]) -> Option<ReplyPayload> {
        if b.len() >= MAX_REPLY_PAYLOAD || b.contains(&0) {
            return None;
        }
        let mut p = ReplyPayload::none();
        p.buf[..b.len()].copy_from_slice(b);
        p.len = b.len() as u16 + 1;
        Some(p)
    }

    /// The payload bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len as usize]
    }

    /// Its length.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Default for ReplyPayload {
    fn default() -> Self {
        ReplyPayload::none()
    }
}

impl fmt::Debug for ReplyPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReplyPayload({:?})", self.as_bytes())
    }
}

/// One reply datagram, ready to send.
#[derive(Clone, Copy)]
pub struct ReplyFrame {
    buf: [u8; MAX_REPLY_FRAME],
    len: usize,
}

impl ReplyFrame {
    /// The datagram.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl fmt::Debug for ReplyFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReplyFrame({} bytes)", self.len)
    }
}

fn frame_headers(out: &mut [u8], cn_len: usize, cn_seq: u32, ack: u32, port: u32) -> usize {
    let total = NLMSG_HDR_SIZE + CN_MSG_SIZE + cn_len;
    put(out, nl_off::LEN, &(total as u32).to_ne_bytes());
    put(out, nl_off::TYPE, &NLMSG_DONE.to_ne_bytes());
    put(out, nl_off::FLAGS, &0u16.to_ne_bytes());
    put(out, nl_off::SEQ, &0u32.to_ne_bytes());
    put(out, nl_off::PID, &port.to_ne_bytes());
    let cn = NLMSG_HDR_SIZE;
    put(out, cn + cn_off::IDX, &CN_IDX_DM.to_ne_bytes());
    put(
        out,
        cn + cn_off::VAL,
        &CN_VAL_DM_USERSPACE_LOG.to_ne_bytes(),
    );
    put(out, cn + cn_off::SEQ, &cn_seq.to_ne_bytes());
    put(out, cn + cn_off::ACK, &ack.to_ne_bytes());
    put(out, cn + cn_off::LEN, &(cn_len as u16).to_ne_bytes());
    put(out, cn + cn_off::FLAGS, &0u16.to_ne_bytes());
    total
}

/// A full reply: the request's header echoed (same luid, uuid, version,
/// seq, request type) with `error` (0 or a *negative* errno) and
/// `data_size` set to the payload's length. An error reply carries no
/// payload whatever `payload` holds, as the kernel expects. `port` is the
/// sender's netlink port id (`nlmsg_pid`).
pub fn encode_reply(header: &Header, error: i32, payload: &ReplyPayload, port: u32) -> ReplyFrame {
    let data: &[u8] = if error != 0 { &[] } else { payload.as_bytes() };
    let mut f = ReplyFrame {
        buf: [0; MAX_REPLY_FRAME],
        len: 0,
    };
    let mut h = *header;
    h.error = error;
    h.data_size = data.len() as u32;
    let cn_len = REQUEST_SIZE + data.len();
    let total = frame_headers(&mut f.buf, cn_len, header.seq, 0, port);
    let rq = NLMSG_HDR_SIZE + CN_MSG_SIZE;
    h.encode(&mut f.buf[rq..rq + REQUEST_SIZE]);
    put(&mut f.buf, rq + REQUEST_SIZE, data);
    f.len = total;
    f
}

/// A bare acknowledgement (`cn_msg.len == 0`) of the request with this
/// sequence number: the kernel takes `-ack` as the request's result, and
/// resends on `EAGAIN`. `errno` is positive (0 for success).
pub fn encode_ack(seq: u32, errno: u32, port: u32) -> ReplyFrame {
    let mut f = ReplyFrame {
        buf: [0; MAX_REPLY_FRAME],
        len: 0,
    };
    f.len = frame_headers(&mut f.buf, 0, seq, errno, port);
    f
}

/// Build a request datagram as the kernel sends it (for tests, fuzzing and
/// tools that replay traffic): `nlmsghdr` + `cn_msg` + header + payload.
pub fn encode_request(header: &Header, payload: &[u8]) -> Vec<u8> {
    let cn_len = REQUEST_SIZE + payload.len();
    let mut v = vec![0u8; NLMSG_HDR_SIZE + CN_MSG_SIZE + cn_len];
    let mut h = *header;
    h.data_size = payload.len() as u32;
    frame_headers(&mut v, cn_len, header.seq, 0, 0);
    let rq = NLMSG_HDR_SIZE + CN_MSG_SIZE;
    h.encode(&mut v[rq..rq + REQUEST_SIZE]);
    v[rq + REQUEST_SIZE..].copy_from_slice(payload);
    v
}

/// A reply datagram read back (for tests and tools): the frame and, for a
/// full reply, its header and payload.
pub fn decode_reply(buf: &[u8]) -> Result<(Frame<'_>, Option<RawRequest<'_>>), FrameError> {
    let frame = decode_frame(buf)?;
    if frame.data.is_empty() {
        return Ok((frame, None));
    }
    let raw = Header::decode(frame.data).and_then(|header| {
        let payload = frame
            .data
            .get(REQUEST_SIZE..REQUEST_SIZE + header.data_size as usize)?;
        Some(RawRequest { header, payload })
    });
    Ok((frame, raw))
}

#[cfg(test)]
mod tests {
    use super::super::abi::DM_ULOG_REQUEST_VERSION;
    use super::*;

    fn hdr(kind: RequestType, seq: u32) -> Header {
        Header {
            luid: 0xffff_8880_1234_5678,
            uuid: Uuid::new(b"LVM-mirror-log-uuid").unwrap(),
            padding: [0; 3],
            version: DM_ULOG_REQUEST_VERSION,
            error: 0,
            seq,
            request_type: kind as u32,
            data_size: 0,
        }
    }

    fn roundtrip(
        kind: RequestType,
        payload: &[u8],
    ) -> Result<(RequestType, Request<'static>), RequestError> {
        let buf: &'static [u8] =
            Box::leak(encode_request(&hdr(kind, 7), payload).into_boxed_slice());
        let f = decode_frame(buf).unwrap();
        assert_eq!(f.cn_seq, 7);
        assert_eq!(f.nl_pid, 0);
        let raw = decode_request(f.data)?;
        assert_eq!(raw.header.seq, 7);
        assert_eq!(raw.header.data_size as usize, payload.len());
        raw.parse()
    }

    #[test]
    fn every_request_type_decodes() {
        let r8 = 5u64.to_ne_bytes();
        let mut pair = [0u8; 16];
        pair[..8].copy_from_slice(&9u64.to_ne_bytes());
        pair[8..].copy_from_slice(&1i64.to_ne_bytes());
        let mut regions = Vec::new();
        for r in [3u64, 1, 4, 1, 5] {
            regions.extend_from_slice(&r.to_ne_bytes());
        }
        assert_eq!(
            roundtrip(RequestType::Ctr, b"2048 clustered-core 512")
                .unwrap()
                .1,
            Request::Ctr(b"2048 clustered-core 512")
        );
        assert_eq!(
            roundtrip(RequestType::Ctr, b"2048 clustered-core 512\0")
                .unwrap()
                .1,
            Request::Ctr(b"2048 clustered-core 512")
        );
        assert_eq!(roundtrip(RequestType::Dtr, b"").unwrap().1, Request::Dtr);
        assert_eq!(
            roundtrip(RequestType::Dtr, b"args ignored").unwrap().1,
            Request::Dtr
        );
        assert_eq!(
            roundtrip(RequestType::Presuspend, b"").unwrap().1,
            Request::Presuspend
        );
        assert_eq!(
            roundtrip(RequestType::Postsuspend, b"").unwrap().1,
            Request::Postsuspend
        );
        assert_eq!(
            roundtrip(RequestType::Resume, b"").unwrap().1,
            Request::Resume
        );
        assert_eq!(
            roundtrip(RequestType::GetRegionSize, b"").unwrap().1,
            Request::GetRegionSize
        );
        assert_eq!(
            roundtrip(RequestType::IsClean, &r8).unwrap().1,
            Request::IsClean(5)
        );
        assert_eq!(
            roundtrip(RequestType::InSync, &r8).unwrap().1,
            Request::InSync(5)
        );
        let (_, Request::Flush(f)) = roundtrip(RequestType::Flush, &regions).unwrap() else {
            panic!()
        };
        assert_eq!(f.iter().collect::<Vec<_>>(), [3, 1, 4, 1, 5]);
        let (_, Request::Flush(f)) = roundtrip(RequestType::Flush, b"").unwrap() else {
            panic!()
        };
        assert!(f.is_empty());
        let (_, Request::MarkRegion(m)) = roundtrip(RequestType::MarkRegion, &regions).unwrap()
        else {
            panic!()
        };
        assert_eq!(m.len(), 5);
        let (_, Request::ClearRegion(c)) = roundtrip(RequestType::ClearRegion, &r8).unwrap() else {
            panic!()
        };
        assert_eq!(c.iter().collect::<Vec<_>>(), [5]);
        assert_eq!(
            roundtrip(RequestType::GetResyncWork, b"").unwrap().1,
            Request::GetResyncWork
        );
        assert_eq!(
            roundtrip(RequestType::SetRegionSync, &pair).unwrap().1,
            Request::SetRegionSync {
                region: 9,
                in_sync: true
            }
        );
        assert_eq!(
            roundtrip(RequestType::GetSyncCount, b"").unwrap().1,
            Request::GetSyncCount
        );
        assert_eq!(
            roundtrip(RequestType::StatusInfo, b"").unwrap().1,
            Request::StatusInfo
        );
        assert_eq!(
            roundtrip(RequestType::StatusTable, b"").unwrap().1,
            Request::StatusTable
        );
        assert_eq!(
            roundtrip(RequestType::IsRemoteRecovering, &r8).unwrap().1,
            Request::IsRemoteRecovering(5)
        );
    }

    #[test]
    fn bad_payloads_are_einval() {
        for (kind, p) in [
            (RequestType::IsClean, &b"1234"[..]),
            (RequestType::InSync, &[0u8; 16][..]),
            (RequestType::MarkRegion, &[0u8; 12][..]),
            (RequestType::SetRegionSync, &[0u8; 8][..]),
            (RequestType::IsRemoteRecovering, &b""[..]),
            (RequestType::Ctr, &b""[..]),
            (RequestType::Ctr, &b"\0"[..]),
            (RequestType::Ctr, &b"12 core\0junk"[..]),
        ] {
            let e = roundtrip(kind, p).unwrap_err();
            assert!(
                matches!(e, RequestError::BadPayload { kind: k, .. } if k == kind),
                "{kind}: {e:?}"
            );
            assert_eq!(e.errno(), libc::EINVAL);
            assert_eq!(e.header().unwrap().seq, 7);
        }
    }

    #[test]
    fn unknown_types() {
        let mut h = hdr(RequestType::Ctr, 3);
        h.request_type = 18;
        let buf = encode_request(&h, b"");
        let e = decode_request(decode_frame(&buf).unwrap().data)
            .unwrap()
            .parse()
            .unwrap_err();
        assert_eq!(e.errno(), libc::EOPNOTSUPP);
        h.request_type = 0x100; // type byte 0: a damaged transmission
        let buf = encode_request(&h, b"");
        let e = decode_request(decode_frame(&buf).unwrap().data)
            .unwrap()
            .parse()
            .unwrap_err();
        assert_eq!(e.errno(), libc::EAGAIN);
    }

    #[test]
    fn truncated_oversized_incomplete() {
        let mut buf = encode_request(&hdr(RequestType::MarkRegion, 11), &[0u8; 32]);
        // data_size says 40 but 32 bytes follow (cn_msg.len still agrees).
        let rq = NLMSG_HDR_SIZE + CN_MSG_SIZE;
        buf[rq + rq_off::DATA_SIZE..rq + rq_off::DATA_SIZE + 4]
            .copy_from_slice(&40u32.to_ne_bytes());
        let e = decode_request(decode_frame(&buf).unwrap().data).unwrap_err();
        assert_eq!(
            e,
            RequestError::Truncated {
                header: {
                    let mut h = hdr(RequestType::MarkRegion, 11);
                    h.data_size = 40;
                    h
                },
                available: 32
            }
        );
        assert_eq!(e.errno(), libc::EINVAL);
        // Over the kernel's limit.
        let big = vec![0u8; MAX_PAYLOAD + 8];
        let buf = encode_request(&hdr(RequestType::MarkRegion, 12), &big);
        let e = decode_request(decode_frame(&buf).unwrap().data).unwrap_err();
        assert!(matches!(e, RequestError::Oversized { .. }));
        // The limit itself is fine.
        let buf = encode_request(&hdr(RequestType::Flush, 13), &[0u8; 328]);
        let raw = decode_request(decode_frame(&buf).unwrap().data).unwrap();
        assert!(matches!(raw.parse().unwrap().1, Request::Flush(r) if r.len() == 41));
        // Fewer than 160 bytes of request.
        let e = decode_request(&[0u8; 159]).unwrap_err();
        assert_eq!(e, RequestError::Incomplete { len: 159 });
        assert_eq!(e.errno(), libc::EAGAIN);
        assert!(e.header().is_none());
    }

    #[test]
    fn frame_errors() {
        let good = encode_request(&hdr(RequestType::Resume, 1), b"");
        assert_eq!(
            decode_frame(&good[..20]),
            Err(FrameError::Short { len: 20 })
        );
        let mut b = good.clone();
        b[0..4].copy_from_slice(&1000u32.to_ne_bytes());
        assert!(matches!(
            decode_frame(&b),
            Err(FrameError::NetlinkLength { claimed: 1000, .. })
        ));
        let mut b = good.clone();
        b[4..6].copy_from_slice(&NLMSG_ERROR.to_ne_bytes());
        b[16..20].copy_from_slice(&(-(libc::ENOBUFS)).to_ne_bytes());
        assert_eq!(
            decode_frame(&b),
            Err(FrameError::NetlinkError(libc::ENOBUFS))
        );
        let mut b = good.clone();
        b[4..6].copy_from_slice(&1u16.to_ne_bytes());
        assert_eq!(decode_frame(&b), Err(FrameError::NetlinkType(1)));
        let mut b = good.clone();
        b[16..20].copy_from_slice(&1u32.to_ne_bytes());
        assert_eq!(decode_frame(&b), Err(FrameError::NotDm { idx: 1, val: 1 }));
        let mut b = good.clone();
        b[16 + 16..16 + 18].copy_from_slice(&400u16.to_ne_bytes());
        assert!(matches!(
            decode_frame(&b),
            Err(FrameError::ConnectorLength { claimed: 400, .. })
        ));
    }

    #[test]
    fn replies_echo_the_header() {
        let mut h = hdr(RequestType::GetResyncWork, 42);
        h.request_type |= 0x0100_0000; // reserved bits are echoed as received
        h.padding = [1, 2, 3];
        let f = encode_reply(&h, 0, &ReplyPayload::pair(1, 77), 1234);
        let b = f.as_bytes();
        assert_eq!(b.len(), 16 + 20 + 160 + 16);
        let (frame, raw) = decode_reply(b).unwrap();
        assert_eq!(frame.nl_pid, 1234);
        assert_eq!(frame.cn_ack, 0);
        assert_eq!(frame.data.len(), 176);
        let raw = raw.unwrap();
        assert_eq!(raw.header.seq, 42);
        assert_eq!(raw.header.luid, h.luid);
        assert_eq!(raw.header.uuid, h.uuid);
        assert_eq!(raw.header.request_type, h.request_type);
        assert_eq!(raw.header.padding, [1, 2, 3]);
        assert_eq!(raw.header.version, DM_ULOG_REQUEST_VERSION);
        assert_eq!(raw.header.error, 0);
        assert_eq!(raw.header.data_size, 16);
        assert_eq!(&raw.payload[..8], &1i64.to_ne_bytes());
        assert_eq!(&raw.payload[8..], &77u64.to_ne_bytes());
        // An error reply drops the payload.
        let f = encode_reply(&h, -libc::EINVAL, &ReplyPayload::u64(5), 1);
        let (_, raw) = decode_reply(f.as_bytes()).unwrap();
        let raw = raw.unwrap();
        assert_eq!(raw.header.error, -libc::EINVAL);
        assert_eq!(raw.header.data_size, 0);
        assert_eq!(f.as_bytes().len(), 196);
    }

    #[test]
    fn bare_ack() {
        let f = encode_ack(99, libc::EAGAIN as u32, 5);
        let (frame, raw) = decode_reply(f.as_bytes()).unwrap();
        assert!(raw.is_none());
        assert_eq!(frame.cn_seq, 99);
        assert_eq!(frame.cn_ack, libc::EAGAIN as u32);
        assert_eq!(f.as_bytes().len(), 36);
    }

    #[test]
    fn reply_payloads() {
        assert_eq!(
            ReplyPayload::c_string(b"253:2").unwrap().as_bytes(),
            b"253:2\0"
        );
        assert!(ReplyPayload::c_string(&[b'a'; MAX_REPLY_PAYLOAD]).is_none());
        assert!(ReplyPayload::c_string(b"a\0b").is_none());
        assert!(ReplyPayload::bytes(&[0; MAX_REPLY_PAYLOAD + 1]).is_none());
        assert_eq!(ReplyPayload::i64(-1).as_bytes(), &(-1i64).to_ne_bytes());
    }

    #[test]
    fn owned_requests_round_trip() {
        let buf = encode_request(&hdr(RequestType::MarkRegion, 5), &[7u8; 16]);
        let raw = decode_request(decode_frame(&buf).unwrap().data).unwrap();
        let owned = OwnedRequest::new(&raw);
        assert_eq!(owned.as_raw(), raw);
        let wire = owned.to_wire();
        assert_eq!(decode_request(&wire).unwrap(), raw);
    }

    #[test]
    fn uuids_are_bytes() {
        assert!(Uuid::new(&[b'x'; 128]).is_some());
        assert!(Uuid::new(&[b'x'; 129]).is_none());
        assert!(Uuid::new(b"a\0b").is_none());
        let mut field = [0xffu8; DM_UUID_LEN];
        field[3] = 0;
        let u = Uuid::from_field(field);
        assert_eq!(u.as_bytes(), &[0xff; 3]);
        assert_eq!(u, Uuid::new(&[0xff; 3]).unwrap());
        assert_eq!(u.display().to_string(), "\\xff\\xff\\xff");
        assert_eq!(Uuid::from_field([b'z'; DM_UUID_LEN]).as_bytes().len(), 129);
    }
}
