//! `crypt` (dm-crypt).
//!
//! `<cipher> <key> <iv_offset> <device> <offset> [<#opt_params> <opt_params>...]`

use super::{
    copy_bytes, split_colon, Args, DevRef, Lossy, Out, ParseError, ParseErrorKind, TargetParams,
    Tokens,
};
use crate::secret::Secret;
use crate::units::{parse_decimal_u64, Sectors};
use std::fmt;

/// The cipher specification, in one of the kernel's two forms. `Debug`
/// shows its byte strings as text.
#[derive(Clone, PartialEq, Eq)]
pub enum CipherSpec {
    /// `cipher[:keycount][-chainmode[-ivmode[:ivopts]]]`, e.g.
    /// `aes-xts-plain64`, `aes-cbc-essiv:sha256`, `aes:64-cbc-lmk`.
    Legacy {
        /// Block cipher (`aes`, `serpent`, `cipher_null`, ...).
        cipher: Vec<u8>,
        /// Multi-key compatibility mode: the number of keys (a power of two).
        key_count: Option<u32>,
        /// Chaining mode (`cbc`, `xts`, `ecb`, ...); absent means `cbc-plain`.
        chain_mode: Option<Vec<u8>>,
        /// IV generator (`plain64`, `essiv`, `benbi`, `lmk`, `tcw`, `random`, ...).
        iv_mode: Option<Vec<u8>>,
        /// IV generator options (the hash of `essiv`, ...).
        iv_opts: Option<Vec<u8>>,
    },
    /// `capi:<crypto API spec>[-ivmode[:ivopts]]`, e.g. `capi:xts(aes)-plain64`,
    /// `capi:gcm(aes)-random`.
    Capi {
        /// The kernel crypto API algorithm, e.g. `authenc(hmac(sha256),xts(aes))`.
        spec: Vec<u8>,
        /// IV generator.
        iv_mode: Option<Vec<u8>>,
        /// IV generator options.
        iv_opts: Option<Vec<u8>>,
    },
}

impl fmt::Debug for CipherSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn text(b: &Option<Vec<u8>>) -> Option<Lossy<'_>> {
            b.as_deref().map(Lossy)
        }
        match self {
            CipherSpec::Legacy {
                cipher,
                key_count,
                chain_mode,
                iv_mode,
                iv_opts,
            } => f
                .debug_struct("Legacy")
                .field("cipher", &Lossy(cipher))
                .field("key_count", key_count)
                .field("chain_mode", &text(chain_mode))
                .field("iv_mode", &text(iv_mode))
                .field("iv_opts", &text(iv_opts))
                .finish(),
            CipherSpec::Capi {
                spec,
                iv_mode,
                iv_opts,
            } => f
                .debug_struct("Capi")
                .field("spec", &Lossy(spec))
                .field("iv_mode", &text(iv_mode))
                .field("iv_opts", &text(iv_opts))
                .finish(),
        }
    }
}

impl CipherSpec {
    /// `cipher-chainmode-ivmode`, the common legacy form (e.g. `aes`, `xts`, `plain64`).
    pub fn new(cipher: &str, chain_mode: &str, iv_mode: &str) -> CipherSpec {
        CipherSpec::Legacy {
            cipher: cipher.as_bytes().to_vec(),
            key_count: None,
            chain_mode: Some(chain_mode.as_bytes().to_vec()),
            iv_mode: Some(iv_mode.as_bytes().to_vec()),
            iv_opts: None,
        }
    }

