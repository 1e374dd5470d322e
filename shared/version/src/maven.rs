//! Maven versions, ordered exactly as Maven 3.8.7's
//! `org.apache.maven.artifact.versioning.ComparableVersion` (the reference run here).
//!
//! Parsing (case-insensitive):
//! - `.` and `-` separate items; a transition between digits and letters also separates
//!   (`1.0alpha1` → `1, 0, alpha, 1`). An empty item before a separator is `0`.
//! - `-` (and a digit/letter transition) opens a nested sub-list: `1-1` is `[1, [1]]`; a
//!   sub-list sorts below a number at the same place (`1-1` < `1.1`), above a qualifier.
//! - a qualifier right after `.` is treated like one after `-` (`1.0.RC1` ~ `1.0-RC1`).
//! - trailing "null" items (`0`, the release qualifiers `""`/`ga`/`final`/`release`, empty
//!   lists) are dropped, so `1` == `1.0` == `1.0.0` == `1-0` == `1-ga` == `1-final`.
//!
//! Qualifiers, lowest first: `alpha` (`a` when directly followed by a digit) < `beta` (`b`) <
//! `milestone` (`m`) < `rc` (`cr`) < `snapshot` < release (`""`, `ga`, `final`, `release`) <
//! `sp`; any other qualifier sorts after `sp`, lexically (`1-xyz` > `1-sp`, but below `1-1`).
//! Numbers of any length compare numerically and always above qualifiers and lists.
//!
//! Maven 3.9 changed one corner (MNG-7644-era parsing): `2.0.a` vs `2.0.0.a` is `==` in
//! 3.8.7 but `<` in 3.9; this follows 3.8.7 (see README).
//! **A total order, unlike Maven**: Maven's rules are intransitive on some odd strings, e.g.
//! `0.00` < `zdev` < `0.alpha1~` but `0.00` > `0.alpha1~` (Maven 3.8.7 says so too). This
//! type's `Ord` is total, so `sort()` is safe: where Maven contradicts itself the side of a
//! missing item wins over "qualifier < sub-list" (see `compare_lists` and the README).
//! Only ASCII digits count as digits (Java's `Character.isDigit` also accepts other
//! Unicode decimal digits).

use std::cmp::Ordering;

use crate::num::Num;
use crate::{Format, ParseError};

/// A Maven `ComparableVersion`.
#[derive(Debug, Clone)]
pub struct MavenVersion {
    raw: String,
    items: Vec<Item>,
}

crate::format::version_boilerplate!(MavenVersion);

#[derive(Debug, Clone)]
enum Item {
    Int(Num),
    /// The qualifier, already expanded (`a1` → alpha) and aliased (`ga` → "").
    Str(Box<str>),
    List(Vec<Item>),
}

const QUALIFIERS: [&str; 7] = ["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"];
/// `String.valueOf(QUALIFIERS.indexOf(""))`.
const RELEASE_INDEX: &str = "5";

fn comparable_qualifier(q: &str) -> String {
    match QUALIFIERS.iter().position(|x| *x == q) {
        Some(i) => i.to_string(),
        None => format!("{}-{q}", QUALIFIERS.len()),
    }
}

fn string_item(value: &str, followed_by_digit: bool) -> Item {
    let value = match (followed_by_digit, value) {
        (true, "a") => "alpha",
        (true, "b") => "beta",
        (true, "m") => "milestone",
        (_, v) => v,
    };
    let value = match value {
        "ga" | "final" | "release" => "",
        "cr" => "rc",
        v => v,
    };
    Item::Str(value.into())
}

fn parse_item(is_digit: bool, buf: &str) -> Item {
    if is_digit {
        Item::Int(Num::from_digits(buf))
    } else {
        string_item(buf, false)
    }
}

impl Item {
    fn is_null(&self) -> bool {
        match self {
            Item::Int(n) => n.is_zero(),
            Item::Str(s) => comparable_qualifier(s) == RELEASE_INDEX,
            Item::List(l) => l.is_empty(),
        }
    }

    /// `Item.compareTo(null)`: how this item compares with a missing one.
    fn against_null(&self) -> Ordering {
        match self {
            Item::Int(n) => {
                if n.is_zero() {
                    Ordering::Equal
                } else {
                    Ordering::Greater
                }
            }
            Item::Str(s) => comparable_qualifier(s).as_str().cmp(RELEASE_INDEX),
            // MNG-6964: compare every element with null, not only the first.
            Item::List(l) => rest_against_null(l),
        }
    }

    /// `Item.compareTo(item)` for two present items: by kind (qualifier < list < number),
    /// then within the kind.
    fn compare_present(&self, other: &Item) -> Ordering {
        match (self, other) {
            (Item::Int(a), Item::Int(b)) => a.cmp(b),
            (Item::Int(_), _) => Ordering::Greater,
            (Item::Str(a), Item::Str(b)) => comparable_qualifier(a).cmp(&comparable_qualifier(b)),
            (Item::Str(_), _) => Ordering::Less,
            (Item::List(_), Item::Int(_)) => Ordering::Less,
            (Item::List(_), Item::Str(_)) => Ordering::Greater,
            (Item::List(a), Item::List(b)) => compare_lists(a, b),
        }
    }
}

