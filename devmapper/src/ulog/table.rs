//! Every log a server holds, and the request dispatch.
//!
//! [`LogTable::handle`] is the whole single-node protocol: it takes a
//! decoded request and returns what to answer ([`Outcome`]). It performs
//! the log device I/O a request needs (a FLUSH returns once the bits are on
//! the device), keeps the restart state files ([`super::state`]) up to date
//! when [`LogTable::persist`] is called (before replies are sent), and logs
//! what went wrong. Requests for a `(uuid, luid)` it does not hold are
//! answered `ESRCH`, which makes the kernel reconnect (CTR + RESUME) and
//! retry: that is how live mirrors find a restarted server.

use super::abi::RequestType;
use super::codec::{EscapedBytes, Header, RawRequest, ReplyPayload, Request, Uuid};
use super::ctr::{parse_ctr, LogKind};
use super::disk::DiskLog;
use super::log::RegionLog;
use super::state::{StateDir, StateFile};
use crate::error::Error;
use crate::log::{Level, Logger, Record};
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;

macro_rules! ulog {
    ($logger:expr, $lvl:expr, $($arg:tt)*) => {{
        if let Some(l) = $logger {
            if l.enabled($lvl) {
                l.log(&Record {
                    level: $lvl,
                    stderr: false,
                    class: 0,
                    file: file!(),
                    line: line!(),
                    args: format_args!($($arg)*),
                });
            }
        }
    }};
}
pub(crate) use ulog;

/// What to answer: `error` is 0 or a negative errno; an error carries no
/// payload.
#[derive(Clone, Copy, Debug)]
pub struct Outcome {
    /// 0 or `-errno`.
    pub error: i32,
    /// The reply payload (ignored when `error` is set).
    pub payload: ReplyPayload,
}

impl Outcome {
    /// Success with a payload.
    pub fn ok(payload: ReplyPayload) -> Outcome {
        Outcome { error: 0, payload }
    }

    /// Failure with a positive errno.
    pub fn errno(errno: i32) -> Outcome {
        Outcome {
            error: -errno.abs(),
            payload: ReplyPayload::none(),
        }
    }
}

/// Counters since the table was made.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// Requests by type (index = `DM_ULOG_*` value; 0 = unknown types).
    pub requests: [u64; 18],
    /// Requests answered with an error.
    pub errors: u64,
    /// Requests for logs the table does not hold (answered `ESRCH`).
    pub unknown_log: u64,
    /// Requests that did not decode.
    pub malformed: u64,
}

impl Stats {
    /// All requests counted.
    pub fn total(&self) -> u64 {
        self.requests.iter().sum()
    }
}

/// Options of a [`LogTable`].
#[derive(Clone, Debug, Default)]
pub struct TableOptions {
    /// Where to keep restart state files (`None`: keep none; a restarted
    /// server then starts reconnecting logs from their disk bits, or from
    /// nothing for core logs).
    pub state_dir: Option<PathBuf>,
    /// Where a private device node may be made when a log device has none
    /// (defaults to the state directory).
    pub node_dir: Option<PathBuf>,
}

struct Entry {
    log: RegionLog,
    state: Option<StateFile>,
}

/// All logs of a server, by `(uuid, luid)`.
pub struct LogTable {
    logs: HashMap<(Uuid, u64), Entry, KeyHash>,
    state: Option<StateDir>,
    node_dir: Option<PathBuf>,
    logger: Option<Arc<dyn Logger>>,
    stats: Stats,
    unknown: HashSet<(Uuid, u64), KeyHash>,
}

impl std::fmt::Debug for LogTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogTable")
            .field("logs", &self.logs.len())
            .field("state", &self.state)
            .field("stats", &self.stats)
            .finish()
    }
}

fn key_of(h: &Header) -> (Uuid, u64) {
    (h.uuid, h.luid)
}

