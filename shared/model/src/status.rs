use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Anchore's `analysis_status` state machine:
/// `not_analyzed → analyzing → analyzed | analysis_failed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnalysisStatus {
    NotAnalyzed,
    Analyzing,
    Analyzed,
    AnalysisFailed,
}

impl AnalysisStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::NotAnalyzed => "not_analyzed",
            Self::Analyzing => "analyzing",
            Self::Analyzed => "analyzed",
            Self::AnalysisFailed => "analysis_failed",
        }
    }

    /// A finished state: no analysis message is outstanding for the image.
    pub const fn is_terminal(self) -> bool {
        matches!(self, Self::Analyzed | Self::AnalysisFailed)
    }
}

/// Anchore's `image_status`: `active → deleting`, fault state `inactive`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageStatus {
    Active,
    Inactive,
    Deleting,
}

impl ImageStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Inactive => "inactive",
            Self::Deleting => "deleting",
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown status {0:?}")]
pub struct UnknownStatus(pub String);

impl FromStr for AnalysisStatus {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            Self::NotAnalyzed,
            Self::Analyzing,
            Self::Analyzed,
            Self::AnalysisFailed,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
        .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

impl FromStr for ImageStatus {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Self::Active, Self::Inactive, Self::Deleting]
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

impl fmt::Display for AnalysisStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for ImageStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_through_their_names() {
        for s in [
            AnalysisStatus::NotAnalyzed,
            AnalysisStatus::Analyzing,
            AnalysisStatus::Analyzed,
            AnalysisStatus::AnalysisFailed,
        ] {
            assert_eq!(s.as_str().parse::<AnalysisStatus>().ok(), Some(s));
        }
        assert!("queued".parse::<AnalysisStatus>().is_err());
    }
}
