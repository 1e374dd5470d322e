//! Trigger parameters: their validators (as in the policy spec) and typed access at evaluation.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;

/// How a parameter value is validated, one per validator type in `generated_policy_spec.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validator {
    /// `type`: any string.
    Str,
    /// `EnumString`: one of the values, exactly.
    Enum(&'static [&'static str]),
    /// `BooleanString`: `true`/`false`, case-insensitive.
    BoolStr,
    /// `IntegerString`: `^\s*[\d]+\s*$`.
    IntStr,
    /// `FloatString`: `^\s*-*(\d)*(\.\d*)?\s*$`.
    FloatStr,
    /// `CommaDelimitedStringList`.
    CsvStrings,
    /// `CommaDelimitedStringOfNumbers`.
    CsvNumbers,
    /// `LinkedValidator` of `metadata/attribute`: the value's form depends on `attribute`.
    MetadataValue,
    /// Not in Anchore's spec (Enterprise's `distro/deny`): the value's form depends on `check`;
    /// the ordering checks need a dotted numeric version (`12`, `3.19.1`).
    DistroVersion,
}

static INT_RE: LazyLock<Regex> = LazyLock::new(|| re(r"^\s*[\d]+\s*$"));
static FLOAT_RE: LazyLock<Regex> = LazyLock::new(|| re(r"^\s*-*(\d)*(\.\d*)?\s*$"));
static CSV_RE: LazyLock<Regex> = LazyLock::new(|| re(r"^\s*(\s*([^,]+)\s*,)*\s*([^,]+){1}\s*$"));
static CSV_NUM_RE: LazyLock<Regex> = LazyLock::new(|| re(r"^\s*(\s*(\d+)\s*,)*\s*(\d+){1}\s*$"));
static SIZE_RE: LazyLock<Regex> = LazyLock::new(|| re(r"^([0-9]+)([kmgt]b)?$"));
static DOTTED_RE: LazyLock<Regex> = LazyLock::new(|| re(r"^\s*\d+(\.\d+)*\s*$"));

#[allow(clippy::expect_used)]
fn re(p: &str) -> Regex {
    Regex::new(p).expect("static validator regex compiles")
}

impl Validator {
    /// The spec's validator type name.
    pub fn type_name(self) -> &'static str {
        match self {
            Validator::Str => "type",
            Validator::Enum(_) => "EnumString",
            Validator::BoolStr => "BooleanString",
            Validator::IntStr => "IntegerString",
            Validator::FloatStr => "FloatString",
            Validator::CsvStrings => "CommaDelimitedStringList",
            Validator::CsvNumbers => "CommaDelimitedStringOfNumbers",
            Validator::MetadataValue | Validator::DistroVersion => "LinkedValidator",
        }
    }

    /// Checks one value; `params` gives the other parameters of the rule (for linked validators).
    pub(crate) fn check(self, value: &str, params: &Params) -> Result<(), String> {
        let ok = match self {
            Validator::Str => true,
            Validator::Enum(values) => values.contains(&value),
            Validator::BoolStr => matches!(value.to_ascii_lowercase().as_str(), "true" | "false"),
            Validator::IntStr => INT_RE.is_match(value),
            Validator::FloatStr => FLOAT_RE.is_match(value) && parse_float(value).is_some(),
            Validator::CsvStrings => CSV_RE.is_match(value),
            Validator::CsvNumbers => CSV_NUM_RE.is_match(value),
            Validator::MetadataValue => match params.str("attribute") {
                Some("size") => SIZE_RE.is_match(value),
                Some("layer_count") => INT_RE.is_match(value),
                _ => true,
            },
            Validator::DistroVersion => match params.str("check") {
                Some("<" | "<=" | ">" | ">=") => DOTTED_RE.is_match(value),
                _ => !value.trim().is_empty(),
            },
        };
        if ok {
            Ok(())
        } else {
            Err(self.describe())
        }
    }

    fn describe(self) -> String {
        match self {
            Validator::Str => "A single value of a basic json type: string".to_string(),
            Validator::Enum(values) => format!("One of [{}]", crate::pyfmt::py_list(values)),
            Validator::BoolStr => {
                "Value must be string representation of a boolean. One of: [\"true\",\"false\"], case insensitive"
                    .to_string()
            }
            Validator::IntStr => "Single integer number as a string".to_string(),
            Validator::FloatStr => "Single float number as a string".to_string(),
            Validator::CsvStrings => "Comma delimited list of strings".to_string(),
            Validator::CsvNumbers => "Comma delimited list of numbers".to_string(),
            Validator::MetadataValue => {
                "Validates a value based on the value of another parameter. If that parameter fails validation so will this one"
                    .to_string()
            }
            Validator::DistroVersion => {
                "A distro version: not empty, and dotted numbers (e.g. \"12\", \"3.19\") for the checks <, <=, >, >="
                    .to_string()
            }
        }
    }
}

