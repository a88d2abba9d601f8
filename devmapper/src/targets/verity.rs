//! `verity` (dm-verity).

use super::crypt::{decode_hex, emit_hex};
use super::{
    parse_num, Args, DevRef, Out, ParseError, ParseErrorKind, TargetParams, TargetStatus, Tokens,
};
use crate::secret::Secret;

/// What verity does when a block fails verification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VerityErrorMode {
    /// `ignore_corruption`: log and carry on.
    IgnoreCorruption,
    /// `restart_on_corruption`: restart the system.
    RestartOnCorruption,
    /// `panic_on_corruption`: panic.
    PanicOnCorruption,
}

/// What verity does on an I/O error (kernel 6.12+).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VerityIoErrorMode {
    /// `restart_on_error`
    RestartOnError,
    /// `panic_on_error`
    PanicOnError,
}

/// Forward error correction arguments.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerityFec {
    /// `use_fec_from_device <dev>`
    pub device: Option<DevRef>,
    /// `fec_blocks <n>`: blocks covered (data + hash), in data blocks.
    pub blocks: Option<u64>,
    /// `fec_start <n>`: start of the parity data, in data blocks.
    pub start: Option<u64>,
    /// `fec_roots <n>`: parity bytes per RS codeword (2..=24).
    pub roots: Option<u8>,
}

impl VerityFec {
    fn count(&self) -> u64 {
        2 * (u64::from(self.device.is_some())
            + u64::from(self.blocks.is_some())
            + u64::from(self.start.is_some())
            + u64::from(self.roots.is_some()))
    }
}

/// The optional arguments of `verity`, printed in the kernel's order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerityOptions {
    /// Corruption handling (default: I/O error).
    pub error_mode: Option<VerityErrorMode>,
    /// I/O error handling (kernel 6.12+).
    pub io_error_mode: Option<VerityIoErrorMode>,
    /// `ignore_zero_blocks`: do not verify zero blocks, return zeros.
    pub ignore_zero_blocks: bool,
    /// `check_at_most_once`
    pub check_at_most_once: bool,
    /// `try_verify_in_tasklet` (kernel 6.0+)
    pub try_verify_in_tasklet: bool,
    /// Forward error correction.
    pub fec: Option<VerityFec>,
    /// `root_hash_sig_key_desc <desc>`: the root hash signature's key in
    /// the kernel keyring.
    pub root_hash_sig_key_desc: Option<Vec<u8>>,
}

/// `verity`: `<version> <data dev> <hash dev> <data block size> <hash block
/// size> <#data blocks> <hash start block> <algorithm> <root digest> <salt>
/// [<#opt params> <opt params>...]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerityParams {
    /// Hash format version (0: Chrome OS, 1: current).
    pub version: u32,
    /// The data device.
    pub data_dev: DevRef,
    /// The hash tree device.
    pub hash_dev: DevRef,
    /// Data block size in bytes.
    pub data_block_size: u32,
    /// Hash block size in bytes.
    pub hash_block_size: u32,
    /// Number of data blocks.
    pub data_blocks: u64,
    /// Start of the hash tree, in hash blocks.
    pub hash_start: u64,
    /// Hash algorithm (`sha256`, ...).
    pub algorithm: Vec<u8>,
    /// The root digest (printed as lowercase hex).
    pub root_digest: Vec<u8>,
    /// The salt, or `None` (`-`).
    pub salt: Option<Vec<u8>>,
    /// Optional arguments.
    pub options: VerityOptions,
}

fn hex_bytes(a: &Args<'_>, t: &[u8], name: &'static str) -> Result<Vec<u8>, ParseError> {
    match decode_hex(t).map_err(|k| a.err_prev(name, k))? {
        Some(s) if !s.is_empty() => Ok(s.as_bytes().to_vec()),
        _ => Err(a.err_prev(name, ParseErrorKind::Invalid("hex digits"))),
    }
}

impl TargetParams for VerityParams {
    const TARGET_TYPE: &'static str = "verity";

