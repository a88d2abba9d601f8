//! The clustered mode: several nodes share each mirror's log through a
//! group communication system with agreed (totally ordered) delivery and
//! virtual synchrony, such as corosync's CPG (the role of LVM2's
//! `cmirrord`). Pure logic, no I/O: the caller owns the transport
//! ([`Transport`]) and feeds deliveries ([`ClusterRouter::deliver`]) and
//! membership changes ([`ClusterRouter::membership`]) back in, then sends
//! the replies that became ready ([`ClusterRouter::take_replies`]).
//!
//! # Model
//!
//! One group per log uuid, joined at the log's RESUME and left after its
//! POSTSUSPEND (or DTR). Every member keeps the whole log (a replicated
//! state machine): a request that changes the log is multicast, every
//! member applies every message in the agreed order, and the node it came
//! from answers its kernel when its own message comes back. Requests that
//! only read are answered from the local copy at once.
//!
//! | answered locally | through the group |
//! |---|---|
//! | CTR, DTR, GET_REGION_SIZE, IS_CLEAN, IN_SYNC, GET_SYNC_COUNT, STATUS_INFO, STATUS_TABLE, PRESUSPEND | RESUME, MARK_REGION, FLUSH (with its marks), GET_RESYNC_WORK, SET_REGION_SYNC, IS_REMOTE_RECOVERING, POSTSUSPEND; CLEAR_REGION is acknowledged at once and then multicast |
//!
//! A FLUSH without marks is answered locally where no other node must write
//! first (a core log, or this node writes the disk log); elsewhere it goes
//! through the group and waits for the writer's acknowledgement.
//!
//! * Marks are kept per member: a region is clean only when no member has
//!   it marked. When a member leaves or fails, every region it still had
//!   marked is taken out of sync (and so resynchronised), and the region it
//!   was recovering is handed out again.
//! * Resync work is handed out once cluster-wide: one cursor, one region
//!   per member at a time, never a region another member is recovering.
//! * The lowest member (node id, then pid) among those that have the state
//!   is the disk writer: only it writes a `clustered-disk` log's device;
//!   the others keep the bits in memory. A FLUSH from another member is
//!   answered when the writer's acknowledgement comes back. When the writer
//!   changes, the new one rewrites the whole log and says so.
//! * State transfer: at a membership change with joiners, the lowest
//!   member that has the state multicasts a checkpoint (bits, marks per
//!   member, recovery, cursor). A joiner buffers every event of the group
//!   until a checkpoint for it arrives, then restores it and replays what
//!   came after the point the checkpoint was taken at.
//!
//! # Messages
//!
//! Little-endian, length-checked, versioned; a message that does not
//! decode is logged and dropped ([`Message::decode`] never panics):
//!
//! ```text
//! 0   magic "DMUC"   4   version (1)   5   kind   6   reserved u16 (0)
//! 8   uuid [129]     137 body length u32          141 body
//! kind 1 Request:   token u64, request type u32, length u32, payload
//! kind 2 Ack:       origin node u32, pid u32, token u64, error i32
//! kind 3 Committed: (empty) the sender, now the writer, wrote everything
//! kind 4 Checkpoint: see `Checkpoint::encode`
//! ```

use super::abi::{RequestType, DM_UUID_LEN, MAX_PAYLOAD};
use super::bitset::Bitset;
use super::codec::{Header, RawRequest, ReplyPayload, Request, Uuid};
use super::ctr::LogKind;
use super::log::{Phase, Snapshot};
use super::server::Router;
use super::table::{ulog, LogTable, Outcome};
use crate::error::Error;
use crate::log::{Level, Logger, Record};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

/// A member of a group: a process on a node (corosync's `nodeid`, `pid`).
/// Ordered by node id, then pid: the lowest is the disk writer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Member {
    /// Node id.
    pub node: u32,
    /// Process id.
    pub pid: u32,
}

/// Group communication with agreed order: what the router needs from the
/// caller. Deliveries and membership changes come back through
/// [`ClusterRouter::deliver`] and [`ClusterRouter::membership`], in the
/// order the transport delivers them, including this node's own messages.
pub trait Transport {
    /// Join the group of a log.
    fn join(&mut self, uuid: &Uuid) -> Result<(), String>;
    /// Leave the group of a log.
    fn leave(&mut self, uuid: &Uuid) -> Result<(), String>;
    /// Send a message to every member of the group (this node included),
    /// in agreed order.
    fn multicast(&mut self, uuid: &Uuid, message: &[u8]) -> Result<(), String>;
}

/// Message format version.
pub const MESSAGE_VERSION: u8 = 1;
const MAGIC: &[u8; 4] = b"DMUC";
const HEAD: usize = 8 + DM_UUID_LEN + 4;
/// Largest message accepted (a checkpoint of a large log is the biggest).
pub const MAX_MESSAGE: usize = 64 << 20;

/// Why a message was dropped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError(pub &'static str);

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// A cluster message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// A kernel request from the sender.
    Request {
        /// The sender's id of the request.
        token: u64,
        /// `DM_ULOG_*`.
        request_type: u32,
        /// The request's payload.
        payload: Vec<u8>,
    },
    /// The writer committed a FLUSH of `origin`.
    Ack {
        /// Who sent the FLUSH.
        origin: Member,
        /// Its token.
        token: u64,
        /// 0 or `-errno`.
        error: i32,
    },
    /// The sender became the writer and wrote the whole log.
    Committed,
    /// The state, for the members that wait for it.
    Checkpoint(Box<Checkpoint>),
}

/// The state of a log, as handed to joiners.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// Who it is for, each with the number of membership changes it has
    /// seen since it joined, when the checkpoint was taken.
    pub recipients: Vec<(Member, u32)>,
    /// Whether the log was initialised (a RESUME was applied).
    pub initialized: bool,
    /// The bits and the rest of the log.
    pub snapshot: Snapshot,
    /// The resync cursor.
    pub cursor: u64,
    /// Marks per member.
    pub marks: Vec<(Member, Vec<u64>)>,
    /// Regions being recovered, per member.
    pub recovering: Vec<(Member, u64)>,
}

struct Reader<'a> {
    b: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.b.len() < n {
            return Err(DecodeError("truncated"));
        }
        let (a, rest) = self.b.split_at(n);
        self.b = rest;
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?.first().copied().unwrap_or(0))
    }
    fn u32(&mut self) -> Result<u32, DecodeError> {
        let mut a = [0u8; 4];
        a.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(a))
    }
    fn u64(&mut self) -> Result<u64, DecodeError> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(a))
    }
    fn member(&mut self) -> Result<Member, DecodeError> {
        Ok(Member {
            node: self.u32()?,
            pid: self.u32()?,
        })
    }
    /// A count of items at least `size` bytes each that must fit.
    fn count(&mut self, size: usize) -> Result<usize, DecodeError> {
        let n = self.u32()? as usize;
        if n.saturating_mul(size) > self.b.len() {
            return Err(DecodeError("count larger than the message"));
        }
        Ok(n)
    }
    fn bits(&mut self) -> Result<Bitset, DecodeError> {
        let nbits = self.u64()?;
        let words = nbits.div_ceil(64);
        if words.saturating_mul(8) > self.b.len() as u64 {
            return Err(DecodeError("bitmap larger than the message"));
        }
        let bytes = self.take(words as usize * 8)?;
        let mut b = Bitset::try_new(nbits, false).map_err(|_| DecodeError("bitmap too large"))?;
        b.read_le(bytes, nbits);
        Ok(b)
    }
}

fn put_bits(out: &mut Vec<u8>, b: &Bitset) {
    out.extend_from_slice(&b.len().to_le_bytes());
    let w = b.words().len();
    let start = out.len();
    out.resize(start + w * 8, 0);
    if let Some(dst) = out.get_mut(start..) {
        b.write_le(0..w, dst);
    }
}

fn put_member(out: &mut Vec<u8>, m: Member) {
    out.extend_from_slice(&m.node.to_le_bytes());
    out.extend_from_slice(&m.pid.to_le_bytes());
}

fn phase_code(p: Phase) -> u8 {
    match p {
        Phase::Constructed => 0,
        Phase::Running => 1,
        Phase::Suspended => 2,
    }
}

impl Message {
    /// The wire form for the group of `uuid`.
    pub fn encode(&self, uuid: &Uuid) -> Vec<u8> {
        let mut body = Vec::new();
        let kind = match self {
            Message::Request {
                token,
                request_type,
                payload,
            } => {
                body.extend_from_slice(&token.to_le_bytes());
                body.extend_from_slice(&request_type.to_le_bytes());
                body.extend_from_slice(&(payload.len() as u32).to_le_bytes());
                body.extend_from_slice(payload);
                1
            }
            Message::Ack {
                origin,
                token,
                error,
            } => {
                put_member(&mut body, *origin);
                body.extend_from_slice(&token.to_le_bytes());
                body.extend_from_slice(&error.to_le_bytes());
                2
            }
            Message::Committed => 3,
            Message::Checkpoint(cp) => {
                cp.encode(&mut body);
                4
            }
        };
        let mut out = Vec::with_capacity(HEAD + body.len());
        out.extend_from_slice(MAGIC);
        out.push(MESSAGE_VERSION);
        out.push(kind);
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(uuid.field());
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(&body);
        out
    }

