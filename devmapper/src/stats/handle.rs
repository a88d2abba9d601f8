//! The `dm_stats` handle: binding, region table, groups, the cursor,
//! counters and metrics.

use std::collections::BTreeSet;

use super::error::{Note, Result, StatsError, StatsErrorKind};
use super::group::{self, ParsedGroup};
use super::histogram::{build_histogram_arg, Bin, Histogram, NSEC_PER_MSEC};
use super::message;
use super::metrics::{self, Counter, Counters, Metric};
use super::transport::{StatsDevice, StatsTransport};
use super::*;

/// One area's counters and histogram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Area {
    pub(crate) counters: Counters,
    pub(crate) histogram: Option<Histogram>,
}

/// A present region of the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Region {
    pub(crate) region_id: u64,
    pub(crate) group_id: u64,
    pub(crate) start: u64,
    pub(crate) len: u64,
    pub(crate) step: u64,
    pub(crate) program_id: Vec<u8>,
    pub(crate) aux_data: Vec<u8>,
    pub(crate) timescale: u64,
    pub(crate) bounds: Option<Histogram>,
    pub(crate) counters: Option<Vec<Area>>,
}

/// A present group (stored at its leader's region id).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Group {
    pub(crate) group_id: u64,
    pub(crate) alias: Option<Vec<u8>>,
    pub(crate) regions: BTreeSet<u64>,
}

pub(crate) fn nr_areas(len: u64, step: u64) -> u64 {
    if len == 0 || step == 0 {
        return 1;
    }
    len.wrapping_add(step).wrapping_sub(1) / step
}

/// The kind of object at a cursor position (`dm_stats_obj_type_t`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum ObjectType {
    /// `DM_STATS_OBJECT_TYPE_NONE`
    None = 0,
    /// `DM_STATS_OBJECT_TYPE_AREA`
    Area,
    /// `DM_STATS_OBJECT_TYPE_REGION`
    Region,
    /// `DM_STATS_OBJECT_TYPE_GROUP`
    Group,
}

/// A statistics handle bound to one device (`struct dm_stats`).
///
/// Region ids are the kernel's; the table has a slot for every id up to the
/// highest listed one (slots of absent ids are holes). The cursor and walk
/// flags behave exactly as stock's, including the special values
/// [`DM_STATS_WALK_REGION`] / [`DM_STATS_WALK_GROUP`] in the cursor.
pub struct Stats<T: StatsTransport> {
    pub(crate) transport: T,
    bind_major: i32,
    bind_minor: i32,
    bind_name: Option<Vec<u8>>,
    bind_uuid: Option<Vec<u8>>,
    pub(crate) program_id: Vec<u8>,
    pub(crate) name: Option<Vec<u8>>,
    pub(crate) nr_regions: u64,
    pub(crate) max_region: u64,
    interval_ns: u64,
    pub(crate) regions: Option<Vec<Option<Region>>>,
    pub(crate) groups: Option<Vec<Option<Group>>>,
    walk_flags: u64,
    cur_flags: u64,
    cur_group: u64,
    cur_region: u64,
    cur_area: u64,
}

impl<T: StatsTransport> std::fmt::Debug for Stats<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stats")
            .field("device", &self.device())
            .field("program_id", &String::from_utf8_lossy(&self.program_id))
            .field("nr_regions", &self.nr_regions())
            .finish_non_exhaustive()
    }
}

/// The default program id as stock derives it: the first line of
/// `/proc/self/comm`, newline included (stock keeps what `fgets` read).
pub fn default_program_id() -> Result<Vec<u8>> {
    let comm = std::fs::read("/proc/self/comm").map_err(|e| {
        StatsError::new(
            StatsErrorKind::Io,
            "Could not allocate memory for program_id",
        )
        .with_errno(e.raw_os_error().unwrap_or(libc::EIO))
    })?;
    if comm.is_empty() {
        return Err(
            StatsError::new(StatsErrorKind::Io, "Could not read from /proc/self/comm")
                .note("Could not allocate memory for program_id"),
        );
    }
    let end = comm
        .iter()
        .position(|&c| c == b'\n')
        .map(|p| p + 1)
        .unwrap_or(comm.len())
        .min(4095);
    Ok(comm.get(..end).unwrap_or(&comm).to_vec())
}

/// `dm_message_supports_precise_timestamps`: whether the driver (interface
/// 4.33 or later) takes `precise_timestamps` and `histogram:` and lists them.
pub fn supports_precise_timestamps<T: StatsTransport + ?Sized>(transport: &T) -> bool {
    matches!(transport.driver_version(), Ok([4, minor, _]) if minor >= 33)
}

impl<T: StatsTransport> Stats<T> {
    /// `dm_stats_create`: a handle using `program_id` (`None` or empty: the
    /// program's name, see [`default_program_id`]).
    pub fn new(transport: T, program_id: Option<&[u8]>) -> Result<Stats<T>> {
        let program_id = match program_id {
            Some(p) if !p.is_empty() => p.to_vec(),
            _ => default_program_id()?,
        };
        Ok(Stats {
            transport,
            bind_major: -1,
            bind_minor: -1,
            bind_name: None,
            bind_uuid: None,
            program_id,
            name: None,
            nr_regions: DM_STATS_REGION_NOT_PRESENT,
            max_region: DM_STATS_REGION_NOT_PRESENT,
            interval_ns: 0,
            regions: None,
            groups: None,
            walk_flags: DM_STATS_WALK_DEFAULT,
            cur_flags: DM_STATS_WALK_DEFAULT,
            cur_group: 0,
            cur_region: 0,
            cur_area: 0,
        })
    }

    /// The transport.
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// The handle's program id.
    pub fn program_id(&self) -> &[u8] {
        &self.program_id
    }

    /// The device the handle is bound to, if any.
    pub fn device(&self) -> Option<StatsDevice> {
        if let Some(n) = &self.bind_name {
            return Some(StatsDevice::Name(n.clone()));
        }
        if let Some(u) = &self.bind_uuid {
            return Some(StatsDevice::Uuid(u.clone()));
        }
        if self.bind_major > 0 {
            return Some(StatsDevice::Devno {
                major: self.bind_major as u32,
                minor: self.bind_minor as u32,
            });
        }
        None
    }

    pub(crate) fn bound(&self) -> Result<StatsDevice> {
        self.device().ok_or_else(super::error::not_bound)
    }

    fn clear_binding(&mut self) {
        self.bind_name = None;
        self.bind_uuid = None;
        self.bind_major = -1;
        self.bind_minor = -1;
        self.name = None;
    }

    pub(crate) fn regions_destroy(&mut self) {
        self.regions = None;
    }

    fn rebind(&mut self) {
        self.clear_binding();
        self.regions_destroy();
        self.groups = None;
    }

    /// `dm_stats_bind_devno` (a major of 0 or less leaves it unbound).
    pub fn bind_devno(&mut self, major: i32, minor: i32) {
        self.rebind();
        self.bind_major = major;
        self.bind_minor = minor;
    }

    /// `dm_stats_bind_name`.
    pub fn bind_name(&mut self, name: &[u8]) {
        self.rebind();
        self.bind_name = Some(name.to_vec());
    }

    /// `dm_stats_bind_uuid`.
    pub fn bind_uuid(&mut self, uuid: &[u8]) {
        self.rebind();
        self.bind_uuid = Some(uuid.to_vec());
    }

    /// `dm_stats_bind_from_fd`: bind to the device holding the file `fd`.
    pub fn bind_from_fd(&mut self, fd: std::os::fd::BorrowedFd<'_>) -> Result<()> {
        use std::os::fd::AsRawFd;
        let st = nix::sys::stat::fstat(fd.as_raw_fd()).map_err(|e| {
            StatsError::new(
                StatsErrorKind::Io,
                format!("fstat failed for fd {}.", fd.as_raw_fd()),
            )
            .with_errno(e as i32)
        })?;
        let dev = st.st_dev;
        self.bind_devno(libc::major(dev) as i32, libc::minor(dev) as i32);
        Ok(())
    }