    fn to_params(&self) -> Secret {
        let v = &self.options;
        let mut o = Out::new();
        o.num(self.version);
        o.dev(&self.data_dev);
        o.dev(&self.hash_dev);
        o.num(self.data_block_size);
        o.num(self.hash_block_size);
        o.num(self.data_blocks);
        o.num(self.hash_start);
        o.arg(&self.algorithm);
        o.word("");
        emit_hex(&mut o, &self.root_digest);
        match &self.salt {
            Some(s) if !s.is_empty() => {
                o.word("");
                emit_hex(&mut o, s);
            }
            _ => o.word("-"),
        }
        let n = u64::from(v.error_mode.is_some())
            + u64::from(v.io_error_mode.is_some())
            + u64::from(v.ignore_zero_blocks)
            + u64::from(v.check_at_most_once)
            + u64::from(v.try_verify_in_tasklet)
            + v.fec.as_ref().map_or(0, VerityFec::count)
            + if v.root_hash_sig_key_desc.is_some() {
                2
            } else {
                0
            };
        if n == 0 {
            return o.finish();
        }
        o.num(n);
        if let Some(m) = v.error_mode {
            o.word(match m {
                VerityErrorMode::IgnoreCorruption => "ignore_corruption",
                VerityErrorMode::RestartOnCorruption => "restart_on_corruption",
                VerityErrorMode::PanicOnCorruption => "panic_on_corruption",
            });
        }
        if let Some(m) = v.io_error_mode {
            o.word(match m {
                VerityIoErrorMode::RestartOnError => "restart_on_error",
                VerityIoErrorMode::PanicOnError => "panic_on_error",
            });
        }
        if v.ignore_zero_blocks {
            o.word("ignore_zero_blocks");
        }
        if v.check_at_most_once {
            o.word("check_at_most_once");
        }
        if v.try_verify_in_tasklet {
            o.word("try_verify_in_tasklet");
        }
        if let Some(f) = &v.fec {
            if let Some(d) = &f.device {
                o.word("use_fec_from_device");
                o.dev(d);
            }
            if let Some(b) = f.blocks {
                o.word("fec_blocks");
                o.num(b);
            }
            if let Some(s) = f.start {
                o.word("fec_start");
                o.num(s);
            }
            if let Some(r) = f.roots {
                o.word("fec_roots");
                o.num(r);
            }
        }
        if let Some(d) = &v.root_hash_sig_key_desc {
            o.word("root_hash_sig_key_desc");
            o.arg(d);
        }
        o.finish()
    }

