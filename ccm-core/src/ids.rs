//! Typed identifiers: a worker id can never be passed where a lablet id is expected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh random identifier.
            pub fn new() -> Self {
                Self(Uuid::new_v4())
            }

            /// An identifier built from 128 bits; used by seeded simulations for repeatable ids.
            pub fn from_u128(bits: u128) -> Self {
                Self(Uuid::from_u128(bits))
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

uuid_id!(
    /// Identifier of a [`crate::worker::Worker`].
    WorkerId
);
uuid_id!(
    /// Identifier of a [`crate::lablet::Lablet`].
    LabletId
);
uuid_id!(
    /// Identifier of a [`crate::definition::LabletDefinition`] version.
    DefinitionId
);
uuid_id!(
    /// Identifier of a [`crate::lab::LabRecord`].
    LabRecordId
);
uuid_id!(
    /// Identifier of a domain event (distinct from its position in the log).
    EventId
);

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            /// Wraps a string.
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// The identifier as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self(value.to_owned())
            }
        }
    };
}

string_id!(
    /// An EC2 instance id such as `i-0abc…`.
    InstanceId
);
string_id!(
    /// An AWS region name such as `us-east-1`.
    Region
);
string_id!(
    /// An AMI id such as `ami-0abc…`.
    ImageId
);
string_id!(
    /// A lab id as CML reports it (a UUID string, kept verbatim).
    CmlLabId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_ids_round_trip_through_text_and_json() {
        let id = WorkerId::from_u128(42);
        let text = id.to_string();
        assert_eq!(text.parse::<WorkerId>().unwrap(), id);
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{text}\""));
        assert!("not-a-uuid".parse::<WorkerId>().is_err());
    }

    #[test]
    fn string_ids_serialize_as_plain_strings() {
        let id = InstanceId::new("i-123");
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"i-123\"");
        assert_eq!(id.as_str(), "i-123");
    }
}