/// Python's `float()` on a FloatString value (`"-5"` and `"5."` are floats, `""` is not).
fn parse_float(v: &str) -> Option<f64> {
    let t = v.trim();
    let neg = t.starts_with('-');
    let body = t.trim_start_matches('-');
    if t.matches('-').count() > 1 || body.is_empty() || body == "." {
        return None;
    }
    let f: f64 = body.parse().ok()?;
    Some(if neg { -f } else { f })
}

/// The parameters of one rule, names lower-cased, values as given.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Params {
    values: BTreeMap<String, String>,
}

impl Params {
    pub(crate) fn new(values: BTreeMap<String, String>) -> Params {
        Params { values }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&String, &String)> {
        self.values.iter()
    }

    /// The raw string value.
    pub(crate) fn str(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    pub(crate) fn bool(&self, name: &str) -> Option<bool> {
        self.str(name).map(|v| v.trim().eq_ignore_ascii_case("true"))
    }

    pub(crate) fn int(&self, name: &str) -> Option<i64> {
        self.str(name).and_then(|v| v.trim().parse().ok())
    }

    pub(crate) fn float(&self, name: &str) -> Option<f64> {
        self.str(name).and_then(parse_float)
    }

    /// A comma-delimited list, items trimmed, empty items dropped.
    pub(crate) fn csv(&self, name: &str) -> Option<Vec<String>> {
        self.str(name).map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
    }

    /// A comma-delimited list of numbers, as Anchore reads them (`"022"` is 22).
    pub(crate) fn csv_numbers(&self, name: &str) -> Option<Vec<u64>> {
        self.csv(name).map(|items| items.iter().filter_map(|s| s.parse().ok()).collect())
    }

    /// `{'name': 'value', …}`, as Anchore prints parameters in evaluation errors.
    pub(crate) fn py_repr(&self) -> String {
        let items: Vec<String> = self
            .values
            .iter()
            .map(|(k, v)| format!("{}: {}", crate::pyfmt::py_str_repr(k), crate::pyfmt::py_str_repr(v)))
            .collect();
        format!("{{{}}}", items.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validators_follow_the_spec_patterns() {
        let p = Params::default();
        assert!(Validator::IntStr.check(" 10 ", &p).is_ok());
        assert!(Validator::IntStr.check("1.5", &p).is_err());
        assert!(Validator::FloatStr.check("7.5", &p).is_ok());
        assert!(Validator::FloatStr.check("abc", &p).is_err());
        assert!(Validator::CsvNumbers.check("22, 80,8080", &p).is_ok());
        assert!(Validator::CsvNumbers.check("22,ssh", &p).is_err());
        assert!(Validator::CsvStrings.check("GPL,BSD", &p).is_ok());
        assert!(Validator::CsvStrings.check("", &p).is_err());
        assert!(Validator::BoolStr.check("TRUE", &p).is_ok());
        assert!(Validator::BoolStr.check("yes", &p).is_err());
        assert!(Validator::Enum(&["a", "b"]).check("A", &p).is_err());
        let size = Params::new([("attribute".to_string(), "size".to_string())].into());
        assert!(Validator::MetadataValue.check("10gb", &size).is_ok());
        assert!(Validator::MetadataValue.check("ten", &size).is_err());
        let lt = Params::new([("check".to_string(), "<".to_string())].into());
        assert!(Validator::DistroVersion.check("3.19", &lt).is_ok());
        assert!(Validator::DistroVersion.check("bookworm/sid", &lt).is_err());
        let eq = Params::new([("check".to_string(), "=".to_string())].into());
        assert!(Validator::DistroVersion.check("bookworm/sid", &eq).is_ok());
        assert!(Validator::DistroVersion.check(" ", &eq).is_err());
    }
}