    fn parse(params: &[u8]) -> Result<VerityParams, ParseError> {
        let toks = Tokens::split(Self::TARGET_TYPE, params)?;
        let mut a = toks.args(false);
        let version = a.u32_in("version", 0, 1)?;
        let data_dev = a.dev("data device")?;
        let hash_dev = a.dev("hash device")?;
        let data_block_size = a.u32("data block size")?;
        let hash_block_size = a.u32("hash block size")?;
        for (bs, name) in [
            (data_block_size, "data block size"),
            (hash_block_size, "hash block size"),
        ] {
            if bs < 512 || !bs.is_power_of_two() {
                return Err(a.err_prev(name, ParseErrorKind::OutOfRange));
            }
        }
        let data_blocks = a.u64("number of data blocks")?;
        let hash_start = a.u64("hash start")?;
        let algorithm = a.bytes("algorithm")?;
        let t = a.next("root digest")?;
        let root_digest = hex_bytes(&a, t, "root digest")?;
        let t = a.next("salt")?;
        let salt = if t == b"-" {
            None
        } else {
            Some(hex_bytes(&a, t, "salt")?)
        };
        let mut v = VerityOptions::default();
        if !a.is_empty() {
            let n = a.count("optional argument count")?;
            let mut g = a.group(n);
            while !g.is_empty() {
                let t = g.next("optional argument")?;
                let is = |w: &str| t.eq_ignore_ascii_case(w.as_bytes());
                let mode = if is("ignore_corruption") {
                    Some(VerityErrorMode::IgnoreCorruption)
                } else if is("restart_on_corruption") {
                    Some(VerityErrorMode::RestartOnCorruption)
                } else if is("panic_on_corruption") {
                    Some(VerityErrorMode::PanicOnCorruption)
                } else {
                    None
                };
                if let Some(m) = mode {
                    if v.error_mode.is_some_and(|old| old != m) {
                        return Err(g.err_prev(
                            "optional argument",
                            ParseErrorKind::Conflict("error handling given twice"),
                        ));
                    }
                    v.error_mode = Some(m);
                } else if is("restart_on_error") || is("panic_on_error") {
                    let m = if is("restart_on_error") {
                        VerityIoErrorMode::RestartOnError
                    } else {
                        VerityIoErrorMode::PanicOnError
                    };
                    if v.io_error_mode.is_some_and(|old| old != m) {
                        return Err(g.err_prev(
                            "optional argument",
                            ParseErrorKind::Conflict("I/O error handling given twice"),
                        ));
                    }
                    v.io_error_mode = Some(m);
                } else if is("ignore_zero_blocks") {
                    v.ignore_zero_blocks = true;
                } else if is("check_at_most_once") {
                    v.check_at_most_once = true;
                } else if is("try_verify_in_tasklet") {
                    v.try_verify_in_tasklet = true;
                } else if is("use_fec_from_device") {
                    let d = g.dev("use_fec_from_device")?;
                    v.fec.get_or_insert_with(VerityFec::default).device = Some(d);
                } else if is("fec_blocks") {
                    let b = g.u64("fec_blocks")?;
                    v.fec.get_or_insert_with(VerityFec::default).blocks = Some(b);
                } else if is("fec_start") {
                    let s = g.u64("fec_start")?;
                    v.fec.get_or_insert_with(VerityFec::default).start = Some(s);
                } else if is("fec_roots") {
                    let r = g.u32_in("fec_roots", 2, 24)? as u8;
                    v.fec.get_or_insert_with(VerityFec::default).roots = Some(r);
                } else if is("root_hash_sig_key_desc") {
                    v.root_hash_sig_key_desc = Some(g.bytes("root_hash_sig_key_desc")?);
                } else {
                    return Err(g.err_prev_quoting(
                        "optional argument",
                        ParseErrorKind::UnknownFeature,
                        t,
                    ));
                }
            }
        }
        a.finish()?;
        Ok(VerityParams {
            version,
            data_dev,
            hash_dev,
            data_block_size,
            hash_block_size,
            data_blocks,
            hash_start,
            algorithm,
            root_digest,
            salt,
            options: v,
        })
    }
}

/// The verification state of a verity target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VerityHashState {
    /// `V`: every block checked so far was valid.
    Verified,
    /// `C`: a corrupted block was found.
    Corrupted,
    /// Another state character from a newer kernel.
    Other(u8),
}

/// `verity` status: `<V|C>`, and on kernels 6.19+ the number of errors
/// corrected by FEC (`-` without FEC).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerityStatus {
    /// Valid or corrupted.
    pub state: VerityHashState,
    /// Errors corrected by forward error correction, when reported.
    pub fec_corrected: Option<u64>,
    /// Fields after these that a newer kernel may print.
    pub extra: Vec<Vec<u8>>,
}

impl TargetStatus for VerityStatus {
    const TARGET_TYPE: &'static str = "verity";

