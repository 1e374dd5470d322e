//! Affected-version ranges: OSV `ranges[].events` and NVD CPE-match bounds.

use std::cmp::Ordering;

use crate::{Format, RangeError, Version};

/// An OSV range's `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OsvRangeType {
    /// Versions in the ecosystem's own format.
    Ecosystem,
    /// SemVer 2.0.0 versions (without a `v` prefix), whatever the ecosystem.
    Semver,
    /// Commit hashes; cannot be evaluated.
    Git,
}

/// One OSV event, as written in the record.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum OsvEvent {
    /// `introduced`; `"0"` means "from the first version".
    Introduced(String),
    /// `fixed`: the first version not affected.
    Fixed(String),
    /// `last_affected`: the last version affected.
    LastAffected(String),
    /// `limit`: an upper bound on the versions the range applies to; `"*"` means none.
    Limit(String),
}

/// A bound: below every version (`"0"` introduced), at a version, or above every version
/// (`"*"` limit).
#[derive(Debug, Clone)]
enum Point {
    Min,
    At(Version),
    Max,
}

impl Point {
    fn cmp_version(&self, v: &Version) -> Ordering {
        match self {
            Point::Min => Ordering::Less,
            Point::At(p) => p.cmp(v),
            Point::Max => Ordering::Greater,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    // Tie order at one version: introduced first, so a version both introduced and fixed at the
    // same point is not affected.
    Introduced,
    Fixed,
    LastAffected,
}

/// The NVD CPE match fields that bound a version range.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NvdBounds<'a> {
    /// `versionStartIncluding`.
    pub start_including: Option<&'a str>,
    /// `versionStartExcluding`.
    pub start_excluding: Option<&'a str>,
    /// `versionEndIncluding`.
    pub end_including: Option<&'a str>,
    /// `versionEndExcluding`.
    pub end_excluding: Option<&'a str>,
}

/// A set of affected versions of one format, ready to be asked about versions.
#[derive(Debug, Clone)]
pub struct Range {
    format: Format,
    shape: Shape,
}

#[derive(Debug, Clone)]
enum Shape {
    Osv {
        events: Vec<(Kind, Point)>,
        limits: Vec<Point>,
    },
    Nvd {
        start: Option<Box<(Version, bool)>>,
        end: Option<Box<(Version, bool)>>,
    },
}

impl Range {
    /// Builds an OSV range. `ecosystem` is the package's format (from
    /// [`Format::for_ecosystem`]); `SEMVER` ranges use SemVer (Go's flavour for Go).
    /// Every event version is parsed now, so a malformed record fails here, with the version.
    pub fn osv(
        range_type: OsvRangeType,
        ecosystem: Format,
        events: &[OsvEvent],
    ) -> Result<Range, RangeError> {
        let format = match range_type {
            OsvRangeType::Git => return Err(RangeError::GitRange),
            OsvRangeType::Semver if ecosystem == Format::Go => Format::Go,
            OsvRangeType::Semver => Format::Semver,
            OsvRangeType::Ecosystem => ecosystem,
        };
        let mut parsed = Vec::new();
        let mut limits = Vec::new();
        for event in events {
            match event {
                OsvEvent::Introduced(v) if v == "0" => parsed.push((Kind::Introduced, Point::Min)),
                OsvEvent::Introduced(v) => {
                    parsed.push((Kind::Introduced, Point::At(format.parse(v)?)));
                }
                OsvEvent::Fixed(v) => parsed.push((Kind::Fixed, Point::At(format.parse(v)?))),
                OsvEvent::LastAffected(v) => {
                    parsed.push((Kind::LastAffected, Point::At(format.parse(v)?)));
                }
                OsvEvent::Limit(v) if v == "*" => limits.push(Point::Max),
                OsvEvent::Limit(v) => limits.push(Point::At(format.parse(v)?)),
            }
        }
        // Insertion sort: Maven's order is not total on odd strings, and `slice::sort` may panic
        // on such an order; a range must never panic on feed data.
        for i in 1..parsed.len() {
            let mut j = i;
            while j > 0 && {
                let ((ka, a), (kb, b)) = (&parsed[j - 1], &parsed[j]);
                cmp_points(a, b).then(ka.cmp(kb)).is_gt()
            } {
                parsed.swap(j - 1, j);
                j -= 1;
            }
        }
        Ok(Range {
            format,
            shape: Shape::Osv {
                events: parsed,
                limits,
            },
        })
    }

    /// Builds a range from an NVD CPE match's `versionStart*`/`versionEnd*` fields, whose
    /// versions are read in `format` (NVD does not say; the caller knows the package).
    /// With no bound at all the range contains every version.
    pub fn nvd(format: Format, bounds: NvdBounds<'_>) -> Result<Range, RangeError> {
        let side = |including: Option<&str>, excluding: Option<&str>, name: &'static str| match (
            including, excluding,
        ) {
            (Some(_), Some(_)) => Err(RangeError::ConflictingBounds { side: name }),
            (Some(v), None) => Ok(Some(Box::new((format.parse(v)?, true)))),
            (None, Some(v)) => Ok(Some(Box::new((format.parse(v)?, false)))),
            (None, None) => Ok(None),
        };
        let start = side(bounds.start_including, bounds.start_excluding, "Start")?;
        let end = side(bounds.end_including, bounds.end_excluding, "End")?;
        Ok(Range {
            format,
            shape: Shape::Nvd { start, end },
        })
    }

    /// The format the range's versions are in (the format `contains` expects).
    pub fn format(&self) -> Format {
        self.format
    }

