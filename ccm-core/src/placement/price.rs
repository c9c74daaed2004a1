//! What new workers would offer and cost, for scale-up suggestions.

use serde::{Deserialize, Serialize};

use crate::domain_error::DomainError;
use crate::resources::{PortRange, Resources};
use crate::version::SemVer;
use crate::worker::LicenceKind;

/// An EC2 instance type a new worker could be launched as.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InstanceType {
    /// EC2 name (`m5zn.metal`).
    pub name: String,
    /// What a new worker of this type offers to labs.
    pub capacity: Resources,
    /// CML node slots it would accept (before the licence limit).
    pub node_slots: u32,
    /// On-demand price per hour, USD.
    pub hourly_usd: f64,
}

impl InstanceType {
    /// A type offering `cpus` vCPU, `memory_gib` GiB and `storage_gib` GiB.
    pub fn new(
        name: impl Into<String>,
        cpus: u64,
        memory_gib: u64,
        storage_gib: u64,
        node_slots: u32,
        hourly_usd: f64,
    ) -> Self {
        Self {
            name: name.into(),
            capacity: Resources::new(cpus, memory_gib, storage_gib),
            node_slots,
            hourly_usd,
        }
    }

    /// A price that can be compared: finite and not negative.
    pub(crate) fn has_usable_price(&self) -> bool {
        self.hourly_usd.is_finite() && self.hourly_usd >= 0.0
    }
}

/// The instance types scale-up may choose from. Prices differ by region and change,
/// so the table is configuration, not code; the default is a starting point.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PriceTable {
    /// Candidate types, in order of preference when costs tie.
    pub types: Vec<InstanceType>,
}

impl Default for PriceTable {
    /// Bare-metal types (CML needs nested virtualisation) at us-east-1 on-demand
    /// Linux prices, each with a 1,000 GiB volume and about two node slots per vCPU.
    fn default() -> Self {
        Self {
            types: vec![
                InstanceType::new("m5zn.metal", 48, 192, 1000, 100, 3.9641),
                InstanceType::new("c5.metal", 96, 192, 1000, 200, 4.08),
                InstanceType::new("z1d.metal", 48, 384, 1000, 100, 4.464),
                InstanceType::new("m5.metal", 96, 384, 1000, 200, 4.608),
                InstanceType::new("r5.metal", 96, 768, 1000, 200, 6.048),
                InstanceType::new("m6i.metal", 128, 512, 1000, 256, 6.144),
            ],
        }
    }
}

impl PriceTable {
    /// Rejects tables that would make suggestions meaningless: unnamed or duplicate
    /// types and prices that are negative or not numbers. (Scale-up itself skips
    /// such types rather than failing.)
    pub fn validate(&self) -> Result<(), DomainError> {
        for (i, t) in self.types.iter().enumerate() {
            let field = || format!("types[{i}]");
            if t.name.trim().is_empty() {
                return Err(DomainError::validation(
                    field() + ".name",
                    "must not be empty",
                ));
            }
            if !t.has_usable_price() {
                return Err(DomainError::validation(
                    field() + ".hourly_usd",
                    "must be a finite, non-negative price",
                ));
            }
            if self.types.iter().take(i).any(|other| other.name == t.name) {
                return Err(DomainError::validation(field() + ".name", "duplicate type"));
            }
        }
        Ok(())
    }
}

/// What a freshly launched worker is assumed to run: it has no observed licence or
/// CML version yet, so suggestions use this profile to decide which lablets it takes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewWorkerProfile {
    /// Licence kind new workers register with.
    pub licence: Option<LicenceKind>,
    /// CML version of the worker image.
    pub cml_version: Option<SemVer>,
    /// Node limit of that licence; `None` for none beyond the node slots.
    pub node_limit: Option<u32>,
    /// Ports lablets may be given.
    pub port_range: PortRange,
}

impl Default for NewWorkerProfile {
    fn default() -> Self {
        Self {
            licence: Some(LicenceKind::Enterprise),
            cml_version: Some(SemVer::new(2, 9, 0)),
            node_limit: None,
            port_range: PortRange::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_table_is_valid_and_starts_with_m5zn() {
        let table = PriceTable::default();
        table.validate().unwrap();
        let m5zn = &table.types[0];
        assert_eq!(m5zn.name, "m5zn.metal");
        assert_eq!(m5zn.capacity, Resources::new(48, 192, 1000));
        assert!((m5zn.hourly_usd - 3.96).abs() < 0.01);
    }

    #[test]
    fn validation_names_the_bad_entry() {
        let mut table = PriceTable::default();
        table.types[2].hourly_usd = f64::NAN;
        let err = table.validate().unwrap_err();
        assert!(err.to_string().contains("types[2].hourly_usd"), "{err}");
        let mut table = PriceTable::default();
        table.types[1].name = "m5zn.metal".into();
        assert!(table
            .validate()
            .unwrap_err()
            .to_string()
            .contains("duplicate"));
        let table = PriceTable {
            types: vec![InstanceType::new(" ", 1, 1, 1, 1, 1.0)],
        };
        assert!(table.validate().is_err());
    }

    #[test]
    fn table_round_trips_through_json() {
        let table = PriceTable::default();
        let json = serde_json::to_string(&table).unwrap();
        assert_eq!(serde_json::from_str::<PriceTable>(&json).unwrap(), table);
    }
}
