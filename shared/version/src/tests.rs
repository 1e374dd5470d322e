//! Cross-format tests: the registry, the upstream vectors, the generated oracles and garbage.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use crate::{Format, Version};

fn op(s: &str) -> Ordering {
    match s {
        "<" => Ordering::Less,
        ">" => Ordering::Greater,
        "==" | "=" => Ordering::Equal,
        _ => panic!("unknown operator {s:?}"),
    }
}

/// Lines `a OP b` (claircore's format), skipping blanks and `#` comments.
fn op_lines(text: &str) -> Vec<(&str, Ordering, &str)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(f.len(), 3, "bad vector line {l:?}");
            (f[0], op(f[1]), f[2])
        })
        .collect()
}

#[test]
fn registry_is_complete_and_names_round_trip() {
    for f in Format::ALL {
        assert_eq!(f.name().parse::<Format>(), Ok(f));
        assert!(f.parse("1").is_ok() || f.parse("1.0.0").is_ok(), "{f}");
    }
    let eco = [
        ("Debian:12", Format::Deb),
        ("Ubuntu:22.04:LTS", Format::Deb),
        ("Alpine:v3.20", Format::Apk),
        ("AlmaLinux:9", Format::Rpm),
        ("Rocky Linux:8", Format::Rpm),
        ("Red Hat:enterprise_linux:9", Format::Rpm),
        ("PyPI", Format::Pep440),
        ("npm", Format::Semver),
        ("Maven", Format::Maven),
        ("Go", Format::Go),
        ("crates.io", Format::Semver),
        ("RubyGems", Format::Gem),
        ("NuGet", Format::NuGet),
        ("Packagist", Format::Composer),
    ];
    for (e, f) in eco {
        assert_eq!(Format::for_ecosystem(e), Some(f), "{e}");
    }
    assert_eq!(Format::for_ecosystem("Hackage"), None);
    let types = [
        ("dpkg", Format::Deb),
        ("deb", Format::Deb),
        ("rpm", Format::Rpm),
        ("apk", Format::Apk),
        ("python", Format::Pep440),
        ("npm", Format::Semver),
        ("java", Format::Maven),
        ("maven", Format::Maven),
        ("go", Format::Go),
        ("rust", Format::Semver),
        ("gem", Format::Gem),
        ("nuget", Format::NuGet),
        ("php", Format::Composer),
    ];
    for (t, f) in types {
        assert_eq!(Format::for_package_type(t), Some(f), "{t}");
    }
    assert_eq!(Format::for_package_type("swift"), None);
}

#[test]
fn rpm_rpmvercmp_vectors() {
    let cases = op_lines(include_str!("../testdata/rpm/rpmvercmp"));
    assert_eq!(cases.len(), 113);
    for (a, want, b) in cases {
        assert_eq!(crate::rpm::rpmvercmp(a, b), want, "rpmvercmp({a:?}, {b:?})");
    }
}

/// claircore's `compare` mixes EVRs with full NEVRAs (`name-E:V-R.arch`) and its own rules for
/// names and arches; a version comparator sees only EVRs. These lines are NEVRA-only.
const RPM_NEVRA_ONLY: [&str; 8] = [
    "fonts-filesystem-1:2.0.5-12.fc39.noarch",
    "fonts-filesystem-0:2.0.5-12.fc39.noarch",
    "fonts-filesystem-1:2.0.6-12.fc39.noarch",
    "a-1-1",
    "1-1-a",
    "1-1.aarch64",
    "b-1-1",
    "a-1-1.aarch64",
];

#[test]
fn rpm_evr_vectors() {
    let mut checked = 0;
    for (a, want, b) in op_lines(include_str!("../testdata/rpm/compare")) {
        if RPM_NEVRA_ONLY.contains(&a) || RPM_NEVRA_ONLY.contains(&b) {
            continue;
        }
        assert_eq!(Format::Rpm.compare(a, b), Ok(want), "{a} vs {b}");
        checked += 1;
    }
    assert_eq!(checked, 3);
}

#[test]
fn maven_vectors() {
    let cases = op_lines(include_str!("../testdata/maven/compare.list"));
    assert_eq!(cases.len(), 84);
    for (a, want, b) in cases {
        // Maven 3.9 made `2.0.a < 2.0.0.a`; 3.8.7 (our oracle) says `==`. See README.
        let want = if (a, b) == ("2.0.a", "2.0.0.a") {
            Ordering::Equal
        } else {
            want
        };
        assert_eq!(Format::Maven.compare(a, b), Ok(want), "{a} vs {b}");
        assert_eq!(
            Format::Maven.compare(b, a),
            Ok(want.reverse()),
            "{b} vs {a}"
        );
    }
}