    /// Read a message back: its group's uuid and the message.
    pub fn decode(b: &[u8]) -> Result<(Uuid, Message), DecodeError> {
        if b.len() > MAX_MESSAGE {
            return Err(DecodeError("message too large"));
        }
        let mut r = Reader { b };
        if r.take(4)? != MAGIC {
            return Err(DecodeError("not a dm-ulogd message (bad magic)"));
        }
        if r.u8()? != MESSAGE_VERSION {
            return Err(DecodeError("unknown message version"));
        }
        let kind = r.u8()?;
        if r.take(2)? != [0, 0] {
            return Err(DecodeError("reserved bytes set"));
        }
        let mut field = [0u8; DM_UUID_LEN];
        field.copy_from_slice(r.take(DM_UUID_LEN)?);
        let uuid = Uuid::from_field(field);
        let len = r.u32()? as usize;
        if r.b.len() != len {
            return Err(DecodeError("body length does not match"));
        }
        let m = match kind {
            1 => {
                let token = r.u64()?;
                let request_type = r.u32()?;
                let n = r.u32()? as usize;
                if n > MAX_PAYLOAD {
                    return Err(DecodeError("request payload too large"));
                }
                let payload = r.take(n)?.to_vec();
                Message::Request {
                    token,
                    request_type,
                    payload,
                }
            }
            2 => Message::Ack {
                origin: r.member()?,
                token: r.u64()?,
                error: r.u32()? as i32,
            },
            3 => Message::Committed,
            4 => Message::Checkpoint(Box::new(Checkpoint::decode(&mut r)?)),
            _ => return Err(DecodeError("unknown message kind")),
        };
        if !r.b.is_empty() {
            return Err(DecodeError("trailing bytes"));
        }
        Ok((uuid, m))
    }
}

impl Checkpoint {
    /// ```text
    /// recipients u32 × (node u32, pid u32, changes u32)
    /// initialized u8, phase u8, dev_failed u8, has_recovering u8
    /// recovering u64, sync_search u64, cursor u64
    /// clean: bits u64 + words u64…   sync: bits u64 + words u64…
    /// marks u32 × (node, pid, n u32, regions u64 × n)
    /// recovering u32 × (node, pid, region u64)
    /// ```
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&(self.recipients.len() as u32).to_le_bytes());
        for (m, k) in &self.recipients {
            put_member(out, *m);
            out.extend_from_slice(&k.to_le_bytes());
        }
        let s = &self.snapshot;
        out.push(u8::from(self.initialized));
        out.push(phase_code(s.phase));
        out.push(u8::from(s.dev_failed));
        out.push(u8::from(s.recovering.is_some()));
        out.extend_from_slice(&s.recovering.unwrap_or(0).to_le_bytes());
        out.extend_from_slice(&s.sync_search.to_le_bytes());
        out.extend_from_slice(&self.cursor.to_le_bytes());
        put_bits(out, &s.clean);
        put_bits(out, &s.sync);
        out.extend_from_slice(&(self.marks.len() as u32).to_le_bytes());
        for (m, regions) in &self.marks {
            put_member(out, *m);
            out.extend_from_slice(&(regions.len() as u32).to_le_bytes());
            for r in regions {
                out.extend_from_slice(&r.to_le_bytes());
            }
        }
        out.extend_from_slice(&(self.recovering.len() as u32).to_le_bytes());
        for (m, r) in &self.recovering {
            put_member(out, *m);
            out.extend_from_slice(&r.to_le_bytes());
        }
    }

    fn decode(r: &mut Reader<'_>) -> Result<Checkpoint, DecodeError> {
        let n = r.count(12)?;
        let mut recipients = Vec::new();
        for _ in 0..n {
            recipients.push((r.member()?, r.u32()?));
        }
        let initialized = r.u8()? != 0;
        let phase = match r.u8()? {
            0 => Phase::Constructed,
            1 => Phase::Running,
            2 => Phase::Suspended,
            _ => return Err(DecodeError("bad phase")),
        };
        let dev_failed = r.u8()? != 0;
        let has_rec = r.u8()? != 0;
        let rec = r.u64()?;
        let sync_search = r.u64()?;
        let cursor = r.u64()?;
        let clean = r.bits()?;
        let sync = r.bits()?;
        if clean.len() != sync.len() {
            return Err(DecodeError("bitmaps of different sizes"));
        }
        let n = r.count(12)?;
        let mut marks = Vec::new();
        for _ in 0..n {
            let m = r.member()?;
            let k = r.count(8)?;
            let mut v = Vec::new();
            for _ in 0..k {
                v.push(r.u64()?);
            }
            marks.push((m, v));
        }
        let n = r.count(16)?;
        let mut recovering = Vec::new();
        for _ in 0..n {
            recovering.push((r.member()?, r.u64()?));
        }
        Ok(Checkpoint {
            recipients,
            initialized,
            snapshot: Snapshot {
                clean,
                sync,
                sync_search,
                recovering: has_rec.then_some(rec),
                phase,
                dev_failed,
            },
            cursor,
            marks,
            recovering,
        })
    }
}

/// An event of a group, as buffered by a member waiting for its state.
#[derive(Clone, Debug)]
enum Event {
    Message(Member, Message),
    Change {
        members: Vec<Member>,
        left: Vec<Member>,
        joined: Vec<Member>,
    },
}

#[derive(Debug)]
enum Stage {
    /// Joined, our own membership change not seen yet: requests queue.
    Joining(Vec<Vec<u8>>),
    /// Waiting for a checkpoint: every event since the membership we
    /// joined at is kept.
    Awaiting(Vec<Member>, Vec<Event>),
    /// Has the state.
    Ready,
}

#[derive(Debug)]
struct Group {
    luid: u64,
    stage: Stage,
    members: Vec<Member>,
    /// Members waiting for a checkpoint, with the membership changes seen
    /// since they joined.
    awaiting: BTreeMap<Member, u32>,
    initialized: bool,
    marks: BTreeMap<Member, BTreeSet<u64>>,
    recovering: BTreeMap<Member, u64>,
    cursor: u64,
    pending: HashMap<u64, (Header, RequestType)>,
    /// FLUSHes applied here, waiting for the writer: token → (header,
    /// membership changes seen when applied).
    flush_wait: BTreeMap<u64, (Header, u64)>,
    changes: u64,
    writer: Option<Member>,
    writer_since: u64,
}

impl Group {
    fn new(luid: u64) -> Group {
        Group {
            luid,
            stage: Stage::Joining(Vec::new()),
            members: Vec::new(),
            awaiting: BTreeMap::new(),
            initialized: false,
            marks: BTreeMap::new(),
            recovering: BTreeMap::new(),
            cursor: 0,
            pending: HashMap::new(),
            flush_wait: BTreeMap::new(),
            changes: 0,
            writer: None,
            writer_since: 0,
        }
    }

    fn lowest_ready(&self) -> Option<Member> {
        self.members
            .iter()
            .copied()
            .filter(|m| !self.awaiting.contains_key(m))
            .min()
    }

    fn marked_elsewhere(&self, r: u64) -> bool {
        self.marks.values().any(|s| s.contains(&r))
    }
}

/// Counters of the cluster layer.
#[derive(Clone, Debug, Default)]
pub struct ClusterStats {
    /// Messages sent.
    pub sent: u64,
    /// Messages applied.
    pub applied: u64,
    /// Messages dropped (did not decode, or for no group of ours).
    pub dropped: u64,
    /// Checkpoints sent.
    pub checkpoints_sent: u64,
    /// Checkpoints restored.
    pub checkpoints_restored: u64,
    /// Regions taken out of sync because a member left with them marked.
    pub resynced_after_leave: u64,
}

/// A [`Router`] that serves a log together with the other nodes of its
/// group (see the module documentation).
pub struct ClusterRouter<T: Transport> {
    me: Member,
    transport: T,
    groups: HashMap<Uuid, Group>,
    replies: Vec<(Header, Outcome)>,
    next_token: u64,
    logger: Option<Arc<dyn Logger>>,
    stats: ClusterStats,
    /// Tests: treat core logs like disk logs for the writer's FLUSH
    /// acknowledgements (no block device needed).
    acks_for_core: bool,
}

impl<T: Transport> std::fmt::Debug for ClusterRouter<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterRouter")
            .field("me", &self.me)
            .field("groups", &self.groups.len())
            .field("stats", &self.stats)
            .finish()
    }
}

fn outcome(r: Result<ReplyPayload, Error>) -> Outcome {
    match r {
        Ok(p) => Outcome::ok(p),
        Err(e) => Outcome::errno(e.errno().unwrap_or(libc::EIO)),
    }
}

/// Request types that go through the group.
pub fn is_cluster_request(kind: RequestType) -> bool {
    matches!(
        kind,
        RequestType::Resume
            | RequestType::MarkRegion
            | RequestType::ClearRegion
            | RequestType::Flush
            | RequestType::GetResyncWork
            | RequestType::SetRegionSync
            | RequestType::IsRemoteRecovering
            | RequestType::Postsuspend
    )
}

impl<T: Transport> ClusterRouter<T> {
    /// A router for this process (`me`: its node id and pid in the
    /// transport) over `transport`.
    pub fn new(me: Member, transport: T, logger: Option<Arc<dyn Logger>>) -> Self {
        ClusterRouter {
            me,
            transport,
            groups: HashMap::new(),
            replies: Vec::new(),
            next_token: 1,
            logger,
            stats: ClusterStats::default(),
            acks_for_core: false,
        }
    }

    /// This process.
    pub fn me(&self) -> Member {
        self.me
    }

    /// The transport.
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// The transport, writable.
    pub fn transport_mut(&mut self) -> &mut T {
        &mut self.transport
    }

    /// The counters.
    pub fn stats(&self) -> &ClusterStats {
        &self.stats
    }

    /// The uuids of the groups joined.
    pub fn groups(&self) -> impl Iterator<Item = &Uuid> {
        self.groups.keys()
    }

    /// Whether this node has the state of `uuid`'s log (joined and not
    /// waiting for a checkpoint).
    pub fn is_ready(&self, uuid: &Uuid) -> bool {
        self.groups
            .get(uuid)
            .is_some_and(|g| matches!(g.stage, Stage::Ready))
    }

