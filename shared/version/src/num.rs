//! Non-negative integers of any length, compared numerically.
//!
//! Every ecosystem here allows numeric components longer than 64 bits (dates, build
//! stamps); keeping the digits avoids overflow and keeps the comparison exact.

use std::cmp::Ordering;

/// Decimal digits without leading zeros (zero is the empty string).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub(crate) struct Num(Box<str>);

impl Num {
    /// `digits` must be ASCII digits (may be empty, meaning zero).
    pub(crate) fn from_digits(digits: &str) -> Self {
        Self(digits.trim_start_matches('0').into())
    }

    pub(crate) fn from_u64(n: u64) -> Self {
        if n == 0 {
            Self::default()
        } else {
            Self(n.to_string().into())
        }
    }

    /// This number plus one.
    pub(crate) fn succ(&self) -> Self {
        let mut digits: Vec<u8> = self.0.bytes().collect();
        let mut i = digits.len();
        loop {
            if i == 0 {
                digits.insert(0, b'1');
                break;
            }
            i -= 1;
            if digits[i] == b'9' {
                digits[i] = b'0';
            } else {
                digits[i] += 1;
                break;
            }
        }
        Self(String::from_utf8(digits).unwrap_or_default().into())
    }

    pub(crate) fn is_zero(&self) -> bool {
        self.0.is_empty()
    }
}

impl Ord for Num {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0
            .len()
            .cmp(&other.0.len())
            .then_with(|| self.0.cmp(&other.0))
    }
}

impl std::fmt::Display for Num {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() { "0" } else { &self.0 })
    }
}

impl PartialOrd for Num {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// True when `s` is non-empty and all ASCII digits.
pub(crate) fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}
