//! The safe Rust API.
//!
//! ```no_run
//! use devmapper::dm::{DeviceMapper, DevId, Target};
//! let dm = DeviceMapper::new()?;
//! dm.create_with_table("demo", None, &[Target::new(0, 2048, "zero", "")], false)?;
//! println!("{:?}", dm.table(&DevId::name("demo"), false)?);
//! dm.remove(&DevId::name("demo"), Default::default())?;
//! # Ok::<(), devmapper::dm::Error>(())
//! ```
//!
//! One method per ioctl, typed results, one error type carrying the command,
//! the device and the errno. Nothing here logs or panics; nothing is global
//! except the shared control file descriptor.

use crate::kernel::abi::{self, Command, DmFlags, DmIoctl};
use crate::kernel::codec::{self, TargetRef};
use crate::kernel::control::{Control, IoctlError, Reply, Request, DEFAULT_BUFFER_CAP};
use std::fmt;

/// Which device a call is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DevId {
    Name(String),
    Uuid(String),
    /// Device number (major, minor).
    Dev(u32, u32),
}

impl DevId {
    pub fn name(n: impl Into<String>) -> DevId {
        DevId::Name(n.into())
    }

    pub fn uuid(u: impl Into<String>) -> DevId {
        DevId::Uuid(u.into())
    }
}

impl fmt::Display for DevId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DevId::Name(n) => write!(f, "{n}"),
            DevId::Uuid(u) => write!(f, "uuid {u}"),
            DevId::Dev(a, b) => write!(f, "{a}:{b}"),
        }
    }
}

/// What went wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The control device could not be opened (no driver, no permission).
    Control,
    /// The kernel failed the ioctl (see `errno`).
    Kernel,
    /// The device does not exist (ENXIO).
    NotFound,
    /// An argument was rejected before anything was sent.
    InvalidArgument,
    /// The kernel's reply would exceed the buffer cap.
    ReplyTooLarge,
    /// The kernel's reply is malformed.
    Protocol,
    /// The kernel has no deviceless-message support (it answered ENXIO).
    DevicelessUnsupported,
}

/// The one error type of the Rust API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub command: Option<Command>,
    pub device: Option<String>,
    /// The errno, when the failure has one.
    pub errno: Option<i32>,
    pub detail: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "device-mapper")?;
        if let Some(c) = self.command {
            write!(f, ": {}", c.name())?;
        }
        if let Some(d) = &self.device {
            write!(f, " on {d}")?;
        }
        write!(f, ": {}", self.detail)
    }
}

impl std::error::Error for Error {}

impl Error {
    fn invalid(cmd: Option<Command>, dev: Option<&DevId>, detail: impl Into<String>) -> Error {
        Error {
            kind: ErrorKind::InvalidArgument,
            command: cmd,
            device: dev.map(|d| d.to_string()),
            errno: Some(libc::EINVAL),
            detail: detail.into(),
        }
    }

    fn from_ioctl(cmd: Command, dev: Option<&DevId>, e: IoctlError) -> Error {
        let kind = match &e {
            IoctlError::Open { .. } => ErrorKind::Control,
            IoctlError::Kernel(libc::ENXIO) if dev.is_some() => ErrorKind::NotFound,
            IoctlError::Kernel(_) => ErrorKind::Kernel,
            IoctlError::TooLarge { .. } => ErrorKind::ReplyTooLarge,
            IoctlError::Decode(_) => ErrorKind::Protocol,
        };
        let errno = Some(e.errno());
        let detail = e.to_string();
        Error {
            kind,
            command: Some(cmd),
            device: dev.map(|d| d.to_string()),
            errno,
            detail,
        }
    }