/// How the items `rest` compare with nothing (the other version ended): the first item that
/// is not "null-like" decides, as Maven compares each remaining item with `null`.
fn rest_against_null(rest: &[Item]) -> Ordering {
    rest.iter()
        .map(Item::against_null)
        .find(|o| o.is_ne())
        .unwrap_or(Ordering::Equal)
}

/// Maven's list comparison, made a total order. Maven compares item by item, a missing item
/// as `null`; its kind rule (qualifier < list < number) and its null rule disagree on some
/// odd strings, which makes `ComparableVersion` intransitive (`0.00` < `zdev` < `0.alpha1~` <
/// `0.00`). Here, at each position, the remainders are first compared with "nothing"
/// (exactly Maven's answer when one side has ended); only when both remainders lie on the
/// same side of "nothing" do Maven's item rules decide. Each position then compares a key
/// (side of nothing, item) from a total order, so the whole is lexicographic and total. On
/// well-formed versions the two rules never disagree: the 2 000 generated pairs and
/// Maven's own test vectors agree with Maven 3.8.7 (see README for the corner where they
/// may not).
fn compare_lists(a: &[Item], b: &[Item]) -> Ordering {
    for k in 0..a.len().max(b.len()) {
        let ra = rest_against_null(a.get(k..).unwrap_or_default());
        let rb = rest_against_null(b.get(k..).unwrap_or_default());
        if ra != rb {
            return ra.cmp(&rb);
        }
        let r = match (a.get(k), b.get(k)) {
            (Some(l), Some(r)) => l.compare_present(r),
            // Same side of nothing, and one side has nothing: null-like remainders, equal.
            _ => Ordering::Equal,
        };
        if r.is_ne() {
            return r;
        }
    }
    Ordering::Equal
}

/// `ListItem.normalize()`: drop trailing null items, looking past (non-null) sub-lists.
fn normalize(list: &mut Vec<Item>) {
    let mut i = list.len();
    while i > 0 {
        i -= 1;
        if list[i].is_null() {
            list.remove(i);
        } else if !matches!(list[i], Item::List(_)) {
            break;
        }
    }
}

impl MavenVersion {
    /// Parses a version as `new ComparableVersion(input)`. Maven accepts any string; only the
    /// empty string and strings with whitespace or control characters are rejected here.
    pub fn parse(input: &str) -> Result<Self, ParseError> {
        if input.is_empty() {
            return Err(ParseError::new(Format::Maven, input, "version is empty"));
        }
        if input.contains(|c: char| c.is_whitespace() || c.is_control()) {
            return Err(ParseError::new(
                Format::Maven,
                input,
                "version contains whitespace or control characters",
            ));
        }
        let version: Vec<char> = input.to_lowercase().chars().collect();
        // The lists form a chain: a new sub-list is always the last item of the current one and
        // becomes the current one, so keep the chain as a stack and nest it at the end.
        let mut chain: Vec<Vec<Item>> = vec![Vec::new()];
        let mut is_digit = false;
        let mut start = 0;
        let text = |a: usize, b: usize| version[a..b].iter().collect::<String>();
        for (i, &c) in version.iter().enumerate() {
            let list = chain.len() - 1;
            if c == '.' || c == '-' {
                let item = if i == start {
                    Item::Int(Num::default())
                } else {
                    parse_item(is_digit, &text(start, i))
                };
                chain[list].push(item);
                start = i + 1;
                if c == '-' {
                    chain.push(Vec::new());
                }
            } else if c.is_ascii_digit() {
                if !is_digit && i > start {
                    // 1.0.0.RC1 < 1.0.0-RC2: treat .RC as -RC
                    if !chain[list].is_empty() {
                        chain.push(Vec::new());
                    }
                    let last = chain.len() - 1;
                    chain[last].push(string_item(&text(start, i), true));
                    start = i;
                    chain.push(Vec::new());
                }
                is_digit = true;
            } else {
                if is_digit && i > start {
                    chain[list].push(parse_item(true, &text(start, i)));
                    start = i;
                    chain.push(Vec::new());
                }
                is_digit = false;
            }
        }
        if version.len() > start {
            if !is_digit && chain.last().is_some_and(|l| !l.is_empty()) {
                chain.push(Vec::new());
            }
            let last = chain.len() - 1;
            chain[last].push(parse_item(is_digit, &text(start, version.len())));
        }
        let mut inner: Option<Vec<Item>> = None;
        while let Some(mut list) = chain.pop() {
            if let Some(child) = inner.take() {
                list.push(Item::List(child));
            }
            normalize(&mut list);
            inner = Some(list);
        }
        Ok(Self {
            raw: input.to_owned(),
            items: inner.unwrap_or_default(),
        })
    }
}

impl Ord for MavenVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        compare_lists(&self.items, &other.items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualifiers_and_separators() {
        let order = [
            "1-alpha-1",
            "1-beta-1",
            "1-milestone-1",
            "1-rc-1",
            "1-SNAPSHOT",
            "1",
            "1-sp",
            "1-xyz",
            "1-1",
            "1.1",
        ];
        for w in order.windows(2) {
            assert_eq!(
                Format::Maven.compare(w[0], w[1]),
                Ok(Ordering::Less),
                "{w:?}"
            );
        }
        assert_eq!(Format::Maven.compare("1.0.0", "1-GA"), Ok(Ordering::Equal));
    }
}