    fn parse(status: &[u8]) -> Result<VerityStatus, ParseError> {
        let toks = Tokens::split(Self::TARGET_TYPE, status)?;
        let mut a = toks.args(false);
        let state = match a.next("state")? {
            b"V" => VerityHashState::Verified,
            b"C" => VerityHashState::Corrupted,
            [c] if c.is_ascii_uppercase() => VerityHashState::Other(*c),
            _ => return Err(a.err_prev("state", ParseErrorKind::Invalid("V or C"))),
        };
        let fec_corrected = match a.peek() {
            None => None,
            Some(b"-") => {
                a.next("FEC corrections")?;
                None
            }
            Some(t) => {
                let v = parse_num(t).map_err(|k| a.err_at(a.position(), "FEC corrections", k))?;
                a.next("FEC corrections")?;
                Some(v)
            }
        };
        let extra = a.rest_bytes()?;
        Ok(VerityStatus {
            state,
            fec_corrected,
            extra,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: &str = "1246889df4a85b5de1ddb01223de807e93e46c6341a88fc2f0ee25de141bf8b4";

    #[test]
    fn params() {
        let base = format!("1 7:0 7:1 4096 4096 4096 1 sha256 {ROOT} 6c1592");
        for opts in [
            "",
            " 1 ignore_corruption",
            " 2 restart_on_corruption ignore_zero_blocks",
            " 2 panic_on_corruption check_at_most_once",
            " 1 try_verify_in_tasklet",
            " 2 restart_on_corruption restart_on_error",
            " 1 panic_on_error",
            " 8 use_fec_from_device 7:2 fec_blocks 20479 fec_start 0 fec_roots 2",
            " 2 root_hash_sig_key_desc my:key",
            " 15 ignore_corruption panic_on_error ignore_zero_blocks check_at_most_once try_verify_in_tasklet use_fec_from_device 7:2 fec_blocks 1 fec_start 2 fec_roots 24 root_hash_sig_key_desc k",
        ] {
            let s = format!("{base}{opts}");
            let p = VerityParams::parse(s.as_bytes()).unwrap();
            assert_eq!(p.to_params().as_bytes(), s.as_bytes(), "{s}");
        }
        let p = VerityParams::parse(
            format!("0 a b 512 4096 1 0 sha1 {} - 0", ROOT.to_uppercase()).as_bytes(),
        )
        .unwrap();
        assert_eq!(p.salt, None);
        assert_eq!(p.root_digest.len(), 32);
        assert_eq!(
            p.to_params().as_bytes(),
            format!("0 a b 512 4096 1 0 sha1 {ROOT} -").as_bytes()
        );
        let p =
            VerityParams::parse(format!("{base} 4 fec_roots 3 use_fec_from_device 7:2").as_bytes())
                .unwrap();
        assert_eq!(
            p.to_params().as_bytes(),
            format!("{base} 4 use_fec_from_device 7:2 fec_roots 3").as_bytes()
        );
    }

    #[test]
    fn malformed() {
        let base = format!("1 7:0 7:1 4096 4096 4096 1 sha256 {ROOT} 6c1592");
        for bad in [
            format!("2 7:0 7:1 4096 4096 4096 1 sha256 {ROOT} -"),
            format!("1 7:0 7:1 4000 4096 4096 1 sha256 {ROOT} -"),
            "1 7:0 7:1 4096 4096 4096 1 sha256 xyz -".to_string(),
            "1 7:0 7:1 4096 4096 4096 1 sha256 abc -".to_string(),
            format!("1 7:0 7:1 4096 4096 4096 1 sha256 {ROOT} 12z4"),
            format!("{base} 1 bogus"),
            format!("{base} 2 ignore_corruption restart_on_corruption"),
            format!("{base} 2 fec_roots 25"),
            format!("{base} 1 fec_roots"),
            format!("{base} 3 ignore_corruption"),
            format!("{base} 1 ignore_corruption x"),
            format!("1 7:0 7:1 4096 4096 4096 1 sha256 {ROOT}"),
        ] {
            assert!(VerityParams::parse(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn status() {
        let s = VerityStatus::parse(b"V").unwrap();
        assert_eq!(
            (s.state, s.fec_corrected),
            (VerityHashState::Verified, None)
        );
        let s = VerityStatus::parse(b"C 12").unwrap();
        assert_eq!(
            (s.state, s.fec_corrected),
            (VerityHashState::Corrupted, Some(12))
        );
        let s = VerityStatus::parse(b"V - x").unwrap();
        assert_eq!(s.extra, [b"x".to_vec()]);
        assert_eq!(
            VerityStatus::parse(b"P").unwrap().state,
            VerityHashState::Other(b'P')
        );
        for bad in [&b""[..], b"v", b"VV", b"V x"] {
            assert!(VerityStatus::parse(bad).is_err(), "{bad:?}");
        }
    }
}