    fn protocol(cmd: Command, dev: Option<&DevId>, e: codec::DecodeError) -> Error {
        Error {
            kind: ErrorKind::Protocol,
            command: Some(cmd),
            device: dev.map(|d| d.to_string()),
            errno: Some(libc::EPROTO),
            detail: e.to_string(),
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// A device's state, from any device ioctl.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeviceInfo {
    pub name: String,
    pub uuid: String,
    pub major: u32,
    pub minor: u32,
    pub open_count: i32,
    pub event_nr: u32,
    pub target_count: u32,
    pub suspended: bool,
    pub read_only: bool,
    pub live_table: bool,
    pub inactive_table: bool,
    pub deferred_remove: bool,
    pub internal_suspend: bool,
}

impl DeviceInfo {
    fn from_header(h: &DmIoctl) -> DeviceInfo {
        let f = DmFlags::from_bits_retain(h.flags);
        let (major, minor) = abi::decode_dev(h.dev);
        DeviceInfo {
            name: String::from_utf8_lossy(codec::fixed_str(&h.name)).into_owned(),
            uuid: String::from_utf8_lossy(codec::fixed_str(&h.uuid)).into_owned(),
            major,
            minor,
            open_count: h.open_count,
            event_nr: h.event_nr,
            target_count: h.target_count,
            suspended: f.contains(DmFlags::SUSPEND),
            read_only: f.contains(DmFlags::READONLY),
            live_table: f.contains(DmFlags::ACTIVE_PRESENT),
            inactive_table: f.contains(DmFlags::INACTIVE_PRESENT),
            deferred_remove: f.contains(DmFlags::DEFERRED_REMOVE),
            internal_suspend: f.contains(DmFlags::INTERNAL_SUSPEND),
        }
    }
}

/// One entry of [`DeviceMapper::list_devices`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedDevice {
    pub name: String,
    pub major: u32,
    pub minor: u32,
    /// Kernels with interface 4.37+.
    pub event_nr: Option<u32>,
    /// Kernels with interface 4.45+; `Some("")` when the device has none.
    pub uuid: Option<String>,
}

/// A table line: `start length type params`.
#[derive(Clone, PartialEq, Eq)]
pub struct Target {
    pub start: u64,
    pub length: u64,
    pub target_type: String,
    pub params: String,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Crypt tables carry keys: never print their parameters.
        let params = if self.target_type == "crypt" {
            "<hidden>"
        } else {
            &self.params
        };
        write!(
            f,
            "{} {} {} {}",
            self.start, self.length, self.target_type, params
        )
    }
}

impl Target {
    pub fn new(
        start: u64,
        length: u64,
        target_type: impl Into<String>,
        params: impl Into<String>,
    ) -> Target {
        Target {
            start,
            length,
            target_type: target_type.into(),
            params: params.into(),
        }
    }

    /// Parse a `dmsetup`-style table line.
    pub fn parse(line: &str) -> Result<Target> {
        let mut it = line.trim().splitn(4, char::is_whitespace);
        let bad = || Error::invalid(None, None, format!("invalid table line: {line:?}"));
        let start = it.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
        let length = it
            .next()
            .and_then(|s| s.trim().parse().ok())
            .ok_or_else(bad)?;
        let ty = it
            .next()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or_else(bad)?;
        let params = it.next().unwrap_or("").trim().to_string();
        Ok(Target::new(start, length, ty, params))
    }

    fn check(&self) -> Result<()> {
        codec::check_target_type(self.target_type.as_bytes())
            .map_err(|e| Error::invalid(Some(Command::TableLoad), None, e.to_string()))?;
        if self.length == 0 {
            return Err(Error::invalid(
                Some(Command::TableLoad),
                None,
                format!(
                    "zero-length {} target at sector {}",
                    self.target_type, self.start
                ),
            ));
        }
        if self.params.contains('\0') {
            return Err(Error::invalid(
                Some(Command::TableLoad),
                None,
                "target parameters contain a NUL byte",
            ));
        }
        Ok(())
    }
}

/// A target's status line from [`DeviceMapper::status`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetStatus {
    pub start: u64,
    pub length: u64,
    pub target_type: String,
    pub status: String,
}

/// A loaded target type and its version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetVersion {
    pub name: String,
    pub version: [u32; 3],
}

/// Options for [`DeviceMapper::suspend`].
#[derive(Clone, Copy, Debug, Default)]
pub struct SuspendOptions {
    pub noflush: bool,
    pub skip_lockfs: bool,
}

/// Options for [`DeviceMapper::remove`].
#[derive(Clone, Copy, Debug, Default)]
pub struct RemoveOptions {
    /// Remove when the last opener closes the device.
    pub deferred: bool,
    /// Retry on EBUSY (25 attempts, 200 ms apart) like `dm_task_retry_remove`.
    pub retry: bool,
}

/// A handle on the device-mapper driver. Cheap to create and `Send + Sync`;
/// all handles share the process's control file descriptor.
#[derive(Clone, Debug)]
pub struct DeviceMapper {
    cap: usize,
}

