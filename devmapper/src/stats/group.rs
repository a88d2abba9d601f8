//! Group descriptors: the region lists of `dm_stats_create_group` ("1,3-5")
//! and the `DMS_GROUP=` tag stock stores in the group leader's aux_data:
//!
//! ```text
//! DMS_GROUP=<alias>:<members>#<user aux_data, "-" when empty>
//! ```
//!
//! Aux data without the tag (what programs before groups, or any other
//! writer, store) is the region's plain user aux_data.

use std::collections::BTreeSet;

/// The aux_data tag that marks a group leader.
pub const DMS_GROUP_TAG: &[u8] = b"DMS_GROUP=";
const DMS_GROUP_SEP: u8 = b':';
const DMS_AUX_SEP: u8 = b'#';

/// Largest member id a list may name. Kernel region ids are `int`s; a list
/// naming more would make stock allocate gigabytes of bitmap.
pub const MAX_MEMBER_ID: u64 = i32::MAX as u64;

/// Why a member list did not parse (stock: `dm_bitset_parse_list` fails).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListParseError;

/// Parse a list of ids and ranges ("0,2-4, 7") as `dm_bitset_parse_list`
/// does: spaces around values are allowed, not inside them; empty elements
/// are skipped; "a-b" needs a <= b. Returns the set and the bitmap size
/// stock would allocate (highest id + 1, 0 for an empty list).
pub fn parse_member_list(s: &[u8]) -> Result<(BTreeSet<u64>, u64), ListParseError> {
    let mut set = BTreeSet::new();
    let mut nbits: u64 = 0;
    let mut totaldigits = 0usize;
    let mut c: u8 = 0;
    let mut i = 0usize;
    let len = s.len();
    loop {
        let mut at_start = true;
        let mut in_range = false;
        let mut a: u32 = 0;
        let mut b: u32 = 0;
        let ndigits = totaldigits;
        while i < len {
            let old_c = c;
            c = s.get(i).copied().unwrap_or(0);
            i += 1;
            if c.is_ascii_whitespace() || c == 0x0b {
                continue;
            }
            if c == 0 || c == b',' {
                break;
            }
            if totaldigits != ndigits && (old_c.is_ascii_whitespace() || old_c == 0x0b) {
                return Err(ListParseError);
            }
            if c == b'-' {
                if at_start || in_range {
                    return Err(ListParseError);
                }
                b = 0;
                in_range = true;
                at_start = true;
                continue;
            }
            if !c.is_ascii_digit() {
                return Err(ListParseError);
            }
            b = b.wrapping_mul(10).wrapping_add(u32::from(c - b'0'));
            if !in_range {
                a = b;
            }
            at_start = false;
            totaldigits += 1;
        }
        if ndigits != totaldigits {
            if at_start && in_range {
                return Err(ListParseError);
            }
            if a > b {
                return Err(ListParseError);
            }
            if u64::from(b) > MAX_MEMBER_ID {
                return Err(ListParseError);
            }
            nbits = nbits.max(u64::from(b) + 1);
            set.extend(u64::from(a)..=u64::from(b));
        }
        if !(i < len && c == b',') {
            break;
        }
    }
    Ok((set, nbits))
}

/// Format a set of ids as stock does ("0-2,5,7-8"): runs of consecutive ids
/// become ranges.
pub fn format_member_list(set: &BTreeSet<u64>) -> String {
    let mut out = String::new();
    let mut it = set.iter().copied().peekable();
    while let Some(first) = it.next() {
        let mut last = first;
        while let Some(&n) = it.peek() {
            if Some(n) == last.checked_add(1) {
                last = n;
                it.next();
            } else {
                break;
            }
        }
        if !out.is_empty() {
            out.push(',');
        }
        if first == last {
            out.push_str(&first.to_string());
        } else {
            out.push_str(&format!("{first}-{last}"));
        }
    }
    out
}

/// Build the `DMS_GROUP=alias:members` tag.
pub fn build_group_tag(alias: Option<&[u8]>, members: &BTreeSet<u64>) -> Vec<u8> {
    let mut v = DMS_GROUP_TAG.to_vec();
    v.extend_from_slice(alias.unwrap_or(b""));
    v.push(DMS_GROUP_SEP);
    v.extend_from_slice(format_member_list(members).as_bytes());
    v
}

/// The aux_data stock sends with `@stats_set_aux`: the group tag (when the
/// region leads a group), "#", then the user aux_data or "-" when empty.
pub fn compose_aux(group_tag: Option<&[u8]>, user_aux: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    if let Some(t) = group_tag {
        v.extend_from_slice(t);
        v.push(DMS_AUX_SEP);
    }
    if user_aux.is_empty() {
        v.push(b'-');
    } else {
        v.extend_from_slice(user_aux);
    }
    v
}

/// A group descriptor read from a leader's aux_data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedGroup {
    /// The alias, `None` when empty.
    pub alias: Option<Vec<u8>>,
    /// Member region ids (the first is the leader).
    pub members: BTreeSet<u64>,
    /// Bitmap size stock allocates for the members (highest id + 1).
    pub nbits: u64,
    /// The user aux_data that followed the tag ("" for "-").
    pub user_aux: Vec<u8>,
}

