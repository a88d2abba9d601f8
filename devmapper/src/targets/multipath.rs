//! `multipath` (dm-mpath).

use super::{Args, DevRef, Out, ParseError, ParseErrorKind, TargetParams, TargetStatus, Tokens};
use crate::secret::Secret;

/// How multipath queues I/O.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueueMode {
    /// `bio`: bio-based.
    Bio,
    /// `rq`: request-based (the default; not printed back).
    Rq,
    /// `mq`: request-based (an alias of `rq`; not printed back).
    Mq,
}

/// The feature arguments of multipath, printed in the kernel's order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MultipathFeatures {
    /// `queue_if_no_path`: queue I/O while no path is usable.
    pub queue_if_no_path: bool,
    /// `pg_init_retries <n>` (1..=50)
    pub pg_init_retries: Option<u32>,
    /// `pg_init_delay_msecs <ms>` (0..=60000)
    pub pg_init_delay_msecs: Option<u32>,
    /// `retain_attached_hw_handler`
    pub retain_attached_hw_handler: bool,
    /// `queue_mode <bio|rq|mq>`
    pub queue_mode: Option<QueueMode>,
}

/// A hardware handler and its arguments (`1 alua`, `2 rdac x`, ...). The
/// kernel prints back only the name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HwHandler {
    /// The handler name (`alua`, `emc`, `rdac`, `hp_sw`).
    pub name: Vec<u8>,
    /// Its arguments.
    pub args: Vec<Vec<u8>>,
}

/// One path of a priority group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MultipathPath {
    /// The path device.
    pub device: DevRef,
    /// Its path selector arguments (e.g. the `round-robin` repeat count).
    pub args: Vec<Vec<u8>>,
}

/// A priority group: a path selector and its paths.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathGroup {
    /// Path selector (`round-robin`, `queue-length`, `service-time`, ...).
    pub selector: Vec<u8>,
    /// Path selector arguments.
    pub selector_args: Vec<Vec<u8>>,
    /// The number of arguments of each path (every path must have this many).
    pub path_args: u32,
    /// The paths.
    pub paths: Vec<MultipathPath>,
}

/// `multipath`: `<#features> <features>... <#hw handler args> [<handler>
/// <args>...] <#priority groups> <initial group> <group>...` where a group
/// is `<selector> <#selector args> <selector args>... <#paths> <#path args>
/// <path> <path args>...`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MultipathParams {
    /// Feature arguments.
    pub features: MultipathFeatures,
    /// Hardware handler.
    pub hw_handler: Option<HwHandler>,
    /// The group to try first (1-based; 0 with no groups).
    pub initial_group: u32,
    /// Priority groups.
    pub groups: Vec<PathGroup>,
}

impl TargetParams for MultipathParams {
    const TARGET_TYPE: &'static str = "multipath";

    /// As the kernel prints it: the line ends in a blank.
    fn to_params(&self) -> Secret {
        let f = &self.features;
        let mut o = Out::new();
        let qm_bio = matches!(f.queue_mode, Some(QueueMode::Bio));
        let qm_other = matches!(f.queue_mode, Some(QueueMode::Rq) | Some(QueueMode::Mq));
        let n = u64::from(f.queue_if_no_path)
            + if f.pg_init_retries.is_some() { 2 } else { 0 }
            + if f.pg_init_delay_msecs.is_some() {
                2
            } else {
                0
            }
            + u64::from(f.retain_attached_hw_handler)
            + if qm_bio || qm_other { 2 } else { 0 };
        o.num(n);
        if f.queue_if_no_path {
            o.word("queue_if_no_path");
        }
        if let Some(r) = f.pg_init_retries {
            o.word("pg_init_retries");
            o.num(r);
        }
        if let Some(d) = f.pg_init_delay_msecs {
            o.word("pg_init_delay_msecs");
            o.num(d);
        }
        if f.retain_attached_hw_handler {
            o.word("retain_attached_hw_handler");
        }
        match f.queue_mode {
            Some(QueueMode::Bio) => {
                o.word("queue_mode");
                o.word("bio");
            }
            Some(QueueMode::Rq) => {
                o.word("queue_mode");
                o.word("rq");
            }
            Some(QueueMode::Mq) => {
                o.word("queue_mode");
                o.word("mq");
            }
            None => {}
        }
        match &self.hw_handler {
            None => o.num(0u64),
            Some(h) => {
                o.num(1 + h.args.len() as u64);
                o.arg(&h.name);
                for a in &h.args {
                    o.arg(a);
                }
            }
        }
        o.num(self.groups.len() as u64);
        o.num(self.initial_group);
        for g in &self.groups {
            o.arg(&g.selector);
            o.num(g.selector_args.len() as u64);
            for a in &g.selector_args {
                o.arg(a);
            }
            o.num(g.paths.len() as u64);
            o.num(g.path_args);
            for p in &g.paths {
                o.dev(&p.device);
                for a in &p.args {
                    o.arg(a);
                }
            }
        }
        o.raw(b" ");
        o.finish()
    }

