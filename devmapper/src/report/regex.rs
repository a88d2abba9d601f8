//! libdm's regex dialect (`dm_regex_create` / `dm_regex_match` with one
//! pattern), as the report selection's `=~` / `!~` use it.
//!
//! Syntax (libdm/regex/parse_rx.c): `.` (any byte but `\n`, `\r`, NUL),
//! `[...]` / `[^...]` sets with `a-z` ranges and `\n \r \t \x` escapes,
//! `*`, `+`, `?`, `|`, `( )`, `^` and `$` (start and end markers: libdm feeds
//! the bytes 0x02 before and 0x03 after the subject and `^`/`$` match exactly
//! those), `\c` escapes. A match is unanchored: the pattern matching any part
//! of the subject counts. Like libdm, the pattern is parsed wrapped as
//! `(.*(PATTERN)\0)`, so unbalanced parentheses and the error messages come
//! out exactly as stock's.
//!
//! Matching runs a lazily built DFA over the position automaton, cached
//! inside the [`Regex`]: no allocation per match once the states are known.

use std::cell::RefCell;
use std::collections::HashMap;

const HAT_CHAR: u8 = 0x02;
const DOLLAR_CHAR: u8 = 0x03;
/// Nesting depth beyond which a pattern is refused (stock recurses without a limit).
const MAX_DEPTH: usize = 500;
/// DFA states kept before the cache is reset.
const MAX_STATES: usize = 4096;

type Charset = [u64; 4];

fn cs_set(cs: &mut Charset, c: u8) {
    cs[usize::from(c >> 6)] |= 1u64 << (c & 63);
}
fn cs_clear(cs: &mut Charset, c: u8) {
    cs[usize::from(c >> 6)] &= !(1u64 << (c & 63));
}
fn cs_has(cs: &Charset, c: u8) -> bool {
    cs[usize::from(c >> 6)] & (1u64 << (c & 63)) != 0
}

#[derive(Clone, Copy)]
enum Node {
    Cat(usize, usize),
    Star(usize),
    Plus(usize),
    Quest(usize),
    Or(usize, usize),
    Charset(usize),
}

struct Parser<'a> {
    b: &'a [u8],
    cursor: usize,
    typ: i32,
    charset: Charset,
    nodes: Vec<Node>,
    charsets: Vec<Charset>,
    errors: Vec<Vec<u8>>,
    depth: usize,
    too_deep: bool,
}

