//! One dirty log: the region bits and what every request does to them.
//!
//! The semantics are the kernel's own `core`/`disk` logs' (`dm-log.c`),
//! with cmirrord's answers where the userspace protocol differs:
//!
//! * `clean` bits say which regions have no write in flight (1 = clean);
//!   a disk log persists them. `sync` bits say which regions hold the same
//!   data on every leg.
//! * The first RESUME initialises: a core log makes every region clean and
//!   in sync under `nosync`, dirty and out of sync otherwise; a disk log
//!   reads its device (see [`super::disk`]) and takes `sync = clean`. Later
//!   resumes of a core log keep the bits (as the kernel's core log does); a
//!   disk log reads its device again, as the kernel's does.
//! * MARK clears clean bits; CLEAR sets them, but only for regions in sync
//!   (cmirrord's rule: a region whose recovery failed stays dirty on disk).
//! * FLUSH (with the regions of an integrated flush marked first) writes the
//!   changed blocks of a disk log, and flushes the device's cache when a
//!   region was marked, before it is answered.
//! * GET_RESYNC_WORK hands out the next region out of sync from a cursor
//!   that restarts at each resume, and hands the same region out again
//!   while its recovery has not been reported (a lost reply).
//! * IS_REMOTE_RECOVERING: on one node nothing is recovered remotely; the
//!   hint is the lowest region out of sync (the kernel skips asking below).
//!
//! Region numbers past the end are refused with `EINVAL`.

use super::bitset::{Bitset, Touched};
use super::codec::{ReplyPayload, Uuid};
use super::ctr::{LogConfig, LogKind, SyncMode};
use super::disk::{load_clean_bits, DiskLog, Loaded};
use crate::error::{Error, ErrorKind};

/// Where a log is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Constructed, never resumed (an inactive table's log).
    Constructed,
    /// Resumed: the device is live.
    Running,
    /// Postsuspended.
    Suspended,
}

/// The state a log can be restored to after the server restarted (what
/// [`super::state`] keeps).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// Clean bits.
    pub clean: Bitset,
    /// Sync bits.
    pub sync: Bitset,
    /// Resync cursor.
    pub sync_search: u64,
    /// Region handed out for recovery and not yet reported.
    pub recovering: Option<u64>,
    /// Whether the log had been resumed.
    pub phase: Phase,
    /// Whether the log device had failed.
    pub dev_failed: bool,
}

/// Health of a disk log's device, as STATUS_INFO reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceHealth {
    /// `A`: alive.
    Alive,
    /// `D`: a read or write failed.
    Dead,
    /// `F`: a cache flush failed.
    FlushFailed,
}

/// One log instance (one `(uuid, luid)`).
#[derive(Debug)]
pub struct RegionLog {
    uuid: Uuid,
    luid: u64,
    config: LogConfig,
    clean: Bitset,
    sync: Bitset,
    sync_count: u64,
    sync_search: u64,
    recovering: Option<u64>,
    phase: Phase,
    resumed_once: bool,
    keep_bits_on_resume: bool,
    disk: Option<DiskLog>,
    disk_touched: Touched,
    disk_dirtied: bool,
    dev_failed: bool,
    flush_failed: bool,
    disk_writer: bool,
    warning: Option<Error>,
    /// Changes not yet in the restart state file.
    pub(super) saved_clean: Touched,
    pub(super) saved_sync: Touched,
    pub(super) saved_meta: bool,
}

fn out_of_range(r: u64, count: u64) -> Error {
    Error::invalid(format!(
        "region {r} out of range (the log has {count} regions)"
    ))
}

fn io_err(what: &str, e: &std::io::Error) -> Error {
    let errno = e.raw_os_error().unwrap_or(libc::EIO);
    Error::new(
        ErrorKind::Io,
        format!("{what}: {}", crate::kernel::sys::strerror(errno)),
    )
    .with_errno(libc::EIO)
}