impl DeviceMapper {
    /// Open the control device and check the driver's interface version.
    pub fn new() -> Result<DeviceMapper> {
        let dm = DeviceMapper {
            cap: DEFAULT_BUFFER_CAP,
        };
        dm.version()?;
        Ok(dm)
    }

    /// Set the largest ioctl buffer a reply may grow to.
    pub fn with_buffer_cap(mut self, bytes: usize) -> DeviceMapper {
        self.cap = bytes.max(abi::DATA_START);
        self
    }

    fn header(&self, cmd: Command, id: Option<&DevId>) -> Result<DmIoctl> {
        let mut h = DmIoctl::default();
        match id {
            None => {}
            Some(DevId::Name(n)) => {
                codec::put_fixed(&mut h.name, n.as_bytes(), "name")
                    .map_err(|e| Error::invalid(Some(cmd), id, e.to_string()))?;
            }
            Some(DevId::Uuid(u)) => {
                codec::put_fixed(&mut h.uuid, u.as_bytes(), "uuid")
                    .map_err(|e| Error::invalid(Some(cmd), id, e.to_string()))?;
            }
            Some(DevId::Dev(a, b)) => h.dev = abi::encode_dev(*a, *b),
        }
        Ok(h)
    }

    fn call(&self, cmd: Command, id: Option<&DevId>, h: DmIoctl, payload: &[u8]) -> Result<Reply> {
        Control::global()
            .ioctl(&Request {
                cmd,
                header: h,
                payload,
                cap: self.cap,
            })
            .map_err(|e| Error::from_ioctl(cmd, id, e))
    }

    fn simple(&self, cmd: Command, id: &DevId, flags: DmFlags) -> Result<DeviceInfo> {
        let mut h = self.header(cmd, Some(id))?;
        h.flags = flags.bits();
        let r = self.call(cmd, Some(id), h, &[])?;
        Ok(DeviceInfo::from_header(&r.header))
    }

    /// The driver's interface version.
    pub fn version(&self) -> Result<[u32; 3]> {
        Control::global()
            .driver_version()
            .map_err(|e| Error::from_ioctl(Command::Version, None, e))
    }

    /// All devices, with event numbers and uuids where the kernel provides them.
    pub fn list_devices(&self) -> Result<Vec<ListedDevice>> {
        let cmd = Command::ListDevices;
        let mut h = self.header(cmd, None)?;
        h.flags = DmFlags::UUID.bits();
        let r = self.call(cmd, None, h, &[])?;
        let p = r.payload().map_err(|e| Error::protocol(cmd, None, e))?;
        let v = codec::decode_names(p).map_err(|e| Error::protocol(cmd, None, e))?;
        Ok(v.into_iter()
            .map(|e| {
                let (major, minor) = abi::decode_dev(e.dev);
                let uuid = match e.flags {
                    Some(f) if f & abi::DM_NAME_LIST_FLAG_HAS_UUID != 0 => {
                        e.uuid.map(|u| String::from_utf8_lossy(u).into_owned())
                    }
                    Some(f) if f & abi::DM_NAME_LIST_FLAG_DOESNT_HAVE_UUID != 0 => {
                        Some(String::new())
                    }
                    _ => None,
                };
                ListedDevice {
                    name: String::from_utf8_lossy(e.name).into_owned(),
                    major,
                    minor,
                    event_nr: e.event_nr,
                    uuid,
                }
            })
            .collect())
    }

    /// Create a device with no table (it starts suspended).
    pub fn create(
        &self,
        name: &str,
        uuid: Option<&str>,
        dev: Option<(u32, u32)>,
    ) -> Result<DeviceInfo> {
        let cmd = Command::DevCreate;
        let id = DevId::name(name);
        check_name(name).map_err(|d| Error::invalid(Some(cmd), Some(&id), d))?;
        let mut h = self.header(cmd, Some(&id))?;
        if let Some(u) = uuid {
            codec::put_fixed(&mut h.uuid, u.as_bytes(), "uuid")
                .map_err(|e| Error::invalid(Some(cmd), Some(&id), e.to_string()))?;
        }
        if let Some((a, b)) = dev {
            h.dev = abi::encode_dev(a, b);
            h.flags |= DmFlags::PERSISTENT_DEV.bits();
        }
        let r = self.call(cmd, Some(&id), h, &[])?;
        Ok(DeviceInfo::from_header(&r.header))
    }