impl Parser<'_> {
    fn at(&self, i: usize) -> u8 {
        self.b.get(i).copied().unwrap_or(0)
    }

    fn single(&mut self, c: u8, ptr: usize) {
        self.typ = 0;
        self.cursor = ptr + 1;
        self.charset = [0; 4];
        cs_set(&mut self.charset, c);
    }

    /// `_rx_get_token`: 1 success, 0 end of input, -1 error.
    fn get_token(&mut self) -> i32 {
        let end = self.b.len();
        let mut ptr = self.cursor;
        if ptr == end {
            self.typ = -1;
            return 0;
        }
        match self.at(ptr) {
            b'[' => {
                let mut neg = false;
                let mut range = false;
                let mut lc: u8 = 0;
                ptr += 1;
                if self.at(ptr) == b'^' {
                    self.charset = [!0; 4];
                    cs_clear(&mut self.charset, 0);
                    neg = true;
                    ptr += 1;
                } else {
                    self.charset = [0; 4];
                }
                while ptr < end && self.at(ptr) != b']' {
                    let c: u8;
                    if self.at(ptr) == b'\\' {
                        ptr += 1;
                        c = match self.at(ptr) {
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            o => o,
                        };
                    } else if self.at(ptr) == b'-' && lc != 0 {
                        range = true;
                        ptr += 1;
                        if ptr == end {
                            self.errors.push(b"Incomplete rangespecification".to_vec());
                            return -1;
                        }
                        c = self.at(ptr);
                    } else {
                        c = self.at(ptr);
                    }
                    if range {
                        // stock compares (signed) chars
                        let (mut lo, mut hi) = (i16::from(lc as i8), i16::from(c as i8));
                        if lo > hi {
                            std::mem::swap(&mut lo, &mut hi);
                        }
                        for v in lo..=hi {
                            let byte = v as u8;
                            if neg {
                                cs_clear(&mut self.charset, byte);
                            } else {
                                cs_set(&mut self.charset, byte);
                            }
                        }
                        range = false;
                    } else if neg {
                        cs_clear(&mut self.charset, c);
                    } else {
                        cs_set(&mut self.charset, c);
                    }
                    ptr += 1;
                    lc = c;
                }
                if ptr >= end {
                    self.typ = -1;
                    return -1;
                }
                self.typ = 0;
                self.cursor = ptr + 1;
            }
            c @ (b'(' | b')' | b'*' | b'+' | b'?' | b'|') => {
                self.typ = i32::from(c);
                self.cursor = ptr + 1;
            }
            b'^' => self.single(HAT_CHAR, ptr),
            b'$' => self.single(DOLLAR_CHAR, ptr),
            b'.' => {
                self.typ = 0;
                self.cursor = ptr + 1;
                self.charset = [!0; 4];
                cs_clear(&mut self.charset, b'\n');
                cs_clear(&mut self.charset, b'\r');
                cs_clear(&mut self.charset, 0);
            }
            b'\\' => {
                ptr += 1;
                if ptr >= end {
                    self.errors
                        .push(b"Badly quoted character at end of expression".to_vec());
                    self.typ = -1;
                    return -1;
                }
                self.typ = 0;
                self.cursor = ptr + 1;
                self.charset = [0; 4];
                let c = match self.at(ptr) {
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    o => o,
                };
                cs_set(&mut self.charset, c);
            }
            c => self.single(c, ptr),
        }
        1
    }

    fn node(&mut self, n: Node) -> usize {
        self.nodes.push(n);
        self.nodes.len() - 1
    }

    fn term(&mut self) -> Option<usize> {
        match self.typ {
            0 => {
                self.charsets.push(self.charset);
                let n = self.node(Node::Charset(self.charsets.len() - 1));
                self.get_token();
                Some(n)
            }
            t if t == i32::from(b'(') => {
                self.get_token();
                if self.depth >= MAX_DEPTH {
                    self.too_deep = true;
                    return None;
                }
                self.depth += 1;
                let n = self.or_term();
                self.depth -= 1;
                if self.typ != i32::from(b')') {
                    self.errors
                        .push(b"missing ')' in regular expression".to_vec());
                    return None;
                }
                self.get_token();
                n
            }
            _ => None,
        }
    }

    fn closure_term(&mut self) -> Option<usize> {
        let mut l = self.term()?;
        loop {
            let n = match u8::try_from(self.typ) {
                Ok(b'*') => Node::Star(l),
                Ok(b'+') => Node::Plus(l),
                Ok(b'?') => Node::Quest(l),
                _ => return Some(l),
            };
            l = self.node(n);
            self.get_token();
        }
    }

    /// `_cat_term`, iteratively: the terms of a right-nested CAT chain.
    fn cat_term(&mut self) -> Option<usize> {
        let first = self.closure_term()?;
        let mut terms = vec![first];
        while self.typ != i32::from(b'|') && !self.too_deep {
            match self.closure_term() {
                Some(t) => terms.push(t),
                None => break,
            }
        }
        let mut r = terms.pop()?;
        while let Some(l) = terms.pop() {
            r = self.node(Node::Cat(l, r));
        }
        Some(r)
    }

    /// `_or_term`, iteratively: a right-nested OR chain.
    fn or_term(&mut self) -> Option<usize> {
        let first = self.cat_term()?;
        let mut alts = vec![first];
        while self.typ == i32::from(b'|') {
            self.get_token();
            match self.cat_term() {
                Some(r) => alts.push(r),
                None => {
                    for _ in 0..alts.len() {
                        self.errors.push(b"Badly formed 'or' expression".to_vec());
                    }
                    return None;
                }
            }
        }
        let mut r = alts.pop()?;
        while let Some(l) = alts.pop() {
            r = self.node(Node::Or(l, r));
        }
        Some(r)
    }
}

/// Bit set over automaton positions.
fn bs_words(n: usize) -> usize {
    n.div_ceil(64).max(1)
}

struct State {
    set: Vec<u64>,
    next: Box<[u32; 256]>,
    is_final: bool,
}

const UNKNOWN: u32 = u32::MAX;
const DEAD: u32 = u32::MAX - 1;

struct Dfa {
    states: Vec<State>,
    map: HashMap<Vec<u64>, u32>,
}

/// A compiled libdm regex (one pattern).
pub struct Regex {
    charsets: Vec<Charset>,
    follow: Vec<Vec<u64>>,
    start: Vec<u64>,
    target: Vec<u64>,
    words: usize,
    dfa: RefCell<Dfa>,
}

impl std::fmt::Debug for Regex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Regex({} positions)", self.charsets.len())
    }
}