impl RegionLog {
    /// A log for a parsed constructor string (`disk` must be given for a
    /// disk log). Bits start as the kernel's do before the first resume:
    /// all clean, in sync only under `nosync`.
    pub fn new(
        uuid: Uuid,
        luid: u64,
        config: LogConfig,
        disk: Option<DiskLog>,
    ) -> Result<RegionLog, Error> {
        if (config.kind == LogKind::Disk) != disk.is_some() {
            return Err(Error::internal(
                "a disk log needs its device, a core log none",
            ));
        }
        let n = config.region_count;
        let nosync = config.sync == SyncMode::Nosync;
        Ok(RegionLog {
            uuid,
            luid,
            clean: Bitset::try_new(n, true)?,
            sync: Bitset::try_new(n, nosync)?,
            sync_count: if nosync { n } else { 0 },
            sync_search: 0,
            recovering: None,
            phase: Phase::Constructed,
            resumed_once: false,
            keep_bits_on_resume: false,
            disk,
            disk_touched: Touched::none(),
            disk_dirtied: false,
            dev_failed: false,
            flush_failed: false,
            disk_writer: true,
            warning: None,
            saved_clean: Touched::none(),
            saved_sync: Touched::none(),
            saved_meta: false,
            config,
        })
    }

    /// The uuid.
    pub fn uuid(&self) -> &Uuid {
        &self.uuid
    }

    /// The local unique id.
    pub fn luid(&self) -> u64 {
        self.luid
    }

    /// The constructor arguments.
    pub fn config(&self) -> &LogConfig {
        &self.config
    }

    /// The phase.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Regions in sync.
    pub fn sync_count(&self) -> u64 {
        self.sync_count
    }

    /// The clean bits.
    pub fn clean_bits(&self) -> &Bitset {
        &self.clean
    }

    /// The sync bits.
    pub fn sync_bits(&self) -> &Bitset {
        &self.sync
    }

    /// The disk log's device health (`None` for a core log).
    pub fn device_health(&self) -> Option<DeviceHealth> {
        self.disk.as_ref()?;
        Some(if self.flush_failed {
            DeviceHealth::FlushFailed
        } else if self.dev_failed {
            DeviceHealth::Dead
        } else {
            DeviceHealth::Alive
        })
    }

    /// A problem the last request ran into but did not fail for (a log
    /// device failing without `block_on_error`), to be logged.
    pub fn take_warning(&mut self) -> Option<Error> {
        self.warning.take()
    }

    /// The resync cursor (where GET_RESYNC_WORK looks next).
    pub fn sync_search_cursor(&self) -> u64 {
        self.sync_search
    }

    /// The region handed out for recovery, if any.
    pub fn recovering(&self) -> Option<u64> {
        self.recovering
    }

    /// Whether this server writes the disk log's device (the default). In
    /// a cluster only one node writes (see [`super::cluster`]); the others
    /// keep the same bits in memory. Turning writes on makes the next
    /// commit rewrite every block.
    pub fn set_disk_writer(&mut self, on: bool) {
        if on && !self.disk_writer {
            self.disk_touched.add_range(0..self.clean.words().len());
            self.disk_dirtied = true;
        }
        self.disk_writer = on;
    }

    /// Whether this server writes the disk log's device.
    pub fn is_disk_writer(&self) -> bool {
        self.disk_writer
    }

    /// Write what changed to a disk log (if this server is its writer), as
    /// FLUSH does without marking anything.
    pub fn commit_now(&mut self) -> Result<(), Error> {
        self.commit()
    }