    /// Create, load and resume in one go; the device is removed again if the
    /// load or the resume fails.
    pub fn create_with_table(
        &self,
        name: &str,
        uuid: Option<&str>,
        table: &[Target],
        read_only: bool,
    ) -> Result<DeviceInfo> {
        check_table(table)?;
        let info = self.create(name, uuid, None)?;
        let id = DevId::Dev(info.major, info.minor);
        let r = self
            .load_table(&id, table, read_only)
            .and_then(|_| self.resume(&id));
        match r {
            Ok(i) => Ok(i),
            Err(e) => {
                let _ = self.remove(&id, RemoveOptions::default());
                Err(e)
            }
        }
    }

    /// Remove a device.
    pub fn remove(&self, id: &DevId, opts: RemoveOptions) -> Result<DeviceInfo> {
        let flags = if opts.deferred {
            DmFlags::DEFERRED_REMOVE
        } else {
            DmFlags::empty()
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.simple(Command::DevRemove, id, flags) {
                Err(e)
                    if opts.retry
                        && e.errno == Some(libc::EBUSY)
                        && attempt < crate::task::REMOVE_RETRIES =>
                {
                    std::thread::sleep(crate::task::REMOVE_RETRY_DELAY);
                }
                other => return other,
            }
        }
    }

    /// Remove every device that is not open (`deferred`: mark open ones).
    pub fn remove_all(&self, deferred: bool) -> Result<()> {
        let mut h = DmIoctl::default();
        if deferred {
            h.flags = DmFlags::DEFERRED_REMOVE.bits();
        }
        self.call(Command::RemoveAll, None, h, &[]).map(|_| ())
    }

    /// Rename a device.
    pub fn rename(&self, id: &DevId, new_name: &str) -> Result<DeviceInfo> {
        let cmd = Command::DevRename;
        check_name(new_name).map_err(|d| Error::invalid(Some(cmd), Some(id), d))?;
        let h = self.header(cmd, Some(id))?;
        let mut p = Vec::new();
        codec::encode_string(&mut p, new_name.as_bytes(), "new name")
            .map_err(|e| Error::invalid(Some(cmd), Some(id), e.to_string()))?;
        let r = self.call(cmd, Some(id), h, &p)?;
        Ok(DeviceInfo::from_header(&r.header))
    }

    /// Give a device that has none a uuid.
    pub fn set_uuid(&self, id: &DevId, uuid: &str) -> Result<DeviceInfo> {
        let cmd = Command::DevRename;
        if uuid.is_empty() || uuid.len() >= abi::DM_UUID_LEN || uuid.contains('\0') {
            return Err(Error::invalid(
                Some(cmd),
                Some(id),
                "uuid must be 1 to 128 bytes without NUL",
            ));
        }
        let mut h = self.header(cmd, Some(id))?;
        h.flags = DmFlags::UUID.bits();
        let mut p = Vec::new();
        codec::encode_string(&mut p, uuid.as_bytes(), "uuid")
            .map_err(|e| Error::invalid(Some(cmd), Some(id), e.to_string()))?;
        let r = self.call(cmd, Some(id), h, &p)?;
        Ok(DeviceInfo::from_header(&r.header))
    }

    /// Suspend a device.
    pub fn suspend(&self, id: &DevId, opts: SuspendOptions) -> Result<DeviceInfo> {
        let mut f = DmFlags::SUSPEND;
        if opts.noflush {
            f |= DmFlags::NOFLUSH;
        }
        if opts.skip_lockfs {
            f |= DmFlags::SKIP_LOCKFS;
        }
        self.simple(Command::DevSuspend, id, f)
    }

    /// Resume a device, making its inactive table live.
    pub fn resume(&self, id: &DevId) -> Result<DeviceInfo> {
        self.simple(Command::DevSuspend, id, DmFlags::empty())
    }

    /// Device state.
    pub fn info(&self, id: &DevId) -> Result<DeviceInfo> {
        self.simple(Command::DevStatus, id, DmFlags::empty())
    }