#[test]
fn apk_vectors() {
    let src = include_str!("../testdata/apk/go-apk-version_version_testcase.go");
    let mut compared = 0;
    let mut rejected = Vec::new();
    for line in src.lines().map(str::trim).filter(|l| l.starts_with("{\"")) {
        let f: Vec<&str> = line.split('"').collect();
        let (a, o, b) = (f[1], op(f[3]), f[5]);
        match (Format::Apk.parse(a), Format::Apk.parse(b)) {
            (Ok(x), Ok(y)) => {
                assert_eq!(x.cmp(&y), o, "{a} {o:?} {b}");
                compared += 1;
            }
            _ => rejected.push(line),
        }
    }
    // The cases apk-tools' own validator rejects (apk falls back to a string sort for them).
    assert_eq!(compared + rejected.len(), 728);
    assert_eq!(rejected.len(), APK_VECTOR_INVALID, "{rejected:#?}");
    let valid = include_str!("../testdata/apk/valid_versions.txt");
    for v in valid
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        assert!(Format::Apk.parse(v).is_ok(), "{v}");
    }
}
/// `23_foo` (unknown suffix) and `1.0bc` (two letters): apk-tools rejects these and falls back to
/// a string sort; this parser rejects them.
const APK_VECTOR_INVALID: usize = 2;

/// `../testdata/generated/<format>.tsv`, written by the ecosystem's own tool
/// (`testdata/generate/generate.py`).
fn generated(format: Format, text: &str) -> (usize, usize) {
    let (mut ordered, mut invalid) = (0, 0);
    let mut failures = Vec::new();
    // Pairs on which Maven's own order is cyclic, each with Maven's witness (see
    // `maven_divergences_are_maven_cycles`): there a total order must differ somewhere.
    let mut allowed: BTreeMap<(&str, &str), bool> = if format == Format::Maven {
        maven_divergences()
            .map(|(a, b, ..)| ((a, b), false))
            .collect()
    } else {
        BTreeMap::new()
    };
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(f.len(), 3, "{line:?}");
        let (a, b) = (format.parse(f[0]), format.parse(f[1]));
        if f[2] == "invalid" {
            if a.is_ok() && b.is_ok() {
                failures.push(format!(
                    "the tool rejects {:?} / {:?}, we accept",
                    f[0], f[1]
                ));
            }
            invalid += 1;
            continue;
        }
        if f[2] == "none" {
            // Composer orders two different branches neither way; a total order must pick one.
            match (a, b) {
                (Ok(a), Ok(b)) if a.cmp(&b).is_ne() && b.cmp(&a) == a.cmp(&b).reverse() => {}
                _ => failures.push(format!("{:?} / {:?}: tool unordered", f[0], f[1])),
            }
            ordered += 1;
            continue;
        }
        let want = match f[2] {
            "-1" => Ordering::Less,
            "0" => Ordering::Equal,
            "1" => Ordering::Greater,
            other => panic!("bad result {other:?}"),
        };
        let (a, b) = match (a, b) {
            (Ok(a), Ok(b)) => (a, b),
            (a, b) => {
                let e = a
                    .err()
                    .or(b.err())
                    .map(|e| e.to_string())
                    .unwrap_or_default();
                failures.push(format!(
                    "the tool compares {:?} / {:?}, we reject: {e}",
                    f[0], f[1]
                ));
                continue;
            }
        };
        if a.cmp(&b) != want {
            if let Some(seen) = allowed.get_mut(&(f[0], f[1])) {
                *seen = true;
                ordered += 1;
                continue;
            }
            failures.push(format!(
                "{} vs {}: tool {want:?}, we {:?}",
                f[0],
                f[1],
                a.cmp(&b)
            ));
        }
        ordered += 1;
    }
    for ((a, b), seen) in &allowed {
        assert!(
            *seen,
            "{format}: {a} / {b} is listed as a divergence but agrees now; regenerate the list"
        );
    }
    assert!(
        failures.is_empty(),
        "{format}: {} disagreements:\n{}",
        failures.len(),
        failures.join("\n")
    );
    (ordered, invalid)
}

/// `(a, b, Maven's cmp(a, b), witness)` rows of `maven-divergences.tsv`.
fn maven_divergences()
-> impl Iterator<Item = (&'static str, &'static str, &'static str, &'static str)> {
    include_str!("../testdata/generated/maven-divergences.tsv")
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 4, "{l:?}");
            (f[0], f[1], f[2], f[3])
        })
}