impl Regex {
    /// `dm_regex_create` with one pattern. On failure, the error lines libdm
    /// logs (ending with "Couldn't parse regex").
    pub fn new(pattern: &[u8]) -> Result<Regex, Vec<Vec<u8>>> {
        let mut log = Vec::new();
        Self::compile(pattern, &mut log).ok_or(log)
    }

    /// `dm_regex_create` with one pattern; appends the error lines libdm
    /// logs to `log` (libdm's parser can log errors for a pattern it then
    /// accepts, e.g. `|a`).
    pub fn compile(pattern: &[u8], log: &mut Vec<Vec<u8>>) -> Option<Regex> {
        let pattern = super::cstr(pattern);
        let mut all = Vec::with_capacity(pattern.len() + 8);
        all.extend_from_slice(b"(.*(");
        all.extend_from_slice(pattern);
        all.extend_from_slice(b")\0)");
        let mut p = Parser {
            b: &all,
            cursor: 0,
            typ: 0,
            charset: [0; 4],
            nodes: Vec::new(),
            charsets: Vec::new(),
            errors: Vec::new(),
            depth: 0,
            too_deep: false,
        };
        p.get_token();
        let root = p.or_term();
        log.append(&mut p.errors);
        let root = match root {
            Some(r) if !p.too_deep => r,
            _ => {
                log.push(b"Parse error in regex".to_vec());
                log.push(b"Couldn't parse regex".to_vec());
                return None;
            }
        };
        Some(Self::build(&p.nodes, p.charsets, root))
    }

    fn build(nodes: &[Node], charsets: Vec<Charset>, root: usize) -> Regex {
        let npos = charsets.len();
        let words = bs_words(npos);
        let mut nullable = vec![false; nodes.len()];
        let mut first = vec![vec![0u64; words]; nodes.len()];
        let mut last = vec![vec![0u64; words]; nodes.len()];
        let mut follow = vec![vec![0u64; words]; npos];
        let union = |a: &mut Vec<u64>, b: &[u64]| {
            for (x, y) in a.iter_mut().zip(b) {
                *x |= *y;
            }
        };
        // Children always precede their parent in `nodes`.
        for i in 0..nodes.len() {
            match nodes[i] {
                Node::Charset(p) => {
                    if let Some(w) = first[i].get_mut(p / 64) {
                        *w |= 1 << (p % 64);
                    }
                    last[i] = first[i].clone();
                }
                Node::Cat(l, r) => {
                    nullable[i] = nullable[l] && nullable[r];
                    let mut f = first[l].clone();
                    if nullable[l] {
                        union(&mut f, &first[r]);
                    }
                    let mut la = last[r].clone();
                    if nullable[r] {
                        union(&mut la, &last[l]);
                    }
                    first[i] = f;
                    last[i] = la;
                    let fr = first[r].clone();
                    for p in iter_bits(&last[l]) {
                        if let Some(fp) = follow.get_mut(p) {
                            union(fp, &fr);
                        }
                    }
                }
                Node::Or(l, r) => {
                    nullable[i] = nullable[l] || nullable[r];
                    let mut f = first[l].clone();
                    union(&mut f, &first[r]);
                    let mut la = last[l].clone();
                    union(&mut la, &last[r]);
                    first[i] = f;
                    last[i] = la;
                }
                Node::Star(x) | Node::Plus(x) | Node::Quest(x) => {
                    nullable[i] = !matches!(nodes[i], Node::Plus(_)) || nullable[x];
                    first[i] = first[x].clone();
                    last[i] = last[x].clone();
                    if !matches!(nodes[i], Node::Quest(_)) {
                        let fx = first[x].clone();
                        for p in iter_bits(&last[x]) {
                            if let Some(fp) = follow.get_mut(p) {
                                union(fp, &fx);
                            }
                        }
                    }
                }
            }
        }
        let mut target = vec![0u64; words];
        for (p, cs) in charsets.iter().enumerate() {
            if cs_has(cs, 0) {
                target[p / 64] |= 1 << (p % 64);
            }
        }
        let start = first.get(root).cloned().unwrap_or_else(|| vec![0; words]);
        Regex {
            charsets,
            follow,
            start,
            target,
            words,
            dfa: RefCell::new(Dfa {
                states: Vec::new(),
                map: HashMap::new(),
            }),
        }
    }

