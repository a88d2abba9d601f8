//! How the statistics module reaches the kernel: a small trait, with an
//! implementation over [`crate::dm::DeviceMapper`].

use super::error::{StatsError, StatsErrorKind};
use crate::dm::{DevId, DeviceMapper};

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

/// A transport failure: the errno (if any) and the line to log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransportError {
    /// The errno of the failed call, if it has one.
    pub errno: Option<i32>,
    /// What to log (for the dm ioctl: libdm's "device-mapper: message ioctl
    /// on ... failed: ..." line); empty when the transport logged it already.
    pub message: String,
}

impl From<TransportError> for StatsError {
    /// An empty `message` gives an error without a log line: for transports
    /// that have already logged the failure themselves (the C shell's task
    /// engine does, as stock's `dm_task_run`).
    fn from(e: TransportError) -> StatsError {
        let err = if e.message.is_empty() {
            StatsError::silent(StatsErrorKind::Transport)
        } else {
            StatsError::new(StatsErrorKind::Transport, e.message)
        };
        match e.errno {
            Some(n) => err.with_errno(n),
            None => err,
        }
    }
}

/// The kernel operations the statistics module needs.
///
/// Messages are `DM_TARGET_MSG` ioctls on the bound device; the reply is the
/// kernel's output text without its NUL (`None` when the kernel set no
/// `DM_DATA_OUT_FLAG`).
pub trait StatsTransport {
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

fn dev_id(dev: &StatsDevice) -> Result<DevId, TransportError> {
    let text = |b: &[u8], what: &str| {
        String::from_utf8(b.to_vec()).map_err(|_| TransportError {
            errno: Some(libc::EINVAL),
            message: format!("device {what} is not valid UTF-8"),
        })
    };
    Ok(match dev {
        StatsDevice::Name(n) => DevId::Name(text(n, "name")?),
        StatsDevice::Uuid(u) => DevId::Uuid(text(u, "uuid")?),
        StatsDevice::Devno { major, minor } => DevId::Dev(*major, *minor),
    })
}

fn from_dm(e: crate::dm::Error, what: &str, dev: &StatsDevice) -> TransportError {
    let reason = match e.errno {
        Some(n) => std::io::Error::from_raw_os_error(n).to_string(),
        None => e.detail.clone(),
    };
    // Strip Rust's " (os error N)" so the line reads like libdm's.
    let reason = match reason.find(" (os error") {
        Some(i) => reason[..i].to_string(),
        None => reason,
    };
    // libdm's "%s ioctl on %s %s%s%.0d%s%.0d%s%s failed: %s": name, a
    // space, uuid, then "(major:minor)" for a device-number binding.
    let (name, uuid, devno) = match dev {
        StatsDevice::Name(n) => (
            String::from_utf8_lossy(n).into_owned(),
            String::new(),
            String::new(),
        ),
        StatsDevice::Uuid(u) => (
            String::new(),
            String::from_utf8_lossy(u).into_owned(),
            String::new(),
        ),
        StatsDevice::Devno { major, minor } => {
            (String::new(), String::new(), format!("({major}:{minor})"))
        }
    };
    TransportError {
        errno: e.errno,
        message: format!("device-mapper: {what} ioctl on {name} {uuid}{devno} failed: {reason}"),
    }
}

impl StatsTransport for DeviceMapper {
    fn message(
        &self,
        dev: &StatsDevice,
        sector: u64,
        msg: &[u8],
    ) -> Result<Option<Vec<u8>>, TransportError> {
        let id = dev_id(dev)?;
        let text = std::str::from_utf8(msg).map_err(|_| TransportError {
            errno: Some(libc::EINVAL),
            message: "stats message is not valid UTF-8".to_string(),
        })?;
        self.target_message(&id, sector, text)
            .map(|r| r.map(String::into_bytes))
            .map_err(|e| from_dm(e, "message", dev))
    }

    fn device_name(&self, dev: &StatsDevice) -> Result<Vec<u8>, TransportError> {
        let id = dev_id(dev)?;
        self.info(&id)
            .map(|i| i.name.into_bytes())
            .map_err(|e| from_dm(e, "info", dev))
    }

    fn driver_version(&self) -> Result<[u32; 3], TransportError> {
        self.version().map_err(|e| TransportError {
            errno: e.errno,
            message: e.to_string(),
        })
    }

    fn is_dm_major(&self, major: u32) -> bool {
        crate::devices::is_dm_major(major)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ioctl_failure_lines_read_like_libdm() {
        let e = |errno| crate::dm::Error {
            kind: crate::dm::ErrorKind::Kernel,
            command: None,
            device: None,
            errno: Some(errno),
            detail: String::new(),
        };
        let l = from_dm(
            e(libc::EINVAL),
            "message",
            &StatsDevice::Name(b"vol".to_vec()),
        );
        assert_eq!(
            l.message,
            "device-mapper: message ioctl on vol  failed: Invalid argument"
        );
        let l = from_dm(
            e(libc::ENXIO),
            "message",
            &StatsDevice::Devno {
                major: 253,
                minor: 0,
            },
        );
        assert_eq!(
            l.message,
            "device-mapper: message ioctl on  (253:0) failed: No such device or address"
        );
        let l = from_dm(e(libc::ENOENT), "info", &StatsDevice::Uuid(b"U-1".to_vec()));
        assert_eq!(
            l.message,
            "device-mapper: info ioctl on  U-1 failed: No such file or directory"
        );
    }
}
