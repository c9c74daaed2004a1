use serde_json::json;

use super::*;

#[test]
fn the_record_is_what_the_domain_serialised() {
    let domain = sample_lablet();
    assert_eq!(
        serde_json::to_value(Lablet::from(&domain)).unwrap(),
        serde_json::to_value(&domain).unwrap()
    );
    // A fresh booking: nothing observed yet.
    let mut fresh = domain;
    fresh.spec.reservation_id = None;
    fresh.status = ccm_core::lablet::LabletStatus {
        phase: ccm_core::lablet::LabletPhase::Pending,
        worker_id: None,
        cml_lab_id: None,
        ports: Vec::new(),
        access: Vec::new(),
        attempts: 0,
        last_error: None,
        history: VecDeque::new(),
    };
    assert_eq!(
        serde_json::to_value(Lablet::from(&fresh)).unwrap(),
        serde_json::to_value(&fresh).unwrap()
    );
}

#[test]
fn every_phase_keeps_its_name() {
    for phase in ccm_core::lablet::LabletPhase::ALL {
        assert_eq!(
            serde_json::to_value(LabletPhase::from(*phase)).unwrap(),
            serde_json::to_value(phase).unwrap()
        );
    }
}

#[test]
fn bookings_are_read_as_before() {
    let id = "00000000-0000-0000-0000-000000000001";
    let slot = json!({"start": "2026-01-01T10:00:00Z", "end": "2026-01-01T12:00:00Z"});
    let body: CreateLablet =
        serde_json::from_value(json!({"definition_id": id, "timeslot": slot})).unwrap();
    assert_eq!((body.owner, body.reservation_id), (None, None));
    let full =
        json!({"definition_id": id, "timeslot": slot, "owner": "bob", "reservation_id": "r1"});
    let body: CreateLablet = serde_json::from_value(full).unwrap();
    assert_eq!(body.owner.as_deref(), Some("bob"));
    let domain: ccm_core::lablet::Timeslot = body.timeslot.into();
    assert_eq!(domain, serde_json::from_value(slot.clone()).unwrap());
    for bad in [
        json!({"definition_id": id, "timeslot": slot, "extra": 1}),
        json!({"definition_id": id}),
        json!({"definition_id": id, "timeslot": {"start": "2026-01-01T10:00:00Z"}}),
    ] {
        assert!(serde_json::from_value::<CreateLablet>(bad).is_err());
    }
}

#[test]
fn the_list_query_reads_as_before() {
    let query: LabletListQuery = serde_json::from_value(
        json!({"phase": "running,ready", "worker_id": "00000000-0000-0000-0000-000000000002"}),
    )
    .unwrap();
    assert_eq!(query.phase.as_deref(), Some("running,ready"));
    assert!(serde_json::from_value::<LabletListQuery>(json!({"status": "running"})).is_err());
    assert!(serde_json::from_value::<LabletListQuery>(json!({"worker_id": "w1"})).is_err());
}
