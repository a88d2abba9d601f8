//! Typed target messages (`dmsetup message`).
//!
//! Each target family that takes messages has an enum here; every enum
//! implements [`TargetMessage`], and [`Device::send`](crate::Device::send)
//! (or [`DeviceMapper::send`](crate::DeviceMapper::send)) renders and sends
//! one:
//!
//! ```no_run
//! use devmapper::targets::messages::{CryptMessage, ThinPoolMessage};
//! use devmapper::targets::CryptKey;
//! use devmapper::{DevId, DeviceMapper, Secret, SuspendOptions};
//! let dm = DeviceMapper::new()?;
//! let pool = dm.device(DevId::name("pool")?);
//! pool.send(&ThinPoolMessage::CreateThin { dev_id: 0 })?;
//! pool.send(&ThinPoolMessage::SetTransactionId { current: 0, new: 1 })?;
//!
//! let crypt = dm.device(DevId::name("secret")?);
//! let key = CryptKey::Raw(Secret::from_reader(&mut std::fs::File::open("/dev/urandom")?, 64)?);
//! crypt.suspend(SuspendOptions::default())?;
//! crypt.send(&CryptMessage::SetKey(&key))?;
//! crypt.resume()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A message renders into a [`Secret`] whose capacity is computed and
//! reserved before the first byte is written, so the buffer never moves:
//! a crypt key is hex-encoded straight into it, and no copy of the key is
//! left behind in freed memory. Arguments that are byte strings (device
//! paths, cache policy keys and values) are quoted the way the kernel
//! splits arguments (a backslash before white space and backslashes).

use super::{is_space, CryptKey, DevRef, KeyringKeyType};
use crate::error::{Error, Result};
use crate::secret::Secret;

/// A message to a target, rendered as the kernel reads it.
pub trait TargetMessage {
    /// The target type the message is for (e.g. `"thin-pool"`).
    fn target_type(&self) -> &'static str;

    /// The message text, in a [`Secret`] sized up front (it never
    /// reallocated while being written). Fails with
    /// [`ErrorKind::NoMemory`](crate::ErrorKind::NoMemory) when the buffer
    /// cannot be had, or [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument)
    /// for a message that cannot be expressed (e.g. a masked crypt key).
    fn render(&self) -> Result<Secret>;
}