    /// The specification text.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::new();
        match self {
            CipherSpec::Legacy {
                cipher,
                key_count,
                chain_mode,
                iv_mode,
                iv_opts,
            } => {
                v.extend_from_slice(cipher);
                if let Some(k) = key_count {
                    v.push(b':');
                    v.extend_from_slice(k.to_string().as_bytes());
                }
                if let Some(c) = chain_mode {
                    v.push(b'-');
                    v.extend_from_slice(c);
                    if let Some(i) = iv_mode {
                        v.push(b'-');
                        v.extend_from_slice(i);
                        if let Some(o) = iv_opts {
                            v.push(b':');
                            v.extend_from_slice(o);
                        }
                    }
                }
            }
            CipherSpec::Capi {
                spec,
                iv_mode,
                iv_opts,
            } => {
                v.extend_from_slice(b"capi:");
                v.extend_from_slice(spec);
                if let Some(i) = iv_mode {
                    v.push(b'-');
                    v.extend_from_slice(i);
                }
                if let Some(o) = iv_opts {
                    v.push(b':');
                    v.extend_from_slice(o);
                }
            }
        }
        v
    }

    /// Parse a specification the way the kernel splits it.
    pub fn parse(s: &[u8]) -> Option<CipherSpec> {
        if s.is_empty() {
            return None;
        }
        let nonempty = |b: &[u8]| (!b.is_empty()).then(|| b.to_vec());
        if let Some(rest) = s.strip_prefix(b"capi:") {
            // IV options after the last ':', IV mode after the last '-'
            // before them (hash names may contain '-').
            let (head, iv_opts) = match rest.iter().rposition(|&c| c == b':') {
                Some(i) => (&rest[..i], Some(rest[i + 1..].to_vec())),
                None => (rest, None),
            };
            let (spec, iv_mode) = match head.iter().rposition(|&c| c == b'-') {
                Some(i) => (&head[..i], Some(head[i + 1..].to_vec())),
                None => (head, None),
            };
            return Some(CipherSpec::Capi {
                spec: nonempty(spec)?,
                iv_mode,
                iv_opts,
            });
        }
        if s.contains(&b'(') {
            return None;
        }
        let mut parts = s.splitn(3, |&c| c == b'-');
        let first = parts.next()?;
        let (cipher, key_count) = match first.iter().position(|&c| c == b':') {
            Some(i) => {
                let k = parse_decimal_u64(&first[i + 1..]).and_then(|v| u32::try_from(v).ok())?;
                if !k.is_power_of_two() {
                    return None;
                }
                (&first[..i], Some(k))
            }
            None => (first, None),
        };
        let chain_mode = parts.next().map(<[u8]>::to_vec);
        let (iv_mode, iv_opts) = match parts.next() {
            Some(iv) => match iv.iter().position(|&c| c == b':') {
                Some(i) => (Some(iv[..i].to_vec()), Some(iv[i + 1..].to_vec())),
                None => (Some(iv.to_vec()), None),
            },
            None => (None, None),
        };
        Some(CipherSpec::Legacy {
            cipher: nonempty(cipher)?,
            key_count,
            chain_mode,
            iv_mode,
            iv_opts,
        })
    }
}

/// The kernel key types a keyring key reference may name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyringKeyType {
    /// `logon`
    Logon,
    /// `user`
    User,
    /// `encrypted`
    Encrypted,
    /// `trusted`
    Trusted,
}

impl KeyringKeyType {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            KeyringKeyType::Logon => "logon",
            KeyringKeyType::User => "user",
            KeyringKeyType::Encrypted => "encrypted",
            KeyringKeyType::Trusted => "trusted",
        }
    }
}

/// The key of a crypt target.
#[derive(Clone, PartialEq, Eq)]
pub enum CryptKey {
    /// The key itself (raw bytes; printed as lowercase hex).
    Raw(Secret),
    /// A key in the kernel keyring: `:<size>:<type>:<description>`.
    Keyring {
        /// Key size in bytes.
        size: u32,
        /// Key type.
        key_type: KeyringKeyType,
        /// The key's description (no white space).
        description: Vec<u8>,
    },
    /// No key (`-`), for `cipher_null`.
    Empty,
    /// A key masked by `dmsetup table` without `--showkeys` that is not
    /// valid hex (an odd number of `0`s, e.g. a masked `-`). Printed as that
    /// many zeros; the kernel would not accept it.
    Masked {
        /// Number of `0` characters.
        chars: usize,
    },
}

