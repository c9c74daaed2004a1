//! Labs on the wire: a worker's CML lab as ccm mirrors it ([`LabRecord`]), and
//! the queries of `/api/v1/workers/{id}/labs…`. The lab import takes a YAML
//! topology as its body (not described here: it is text).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::Example;
use ccm_core::lab as core;

/// What one lab's nodes take on their worker: CPUs and memory of the nodes that
/// run, disk of every node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
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

impl From<&core::LabUsage> for LabUsage {
    fn from(u: &core::LabUsage) -> Self {
        Self {
            cpus: u.cpus,
            memory_mib: u.memory_mib,
            disk_gib: u.disk_gib,
            running_nodes: u.running_nodes,
        }
    }
}

/// Lab state as CML reports it; any other text reads as `UNKNOWN`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
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

impl From<core::LabState> for LabState {
    fn from(s: core::LabState) -> Self {
        match s {
            core::LabState::DefinedOnCore => Self::DefinedOnCore,
            core::LabState::Stopped => Self::Stopped,
            core::LabState::Started => Self::Started,
            core::LabState::Unknown => Self::Unknown,
        }
    }
}

/// One entry of a lab's operation history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LabOperation {
    /// When it happened or was observed.
    pub at: DateTime<Utc>,
    /// What happened (`started`, `state STOPPED → STARTED`, `imported`…).
    pub action: String,
    /// Who did it, when known (`sync` for observed changes).
    pub actor: Option<String>,
}

impl From<&core::LabOperation> for LabOperation {
    fn from(o: &core::LabOperation) -> Self {
        Self {
            at: o.at,
            action: o.action.clone(),
            actor: o.actor.clone(),
        }
    }
}

/// A lab on a worker, as last synchronised from its CML.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LabRecord {
    /// ccm's id for the record.
    pub id: Uuid,
    /// The worker hosting the lab.
    pub worker_id: Uuid,
    /// CML's lab id (kept verbatim).
    pub cml_lab_id: String,
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
    pub first_seen_at: DateTime<Utc>,
    /// Last successful sync.
    pub last_synced_at: DateTime<Utc>,
    /// True once the lab disappeared from CML.
    pub gone: bool,
    /// What its nodes take on the worker, as last read; `null` until read.
    #[serde(default)]
    pub usage: Option<LabUsage>,
    /// Operations, newest first, at most 50.
    #[serde(default)]
    pub history: Vec<LabOperation>,
    /// Store version (optimistic concurrency).
    #[serde(default)]
    pub version: u64,
}

impl From<&core::LabRecord> for LabRecord {
    fn from(l: &core::LabRecord) -> Self {
        Self {
            id: l.id.0,
            worker_id: l.worker_id.0,
            cml_lab_id: l.cml_lab_id.0.clone(),
            title: l.title.clone(),
            description: l.description.clone(),
            owner: l.owner.clone(),
            state: l.state.into(),
            node_count: l.node_count,
            link_count: l.link_count,
            first_seen_at: l.first_seen_at,
            last_synced_at: l.last_synced_at,
            gone: l.gone,
            usage: l.usage.as_ref().map(Into::into),
            history: l.history.iter().map(Into::into).collect(),
            version: l.version,
        }
    }
}

impl From<core::LabRecord> for LabRecord {
    fn from(l: core::LabRecord) -> Self {
        Self::from(&l)
    }
}

/// A lab with every optional part filled.
fn sample_lab() -> core::LabRecord {
    let at = crate::worker::sample_at();
    core::LabRecord {
        id: ccm_core::ids::LabRecordId::from_u128(0x0193_5c2e_7d40_7c1a_9f00_0000_0000_0010),
        worker_id: ccm_core::ids::WorkerId::from_u128(0x0193_5c2e_7d40_7c1a_9f00_0000_0000_0001),
        cml_lab_id: ccm_core::ids::CmlLabId::new("5a3b2c1d-0000-4000-8000-00000000000a"),
        title: "OSPF basics".into(),
        description: "Two routers and a switch".into(),
        owner: Some("alice".into()),
        state: core::LabState::Started,
        node_count: 3,
        link_count: 2,
        first_seen_at: at,
        last_synced_at: at,
        gone: false,
        usage: Some(core::LabUsage {
            cpus: 3,
            memory_mib: 3072,
            disk_gib: 24,
            running_nodes: 3,
        }),
        history: vec![core::LabOperation {
            at,
            action: "started".into(),
            actor: Some("alice".into()),
        }]
        .into(),
        version: 7,
    }
}

impl Example for LabRecord {
    fn example() -> Self {
        Self::from(&sample_lab())
    }
}

/// Query of `GET /api/v1/workers/{id}/labs`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LabListQuery {
    /// Include labs gone from CML.
    #[serde(default)]
    pub include_gone: bool,
}

/// Query of the lab operations that destroy what a student works on (wipe, delete).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LabForceQuery {
    /// Go ahead with the lab of a lablet (409 `lab_in_use` otherwise); the
    /// lablet is cancelled.
    #[serde(default)]
    pub force: bool,
}

/// Query of `POST /api/v1/workers/{id}/labs` (the body is the YAML topology).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LabImportQuery {
    /// Lab title (the topology's when absent).
    pub title: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_wire_lab_is_the_domain_lab_as_json() {
        let domain = sample_lab();
        assert_eq!(
            serde_json::to_string(&LabRecord::from(&domain)).unwrap(),
            serde_json::to_string(&domain).unwrap()
        );
        for state in [
            core::LabState::DefinedOnCore,
            core::LabState::Stopped,
            core::LabState::Started,
            core::LabState::Unknown,
        ] {
            assert_eq!(
                serde_json::to_string(&LabState::from(state)).unwrap(),
                serde_json::to_string(&state).unwrap()
            );
        }
        let queued: LabState = serde_json::from_value(json!("QUEUED")).unwrap();
        assert_eq!(queued, LabState::Unknown);
    }

    #[test]
    fn queries_take_what_they_took() {
        let q: LabListQuery = serde_json::from_value(json!({})).unwrap();
        assert!(!q.include_gone);
        let f: LabForceQuery = serde_json::from_value(json!({"force": true})).unwrap();
        assert!(f.force);
        let i: LabImportQuery = serde_json::from_value(json!({"title": "t"})).unwrap();
        assert_eq!(i.title.as_deref(), Some("t"));
        assert!(serde_json::from_value::<LabListQuery>(json!({"gone": true})).is_err());
        assert!(serde_json::from_value::<LabForceQuery>(json!({"forced": true})).is_err());
        assert!(serde_json::from_value::<LabImportQuery>(json!({"name": "t"})).is_err());
    }
}