/// One argument of a message.
enum Part<'a> {
    /// A keyword, as is.
    Word(&'static str),
    /// A decimal number.
    Num(u64),
    /// A byte string, quoted like `dm_split_args` expects.
    Arg(&'a [u8]),
    /// A device: `major:minor` or a quoted path.
    Dev(&'a DevRef),
    /// Bytes as lowercase hex (key material).
    Hex(&'a [u8]),
    /// `:<size>:<type>:<description>` (a keyring key reference).
    Keyring(u32, KeyringKeyType, &'a [u8]),
    /// `<begin>` or `<begin>-<end>`.
    Range(u64, Option<u64>),
}

fn digits(mut n: u64) -> usize {
    let mut d = 1;
    while n >= 10 {
        n /= 10;
        d += 1;
    }
    d
}

fn quoted_len(b: &[u8]) -> Option<usize> {
    let escapes = b.iter().filter(|&&c| is_space(c) || c == b'\\').count();
    b.len().checked_add(escapes)
}

impl Part<'_> {
    /// The exact number of bytes the part renders to.
    fn len(&self) -> Option<usize> {
        match self {
            Part::Word(w) => Some(w.len()),
            Part::Num(n) => Some(digits(*n)),
            Part::Arg(b) => quoted_len(b),
            Part::Dev(DevRef::Path(p)) => quoted_len(p),
            Part::Dev(DevRef::Number { major, minor }) => {
                Some(digits(u64::from(*major)) + 1 + digits(u64::from(*minor)))
            }
            Part::Hex(b) => b.len().checked_mul(2),
            Part::Keyring(size, ty, desc) => {
                (3 + digits(u64::from(*size)) + ty.as_str().len()).checked_add(quoted_len(desc)?)
            }
            Part::Range(b, e) => Some(digits(*b) + e.map_or(0, |e| 1 + digits(e))),
        }
    }

    /// Write the part; `false` if it did not fit (it always does when the
    /// buffer was sized with [`Part::len`]).
    fn write(&self, out: &mut Secret) -> bool {
        match self {
            Part::Word(w) => out.push_within_capacity(w.as_bytes()),
            Part::Num(n) => push_num(out, *n),
            Part::Arg(b) => push_quoted(out, b),
            Part::Dev(DevRef::Path(p)) => push_quoted(out, p),
            Part::Dev(DevRef::Number { major, minor }) => {
                push_num(out, u64::from(*major))
                    && out.push_within_capacity(b":")
                    && push_num(out, u64::from(*minor))
            }
            Part::Hex(b) => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                b.iter().all(|&c| {
                    out.push_within_capacity(&[HEX[usize::from(c >> 4)], HEX[usize::from(c & 15)]])
                })
            }
            Part::Keyring(size, ty, desc) => {
                out.push_within_capacity(b":")
                    && push_num(out, u64::from(*size))
                    && out.push_within_capacity(b":")
                    && out.push_within_capacity(ty.as_str().as_bytes())
                    && out.push_within_capacity(b":")
                    && push_quoted(out, desc)
            }
            Part::Range(b, e) => {
                push_num(out, *b)
                    && match e {
                        Some(e) => out.push_within_capacity(b"-") && push_num(out, *e),
                        None => true,
                    }
            }
        }
    }
}

fn push_num(out: &mut Secret, n: u64) -> bool {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    let mut v = n;
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.push_within_capacity(&tmp[i..])
}

fn push_quoted(out: &mut Secret, b: &[u8]) -> bool {
    b.iter().all(|&c| {
        if is_space(c) || c == b'\\' {
            out.push_within_capacity(&[b'\\', c])
        } else {
            out.push_within_capacity(&[c])
        }
    })
}

/// The parts separated by single spaces, in a buffer of exactly the
/// rendered size.
fn render(parts: &[Part<'_>]) -> Result<Secret> {
    let too_long = || Error::invalid("Message too long.");
    let mut len = parts.len().saturating_sub(1);
    for p in parts {
        len = len
            .checked_add(p.len().ok_or_else(too_long)?)
            .ok_or_else(too_long)?;
    }
    let mut out = Secret::try_with_capacity(len).ok_or_else(|| Error::no_memory(len))?;
    for (i, p) in parts.iter().enumerate() {
        let ok = (i == 0 || out.push_within_capacity(b" ")) && p.write(&mut out);
        if !ok {
            // Cannot happen: the capacity is the exact rendered size.
            return Err(Error::internal("Message rendering exceeded its buffer."));
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// thin-pool

/// Messages to a `thin-pool` target. Thin device ids are 24-bit numbers
/// chosen by the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThinPoolMessage {
    /// `create_thin <dev id>`: a new, empty thin device.
    CreateThin {
        /// The new device's id.
        dev_id: u32,
    },
    /// `create_snap <dev id> <origin id>`: a snapshot of a thin device
    /// (suspend the origin's active volume first).
    CreateSnap {
        /// The snapshot's id.
        dev_id: u32,
        /// The thin device it is a snapshot of.
        origin_id: u32,
    },
    /// `delete <dev id>`: delete a thin device and free its blocks.
    Delete {
        /// The device's id.
        dev_id: u32,
    },
    /// `set_transaction_id <current> <new>`: the pool's transaction id (for
    /// the caller's own bookkeeping); refused unless `current` matches.
    SetTransactionId {
        /// The id the pool has now.
        current: u64,
        /// The id to set.
        new: u64,
    },
    /// `reserve_metadata_snap`: a read-only snapshot of the metadata for
    /// userspace tools (`thin_dump --metadata-snap`).
    ReserveMetadataSnap,
    /// `release_metadata_snap`.
    ReleaseMetadataSnap,
}

impl TargetMessage for ThinPoolMessage {
    fn target_type(&self) -> &'static str {
        "thin-pool"
    }

    fn render(&self) -> Result<Secret> {
        use Part::*;
        match *self {
            ThinPoolMessage::CreateThin { dev_id } => {
                render(&[Word("create_thin"), Num(u64::from(dev_id))])
            }
            ThinPoolMessage::CreateSnap { dev_id, origin_id } => render(&[
                Word("create_snap"),
                Num(u64::from(dev_id)),
                Num(u64::from(origin_id)),
            ]),
            ThinPoolMessage::Delete { dev_id } => render(&[Word("delete"), Num(u64::from(dev_id))]),
            ThinPoolMessage::SetTransactionId { current, new } => {
                render(&[Word("set_transaction_id"), Num(current), Num(new)])
            }
            ThinPoolMessage::ReserveMetadataSnap => render(&[Word("reserve_metadata_snap")]),
            ThinPoolMessage::ReleaseMetadataSnap => render(&[Word("release_metadata_snap")]),
        }
    }
}

// ---------------------------------------------------------------------------
// multipath

/// Messages to a `multipath` target. Priority groups are numbered from 1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MultipathMessage {
    /// `fail_path <device>`: stop using a path.
    FailPath(DevRef),
    /// `reinstate_path <device>`: use a failed path again.
    ReinstatePath(DevRef),
    /// `switch_group <n>`: make group `n` the next one used.
    SwitchGroup(u32),
    /// `disable_group <n>`: skip group `n` until it is enabled.
    DisableGroup(u32),
    /// `enable_group <n>`.
    EnableGroup(u32),
    /// `queue_if_no_path`: queue I/O while no path is left.
    QueueIfNoPath,
    /// `fail_if_no_path`: fail I/O (and queued I/O) while no path is left.
    FailIfNoPath,
}

impl TargetMessage for MultipathMessage {
    fn target_type(&self) -> &'static str {
        "multipath"
    }

    fn render(&self) -> Result<Secret> {
        use Part::*;
        match self {
            MultipathMessage::FailPath(d) => render(&[Word("fail_path"), Dev(d)]),
            MultipathMessage::ReinstatePath(d) => render(&[Word("reinstate_path"), Dev(d)]),
            MultipathMessage::SwitchGroup(n) => render(&[Word("switch_group"), Num(u64::from(*n))]),
            MultipathMessage::DisableGroup(n) => {
                render(&[Word("disable_group"), Num(u64::from(*n))])
            }
            MultipathMessage::EnableGroup(n) => render(&[Word("enable_group"), Num(u64::from(*n))]),
            MultipathMessage::QueueIfNoPath => render(&[Word("queue_if_no_path")]),
            MultipathMessage::FailIfNoPath => render(&[Word("fail_if_no_path")]),
        }
    }
}

// ---------------------------------------------------------------------------
// cache

/// A range of cache blocks for [`CacheMessage::InvalidateCblocks`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CblockRange {
    /// The first cache block.
    pub begin: u64,
    /// One past the last cache block; `None` for `begin` alone.
    pub end: Option<u64>,
}

/// Messages to a `cache` target (refused by a cache in read-only or fail
/// mode).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CacheMessage {
    /// `migration_threshold <sectors>`: how much data may be migrating
    /// between the devices at once.
    MigrationThreshold(u64),
    /// `<key> <value>`: any other core or policy tunable (smq accepts and
    /// ignores the old mq knobs such as `random_threshold`).
    Config {
        /// The tunable's name.
        key: Vec<u8>,
        /// Its value.
        value: Vec<u8>,
    },
    /// `invalidate_cblocks <range>...`: drop cache blocks (passthrough
    /// mode only).
    InvalidateCblocks(Vec<CblockRange>),
}