/// Every listed divergence is a proven Maven cycle: Maven orders a and b one way and both
/// against the witness w the other way; customs agrees with Maven on (a, w) and (w, b).
#[test]
fn maven_divergences_are_maven_cycles() {
    let mut n = 0;
    for (a, b, maven_ab, w) in maven_divergences() {
        let maven_ab = if maven_ab == "1" {
            Ordering::Greater
        } else {
            Ordering::Less
        };
        let c = |x, y| Format::Maven.compare(x, y).unwrap();
        assert_eq!(c(a, b), maven_ab.reverse(), "{a} / {b}");
        assert_eq!(
            (c(a, w), c(w, b)),
            (maven_ab.reverse(), maven_ab.reverse()),
            "{a} / {w} / {b}"
        );
        n += 1;
    }
    assert!(n < 20, "{n} divergences: more than the 16 known");
}

#[test]
fn generated_oracles_agree() {
    let only = std::env::var("ORACLE").ok();
    let files = [
        (Format::Deb, include_str!("../testdata/generated/deb.tsv")),
        (Format::Rpm, include_str!("../testdata/generated/rpm.tsv")),
        (Format::Apk, include_str!("../testdata/generated/apk.tsv")),
        (
            Format::Semver,
            include_str!("../testdata/generated/semver.tsv"),
        ),
        (Format::Go, include_str!("../testdata/generated/go.tsv")),
        (
            Format::Pep440,
            include_str!("../testdata/generated/pep440.tsv"),
        ),
        (
            Format::Maven,
            include_str!("../testdata/generated/maven.tsv"),
        ),
        (Format::Gem, include_str!("../testdata/generated/gem.tsv")),
        (
            Format::Composer,
            include_str!("../testdata/generated/composer.tsv"),
        ),
    ];
    let mut total = 0;
    for (format, text) in files {
        if only.as_deref().is_some_and(|o| o != format.name()) {
            continue;
        }
        let (ordered, invalid) = generated(format, text);
        assert!(ordered > 900, "{format}: only {ordered} ordered pairs");
        total += ordered + invalid;
    }
    assert!(only.is_some() || total > 15_000);
}

/// xorshift64*: a tiny deterministic PRNG, so the garbage test needs no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const PIECES: [&str; 40] = [
    "0",
    "1",
    "2",
    "9",
    "10",
    "00",
    "01",
    "99999999999999999999999",
    ".",
    ".",
    "-",
    "_",
    "~",
    "^",
    "+",
    ":",
    "!",
    "a",
    "b",
    "rc",
    "alpha",
    "beta",
    "pre",
    "dev",
    "post",
    "p",
    "r",
    "SNAPSHOT",
    "sp",
    "ga",
    "v",
    "z",
    "A",
    " ",
    "é",
    "α",
    "\u{0}",
    "*",
    "-r",
    "_p",
];

fn garbage(rng: &mut Rng) -> String {
    let n = rng.below(9);
    let head = ["", "", "1.2.3", "1.0.0-", "1.0", "0.", "1:2.3-"][rng.below(7)];
    let tail: String = (0..n).map(|_| PIECES[rng.below(PIECES.len())]).collect();
    format!("{head}{tail}")
}

#[test]
fn garbage_never_panics_and_order_is_consistent() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for format in Format::ALL {
        let mut parsed: Vec<Version> = Vec::new();
        for _ in 0..4000 {
            let s = garbage(&mut rng);
            match format.parse(&s) {
                Ok(v) => parsed.push(v),
                Err(e) => {
                    assert_eq!(e.format, format);
                    assert!(!e.to_string().is_empty());
                }
            }
        }
        // Random bytes too (lossily decoded).
        for _ in 0..500 {
            let bytes: Vec<u8> = (0..rng.below(16)).map(|_| rng.next() as u8).collect();
            let _ = format.parse(&String::from_utf8_lossy(&bytes));
        }
        assert!(
            parsed.len() > 100,
            "{format}: only {} garbage strings parsed",
            parsed.len()
        );
        parsed.truncate(400);
        for a in &parsed {
            assert_eq!(
                a.cmp(a),
                Ordering::Equal,
                "{format}: {a} not equal to itself"
            );
        }
        for _ in 0..20_000 {
            let a = &parsed[rng.below(parsed.len())];
            let b = &parsed[rng.below(parsed.len())];
            let c = &parsed[rng.below(parsed.len())];
            assert_eq!(
                a.cmp(b),
                b.cmp(a).reverse(),
                "{format}: antisymmetry {a} {b}"
            );
            if a <= b && b <= c {
                assert!(a <= c, "{format}: transitivity {a} <= {b} <= {c}");
            }
            if a == b && b == c {
                assert_eq!(a, c, "{format}: equality {a} {b} {c}");
            }
        }
        // Sorting must give a sequence that is ordered pairwise.
        let mut sorted = parsed.clone();
        sorted.sort();
        let mut by_rank: BTreeMap<usize, &Version> = BTreeMap::new();
        for (i, v) in sorted.iter().enumerate() {
            by_rank.insert(i, v);
        }
        for i in 0..sorted.len() {
            for j in i + 1..sorted.len().min(i + 40) {
                assert!(by_rank[&i] <= by_rank[&j], "{format}: sort inconsistent");
            }
        }
    }
}