    /// `dm_stats_set_program_id`.
    pub fn set_program_id(&mut self, allow_empty: bool, program_id: Option<&[u8]>) -> Result<()> {
        let p = program_id.unwrap_or(b"");
        if !allow_empty && p.is_empty() {
            return Err(StatsError::invalid(
                "Empty program_id not permitted without allow_empty=1",
            ));
        }
        self.program_id = p.to_vec();
        Ok(())
    }

    /// `dm_message_supports_precise_timestamps` (also
    /// `dm_stats_driver_supports_precise` and `_histogram`): driver >= 4.33.
    pub fn driver_supports_precise(&self) -> bool {
        supports_precise_timestamps(&self.transport)
    }

    /// `dm_stats_driver_supports_histogram`: the same test as
    /// [`Stats::driver_supports_precise`].
    pub fn driver_supports_histogram(&self) -> bool {
        self.driver_supports_precise()
    }

    pub(crate) fn send(&self, msg: &[u8]) -> Result<Option<Vec<u8>>> {
        let dev = self
            .device()
            .ok_or_else(|| StatsError::silent(StatsErrorKind::NotBound))?;
        self.transport.message(&dev, 0, msg)
    }

    pub(crate) fn set_name_cache(&mut self) -> Result<()> {
        if self.name.is_some() {
            return Ok(());
        }
        let dev = self.device().ok_or_else(|| {
            StatsError::silent(StatsErrorKind::NotBound)
                .note("Could not retrieve device-mapper name for device.")
        })?;
        match self.transport.device_name(&dev) {
            Ok(n) => {
                self.name = Some(n);
                Ok(())
            }
            // Stock's task creation (and so its driver version check)
            // fails before the step that prints this note.
            Err(e) if e.kind() == StatsErrorKind::Control => Err(e),
            Err(e) => Err(e.note("Could not retrieve device-mapper name for device.")),
        }
    }

    /// The cached device-mapper name (set by list/populate).
    pub fn device_name(&self) -> Option<&[u8]> {
        self.name.as_deref()
    }

    // ----- the region table -------------------------------------------------

    pub(crate) fn region(&self, id: u64) -> Option<&Region> {
        let i = usize::try_from(id).ok()?;
        self.regions.as_ref()?.get(i)?.as_ref()
    }

    fn region_mut(&mut self, id: u64) -> Option<&mut Region> {
        let i = usize::try_from(id).ok()?;
        self.regions.as_mut()?.get_mut(i)?.as_mut()
    }

    pub(crate) fn group(&self, id: u64) -> Option<&Group> {
        let i = usize::try_from(id).ok()?;
        self.groups.as_ref()?.get(i)?.as_ref()
    }

    fn group_slot(&mut self, id: u64) -> Option<&mut Option<Group>> {
        let i = usize::try_from(id).ok()?;
        self.groups.as_mut()?.get_mut(i)
    }

    fn region_nr_areas_of(&self, id: u64) -> u64 {
        self.region(id)
            .map(|r| nr_areas(r.len, r.step))
            .unwrap_or(1)
    }

    /// `_stats_group_id_present`.
    fn group_id_present(&self, id: u64) -> bool {
        if id == DM_STATS_GROUP_NONE || self.regions.is_none() || id > self.max_region {
            return false;
        }
        self.group(id).is_some()
    }

    /// `_stats_region_is_grouped`.
    pub(crate) fn region_is_grouped(&self, id: u64) -> bool {
        match self.region(id) {
            Some(r) if id != DM_STATS_GROUP_NONE => r.group_id != DM_STATS_GROUP_NONE,
            _ => false,
        }
    }

    /// `dm_stats_list`: read the device's regions of `program_id` (`None`:
    /// the handle's; [`DM_STATS_ALL_PROGRAMS`]: every region).
    ///
    /// As in stock, a successful list leaves the walk flags set to
    /// [`DM_STATS_WALK_GROUP`] (stock walks the groups while checking them).
    pub fn list(&mut self, program_id: Option<&[u8]>) -> Result<()> {
        self.bound()?;
        let pid = program_id.unwrap_or(&self.program_id).to_vec();
        self.set_name_cache()?;
        if self.regions.is_some() {
            self.regions_destroy();
        }
        let msg = message::list_message(&pid)?;
        let resp = self.send(&msg)?;
        self.parse_list(resp.as_deref())
            .map_err(|e| e.note("Could not parse @stats_list response."))
    }

    fn parse_list(&mut self, resp: Option<&[u8]>) -> Result<()> {
        let Some(resp) = resp else {
            return Err(StatsError::protocol(
                "Could not parse NULL @stats_list response.",
            ));
        };
        self.regions_destroy();
        self.groups = None;
        let resp = match resp.iter().position(|&c| c == 0) {
            Some(n) => resp.get(..n).unwrap_or(resp),
            None => resp,
        };
        if resp.is_empty() {
            self.nr_regions = 0;
            self.max_region = 0;
            return Ok(());
        }
        let listed = message::parse_list(resp)?;
        if listed.is_empty() {
            return Err(StatsError::silent(StatsErrorKind::Protocol));
        }
        let mut regions: Vec<Option<Region>> = Vec::new();
        let mut groups: Vec<Option<Group>> = Vec::new();
        for l in listed {
            let id = usize::try_from(l.region_id)
                .ok()
                .filter(|&i| i >= regions.len() && (i as u64) <= group::MAX_MEMBER_ID)
                .ok_or_else(|| StatsError::silent(StatsErrorKind::Protocol))?;
            let want = id + 1 - regions.len();
            regions
                .try_reserve(want)
                .map_err(|_| StatsError::silent(StatsErrorKind::Protocol))?;
            groups
                .try_reserve(want)
                .map_err(|_| StatsError::silent(StatsErrorKind::Protocol))?;
            regions.resize(id, None);
            groups.resize(id, None);
            let mut r = Region {
                region_id: l.region_id,
                group_id: DM_STATS_GROUP_NONE,
                start: l.start,
                len: l.len,
                step: l.step,
                program_id: l.program_id,
                aux_data: l.aux_data,
                timescale: l.timescale,
                bounds: l.bounds,
                counters: None,
            };
            let mut g = None;
            match group::parse_group_tag(r.region_id, &r.aux_data) {
                Ok(None) => {}
                Ok(Some(ParsedGroup {
                    alias,
                    members,
                    user_aux,
                    ..
                })) => {
                    crate::log_debug!(
                        self.transport.context(),
                        "Found group_id {}: alias=\"{}\"",
                        r.region_id,
                        String::from_utf8_lossy(alias.as_deref().unwrap_or(b""))
                    );
                    g = Some(Group {
                        group_id: r.region_id,
                        alias,
                        regions: members,
                    });
                    r.aux_data = user_aux;
                }
                Err(e) => {
                    crate::log_error!(self.transport.context(), "{}", e.line);
                    r.aux_data = e.aux_data;
                    crate::log_error!(
                        self.transport.context(),
                        "Failed to parse group descriptor from region_id {} aux_data:'{}'",
                        r.region_id,
                        String::from_utf8_lossy(&r.aux_data)
                    );
                }
            }
            regions.push(Some(r));
            groups.push(g);
        }
        let count = regions.iter().filter(|r| r.is_some()).count() as u64;
        self.nr_regions = count;
        self.max_region = regions.len() as u64 - 1;
        self.regions = Some(regions);
        self.groups = Some(groups);

        // Stock runs dm_stats_foreach_group() here, before any region knows
        // its group: the walk finds none, but it leaves the walk flags at
        // DM_STATS_WALK_GROUP.
        let _ = self.walk_init(DM_STATS_WALK_GROUP);
        self.walk_start();
        while !self.walk_end() {
            self.check_group_regions_present(self.cur_group);
            self.walk_next();
        }
        self.update_groups();
        Ok(())
    }

