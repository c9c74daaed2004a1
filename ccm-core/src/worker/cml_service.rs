//! The CML service on a worker, as its API reports it. When it was last observed
//! is `metrics.cml.observed_at`; keeping no timestamp here means an unchanged
//! service emits no event on every sweep.

use serde::{Deserialize, Serialize};

/// Whether CML answers on the worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum CmlServiceState {
    /// No answer (instance not running, or network unreachable).
    #[default]
    Unavailable,
    /// Connection refused or 502 while the instance boots, or `ready: false`.
    Starting,
    /// Answers and at least one compute can start nodes.
    Available,
    /// Answers with errors that are not part of booting.
    Error,
}

/// Everything known about the CML service of a worker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct CmlService {
    /// Service state.
    pub state: CmlServiceState,
    /// Version string as reported (`2.9.1+build.7`).
    pub version: Option<String>,
    /// `ready` from `system_information`.
    pub ready: bool,
    /// Overall `valid` flag of `system_health`, when known.
    pub healthy: Option<bool>,
    /// Last error text, cleared by a successful observation.
    pub last_error: Option<String>,
    /// The TLS certificate trusted on first use, and a changed one waiting for an
    /// admin.
    #[serde(default)]
    pub certificate: CmlCertificate,
}

/// The worker's CML certificate as ccm trusts it (trust on first use): the
/// fingerprint seen at first contact is pinned; a different one is refused and
/// kept as `pending_sha256` until an admin accepts it. Fingerprints are the
/// lower-case hex SHA-256 of the leaf certificate's DER.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct CmlCertificate {
    /// The trusted fingerprint; `None` before the first contact.
    pub pinned_sha256: Option<String>,
    /// A different fingerprint the worker presented, refused until accepted.
    pub pending_sha256: Option<String>,
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use crate::ids::{Region, WorkerId};
    use crate::replay::EventSourced;
    use crate::resources::Resources;
    use crate::time::epoch;
    use crate::worker::{AlertMetric, Capacity, NewWorker, Worker};

    #[test]
    fn a_changed_certificate_waits_for_the_presented_fingerprint_and_replays() {
        let input = NewWorker {
            name: "w".into(),
            region: Region::new("us-east-1"),
            instance_type: "m5zn.metal".into(),
            capacity: Capacity::new(Resources::ZERO, 0),
            tags: BTreeMap::new(),
            labels: BTreeMap::new(),
            idle: Default::default(),
            created_by: None,
            image: None,
        };
        let (mut w, created) = Worker::create(WorkerId::from_u128(1), input, epoch());
        let mut log = vec![created];
        let mut cml = w.status.cml.clone();
        cml.certificate.pinned_sha256 = Some("aa".into());
        log.extend(w.observe_cml(cml, epoch()).unwrap());

        assert!(w.accept_cml_certificate("bb", None, epoch()).is_err());
        let changed = w
            .observe_cml_certificate_change("aa".into(), "bb".into(), epoch())
            .unwrap();
        assert_eq!(changed.len(), 2, "the change and its alert");
        assert!(w
            .observe_cml_certificate_change("aa".into(), "bb".into(), epoch())
            .unwrap()
            .is_empty());
        log.extend(changed);
        assert!(w.status.alerts.contains(&AlertMetric::CmlCertificate));
        assert!(w.accept_cml_certificate("aa", None, epoch()).is_err());

        log.extend(
            w.accept_cml_certificate("B:B", Some("admin".into()), epoch())
                .unwrap(),
        );
        let c = &w.status.cml.certificate;
        assert_eq!(c.pinned_sha256.as_deref(), Some("bb"));
        assert_eq!(c.pending_sha256, None);
        assert!(!w.status.alerts.contains(&AlertMetric::CmlCertificate));
        assert_eq!(Worker::from_events(&log).unwrap(), w);
    }
}
