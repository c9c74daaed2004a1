//! Semantic versions, parsed tolerantly: CML reports `2.9.1+build.7`, `2.11.0+sso`,
//! `2.4.0.dev0+build.f904bdf8`; only the leading `X.Y.Z` matters for compatibility.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// `major.minor.patch`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SemVer {
    /// Major version.
    pub major: u32,
    /// Minor version.
    pub minor: u32,
    /// Patch version.
    pub patch: u32,
}

impl SemVer {
    /// Builds a version.
    pub const fn new(major: u32, minor: u32, patch: u32) -> Self {
        Self {
            major,
            minor,
            patch,
        }
    }
}

/// Text that does not start with a version number.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a version (expected MAJOR.MINOR[.PATCH])")]
pub struct VersionParseError(pub String);

impl FromStr for SemVer {
    type Err = VersionParseError;

    /// Reads the leading numeric components and ignores any suffix
    /// (`-rc1`, `+build.7`, `.dev0`). The patch may be missing (`2.9` is `2.9.0`).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let err = || VersionParseError(text.to_owned());
        let trimmed = text.trim().trim_start_matches(['v', 'V']);
        let mut numbers = trimmed
            .split(['.', '+', '-'])
            .map(|part| part.parse::<u32>());
        let major = numbers.next().and_then(Result::ok).ok_or_else(err)?;
        let minor = numbers.next().and_then(Result::ok).ok_or_else(err)?;
        let patch = numbers.next().and_then(Result::ok).unwrap_or(0);
        Ok(SemVer::new(major, minor, patch))
    }
}

impl fmt::Display for SemVer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl Serialize for SemVer {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for SemVer {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cml_version_strings() {
        for (text, expected) in [
            ("2.9.1+build.7", SemVer::new(2, 9, 1)),
            ("2.11.0+sso", SemVer::new(2, 11, 0)),
            ("2.4.0.dev0+build.f904bdf8", SemVer::new(2, 4, 0)),
            ("2.9", SemVer::new(2, 9, 0)),
            ("v1.2.3-rc1", SemVer::new(1, 2, 3)),
        ] {
            assert_eq!(text.parse::<SemVer>().unwrap(), expected, "{text}");
        }
    }

    #[test]
    fn rejects_text_without_numbers() {
        for text in ["", "abc", "2", "x.9.1"] {
            assert!(text.parse::<SemVer>().is_err(), "{text}");
        }
    }

    #[test]
    fn orders_numerically() {
        assert!(SemVer::new(2, 10, 0) > SemVer::new(2, 9, 9));
        let json = serde_json::to_string(&SemVer::new(2, 9, 1)).unwrap();
        assert_eq!(json, "\"2.9.1\"");
        assert_eq!(
            serde_json::from_str::<SemVer>(&json).unwrap(),
            SemVer::new(2, 9, 1)
        );
    }
}