impl fmt::Debug for CryptKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CryptKey::Raw(k) => write!(f, "Raw(<hidden, {} bytes>)", k.len()),
            CryptKey::Keyring { size, key_type, .. } => {
                write!(
                    f,
                    "Keyring {{ size: {size}, key_type: {key_type:?}, description: <hidden> }}"
                )
            }
            CryptKey::Empty => f.write_str("Empty"),
            CryptKey::Masked { chars } => write!(f, "Masked {{ chars: {chars} }}"),
        }
    }
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Decode hex into a wiped buffer; `None` if not even-length hex.
pub(crate) fn decode_hex(t: &[u8]) -> Result<Option<Secret>, ParseErrorKind> {
    if t.len() % 2 != 0 {
        return Ok(None);
    }
    let mut s = Secret::try_with_capacity(t.len() / 2).ok_or(ParseErrorKind::OutOfMemory)?;
    for pair in t.chunks_exact(2) {
        match (hex_digit(pair[0]), hex_digit(pair[1])) {
            (Some(h), Some(l)) => {
                s.push_within_capacity(&[h << 4 | l]);
            }
            _ => return Ok(None),
        }
    }
    Ok(Some(s))
}

/// Lowercase hex of a key, into the output.
pub(crate) fn emit_hex(o: &mut Out, key: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for &b in key {
        o.raw(&[HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
    }
}

impl CryptKey {
    fn parse(t: &[u8]) -> Result<CryptKey, ParseErrorKind> {
        if t == b"-" {
            return Ok(CryptKey::Empty);
        }
        if let Some(rest) = t.strip_prefix(b":") {
            let bad = ParseErrorKind::Invalid(":<size>:<type>:<description>");
            let (size, rest) = split_colon(rest).ok_or(bad.clone())?;
            let size = parse_decimal_u64(size)
                .and_then(|v| u32::try_from(v).ok())
                .ok_or(bad.clone())?;
            let (ty, desc) = split_colon(rest).ok_or(bad.clone())?;
            let key_type = match ty {
                b"logon" => KeyringKeyType::Logon,
                b"user" => KeyringKeyType::User,
                b"encrypted" => KeyringKeyType::Encrypted,
                b"trusted" => KeyringKeyType::Trusted,
                _ => {
                    return Err(ParseErrorKind::Invalid(
                        "key type logon, user, encrypted or trusted",
                    ))
                }
            };
            if desc.is_empty() {
                return Err(bad);
            }
            return Ok(CryptKey::Keyring {
                size,
                key_type,
                description: copy_bytes(desc)?,
            });
        }
        if let Some(k) = decode_hex(t)? {
            return Ok(CryptKey::Raw(k));
        }
        if !t.is_empty() && t.iter().all(|&c| c == b'0') {
            return Ok(CryptKey::Masked { chars: t.len() });
        }
        Err(ParseErrorKind::Invalid(
            "a hex key, :<size>:<type>:<description> or -",
        ))
    }

    fn emit(&self, o: &mut Out) {
        match self {
            CryptKey::Raw(k) => {
                o.word("");
                emit_hex(o, k.as_bytes());
            }
            CryptKey::Keyring {
                size,
                key_type,
                description,
            } => {
                o.word(":");
                o.num_raw(u64::from(*size));
                o.raw(b":");
                o.raw(key_type.as_str().as_bytes());
                o.raw(b":");
                o.quoted(description);
            }
            CryptKey::Empty => o.word("-"),
            CryptKey::Masked { chars } => {
                o.word("");
                for _ in 0..*chars {
                    o.raw(b"0");
                }
            }
        }
    }
}

/// What the per-sector integrity metadata of `integrity:<bytes>:<type>` holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntegrityProfile {
    /// `aead`: authenticated encryption tags (and persistent IVs).
    Aead,
    /// `none`: persistent IVs only.
    None,
}

/// The optional parameters of a crypt target. They are printed in the
/// kernel's order, whatever order they were given in.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CryptOptions {
    /// `allow_discards`
    pub allow_discards: bool,
    /// `same_cpu_crypt`
    pub same_cpu_crypt: bool,
    /// `high_priority` (kernel 6.10+)
    pub high_priority: bool,
    /// `submit_from_crypt_cpus`
    pub submit_from_crypt_cpus: bool,
    /// `no_read_workqueue`
    pub no_read_workqueue: bool,
    /// `no_write_workqueue`
    pub no_write_workqueue: bool,
    /// `integrity:<bytes>:<type>`: tag bytes per sector and their use.
    pub integrity: Option<(u32, IntegrityProfile)>,
    /// `sector_size:<bytes>` (512..=4096, a power of two). The kernel does
    /// not print 512.
    pub sector_size: Option<u32>,
    /// `iv_large_sectors`
    pub iv_large_sectors: bool,
    /// `integrity_key_size:<bytes>` (kernel 6.14+)
    pub integrity_key_size: Option<u32>,
}