    fn check_group_regions_present(&mut self, group_id: u64) {
        let Some(g) = self.group(group_id) else {
            return;
        };
        let Some(&first) = g.regions.first() else {
            return;
        };
        if first == 0 {
            // Stock's loop stops at once for a group led by region 0.
            return;
        }
        let missing: Vec<u64> = g
            .regions
            .iter()
            .copied()
            .filter(|&i| self.region(i).is_none())
            .collect();
        for i in missing {
            crate::log_warn!(
                self.transport.context(),
                "Group descriptor {} contains non-existent region_id {}.",
                first,
                i
            );
            if let Some(Some(g)) = self.group_slot(group_id) {
                g.regions.remove(&i);
            }
        }
    }

    fn update_groups(&mut self) {
        let Some(groups) = self.groups.clone() else {
            return;
        };
        for (gid, g) in groups.iter().enumerate() {
            let Some(g) = g else { continue };
            if !self.group_id_present(gid as u64) {
                continue;
            }
            for &i in &g.regions {
                if let Some(r) = self.region_mut(i) {
                    r.group_id = gid as u64;
                }
            }
        }
    }

    /// `dm_stats_populate`: list (for [`DM_STATS_REGIONS_ALL`]) and read and
    /// clear (`@stats_print_clear`) the counters of every listed region, or
    /// of one already-listed region.
    ///
    /// With no regions stock logs (verbose) `No stats regions registered:
    /// <name>` and fails: that is `Err` of kind [`StatsErrorKind::NotFound`]
    /// with no error line.
    pub fn populate(&mut self, program_id: Option<&[u8]>, region_id: u64) -> Result<()> {
        let all = region_id == DM_STATS_REGIONS_ALL;
        let saved = self.walk_flags;
        self.bound()?;
        if !all && region_id & DM_STATS_WALK_GROUP != 0 {
            return Err(StatsError::invalid(
                "Invalid region_id for dm_stats_populate: DM_STATS_WALK_GROUP",
            ));
        }
        let pid = program_id.unwrap_or(&self.program_id).to_vec();
        let r = if all {
            self.list(Some(&pid))
                .map_err(|e| e.note("Could not parse @stats_list response."))
        } else {
            self.set_name_cache()
        };
        if let Err(e) = r {
            self.walk_flags = saved;
            self.regions_destroy();
            return Err(e);
        }
        if self.nr_regions == 0 {
            crate::log_verbose!(
                self.transport.context(),
                "No stats regions registered: {}",
                String::from_utf8_lossy(self.name.as_deref().unwrap_or(b""))
            );
            return Err(StatsError::silent(StatsErrorKind::NotFound));
        }
        self.walk_flags = DM_STATS_WALK_REGION;
        self.walk_start();
        let mut result = Ok(());
        loop {
            let rid = if all { self.cur_region } else { region_id };
            if let Err(e) = self.populate_region(rid) {
                result = Err(e);
                break;
            }
            self.walk_next();
            if !all || self.walk_end() {
                break;
            }
        }
        self.walk_flags = saved;
        if result.is_err() {
            self.regions_destroy();
        }
        result
    }

    fn populate_region(&mut self, region_id: u64) -> Result<()> {
        self.bound()?;
        // Stock reads (and clears) the kernel's counters before it looks
        // for the region in its table.
        let resp = self.send(&message::print_message(region_id, 0, 0, true))?;
        let (timescale, bounds) = match self.region(region_id) {
            Some(r) => (r.timescale, r.bounds.clone()),
            None => {
                return Err(StatsError::new(
                    StatsErrorKind::NotListed,
                    "Cannot populate empty handle before dm_stats_list().",
                ))
            }
        };
        let p = message::parse_print(resp.as_deref(), timescale, bounds.as_ref())
            .map_err(|e| e.note("Could not parse @stats_print message response."))?;
        let mut areas = Vec::new();
        areas
            .try_reserve(p.areas.len())
            .map_err(|_| StatsError::silent(StatsErrorKind::Protocol))?;
        areas.extend(p.areas.into_iter().map(|a| Area {
            counters: a.counters,
            histogram: a.histogram,
        }));
        if let Some(r) = self.region_mut(region_id) {
            r.start = p.start;
            r.step = p.step;
            r.len = p.len;
            r.timescale = timescale;
            r.counters = Some(areas);
            r.region_id = region_id;
        }
        Ok(())
    }

    /// `dm_stats_create_region` (@DM_1_02_107): create a region of `len`
    /// sectors at `start` (both 0: the whole device) with areas of `step`
    /// sectors (negative: `-step` areas), optional precise timestamps and
    /// histogram `bounds` (which turn precise on when a bound is not a whole
    /// millisecond). Returns the new region id.
    #[allow(clippy::too_many_arguments)]
    pub fn create_region(
        &mut self,
        start: u64,
        len: u64,
        step: i64,
        precise: bool,
        bounds: Option<&Histogram>,
        program_id: Option<&[u8]>,
        user_data: &[u8],
    ) -> Result<u64> {
        let mut precise = precise;
        if (precise || bounds.is_some()) && !self.driver_supports_precise() {
            return Err(StatsError::silent(StatsErrorKind::Unsupported));
        }
        let hist = match bounds {
            Some(b) => Some(build_histogram_arg(b, &mut precise)?),
            None => None,
        };
        self.create_region_raw(
            start,
            len,
            step,
            precise,
            hist.as_deref(),
            program_id,
            user_data,
        )
    }