    fn parse(params: &[u8]) -> Result<MultipathParams, ParseError> {
        let toks = Tokens::split(Self::TARGET_TYPE, params)?;
        let mut a = toks.args(false);
        let n = a.count("feature count")?;
        let mut g = a.group(n);
        let mut f = MultipathFeatures::default();
        while !g.is_empty() {
            let t = g.next("feature")?;
            let is = |w: &str| t.eq_ignore_ascii_case(w.as_bytes());
            if is("queue_if_no_path") {
                f.queue_if_no_path = true;
            } else if is("retain_attached_hw_handler") {
                f.retain_attached_hw_handler = true;
            } else if is("pg_init_retries") {
                f.pg_init_retries = Some(g.u32_in("pg_init_retries", 1, 50)?);
            } else if is("pg_init_delay_msecs") {
                f.pg_init_delay_msecs = Some(g.u32_in("pg_init_delay_msecs", 0, 60000)?);
            } else if is("queue_mode") {
                let m = g.next("queue_mode")?;
                f.queue_mode = Some(if m.eq_ignore_ascii_case(b"bio") {
                    QueueMode::Bio
                } else if m.eq_ignore_ascii_case(b"rq") {
                    QueueMode::Rq
                } else if m.eq_ignore_ascii_case(b"mq") {
                    QueueMode::Mq
                } else {
                    return Err(g.err_prev("queue_mode", ParseErrorKind::Invalid("bio, rq or mq")));
                });
            } else {
                return Err(g.err_prev_quoting("feature", ParseErrorKind::UnknownFeature, t));
            }
        }
        let n = a.count("hardware handler argument count")?;
        let hw_handler = if n == 0 {
            None
        } else {
            let mut g = a.group(n);
            let name = g.bytes("hardware handler")?;
            let args = g.rest_bytes()?;
            Some(HwHandler { name, args })
        };
        let ngroups = a.count("priority group count")?;
        let initial_group = a.u32("initial priority group")?;
        if initial_group as usize > ngroups || (ngroups > 0 && initial_group == 0) {
            return Err(a.err_prev("initial priority group", ParseErrorKind::OutOfRange));
        }
        let mut groups = Vec::with_capacity(ngroups);
        for _ in 0..ngroups {
            groups.push(parse_group(&mut a)?);
        }
        a.finish()?;
        Ok(MultipathParams {
            features: f,
            hw_handler,
            initial_group,
            groups,
        })
    }
}