impl CryptOptions {
    fn count(&self) -> u64 {
        [
            self.allow_discards,
            self.same_cpu_crypt,
            self.high_priority,
            self.submit_from_crypt_cpus,
            self.no_read_workqueue,
            self.no_write_workqueue,
            self.integrity.is_some(),
            self.sector_size.is_some_and(|s| s != 512),
            self.iv_large_sectors,
            self.integrity_key_size.is_some(),
        ]
        .iter()
        .filter(|&&b| b)
        .count() as u64
    }

    fn emit(&self, o: &mut Out) {
        let n = self.count();
        if n == 0 {
            return;
        }
        o.num(n);
        let flags = [
            (self.allow_discards, "allow_discards"),
            (self.same_cpu_crypt, "same_cpu_crypt"),
            (self.high_priority, "high_priority"),
            (self.submit_from_crypt_cpus, "submit_from_crypt_cpus"),
            (self.no_read_workqueue, "no_read_workqueue"),
            (self.no_write_workqueue, "no_write_workqueue"),
        ];
        for (on, w) in flags {
            if on {
                o.word(w);
            }
        }
        if let Some((bytes, prof)) = self.integrity {
            o.word("integrity:");
            o.num_raw(u64::from(bytes));
            o.raw(match prof {
                IntegrityProfile::Aead => b":aead",
                IntegrityProfile::None => b":none",
            });
        }
        if let Some(s) = self.sector_size.filter(|&s| s != 512) {
            o.word("sector_size:");
            o.num_raw(u64::from(s));
        }
        if self.iv_large_sectors {
            o.word("iv_large_sectors");
        }
        if let Some(k) = self.integrity_key_size {
            o.word("integrity_key_size:");
            o.num_raw(u64::from(k));
        }
    }