    /// Load a table into the inactive slot.
    pub fn load_table(&self, id: &DevId, table: &[Target], read_only: bool) -> Result<DeviceInfo> {
        let cmd = Command::TableLoad;
        check_table(table)?;
        let mut h = self.header(cmd, Some(id))?;
        let mut flags = DmFlags::empty();
        if read_only {
            flags |= DmFlags::READONLY;
        }
        if table.iter().any(|t| t.target_type == "crypt") {
            flags |= DmFlags::SECURE_DATA;
        }
        h.flags = flags.bits();
        let refs = table.iter().map(|t| TargetRef {
            start: t.start,
            length: t.length,
            target_type: t.target_type.as_bytes(),
            params: t.params.as_bytes(),
        });
        // Exact capacity: a reallocation would free a copy of the table
        // (keys included) without wiping it.
        let mut p = Vec::with_capacity(refs.clone().map(|r| codec::target_encoded_len(&r)).sum());
        let n = codec::encode_targets(&mut p, refs);
        let r = match n {
            Ok(n) => {
                h.target_count = n;
                self.call(cmd, Some(id), h, &p)
            }
            Err(e) => Err(Error::invalid(Some(cmd), Some(id), e.to_string())),
        };
        crate::secret::wipe(&mut p);
        Ok(DeviceInfo::from_header(&r?.header))
    }

    /// Drop the inactive table.
    pub fn clear_table(&self, id: &DevId) -> Result<DeviceInfo> {
        self.simple(Command::TableClear, id, DmFlags::empty())
    }

    /// Devices the table depends on, as (major, minor).
    pub fn deps(&self, id: &DevId, inactive: bool) -> Result<Vec<(u32, u32)>> {
        let cmd = Command::TableDeps;
        let mut h = self.header(cmd, Some(id))?;
        if inactive {
            h.flags = DmFlags::QUERY_INACTIVE_TABLE.bits();
        }
        let r = self.call(cmd, Some(id), h, &[])?;
        let p = r.payload().map_err(|e| Error::protocol(cmd, Some(id), e))?;
        Ok(codec::decode_deps(p)
            .map_err(|e| Error::protocol(cmd, Some(id), e))?
            .into_iter()
            .map(abi::decode_dev)
            .collect())
    }

    fn table_status(
        &self,
        id: &DevId,
        flags: DmFlags,
        cmd: Command,
        event_nr: u32,
    ) -> Result<(DeviceInfo, Vec<SpecLine>)> {
        let mut h = self.header(cmd, Some(id))?;
        h.flags = flags.bits();
        h.event_nr = event_nr;
        let r = self.call(cmd, Some(id), h, &[])?;
        let p = r.payload().map_err(|e| Error::protocol(cmd, Some(id), e))?;
        let specs = codec::decode_specs(p, r.header.target_count)
            .map_err(|e| Error::protocol(cmd, Some(id), e))?;
        let v = specs
            .into_iter()
            .map(|s| {
                (
                    s.start,
                    s.length,
                    String::from_utf8_lossy(s.target_type).into_owned(),
                    String::from_utf8_lossy(s.params).into_owned(),
                )
            })
            .collect();
        Ok((DeviceInfo::from_header(&r.header), v))
    }

    /// The live (or inactive) table.
    pub fn table(&self, id: &DevId, inactive: bool) -> Result<Vec<Target>> {
        let mut f = DmFlags::STATUS_TABLE | DmFlags::SECURE_DATA;
        if inactive {
            f |= DmFlags::QUERY_INACTIVE_TABLE;
        }
        let (_, v) = self.table_status(id, f, Command::TableStatus, 0)?;
        Ok(v.into_iter()
            .map(|(start, length, target_type, params)| Target {
                start,
                length,
                target_type,
                params,
            })
            .collect())
    }

    /// Status lines of the live (or inactive) table.
    pub fn status(&self, id: &DevId, inactive: bool) -> Result<Vec<TargetStatus>> {
        let f = if inactive {
            DmFlags::QUERY_INACTIVE_TABLE
        } else {
            DmFlags::empty()
        };
        let (_, v) = self.table_status(id, f, Command::TableStatus, 0)?;
        Ok(v.into_iter()
            .map(|(start, length, target_type, status)| TargetStatus {
                start,
                length,
                target_type,
                status,
            })
            .collect())
    }

