//! On-demand lablets on the simulator: the estimate given at booking, kept
//! true by the controller with `lablet.rescheduled.v1` — moved earlier when the
//! lab is ready sooner, later when the estimate passes — and refused durations.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ccm_core::definition::{LabletDefinition, NewDefinition, ResourceNeeds};
use ccm_core::event::EventPayload;
use ccm_core::fleet::{FleetSettings, OnDemandLablet};
use ccm_core::ids::{LabletId, Region};
use ccm_core::lablet::{Lablet, LabletPhase, Timeslot};
use ccm_core::ports::{Clock, Store};
use ccm_core::resources::Resources;
use ccm_core::time::{seconds_between, Timestamp};
use ccm_core::CoreError;
use ccm_core::DomainError;

mod support;

use support::SimWorld as World;

async fn definition(w: &World) -> LabletDefinition {
    w.fleet
        .create_definition(NewDefinition {
            needs: ResourceNeeds {
                resources: Resources::new(4, 8, 20),
                nodes: 1,
                ports: 1,
            },
            max_duration_minutes: 120,
            ..support::ccna(0)
        })
        .await
        .unwrap()
}

fn now_on_demand(minutes: u32) -> OnDemandLablet {
    OnDemandLablet {
        owner: "student".into(),
        duration_minutes: minutes,
        reservation_id: None,
    }
}

/// Books an on-demand lablet of `minutes` now: when, and what the engine answered.
async fn book_now(w: &World, definition: &LabletDefinition, minutes: u32) -> (Timestamp, Lablet) {
    let booked_at = w.clock.now();
    let lablet = w
        .fleet
        .create_on_demand_lablet(definition.id, now_on_demand(minutes))
        .await
        .unwrap();
    (booked_at, lablet)
}

/// Every move of `lablet`'s estimate, in order.
async fn moves(w: &World, lablet: LabletId) -> Vec<(Timeslot, Timeslot, String)> {
    w.store
        .read_events(0, usize::MAX)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event.subject.id == lablet.to_string())
        .filter_map(|e| match e.event.payload {
            EventPayload::LabletRescheduled { from, to, reason } => Some((from, to, reason)),
            _ => None,
        })
        .collect()
}

/// When `lablet` entered `running`.
async fn running_at(w: &World, lablet: LabletId) -> Timestamp {
    let record = w.fleet.get_lablet(lablet).await.unwrap();
    record
        .status
        .history
        .iter()
        .find(|c| c.to == LabletPhase::Running)
        .map(|c| c.at)
        .expect("it ran")
}

#[tokio::test]
async fn on_a_ready_worker_it_is_estimated_at_an_import_and_starts_as_soon_as_it_is_ready() {
    let w = World::new(5, FleetSettings::default()).await;
    w.worker("w1").await;
    w.run_for(40 * 60).await;
    let definition = definition(&w).await;
    let (booked_at, lablet) = book_now(&w, &definition, 60).await;
    assert!(lablet.spec.on_demand);
    // Nothing imported yet: the next scheduler pass (60 s) and five minutes.
    assert_eq!(seconds_between(booked_at, lablet.spec.timeslot.start), 360);
    assert_eq!(lablet.spec.timeslot.duration_seconds(), 3600);

    w.run_for(10 * 60).await;
    let ran_from = running_at(&w, lablet.id).await;
    assert!(
        ran_from < lablet.spec.timeslot.start,
        "ready ahead of the estimate"
    );
    let moves = moves(&w, lablet.id).await;
    assert_eq!(moves.len(), 1, "{moves:?}");
    let (from, to, reason) = &moves[0];
    assert_eq!(*from, lablet.spec.timeslot);
    assert_eq!(to.start, ran_from);
    assert_eq!(to.duration_seconds(), 3600, "the session keeps its length");
    assert_eq!(reason, "the lab is ready ahead of the estimate");
    let record = w.fleet.get_lablet(lablet.id).await.unwrap();
    assert_eq!(record.spec.timeslot, *to);
    assert_eq!(record.status.phase, LabletPhase::Running);
}

#[tokio::test]
async fn without_a_worker_it_is_estimated_at_the_lead_and_the_estimate_is_kept_true() {
    let mut settings = FleetSettings::default();
    settings.autoscaler.enabled = true;
    settings.autoscaler.regions = vec![Region::new("us-east-1")];
    // A lead shorter than a boot: the estimate will pass before the lab is ready.
    settings.lablets.lead_time_seconds = 10 * 60;
    settings.lablets.learn_lead_time = false;
    let w = World::new(6, settings).await;
    let definition = definition(&w).await;
    let (booked_at, lablet) = book_now(&w, &definition, 90).await;
    assert_eq!(seconds_between(booked_at, lablet.spec.timeslot.start), 600);

    w.run_for(60 * 60).await;
    let record = w.fleet.get_lablet(lablet.id).await.unwrap();
    assert_eq!(record.status.phase, LabletPhase::Running, "{record:?}");
    let moves = moves(&w, lablet.id).await;
    assert!(!moves.is_empty());
    assert_eq!(moves[0].2, "not ready by the estimate");
    assert!(moves[0].1.start > moves[0].0.start);
    let last = moves.last().unwrap();
    assert!(last.2.starts_with("the lab is ready"), "{moves:?}");
    for (from, to, _) in &moves {
        assert_eq!(from.duration_seconds(), to.duration_seconds());
    }
    // It runs its full length from when it was ready.
    let ran_from = running_at(&w, lablet.id).await;
    assert_eq!(record.spec.timeslot.start, ran_from);
    assert_eq!(record.spec.timeslot.duration_seconds(), 90 * 60);
}

#[tokio::test]
async fn an_estimate_that_can_never_be_kept_moves_only_until_the_lead_and_grace_then_expires() {
    // No autoscaler and no worker: nothing will ever host the lab.
    let mut settings = FleetSettings::default();
    settings.lablets.lead_time_seconds = 10 * 60;
    settings.lablets.learn_lead_time = false;
    settings.lablets.start_grace_seconds = 5 * 60;
    let w = World::new(8, settings).await;
    let definition = definition(&w).await;
    let (booked_at, lablet) = book_now(&w, &definition, 60).await;
    w.run_for(60 * 60).await;
    let moves = moves(&w, lablet.id).await;
    assert!(!moves.is_empty(), "the passed estimate moved");
    let cap = 10 * 60 + 5 * 60;
    for (_, to, _) in &moves {
        assert!(seconds_between(booked_at, to.start) <= cap, "{moves:?}");
    }
    let record = w.fleet.get_lablet(lablet.id).await.unwrap();
    assert!(
        matches!(
            record.status.phase,
            LabletPhase::Expired | LabletPhase::Terminated
        ),
        "{:?}",
        record.status.phase
    );
}

#[tokio::test]
async fn a_duration_outside_the_definition_is_refused_and_nothing_is_booked() {
    let w = World::new(7, FleetSettings::default()).await;
    let definition = definition(&w).await;
    for minutes in [0, 121, u32::MAX] {
        let error = w
            .fleet
            .create_on_demand_lablet(definition.id, now_on_demand(minutes))
            .await
            .unwrap_err();
        assert!(
            matches!(
                &error,
                CoreError::Domain(DomainError::Validation { field, .. }) if field == "duration_minutes"
            ),
            "{error}"
        );
    }
    assert!(w
        .fleet
        .list_lablets(&Default::default())
        .await
        .unwrap()
        .is_empty());
}
