//! How the statistics module reaches the kernel: a small trait, implemented
//! by the engine ([`Context`], [`DeviceMapper`]) and, in the tests, by a
//! fake kernel.

use crate::context::Context;
use crate::dm::DeviceMapper;
use crate::error::Error;
use crate::task::{Task, TaskType};

/// The device a stats handle is bound to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StatsDevice {
    /// A device-mapper name.
    Name(Vec<u8>),
    /// A device-mapper uuid.
    Uuid(Vec<u8>),
    /// A device number.
    Devno {
        /// Major number.
        major: u32,
        /// Minor number.
        minor: u32,
    },
}

impl std::fmt::Display for StatsDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StatsDevice::Name(n) => write!(f, "{}", String::from_utf8_lossy(n)),
            StatsDevice::Uuid(u) => write!(f, "uuid {}", String::from_utf8_lossy(u)),
            StatsDevice::Devno { major, minor } => write!(f, "({major}:{minor})"),
        }
    }
}

/// A transport failure: the crate's [`Error`], carrying libdm's ioctl
/// failure line (or marked [silent](Error::silently) when the transport
/// logged it already).
pub type TransportError = Error;

/// The kernel operations the statistics module needs.
///
/// Messages are `DM_TARGET_MSG` ioctls on the bound device; the reply is the
/// kernel's output text without its NUL (`None` when the kernel set no
/// `DM_DATA_OUT_FLAG`). Lines that do not fail a call go to the transport's
/// [`Context`].
pub trait StatsTransport {
    /// The context whose logger gets the module's warnings and debug lines.
    fn context(&self) -> &Context;

    /// Send `msg` to `dev` at `sector` (stats messages use sector 0).
    fn message(
        &self,
        dev: &StatsDevice,
        sector: u64,
        msg: &[u8],
    ) -> Result<Option<Vec<u8>>, TransportError>;

    /// The device-mapper name of `dev` (a `DM_DEV_STATUS`/info ioctl).
    fn device_name(&self, dev: &StatsDevice) -> Result<Vec<u8>, TransportError>;

    /// The driver's interface version.
    fn driver_version(&self) -> Result<[u32; 3], TransportError>;

    /// Whether `major` is a device-mapper major (`dm_is_dm_major`).
    fn is_dm_major(&self, major: u32) -> bool;
}

impl<T: StatsTransport + ?Sized> StatsTransport for &T {
    fn context(&self) -> &Context {
        (**self).context()
    }
    fn message(
        &self,
        dev: &StatsDevice,
        sector: u64,
        msg: &[u8],
    ) -> Result<Option<Vec<u8>>, TransportError> {
        (**self).message(dev, sector, msg)
    }
    fn device_name(&self, dev: &StatsDevice) -> Result<Vec<u8>, TransportError> {
        (**self).device_name(dev)
    }
    fn driver_version(&self) -> Result<[u32; 3], TransportError> {
        (**self).driver_version()
    }
    fn is_dm_major(&self, major: u32) -> bool {
        (**self).is_dm_major(major)
    }
}

/// A task of `ty` on `dev`. Like libdm's `dm_task_create`, this first makes
/// the context's driver version check: its failure is printed once (the
/// control node, "Incompatible libdevmapper ..."), later attempts fail
/// quietly, and the failure is of kind [`ErrorKind::Control`](crate::error::ErrorKind::Control).
fn task_on(ctx: &Context, ty: TaskType, dev: &StatsDevice) -> Result<Task, Error> {
    ctx.check_version()?;
    let mut t = Task::new(ty as i32);
    match dev {
        StatsDevice::Name(n) => t.set_name(ctx, n)?,
        StatsDevice::Uuid(u) => t.set_uuid(ctx, u)?,
        StatsDevice::Devno { major, minor } => {
            let m = |v: u32| i32::try_from(v).map_err(|_| Error::invalid("Invalid device number."));
            t.set_major_minor(m(*major)?, m(*minor)?, false);
        }
    }
    Ok(t)
}

/// The engine itself: messages are tasks run in the context (what the typed
/// API and the C library use). Failures carry libdm's ioctl lines.
impl StatsTransport for Context {
    fn context(&self) -> &Context {
        self
    }

    fn message(
        &self,
        dev: &StatsDevice,
        sector: u64,
        msg: &[u8],
    ) -> Result<Option<Vec<u8>>, TransportError> {
        let mut t = task_on(self, TaskType::TargetMsg, dev)?;
        t.set_message(msg);
        t.sector = Some(sector);
        t.run(self)?;
        Ok(t.message_response().map(<[u8]>::to_vec))
    }

    fn device_name(&self, dev: &StatsDevice) -> Result<Vec<u8>, TransportError> {
        let mut t = task_on(self, TaskType::Info, dev)?;
        t.run(self)?;
        match t.info() {
            Some(i) if i.exists != 0 => Ok(t.reply_name().unwrap_or_default().to_vec()),
            // libdm's dm_task_get_name() of a device that does not exist is
            // the name that was asked for ("" for a uuid or a number): stock
            // caches it and fails at the first message instead.
            _ => Ok(match dev {
                StatsDevice::Name(n) => t.reply_name().map_or_else(|| n.clone(), <[u8]>::to_vec),
                _ => Vec::new(),
            }),
        }
    }

    fn driver_version(&self) -> Result<[u32; 3], TransportError> {
        Context::driver_version(self)
    }

    fn is_dm_major(&self, major: u32) -> bool {
        crate::devices::is_dm_major(self, major)
    }
}

/// Through the handle's context.
impl StatsTransport for DeviceMapper {
    fn context(&self) -> &Context {
        DeviceMapper::context(self)
    }
    fn message(
        &self,
        dev: &StatsDevice,
        sector: u64,
        msg: &[u8],
    ) -> Result<Option<Vec<u8>>, TransportError> {
        DeviceMapper::context(self).message(dev, sector, msg)
    }
    fn device_name(&self, dev: &StatsDevice) -> Result<Vec<u8>, TransportError> {
        DeviceMapper::context(self).device_name(dev)
    }
    fn driver_version(&self) -> Result<[u32; 3], TransportError> {
        self.version()
    }
    fn is_dm_major(&self, major: u32) -> bool {
        crate::devices::is_dm_major(DeviceMapper::context(self), major)
    }
}