impl TargetMessage for CacheMessage {
    fn target_type(&self) -> &'static str {
        "cache"
    }

    fn render(&self) -> Result<Secret> {
        use Part::*;
        match self {
            CacheMessage::MigrationThreshold(n) => render(&[Word("migration_threshold"), Num(*n)]),
            CacheMessage::Config { key, value } => render(&[Arg(key), Arg(value)]),
            CacheMessage::InvalidateCblocks(ranges) => {
                let mut parts = Vec::new();
                parts
                    .try_reserve_exact(ranges.len().saturating_add(1))
                    .map_err(|_| Error::no_memory(ranges.len()))?;
                parts.push(Word("invalidate_cblocks"));
                parts.extend(ranges.iter().map(|r| Range(r.begin, r.end)));
                render(&parts)
            }
        }
    }
}

// ---------------------------------------------------------------------------
// writecache

/// Messages to a `writecache` target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WritecacheMessage {
    /// `flush`: commit the cache and write everything back to the origin.
    Flush,
    /// `flush_on_suspend`: write everything back at the next suspend.
    FlushOnSuspend,
    /// `cleaner`: write everything back and cache no new writes.
    Cleaner,
    /// `clear_stats`: zero the statistics of the status line.
    ClearStats,
}

impl TargetMessage for WritecacheMessage {
    fn target_type(&self) -> &'static str {
        "writecache"
    }

    fn render(&self) -> Result<Secret> {
        render(&[Part::Word(match self {
            WritecacheMessage::Flush => "flush",
            WritecacheMessage::FlushOnSuspend => "flush_on_suspend",
            WritecacheMessage::Cleaner => "cleaner",
            WritecacheMessage::ClearStats => "clear_stats",
        })])
    }
}