/// A group tag that did not parse: stock's log line and what remains of the
/// region's aux_data (stock cuts it at the ':' it had already split on).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupTagError {
    /// Stock's log_error line.
    pub line: String,
    /// The region's aux_data after the failed parse.
    pub aux_data: Vec<u8>,
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Parse a region's aux_data as stock `_parse_aux_data_group`: `Ok(None)`
/// when it carries no group tag.
pub fn parse_group_tag(region_id: u64, aux: &[u8]) -> Result<Option<ParsedGroup>, GroupTagError> {
    let Some(tag) = find(aux, DMS_GROUP_TAG) else {
        return Ok(None);
    };
    let alias_start = tag + DMS_GROUP_TAG.len();
    let Some(sep) = aux
        .get(tag..)
        .and_then(|t| t.iter().position(|&c| c == DMS_GROUP_SEP))
        .map(|p| p + tag)
    else {
        return Err(GroupTagError {
            line: "Found malformed group tag while reading aux_data".to_string(),
            aux_data: aux.to_vec(),
        });
    };
    let truncated = aux.get(..sep).unwrap_or(aux).to_vec();
    let alias = aux.get(alias_start..sep).unwrap_or(b"").to_vec();
    let rest = aux.get(sep + 1..).unwrap_or(b"");
    let (members_str, user) = match rest.iter().position(|&c| c == DMS_AUX_SEP) {
        Some(h) => (
            rest.get(..h).unwrap_or(b""),
            rest.get(h + 1..).unwrap_or(b""),
        ),
        None => (rest, &b""[..]),
    };
    let (members, nbits) = parse_member_list(members_str).map_err(|_| GroupTagError {
        line: "Could not parse member list while reading group aux_data".to_string(),
        aux_data: truncated.clone(),
    })?;
    if members.first().copied() != Some(region_id) {
        return Err(GroupTagError {
            line: format!("Found invalid group descriptor in region {region_id} aux_data."),
            aux_data: truncated,
        });
    }
    let user_aux = if user == b"-" {
        Vec::new()
    } else {
        user.to_vec()
    };
    Ok(Some(ParsedGroup {
        alias: if alias.is_empty() { None } else { Some(alias) },
        members,
        nbits,
        user_aux,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(v: &[u64]) -> BTreeSet<u64> {
        v.iter().copied().collect()
    }

    #[test]
    fn member_lists() {
        assert_eq!(
            parse_member_list(b"0,2-4, 7").unwrap(),
            (set(&[0, 2, 3, 4, 7]), 8)
        );
        assert_eq!(parse_member_list(b" 3 ").unwrap(), (set(&[3]), 4));
        assert_eq!(parse_member_list(b"1,,2").unwrap(), (set(&[1, 2]), 3));
        assert_eq!(parse_member_list(b"").unwrap(), (set(&[]), 0));
        assert!(parse_member_list(b"1 2").is_err());
        assert!(parse_member_list(b"4-2").is_err());
        assert!(parse_member_list(b"-2").is_err());
        assert!(parse_member_list(b"2-").is_err());
        assert!(parse_member_list(b"2--3").is_err());
        assert!(parse_member_list(b"x").is_err());
        assert!(parse_member_list(b"0-4294967295").is_err());
    }

    #[test]
    fn format_lists() {
        assert_eq!(format_member_list(&set(&[0, 1, 2, 5, 7, 8])), "0-2,5,7-8");
        assert_eq!(format_member_list(&set(&[3])), "3");
        assert_eq!(format_member_list(&set(&[])), "");
    }

    #[test]
    fn tag_round_trip() {
        let m = set(&[2, 3, 4, 9]);
        let tag = build_group_tag(Some(b"vol"), &m);
        assert_eq!(tag, b"DMS_GROUP=vol:2-4,9");
        let aux = compose_aux(Some(&tag), b"");
        assert_eq!(aux, b"DMS_GROUP=vol:2-4,9#-");
        let g = parse_group_tag(2, &aux).unwrap().unwrap();
        assert_eq!(g.alias.as_deref(), Some(&b"vol"[..]));
        assert_eq!(g.members, m);
        assert_eq!(g.user_aux, b"");
        let aux = compose_aux(Some(&build_group_tag(None, &m)), b"hello");
        assert_eq!(aux, b"DMS_GROUP=:2-4,9#hello");
        let g = parse_group_tag(2, &aux).unwrap().unwrap();
        assert_eq!(g.alias, None);
        assert_eq!(g.user_aux, b"hello");
        assert_eq!(compose_aux(None, b""), b"-");
        assert_eq!(compose_aux(None, b"x"), b"x");
    }

    #[test]
    fn plain_and_broken_tags() {
        assert_eq!(parse_group_tag(0, b"user data").unwrap(), None);
        assert_eq!(parse_group_tag(0, b"").unwrap(), None);
        let e = parse_group_tag(0, b"DMS_GROUP=abc").unwrap_err();
        assert_eq!(e.line, "Found malformed group tag while reading aux_data");
        assert_eq!(e.aux_data, b"DMS_GROUP=abc");
        let e = parse_group_tag(1, b"DMS_GROUP=a:0-1#-").unwrap_err();
        assert_eq!(
            e.line,
            "Found invalid group descriptor in region 1 aux_data."
        );
        assert_eq!(e.aux_data, b"DMS_GROUP=a");
        let e = parse_group_tag(0, b"DMS_GROUP=a:zz#-").unwrap_err();
        assert_eq!(
            e.line,
            "Could not parse member list while reading group aux_data"
        );
        // No '#': the whole rest is the member list, no user data.
        let g = parse_group_tag(0, b"DMS_GROUP=a:0,1").unwrap().unwrap();
        assert_eq!(g.members, set(&[0, 1]));
        assert_eq!(g.user_aux, b"");
        // Text before the tag is dropped, as stock does.
        let g = parse_group_tag(0, b"pre DMS_GROUP=a:0#u").unwrap().unwrap();
        assert_eq!(g.alias.as_deref(), Some(&b"a"[..]));
        assert_eq!(g.user_aux, b"u");
        // A user aux_data "-x" is kept ("-" alone means none).
        let g = parse_group_tag(0, b"DMS_GROUP=a:0#-x").unwrap().unwrap();
        assert_eq!(g.user_aux, b"-x");
    }
}