    /// Wait until the device's event number differs from `event_nr`, then
    /// return its state and status.
    pub fn wait_event(&self, id: &DevId, event_nr: u32) -> Result<(DeviceInfo, Vec<TargetStatus>)> {
        let (i, v) = self.table_status(id, DmFlags::empty(), Command::DevWait, event_nr)?;
        Ok((
            i,
            v.into_iter()
                .map(|(start, length, target_type, status)| TargetStatus {
                    start,
                    length,
                    target_type,
                    status,
                })
                .collect(),
        ))
    }

    /// Every loaded target type.
    pub fn target_versions(&self) -> Result<Vec<TargetVersion>> {
        let cmd = Command::ListVersions;
        let r = self.call(cmd, None, DmIoctl::default(), &[])?;
        parse_versions(cmd, &r)
    }

    /// One target type's version (loads its module if needed).
    pub fn target_version(&self, target_type: &str) -> Result<TargetVersion> {
        let cmd = Command::GetTargetVersion;
        let mut h = DmIoctl::default();
        codec::put_fixed(&mut h.name, target_type.as_bytes(), "target type")
            .map_err(|e| Error::invalid(Some(cmd), None, e.to_string()))?;
        let r = self.call(cmd, None, h, &[])?;
        parse_versions(cmd, &r)?
            .into_iter()
            .next()
            .ok_or_else(|| Error::protocol(cmd, None, codec::DecodeError("empty versions reply")))
    }

    fn message(
        &self,
        cmd_id: Option<&DevId>,
        h: DmIoctl,
        sector: u64,
        msg: &str,
    ) -> Result<(Option<String>, Reply)> {
        let cmd = Command::TargetMsg;
        if msg.is_empty() {
            return Err(Error::invalid(Some(cmd), cmd_id, "empty message"));
        }
        let mut p = Vec::with_capacity(8 + msg.len() + 1);
        codec::encode_message(&mut p, sector, msg.as_bytes())
            .map_err(|e| Error::invalid(Some(cmd), cmd_id, e.to_string()))?;
        let r = self.call(cmd, cmd_id, h, &p);
        crate::secret::wipe(&mut p);
        let r = r?;
        let resp = if r.flags().contains(DmFlags::DATA_OUT) {
            let p = r.payload().map_err(|e| Error::protocol(cmd, cmd_id, e))?;
            Some(
                String::from_utf8_lossy(
                    codec::decode_message(p).map_err(|e| Error::protocol(cmd, cmd_id, e))?,
                )
                .into_owned(),
            )
        } else {
            None
        };
        Ok((resp, r))
    }

    /// Send a message to the target at `sector` of a device.
    pub fn target_message(&self, id: &DevId, sector: u64, msg: &str) -> Result<Option<String>> {
        let mut h = self.header(Command::TargetMsg, Some(id))?;
        if crate::secret::is_key_message(msg.as_bytes()) {
            h.flags = DmFlags::SECURE_DATA.bits();
        }
        self.message(Some(id), h, sector, msg).map(|(r, _)| r)
    }

    /// Send a deviceless message (text starting with `%`) to a target type
    /// (the `target_message(target_type, text)` of the Python package).
    /// Kernels without the feature answer ENXIO, reported as
    /// [`ErrorKind::DevicelessUnsupported`].
    #[doc(alias = "target_message")]
    pub fn deviceless_message(&self, target_type: &str, msg: &str) -> Result<Option<String>> {
        let cmd = Command::TargetMsg;
        if !msg.starts_with('%') {
            return Err(Error::invalid(
                Some(cmd),
                None,
                "a deviceless message must start with '%'",
            ));
        }
        let mut h = DmIoctl::default();
        codec::check_target_type(target_type.as_bytes())
            .map_err(|e| Error::invalid(Some(cmd), None, e.to_string()))?;
        codec::put_fixed(&mut h.name, target_type.as_bytes(), "target type")
            .map_err(|e| Error::invalid(Some(cmd), None, e.to_string()))?;
        match self.message(None, h, 0, msg) {
            Ok((r, _)) => Ok(r),
            Err(e) if e.errno == Some(libc::ENXIO) => Err(Error {
                kind: ErrorKind::DevicelessUnsupported,
                command: Some(cmd),
                device: Some(format!("target type {target_type}")),
                errno: Some(libc::ENXIO),
                detail: format!(
                    "kernel does not support deviceless messages (target '{target_type}')"
                ),
            }),
            Err(mut e) => {
                e.device = Some(format!("target type {target_type}"));
                Err(e)
            }
        }
    }