    /// The state to keep across a restart of the server.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            clean: self.clean.clone(),
            sync: self.sync.clone(),
            sync_search: self.sync_search,
            recovering: self.recovering,
            phase: self.phase,
            dev_failed: self.dev_failed,
        }
    }

    /// Take over the state of a log the server kept before it restarted:
    /// the kernel reconnects with CTR then RESUME, and that RESUME keeps
    /// these bits (the kernel's view of the mirror did not change while the
    /// server was away). `false` when the sizes do not match.
    pub fn restore(&mut self, s: Snapshot) -> bool {
        if s.clean.len() != self.config.region_count || s.sync.len() != self.config.region_count {
            return false;
        }
        self.sync_count = s.sync.count_ones();
        self.clean = s.clean;
        self.sync = s.sync;
        self.sync_search = s.sync_search;
        self.recovering = s.recovering.filter(|&r| r < self.config.region_count);
        self.phase = s.phase;
        self.resumed_once = s.phase != Phase::Constructed;
        self.dev_failed = s.dev_failed;
        self.keep_bits_on_resume = true;
        // The device may lag behind the marks the state file holds: the
        // next commit rewrites every block.
        self.disk_touched.add_range(0..self.clean.words().len());
        self.disk_dirtied = true;
        self.touch_all_saved();
        true
    }

    fn touch_all_saved(&mut self) {
        let w = self.clean.words().len();
        self.saved_clean.add_range(0..w);
        self.saved_sync.add_range(0..w);
        self.saved_meta = true;
    }

    fn check(&self, r: u64) -> Result<(), Error> {
        if r < self.config.region_count {
            Ok(())
        } else {
            Err(out_of_range(r, self.config.region_count))
        }
    }

    fn set_clean(&mut self, r: u64, v: bool) {
        if let Some(w) = self.clean.put(r, v) {
            self.disk_touched.add(w);
            self.saved_clean.add(w);
            if !v {
                self.disk_dirtied = true;
            }
        }
    }

    fn set_sync(&mut self, r: u64, v: bool) {
        if let Some(w) = self.sync.put(r, v) {
            self.saved_sync.add(w);
            if v {
                self.sync_count += 1;
            } else {
                self.sync_count = self.sync_count.saturating_sub(1);
            }
        }
    }

    /// PRESUSPEND.
    pub fn presuspend(&mut self) -> Result<ReplyPayload, Error> {
        Ok(ReplyPayload::none())
    }

    /// POSTSUSPEND: commit a disk log (as the kernel's disk log does).
    pub fn postsuspend(&mut self) -> Result<ReplyPayload, Error> {
        self.phase = Phase::Suspended;
        self.recovering = None;
        self.saved_meta = true;
        self.commit()?;
        Ok(ReplyPayload::none())
    }

    /// RESUME: see the module documentation.
    pub fn resume(&mut self) -> Result<ReplyPayload, Error> {
        let mut result = Ok(ReplyPayload::none());
        if self.keep_bits_on_resume {
            self.keep_bits_on_resume = false;
        } else if self.disk.is_some() {
            result = self.load_from_disk();
        } else if !self.resumed_once {
            self.clean.fill(self.config.sync == SyncMode::Nosync);
            self.sync.copy_from(&self.clean);
            self.sync_count = self.sync.count_ones();
        }
        self.resumed_once = true;
        self.phase = Phase::Running;
        self.sync_search = 0;
        self.recovering = None;
        self.touch_all_saved();
        if !self.disk_writer {
            self.disk_touched = Touched::none();
            self.disk_dirtied = false;
            return result;
        }
        if let Some(d) = self.disk.as_mut() {
            // Header with the current region count, and every bit.
            let w = d.write_all(&self.clean).and_then(|_| d.sync());
            self.disk_touched = Touched::none();
            self.disk_dirtied = false;
            if let Err(e) = w {
                self.dev_failed = true;
                return Err(io_err("cannot write the disk log", &e));
            }
        }
        result
    }

    fn load_from_disk(&mut self) -> Result<ReplyPayload, Error> {
        let sync_mode = self.config.sync;
        let Some(d) = self.disk.as_mut() else {
            return Ok(ReplyPayload::none());
        };
        let mut result = Ok(ReplyPayload::none());
        match d.read() {
            Ok(area) => match load_clean_bits(area, sync_mode, &mut self.clean) {
                Loaded::BadVersion(v) => {
                    self.dev_failed = true;
                    result = Err(Error::invalid(format!(
                        "incompatible disk log version {v}: every region will be resynchronised"
                    )));
                }
                Loaded::Log { .. } | Loaded::New => {}
            },
            Err(e) => {
                // As the kernel: unreadable means every region out of sync.
                self.dev_failed = true;
                self.clean.fill(sync_mode == SyncMode::Nosync);
                result = Err(io_err(
                    "cannot read the disk log: every region will be resynchronised",
                    &e,
                ));
            }
        }
        self.sync.copy_from(&self.clean);
        self.sync_count = self.sync.count_ones();
        result
    }

    /// GET_REGION_SIZE.
    pub fn get_region_size(&self) -> Result<ReplyPayload, Error> {
        Ok(ReplyPayload::u64(self.config.region_size))
    }

    /// IS_CLEAN.
    pub fn is_clean(&self, r: u64) -> Result<ReplyPayload, Error> {
        self.check(r)?;
        Ok(ReplyPayload::i64(self.clean.get(r) as i64))
    }

    /// IN_SYNC.
    pub fn in_sync(&self, r: u64) -> Result<ReplyPayload, Error> {
        self.check(r)?;
        Ok(ReplyPayload::i64(self.sync.get(r) as i64))
    }

    /// MARK_REGION (all regions checked before any is marked).
    pub fn mark(
        &mut self,
        regions: impl Iterator<Item = u64> + Clone,
    ) -> Result<ReplyPayload, Error> {
        for r in regions.clone() {
            self.check(r)?;
        }
        for r in regions {
            self.set_clean(r, false);
        }
        Ok(ReplyPayload::none())
    }

    /// CLEAR_REGION (all regions checked before any is cleared).
    pub fn clear(
        &mut self,
        regions: impl Iterator<Item = u64> + Clone,
    ) -> Result<ReplyPayload, Error> {
        for r in regions.clone() {
            self.check(r)?;
        }
        for r in regions {
            if self.sync.get(r) {
                self.set_clean(r, true);
            }
        }
        Ok(ReplyPayload::none())
    }

    /// FLUSH, with the regions of an integrated flush marked first.
    pub fn flush(
        &mut self,
        marks: impl Iterator<Item = u64> + Clone,
    ) -> Result<ReplyPayload, Error> {
        self.mark(marks)?;
        self.commit()?;
        Ok(ReplyPayload::none())
    }

    /// Write what changed to a disk log; flush its cache if a region was
    /// marked. A failing device fails the call under `block_on_error`, and
    /// is only reported (`D`/`F` in STATUS_INFO) otherwise.
    fn commit(&mut self) -> Result<(), Error> {
        if !self.disk_writer {
            // Another node writes: what changed stays to be written should
            // this server become the writer (then every block is).
            return Ok(());
        }
        let Some(d) = self.disk.as_mut() else {
            self.disk_touched = Touched::none();
            self.disk_dirtied = false;
            return Ok(());
        };
        let Some(words) = self.disk_touched.take() else {
            return Ok(());
        };
        let r = d.write_words(&self.clean, words.clone());
        let r = match r {
            Ok(()) if self.disk_dirtied => d.sync().map_err(|e| (true, e)),
            Ok(()) => Ok(()),
            Err(e) => Err((false, e)),
        };
        match r {
            Ok(()) => {
                self.disk_dirtied = false;
                Ok(())
            }
            Err((flush, e)) => {
                if flush {
                    self.flush_failed = true;
                }
                self.dev_failed = true;
                self.saved_meta = true;
                // Try these blocks again next time.
                self.disk_touched.add_range(words);
                let err = io_err(
                    if flush {
                        "cannot flush the disk log device"
                    } else {
                        "cannot write the disk log"
                    },
                    &e,
                );
                if self.config.block_on_error {
                    Err(err)
                } else {
                    // Acknowledged anyway: the device is reported, not
                    // waited for.
                    self.warning = Some(err.at_level(crate::log::Level::Warn));
                    Ok(())
                }
            }
        }
    }

    /// GET_RESYNC_WORK: `{1, region}` or `{0, 0}` when nothing is left.
    pub fn get_resync_work(&mut self) -> Result<ReplyPayload, Error> {
        if let Some(r) = self.recovering {
            if !self.sync.get(r) {
                return Ok(ReplyPayload::pair(1, r));
            }
            self.recovering = None;
        }
        if self.sync_search >= self.config.region_count {
            return Ok(ReplyPayload::pair(0, 0));
        }
        match self.sync.next_zero(self.sync_search) {
            Some(r) => {
                self.sync_search = r + 1;
                self.recovering = Some(r);
                self.saved_meta = true;
                Ok(ReplyPayload::pair(1, r))
            }
            None => {
                self.sync_search = self.config.region_count;
                self.saved_meta = true;
                Ok(ReplyPayload::pair(0, 0))
            }
        }
    }

    /// SET_REGION_SYNC.
    pub fn set_region_sync(&mut self, r: u64, in_sync: bool) -> Result<ReplyPayload, Error> {
        self.check(r)?;
        if self.recovering == Some(r) {
            self.recovering = None;
        }
        self.saved_meta = true;
        self.set_sync(r, in_sync);
        Ok(ReplyPayload::none())
    }

    /// GET_SYNC_COUNT.
    pub fn get_sync_count(&self) -> Result<ReplyPayload, Error> {
        Ok(ReplyPayload::u64(self.sync_count))
    }

    /// The STATUS_INFO words, as the kernel's logs write them:
    /// `1 <type>` for a core log, `3 <type> <dev> <A|D|F>` for a disk log.
    pub fn status_info_text(&self) -> Vec<u8> {
        let mut s = Vec::new();
        match (self.device_health(), self.disk.as_ref()) {
            (Some(h), Some(d)) => {
                s.extend_from_slice(b"3 ");
                s.extend_from_slice(&self.config.type_name);
                s.push(b' ');
                s.extend_from_slice(&device_words(d));
                s.push(b' ');
                s.push(match h {
                    DeviceHealth::Alive => b'A',
                    DeviceHealth::Dead => b'D',
                    DeviceHealth::FlushFailed => b'F',
                });
            }
            _ => {
                s.extend_from_slice(b"1 ");
                s.extend_from_slice(&self.config.type_name);
            }
        }
        s
    }

    /// The STATUS_TABLE words, as cmirrord writes them:
    /// `<type> [<dev>] <region_size> [sync |nosync ][block_on_error ]`.
    pub fn status_table_text(&self) -> Vec<u8> {
        let mut s = Vec::new();
        s.extend_from_slice(&self.config.type_name);
        s.push(b' ');
        if let Some(d) = self.disk.as_ref() {
            s.extend_from_slice(&device_words(d));
            s.push(b' ');
        }
        s.extend_from_slice(format!("{} ", self.config.region_size).as_bytes());
        match self.config.sync {
            SyncMode::Default => {}
            SyncMode::Force => s.extend_from_slice(b"sync "),
            SyncMode::Nosync => s.extend_from_slice(b"nosync "),
        }
        if self.config.block_on_error {
            s.extend_from_slice(b"block_on_error ");
        }
        s
    }

    /// STATUS_INFO.
    pub fn status_info(&self) -> Result<ReplyPayload, Error> {
        ReplyPayload::bytes(&self.status_info_text())
            .ok_or_else(|| Error::invalid("status line too long"))
    }

    /// STATUS_TABLE.
    pub fn status_table(&self) -> Result<ReplyPayload, Error> {
        ReplyPayload::bytes(&self.status_table_text())
            .ok_or_else(|| Error::invalid("status line too long"))
    }

    /// IS_REMOTE_RECOVERING: `{0, lowest region out of sync}`.
    pub fn is_remote_recovering(&self, r: u64) -> Result<ReplyPayload, Error> {
        self.check(r)?;
        let hint = self.sync.next_zero(0).unwrap_or(self.config.region_count);
        Ok(ReplyPayload::pair(0, hint))
    }

    /// Write every changed bit of a disk log and flush it (a clean
    /// shutdown). Only a running log writes: a log that was never resumed
    /// (an inactive table) must not overwrite its device, and a suspended
    /// one already wrote at POSTSUSPEND.
    pub fn shutdown(&mut self) -> Result<bool, Error> {
        if self.phase != Phase::Running || self.disk.is_none() || !self.disk_writer {
            return Ok(false);
        }
        self.disk_dirtied = true;
        self.commit()?;
        Ok(true)
    }
}

