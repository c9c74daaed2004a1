//! Which feasible worker a lablet goes to.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::index::Preference;
use crate::domain_error::DomainError;

/// How placement chooses among the workers that can take a lablet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    /// Best fit: the fullest feasible worker (least free memory, then CPU). Keeps
    /// lablets on as few workers as possible so the rest can be stopped: workers
    /// are billed per second whether or not they host anything.
    #[default]
    Pack,
    /// The feasible worker with the most headroom (most free memory, then CPU).
    /// Spreads load and blast radius when cost matters less than isolation.
    Spread,
    /// Time-aware best fit, after lifetime-aware VM placement (Google's LAVA):
    /// prefer a worker whose lablets end when this one ends, so that workers
    /// empty together and can be stopped sooner. Among the workers that can take
    /// the lablet, the first choice is one that is up anyway until after it ends
    /// (closest such end first), then the one whose stay it lengthens least, then
    /// an empty one; the fullest wins among equal ends. A request or worker with
    /// no end known is placed as [`Policy::Pack`] places it.
    Lifetime,
}

impl Policy {
    /// Stable lower-case name used in configuration and APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::Pack => "pack",
            Policy::Spread => "spread",
            Policy::Lifetime => "lifetime",
        }
    }

    pub(crate) fn preference(self) -> Preference {
        match self {
            Policy::Pack => Preference::Fullest,
            Policy::Spread => Preference::Emptiest,
            Policy::Lifetime => Preference::Fullest,
        }
    }

    /// True when the policy reads end times.
    pub(crate) fn is_timed(self) -> bool {
        self == Policy::Lifetime
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Policy {
    type Err = DomainError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "pack" => Ok(Policy::Pack),
            "spread" => Ok(Policy::Spread),
            "lifetime" => Ok(Policy::Lifetime),
            _ => Err(DomainError::validation(
                "policy",
                format!("`{text}` is not a placement policy (expected pack, spread or lifetime)"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for policy in [Policy::Pack, Policy::Spread, Policy::Lifetime] {
            assert_eq!(policy.as_str().parse::<Policy>().unwrap(), policy);
            let json = serde_json::to_string(&policy).unwrap();
            assert_eq!(json, format!("\"{policy}\""));
        }
        assert_eq!(" Spread ".parse::<Policy>().unwrap(), Policy::Spread);
        assert!("best".parse::<Policy>().is_err());
        assert_eq!(Policy::default(), Policy::Pack);
    }
}