/// Maven 3.8.7 says `0.00` < `zdev` < `0.alpha1~` but `0.00` > `0.alpha1~` (checked with
/// `ComparableVersion` itself). Here the order is total: the remainders' side of "nothing"
/// decides first, so `zdev` (a qualifier above release) sorts above `0.alpha1~` (below
/// release), and the cycle is broken at Maven's qualifier-below-list rule.
#[test]
fn maven_order_is_total_where_maven_is_intransitive() {
    let c = |a, b| Format::Maven.compare(a, b).unwrap();
    assert_eq!(c("0.00", "zdev"), Ordering::Less);
    assert_eq!(c("0.00", "0.alpha1~"), Ordering::Greater);
    assert_eq!(
        c("zdev", "0.alpha1~"),
        Ordering::Greater,
        "Maven 3.8.7 says Less here"
    );
}

/// Hostile Maven strings (Maven accepts any string) sort without panicking, and the sorted
/// sequence is ordered pairwise: Rust 1.81+ `sort` may panic on an order that is not total.
#[test]
fn maven_sorts_hostile_versions_without_panicking() {
    const BITS: [&str; 24] = [
        "0", "00", "1", "2", "10", ".", ".", "-", "-", "a", "b", "m", "alpha", "rc", "cr", "sp",
        "ga", "final", "zdev", "~", "snapshot", "x", "", "_",
    ];
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    for round in 0..200 {
        let mut versions: Vec<Version> = (0..200)
            .filter_map(|_| {
                let s: String = (0..1 + rng.below(8))
                    .map(|_| BITS[rng.below(BITS.len())])
                    .collect();
                Format::Maven.parse(&s).ok()
            })
            .collect();
        versions.sort();
        for w in versions.windows(2) {
            assert!(w[0] <= w[1], "round {round}: {} > {}", w[0], w[1]);
        }
        for i in 0..versions.len() {
            for j in i + 1..versions.len() {
                assert_ne!(
                    versions[i].cmp(&versions[j]),
                    Ordering::Greater,
                    "round {round}: {} > {}",
                    versions[i],
                    versions[j]
                );
            }
        }
    }
}

/// `../testdata/generated/constraint-<format>.tsv`, written by the ecosystem's own tool
/// (`testdata/generate/generate_constraints.py`): version, constraint, `true`/`false`/`invalid`.
fn constraint_oracle(format: Format, text: &str) -> usize {
    let mut failures = Vec::new();
    let mut n = 0;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(f.len(), 3, "{line:?}");
        n += 1;
        let parsed = crate::Constraint::parse(format, f[1]);
        match (f[2], parsed) {
            ("invalid", Err(_)) => {}
            ("invalid", Ok(_)) => {
                failures.push(format!("{:?}: the tool rejects it, we accept", f[1]))
            }
            (_, Err(e)) => {
                failures.push(format!("{:?}: the tool accepts it, we reject: {e}", f[1]))
            }
            (want, Ok(c)) => match c.matches_str(f[0]) {
                Ok(got) if got.to_string() == want => {}
                got => failures.push(format!("{} in {:?}: tool {want}, we {got:?}", f[0], f[1])),
            },
        }
    }
    assert!(
        failures.is_empty(),
        "{format}: {} of {n} disagree:\n{}",
        failures.len(),
        failures.join("\n")
    );
    n
}

#[test]
fn constraint_oracles_agree() {
    let files = [
        (
            Format::Gem,
            include_str!("../testdata/generated/constraint-gem.tsv"),
        ),
        (
            Format::Pep440,
            include_str!("../testdata/generated/constraint-pep440.tsv"),
        ),
        (
            Format::Composer,
            include_str!("../testdata/generated/constraint-composer.tsv"),
        ),
        (
            Format::Semver,
            include_str!("../testdata/generated/constraint-npm.tsv"),
        ),
    ];
    let only = std::env::var("ORACLE").ok();
    for (format, text) in files {
        if only.as_deref().is_some_and(|o| o != format.name()) {
            continue;
        }
        assert!(constraint_oracle(format, text) > 2_500, "{format}");
    }
}