/// The device as status lines name it: `major:minor` when known.
fn device_words(d: &DiskLog) -> Vec<u8> {
    match d.dev() {
        Some((ma, mi)) => format!("{ma}:{mi}").into_bytes(),
        None => d.name().to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::ctr::parse_ctr;
    use super::*;

    fn core(args: &str) -> RegionLog {
        RegionLog::new(
            Uuid::new(b"u").unwrap(),
            1,
            parse_ctr(args.as_bytes()).unwrap(),
            None,
        )
        .unwrap()
    }

    fn i64_of(p: ReplyPayload) -> i64 {
        i64::from_ne_bytes(p.as_bytes().try_into().unwrap())
    }

    fn pair_of(p: ReplyPayload) -> (i64, u64) {
        let b = p.as_bytes();
        (
            i64::from_ne_bytes(b[..8].try_into().unwrap()),
            u64::from_ne_bytes(b[8..].try_into().unwrap()),
        )
    }

    #[test]
    fn initial_resync_hands_out_every_region_once() {
        let mut l = core("1000 clustered-core 128"); // 8 regions
        assert_eq!(l.get_sync_count().unwrap().as_bytes(), &0u64.to_ne_bytes());
        l.resume().unwrap();
        assert_eq!(l.sync_count(), 0);
        let mut handed = Vec::new();
        loop {
            let (i, r) = pair_of(l.get_resync_work().unwrap());
            if i == 0 {
                break;
            }
            // Asking again before the report gets the same region.
            assert_eq!(pair_of(l.get_resync_work().unwrap()), (1, r));
            handed.push(r);
            l.set_region_sync(r, true).unwrap();
        }
        assert_eq!(handed, (0..8).collect::<Vec<_>>());
        assert_eq!(l.sync_count(), 8);
        assert_eq!(pair_of(l.is_remote_recovering(3).unwrap()), (0, 8));
    }

    #[test]
    fn nosync_and_sync() {
        let mut l = core("1000 clustered-core 128 nosync");
        assert_eq!(l.sync_count(), 8);
        l.resume().unwrap();
        assert_eq!(l.sync_count(), 8);
        assert_eq!(pair_of(l.get_resync_work().unwrap()), (0, 0));
        assert_eq!(i64_of(l.in_sync(7).unwrap()), 1);
        let mut l = core("1000 clustered-core 128 sync");
        l.resume().unwrap();
        assert_eq!(l.sync_count(), 0);
        assert_eq!(i64_of(l.is_clean(0).unwrap()), 0);
    }

    #[test]
    fn mark_clear_and_recovery_failures() {
        let mut l = core("1000 clustered-core 128 nosync");
        l.resume().unwrap();
        l.mark([2u64, 5].into_iter()).unwrap();
        assert_eq!(i64_of(l.is_clean(2).unwrap()), 0);
        assert_eq!(i64_of(l.is_clean(3).unwrap()), 1);
        l.clear([2u64].into_iter()).unwrap();
        assert_eq!(i64_of(l.is_clean(2).unwrap()), 1);
        // A write failure takes region 5 out of sync: its clear keeps it dirty.
        l.set_region_sync(5, false).unwrap();
        assert_eq!(l.sync_count(), 7);
        l.clear([5u64].into_iter()).unwrap();
        assert_eq!(i64_of(l.is_clean(5).unwrap()), 0);
        // Out-of-range regions fail the whole request.
        assert_eq!(
            l.mark([1u64, 8].into_iter()).unwrap_err().errno(),
            Some(libc::EINVAL)
        );
        assert_eq!(i64_of(l.is_clean(1).unwrap()), 1);
        for e in [
            l.is_clean(8).unwrap_err(),
            l.in_sync(u64::MAX).unwrap_err(),
            l.set_region_sync(8, true).unwrap_err(),
            l.is_remote_recovering(9).unwrap_err(),
            l.flush([8u64].into_iter()).unwrap_err(),
        ] {
            assert_eq!(e.errno(), Some(libc::EINVAL));
        }
        assert_eq!(pair_of(l.is_remote_recovering(0).unwrap()), (0, 5));
        // Integrated flush marks.
        l.flush([0u64].into_iter()).unwrap();
        assert_eq!(i64_of(l.is_clean(0).unwrap()), 0);
    }

    #[test]
    fn core_bits_survive_suspend_resume() {
        let mut l = core("1000 clustered-core 128");
        l.resume().unwrap();
        let (_, r) = pair_of(l.get_resync_work().unwrap());
        l.set_region_sync(r, true).unwrap();
        l.postsuspend().unwrap();
        assert_eq!(l.phase(), Phase::Suspended);
        l.resume().unwrap();
        assert_eq!(l.sync_count(), 1);
        // The cursor restarts: region 1 next.
        assert_eq!(pair_of(l.get_resync_work().unwrap()), (1, 1));
    }

    #[test]
    fn status_lines() {
        let l = core("1000 clustered-core 128 nosync block_on_error");
        assert_eq!(l.status_info_text(), b"1 clustered-core");
        assert_eq!(
            l.status_table_text(),
            b"clustered-core 128 nosync block_on_error "
        );
        assert_eq!(
            l.get_region_size().unwrap().as_bytes(),
            &128u64.to_ne_bytes()
        );
    }

    #[test]
    fn restore_keeps_the_bits_on_the_next_resume() {
        let mut l = core("1000 clustered-core 128");
        l.resume().unwrap();
        for _ in 0..3 {
            let (_, r) = pair_of(l.get_resync_work().unwrap());
            l.set_region_sync(r, true).unwrap();
        }
        l.mark([1u64].into_iter()).unwrap();
        let snap = l.snapshot();
        let mut again = core("1000 clustered-core 128");
        assert!(again.restore(snap.clone()));
        again.resume().unwrap();
        assert_eq!(again.sync_bits(), &snap.sync);
        assert_eq!(again.clean_bits(), &snap.clean);
        assert_eq!(again.sync_count(), 3);
        let mut small = core("500 clustered-core 128");
        assert!(!small.restore(snap));
    }
}