    /// The members of `uuid`'s group, as last seen.
    pub fn members(&self, uuid: &Uuid) -> Vec<Member> {
        self.groups
            .get(uuid)
            .map(|g| g.members.clone())
            .unwrap_or_default()
    }

    /// The disk writer of `uuid`'s log, if known.
    pub fn writer(&self, uuid: &Uuid) -> Option<Member> {
        self.groups.get(uuid).and_then(|g| g.writer)
    }

    /// Replies that became ready (send them with
    /// [`super::server::Server::reply`]).
    pub fn take_replies(&mut self) -> Vec<(Header, Outcome)> {
        std::mem::take(&mut self.replies)
    }

    /// Leave every group (a clean stop).
    pub fn leave_all(&mut self) {
        let uuids: Vec<Uuid> = self.groups.keys().copied().collect();
        for u in uuids {
            let _ = self.transport.leave(&u);
        }
        self.groups.clear();
    }

    fn logger(&self) -> Option<&dyn Logger> {
        self.logger.as_deref()
    }

    fn send(&mut self, uuid: &Uuid, m: &Message) -> Result<(), String> {
        self.stats.sent += 1;
        self.transport.multicast(uuid, &m.encode(uuid))
    }

    /// Send a request through the group (or queue it until the group is
    /// joined); `false` when the transport failed.
    fn submit(&mut self, raw: &RawRequest<'_>, kind: RequestType) -> bool {
        let uuid = raw.header.uuid;
        let token = self.next_token;
        self.next_token += 1;
        let m = Message::Request {
            token,
            request_type: raw.header.request_type,
            payload: raw.payload.to_vec(),
        };
        let Some(g) = self.groups.get_mut(&uuid) else {
            return false;
        };
        g.pending.insert(token, (raw.header, kind));
        if let Stage::Joining(q) = &mut g.stage {
            q.push(m.encode(&uuid));
            return true;
        }
        match self.send(&uuid, &m) {
            Ok(()) => true,
            Err(e) => {
                if let Some(g) = self.groups.get_mut(&uuid) {
                    g.pending.remove(&token);
                }
                ulog!(
                    self.logger(),
                    Level::Error,
                    "[{}] cannot send {kind} to the cluster: {e}",
                    uuid.display()
                );
                false
            }
        }
    }

    /// A FLUSH without marks answered here, when no other node must write
    /// first (see [`Router::route`]); `None` to send it through the group.
    fn local_flush(&mut self, table: &mut LogTable, h: &Header) -> Option<Outcome> {
        let g = self.groups.get(&h.uuid)?;
        if !matches!(g.stage, Stage::Ready) {
            return None;
        }
        let writer = g.writer == Some(self.me);
        let log = table.get_mut(&h.uuid, h.luid)?;
        let disk = log.config().kind == LogKind::Disk || self.acks_for_core;
        if disk && !writer {
            return None;
        }
        let out = outcome(log.commit_now().map(|_| ReplyPayload::none()));
        ulog!(
            self.logger(),
            Level::Debug,
            "[{}/{:x}] FLUSH [{}] (cluster: nothing to agree on, answered here) -> {}",
            h.uuid.display(),
            h.luid,
            h.seq,
            if out.error == 0 {
                "ok".to_string()
            } else {
                format!("error {}", out.error)
            }
        );
        Some(out)
    }

    fn route_resume(&mut self, table: &mut LogTable, raw: &RawRequest<'_>) -> Option<Outcome> {
        let h = raw.header;
        if table.get(&h.uuid, h.luid).is_none() {
            return Some(table.handle(raw));
        }
        match self.groups.get_mut(&h.uuid) {
            Some(g) if g.luid != h.luid => {
                // Another table of the same mirror took over (a reload
                // without suspend): it carries on with the state.
                let snap = table.get(&h.uuid, g.luid).map(|l| l.snapshot());
                if let (Some(s), Some(l)) = (snap, table.get_mut(&h.uuid, h.luid)) {
                    l.restore(s);
                }
                g.luid = h.luid;
            }
            Some(_) => {}
            None => {
                if let Err(e) = self.transport.join(&h.uuid) {
                    ulog!(
                        self.logger(),
                        Level::Error,
                        "[{}] cannot join the cluster group: {e}",
                        h.uuid.display()
                    );
                    return Some(Outcome::errno(libc::EIO));
                }
                self.groups.insert(h.uuid, Group::new(h.luid));
            }
        }
        if self.submit(raw, RequestType::Resume) {
            None
        } else {
            Some(Outcome::errno(libc::EIO))
        }
    }

    /// A message delivered by the transport from `from`, in agreed order.
    pub fn deliver(&mut self, table: &mut LogTable, from: Member, data: &[u8]) {
        let (uuid, m) = match Message::decode(data) {
            Ok(x) => x,
            Err(e) => {
                self.stats.dropped += 1;
                ulog!(
                    self.logger(),
                    Level::Warn,
                    "dropped a {}-byte cluster message from node {} pid {}: {e}",
                    data.len(),
                    from.node,
                    from.pid
                );
                return;
            }
        };
        let me = self.me;
        let Some(g) = self.groups.get_mut(&uuid) else {
            self.stats.dropped += 1;
            return;
        };
        match &mut g.stage {
            Stage::Ready => self.apply(table, &uuid, from, m, false),
            Stage::Awaiting(_, buf) => {
                let mine = match &m {
                    Message::Checkpoint(cp) => {
                        cp.recipients.iter().find(|(r, _)| *r == me).map(|x| x.1)
                    }
                    _ => None,
                };
                match (mine, m) {
                    (Some(k), Message::Checkpoint(cp)) => {
                        let (at_join, buf) = match std::mem::replace(&mut g.stage, Stage::Ready) {
                            Stage::Awaiting(a, b) => (a, b),
                            _ => (Vec::new(), Vec::new()),
                        };
                        self.restore(table, &uuid, &cp, k, at_join, buf);
                    }
                    (_, m) => buf.push(Event::Message(from, m)),
                }
            }
            Stage::Joining(_) => {
                // Nothing is delivered before our own join; ignore.
                self.stats.dropped += 1;
            }
        }
    }

    /// A membership change of `uuid`'s group: every member now, who left
    /// (or failed) and who joined.
    pub fn membership(
        &mut self,
        table: &mut LogTable,
        uuid: &Uuid,
        members: &[Member],
        left: &[Member],
        joined: &[Member],
    ) {
        let me = self.me;
        let Some(g) = self.groups.get_mut(uuid) else {
            return;
        };
        let mut members = members.to_vec();
        members.sort();
        match &mut g.stage {
            Stage::Joining(q) => {
                if !joined.contains(&me) {
                    return;
                }
                let queued = std::mem::take(q);
                g.members = members.clone();
                g.changes = 0;
                let old: Vec<Member> = members
                    .iter()
                    .copied()
                    .filter(|m| !joined.contains(m))
                    .collect();
                if old.is_empty() {
                    // A new group: every founder starts from its own log.
                    g.stage = Stage::Ready;
                    g.initialized = false;
                    self.update_writer(table, uuid, false);
                } else {
                    g.awaiting = joined.iter().map(|m| (*m, 0)).collect();
                    g.stage = Stage::Awaiting(members.clone(), Vec::new());
                    if let Some(l) = table.get_mut(uuid, g.luid) {
                        l.set_disk_writer(false);
                    }
                }
                ulog!(
                    self.logger(),
                    Level::Notice,
                    "[{}] joined the cluster group: {} member(s){}",
                    uuid.display(),
                    members.len(),
                    if old.is_empty() {
                        ""
                    } else {
                        ", waiting for the state"
                    }
                );
                for m in queued {
                    self.stats.sent += 1;
                    if let Err(e) = self.transport.multicast(uuid, &m) {
                        ulog!(
                            self.logger(),
                            Level::Error,
                            "[{}] cannot send to the cluster: {e}",
                            uuid.display()
                        );
                    }
                }
            }
            Stage::Awaiting(_, buf) => {
                buf.push(Event::Change {
                    members: members.clone(),
                    left: left.to_vec(),
                    joined: joined.to_vec(),
                });
                g.members = members.clone();
                for m in left {
                    g.awaiting.remove(m);
                }
                for k in g.awaiting.values_mut() {
                    *k += 1;
                }
                for m in joined {
                    g.awaiting.insert(*m, 0);
                }
                if members.iter().all(|m| g.awaiting.contains_key(m)) {
                    // Every member that had the state is gone: start over
                    // from our own log and what was buffered.
                    ulog!(
                        self.logger.as_deref(),
                        Level::Warn,
                        "[{}] every member with the state left before sending it: starting from the local log",
                        uuid.display()
                    );
                    let buf = std::mem::take(buf);
                    g.stage = Stage::Ready;
                    g.initialized = false;
                    g.awaiting.clear();
                    g.marks.clear();
                    g.recovering.clear();
                    g.cursor = 0;
                    self.update_writer(table, uuid, false);
                    for ev in buf {
                        if let Event::Message(from, m) = ev {
                            self.apply(table, uuid, from, m, true);
                        }
                    }
                }
            }
            Stage::Ready => {
                self.change(table, uuid, &members, left, joined, false);
            }
        }
    }