    fn parse(a: &mut Args<'_>) -> Result<CryptOptions, ParseError> {
        let mut o = CryptOptions::default();
        if a.is_empty() {
            return Ok(o);
        }
        let n = a.count("optional parameter count")?;
        let num_after = |t: &[u8], prefix: &[u8]| -> Option<Result<u64, ()>> {
            let rest = t.strip_prefix(prefix)?;
            Some(parse_decimal_u64(rest).ok_or(()))
        };
        for _ in 0..n {
            let t = a.next("optional parameter")?;
            let flag = |w: &str| t.eq_ignore_ascii_case(w.as_bytes());
            let set = |b: &mut bool| -> Result<(), ParseError> {
                *b = true;
                Ok(())
            };
            if flag("allow_discards") {
                set(&mut o.allow_discards)?;
            } else if flag("same_cpu_crypt") {
                set(&mut o.same_cpu_crypt)?;
            } else if flag("high_priority") {
                set(&mut o.high_priority)?;
            } else if flag("submit_from_crypt_cpus") {
                set(&mut o.submit_from_crypt_cpus)?;
            } else if flag("no_read_workqueue") {
                set(&mut o.no_read_workqueue)?;
            } else if flag("no_write_workqueue") {
                set(&mut o.no_write_workqueue)?;
            } else if flag("iv_large_sectors") {
                set(&mut o.iv_large_sectors)?;
            } else if let Some(rest) = t.strip_prefix(b"integrity:") {
                let bad = || {
                    a.err_prev(
                        "integrity",
                        ParseErrorKind::Invalid("integrity:<bytes>:aead|none"),
                    )
                };
                let (bytes, ty) = split_colon(rest).ok_or_else(bad)?;
                let bytes = parse_decimal_u64(bytes)
                    .and_then(|v| u32::try_from(v).ok())
                    .filter(|&v| v > 0)
                    .ok_or_else(bad)?;
                let prof = if ty.eq_ignore_ascii_case(b"aead") {
                    IntegrityProfile::Aead
                } else if ty.eq_ignore_ascii_case(b"none") {
                    IntegrityProfile::None
                } else {
                    return Err(bad());
                };
                o.integrity = Some((bytes, prof));
            } else if let Some(v) = num_after(t, b"integrity_key_size:") {
                let v = v.ok().and_then(|v| u32::try_from(v).ok()).ok_or_else(|| {
                    a.err_prev("integrity_key_size", ParseErrorKind::ExpectedNumber)
                })?;
                o.integrity_key_size = Some(v);
            } else if let Some(v) = num_after(t, b"sector_size:") {
                let v = v
                    .ok()
                    .and_then(|v| u32::try_from(v).ok())
                    .ok_or_else(|| a.err_prev("sector_size", ParseErrorKind::ExpectedNumber))?;
                if !(512..=4096).contains(&v) || !v.is_power_of_two() {
                    return Err(a.err_prev("sector_size", ParseErrorKind::OutOfRange));
                }
                o.sector_size = Some(v);
            } else {
                // Never quote: a misplaced key would end up here.
                return Err(a.err_prev("optional parameter", ParseErrorKind::UnknownFeature));
            }
        }
        Ok(o)
    }
}

/// `crypt` parameters.
#[derive(Clone, PartialEq, Eq)]
pub struct CryptParams {
    /// The cipher specification.
    pub cipher: CipherSpec,
    /// The key.
    pub key: CryptKey,
    /// Added to the sector number for the IV (in 512-byte sectors).
    pub iv_offset: u64,
    /// The encrypted device.
    pub device: DevRef,
    /// Start sector of the encrypted data on it.
    pub offset: Sectors,
    /// Optional parameters.
    pub options: CryptOptions,
}

impl fmt::Debug for CryptParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CryptParams")
            .field("cipher", &self.cipher)
            .field("key", &self.key)
            .field("iv_offset", &self.iv_offset)
            .field("device", &self.device)
            .field("offset", &self.offset)
            .field("options", &self.options)
            .finish()
    }
}

impl CryptParams {
    /// A crypt target with no optional parameters.
    pub fn new(cipher: CipherSpec, key: CryptKey, device: DevRef, offset: Sectors) -> CryptParams {
        CryptParams {
            cipher,
            key,
            iv_offset: 0,
            device,
            offset,
            options: CryptOptions::default(),
        }
    }
}

impl TargetParams for CryptParams {
    const TARGET_TYPE: &'static str = "crypt";

    fn to_params(&self) -> Secret {
        let mut o = Out::new();
        o.arg(&self.cipher.to_bytes());
        self.key.emit(&mut o);
        o.num(self.iv_offset);
        o.dev(&self.device);
        o.num(self.offset.0);
        self.options.emit(&mut o);
        o.finish()
    }