    /// `dm_stats_create_region@DM_1_02_106` (no bounds, no driver check) and,
    /// with `precise` false, `@DM_1_02_104`.
    pub fn create_region_compat(
        &mut self,
        start: u64,
        len: u64,
        step: i64,
        precise: bool,
        program_id: Option<&[u8]>,
        aux_data: &[u8],
    ) -> Result<u64> {
        self.create_region_raw(start, len, step, precise, None, program_id, aux_data)
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn create_region_raw(
        &mut self,
        start: u64,
        len: u64,
        step: i64,
        precise: bool,
        hist_arg: Option<&str>,
        program_id: Option<&[u8]>,
        aux_data: &[u8],
    ) -> Result<u64> {
        self.bound()?;
        let pid = match program_id {
            Some(p) if !p.is_empty() => p.to_vec(),
            _ => self.program_id.clone(),
        };
        let msg = message::create_message(start, len, step, precise, hist_arg, &pid, aux_data)?;
        let resp = self.send(&msg)?;
        message::parse_create_reply(resp.as_deref())
    }

    /// Build the aux_data for `@stats_set_aux` and send it (`_stats_set_aux`).
    pub(crate) fn set_aux(&mut self, region_id: u64, user_aux: &[u8]) -> Result<()> {
        let tag = if self.group_id_present(region_id) {
            let g = self
                .group(region_id)
                .ok_or_else(|| StatsError::silent(StatsErrorKind::NotFound))?;
            if g.regions.is_empty() {
                return Err(StatsError::new(
                    StatsErrorKind::InvalidArgument,
                    format!("Could not build group descriptor for region ID {region_id}"),
                ));
            }
            Some(group::build_group_tag(g.alias.as_deref(), &g.regions))
        } else {
            None
        };
        let aux = group::compose_aux(tag.as_deref(), user_aux);
        let msg = message::set_aux_message(region_id, &aux)?;
        self.send(&msg)?;
        Ok(())
    }

    fn clear_group_regions(&mut self, group_id: u64) {
        let members: Vec<u64> = self
            .group(group_id)
            .map(|g| g.regions.iter().copied().collect())
            .unwrap_or_default();
        for i in members {
            if let Some(r) = self.region_mut(i) {
                r.group_id = DM_STATS_GROUP_NONE;
            }
        }
    }

    fn remove_region_id_from_group(&mut self, region_id: u64) -> Result<()> {
        if !self.region_is_grouped(region_id) {
            return Err(StatsError::silent(StatsErrorKind::NotFound));
        }
        let group_id = self
            .region(region_id)
            .map(|r| r.group_id)
            .unwrap_or(DM_STATS_GROUP_NONE);
        if let Some(Some(g)) = self.group_slot(group_id) {
            g.regions.remove(&region_id);
        }
        if region_id == group_id {
            self.clear_group_regions(group_id);
            if let Some(slot) = self.group_slot(group_id) {
                *slot = None;
            }
        }
        let aux = self
            .region(group_id)
            .map(|r| r.aux_data.clone())
            .unwrap_or_default();
        self.set_aux(group_id, &aux)
    }

    pub(crate) fn delete_region_raw(&mut self, region_id: u64) -> Result<()> {
        if self.region_is_grouped(region_id) {
            if let Err(e) = self.remove_region_id_from_group(region_id) {
                let gid = self.region(region_id).map(|r| r.group_id).unwrap_or(0);
                return Err(e.note(format!(
                    "Could not remove region ID {region_id} from group ID {gid}"
                )));
            }
        }
        self.send(&message::delete_message(region_id))?;
        Ok(())
    }

    /// `dm_stats_delete_region`: delete a region (removing it from its
    /// group). An unlisted handle is listed for the call and unlisted again.
    pub fn delete_region(&mut self, region_id: u64) -> Result<()> {
        self.bound()?;
        let mut listed = false;
        if self.regions.is_none() {
            let pid = self.program_id.clone();
            if let Err(e) = self.list(Some(&pid)) {
                return Err(e.note(format!(
                    "Could not obtain region list while deleting region ID {region_id}"
                )));
            }
            listed = true;
        }
        let r = (|| {
            if self.nr_regions() == 0 {
                return Err(StatsError::new(
                    StatsErrorKind::NotFound,
                    format!("Could not delete region ID {region_id}: no regions found"),
                ));
            }
            if !self.region_present(region_id) {
                return Err(StatsError::new(
                    StatsErrorKind::NotFound,
                    format!("Region ID {region_id} does not exist"),
                ));
            }
            self.delete_region_raw(region_id)
        })();
        match r {
            Ok(()) if !listed => {
                if let Some(slot) = self
                    .regions
                    .as_mut()
                    .and_then(|t| t.get_mut(usize::try_from(region_id).ok()?))
                {
                    *slot = None;
                }
                Ok(())
            }
            r => {
                if listed {
                    self.regions_destroy();
                }
                r
            }
        }
    }

    /// `dm_stats_clear_region`: `@stats_clear`.
    pub fn clear_region(&mut self, region_id: u64) -> Result<()> {
        self.bound()?;
        self.send(&message::clear_message(region_id))?;
        Ok(())
    }

    /// `dm_stats_print_region`: the kernel's `@stats_print[_clear]` text.
    pub fn print_region(
        &mut self,
        region_id: u64,
        start_line: u32,
        num_lines: u32,
        clear: bool,
    ) -> Result<Vec<u8>> {
        self.bound()?;
        if region_id == DM_STATS_WALK_GROUP {
            return Err(StatsError::silent(StatsErrorKind::InvalidArgument));
        }
        let resp = self.send(&message::print_message(
            region_id, start_line, num_lines, clear,
        ))?;
        let mut r = resp.ok_or_else(|| StatsError::silent(StatsErrorKind::Protocol))?;
        if let Some(n) = r.iter().position(|&c| c == 0) {
            r.truncate(n);
        }
        Ok(r)
    }

    /// `dm_stats_get_nr_regions`.
    pub fn nr_regions(&self) -> u64 {
        if self.regions.is_none() {
            return 0;
        }
        self.nr_regions
    }

    /// `dm_stats_get_nr_groups`.
    pub fn nr_groups(&self) -> u64 {
        let (Some(_), Some(groups)) = (&self.regions, &self.groups) else {
            return 0;
        };
        groups
            .iter()
            .take(usize::try_from(self.max_region.saturating_add(1)).unwrap_or(usize::MAX))
            .filter(|g| g.is_some())
            .count() as u64
    }

    /// `dm_stats_region_present`.
    pub fn region_present(&self, region_id: u64) -> bool {
        if self.regions.is_none() || region_id > self.max_region {
            return false;
        }
        self.region(region_id).is_some()
    }

    /// `dm_stats_group_present`.
    pub fn group_present(&self, group_id: u64) -> bool {
        self.group_id_present(group_id)
    }

    /// `dm_stats_get_region_nr_areas` (1 for groups and aggregates; 1 for an
    /// id with no region, as stock computes for a deleted slot).
    pub fn region_nr_areas(&self, region_id: u64) -> u64 {
        if region_id & DM_STATS_WALK_GROUP != 0 {
            return 1;
        }
        self.region_nr_areas_of(region_id)
    }

    /// `dm_stats_get_current_nr_areas`.
    pub fn current_nr_areas(&self) -> u64 {
        if self.cur_region & DM_STATS_WALK_GROUP != 0 {
            return 1;
        }
        self.region_nr_areas(self.cur_region)
    }

    /// `dm_stats_get_nr_areas`. Stock adds the *cursor's* region area count
    /// once per area visited: the result is the number of areas times the
    /// area count of the handle's current region (1 whenever the cursor is
    /// on a group, an aggregate or a single-area region). Kept as is.
    pub fn nr_areas(&self) -> u64 {
        if self.regions.is_none() {
            return 0;
        }
        let mut c = Cursor {
            flags: DM_STATS_WALK_AREA,
            r: 0,
            a: 0,
            g: 0,
        };
        let mut n: u64 = 0;
        self.walk_start_c(&mut c);
        loop {
            n = n.wrapping_add(self.current_nr_areas());
            self.walk_next_c(&mut c);
            if self.walk_end_c(&mut c) {
                break;
            }
        }
        n
    }

    /// `dm_stats_get_region_nr_histogram_bins`.
    pub fn region_nr_histogram_bins(&self, region_id: u64) -> usize {
        let id = if region_id == DM_STATS_REGION_CURRENT {
            self.cur_region
        } else {
            region_id
        };
        if id & DM_STATS_WALK_GROUP != 0 {
            return 0;
        }
        self.region(id)
            .and_then(|r| r.bounds.as_ref())
            .map(|b| b.nr_bins())
            .unwrap_or(0)
    }

    // ----- sampling interval ------------------------------------------------

    /// `dm_stats_set_sampling_interval_ms`.
    pub fn set_sampling_interval_ms(&mut self, ms: u64) {
        self.interval_ns = ms.wrapping_mul(NSEC_PER_MSEC);
    }

    /// `dm_stats_set_sampling_interval_ns`.
    pub fn set_sampling_interval_ns(&mut self, ns: u64) {
        self.interval_ns = ns;
    }

    /// `dm_stats_get_sampling_interval_ms`.
    pub fn sampling_interval_ms(&self) -> u64 {
        self.interval_ns / NSEC_PER_MSEC
    }

    /// `dm_stats_get_sampling_interval_ns`.
    pub fn sampling_interval_ns(&self) -> u64 {
        self.interval_ns
    }

    // ----- region properties ------------------------------------------------

    fn need_table(&self) -> Result<()> {
        if self.regions.is_none() {
            return Err(StatsError::silent(StatsErrorKind::NotListed));
        }
        Ok(())
    }

    fn missing(id: u64) -> StatsError {
        let _ = id;
        StatsError::silent(StatsErrorKind::NotFound)
    }

    fn decode_group(&self, id: u64) -> u64 {
        if id == DM_STATS_WALK_GROUP {
            self.cur_group
        } else {
            id & !DM_STATS_WALK_GROUP
        }
    }

    /// `dm_stats_get_region_start` (a group's is its leader's).
    pub fn region_start(&self, region_id: u64) -> Result<u64> {
        self.need_table()?;
        let mut id = region_id & !DM_STATS_WALK_REGION;
        if id & DM_STATS_WALK_GROUP != 0 {
            id = self.decode_group(id);
        }
        self.region(id)
            .map(|r| r.start)
            .ok_or_else(|| Self::missing(id))
    }

    /// `dm_stats_get_region_len` (a group's is the sum of its members';
    /// stock sums the group at the cursor, whatever id is passed).
    pub fn region_len(&self, region_id: u64) -> Result<u64> {
        self.need_table()?;
        let mut id = region_id & !DM_STATS_WALK_REGION;
        if id & DM_STATS_WALK_GROUP != 0 {
            id = self.decode_group(id);
            if !self.region_is_grouped(id) {
                return Err(StatsError::new(
                    StatsErrorKind::NotFound,
                    format!("Group ID {id} does not exist"),
                ));
            }
            let g = self
                .group(self.cur_group)
                .ok_or_else(|| Self::missing(self.cur_group))?;
            return Ok(g
                .regions
                .iter()
                .filter_map(|&i| self.region(i))
                .fold(0u64, |a, r| a.wrapping_add(r.len)));
        }
        self.region(id)
            .map(|r| r.len)
            .ok_or_else(|| Self::missing(id))
    }

    /// `dm_stats_get_region_area_len` (groups and aggregates: their length).
    pub fn region_area_len(&self, region_id: u64) -> Result<u64> {
        self.need_table()?;
        if region_id & (DM_STATS_WALK_GROUP | DM_STATS_WALK_REGION) != 0 {
            return self.region_len(region_id);
        }
        self.region(region_id)
            .map(|r| r.step)
            .ok_or_else(|| Self::missing(region_id))
    }

    /// `dm_stats_get_area_start`.
    pub fn area_start(&self, region_id: u64, area_id: u64) -> Result<u64> {
        self.need_table()?;
        if region_id & (DM_STATS_WALK_GROUP | DM_STATS_WALK_REGION) != 0 {
            return self.region_start(region_id);
        }
        let r = self
            .region(region_id)
            .ok_or_else(|| Self::missing(region_id))?;
        Ok(r.start.wrapping_add(r.step.wrapping_mul(area_id)))
    }

    /// `dm_stats_get_area_offset`.
    pub fn area_offset(&self, region_id: u64, area_id: u64) -> Result<u64> {
        self.need_table()?;
        if region_id & (DM_STATS_WALK_GROUP | DM_STATS_WALK_REGION) != 0 {
            return Ok(0);
        }
        let r = self
            .region(region_id)
            .ok_or_else(|| Self::missing(region_id))?;
        Ok(r.step.wrapping_mul(area_id))
    }

    /// `dm_stats_get_current_region_start`.
    pub fn current_region_start(&self) -> Result<u64> {
        self.region_start(self.cur_region)
    }

    /// `dm_stats_get_current_region_len`.
    pub fn current_region_len(&self) -> Result<u64> {
        self.region_len(self.cur_region)
    }

    /// `dm_stats_get_current_region_area_len`.
    pub fn current_region_area_len(&self) -> Result<u64> {
        self.region_area_len(self.cur_region)
    }

    /// `dm_stats_get_current_area_start`.
    pub fn current_area_start(&self) -> Result<u64> {
        self.area_start(self.cur_region, self.cur_area)
    }

    /// `dm_stats_get_current_area_offset`.
    pub fn current_area_offset(&self) -> Result<u64> {
        self.area_offset(self.cur_region, self.cur_area)
    }

    /// `dm_stats_get_current_area_len`.
    pub fn current_area_len(&self) -> Result<u64> {
        self.region_area_len(self.cur_region)
    }

    /// `dm_stats_get_region_program_id` (a group's is the handle's; "" for
    /// an id with no region).
    pub fn region_program_id(&self, region_id: u64) -> &[u8] {
        if region_id & DM_STATS_WALK_GROUP != 0 {
            return &self.program_id;
        }
        let id = region_id & !DM_STATS_WALK_REGION;
        self.region(id)
            .map(|r| r.program_id.as_slice())
            .unwrap_or(b"")
    }

    /// `dm_stats_get_region_aux_data`: the user aux_data (group tag removed;
    /// "" for groups).
    pub fn region_aux_data(&self, region_id: u64) -> &[u8] {
        if region_id & DM_STATS_WALK_GROUP != 0 {
            return b"";
        }
        let id = region_id & !DM_STATS_WALK_REGION;
        self.region(id)
            .map(|r| r.aux_data.as_slice())
            .unwrap_or(b"")
    }

    /// `dm_stats_get_current_region_program_id`.
    pub fn current_region_program_id(&self) -> &[u8] {
        self.region_program_id(self.cur_region)
    }

    /// `dm_stats_get_current_region_aux_data`.
    pub fn current_region_aux_data(&self) -> &[u8] {
        self.region_aux_data(self.cur_region)
    }

    /// `dm_stats_get_region_precise_timestamps`.
    pub fn region_precise_timestamps(&self, region_id: u64) -> bool {
        let mut id = if region_id == DM_STATS_REGION_CURRENT {
            self.cur_region
        } else {
            region_id
        };
        if id & DM_STATS_WALK_GROUP != 0 {
            id = self.decode_group(id);
        }
        self.region(id).is_some_and(|r| r.timescale == 1)
    }

    /// `dm_stats_get_current_region_precise_timestamps`.
    pub fn current_region_precise_timestamps(&self) -> bool {
        self.region_precise_timestamps(DM_STATS_REGION_CURRENT)
    }

    // ----- groups -----------------------------------------------------------

    /// `dm_stats_set_alias`: set the alias of the group led by `group_id`
    /// and store it in the leader's aux_data.
    pub fn set_alias(&mut self, group_id: u64, alias: &[u8]) -> Result<()> {
        if self.regions.is_none() || self.groups.is_none() {
            return Err(StatsError::silent(StatsErrorKind::NotListed));
        }
        if !self.region_is_grouped(group_id) {
            return Err(StatsError::new(
                StatsErrorKind::NotFound,
                format!("Cannot set alias for ungrouped region ID {group_id}"),
            ));
        }
        let gid = group_id;
        if self.region(gid).map(|r| r.group_id) != Some(gid) {
            return Err(StatsError::invalid(format!(
                "Cannot set alias for group member {gid}."
            )));
        }
        let old = match self.group_slot(gid) {
            Some(Some(g)) => g.alias.replace(alias.to_vec()),
            _ => return Err(Self::missing(gid)),
        };
        let aux = self
            .region(gid)
            .map(|r| r.aux_data.clone())
            .unwrap_or_default();
        if let Err(e) = self.set_aux(gid, &aux) {
            if let Some(Some(g)) = self.group_slot(gid) {
                g.alias = old;
            }
            return Err(e.note("Could not set new aux_data"));
        }
        Ok(())
    }

    /// `dm_stats_get_alias`: the alias of the group `id` belongs to, else
    /// the device name (`None` when the handle never cached a name).
    pub fn alias(&self, id: u64) -> Option<&[u8]> {
        let mut id = if id == DM_STATS_REGION_CURRENT {
            self.cur_region
        } else {
            id
        };
        if id & DM_STATS_WALK_GROUP != 0 {
            id = self.decode_group(id);
        }
        if self.region_is_grouped(id) {
            let gid = self.region(id).map(|r| r.group_id)?;
            if let Some(a) = self.group(gid).and_then(|g| g.alias.as_deref()) {
                return Some(a);
            }
        }
        self.name.as_deref()
    }

    /// `dm_stats_get_group_id` ([`DM_STATS_GROUP_NONE`] when ungrouped).
    pub fn group_id(&self, region_id: u64) -> u64 {
        let id = if region_id == DM_STATS_REGION_CURRENT {
            self.cur_region
        } else {
            region_id
        };
        if id & DM_STATS_WALK_GROUP != 0 {
            return self.decode_group(id);
        }
        let id = id & !DM_STATS_WALK_REGION;
        self.region(id)
            .map(|r| r.group_id)
            .unwrap_or(DM_STATS_GROUP_NONE)
    }

    /// `dm_stats_get_group_descriptor`: the member list ("0-2,5").
    pub fn group_descriptor(&self, group_id: u64) -> Result<String> {
        let g = self
            .group(group_id)
            .ok_or_else(|| Self::missing(group_id))?;
        Ok(group::format_member_list(&g.regions))
    }

    /// `dm_stats_create_group`: group the regions listed in `members`
    /// ("1,3-5"); the lowest id leads the group and is its id.
    pub fn create_group(&mut self, members: &[u8], alias: Option<&[u8]>) -> Result<u64> {
        if self.regions.is_none() || self.groups.is_none() {
            return Err(StatsError::new(
                StatsErrorKind::NotListed,
                "Could not create group: no regions found.",
            ));
        }
        let (set, nbits) = group::parse_member_list(members).map_err(|_| {
            StatsError::invalid(format!(
                "Could not parse list: '{}'",
                String::from_utf8_lossy(members)
            ))
        })?;
        let top = (nbits as u32).wrapping_sub(1);
        if u64::from(top) > self.max_region {
            return Err(StatsError::invalid(format!(
                "Invalid region ID: {}",
                top as i32
            )));
        }
        let mut check: Option<Vec<u64>> = None;
        let mut precise = 0usize;
        let mut count = 0usize;
        for &i in &set {
            if !self.region_present(i) {
                return Err(StatsError::new(
                    StatsErrorKind::NotFound,
                    format!("Region ID {i} does not exist"),
                ));
            }
            let r = self.region(i).ok_or_else(|| Self::missing(i))?;
            if self.region_is_grouped(i) {
                return Err(StatsError::invalid(format!(
                    "Region ID {i} already a member of group ID {}",
                    r.group_id
                )));
            }
            if r.timescale == 1 {
                precise += 1;
            }
            if let Some(b) = &r.bounds {
                let ups: Vec<u64> = b.bins.iter().map(|b| b.upper).collect();
                match &check {
                    None => check = Some(ups),
                    Some(c) if *c != ups => {
                        return Err(StatsError::invalid(
                            "All region histogram bounds must match exactly",
                        ))
                    }
                    Some(_) => {}
                }
            }
            count += 1;
        }
        if precise > 0 && precise != count {
            crate::log_warn!(
                self.transport.context(),
                "WARNING: Grouping regions with different clock resolution: precision may be lost."
            );
        }
        if !self.check_overlap(&set) {
            crate::log_info!(
                self.transport.context(),
                "Creating group with overlapping regions."
            );
        }
        self.create_group_raw(set, alias)
    }

    /// `_stats_create_group`: install the group and write its tag.
    pub(crate) fn create_group_raw(
        &mut self,
        set: BTreeSet<u64>,
        alias: Option<&[u8]>,
    ) -> Result<u64> {
        let gid = *set
            .first()
            .ok_or_else(|| StatsError::silent(StatsErrorKind::InvalidArgument))?;
        match self.group_slot(gid) {
            Some(slot @ None) => {
                *slot = Some(Group {
                    group_id: gid,
                    alias: alias.map(<[u8]>::to_vec),
                    regions: set,
                });
            }
            Some(Some(_)) => {
                return Err(StatsError::new(
                    StatsErrorKind::InvalidArgument,
                    format!(
                        "Internal error: Unexpected group state whilecreating group ID bitmap{gid}"
                    ),
                ))
            }
            None => return Err(Self::missing(gid)),
        }
        let aux = self
            .region(gid)
            .map(|r| r.aux_data.clone())
            .unwrap_or_default();
        if let Err(e) = self.set_aux(gid, &aux) {
            if let Some(slot) = self.group_slot(gid) {
                *slot = None;
            }
            return Err(e);
        }
        Ok(gid)
    }

    /// `_stats_group_check_overlap`: warn about overlapping members; true
    /// when none overlap.
    pub(crate) fn check_overlap(&self, set: &BTreeSet<u64>) -> bool {
        // (id, start, len)
        let mut ext: Vec<(u64, u64, u64)> = set
            .iter()
            .filter_map(|&i| self.region(i).map(|r| (i, r.start, r.len)))
            .collect();
        if ext.len() <= 1 {
            return true;
        }
        ext.sort_by_key(|e| e.1);
        let end = |e: &(u64, u64, u64)| e.1.wrapping_add(e.2).wrapping_sub(1);
        let mut overlap = false;
        loop {
            let mut merged = false;
            let mut i = 0;
            while i + 1 < ext.len() {
                let (a, b) = (ext[i], ext[i + 1]);
                if end(&a) > b.1 {
                    crate::log_warn!(
                        self.transport.context(),
                        "WARNING: region IDs {} and {} overlap. Some events will be counted twice.",
                        a.0,
                        b.0
                    );
                    let mut n = b;
                    if end(&a) > end(&b) {
                        n.0 = a.0;
                        n.2 = a.2;
                    }
                    if a.1 < n.1 {
                        n.1 = a.1;
                    }
                    ext[i + 1] = n;
                    ext.remove(i);
                    overlap = true;
                    merged = true;
                } else {
                    i += 1;
                }
            }
            if !merged {
                break;
            }
        }
        !overlap
    }

    /// `dm_stats_delete_group`: ungroup (and with `remove_regions`, delete)
    /// the regions of group `group_id`.
    pub fn delete_group(&mut self, group_id: u64, remove_regions: bool) -> Result<()> {
        if group_id > self.max_region {
            return Err(StatsError::invalid(format!("Invalid group ID: {group_id}")));
        }
        if !self.group_id_present(group_id) {
            return Err(StatsError::new(
                StatsErrorKind::NotFound,
                format!("Group ID {group_id} does not exist"),
            ));
        }
        let leader_id = self
            .region(group_id)
            .map(|r| r.region_id)
            .unwrap_or(group_id);
        let members: Vec<u64> = self
            .group(group_id)
            .map(|g| {
                g.regions
                    .iter()
                    .rev()
                    .copied()
                    .filter(|&i| i > leader_id)
                    .collect()
            })
            .unwrap_or_default();
        for i in members {
            if let Some(Some(g)) = self.group_slot(group_id) {
                g.regions.remove(&i);
            }
            if remove_regions {
                if let Err(e) = self.delete_region(i) {
                    for l in e.log_lines() {
                        crate::log_error!(self.transport.context(), "{}", l);
                    }
                    crate::log_warn!(
                        self.transport.context(),
                        "WARNING: Failed to delete region {} on {}.",
                        i,
                        String::from_utf8_lossy(self.name.as_deref().unwrap_or(b"(null)"))
                    );
                }
            }
        }
        self.clear_group_regions(group_id);
        if let Some(slot) = self.group_slot(group_id) {
            *slot = None;
        }
        if remove_regions {
            return self.delete_region(group_id);
        }
        let aux = self
            .region(group_id)
            .map(|r| r.aux_data.clone())
            .unwrap_or_default();
        self.set_aux(group_id, &aux)
    }

    // ----- counters, metrics, histograms -------------------------------------

    fn area_counters(&self, region_id: u64, area_id: u64) -> Option<&Area> {
        let r = self.region(region_id)?;
        r.counters.as_ref()?.get(usize::try_from(area_id).ok()?)
    }

    fn region_areas(&self, region_id: u64) -> impl Iterator<Item = &Area> {
        let n = self.region_nr_areas_of(region_id);
        (0..n).filter_map(move |j| self.area_counters(region_id, j))
    }

    /// The counters of an area, a whole region ([`DM_STATS_WALK_REGION`] as
    /// area), or a group (region id with [`DM_STATS_WALK_GROUP`] set), with
    /// the cursor's ids for [`DM_STATS_REGION_CURRENT`]/`AREA_CURRENT`,
    /// aggregated as stock's `dm_stats_get_counter` does. Stock reads the
    /// table without checks; here an area that is not populated is an error.
    pub fn counters(&self, region_id: u64, area_id: u64) -> Result<Counters> {
        let region_id = if region_id == DM_STATS_REGION_CURRENT {
            self.cur_region
        } else {
            region_id
        };
        let area_id = if area_id == DM_STATS_AREA_CURRENT {
            self.cur_area
        } else {
            area_id
        };
        let sum_regions = region_id & DM_STATS_WALK_GROUP != 0;
        let region_id = if region_id == DM_STATS_WALK_GROUP {
            self.cur_group
        } else {
            region_id & !DM_STATS_WALK_GROUP
        };
        let not_populated = || StatsError::silent(StatsErrorKind::NotListed);
        let add = |acc: &mut Counters, c: &Counters| {
            for k in Counter::ALL {
                let v = k.get(acc).wrapping_add(k.get(c));
                set_counter(acc, k, v);
            }
        };
        let mut sum = Counters::default();
        if self.region_is_grouped(region_id) && sum_regions {
            let gid = self.region(region_id).map(|r| r.group_id).unwrap_or(0);
            let g = self.group(gid).ok_or_else(not_populated)?;
            for &i in &g.regions {
                if self.region(i).is_none() {
                    continue;
                }
                if area_id & DM_STATS_WALK_GROUP != 0 {
                    for a in self.region_areas(i) {
                        add(&mut sum, &a.counters);
                    }
                } else {
                    let a = self.area_counters(i, area_id).ok_or_else(not_populated)?;
                    add(&mut sum, &a.counters);
                }
            }
        } else if area_id == DM_STATS_WALK_REGION {
            self.region(region_id)
                .ok_or_else(|| Self::missing(region_id))?;
            let mut any = false;
            for a in self.region_areas(region_id) {
                any = true;
                add(&mut sum, &a.counters);
            }
            if !any {
                return Err(not_populated());
            }
        } else {
            self.region(region_id)
                .ok_or_else(|| Self::missing(region_id))?;
            sum = self
                .area_counters(region_id, area_id)
                .ok_or_else(not_populated)?
                .counters;
        }
        Ok(sum)
    }

    /// `dm_stats_get_counter` (and the 13 named counter getters).
    pub fn counter(&self, counter: Counter, region_id: u64, area_id: u64) -> Result<u64> {
        Ok(counter.get(&self.counters(region_id, area_id)?))
    }

    /// `dm_stats_get_metric` (and the named metric getters): fails without
    /// a sampling interval, as stock does (it logs nothing then).
    pub fn metric(&self, metric: Metric, region_id: u64, area_id: u64) -> Result<f64> {
        if self.interval_ns == 0 {
            return Err(StatsError::silent(StatsErrorKind::NoInterval));
        }
        let c = self.counters(region_id, area_id)?;
        metrics::compute(metric, &c, self.interval_ns)
            .ok_or_else(|| StatsError::silent(StatsErrorKind::NoInterval))
    }

    /// `dm_stats_get_utilization`: utilization as a `dm_percent_t`.
    pub fn utilization_percent(&self, region_id: u64, area_id: u64) -> Result<i32> {
        let u = self.metric(Metric::Utilization, region_id, area_id)?;
        Ok(metrics::utilization_percent(u))
    }

    /// `dm_stats_get_histogram`: the histogram of an area, a region
    /// ([`DM_STATS_WALK_REGION`] as area) or a group (summed); the bounds
    /// when the handle is listed but not populated; `None` without one.
    pub fn histogram(&self, region_id: u64, area_id: u64) -> Option<Histogram> {
        let mut aggr = false;
        let mut region_id = region_id;
        if region_id == DM_STATS_REGION_CURRENT {
            region_id = self.cur_region;
            if region_id & DM_STATS_WALK_GROUP != 0 {
                region_id = self.cur_group;
                aggr = true;
            }
        } else if region_id & DM_STATS_WALK_GROUP != 0 {
            region_id &= !DM_STATS_WALK_GROUP;
            aggr = true;
        }
        let area_id = if area_id == DM_STATS_AREA_CURRENT {
            self.cur_area
        } else {
            area_id
        };
        if area_id == DM_STATS_WALK_REGION {
            aggr = true;
        }
        if aggr {
            return self.aggregate_histogram(region_id, area_id);
        }
        let region_id = region_id & !DM_STATS_WALK_REGION;
        let r = self.region(region_id)?;
        match &r.counters {
            None => r.bounds.clone(),
            Some(areas) => areas.get(usize::try_from(area_id).ok()?)?.histogram.clone(),
        }
    }

    fn aggregate_histogram(&self, region_id: u64, area_id: u64) -> Option<Histogram> {
        let (base, members): (u64, Vec<u64>) = if area_id == DM_STATS_WALK_REGION {
            (region_id, vec![region_id])
        } else {
            if !self.group_id_present(region_id) {
                return None;
            }
            (
                region_id,
                self.group(region_id)?.regions.iter().copied().collect(),
            )
        };
        let r = self.region(base)?;
        let bounds = r.bounds.as_ref()?;
        let Some(areas) = &r.counters else {
            return Some(bounds.clone());
        };
        let first = areas.first()?.histogram.as_ref()?;
        let mut bins: Vec<Bin> = first
            .bins
            .iter()
            .map(|b| Bin {
                upper: b.upper,
                count: 0,
            })
            .collect();
        for m in members {
            for a in self.region_areas(m) {
                let Some(h) = &a.histogram else { continue };
                for (acc, b) in bins.iter_mut().zip(h.bins.iter()) {
                    acc.count = acc.count.wrapping_add(b.count);
                }
            }
        }
        Some(Histogram::from_bins(bins))
    }

    // ----- the cursor ----------------------------------------------------------

    /// `dm_stats_walk_init`: set the walk flags (any of
    /// [`DM_STATS_WALK_AREA`], `_REGION`, `_GROUP`, `_SKIP_SINGLE_AREA`).
    pub fn walk_init(&mut self, flags: u64) -> Result<()> {
        if flags & !WALK_MASK != 0 {
            return Err(StatsError::invalid(format!(
                "Unknown value in walk flags: 0x{:x}",
                flags & !WALK_MASK
            )));
        }
        self.walk_flags = flags;
        crate::log_debug!(
            self.transport.context(),
            "dm_stats_walk_init: initialised flags to {flags:x}"
        );
        Ok(())
    }

    /// `dm_stats_walk_start`.
    pub fn walk_start(&mut self) {
        if self.regions.is_none() {
            return;
        }
        self.cur_flags = self.walk_flags;
        let mut c = self.cursor();
        self.walk_start_c(&mut c);
        self.set_cursor(c);
    }

    /// `dm_stats_walk_next`.
    pub fn walk_next(&mut self) {
        let mut c = self.cursor();
        self.walk_next_c(&mut c);
        self.set_cursor(c);
    }

    /// `dm_stats_walk_next_region`.
    pub fn walk_next_region(&mut self) {
        self.cur_flags &= !DM_STATS_WALK_AREA;
        self.walk_next();
    }

    /// `dm_stats_walk_end`: true at the end of the walk (which then re-arms
    /// the flags for the next walk).
    pub fn walk_end(&mut self) -> bool {
        let mut c = self.cursor();
        let end = self.walk_end_c(&mut c);
        self.set_cursor(c);
        if end {
            self.cur_flags = self.walk_flags;
        }
        end
    }

    /// `dm_stats_get_current_region` (may hold [`DM_STATS_WALK_GROUP`] or
    /// [`DM_STATS_REGION_NOT_PRESENT`]).
    pub fn current_region(&self) -> u64 {
        self.cur_region
    }

    /// `dm_stats_get_current_area` (walk bits masked off).
    pub fn current_area(&self) -> u64 {
        self.cur_area & !DM_STATS_WALK_ALL
    }

    /// `dm_stats_object_type`.
    pub fn object_type(&self, region_id: u64, area_id: u64) -> ObjectType {
        let region_id = if region_id == DM_STATS_REGION_CURRENT {
            self.cur_region
        } else {
            region_id
        };
        let area_id = if area_id == DM_STATS_AREA_CURRENT {
            self.cur_area
        } else {
            area_id
        };
        if region_id == DM_STATS_REGION_NOT_PRESENT {
            return ObjectType::None;
        }
        if region_id & DM_STATS_WALK_GROUP != 0 {
            let gid = self.decode_group(region_id);
            return if self.group_id_present(gid) {
                ObjectType::Group
            } else {
                ObjectType::None
            };
        }
        if region_id > self.max_region {
            return ObjectType::None;
        }
        if area_id & DM_STATS_WALK_REGION != 0 {
            return ObjectType::Region;
        }
        ObjectType::Area
    }

    /// `dm_stats_current_object_type`.
    pub fn current_object_type(&self) -> ObjectType {
        self.object_type(DM_STATS_REGION_CURRENT, DM_STATS_AREA_CURRENT)
    }

    fn cursor(&self) -> Cursor {
        Cursor {
            flags: self.cur_flags,
            r: self.cur_region,
            a: self.cur_area,
            g: self.cur_group,
        }
    }

    fn set_cursor(&mut self, c: Cursor) {
        self.cur_flags = c.flags;
        self.cur_region = c.r;
        self.cur_area = c.a;
        self.cur_group = c.g;
    }

    fn walk_next_present(&self, c: &mut Cursor) {
        if c.r != DM_STATS_REGION_NOT_PRESENT && c.flags & DM_STATS_WALK_AREA != 0 {
            c.a = c.a.wrapping_add(1);
            if c.a < self.region_nr_areas_of(c.r) {
                return;
            }
            c.a = 0;
        }
        loop {
            c.r = c.r.wrapping_add(1);
            if c.r > self.max_region {
                break;
            }
            let Some(r) = self.region(c.r) else { continue };
            if c.flags & DM_STATS_WALK_SKIP_SINGLE_AREA != 0
                && c.flags & DM_STATS_WALK_AREA == 0
                && nr_areas(r.len, r.step) < 2
            {
                continue;
            }
            break;
        }
    }

    fn walk_next_c(&self, c: &mut Cursor) {
        if self.regions.is_none() {
            return;
        }
        if c.flags & DM_STATS_WALK_AREA != 0 {
            self.walk_next_present(c);
            return;
        }
        if c.flags & DM_STATS_WALK_REGION != 0 {
            c.a = DM_STATS_WALK_REGION;
            self.walk_next_present(c);
            return;
        }
        if c.flags & DM_STATS_WALK_GROUP != 0 {
            c.r = DM_STATS_WALK_GROUP;
            c.a = DM_STATS_WALK_GROUP;
            loop {
                c.g = c.g.wrapping_add(1);
                if self.group_id_present(c.g) || c.g >= self.max_region.wrapping_add(1) {
                    break;
                }
            }
            return;
        }
        crate::log_error!(
            self.transport.context(),
            "stats_walk_next called with empty walk flags"
        );
    }

    fn group_walk_start(&self, c: &mut Cursor) {
        if c.flags & DM_STATS_WALK_GROUP == 0 {
            return;
        }
        c.a = DM_STATS_WALK_GROUP;
        c.r = DM_STATS_WALK_GROUP;
        c.g = 0;
        while c.g <= self.max_region {
            if self.region_is_grouped(c.g) {
                break;
            }
            c.g += 1;
        }
        if c.g > self.max_region {
            c.flags &= !DM_STATS_WALK_GROUP;
        }
    }

    fn walk_start_c(&self, c: &mut Cursor) {
        let on = |bit: u64, word: &'static str| if c.flags & bit != 0 { word } else { "" };
        crate::log_debug!(
            self.transport.context(),
            "starting stats walk with {} {} {} {}",
            on(DM_STATS_WALK_AREA, "AREA"),
            on(DM_STATS_WALK_REGION, "REGION"),
            on(DM_STATS_WALK_GROUP, "GROUP"),
            on(DM_STATS_WALK_SKIP_SINGLE_AREA, "SKIP")
        );
        if self.regions.is_none() {
            return;
        }
        if c.flags & (DM_STATS_WALK_AREA | DM_STATS_WALK_REGION) == 0 {
            self.group_walk_start(c);
            return;
        }
        c.a = 0;
        c.r = DM_STATS_REGION_NOT_PRESENT;
        c.g = DM_STATS_GROUP_NONE;
        if c.flags & DM_STATS_WALK_AREA == 0 {
            c.a = DM_STATS_WALK_REGION;
        }
        self.walk_next_present(c);
    }

    fn any_unskipped(&self, c: &Cursor) -> bool {
        if c.r > self.max_region {
            return false;
        }
        let mut i = c.r;
        while i <= self.max_region {
            if let Some(r) = self.region(i) {
                let skip = c.flags & DM_STATS_WALK_SKIP_SINGLE_AREA != 0
                    && c.flags & DM_STATS_WALK_AREA == 0
                    && nr_areas(r.len, r.step) < 2;
                if !skip {
                    return true;
                }
            }
            i += 1;
        }
        false
    }

    fn walk_end_areas(&self, c: &mut Cursor) {
        let end = !self.any_unskipped(c);
        if c.flags & DM_STATS_WALK_AREA == 0 || !end {
            return;
        }
        c.flags &= !DM_STATS_WALK_AREA;
        if c.flags & DM_STATS_WALK_REGION != 0 {
            c.a = DM_STATS_WALK_REGION;
            c.r = DM_STATS_REGION_NOT_PRESENT;
            self.walk_next_present(c);
            if !self.any_unskipped(c) {
                c.flags &= !DM_STATS_WALK_REGION;
                if c.flags & DM_STATS_WALK_GROUP == 0 {
                    c.r = self.max_region;
                }
            }
        }
        if c.flags & DM_STATS_WALK_REGION != 0 {
            return;
        }
        if c.flags & DM_STATS_WALK_GROUP != 0 {
            self.group_walk_start(c);
        }
    }

    fn walk_end_c(&self, c: &mut Cursor) -> bool {
        if self.regions.is_none() {
            // Stock documents "all calls to dm_stats_walk_end() return true"
            // for an empty handle (it would read a NULL table here).
            return true;
        }
        if c.flags & DM_STATS_WALK_AREA != 0 {
            self.walk_end_areas(c);
        } else if c.flags & DM_STATS_WALK_REGION != 0 {
            if !self.any_unskipped(c) {
                c.flags &= !DM_STATS_WALK_REGION;
                self.group_walk_start(c);
            }
        } else if c.flags & DM_STATS_WALK_GROUP != 0 && c.g > self.max_region {
            c.flags &= !DM_STATS_WALK_GROUP;
        }
        c.flags & !DM_STATS_WALK_SKIP_SINGLE_AREA == 0
    }

    /// The raw cursor (flags, region, area, group), for tests and the C shell.
    pub fn cursor_state(&self) -> (u64, u64, u64, u64) {
        (
            self.cur_flags,
            self.cur_region,
            self.cur_area,
            self.cur_group,
        )
    }

    /// The configured walk flags.
    pub fn walk_flags(&self) -> u64 {
        self.walk_flags
    }
}

fn set_counter(c: &mut Counters, k: Counter, v: u64) {
    match k {
        Counter::Reads => c.reads = v,
        Counter::ReadsMerged => c.reads_merged = v,
        Counter::ReadSectors => c.read_sectors = v,
        Counter::ReadNsecs => c.read_nsecs = v,
        Counter::Writes => c.writes = v,
        Counter::WritesMerged => c.writes_merged = v,
        Counter::WriteSectors => c.write_sectors = v,
        Counter::WriteNsecs => c.write_nsecs = v,
        Counter::IoInProgress => c.io_in_progress = v,
        Counter::IoNsecs => c.io_nsecs = v,
        Counter::WeightedIoNsecs => c.weighted_io_nsecs = v,
        Counter::TotalReadNsecs => c.total_read_nsecs = v,
        Counter::TotalWriteNsecs => c.total_write_nsecs = v,
    }
}

const WALK_MASK: u64 = DM_STATS_WALK_AREA
    | DM_STATS_WALK_REGION
    | DM_STATS_WALK_GROUP
    | DM_STATS_WALK_SKIP_SINGLE_AREA;

#[derive(Clone, Copy, Debug)]
struct Cursor {
    flags: u64,
    r: u64,
    a: u64,
    g: u64,
}