    /// A membership change seen with the state.
    fn change(
        &mut self,
        table: &mut LogTable,
        uuid: &Uuid,
        members: &[Member],
        left: &[Member],
        joined: &[Member],
        replay: bool,
    ) {
        let me = self.me;
        let logger = self.logger.clone();
        let Some(g) = self.groups.get_mut(uuid) else {
            return;
        };
        g.members = members.to_vec();
        g.changes += 1;
        let mut resync = 0u64;
        for m in left {
            g.awaiting.remove(m);
            if let Some(r) = g.recovering.remove(m) {
                g.cursor = g.cursor.min(r);
            }
            if let Some(regions) = g.marks.remove(m) {
                let log = table.get_mut(uuid, g.luid);
                if let Some(log) = log {
                    for r in regions {
                        if log.set_region_sync(r, false).is_ok() {
                            resync += 1;
                            g.cursor = g.cursor.min(r);
                        }
                    }
                }
            }
            // Their pending FLUSHes and requests are theirs to retry.
        }
        for k in g.awaiting.values_mut() {
            *k += 1;
        }
        for m in joined {
            if *m != me {
                g.awaiting.insert(*m, 0);
            }
        }
        self.stats.resynced_after_leave += resync;
        if resync > 0 {
            ulog!(
                logger.as_deref(),
                Level::Warn,
                "[{}] {} region(s) marked by departed member(s) {:?} will be resynchronised",
                uuid.display(),
                resync,
                left
            );
        }
        self.update_writer(table, uuid, replay);
        let Some(g) = self.groups.get(uuid) else {
            return;
        };
        if !replay && !g.awaiting.is_empty() && g.lowest_ready() == Some(me) {
            let cp = self.checkpoint(table, uuid);
            if let Some(cp) = cp {
                self.stats.checkpoints_sent += 1;
                let m = Message::Checkpoint(Box::new(cp));
                if let Err(e) = self.send(uuid, &m) {
                    ulog!(
                        self.logger(),
                        Level::Error,
                        "[{}] cannot send the state to joining members: {e}",
                        uuid.display()
                    );
                }
            }
        }
    }

    /// Recompute the writer; when this node becomes it, write everything
    /// and say so.
    fn update_writer(&mut self, table: &mut LogTable, uuid: &Uuid, replay: bool) {
        let me = self.me;
        let Some(g) = self.groups.get_mut(uuid) else {
            return;
        };
        let w = g.lowest_ready();
        if w == g.writer {
            return;
        }
        let first = g.writer.is_none();
        g.writer = w;
        g.writer_since = g.changes;
        let is_me = w == Some(me);
        let mut disk = false;
        if let Some(l) = table.get_mut(uuid, g.luid) {
            disk = l.config().kind == LogKind::Disk || self.acks_for_core;
            l.set_disk_writer(is_me);
            if is_me && g.initialized && l.phase() == Phase::Running {
                if let Err(e) = l.commit_now() {
                    ulog!(
                        self.logger.as_deref(),
                        Level::Error,
                        "[{}] cannot write the disk log: {}",
                        uuid.display(),
                        e.message()
                    );
                }
            }
        }
        if is_me {
            // Our own waiting FLUSHes are on disk now.
            let waiting = std::mem::take(&mut g.flush_wait);
            for (_, (h, _)) in waiting {
                self.replies.push((h, Outcome::ok(ReplyPayload::none())));
            }
            if disk && !first && !replay {
                ulog!(
                    self.logger(),
                    Level::Notice,
                    "[{}] this node now writes the disk log",
                    uuid.display()
                );
                let _ = self.send(uuid, &Message::Committed);
            }
        }
    }