    /// Whether `version` is in the range. Errors when `version` is of another format.
    ///
    /// OSV: the events are sorted by version and replayed (OSV schema, "Evaluation"): at or
    /// after `introduced` the version is affected, at or after `fixed` or after `last_affected`
    /// it is not; if `limit` events exist the version must also be below one of them.
    pub fn contains(&self, version: &Version) -> Result<bool, RangeError> {
        if version.format() != self.format {
            return Err(RangeError::FormatMismatch {
                range: self.format,
                version: version.format(),
            });
        }
        Ok(match &self.shape {
            Shape::Osv { events, limits } => {
                let below_limit =
                    limits.is_empty() || limits.iter().any(|l| l.cmp_version(version).is_gt());
                let mut affected = false;
                for (kind, point) in events {
                    let o = point.cmp_version(version); // point vs version
                    match kind {
                        Kind::Introduced if o.is_le() => affected = true,
                        Kind::Fixed if o.is_le() => affected = false,
                        Kind::LastAffected if o.is_lt() => affected = false,
                        _ => {}
                    }
                }
                affected && below_limit
            }
            Shape::Nvd { start, end } => {
                let after_start = match start.as_deref() {
                    None => true,
                    Some((s, true)) => version >= s,
                    Some((s, false)) => version > s,
                };
                let before_end = match end.as_deref() {
                    None => true,
                    Some((e, true)) => version <= e,
                    Some((e, false)) => version < e,
                };
                after_start && before_end
            }
        })
    }

    /// Parses `version` in the range's format and asks [`Range::contains`].
    pub fn contains_str(&self, version: &str) -> Result<bool, RangeError> {
        self.contains(&self.format.parse(version)?)
    }
}

fn cmp_points(a: &Point, b: &Point) -> Ordering {
    match (a, b) {
        (Point::Min, Point::Min) | (Point::Max, Point::Max) => Ordering::Equal,
        (Point::Min, _) | (_, Point::Max) => Ordering::Less,
        (_, Point::Min) | (Point::Max, _) => Ordering::Greater,
        (Point::At(x), Point::At(y)) => x.cmp(y),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(events: &[(&str, &str)]) -> Vec<OsvEvent> {
        events
            .iter()
            .map(|(k, v)| match *k {
                "introduced" => OsvEvent::Introduced((*v).into()),
                "fixed" => OsvEvent::Fixed((*v).into()),
                "last_affected" => OsvEvent::LastAffected((*v).into()),
                _ => OsvEvent::Limit((*v).into()),
            })
            .collect()
    }

    #[test]
    fn osv_events() {
        let r = Range::osv(
            OsvRangeType::Ecosystem,
            Format::Pep440,
            &ev(&[
                ("introduced", "0"),
                ("fixed", "1.2"),
                ("introduced", "2.0"),
                ("last_affected", "2.3"),
            ]),
        )
        .unwrap();
        for (v, want) in [
            ("0.1", true),
            ("1.2rc1", true),
            ("1.2", false),
            ("1.9", false),
            ("2.0", true),
            ("2.3", true),
            ("2.3.post1", false),
            ("3", false),
        ] {
            assert_eq!(r.contains_str(v), Ok(want), "{v}");
        }
        let limited = Range::osv(
            OsvRangeType::Semver,
            Format::Semver,
            &ev(&[("introduced", "1.0.0"), ("limit", "1.5.0")]),
        )
        .unwrap();
        assert_eq!(limited.contains_str("1.4.9"), Ok(true));
        assert_eq!(limited.contains_str("1.5.0"), Ok(false));
        let go = Range::osv(
            OsvRangeType::Semver,
            Format::Go,
            &ev(&[("introduced", "0"), ("fixed", "1.2.3")]),
        )
        .unwrap();
        assert_eq!(
            go.contains_str("v1.2.3-0.20210101000000-abcdef123456"),
            Ok(true)
        );
        assert_eq!(go.contains_str("v1.2.3"), Ok(false));
    }

    #[test]
    fn osv_errors_name_the_input() {
        let e = Range::osv(
            OsvRangeType::Ecosystem,
            Format::Deb,
            &ev(&[("fixed", "1.0-")]),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid deb version \"1.0-\": revision number is empty"
        );
        assert_eq!(
            Range::osv(OsvRangeType::Git, Format::Go, &[]).unwrap_err(),
            RangeError::GitRange
        );
        let r = Range::osv(
            OsvRangeType::Ecosystem,
            Format::Deb,
            &ev(&[("introduced", "0")]),
        )
        .unwrap();
        let v = Format::Rpm.parse("1.0-1").unwrap();
        assert_eq!(
            r.contains(&v).unwrap_err().to_string(),
            "cannot test a rpm version against a deb range"
        );
    }

    #[test]
    fn nvd_bounds() {
        let r = Range::nvd(
            Format::Maven,
            NvdBounds {
                start_including: Some("2.0"),
                end_excluding: Some("2.15.0"),
                ..Default::default()
            },
        )
        .unwrap();
        for (v, want) in [
            ("1.9", false),
            ("2.0.0", true),
            ("2.15.0-rc1", true),
            ("2.15.0", false),
        ] {
            assert_eq!(r.contains_str(v), Ok(want), "{v}");
        }
        let r = Range::nvd(
            Format::Deb,
            NvdBounds {
                start_excluding: Some("1.0"),
                end_including: Some("1.1"),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(r.contains_str("1.0"), Ok(false));
        assert_eq!(r.contains_str("1.1"), Ok(true));
        assert!(matches!(
            Range::nvd(
                Format::Deb,
                NvdBounds {
                    end_including: Some("1"),
                    end_excluding: Some("2"),
                    ..Default::default()
                }
            ),
            Err(RangeError::ConflictingBounds { side: "End" })
        ));
    }
}