    /// Set the device's geometry.
    pub fn set_geometry(
        &self,
        id: &DevId,
        cylinders: u32,
        heads: u32,
        sectors: u32,
        start: u64,
    ) -> Result<()> {
        let cmd = Command::DevSetGeometry;
        let h = self.header(cmd, Some(id))?;
        let mut p = Vec::new();
        let g = format!("{cylinders} {heads} {sectors} {start}");
        codec::encode_string(&mut p, g.as_bytes(), "geometry")
            .map_err(|e| Error::invalid(Some(cmd), Some(id), e.to_string()))?;
        self.call(cmd, Some(id), h, &p).map(|_| ())
    }

    /// Re-arm the control fd's event for `poll()` (`DM_DEV_ARM_POLL`).
    pub fn arm_poll(&self) -> Result<()> {
        self.call(Command::DevArmPoll, None, DmIoctl::default(), &[])
            .map(|_| ())
    }
}

/// start, length, type, params-or-status of one returned target.
type SpecLine = (u64, u64, String, String);

fn parse_versions(cmd: Command, r: &Reply) -> Result<Vec<TargetVersion>> {
    let p = r.payload().map_err(|e| Error::protocol(cmd, None, e))?;
    Ok(codec::decode_versions(p)
        .map_err(|e| Error::protocol(cmd, None, e))?
        .into_iter()
        .map(|v| TargetVersion {
            name: String::from_utf8_lossy(v.name).into_owned(),
            version: v.version,
        })
        .collect())
}

/// Check a device name the way the kernel will.
pub fn check_name(name: &str) -> std::result::Result<(), String> {
    if name.is_empty() {
        return Err("device name is empty".into());
    }
    if name.len() >= abi::DM_NAME_LEN {
        return Err(format!(
            "device name of {} bytes is too long (maximum {})",
            name.len(),
            abi::DM_NAME_LEN - 1
        ));
    }
    if name.contains('/') || name.contains('\0') || name == "." || name == ".." || name == "control"
    {
        return Err(format!("invalid device name {name:?}"));
    }
    Ok(())
}

/// Check a whole table: valid targets, contiguous from sector 0.
pub fn check_table(table: &[Target]) -> Result<()> {
    let mut next = 0u64;
    for t in table {
        t.check()?;
        if t.start != next {
            return Err(Error::invalid(
                Some(Command::TableLoad),
                None,
                format!(
                    "target {} {} starts at {} but the previous one ends at {}",
                    t.target_type, t.length, t.start, next
                ),
            ));
        }
        next = t.start.saturating_add(t.length);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_lines_parse() {
        let t = Target::parse("0 2048 linear /dev/loop0 0").unwrap();
        assert_eq!(t, Target::new(0, 2048, "linear", "/dev/loop0 0"));
        assert_eq!(Target::parse("0 8 zero").unwrap().params, "");
        assert!(Target::parse("0 x zero").is_err());
        assert!(Target::parse("").is_err());
    }

    #[test]
    fn tables_are_checked() {
        assert!(
            check_table(&[Target::new(0, 8, "zero", ""), Target::new(8, 8, "zero", "")]).is_ok()
        );
        assert!(
            check_table(&[Target::new(0, 8, "zero", ""), Target::new(4, 8, "zero", "")]).is_err()
        );
        assert!(check_table(&[Target::new(0, 0, "zero", "")]).is_err());
        let e = check_table(&[Target::new(0, 1, "nonexistent_target", "")]).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidArgument);
        assert!(e.to_string().contains("too long"));
    }

    #[test]
    fn names_are_checked() {
        assert!(check_name("ok-name_1").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name("a/b").is_err());
        assert!(check_name("control").is_err());
        assert!(check_name(&"x".repeat(128)).is_err());
    }

    #[test]
    fn crypt_params_are_not_printed() {
        let t = Target::new(0, 8, "crypt", "aes-xts-plain64 00112233 0 /dev/loop0 0");
        assert!(!format!("{t:?}").contains("00112233"));
    }

    #[test]
    fn deviceless_requires_percent() {
        let dm = DeviceMapper {
            cap: DEFAULT_BUFFER_CAP,
        };
        let e = dm.deviceless_message("linear", "Hello").unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidArgument);
    }
}