fn parse_group(a: &mut Args<'_>) -> Result<PathGroup, ParseError> {
    let selector = a.bytes("path selector")?;
    let n = a.count("path selector argument count")?;
    let mut selector_args = Vec::with_capacity(n);
    for _ in 0..n {
        selector_args.push(a.bytes("path selector argument")?);
    }
    let npaths = a.count("path count")?;
    if npaths == 0 {
        return Err(a.err_prev("path count", ParseErrorKind::OutOfRange));
    }
    let path_args = a.u32("path argument count")?;
    if (path_args as usize)
        .saturating_add(1)
        .saturating_mul(npaths)
        > a.remaining()
    {
        return Err(a.err_prev("path argument count", ParseErrorKind::CountTooLarge));
    }
    let mut paths = Vec::with_capacity(npaths);
    for _ in 0..npaths {
        let device = a.dev("path")?;
        let mut args = Vec::with_capacity(path_args as usize);
        for _ in 0..path_args {
            args.push(a.bytes("path argument")?);
        }
        paths.push(MultipathPath { device, args });
    }
    Ok(PathGroup {
        selector,
        selector_args,
        path_args,
        paths,
    })
}

/// The state of a priority group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathGroupState {
    /// `A`: the active group.
    Active,
    /// `E`: enabled.
    Enabled,
    /// `D`: disabled (bypassed).
    Disabled,
}

/// The status of one path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MultipathPathStatus {
    /// The path device.
    pub device: DevRef,
    /// `A` (active) or `F` (failed).
    pub active: bool,
    /// How often it failed.
    pub fail_count: u64,
    /// The path selector's per-path status (e.g. the queue length).
    pub selector_status: Vec<Vec<u8>>,
}

/// The status of one priority group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathGroupStatus {
    /// Active, enabled or disabled.
    pub state: PathGroupState,
    /// The path selector's group status arguments.
    pub selector_status: Vec<Vec<u8>>,
    /// Its paths.
    pub paths: Vec<MultipathPathStatus>,
}

/// `multipath` status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MultipathStatus {
    /// I/O is being queued (`queue_io`).
    pub queueing: bool,
    /// Path group initialisations so far.
    pub pg_init_count: u64,
    /// Further feature status values of a newer kernel.
    pub extra_features: Vec<Vec<u8>>,
    /// Hardware handler status arguments (none on current kernels).
    pub hw_handler_status: Vec<Vec<u8>>,
    /// The group to be used next (1-based; 0 with no groups).
    pub next_group: u32,
    /// The groups.
    pub groups: Vec<PathGroupStatus>,
}

impl TargetStatus for MultipathStatus {
    const TARGET_TYPE: &'static str = "multipath";