    fn parse(params: &[u8]) -> Result<CryptParams, ParseError> {
        let toks = Tokens::split(Self::TARGET_TYPE, params)?;
        let mut a = toks.args(true);
        let t = a.next("cipher")?;
        let cipher = CipherSpec::parse(t).ok_or_else(|| {
            a.err_prev("cipher", ParseErrorKind::Invalid("a cipher specification"))
        })?;
        let t = a.next("key")?;
        let key = CryptKey::parse(t).map_err(|k| a.err_prev("key", k))?;
        let iv_offset = a.u64("iv_offset")?;
        let device = a.dev("device")?;
        let offset = a.sectors("offset")?;
        let options = CryptOptions::parse(&mut a)?;
        a.finish()?;
        Ok(CryptParams {
            cipher,
            key,
            iv_offset,
            device,
            offset,
            options,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    fn p(s: &str) -> Result<CryptParams, ParseError> {
        CryptParams::parse(s.as_bytes())
    }

    #[test]
    fn cipher_specs() {
        for s in [
            "aes",
            "aes-ecb",
            "aes-xts-plain64",
            "aes-cbc-essiv:sha256",
            "aes:64-cbc-lmk",
            "twofish-cbc-essiv:sha-256:x",
            "capi:xts(aes)-plain64",
            "capi:cbc(aes)-essiv:sha256",
            "capi:authenc(hmac(sha256),xts(aes))-random",
            "capi:gcm(aes)",
        ] {
            let c = CipherSpec::parse(s.as_bytes()).unwrap();
            assert_eq!(c.to_bytes(), s.as_bytes(), "{s}");
        }
        match CipherSpec::parse(b"aes:64-cbc-lmk").unwrap() {
            CipherSpec::Legacy {
                key_count, iv_mode, ..
            } => {
                assert_eq!(key_count, Some(64));
                assert_eq!(iv_mode.unwrap(), b"lmk");
            }
            c => panic!("{c:?}"),
        }
        match CipherSpec::parse(b"capi:cbc(aes)-essiv:sha256").unwrap() {
            CipherSpec::Capi {
                spec,
                iv_mode,
                iv_opts,
            } => {
                assert_eq!(spec, b"cbc(aes)");
                assert_eq!(iv_mode.unwrap(), b"essiv");
                assert_eq!(iv_opts.unwrap(), b"sha256");
            }
            c => panic!("{c:?}"),
        }
        for bad in [
            "",
            "aes:3-cbc-plain",
            "aes:x-cbc",
            "cbc(aes)-plain",
            "capi:",
            "capi:-plain",
            ":2-cbc",
        ] {
            assert_eq!(CipherSpec::parse(bad.as_bytes()), None, "{bad}");
        }
        assert_eq!(
            CipherSpec::new("aes", "xts", "plain64").to_bytes(),
            b"aes-xts-plain64"
        );
    }

    #[test]
    fn basic_round_trip() {
        let s = format!("aes-xts-plain64 {KEY} 0 7:0 0");
        let c = p(&s).unwrap();
        assert_eq!(c.to_params().as_bytes(), s.as_bytes());
        match &c.key {
            CryptKey::Raw(k) => assert_eq!(k.as_bytes()[31], 0x1f),
            k => panic!("{k:?}"),
        }
        // Upper-case hex is printed back in lower case, like the kernel does.
        let up = format!("aes-xts-plain64 {} 0 7:0 0", KEY.to_uppercase());
        assert_eq!(p(&up).unwrap().to_params().as_bytes(), s.as_bytes());
        let built = CryptParams::new(
            CipherSpec::new("aes", "xts", "plain64"),
            CryptKey::Raw(Secret::new((0u8..32).collect())),
            DevRef::number(7, 0).unwrap(),
            Sectors(0),
        );
        assert_eq!(built, c);
    }

    #[test]
    fn every_option() {
        let s = format!(
            "aes-xts-plain64 {KEY} 8 7:0 0 10 allow_discards same_cpu_crypt high_priority \
             submit_from_crypt_cpus no_read_workqueue no_write_workqueue integrity:28:aead \
             sector_size:4096 iv_large_sectors integrity_key_size:32"
        );
        let c = p(&s).unwrap();
        let o = &c.options;
        assert!(
            o.allow_discards && o.same_cpu_crypt && o.high_priority && o.submit_from_crypt_cpus
        );
        assert!(o.no_read_workqueue && o.no_write_workqueue && o.iv_large_sectors);
        assert_eq!(o.integrity, Some((28, IntegrityProfile::Aead)));
        assert_eq!(o.sector_size, Some(4096));
        assert_eq!(o.integrity_key_size, Some(32));
        assert_eq!(c.to_params().as_bytes(), s.as_bytes());
        // Any order in, the kernel's order out; case-insensitive keywords.
        let s2 = format!(
            "aes-xts-plain64 {KEY} 8 7:0 0 3 iv_large_sectors ALLOW_DISCARDS integrity:16:none"
        );
        let c2 = p(&s2).unwrap();
        assert_eq!(
            c2.to_params().as_bytes(),
            format!(
                "aes-xts-plain64 {KEY} 8 7:0 0 3 allow_discards integrity:16:none iv_large_sectors"
            )
            .as_bytes()
        );
        // sector_size:512 is the default and not printed.
        let c3 = p(&format!("aes-xts-plain64 {KEY} 0 7:0 0 1 sector_size:512")).unwrap();
        assert_eq!(
            c3.to_params().as_bytes(),
            format!("aes-xts-plain64 {KEY} 0 7:0 0").as_bytes()
        );
        // A zero count is accepted and dropped.
        let c4 = p(&format!("aes-xts-plain64 {KEY} 0 7:0 0 0")).unwrap();
        assert_eq!(c4.options, CryptOptions::default());
    }

    #[test]
    fn key_forms() {
        let k = p("aes-xts-plain64 :64:logon:cryptsetup:1234-d0 0 7:0 0").unwrap();
        assert_eq!(
            k.key,
            CryptKey::Keyring {
                size: 64,
                key_type: KeyringKeyType::Logon,
                description: b"cryptsetup:1234-d0".to_vec()
            }
        );
        assert_eq!(
            k.to_params().as_bytes(),
            b"aes-xts-plain64 :64:logon:cryptsetup:1234-d0 0 7:0 0"
        );
        for t in ["user", "encrypted", "trusted"] {
            let s = format!("aes-xts-plain64 :32:{t}:d 0 7:0 0");
            assert_eq!(p(&s).unwrap().to_params().as_bytes(), s.as_bytes());
        }
        let e = p("cipher_null-ecb - 0 7:0 0").unwrap();
        assert_eq!(e.key, CryptKey::Empty);
        assert_eq!(e.to_params().as_bytes(), b"cipher_null-ecb - 0 7:0 0");
        let m = p("cipher_null-ecb 0 0 7:0 0").unwrap();
        assert_eq!(m.key, CryptKey::Masked { chars: 1 });
        assert_eq!(m.to_params().as_bytes(), b"cipher_null-ecb 0 0 7:0 0");
        for bad in [
            ":x:logon:d",
            ":32:foo:d",
            ":32:logon:",
            ":32",
            "abc",
            "0g",
            "zz",
        ] {
            let e = p(&format!("aes-xts-plain64 {bad} 0 7:0 0")).unwrap_err();
            assert_eq!(e.index(), Some(2), "{bad}");
        }
    }

    #[test]
    fn malformed() {
        let cases = [
            ("", 1, ParseErrorKind::Missing),
            ("aes-xts-plain64", 2, ParseErrorKind::Missing),
            (
                &format!("aes-xts-plain64 {KEY}"),
                3,
                ParseErrorKind::Missing,
            ),
            (
                &format!("aes-xts-plain64 {KEY} x 7:0 0"),
                3,
                ParseErrorKind::ExpectedNumber,
            ),
            (
                &format!("aes-xts-plain64 {KEY} 0 7:0 99999999999999999999"),
                5,
                ParseErrorKind::OutOfRange,
            ),
            (
                &format!("aes-xts-plain64 {KEY} 0 7:0 0 2 allow_discards"),
                6,
                ParseErrorKind::CountTooLarge,
            ),
            (
                &format!("aes-xts-plain64 {KEY} 0 7:0 0 1 bogus"),
                7,
                ParseErrorKind::UnknownFeature,
            ),
            (
                &format!("aes-xts-plain64 {KEY} 0 7:0 0 1 sector_size:1000"),
                7,
                ParseErrorKind::OutOfRange,
            ),
            (
                &format!("aes-xts-plain64 {KEY} 0 7:0 0 1 allow_discards x"),
                8,
                ParseErrorKind::TooMany,
            ),
        ];
        for (s, idx, kind) in cases {
            let e = p(s).unwrap_err();
            assert_eq!((e.index(), e.kind()), (Some(idx), &kind), "{s}");
        }
        assert_eq!(
            p(&format!("aes-xts-plain64 {KEY} x 7:0 0"))
                .unwrap_err()
                .to_string(),
            "crypt: argument 3 (iv_offset): expected a number"
        );
    }

    #[test]
    fn key_never_in_errors_or_debug() {
        let secret_hex = "5ec7e75ec7e75ec7e75ec7e75ec7e75e";
        let lines = [
            format!("aes-xts-plain64 {secret_hex} 0 7:0 0"),
            format!("aes-xts-plain64 {secret_hex} x 7:0 0"),
            format!("aes-xts-plain64 {secret_hex}"),
            format!("aes-xts-plain64 0 {secret_hex} 7:0 0"),
            format!("aes-xts-plain64 {secret_hex} 0 7:0 0 1 {secret_hex}"),
            format!("aes-xts-plain64 {secret_hex} 0 7:0 0 1 allow_discards {secret_hex}"),
            format!("{secret_hex} 0 7:0 0"),
            format!("aes-xts-plain64 :32:logon:{secret_hex} 0 7:0 x"),
            format!("aes-xts-plain64 {secret_hex}z 0 7:0 0"),
        ];
        let needles = [
            secret_hex.to_string(),
            "5ec7e7".to_string(),
            "5EC7E7".to_string(),
        ];
        for l in &lines {
            let shown = match p(l) {
                Ok(c) => format!("{c:?} {:?}", c.to_params()),
                Err(e) => format!("{e} {e:?}"),
            };
            for n in &needles {
                assert!(!shown.contains(n.as_str()), "{shown}");
            }
            let t = super::super::Target::parse(b"crypt", l.as_bytes());
            let shown = format!("{t:?}");
            assert!(!shown.contains(secret_hex), "{shown}");
            if let Ok(t) = t {
                assert!(format!("{:?}", t.to_params()).contains("bytes"));
            }
        }
        let c = p(&lines[0]).unwrap();
        assert!(format!("{c:?}").contains("key: Raw(<hidden, 16 bytes>)"));
    }

    #[test]
    fn debug_shows_text() {
        let c = CipherSpec::parse(b"aes-cbc-essiv:sha256").unwrap();
        assert_eq!(
            format!("{c:?}"),
            "Legacy { cipher: \"aes\", key_count: None, chain_mode: Some(\"cbc\"), \
             iv_mode: Some(\"essiv\"), iv_opts: Some(\"sha256\") }"
        );
        let c = CipherSpec::parse(b"capi:gcm(aes)-random").unwrap();
        assert_eq!(
            format!("{c:?}"),
            "Capi { spec: \"gcm(aes)\", iv_mode: Some(\"random\"), iv_opts: None }"
        );
        let p = CryptParams::new(
            CipherSpec::new("aes", "xts", "plain64"),
            CryptKey::Raw(Secret::from(&b"\x5e\xc7\xe7"[..])),
            DevRef::number(7, 0).unwrap(),
            Sectors(0),
        );
        let d = format!("{p:?}");
        assert!(d.contains("cipher: Legacy { cipher: \"aes\""), "{d}");
        assert!(d.contains("key: Raw(<hidden, 3 bytes>)"), "{d}");
        assert!(!d.contains("5e") && !d.contains("94"), "{d}");
    }
}
