//! A lab as ccm mirrors it from a worker's CML.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::ids::{CmlLabId, LabRecordId, WorkerId};
use crate::time::Timestamp;

/// What one lab's nodes take on their worker, summed from its node list
/// (`GET /labs/{id}/nodes?data=true&operational=true`): CPUs and memory of the nodes that run
/// (CML states `QUEUED`, `STARTED`, `BOOTED`), disk of every node (boot disk
/// plus data volume; a wiped node keeps none on CML, but CML reports its size
/// regardless, so a defined lab counts as taking it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabUsage {
    /// vCPUs allocated to running nodes.
    pub cpus: u32,
    /// Memory of running nodes, MiB.
    pub memory_mib: u64,
    /// Disk of all nodes, GiB.
    pub disk_gib: u64,
    /// Nodes that run.
    pub running_nodes: u32,
}

/// Lab state as CML reports it. Unknown strings are kept as [`LabState::Unknown`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LabState {
    /// Never started, or wiped.
    DefinedOnCore,
    /// Stopped (nodes keep their disks).
    Stopped,
    /// Started (nodes may still be booting).
    Started,
    /// Anything else CML may answer.
    #[serde(other)]
    Unknown,
}

impl LabState {
    /// Parses CML's state text; unknown text is [`LabState::Unknown`], never an error.
    pub fn from_cml(text: &str) -> Self {
        match text {
            "DEFINED_ON_CORE" => LabState::DefinedOnCore,
            "STOPPED" => LabState::Stopped,
            "STARTED" => LabState::Started,
            _ => LabState::Unknown,
        }
    }

    /// CML's spelling.
    pub fn as_cml(self) -> &'static str {
        match self {
            LabState::DefinedOnCore => "DEFINED_ON_CORE",
            LabState::Stopped => "STOPPED",
            LabState::Started => "STARTED",
            LabState::Unknown => "UNKNOWN",
        }
    }
}

/// One entry of a lab's operation history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabOperation {
    /// When it happened or was observed.
    pub at: Timestamp,
    /// What happened (`started`, `state STOPPED → STARTED`, `imported`…).
    pub action: String,
    /// Who did it, when known (`sync` for observed changes).
    pub actor: Option<String>,
}

/// A lab on a worker, as last synchronised.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabRecord {
    /// ccm's id for the record.
    pub id: LabRecordId,
    /// The worker hosting the lab.
    pub worker_id: WorkerId,
    /// CML's lab id.
    pub cml_lab_id: CmlLabId,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Owner user name.
    pub owner: Option<String>,
    /// Last known state.
    pub state: LabState,
    /// Node count.
    pub node_count: u32,
    /// Link count.
    pub link_count: u32,
    /// First time a sync saw it.
    pub first_seen_at: Timestamp,
    /// Last successful sync.
    pub last_synced_at: Timestamp,
    /// True once the lab disappeared from CML.
    pub gone: bool,
    /// What its nodes take on the worker (CPUs and memory while they run, disk
    /// always), as last read; `None` until read.
    #[serde(default)]
    pub usage: Option<LabUsage>,
    /// Newest first, at most [`LabRecord::HISTORY_CAP`].
    #[serde(default)]
    pub history: VecDeque<LabOperation>,
    /// Store version (optimistic concurrency).
    #[serde(default)]
    pub version: u64,
}

impl LabRecord {
    /// How many operations are remembered.
    pub const HISTORY_CAP: usize = 50;

    /// Appends an operation, dropping the oldest past the cap.
    pub fn record(&mut self, operation: LabOperation) {
        self.history.push_front(operation);
        self.history.truncate(Self::HISTORY_CAP);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::epoch;

    #[test]
    fn unknown_states_are_kept_as_unknown() {
        assert_eq!(LabState::from_cml("STARTED"), LabState::Started);
        assert_eq!(LabState::from_cml("BOOTING_WEIRD"), LabState::Unknown);
        let parsed: LabState = serde_json::from_str("\"QUEUED\"").unwrap();
        assert_eq!(parsed, LabState::Unknown);
        let s = serde_json::to_string(&LabState::DefinedOnCore).unwrap();
        assert_eq!(s, "\"DEFINED_ON_CORE\"");
    }

    #[test]
    fn history_is_capped_at_fifty() {
        let mut lab = LabRecord {
            id: LabRecordId::from_u128(1),
            worker_id: WorkerId::from_u128(2),
            cml_lab_id: CmlLabId::new("lab"),
            title: "t".into(),
            description: String::new(),
            owner: None,
            state: LabState::DefinedOnCore,
            node_count: 0,
            link_count: 0,
            first_seen_at: epoch(),
            last_synced_at: epoch(),
            gone: false,
            usage: None,
            history: VecDeque::new(),
            version: 0,
        };
        for i in 0..60 {
            lab.record(LabOperation {
                at: epoch(),
                action: format!("op{i}"),
                actor: None,
            });
        }
        assert_eq!(lab.history.len(), LabRecord::HISTORY_CAP);
        assert_eq!(lab.history[0].action, "op59");
    }
}
