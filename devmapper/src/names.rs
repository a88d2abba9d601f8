//! Validated device names and uuids.
//!
//! Both are bytes, never converted to UTF-8: device-mapper accepts any byte
//! but NUL in them (the library mangles what udev cannot cope with, see
//! [`mangle`](crate::mangle)). A [`DmName`] is 1 to 127 bytes without NUL or
//! `/` and is not `.` or `..` (it becomes a file name in `/dev/mapper`); a
//! [`DmUuid`] is 1 to 128 bytes without NUL.

use crate::error::{Error, Result};
use crate::kernel::abi::{DM_NAME_LEN, DM_UUID_LEN};
use std::fmt;

/// A device-mapper device name.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DmName(Vec<u8>);

/// A device-mapper device uuid.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DmUuid(Vec<u8>);

fn lossy(b: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(b)
}

impl DmName {
    /// Check and take a name.
    pub fn new(name: impl Into<Vec<u8>>) -> Result<DmName> {
        let name = name.into();
        if name.is_empty() {
            return Err(Error::invalid("Device name is empty."));
        }
        if name.len() >= DM_NAME_LEN {
            return Err(Error::invalid(format!(
                "Name \"{}\" too long.",
                lossy(&name)
            )));
        }
        if name.contains(&0) {
            return Err(Error::invalid("Device name contains a NUL byte."));
        }
        if name.contains(&b'/') {
            return Err(Error::invalid(format!(
                "Name \"{}\" invalid. It contains \"/\".",
                lossy(&name)
            )));
        }
        if name == b"." || name == b".." {
            return Err(Error::invalid(format!(
                "Name \"{}\" invalid.",
                lossy(&name)
            )));
        }
        Ok(DmName(name))
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The bytes, owned.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

impl DmUuid {
    /// Check and take a uuid.
    pub fn new(uuid: impl Into<Vec<u8>>) -> Result<DmUuid> {
        let uuid = uuid.into();
        if uuid.is_empty() {
            return Err(Error::invalid("Device uuid is empty."));
        }
        if uuid.len() >= DM_UUID_LEN {
            return Err(Error::invalid(format!(
                "Uuid \"{}\" too long.",
                lossy(&uuid)
            )));
        }
        if uuid.contains(&0) {
            return Err(Error::invalid("Device uuid contains a NUL byte."));
        }
        Ok(DmUuid(uuid))
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The bytes, owned.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

macro_rules! conversions {
    ($t:ident) => {
        impl TryFrom<&str> for $t {
            type Error = Error;
            fn try_from(s: &str) -> Result<$t> {
                $t::new(s.as_bytes())
            }
        }
        impl TryFrom<String> for $t {
            type Error = Error;
            fn try_from(s: String) -> Result<$t> {
                $t::new(s.into_bytes())
            }
        }
        impl TryFrom<&[u8]> for $t {
            type Error = Error;
            fn try_from(s: &[u8]) -> Result<$t> {
                $t::new(s)
            }
        }
        impl TryFrom<Vec<u8>> for $t {
            type Error = Error;
            fn try_from(s: Vec<u8>) -> Result<$t> {
                $t::new(s)
            }
        }
        impl AsRef<[u8]> for $t {
            fn as_ref(&self) -> &[u8] {
                &self.0
            }
        }
        impl fmt::Display for $t {
            /// Lossy for bytes that are not UTF-8 (display only).
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&lossy(&self.0))
            }
        }
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($t), lossy(&self.0))
            }
        }
    };
}

conversions!(DmName);
conversions!(DmUuid);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(DmName::new("ok-name_1").is_ok());
        assert!(DmName::new(&b"with space \xff"[..]).is_ok());
        assert!(DmName::new("").is_err());
        assert!(DmName::new("a/b").is_err());
        assert!(DmName::new("..").is_err());
        assert!(DmName::new(vec![b'x'; 127]).is_ok());
        assert!(DmName::new(vec![b'x'; 128]).is_err());
        assert!(DmName::new(&b"a\0b"[..]).is_err());
        assert_eq!(
            DmName::new("a/b").unwrap_err().to_string(),
            "Name \"a/b\" invalid. It contains \"/\"."
        );
    }

    #[test]
    fn uuids() {
        assert!(DmUuid::new("CRYPT-LUKS2-x").is_ok());
        assert!(DmUuid::new(vec![b'u'; 128]).is_ok());
        assert!(DmUuid::new(vec![b'u'; 129]).is_err());
        assert!(DmUuid::new("").is_err());
    }
}