    fn checkpoint(&self, table: &LogTable, uuid: &Uuid) -> Option<Checkpoint> {
        let g = self.groups.get(uuid)?;
        let log = table.get(uuid, g.luid)?;
        Some(Checkpoint {
            recipients: g.awaiting.iter().map(|(m, k)| (*m, *k)).collect(),
            initialized: g.initialized,
            snapshot: log.snapshot(),
            cursor: g.cursor,
            marks: g
                .marks
                .iter()
                .filter(|(_, s)| !s.is_empty())
                .map(|(m, s)| (*m, s.iter().copied().collect()))
                .collect(),
            recovering: g.recovering.iter().map(|(m, r)| (*m, *r)).collect(),
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn restore(
        &mut self,
        table: &mut LogTable,
        uuid: &Uuid,
        cp: &Checkpoint,
        changes_since_join: u32,
        members_at_join: Vec<Member>,
        buf: Vec<Event>,
    ) {
        let me = self.me;
        let Some(g) = self.groups.get_mut(uuid) else {
            return;
        };
        let ok = match table.get_mut(uuid, g.luid) {
            Some(l) => {
                l.set_disk_writer(false);
                l.restore(cp.snapshot.clone())
            }
            None => false,
        };
        if !ok {
            ulog!(
                self.logger.as_deref(),
                Level::Error,
                "[{}] the cluster's state does not fit the local log (another table?): kept the local bits",
                uuid.display()
            );
        }
        self.stats.checkpoints_restored += 1;
        g.initialized = cp.initialized;
        g.cursor = cp.cursor;
        g.marks = cp
            .marks
            .iter()
            .map(|(m, v)| (*m, v.iter().copied().collect()))
            .collect();
        g.recovering = cp.recovering.iter().copied().collect();
        g.stage = Stage::Ready;
        // The checkpoint was taken at the `changes_since_join`-th change
        // after the one we joined at, for every member then waiting: from
        // there, replay what we kept, as one still waiting (the others
        // count us as waiting until the checkpoint's delivery).
        let mut members_then = members_at_join;
        let mut seen = 0u32;
        let mut replay = Vec::new();
        for ev in buf {
            if seen < changes_since_join {
                if let Event::Change { members, .. } = ev {
                    seen += 1;
                    members_then = members;
                }
                continue;
            }
            replay.push(ev);
        }
        g.members = members_then;
        g.awaiting.clear();
        g.awaiting.insert(me, 0);
        g.writer = None;
        self.update_writer(table, uuid, true);
        ulog!(
            self.logger(),
            Level::Notice,
            "[{}] state received from the cluster; replaying {} event(s)",
            uuid.display(),
            replay.len()
        );
        for ev in replay {
            match ev {
                Event::Message(from, m) => self.apply(table, uuid, from, m, true),
                Event::Change {
                    members,
                    left,
                    joined,
                } => self.change(table, uuid, &members, &left, &joined, true),
            }
        }
        if let Some(g) = self.groups.get_mut(uuid) {
            g.awaiting.remove(&me);
        }
        self.update_writer(table, uuid, false);
    }

    /// Apply one agreed message with the state.
    fn apply(&mut self, table: &mut LogTable, uuid: &Uuid, from: Member, m: Message, replay: bool) {
        self.stats.applied += 1;
        let me = self.me;
        let Some(g) = self.groups.get_mut(uuid) else {
            return;
        };
        match m {
            Message::Checkpoint(cp) => {
                for (r, _) in &cp.recipients {
                    g.awaiting.remove(r);
                }
                // Whoever got the state counts as ready: the writer may be
                // lower now.
                self.update_writer(table, uuid, replay);
            }
            Message::Ack {
                origin,
                token,
                error,
            } => {
                if origin == me {
                    if let Some((h, _)) = g.flush_wait.remove(&token) {
                        let out = if error == 0 {
                            Outcome::ok(ReplyPayload::none())
                        } else {
                            Outcome::errno(-error)
                        };
                        self.replies.push((h, out));
                    }
                }
            }
            Message::Committed => {
                if g.writer == Some(from) {
                    let since = g.writer_since;
                    let done: Vec<u64> = g
                        .flush_wait
                        .iter()
                        .filter(|(_, (_, at))| *at < since)
                        .map(|(t, _)| *t)
                        .collect();
                    for t in done {
                        if let Some((h, _)) = g.flush_wait.remove(&t) {
                            self.replies.push((h, Outcome::ok(ReplyPayload::none())));
                        }
                    }
                }
            }
            Message::Request {
                token,
                request_type,
                payload,
            } => self.apply_request(table, uuid, from, token, request_type, &payload, replay),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn apply_request(
        &mut self,
        table: &mut LogTable,
        uuid: &Uuid,
        from: Member,
        token: u64,
        request_type: u32,
        payload: &[u8],
        replay: bool,
    ) {
        let me = self.me;
        let mine = from == me;
        let logger = self.logger.clone();
        let Some(g) = self.groups.get_mut(uuid) else {
            return;
        };
        let pending = if mine { g.pending.remove(&token) } else { None };
        let luid = g.luid;
        let Some(log) = table.get_mut(uuid, luid) else {
            if let Some((h, _)) = pending {
                self.replies.push((h, Outcome::errno(libc::ESRCH)));
            }
            return;
        };
        let header = Header {
            luid,
            uuid: *uuid,
            padding: [0; 3],
            version: 0,
            error: 0,
            seq: 0,
            request_type,
            data_size: payload.len() as u32,
        };
        let raw = RawRequest { header, payload };
        let (kind, req) = match raw.parse() {
            Ok(x) => x,
            Err(e) => {
                ulog!(
                    logger.as_deref(),
                    Level::Warn,
                    "[{}] dropped a request from node {} pid {}: {e}",
                    uuid.display(),
                    from.node,
                    from.pid
                );
                if let Some((h, _)) = pending {
                    self.replies.push((h, Outcome::errno(e.errno())));
                }
                return;
            }
        };
        let count = log.config().region_count;
        let disk = log.config().kind == LogKind::Disk || self.acks_for_core;
        let writer = g.writer == Some(me);
        let mut wait_for_writer = false;
        let out = match req {
            Request::Resume => {
                let r = if !g.initialized {
                    g.initialized = true;
                    log.resume()
                } else if mine {
                    // Take the cluster's bits as they are.
                    let snap = log.snapshot();
                    log.restore(snap);
                    log.resume()
                } else {
                    Ok(ReplyPayload::none())
                };
                if mine {
                    ulog!(
                        logger.as_deref(),
                        Level::Notice,
                        "[{}/{:x}] resumed in the cluster: {} of {} regions in sync, {} member(s)",
                        uuid.display(),
                        luid,
                        log.sync_count(),
                        count,
                        g.members.len()
                    );
                }
                outcome(r)
            }
            Request::MarkRegion(regions) | Request::Flush(regions) => {
                let r = log.mark(regions.iter());
                if r.is_ok() {
                    let set = g.marks.entry(from).or_default();
                    set.extend(regions.iter());
                }
                let r = match (r, kind) {
                    (Ok(_), RequestType::Flush) => {
                        let c = log.commit_now().map(|_| ReplyPayload::none());
                        if disk && !mine && writer {
                            let error = match &c {
                                Ok(_) => 0,
                                Err(e) => -e.errno().unwrap_or(libc::EIO),
                            };
                            let ack = Message::Ack {
                                origin: from,
                                token,
                                error,
                            };
                            if !replay {
                                self.stats.sent += 1;
                                let _ = self.transport.multicast(uuid, &ack.encode(uuid));
                            }
                        }
                        wait_for_writer = disk && mine && !writer && c.is_ok();
                        c
                    }
                    (r, _) => r,
                };
                outcome(r)
            }
            Request::ClearRegion(regions) => {
                let r = regions.iter().try_for_each(|r| {
                    if r < count {
                        Ok(())
                    } else {
                        Err(Error::invalid(format!("region {r} out of range")))
                    }
                });
                if r.is_ok() {
                    if let Some(set) = g.marks.get_mut(&from) {
                        for r in regions.iter() {
                            set.remove(&r);
                        }
                    }
                    for r in regions.iter() {
                        if !g.marked_elsewhere(r) {
                            let _ = log.clear(std::iter::once(r));
                        }
                    }
                }
                // Acknowledged when it was sent.
                if let Some((_, _)) = pending {
                    return;
                }
                outcome(r.map(|_| ReplyPayload::none()))
            }
            Request::GetResyncWork => {
                let sync = log.sync_bits();
                let mut r = None;
                if let Some(&cur) = g.recovering.get(&from) {
                    if cur < count && !sync.get(cur) {
                        r = Some(cur);
                    } else {
                        g.recovering.remove(&from);
                    }
                }
                if r.is_none() {
                    let mut at = g.cursor;
                    while at < count {
                        match sync.next_zero(at) {
                            Some(c) if g.recovering.values().any(|&x| x == c) => at = c + 1,
                            Some(c) => {
                                r = Some(c);
                                break;
                            }
                            None => {
                                at = count;
                            }
                        }
                    }
                    match r {
                        Some(c) => {
                            g.cursor = c + 1;
                            g.recovering.insert(from, c);
                        }
                        None => g.cursor = at.min(count),
                    }
                }
                Outcome::ok(match r {
                    Some(c) => ReplyPayload::pair(1, c),
                    None => ReplyPayload::pair(0, 0),
                })
            }
            Request::SetRegionSync { region, in_sync } => {
                if g.recovering.get(&from) == Some(&region) {
                    g.recovering.remove(&from);
                }
                // A failed recovery (`in_sync` 0) is not handed out again
                // (as on one node): the kernel reports the failed leg.
                outcome(log.set_region_sync(region, in_sync))
            }
            Request::IsRemoteRecovering(region) => {
                if region >= count {
                    Outcome::errno(libc::EINVAL)
                } else {
                    // A region out of sync is being recovered by another
                    // member, or will be (the resync has not reached it:
                    // cmirrord answers `!in_sync` alone). Regions below the
                    // hint are not recovered by anyone now (in sync, or
                    // passed by the resync and held by nobody, e.g. after
                    // a failed recovery).
                    let sync = log.sync_bits();
                    let held_elsewhere =
                        g.recovering.iter().any(|(m, &x)| x == region && *m != from);
                    let rec = !sync.get(region) && (held_elsewhere || region >= g.cursor);
                    // Never the region count: the kernel caches the hint
                    // and, once it reaches the count, stops asking for
                    // resync work until the next resume, so regions a
                    // departing member leaves out of sync later would
                    // never be recovered (cmirrord's hint is likewise at
                    // most count - 1).
                    let hint = g
                        .recovering
                        .values()
                        .copied()
                        .fold(g.cursor.min(count.saturating_sub(1)), u64::min);
                    Outcome::ok(ReplyPayload::pair(i64::from(rec), hint))
                }
            }
            Request::Postsuspend => {
                if mine {
                    let r = log.postsuspend();
                    outcome(r)
                } else {
                    Outcome::ok(ReplyPayload::none())
                }
            }
            // Local requests never come through the group; answer the
            // rest from the local log.
            _ => Outcome::errno(libc::EINVAL),
        };
        let Some((h, _)) = pending else { return };
        table.count(kind, out.error != 0);
        if let Some(l) = logger.as_deref() {
            if l.enabled(Level::Debug) {
                let p = out.payload.as_bytes();
                let shown = match (out.error, p.len()) {
                    (0, 8) | (0, 16) => format!(
                        "{:?}",
                        p.chunks_exact(8)
                            .map(|c| u64::from_ne_bytes(c.try_into().unwrap_or([0; 8])))
                            .collect::<Vec<_>>()
                    ),
                    (0, _) => String::from("ok"),
                    (e, _) => format!("error {e}"),
                };
                ulog!(
                    Some(l),
                    Level::Debug,
                    "[{}/{:x}] {} [{}] (cluster, {} member(s)) -> {}",
                    uuid.display(),
                    h.luid,
                    kind,
                    h.seq,
                    g.members.len(),
                    shown
                );
            }
        }
        if wait_for_writer {
            let changes = g.changes;
            g.flush_wait.insert(token, (h, changes));
            return;
        }
        self.replies.push((h, out));
        if kind == RequestType::Postsuspend {
            // Out of the group until the next RESUME; the others resync
            // what we still had marked.
            if let Err(e) = self.transport.leave(uuid) {
                ulog!(
                    self.logger(),
                    Level::Warn,
                    "[{}] cannot leave the cluster group: {e}",
                    uuid.display()
                );
            }
            if let Some(l) = table.get_mut(uuid, luid) {
                l.set_disk_writer(true);
            }
            self.groups.remove(uuid);
        }
    }
}

impl<T: Transport> Router for ClusterRouter<T> {
    fn route(&mut self, table: &mut LogTable, request: &RawRequest<'_>) -> Option<Outcome> {
        let h = request.header;
        let Ok((kind, _)) = request.parse() else {
            return Some(table.handle(request));
        };
        if kind == RequestType::Resume {
            return self.route_resume(table, request);
        }
        let joined = self.groups.get(&h.uuid).is_some_and(|g| g.luid == h.luid);
        if kind == RequestType::Dtr && joined {
            let _ = self.transport.leave(&h.uuid);
            self.groups.remove(&h.uuid);
            return Some(table.handle(request));
        }
        if !joined || !is_cluster_request(kind) {
            return Some(table.handle(request));
        }
        if kind == RequestType::Flush && request.payload.is_empty() {
            // A FLUSH without marks changes nothing the others need: the
            // marks it makes durable were applied here before they were
            // answered. Where nothing must reach a device first (a core
            // log, or this node writes the disk log), answer at once.
            if let Some(out) = self.local_flush(table, &h) {
                table.count(kind, out.error != 0);
                return Some(out);
            }
        }
        if !self.submit(request, kind) {
            return Some(Outcome::errno(libc::EIO));
        }
        if kind == RequestType::ClearRegion {
            // As cmirrord: acknowledged at once, applied in order.
            table.count(kind, false);
            ulog!(
                self.logger(),
                Level::Debug,
                "[{}/{:x}] {} [{}] {} region(s) (cluster: acknowledged at once) -> ok",
                h.uuid.display(),
                h.luid,
                kind,
                h.seq,
                request.payload.len() / 8
            );
            return Some(Outcome::ok(ReplyPayload::none()));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::super::abi::DM_ULOG_REQUEST_VERSION;
    use super::super::table::TableOptions;
    use super::*;
    use std::cell::RefCell;
    use std::collections::VecDeque;
    use std::rc::Rc;

    enum Ev {
        Join(Uuid, Member),
        Leave(Uuid, Member),
        Msg(Uuid, Member, Vec<u8>),
        Fail(Member),
    }

    #[derive(Default)]
    struct Bus {
        queue: VecDeque<Ev>,
        groups: HashMap<Uuid, Vec<Member>>,
    }

    struct SimTransport {
        me: Member,
        bus: Rc<RefCell<Bus>>,
    }

    impl Transport for SimTransport {
        fn join(&mut self, uuid: &Uuid) -> Result<(), String> {
            self.bus
                .borrow_mut()
                .queue
                .push_back(Ev::Join(*uuid, self.me));
            Ok(())
        }
        fn leave(&mut self, uuid: &Uuid) -> Result<(), String> {
            self.bus
                .borrow_mut()
                .queue
                .push_back(Ev::Leave(*uuid, self.me));
            Ok(())
        }
        fn multicast(&mut self, uuid: &Uuid, message: &[u8]) -> Result<(), String> {
            self.bus
                .borrow_mut()
                .queue
                .push_back(Ev::Msg(*uuid, self.me, message.to_vec()));
            Ok(())
        }
    }

    struct Node {
        table: LogTable,
        router: ClusterRouter<SimTransport>,
        replies: Vec<(Header, Outcome)>,
        alive: bool,
    }

    /// Nodes 1..=n (members `{node i, pid 100 + i}`) on an agreed-order bus.
    struct Sim {
        bus: Rc<RefCell<Bus>>,
        nodes: Vec<Node>,
        seq: u32,
    }

    const U1: &[u8] = b"LVM-mirror-one";
    const U2: &[u8] = b"LVM-mirror-two";

    fn uuid(u: &[u8]) -> Uuid {
        Uuid::new(u).unwrap()
    }

    fn member(i: usize) -> Member {
        Member {
            node: i as u32 + 1,
            pid: 100 + i as u32,
        }
    }

    fn pair(o: &Outcome) -> (i64, u64) {
        let b = o.payload.as_bytes();
        assert_eq!(b.len(), 16, "{o:?}");
        (
            i64::from_ne_bytes(b[..8].try_into().unwrap()),
            u64::from_ne_bytes(b[8..].try_into().unwrap()),
        )
    }

    fn num(o: &Outcome) -> u64 {
        assert_eq!(o.error, 0, "{o:?}");
        u64::from_ne_bytes(o.payload.as_bytes().try_into().unwrap())
    }

    fn regions(r: &[u64]) -> Vec<u8> {
        r.iter().flat_map(|x| x.to_ne_bytes()).collect()
    }

    impl Sim {
        fn new(n: usize) -> Sim {
            let bus = Rc::new(RefCell::new(Bus::default()));
            let nodes = (0..n)
                .map(|i| Node {
                    table: LogTable::new(TableOptions::default(), None).unwrap(),
                    router: ClusterRouter::new(
                        member(i),
                        SimTransport {
                            me: member(i),
                            bus: bus.clone(),
                        },
                        None,
                    ),
                    replies: Vec::new(),
                    alive: true,
                })
                .collect();
            Sim { bus, nodes, seq: 0 }
        }

        fn index(m: Member) -> usize {
            m.node as usize - 1
        }

        fn confchg(&mut self, u: Uuid, members: &[Member], left: &[Member], joined: &[Member]) {
            for m in members {
                let n = &mut self.nodes[Self::index(*m)];
                if n.alive {
                    n.router.membership(&mut n.table, &u, members, left, joined);
                }
            }
        }

        /// Deliver one event; false when none is left.
        fn step(&mut self) -> bool {
            let ev = self.bus.borrow_mut().queue.pop_front();
            let Some(ev) = ev else { return false };
            match ev {
                Ev::Join(u, m) => {
                    let members = {
                        let mut b = self.bus.borrow_mut();
                        let g = b.groups.entry(u).or_default();
                        g.push(m);
                        g.sort();
                        g.clone()
                    };
                    self.confchg(u, &members, &[], &[m]);
                }
                Ev::Leave(u, m) => {
                    let members = {
                        let mut b = self.bus.borrow_mut();
                        let g = b.groups.entry(u).or_default();
                        g.retain(|x| *x != m);
                        g.clone()
                    };
                    self.confchg(u, &members, &[m], &[]);
                }
                Ev::Fail(m) => {
                    let groups: Vec<(Uuid, Vec<Member>)> = {
                        let mut b = self.bus.borrow_mut();
                        b.groups
                            .iter_mut()
                            .filter(|(_, g)| g.contains(&m))
                            .map(|(u, g)| {
                                g.retain(|x| *x != m);
                                (*u, g.clone())
                            })
                            .collect()
                    };
                    for (u, members) in groups {
                        self.confchg(u, &members, &[m], &[]);
                    }
                }
                Ev::Msg(u, from, data) => {
                    let members = self
                        .bus
                        .borrow()
                        .groups
                        .get(&u)
                        .cloned()
                        .unwrap_or_default();
                    if members.contains(&from) {
                        for m in members {
                            let n = &mut self.nodes[Self::index(m)];
                            if n.alive {
                                n.router.deliver(&mut n.table, from, &data);
                            }
                        }
                    }
                }
            }
            for n in &mut self.nodes {
                let r = n.router.take_replies();
                n.replies.extend(r);
            }
            true
        }

        fn pump(&mut self) {
            while self.step() {}
        }

        fn fail(&mut self, i: usize) {
            self.nodes[i].alive = false;
            self.bus.borrow_mut().queue.push_front(Ev::Fail(member(i)));
        }

        /// Send a request from node `i`'s kernel; the seq to wait for, or
        /// the outcome when answered at once.
        fn send(
            &mut self,
            i: usize,
            u: &[u8],
            kind: RequestType,
            payload: &[u8],
        ) -> Result<Outcome, u32> {
            self.seq += 1;
            let header = Header {
                luid: 1000 + i as u64,
                uuid: uuid(u),
                padding: [0; 3],
                version: DM_ULOG_REQUEST_VERSION,
                error: 0,
                seq: self.seq,
                request_type: kind as u32,
                data_size: payload.len() as u32,
            };
            let raw = RawRequest { header, payload };
            let n = &mut self.nodes[i];
            match n.router.route(&mut n.table, &raw) {
                Some(o) => Ok(o),
                None => Err(self.seq),
            }
        }

        fn reply(&mut self, i: usize, seq: u32) -> Option<Outcome> {
            let n = &mut self.nodes[i];
            let at = n.replies.iter().position(|(h, _)| h.seq == seq)?;
            Some(n.replies.remove(at).1)
        }

        /// A request answered (after the bus runs dry if need be).
        fn req(&mut self, i: usize, u: &[u8], kind: RequestType, payload: &[u8]) -> Outcome {
            match self.send(i, u, kind, payload) {
                Ok(o) => o,
                Err(seq) => {
                    self.pump();
                    self.reply(i, seq)
                        .unwrap_or_else(|| panic!("node {i}: no reply to {kind} [{seq}]"))
                }
            }
        }

        fn ok(&mut self, i: usize, u: &[u8], kind: RequestType, payload: &[u8]) {
            let o = self.req(i, u, kind, payload);
            assert_eq!(o.error, 0, "node {i} {kind}: {o:?}");
        }

        fn start(&mut self, i: usize, u: &[u8], ctr: &str) {
            self.ok(i, u, RequestType::Ctr, ctr.as_bytes());
            self.ok(i, u, RequestType::Resume, b"");
        }

        fn log(&self, i: usize, u: &[u8]) -> &RegionLog {
            self.nodes[i].table.get(&uuid(u), 1000 + i as u64).unwrap()
        }

        fn clean(&mut self, i: usize, u: &[u8], r: u64) -> bool {
            let o = self.req(i, u, RequestType::IsClean, &r.to_ne_bytes());
            num(&o) == 1
        }

        fn in_sync(&mut self, i: usize, u: &[u8], r: u64) -> bool {
            let o = self.req(i, u, RequestType::InSync, &r.to_ne_bytes());
            num(&o) == 1
        }

        fn work(&mut self, i: usize, u: &[u8]) -> (i64, u64) {
            let o = self.req(i, u, RequestType::GetResyncWork, b"");
            assert_eq!(o.error, 0);
            pair(&o)
        }

        fn set_sync(&mut self, i: usize, u: &[u8], r: u64) {
            let p = [r.to_ne_bytes(), 1i64.to_ne_bytes()].concat();
            self.ok(i, u, RequestType::SetRegionSync, &p);
        }
    }

    use super::super::log::RegionLog;

    const NOSYNC8: &str = "8192 clustered-core 1024 nosync";
    const SYNC8: &str = "8192 clustered-core 1024";

    #[test]
    fn routing_follows_cmirrord() {
        for k in RequestType::ALL {
            let cluster = is_cluster_request(k);
            let expect = matches!(
                k,
                RequestType::Resume
                    | RequestType::MarkRegion
                    | RequestType::ClearRegion
                    | RequestType::Flush
                    | RequestType::GetResyncWork
                    | RequestType::SetRegionSync
                    | RequestType::IsRemoteRecovering
                    | RequestType::Postsuspend
            );
            assert_eq!(cluster, expect, "{k}");
        }
        let mut sim = Sim::new(1);
        sim.start(0, U1, NOSYNC8);
        // Read-only requests are answered at once, changes after the trip.
        assert!(sim
            .send(0, U1, RequestType::IsClean, &1u64.to_ne_bytes())
            .is_ok());
        assert!(sim.send(0, U1, RequestType::GetRegionSize, b"").is_ok());
        assert!(sim.send(0, U1, RequestType::StatusInfo, b"").is_ok());
        assert!(sim.send(0, U1, RequestType::GetSyncCount, b"").is_ok());
        let seq = sim
            .send(0, U1, RequestType::MarkRegion, &regions(&[1]))
            .unwrap_err();
        assert!(sim.reply(0, seq).is_none());
        sim.pump();
        assert_eq!(sim.reply(0, seq).unwrap().error, 0);
        // CLEAR is acknowledged at once and applied in order.
        let o = sim
            .send(0, U1, RequestType::ClearRegion, &regions(&[1]))
            .unwrap();
        assert_eq!(o.error, 0);
        assert!(!sim.clean(0, U1, 1));
        sim.pump();
        assert!(sim.clean(0, U1, 1));
        assert!(sim.nodes[0].replies.is_empty());
    }

    #[test]
    fn a_region_is_clean_only_when_no_node_has_it_marked() {
        let mut sim = Sim::new(2);
        sim.start(0, U1, NOSYNC8);
        sim.start(1, U1, NOSYNC8);
        assert_eq!(sim.nodes[1].router.members(&uuid(U1)).len(), 2);
        sim.ok(0, U1, RequestType::MarkRegion, &regions(&[3]));
        assert!(!sim.clean(1, U1, 3));
        sim.ok(1, U1, RequestType::MarkRegion, &regions(&[3, 4]));
        sim.ok(0, U1, RequestType::ClearRegion, &regions(&[3]));
        sim.pump();
        assert!(!sim.clean(0, U1, 3) && !sim.clean(1, U1, 3));
        sim.ok(1, U1, RequestType::ClearRegion, &regions(&[3]));
        sim.pump();
        assert!(sim.clean(0, U1, 3) && sim.clean(1, U1, 3));
        assert!(!sim.clean(0, U1, 4));
        // Integrated flush marks too.
        sim.ok(0, U1, RequestType::Flush, &regions(&[6]));
        assert!(!sim.clean(1, U1, 6));
        // Out of range: an error, nothing changes anywhere.
        let o = sim.req(0, U1, RequestType::MarkRegion, &regions(&[2, 99]));
        assert_eq!(o.error, -libc::EINVAL);
        assert!(sim.clean(1, U1, 2));
        assert_eq!(sim.log(0, U1).snapshot(), sim.log(1, U1).snapshot());
    }

    #[test]
    fn a_failed_node_marks_are_resynced_and_its_recovery_handed_out_again() {
        let mut sim = Sim::new(3);
        for i in 0..3 {
            sim.start(i, U1, NOSYNC8);
        }
        sim.ok(2, U1, RequestType::MarkRegion, &regions(&[5, 6]));
        sim.ok(2, U1, RequestType::ClearRegion, &regions(&[6]));
        sim.ok(1, U1, RequestType::MarkRegion, &regions(&[5]));
        sim.pump();
        sim.fail(2);
        sim.pump();
        for i in 0..2 {
            assert!(!sim.in_sync(i, U1, 5), "node {i}");
            assert!(sim.in_sync(i, U1, 6), "node {i}");
            assert_eq!(num(&sim.req(i, U1, RequestType::GetSyncCount, b"")), 7);
        }
        assert_eq!(sim.nodes[0].router.stats().resynced_after_leave, 1);
        // Handed out once.
        assert_eq!(sim.work(0, U1), (1, 5));
        assert_eq!(sim.work(1, U1), (0, 0));
        // Node 0 fails while recovering it: node 1 gets it.
        sim.fail(0);
        sim.pump();
        assert_eq!(sim.work(1, U1), (1, 5));
        sim.set_sync(1, U1, 5);
        assert!(sim.in_sync(1, U1, 5));
        assert_eq!(sim.work(1, U1), (0, 0));
        // Node 1 still has 5 marked: not clean until it clears it.
        assert!(!sim.clean(1, U1, 5));
        sim.ok(1, U1, RequestType::ClearRegion, &regions(&[5]));
        sim.pump();
        assert!(sim.clean(1, U1, 5));
    }

    #[test]
    #[allow(clippy::needless_range_loop)]
    fn resync_work_is_handed_out_once_cluster_wide() {
        let mut sim = Sim::new(3);
        for i in 0..3 {
            sim.start(i, U1, SYNC8);
        }
        assert_eq!(sim.log(2, U1).sync_count(), 0);
        let mut got = Vec::new();
        let mut done = [false; 3];
        while !done.iter().all(|d| *d) {
            for i in 0..3 {
                if done[i] {
                    continue;
                }
                match sim.work(i, U1) {
                    (1, r) => {
                        got.push(r);
                        // Asking again before reporting: the same region.
                        assert_eq!(sim.work(i, U1), (1, r));
                    }
                    _ => done[i] = true,
                }
            }
            // Report what is recovering.
            for i in 0..3 {
                if let Some(r) = sim.nodes[i].router.groups[&uuid(U1)]
                    .recovering
                    .get(&member(i))
                    .copied()
                {
                    sim.set_sync(i, U1, r);
                }
            }
        }
        got.sort();
        assert_eq!(got, (0..8).collect::<Vec<_>>());
        for i in 0..3 {
            assert_eq!(sim.log(i, U1).sync_count(), 8);
        }
    }

    #[test]
    fn a_joiner_gets_the_state_and_what_happened_meanwhile() {
        let mut sim = Sim::new(2);
        sim.start(0, U1, SYNC8);
        sim.ok(0, U1, RequestType::MarkRegion, &regions(&[1, 2]));
        assert_eq!(sim.work(0, U1), (1, 0));
        sim.set_sync(0, U1, 0);
        assert_eq!(sim.work(0, U1), (1, 1));
        // Node 1 joins while node 0 keeps working: requests from both in
        // flight before anything is delivered.
        sim.ok(1, U1, RequestType::Ctr, SYNC8.as_bytes());
        let resume = sim.send(1, U1, RequestType::Resume, b"").unwrap_err();
        let m = sim
            .send(0, U1, RequestType::MarkRegion, &regions(&[7]))
            .unwrap_err();
        sim.step(); // node 1's join: node 0 sends the checkpoint
        let s = sim
            .send(
                0,
                U1,
                RequestType::SetRegionSync,
                &[1u64.to_ne_bytes(), 1i64.to_ne_bytes()].concat(),
            )
            .unwrap_err();
        sim.pump();
        assert_eq!(sim.reply(1, resume).unwrap().error, 0);
        assert_eq!(sim.reply(0, m).unwrap().error, 0);
        assert_eq!(sim.reply(0, s).unwrap().error, 0);
        assert!(sim.nodes[1].router.is_ready(&uuid(U1)));
        assert_eq!(sim.nodes[1].router.stats().checkpoints_restored, 1);
        assert_eq!(sim.nodes[0].router.stats().checkpoints_sent, 1);
        let (a, b) = (sim.log(0, U1).snapshot(), sim.log(1, U1).snapshot());
        assert_eq!(a.clean, b.clean);
        assert_eq!(a.sync, b.sync);
        assert_eq!(sim.log(1, U1).sync_count(), 2);
        for r in [1, 2, 7] {
            assert!(!sim.clean(1, U1, r), "{r}");
        }
        // Node 0's marks are known to node 1: node 0 failing resyncs them.
        sim.fail(0);
        sim.pump();
        assert!(!sim.in_sync(1, U1, 1));
        // And node 1 carries on the resync where it was.
        let mut rest = Vec::new();
        while let (1, r) = sim.work(1, U1) {
            rest.push(r);
            sim.set_sync(1, U1, r);
        }
        assert_eq!(rest, vec![1, 2, 3, 4, 5, 6, 7]);
    }

    #[test]
    fn the_checkpoint_comes_from_the_next_member_if_the_first_fails() {
        let mut sim = Sim::new(3);
        sim.start(0, U1, NOSYNC8);
        sim.start(1, U1, NOSYNC8);
        sim.ok(1, U1, RequestType::MarkRegion, &regions(&[4]));
        sim.ok(2, U1, RequestType::Ctr, NOSYNC8.as_bytes());
        let resume = sim.send(2, U1, RequestType::Resume, b"").unwrap_err();
        sim.step(); // join of node 2: node 0 queues its checkpoint
        let m = sim
            .send(1, U1, RequestType::MarkRegion, &regions(&[5]))
            .unwrap_err();
        sim.fail(0); // before its checkpoint is delivered
        sim.pump();
        assert_eq!(sim.reply(1, m).unwrap().error, 0);
        assert_eq!(sim.reply(2, resume).unwrap().error, 0);
        assert_eq!(sim.nodes[1].router.stats().checkpoints_sent, 1);
        assert_eq!(sim.nodes[2].router.stats().checkpoints_restored, 1);
        assert!(!sim.clean(2, U1, 4) && !sim.clean(2, U1, 5));
        assert_eq!(sim.log(1, U1).snapshot(), sim.log(2, U1).snapshot());
        assert_eq!(sim.nodes[2].router.writer(&uuid(U1)), Some(member(1)));
        assert_eq!(sim.nodes[1].router.writer(&uuid(U1)), Some(member(1)));
    }

    #[test]
    fn the_lowest_member_with_the_state_writes() {
        let mut sim = Sim::new(3);
        sim.start(1, U1, NOSYNC8);
        sim.start(2, U1, NOSYNC8);
        assert_eq!(sim.nodes[2].router.writer(&uuid(U1)), Some(member(1)));
        assert!(sim.log(1, U1).is_disk_writer());
        assert!(!sim.log(2, U1).is_disk_writer());
        // A lower node joins: it writes once it has the state.
        sim.start(0, U1, NOSYNC8);
        for i in 0..3 {
            assert_eq!(
                sim.nodes[i].router.writer(&uuid(U1)),
                Some(member(0)),
                "node {i}"
            );
        }
        assert!(sim.log(0, U1).is_disk_writer() && !sim.log(1, U1).is_disk_writer());
        sim.fail(0);
        sim.pump();
        assert!(sim.log(1, U1).is_disk_writer());
        assert_eq!(sim.nodes[2].router.writer(&uuid(U1)), Some(member(1)));
    }

    #[test]
    fn suspend_leaves_and_resume_comes_back_with_the_state() {
        let mut sim = Sim::new(2);
        sim.start(0, U1, NOSYNC8);
        sim.start(1, U1, NOSYNC8);
        sim.ok(1, U1, RequestType::Presuspend, b"");
        sim.ok(1, U1, RequestType::Postsuspend, b"");
        sim.pump();
        assert_eq!(sim.nodes[0].router.members(&uuid(U1)), vec![member(0)]);
        assert!(!sim.nodes[1].router.is_ready(&uuid(U1)));
        // Meanwhile node 0 writes.
        sim.ok(0, U1, RequestType::MarkRegion, &regions(&[2]));
        // Local answers while out of the group.
        assert!(sim.clean(1, U1, 2));
        sim.ok(1, U1, RequestType::Resume, b"");
        assert!(!sim.clean(1, U1, 2));
        // DTR leaves too.
        sim.ok(1, U1, RequestType::Dtr, b"");
        sim.pump();
        assert_eq!(sim.nodes[0].router.members(&uuid(U1)), vec![member(0)]);
    }

    #[test]
    fn two_mirrors_at_once_are_independent() {
        let mut sim = Sim::new(2);
        for i in 0..2 {
            sim.start(i, U1, NOSYNC8);
            sim.start(i, U2, SYNC8);
        }
        sim.ok(0, U1, RequestType::MarkRegion, &regions(&[1]));
        sim.ok(1, U2, RequestType::MarkRegion, &regions(&[2]));
        assert!(!sim.clean(1, U1, 1) && sim.clean(1, U1, 2));
        assert!(!sim.clean(0, U2, 2));
        assert_eq!(sim.work(0, U2), (1, 0));
        assert_eq!(sim.work(1, U2), (1, 1));
        assert_eq!(sim.work(0, U1), (0, 0));
        sim.fail(1);
        sim.pump();
        // Only U2 had node 1's mark.
        assert!(sim.in_sync(0, U1, 1) && !sim.in_sync(0, U2, 2));
        assert_eq!(sim.log(0, U1).sync_count(), 8);
    }

    #[test]
    fn founders_that_join_together_agree() {
        let mut sim = Sim::new(2);
        sim.ok(0, U1, RequestType::Ctr, SYNC8.as_bytes());
        sim.ok(1, U1, RequestType::Ctr, SYNC8.as_bytes());
        let a = sim.send(0, U1, RequestType::Resume, b"").unwrap_err();
        let b = sim.send(1, U1, RequestType::Resume, b"").unwrap_err();
        // Both joins land in one membership change.
        let (ja, jb) = {
            let mut bus = sim.bus.borrow_mut();
            (
                bus.queue.pop_front().unwrap(),
                bus.queue.pop_front().unwrap(),
            )
        };
        let (Ev::Join(u, m0), Ev::Join(_, m1)) = (ja, jb) else {
            panic!()
        };
        sim.bus.borrow_mut().groups.insert(u, vec![m0, m1]);
        sim.confchg(u, &[m0, m1], &[], &[m0, m1]);
        sim.pump();
        assert_eq!(sim.reply(0, a).unwrap().error, 0);
        assert_eq!(sim.reply(1, b).unwrap().error, 0);
        sim.ok(1, U1, RequestType::MarkRegion, &regions(&[3]));
        assert_eq!(sim.log(0, U1).snapshot(), sim.log(1, U1).snapshot());
        assert_eq!(sim.work(0, U1), (1, 0));
        assert_eq!(sim.work(1, U1), (1, 1));
    }

    #[test]
    fn remote_recovery_is_reported_for_regions_others_hold_or_not_reached() {
        let mut sim = Sim::new(2);
        sim.start(0, U1, SYNC8);
        sim.start(1, U1, SYNC8);
        let rr = |sim: &mut Sim, i: usize, r: u64| {
            pair(&sim.req(i, U1, RequestType::IsRemoteRecovering, &r.to_ne_bytes()))
        };
        // Nothing handed out yet: every region is pending recovery.
        assert_eq!(rr(&mut sim, 0, 5), (1, 0));
        assert_eq!(sim.work(1, U1), (1, 0));
        // Node 1 holds 0: remote for node 0, not for node 1 itself.
        assert_eq!(rr(&mut sim, 0, 0), (1, 0));
        assert_eq!(rr(&mut sim, 1, 0), (0, 0));
        // Region 0 fails to recover: passed by the resync, held by nobody.
        let p = [0u64.to_ne_bytes(), 0i64.to_ne_bytes()].concat();
        sim.ok(1, U1, RequestType::SetRegionSync, &p);
        assert_eq!(rr(&mut sim, 0, 0), (0, 1));
        assert_eq!(rr(&mut sim, 0, 1), (1, 1));
        assert_eq!(
            sim.req(0, U1, RequestType::IsRemoteRecovering, &8u64.to_ne_bytes())
                .error,
            -libc::EINVAL
        );
        // Resync done: the hint stays below the count, so that the kernel
        // keeps asking for work a departing member may leave behind.
        while sim.work(1, U1).0 == 1 {
            let r = sim.work(1, U1).1;
            let p = [r.to_ne_bytes(), 1i64.to_ne_bytes()].concat();
            sim.ok(1, U1, RequestType::SetRegionSync, &p);
        }
        assert_eq!(rr(&mut sim, 0, 7), (0, 7));
    }

    #[test]
    fn a_flush_is_answered_once_the_writer_has_it() {
        let mut sim = Sim::new(3);
        for i in 0..3 {
            sim.nodes[i].router.acks_for_core = true;
            sim.start(i, U1, NOSYNC8);
        }
        // The writer answers its own at once; the others wait for its ack.
        let a = sim
            .send(0, U1, RequestType::Flush, &regions(&[1]))
            .unwrap_err();
        sim.step();
        assert_eq!(sim.reply(0, a).unwrap().error, 0);
        let b = sim
            .send(1, U1, RequestType::Flush, &regions(&[2]))
            .unwrap_err();
        sim.step(); // applied everywhere; the writer's ack is queued
        assert!(sim.reply(1, b).is_none());
        sim.pump();
        assert_eq!(sim.reply(1, b).unwrap().error, 0);
        // A FLUSH without marks: at once on the writer, through the group
        // (the writer's ack) elsewhere.
        assert_eq!(sim.send(0, U1, RequestType::Flush, b"").unwrap().error, 0);
        let e = sim.send(2, U1, RequestType::Flush, b"").unwrap_err();
        sim.step();
        assert!(sim.reply(2, e).is_none());
        sim.pump();
        assert_eq!(sim.reply(2, e).unwrap().error, 0);
        // The writer fails after applying two FLUSHes, before its acks:
        // node 1 becomes the writer (its own FLUSH is then on disk) and
        // says so, which answers node 2's.
        let c = sim
            .send(1, U1, RequestType::Flush, &regions(&[3]))
            .unwrap_err();
        let d = sim
            .send(2, U1, RequestType::Flush, &regions(&[4]))
            .unwrap_err();
        sim.step();
        sim.step();
        assert!(sim.reply(1, c).is_none() && sim.reply(2, d).is_none());
        sim.fail(0);
        sim.pump();
        assert_eq!(sim.nodes[2].router.writer(&uuid(U1)), Some(member(1)));
        assert!(sim.log(1, U1).is_disk_writer());
        assert_eq!(sim.reply(1, c).unwrap().error, 0);
        assert_eq!(sim.reply(2, d).unwrap().error, 0);
        assert!(!sim.clean(2, U1, 4));
    }

    #[test]
    fn messages_round_trip() {
        let u = uuid(U1);
        let mut clean = Bitset::try_new(70, true).unwrap();
        clean.put(3, false);
        let mut sync = Bitset::try_new(70, false).unwrap();
        sync.put(69, true);
        let msgs = vec![
            Message::Request {
                token: 7,
                request_type: RequestType::MarkRegion as u32,
                payload: regions(&[1, 2]),
            },
            Message::Ack {
                origin: member(2),
                token: 9,
                error: -5,
            },
            Message::Committed,
            Message::Checkpoint(Box::new(Checkpoint {
                recipients: vec![(member(1), 2)],
                initialized: true,
                snapshot: Snapshot {
                    clean,
                    sync,
                    sync_search: 4,
                    recovering: Some(3),
                    phase: Phase::Running,
                    dev_failed: false,
                },
                cursor: 5,
                marks: vec![(member(0), vec![3, 9])],
                recovering: vec![(member(2), 1)],
            })),
        ];
        for m in msgs {
            let b = m.encode(&u);
            assert_eq!(Message::decode(&b), Ok((u, m.clone())));
            // Every truncation and every trailing byte is refused.
            for n in 0..b.len() {
                assert!(Message::decode(&b[..n]).is_err(), "{n}");
            }
            let mut long = b.clone();
            long.push(0);
            assert!(Message::decode(&long).is_err());
        }
    }

    #[test]
    fn malformed_messages_are_dropped_without_harm() {
        let mut sim = Sim::new(2);
        sim.start(0, U1, NOSYNC8);
        sim.start(1, U1, NOSYNC8);
        let before = sim.log(1, U1).snapshot();
        let good = Message::Checkpoint(Box::new(Checkpoint {
            recipients: vec![(member(1), 0)],
            initialized: true,
            snapshot: before.clone(),
            cursor: 0,
            marks: vec![(member(0), vec![1])],
            recovering: vec![],
        }))
        .encode(&uuid(U1));
        let mut bad: Vec<Vec<u8>> = vec![
            vec![],
            b"DMUC".to_vec(),
            vec![0xff; 300],
            Message::Committed.encode(&uuid(b"not-ours")),
        ];
        let mut v = Message::Committed.encode(&uuid(U1));
        v[4] = 2; // version
        bad.push(v);
        let mut v = Message::Committed.encode(&uuid(U1));
        v[5] = 99; // kind
        bad.push(v);
        // Every single-byte corruption of a checkpoint.
        for i in 0..good.len() {
            for x in [0x01u8, 0x80, 0xff] {
                let mut v = good.clone();
                v[i] ^= x;
                bad.push(v);
            }
        }
        // A request whose payload does not fit its type.
        bad.push(
            Message::Request {
                token: 1,
                request_type: RequestType::SetRegionSync as u32,
                payload: vec![1, 2, 3],
            }
            .encode(&uuid(U1)),
        );
        for b in &bad {
            let n = &mut sim.nodes[1];
            n.router.deliver(&mut n.table, member(0), b);
        }
        assert!(sim.nodes[1].router.stats().dropped >= 6);
        // Still serving, state as it was (a stray checkpoint for a member
        // with the state is ignored).
        assert_eq!(sim.log(1, U1).snapshot(), before);
        sim.ok(0, U1, RequestType::MarkRegion, &regions(&[2]));
        assert!(!sim.clean(1, U1, 2));
    }
}