/// The hasher of the table's keys. Every request looks its log up by
/// `(uuid, luid)`, 137 bytes; std's keyed SipHash took a third of the
/// server's own instructions per request. The keys come only from the
/// kernel (uuids that root put in tables), so no flooding-resistant hash
/// is needed: this one reads eight bytes a step and mixes at the end.
#[derive(Clone, Copy, Debug, Default)]
struct KeyHash;

impl BuildHasher for KeyHash {
    type Hasher = KeyHasher;
    fn build_hasher(&self) -> KeyHasher {
        KeyHasher(0)
    }
}

struct KeyHasher(u64);

impl KeyHasher {
    fn mix(&mut self, v: u64) {
        self.0 = (self.0 ^ v)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .rotate_left(29);
    }
}

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut a = [0u8; 8];
            a.copy_from_slice(c);
            self.mix(u64::from_le_bytes(a));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut a = [0u8; 8];
            a[..rest.len()].copy_from_slice(rest);
            self.mix(u64::from_le_bytes(a) ^ ((rest.len() as u64) << 56));
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.mix(v);
    }

    fn write_usize(&mut self, v: usize) {
        self.mix(v as u64);
    }

    fn finish(&self) -> u64 {
        // murmur3's 64-bit finaliser: every input bit reaches the high
        // bits (hashbrown's control bytes) and the low ones (the bucket).
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

impl LogTable {
    /// An empty table. Fails when the state directory cannot be made.
    pub fn new(opts: TableOptions, logger: Option<Arc<dyn Logger>>) -> Result<LogTable, Error> {
        let state = match &opts.state_dir {
            Some(d) => Some(StateDir::open(d).map_err(|e| {
                Error::from_errno(
                    e.raw_os_error().unwrap_or(libc::EIO),
                    format!("cannot use state directory {}: {e}", d.display()),
                )
            })?),
            None => None,
        };
        Ok(LogTable {
            logs: HashMap::default(),
            node_dir: opts.node_dir.or(opts.state_dir),
            state,
            logger,
            stats: Stats::default(),
            unknown: HashSet::default(),
        })
    }

    fn logger(&self) -> Option<&dyn Logger> {
        self.logger.as_deref()
    }

    /// The counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// How many logs.
    pub fn len(&self) -> usize {
        self.logs.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.logs.is_empty()
    }

    /// The log of `(uuid, luid)`.
    pub fn get(&self, uuid: &Uuid, luid: u64) -> Option<&RegionLog> {
        self.logs.get(&(*uuid, luid)).map(|e| &e.log)
    }

    /// The log of `(uuid, luid)`, writable (for a cluster layer that
    /// applies requests agreed with other nodes).
    pub fn get_mut(&mut self, uuid: &Uuid, luid: u64) -> Option<&mut RegionLog> {
        self.logs.get_mut(&(*uuid, luid)).map(|e| &mut e.log)
    }

    /// Count a request answered outside [`LogTable::handle`] (by a cluster
    /// layer), so that the statistics stay complete.
    pub fn count(&mut self, kind: RequestType, failed: bool) {
        if let Some(c) = self.stats.requests.get_mut(kind as usize) {
            *c += 1;
        }
        self.stats.errors += u64::from(failed);
    }

    /// Every log.
    pub fn logs(&self) -> impl Iterator<Item = &RegionLog> {
        self.logs.values().map(|e| &e.log)
    }

    /// Answer one request (decoded by [`super::codec::decode_request`]).
    pub fn handle(&mut self, raw: &RawRequest<'_>) -> Outcome {
        let h = raw.header;
        let (kind, req) = match raw.parse() {
            Ok(x) => x,
            Err(e) => {
                self.stats.malformed += 1;
                self.stats.errors += 1;
                self.stats.requests[0] += u64::from(h.kind().is_none());
                ulog!(
                    self.logger(),
                    Level::Warn,
                    "[{}/{:x}] {}: answered {}",
                    h.uuid.display(),
                    h.luid,
                    e,
                    crate::kernel::sys::strerror(e.errno())
                );
                return Outcome::errno(e.errno());
            }
        };
        if let Some(c) = self.stats.requests.get_mut(kind as usize) {
            *c += 1;
        }
        let r = self.dispatch(&h, kind, req, raw.ctr_has_nul());
        let out = match r {
            Ok(p) => Outcome::ok(p),
            Err(e) => {
                self.stats.errors += 1;
                let errno = e.errno().unwrap_or(libc::EIO);
                if !e.is_silent() {
                    ulog!(
                        self.logger(),
                        e.level(),
                        "[{}/{:x}] {} [{}] failed ({}): {}",
                        h.uuid.display(),
                        h.luid,
                        kind,
                        h.seq,
                        crate::kernel::sys::strerror(errno),
                        e.message()
                    );
                }
                Outcome::errno(errno)
            }
        };
        if let Some(entry) = self.logs.get_mut(&key_of(&h)) {
            if let Some(w) = entry.log.take_warning() {
                ulog!(
                    self.logger.as_deref(),
                    w.level(),
                    "[{}/{:x}] {}: {} (acknowledged: no block_on_error)",
                    h.uuid.display(),
                    h.luid,
                    kind,
                    w.message()
                );
            }
        }
        if let Some(l) = self.logger() {
            if l.enabled(Level::Debug) {
                let p = out.payload.as_bytes();
                let shown = match (out.error, kind.reply_size()) {
                    (0, Some(8)) | (0, Some(16)) => format!(
                        "{:?}",
                        p.chunks_exact(8)
                            .map(|c| u64::from_ne_bytes(c.try_into().unwrap_or([0; 8])))
                            .collect::<Vec<_>>()
                    ),
                    (0, _) => format!("\"{}\"", EscapedBytes(p)),
                    (e, _) => format!("error {e}"),
                };
                ulog!(
                    Some(l),
                    Level::Debug,
                    "[{}/{:x}] {} [{}] {} -> {}",
                    h.uuid.display(),
                    h.luid,
                    kind,
                    h.seq,
                    request_args(&req),
                    shown
                );
            }
        }
        out
    }

    fn dispatch(
        &mut self,
        h: &Header,
        kind: RequestType,
        req: Request<'_>,
        nul: bool,
    ) -> Result<ReplyPayload, Error> {
        let key = key_of(h);
        match req {
            Request::Ctr(args) => return self.ctr(h, args, nul),
            Request::Dtr => {
                return match self.logs.remove(&key) {
                    Some(e) => {
                        if let Some(f) = e.state {
                            f.remove();
                        }
                        ulog!(
                            self.logger(),
                            Level::Info,
                            "[{}/{:x}] log destroyed",
                            h.uuid.display(),
                            h.luid
                        );
                        Ok(ReplyPayload::none())
                    }
                    None => {
                        self.stats.unknown_log += 1;
                        Err(
                            Error::from_errno(libc::ESRCH, "no such log (nothing to destroy)")
                                .at_level(Level::Info),
                        )
                    }
                };
            }
            _ => {}
        }
        let Some(entry) = self.logs.get_mut(&key) else {
            self.stats.unknown_log += 1;
            self.unknown.insert(key);
            return Err(Error::from_errno(
                libc::ESRCH,
                "no such log: the kernel will reconnect it (CTR, RESUME) and retry",
            )
            .at_level(Level::Warn));
        };
        let log = &mut entry.log;
        let _ = kind;
        match req {
            Request::Ctr(_) | Request::Dtr => Ok(ReplyPayload::none()),
            Request::Presuspend => log.presuspend(),
            Request::Postsuspend => log.postsuspend(),
            Request::Resume => {
                let r = log.resume();
                let (n, c) = (log.config().region_count, log.sync_count());
                ulog!(
                    self.logger.as_deref(),
                    Level::Notice,
                    "[{}/{:x}] resumed: {} of {} regions in sync",
                    h.uuid.display(),
                    h.luid,
                    c,
                    n
                );
                r
            }
            Request::GetRegionSize => log.get_region_size(),
            Request::IsClean(r) => log.is_clean(r),
            Request::InSync(r) => log.in_sync(r),
            Request::Flush(regions) => log.flush(regions.iter()),
            Request::MarkRegion(regions) => log.mark(regions.iter()),
            Request::ClearRegion(regions) => log.clear(regions.iter()),
            Request::GetResyncWork => log.get_resync_work(),
            Request::SetRegionSync { region, in_sync } => log.set_region_sync(region, in_sync),
            Request::GetSyncCount => log.get_sync_count(),
            Request::StatusInfo => log.status_info(),
            Request::StatusTable => log.status_table(),
            Request::IsRemoteRecovering(r) => log.is_remote_recovering(r),
        }
    }

    fn ctr(&mut self, h: &Header, args: &[u8], nul: bool) -> Result<ReplyPayload, Error> {
        let key = key_of(h);
        let cfg = parse_ctr(args)?;
        // The kernel's reconnect path (after ESRCH) sends the arguments with
        // their NUL and takes no reply payload: a device name there fails
        // the request (ENOSPC) and the kernel retries forever. Only the
        // constructor proper gets the log device to register.
        let reconnect = self.unknown.contains(&key) || nul;
        let reply = ctr_reply(&cfg, h.version, reconnect)?;
        if let Some(e) = self.logs.get(&key) {
            if e.log.config() == &cfg {
                ulog!(
                    self.logger(),
                    Level::Info,
                    "[{}/{:x}] constructor for a log that exists (a resent request): kept",
                    h.uuid.display(),
                    h.luid
                );
                return Ok(reply);
            }
            ulog!(
                self.logger(),
                Level::Warn,
                "[{}/{:x}] constructor with other arguments for a log that exists: replaced",
                h.uuid.display(),
                h.luid
            );
            if let Some(old) = self.logs.remove(&key) {
                if let Some(f) = old.state {
                    f.remove();
                }
            }
        }
        let disk = match (cfg.kind, &cfg.device) {
            (LogKind::Disk, Some(dev)) => Some(DiskLog::open(
                dev,
                cfg.region_count,
                self.node_dir.as_deref(),
            )?),
            _ => None,
        };
        let mut log = RegionLog::new(h.uuid, h.luid, cfg, disk)?;
        self.unknown.remove(&key);
        let mut state = None;
        match &self.state {
            Some(sd) => {
                if reconnect {
                    match sd.load(&h.uuid, h.luid, &log) {
                        Ok(Some(snap)) => {
                            let (c, n) = (snap.sync.count_ones(), snap.sync.len());
                            if log.restore(snap) {
                                ulog!(self.logger(), Level::Notice, "[{}/{:x}] reconnected: state restored ({} of {} regions in sync)", h.uuid.display(), h.luid, c, n);
                            }
                        }
                        Ok(None) => {
                            ulog!(
                                self.logger(),
                                Level::Warn,
                                "[{}/{:x}] reconnected without saved state: {}",
                                h.uuid.display(),
                                h.luid,
                                NO_STATE
                            );
                        }
                        Err(e) => {
                            ulog!(
                                self.logger(),
                                Level::Warn,
                                "[{}/{:x}] cannot read saved state ({e}): {}",
                                h.uuid.display(),
                                h.luid,
                                NO_STATE
                            );
                        }
                    }
                }
                match sd.create(&mut log) {
                    Ok(f) => state = Some(f),
                    Err(e) => ulog!(self.logger(), Level::Warn, "[{}/{:x}] cannot write a state file in {}: {e} (a restart will not restore this log)", h.uuid.display(), h.luid, sd.path().display()),
                }
            }
            None if reconnect => {
                ulog!(
                    self.logger(),
                    Level::Warn,
                    "[{}/{:x}] reconnected (no state directory): {}",
                    h.uuid.display(),
                    h.luid,
                    NO_STATE
                );
            }
            None => {}
        }
        ulog!(
            self.logger(),
            Level::Info,
            "[{}/{:x}] log created: {}",
            h.uuid.display(),
            h.luid,
            EscapedBytes(args)
        );
        self.logs.insert(key, Entry { log, state });
        Ok(reply)
    }

    /// Bring every state file up to date. Call after handling requests and
    /// before sending their replies.
    pub fn persist(&mut self) {
        let logger = self.logger.clone();
        let mut failed = Vec::new();
        for (k, e) in self.logs.iter_mut() {
            if let Some(f) = e.state.as_mut() {
                if let Err(err) = f.update(&mut e.log) {
                    ulog!(logger.as_deref(), Level::Error, "[{}/{:x}] cannot update the state file: {err} (dropped: a restart will not restore this log)", k.0.display(), k.1);
                    failed.push(*k);
                }
            }
        }
        for k in failed {
            if let Some(e) = self.logs.get_mut(&k) {
                if let Some(f) = e.state.take() {
                    f.remove();
                }
            }
        }
    }

    /// A clean shutdown: write every running disk log's bits to its device
    /// and bring the state files up to date (they stay, for the next
    /// server). Returns the number of disk logs written.
    pub fn shutdown(&mut self) -> usize {
        let mut n = 0;
        let logger = self.logger.clone();
        for (k, e) in self.logs.iter_mut() {
            match e.log.shutdown() {
                Ok(true) => n += 1,
                Ok(false) => {}
                Err(err) => ulog!(
                    logger.as_deref(),
                    Level::Error,
                    "[{}/{:x}] cannot write the disk log at shutdown: {}",
                    k.0.display(),
                    k.1,
                    err.message()
                ),
            }
            if let Some(w) = e.log.take_warning() {
                ulog!(
                    logger.as_deref(),
                    Level::Error,
                    "[{}/{:x}] cannot write the disk log at shutdown: {}",
                    k.0.display(),
                    k.1,
                    w.message()
                );
            }
        }
        self.persist();
        n
    }

    /// The state directory, if any.
    pub fn state_dir(&self) -> Option<&Path> {
        self.state.as_ref().map(|s| s.path())
    }
}

/// What a CTR reply carries: the log device to register (request version
/// 2 on), except on the kernel's reconnect path, which takes nothing.
fn ctr_reply(
    cfg: &super::ctr::LogConfig,
    version: u32,
    reconnect: bool,
) -> Result<ReplyPayload, Error> {
    match (&cfg.device, version >= 2 && !reconnect) {
        (Some(dev), true) => {
            ReplyPayload::c_string(dev).ok_or_else(|| Error::invalid("log device name too long"))
        }
        _ => Ok(ReplyPayload::none()),
    }
}

const NO_STATE: &str = "regions not known clean are taken as out of sync; \
the kernel asks for their recovery only after the device is resumed again (dmsetup suspend, resume)";

fn request_args(req: &Request<'_>) -> String {
    match req {
        Request::Ctr(a) => format!("\"{}\"", EscapedBytes(a)),
        Request::IsClean(r) | Request::InSync(r) | Request::IsRemoteRecovering(r) => {
            format!("region {r}")
        }
        Request::Flush(rs) | Request::MarkRegion(rs) | Request::ClearRegion(rs) => {
            format!("regions {rs:?}")
        }
        Request::SetRegionSync { region, in_sync } => {
            format!("region {region} in_sync {}", *in_sync as u8)
        }
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::abi::DM_ULOG_REQUEST_VERSION;
    use super::super::codec::{decode_frame, decode_request, encode_request};
    use super::*;
    use parking_lot::Mutex;

    struct Capture(Mutex<Vec<String>>);
    impl Logger for Capture {
        fn enabled(&self, _: Level) -> bool {
            true
        }
        fn log(&self, r: &Record<'_>) {
            self.0.lock().push(format!("{:?}: {}", r.level, r.args));
        }
    }

    fn send(
        t: &mut LogTable,
        uuid: &[u8],
        luid: u64,
        kind: RequestType,
        payload: &[u8],
    ) -> Outcome {
        let h = Header {
            luid,
            uuid: Uuid::new(uuid).unwrap(),
            padding: [0; 3],
            version: DM_ULOG_REQUEST_VERSION,
            error: 0,
            seq: 1,
            request_type: kind as u32,
            data_size: 0,
        };
        let buf = encode_request(&h, payload);
        let raw = decode_request(decode_frame(&buf).unwrap().data).unwrap();
        t.handle(&raw)
    }

    fn u64_of(o: &Outcome) -> u64 {
        assert_eq!(o.error, 0);
        u64::from_ne_bytes(o.payload.as_bytes()[..8].try_into().unwrap())
    }

    #[test]
    fn two_logs_and_unknown_ones() {
        let cap = Arc::new(Capture(Mutex::new(Vec::new())));
        let mut t = LogTable::new(TableOptions::default(), Some(cap.clone())).unwrap();
        assert_eq!(
            send(&mut t, b"A", 1, RequestType::Ctr, b"1024 clustered-core 64").error,
            0
        );
        assert_eq!(
            send(
                &mut t,
                b"B",
                2,
                RequestType::Ctr,
                b"1024 clustered-core 128 nosync"
            )
            .error,
            0
        );
        assert_eq!(
            u64_of(&send(&mut t, b"A", 1, RequestType::GetRegionSize, b"")),
            64
        );
        assert_eq!(
            u64_of(&send(&mut t, b"B", 2, RequestType::GetRegionSize, b"")),
            128
        );
        assert_eq!(send(&mut t, b"A", 1, RequestType::Resume, b"").error, 0);
        assert_eq!(send(&mut t, b"B", 2, RequestType::Resume, b"").error, 0);
        assert_eq!(
            u64_of(&send(&mut t, b"A", 1, RequestType::GetSyncCount, b"")),
            0
        );
        assert_eq!(
            u64_of(&send(&mut t, b"B", 2, RequestType::GetSyncCount, b"")),
            8
        );
        // Same uuid, other luid (an inactive table's log) is another log.
        assert_eq!(
            send(&mut t, b"A", 3, RequestType::GetSyncCount, b"").error,
            -libc::ESRCH
        );
        assert_eq!(
            send(&mut t, b"C", 1, RequestType::IsClean, &0u64.to_ne_bytes()).error,
            -libc::ESRCH
        );
        assert_eq!(t.stats().unknown_log, 2);
        // A bad request for A leaves B alone.
        assert_eq!(
            send(&mut t, b"A", 1, RequestType::IsClean, &99u64.to_ne_bytes()).error,
            -libc::EINVAL
        );
        assert_eq!(
            send(&mut t, b"A", 1, RequestType::IsClean, b"xx").error,
            -libc::EINVAL
        );
        assert_eq!(
            u64_of(&send(
                &mut t,
                b"B",
                2,
                RequestType::IsClean,
                &3u64.to_ne_bytes()
            )),
            1
        );
        let st = send(&mut t, b"B", 2, RequestType::StatusInfo, b"");
        assert_eq!(st.payload.as_bytes(), b"1 clustered-core");
        assert_eq!(send(&mut t, b"A", 1, RequestType::Dtr, b"").error, 0);
        assert_eq!(
            send(&mut t, b"A", 1, RequestType::Dtr, b"").error,
            -libc::ESRCH
        );
        assert_eq!(t.len(), 1);
        let lines = cap.0.lock().join("\n");
        assert!(
            lines.contains("[C/1] IS_CLEAN [1] failed (No such process)"),
            "{lines}"
        );
        assert!(lines.contains("region 99 out of range"), "{lines}");
    }

    #[test]
    fn ctr_replies() {
        let disk = parse_ctr(b"1024 clustered-disk 253:4 64").unwrap();
        assert_eq!(ctr_reply(&disk, 3, false).unwrap().as_bytes(), b"253:4\0");
        assert!(ctr_reply(&disk, 3, true).unwrap().is_empty());
        assert!(ctr_reply(&disk, 1, false).unwrap().is_empty());
        let core = parse_ctr(b"1024 clustered-core 64").unwrap();
        assert!(ctr_reply(&core, 3, false).unwrap().is_empty());
    }

    #[test]
    fn bad_constructors() {
        let mut t = LogTable::new(TableOptions::default(), None).unwrap();
        for args in [
            &b"1024 mirror 64"[..],
            b"1024 clustered-core 63",
            b"x",
            b"1024 clustered-disk /nonexistent 64",
        ] {
            let o = send(&mut t, b"A", 1, RequestType::Ctr, args);
            assert!(o.error < 0, "{:?}", String::from_utf8_lossy(args));
        }
        assert!(t.is_empty());
        // A resent constructor keeps the log; other arguments replace it.
        assert_eq!(
            send(&mut t, b"A", 1, RequestType::Ctr, b"1024 core 64").error,
            0
        );
        send(&mut t, b"A", 1, RequestType::Resume, b"");
        send(
            &mut t,
            b"A",
            1,
            RequestType::SetRegionSync,
            &[0u64.to_ne_bytes(), 1u64.to_ne_bytes()].concat(),
        );
        assert_eq!(
            send(&mut t, b"A", 1, RequestType::Ctr, b"1024 core 64").error,
            0
        );
        assert_eq!(
            u64_of(&send(&mut t, b"A", 1, RequestType::GetSyncCount, b"")),
            1
        );
        assert_eq!(
            send(&mut t, b"A", 1, RequestType::Ctr, b"1024 core 32").error,
            0
        );
        assert_eq!(
            u64_of(&send(&mut t, b"A", 1, RequestType::GetRegionSize, b"")),
            32
        );
    }

    #[test]
    fn reconnect_restores_state() {
        let dir = std::env::temp_dir().join(format!("dmrs-ulog-table-{}", std::process::id()));
        let opts = TableOptions {
            state_dir: Some(dir.clone()),
            node_dir: None,
        };
        let mut t = LogTable::new(opts.clone(), None).unwrap();
        send(&mut t, b"A", 1, RequestType::Ctr, b"1024 core 64");
        send(&mut t, b"A", 1, RequestType::Resume, b"");
        for r in 0..5u64 {
            send(
                &mut t,
                b"A",
                1,
                RequestType::SetRegionSync,
                &[r.to_ne_bytes(), 1u64.to_ne_bytes()].concat(),
            );
        }
        send(
            &mut t,
            b"A",
            1,
            RequestType::MarkRegion,
            &2u64.to_ne_bytes(),
        );
        t.persist();
        drop(t); // the server dies
        let mut t = LogTable::new(opts, None).unwrap();
        // The kernel's next request finds no log...
        assert_eq!(
            send(&mut t, b"A", 1, RequestType::Flush, b"").error,
            -libc::ESRCH
        );
        // ...so it reconnects: CTR (NUL-terminated) and RESUME.
        assert_eq!(
            send(&mut t, b"A", 1, RequestType::Ctr, b"1024 core 64\0").error,
            0
        );
        assert_eq!(send(&mut t, b"A", 1, RequestType::Resume, b"").error, 0);
        assert_eq!(
            u64_of(&send(&mut t, b"A", 1, RequestType::GetSyncCount, b"")),
            5
        );
        assert_eq!(
            u64_of(&send(
                &mut t,
                b"A",
                1,
                RequestType::IsClean,
                &2u64.to_ne_bytes()
            )),
            0
        );
        assert_eq!(send(&mut t, b"A", 1, RequestType::Dtr, b"").error, 0);
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn key_hash_spreads_uuids_that_differ_in_one_byte() {
        use std::hash::BuildHasher;
        let mut seen = std::collections::HashSet::new();
        let base = *b"LVM-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        for at in 0..base.len() {
            for v in [b'x', b'y'] {
                let mut u = base;
                u[at] = v;
                let key = (Uuid::new(&u).unwrap(), 7u64);
                assert!(seen.insert(KeyHash.hash_one(key)));
                // The luid counts too.
                assert!(seen.insert(KeyHash.hash_one((key.0, 8u64))));
            }
        }
    }
}