    fn new_state(&self, dfa: &mut Dfa, set: Vec<u64>) -> u32 {
        if let Some(&i) = dfa.map.get(&set) {
            return i;
        }
        let is_final = set.iter().zip(&self.target).any(|(a, b)| a & b != 0);
        let idx = dfa.states.len() as u32;
        dfa.map.insert(set.clone(), idx);
        dfa.states.push(State {
            set,
            next: Box::new([UNKNOWN; 256]),
            is_final,
        });
        idx
    }

    fn step(&self, dfa: &mut Dfa, s: u32, c: u8) -> u32 {
        let Some(st) = dfa.states.get(s as usize) else {
            return DEAD;
        };
        let n = st.next[usize::from(c)];
        if n != UNKNOWN {
            return n;
        }
        let mut t = vec![0u64; self.words];
        let mut any = false;
        for p in iter_bits(&st.set) {
            if self.charsets.get(p).is_some_and(|cs| cs_has(cs, c)) {
                if let Some(f) = self.follow.get(p) {
                    for (x, y) in t.iter_mut().zip(f) {
                        *x |= *y;
                    }
                    any = true;
                }
            }
        }
        // stock: a state with no positions left has no transition (dead).
        let n = if any && t.iter().any(|&w| w != 0) {
            self.new_state(dfa, t)
        } else {
            DEAD
        };
        if let Some(st) = dfa.states.get_mut(s as usize) {
            st.next[usize::from(c)] = n;
        }
        n
    }

    /// `dm_regex_match(...) >= 0`: whether the pattern matches anywhere in
    /// `subject` (a C string: it ends at the first NUL).
    pub fn is_match(&self, subject: &[u8]) -> bool {
        let Ok(mut dfa) = self.dfa.try_borrow_mut() else {
            return false;
        };
        if dfa.states.len() > MAX_STATES || dfa.states.is_empty() {
            dfa.states.clear();
            dfa.map.clear();
            let start = self.start.clone();
            self.new_state(&mut dfa, start);
        }
        let mut s = 0u32;
        let bytes = std::iter::once(HAT_CHAR)
            .chain(super::cstr(subject).iter().copied())
            .chain(std::iter::once(DOLLAR_CHAR));
        for c in bytes {
            s = self.step(&mut dfa, s, c);
            if s == DEAD {
                return false;
            }
            if dfa.states.get(s as usize).is_some_and(|st| st.is_final) {
                return true;
            }
        }
        false
    }
}

fn iter_bits(set: &[u64]) -> impl Iterator<Item = usize> + '_ {
    set.iter().enumerate().flat_map(|(wi, &w)| {
        let mut w = w;
        std::iter::from_fn(move || {
            if w == 0 {
                return None;
            }
            let b = w.trailing_zeros() as usize;
            w &= w - 1;
            Some(wi * 64 + b)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::Regex;

    fn m(p: &str, s: &str) -> bool {
        Regex::new(p.as_bytes())
            .expect("pattern")
            .is_match(s.as_bytes())
    }

    #[test]
    fn basics() {
        assert!(m("abc", "xxabcxx"));
        assert!(!m("abd", "xxabcxx"));
        assert!(m("^ab", "abc"));
        assert!(!m("^b", "abc"));
        assert!(m("bc$", "abc"));
        assert!(!m("b$", "abc"));
        assert!(m("^$", ""));
        assert!(!m("^$", "a"));
        assert!(m("a.c", "abc"));
        assert!(!m("a.c", "a\nc"));
        assert!(m("ab*c", "ac"));
        assert!(m("ab+c", "abbc"));
        assert!(!m("ab+c", "ac"));
        assert!(m("ab?c", "ac"));
        assert!(m("^(foo|bar)$", "bar"));
        assert!(!m("^(foo|bar)$", "baz"));
        assert!(m("[a-c]x", "bx"));
        assert!(!m("[^a-c]x", "bx"));
        assert!(m("[^a-c]x", "dx"));
        assert!(m("a\\.b", "a.b"));
        assert!(!m("a\\.b", "axb"));
        assert!(m("x*", ""));
        // unbalanced ')' ends the pattern early, as in libdm
        assert!(m("a)b", "ab"));
    }

    #[test]
    fn errors() {
        let e = Regex::new(b"(a").unwrap_err();
        assert_eq!(
            e.last().map(|l| l.as_slice()),
            Some(&b"Couldn't parse regex"[..])
        );
        let e = Regex::new(b"a|").unwrap_err();
        assert!(e.iter().any(|l| l == b"Badly formed 'or' expression"));
        assert!(Regex::new(b"[ab").is_err());
        assert!(Regex::new(&b"(".repeat(2000)).is_err());
    }
}