// ---------------------------------------------------------------------------
// crypt

/// Messages to a `crypt` target (the device must be suspended). `key set`
/// travels with the kernel's secure-data flag and is never logged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CryptMessage<'k> {
    /// `key set <key>`: a raw key as hex (rendered straight into the
    /// message's wiped buffer), a keyring reference
    /// (`:<size>:<type>:<description>`), or `-` for no key. A
    /// [`CryptKey::Masked`] key is refused.
    SetKey(&'k CryptKey),
    /// `key wipe`: forget the key (the device cannot resume without one).
    WipeKey,
}

impl TargetMessage for CryptMessage<'_> {
    fn target_type(&self) -> &'static str {
        "crypt"
    }

    fn render(&self) -> Result<Secret> {
        use Part::*;
        match self {
            CryptMessage::SetKey(CryptKey::Raw(k)) => {
                render(&[Word("key"), Word("set"), Hex(k.as_bytes())])
            }
            CryptMessage::SetKey(CryptKey::Keyring {
                size,
                key_type,
                description,
            }) => render(&[
                Word("key"),
                Word("set"),
                Keyring(*size, *key_type, description),
            ]),
            CryptMessage::SetKey(CryptKey::Empty) => render(&[Word("key"), Word("set"), Word("-")]),
            CryptMessage::SetKey(CryptKey::Masked { .. }) => Err(Error::invalid(
                "A masked key (as dmsetup table prints it) cannot be set.",
            )),
            CryptMessage::WipeKey => render(&[Word("key"), Word("wipe")]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(m: &impl TargetMessage) -> String {
        let s = m.render().unwrap();
        // Sized exactly: never grown.
        assert_eq!(
            s.len(),
            s.capacity(),
            "{:?}",
            String::from_utf8_lossy(s.as_bytes())
        );
        String::from_utf8(s.as_bytes().to_vec()).unwrap()
    }

    #[test]
    fn thin_pool() {
        use ThinPoolMessage::*;
        assert_eq!(text(&CreateThin { dev_id: 0 }), "create_thin 0");
        assert_eq!(
            text(&CreateSnap {
                dev_id: 16777215,
                origin_id: 9
            }),
            "create_snap 16777215 9"
        );
        assert_eq!(text(&Delete { dev_id: 12 }), "delete 12");
        assert_eq!(
            text(&SetTransactionId {
                current: u64::MAX,
                new: 10
            }),
            "set_transaction_id 18446744073709551615 10"
        );
        assert_eq!(text(&ReserveMetadataSnap), "reserve_metadata_snap");
        assert_eq!(text(&ReleaseMetadataSnap), "release_metadata_snap");
        assert_eq!(ReleaseMetadataSnap.target_type(), "thin-pool");
    }

    #[test]
    fn multipath() {
        use MultipathMessage::*;
        let d = DevRef::number(8, 16).unwrap();
        assert_eq!(text(&FailPath(d.clone())), "fail_path 8:16");
        assert_eq!(text(&ReinstatePath(d)), "reinstate_path 8:16");
        let p = DevRef::path("/dev/disk/by-id/a b\\c").unwrap();
        assert_eq!(text(&FailPath(p)), "fail_path /dev/disk/by-id/a\\ b\\\\c");
        assert_eq!(text(&SwitchGroup(2)), "switch_group 2");
        assert_eq!(text(&DisableGroup(1)), "disable_group 1");
        assert_eq!(text(&EnableGroup(10)), "enable_group 10");
        assert_eq!(text(&QueueIfNoPath), "queue_if_no_path");
        assert_eq!(text(&FailIfNoPath), "fail_if_no_path");
        assert_eq!(FailIfNoPath.target_type(), "multipath");
    }

    #[test]
    fn cache_and_writecache() {
        assert_eq!(
            text(&CacheMessage::MigrationThreshold(4096)),
            "migration_threshold 4096"
        );
        assert_eq!(
            text(&CacheMessage::Config {
                key: b"sequential_threshold".to_vec(),
                value: b"a\tb".to_vec()
            }),
            "sequential_threshold a\\\tb"
        );
        assert_eq!(
            text(&CacheMessage::InvalidateCblocks(vec![
                CblockRange {
                    begin: 0,
                    end: Some(10)
                },
                CblockRange {
                    begin: 99,
                    end: None
                }
            ])),
            "invalidate_cblocks 0-10 99"
        );
        assert_eq!(
            text(&CacheMessage::InvalidateCblocks(vec![])),
            "invalidate_cblocks"
        );
        for (m, t) in [
            (WritecacheMessage::Flush, "flush"),
            (WritecacheMessage::FlushOnSuspend, "flush_on_suspend"),
            (WritecacheMessage::Cleaner, "cleaner"),
            (WritecacheMessage::ClearStats, "clear_stats"),
        ] {
            assert_eq!(text(&m), t);
            assert_eq!(m.target_type(), "writecache");
        }
    }

    #[test]
    fn crypt_keys_hex_encoded_in_place() {
        let key = CryptKey::Raw(Secret::from(&[0x00, 0x5e, 0xc7, 0xff][..]));
        let m = CryptMessage::SetKey(&key);
        assert_eq!(text(&m), "key set 005ec7ff");
        assert!(crate::secret::is_key_message(
            m.render().unwrap().as_bytes()
        ));
        // The message's own Debug never shows the key.
        assert!(!format!("{m:?}").contains("5e"));
        let k = CryptKey::Keyring {
            size: 32,
            key_type: KeyringKeyType::Logon,
            description: b"cryptsetup:vol".to_vec(),
        };
        assert_eq!(
            text(&CryptMessage::SetKey(&k)),
            "key set :32:logon:cryptsetup:vol"
        );
        assert_eq!(text(&CryptMessage::SetKey(&CryptKey::Empty)), "key set -");
        assert_eq!(text(&CryptMessage::WipeKey), "key wipe");
        let e = CryptMessage::SetKey(&CryptKey::Masked { chars: 3 })
            .render()
            .unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::InvalidArgument);
        // A long key: exactly 8 + 2 * len bytes, one allocation.
        let long = CryptKey::Raw(Secret::zeroed(512));
        let s = CryptMessage::SetKey(&long).render().unwrap();
        assert_eq!((s.len(), s.capacity()), (8 + 1024, 8 + 1024));
    }

    #[test]
    fn lengths_match_rendering() {
        for n in [0u64, 9, 10, 99, 100, 12345, u64::MAX] {
            assert_eq!(digits(n), n.to_string().len());
        }
        let d = DevRef::number(4095, 1048575).unwrap();
        assert_eq!(Part::Dev(&d).len(), Some("4095:1048575".len()));
    }
}