    fn parse(status: &[u8]) -> Result<MultipathStatus, ParseError> {
        let toks = Tokens::split(Self::TARGET_TYPE, status)?;
        let mut a = toks.args(false);
        let n = a.count("feature status count")?;
        if n < 2 {
            return Err(a.err_prev(
                "feature status count",
                ParseErrorKind::Invalid("at least 2"),
            ));
        }
        let mut g = a.group(n);
        let queueing = g.u64("queue_io")? != 0;
        let pg_init_count = g.u64("pg_init_count")?;
        let extra_features = g.rest_bytes()?;
        let n = a.count("hardware handler status count")?;
        let hw_handler_status = a.group(n).rest_bytes()?;
        let ngroups = a.count("priority group count")?;
        let next_group = a.u32("next priority group")?;
        let mut groups = Vec::with_capacity(ngroups);
        for _ in 0..ngroups {
            let state = match a.next("group state")? {
                b"A" => PathGroupState::Active,
                b"E" => PathGroupState::Enabled,
                b"D" => PathGroupState::Disabled,
                _ => return Err(a.err_prev("group state", ParseErrorKind::Invalid("A, E or D"))),
            };
            let n = a.count("selector status count")?;
            let selector_status = a.group(n).rest_bytes()?;
            let npaths = a.count("path count")?;
            let info = a.u32("path status argument count")? as usize;
            let mut paths = Vec::with_capacity(npaths);
            for _ in 0..npaths {
                let device = a.dev("path")?;
                let active = match a.next("path state")? {
                    b"A" => true,
                    b"F" => false,
                    _ => return Err(a.err_prev("path state", ParseErrorKind::Invalid("A or F"))),
                };
                let fail_count = a.u64("fail count")?;
                if info > a.remaining() {
                    return Err(
                        a.err_prev("path status argument count", ParseErrorKind::CountTooLarge)
                    );
                }
                let selector_status = a.group(info).rest_bytes()?;
                paths.push(MultipathPathStatus {
                    device,
                    active,
                    fail_count,
                    selector_status,
                });
            }
            groups.push(PathGroupStatus {
                state,
                selector_status,
                paths,
            });
        }
        a.finish()?;
        Ok(MultipathStatus {
            queueing,
            pg_init_count,
            extra_features,
            hw_handler_status,
            next_group,
            groups,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params() {
        for s in [
            &b"0 0 1 1 round-robin 0 2 1 7:0 1 7:1 1 "[..],
            b"1 queue_if_no_path 0 2 1 round-robin 0 1 1 7:0 1 queue-length 0 1 1 7:1 1 ",
            b"4 pg_init_retries 5 pg_init_delay_msecs 100 0 1 1 service-time 0 2 2 7:0 1 1 7:1 1 2 ",
            b"3 retain_attached_hw_handler queue_mode bio 0 1 1 round-robin 0 1 1 7:0 1 ",
            b"0 2 rdac x 1 1 historical-service-time 2 3 4 1 0 7:0 ",
            b"0 0 0 0 ",
        ] {
            let p = MultipathParams::parse(s).unwrap();
            assert_eq!(p.to_params().as_bytes(), s, "{}", String::from_utf8_lossy(s));
        }
        let p = MultipathParams::parse(
            b"3 queue_mode bio retain_attached_hw_handler 0 1 1 round-robin 0 1 1 /dev/loop0 100",
        )
        .unwrap();
        assert_eq!(p.features.queue_mode, Some(QueueMode::Bio));
        assert_eq!(
            p.to_params().as_bytes(),
            b"3 retain_attached_hw_handler queue_mode bio 0 1 1 round-robin 0 1 1 /dev/loop0 100 "
        );
        assert_eq!(p.groups[0].paths[0].args, [b"100".to_vec()]);
        for bad in [
            &b""[..],
            b"1 bogus 0 0 0",
            b"2 pg_init_retries 51 0 0 0",
            b"2 queue_mode x 0 0 0",
            b"0 0 1 2 round-robin 0 1 1 a 1",
            b"0 0 1 0 round-robin 0 1 1 a 1",
            b"0 0 1 1 round-robin 0 0 1",
            b"0 0 1 1 round-robin 0 2 1 a 1",
            b"0 0 1 1 round-robin 0 1 1 a 1 extra",
            b"0 0 1 1 round-robin 5 1 1 a 1",
        ] {
            assert!(
                MultipathParams::parse(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn status() {
        let s = MultipathStatus::parse(b"2 0 0 0 2 1 E 0 2 0 7:0 A 0 7:1 F 1 D 0 1 1 7:2 A 0 0 ")
            .unwrap();
        assert!(!s.queueing);
        assert_eq!(s.next_group, 1);
        assert_eq!(s.groups.len(), 2);
        assert!(!s.groups[0].paths[1].active);
        assert_eq!(s.groups[0].paths[1].fail_count, 1);
        assert_eq!(s.groups[1].state, PathGroupState::Disabled);
        assert_eq!(s.groups[1].paths[0].selector_status, [b"0".to_vec()]);
        let s = MultipathStatus::parse(b"2 1 3 0 1 1 A 0 2 2 7:0 A 0 0 1 7:1 A 0 0 2 ").unwrap();
        assert!(s.queueing);
        assert_eq!(s.pg_init_count, 3);
        assert_eq!(
            s.groups[0].paths[1].selector_status,
            [b"0".to_vec(), b"2".to_vec()]
        );
        for bad in [
            &b""[..],
            b"1 0 0 0 0",
            b"2 0 0 0 1 1 X 0 1 0 7:0 A 0",
            b"2 0 0 0 1 1 E 0 1 0 7:0 X 0",
            b"2 0 0 0 1 1 E 0 1 2 7:0 A 0 1",
            b"2 0 0 0 1 1 E 0 1 0 7:0 A 0 x",
        ] {
            assert!(
                MultipathStatus::parse(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
