//! Behaviour of the simulated CML beyond the conformance suite: availability that
//! follows the instance, labs across instance stops, other users, hooks and faults.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use ccm_core::ids::{CmlLabId, InstanceId, WorkerId};
use ccm_core::lab::LabState;
use ccm_core::ports::cloud::CloudProvider;
use ccm_core::ports::cml::{CmlClient, CmlEndpoint, CmlError};
use ccm_core::secret::Secret;
use ccm_core::time::plus_seconds;
use ccm_sim::{sim_endpoint, InjectedLab, SimConfig, SimError, Simulation};
use common::{launch, running_worker, topology, us_east};

#[tokio::test]
async fn availability_follows_the_instance() {
    let sim = Simulation::new(1);
    let cml = sim.cml();
    let instance = launch(&sim, 1).await.instance_id;
    let ep = sim.cml_endpoint(WorkerId::from_u128(1), &instance);
    let err = cml.system_information(&ep).await.unwrap_err();
    assert!(matches!(err, CmlError::Unreachable { .. }), "{err:?}");
    assert!(err.means_starting());
    sim.advance_seconds(20 * 60).unwrap();
    let err = cml.system_information(&ep).await.unwrap_err();
    assert!(matches!(err, CmlError::Starting { .. }), "{err:?}");
    sim.advance_seconds(5 * 60).unwrap();
    let info = cml.system_information(&ep).await.unwrap();
    assert_eq!(info.version, "2.9.1+build.7");
    assert!(info.ready);

    sim.cloud()
        .stop(&us_east(), std::slice::from_ref(&instance))
        .await
        .unwrap();
    assert!(matches!(
        cml.system_stats(&ep).await,
        Err(CmlError::Unreachable { .. })
    ));
    sim.advance_seconds(600).unwrap();
    sim.cloud()
        .start(&us_east(), std::slice::from_ref(&instance))
        .await
        .unwrap();
    sim.advance_seconds(20 * 60).unwrap();
    assert!(
        matches!(cml.system_stats(&ep).await, Err(CmlError::Starting { .. })),
        "CML boots again"
    );
    sim.advance_seconds(5 * 60).unwrap();
    cml.system_stats(&ep).await.unwrap();

    let nowhere = sim_endpoint(
        WorkerId::from_u128(1),
        &InstanceId::new("i-0123456789abcdef0"),
    );
    assert!(matches!(
        cml.system_information(&nowhere).await,
        Err(CmlError::Unreachable { .. })
    ));
    let https = CmlEndpoint::new(WorkerId::from_u128(1), "https://10.0.0.1");
    assert!(matches!(
        cml.system_information(&https).await,
        Err(CmlError::Unreachable { .. })
    ));
}

#[tokio::test]
async fn labs_survive_a_stop_but_not_as_started() {
    let sim = Simulation::new(2);
    let (instance, ep) = running_worker(&sim, 1).await;
    let cml = sim.cml();
    let lab = cml
        .import_lab(&ep, &topology(3), Some("keep me"))
        .await
        .unwrap()
        .id;
    cml.start_lab(&ep, &lab).await.unwrap();
    sim.cloud()
        .stop(&us_east(), std::slice::from_ref(&instance))
        .await
        .unwrap();
    sim.advance_seconds(600).unwrap();
    sim.cloud()
        .start(&us_east(), std::slice::from_ref(&instance))
        .await
        .unwrap();
    sim.settle().unwrap();
    assert_eq!(cml.lab_state(&ep, &lab).await.unwrap(), LabState::Stopped);
    assert!(!cml.check_if_converged(&ep, &lab).await.unwrap());
    assert_eq!(cml.system_stats(&ep).await.unwrap().running_nodes, 0);
    // Terminated: the server is gone for good.
    sim.cloud()
        .terminate(&us_east(), std::slice::from_ref(&instance))
        .await
        .unwrap();
    sim.settle().unwrap();
    assert!(matches!(
        cml.list_labs(&ep).await,
        Err(CmlError::Unreachable { .. })
    ));
}

#[tokio::test]
async fn convergence_takes_the_node_boot_delay() {
    let sim = Simulation::new(3);
    let (_, ep) = running_worker(&sim, 1).await;
    let cml = sim.cml();
    let lab = cml.import_lab(&ep, &topology(2), None).await.unwrap().id;
    assert!(!cml.check_if_converged(&ep, &lab).await.unwrap());
    cml.start_lab(&ep, &lab).await.unwrap();
    sim.advance_seconds(119).unwrap();
    assert!(!cml.check_if_converged(&ep, &lab).await.unwrap());
    sim.advance_seconds(1).unwrap();
    assert!(cml.check_if_converged(&ep, &lab).await.unwrap());
    let got = cml.get_lab(&ep, &lab).await.unwrap();
    assert_eq!(
        got.title, "t",
        "the topology's own title when none is given"
    );
    assert_eq!(got.owner_username.as_deref(), Some("admin"));
}

#[tokio::test]
async fn the_licence_node_limit() {
    let sim = Simulation::new(4);
    let (_, ep) = running_worker(&sim, 1).await;
    let cml = sim.cml();
    let three = cml.import_lab(&ep, &topology(3), None).await.unwrap().id;
    let two = cml.import_lab(&ep, &topology(2), None).await.unwrap().id;
    let one = cml.import_lab(&ep, &topology(1), None).await.unwrap().id;
    cml.start_lab(&ep, &three).await.unwrap();
    cml.start_lab(&ep, &two).await.unwrap();
    let err = cml.start_lab(&ep, &one).await.unwrap_err();
    assert!(
        matches!(err, CmlError::Rejected { status: 400, ref description, .. } if description.starts_with("Cannot start lab."))
    );
    // Unmanaged switches do not count.
    let switch = "nodes:\n  - id: n0\n    node_definition: unmanaged_switch\n";
    let free = cml.import_lab(&ep, switch, None).await.unwrap().id;
    cml.start_lab(&ep, &free).await.unwrap();
    // Registered: 20 nodes.
    cml.register_licence(&ep, &Secret::new("token"), false)
        .await
        .unwrap();
    assert_eq!(
        cml.licensing(&ep).await.unwrap().registration_status,
        "IN_PROGRESS"
    );
    assert!(cml.start_lab(&ep, &one).await.is_err(), "still pending");
    sim.advance_seconds(60).unwrap();
    let licensing = cml.licensing(&ep).await.unwrap();
    assert_eq!(licensing.registration_status, "COMPLETED");
    let node_feature = licensing
        .features
        .iter()
        .find(|f| f.name.contains("Node"))
        .unwrap();
    assert_eq!((node_feature.in_use, node_feature.max), (5, Some(20)));
    cml.start_lab(&ep, &one).await.unwrap();
    assert_eq!(licensing.authorization_status, "IN_COMPLIANCE");
    assert!(licensing.expires_at.is_some());
    let events = cml.telemetry_events(&ep, None).await.unwrap();
    assert!(events.iter().any(|e| e.category == "license_info"));
}

#[tokio::test]
async fn configurable_licence_and_prelicensed_servers() {
    let mut config = SimConfig::default();
    config.cml.licensed_at_launch = true;
    config.cml.enterprise = true;
    config.cml.registered_node_limit = 50;
    let sim = Simulation::with_config(5, config);
    let (_, ep) = running_worker(&sim, 1).await;
    let cml = sim.cml();
    let health = cml.system_health(&ep).await.unwrap();
    assert!(health.is_licensed && health.is_enterprise);
    let lab = cml.import_lab(&ep, &topology(50), None).await.unwrap().id;
    cml.start_lab(&ep, &lab).await.unwrap();
    let stats = cml.system_stats(&ep).await.unwrap();
    assert_eq!(stats.running_nodes, 50);
    assert_eq!(stats.allocated_cpus, 50);
}

#[tokio::test]
async fn someone_else_works_on_the_server() {
    let sim = Simulation::new(6);
    let (instance, ep) = running_worker(&sim, 1).await;
    let alice = sim.cml().as_user("alice");
    let lab = alice
        .import_lab(&ep, &topology(1), Some("alice's lab"))
        .await
        .unwrap()
        .id;
    alice.start_lab(&ep, &lab).await.unwrap();
    let admin = sim.cml();
    let got = admin.get_lab(&ep, &lab).await.unwrap();
    assert_eq!(got.owner_username.as_deref(), Some("alice"));
    assert_eq!(got.state, LabState::Started);
    let events = admin.telemetry_events(&ep, None).await.unwrap();
    assert!(events.iter().all(|e| e.data["user"] == "alice"));

    let injected = sim
        .inject_lab(
            &instance,
            InjectedLab {
                title: "bob's".into(),
                owner: "bob".into(),
                topology: topology(2),
                state: LabState::Started,
            },
        )
        .unwrap();
    let got = admin.get_lab(&ep, &injected).await.unwrap();
    assert_eq!(
        (got.title.as_str(), got.state, got.node_count),
        ("bob's", LabState::Started, 2)
    );
    assert!(admin.check_if_converged(&ep, &injected).await.unwrap());
    assert_eq!(admin.list_labs(&ep).await.unwrap(), vec![lab, injected]);
    assert_eq!(sim.labs(&instance).unwrap().len(), 2);
    let bad = sim.inject_lab(
        &instance,
        InjectedLab {
            title: "x".into(),
            owner: "bob".into(),
            topology: "no nodes".into(),
            state: LabState::Stopped,
        },
    );
    assert!(matches!(bad, Err(SimError::InvalidTopology(_))));
}

#[tokio::test]
async fn telemetry_and_user_activity() {
    let sim = Simulation::new(7);
    let (instance, ep) = running_worker(&sim, 1).await;
    let cml = sim.cml();
    let t0 = sim.now();
    sim.record_user_activity(&instance, "student").unwrap();
    sim.advance_seconds(60).unwrap();
    sim.record_telemetry(&instance, "system_stats", serde_json::json!({}))
        .unwrap();
    let all = cml.telemetry_events(&ep, None).await.unwrap();
    assert_eq!(all.len(), 2);
    assert!(all[0].is_user_activity() && !all[1].is_user_activity());
    assert_eq!(all[0].timestamp, t0);
    let after = cml.telemetry_events(&ep, Some(t0)).await.unwrap();
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].category, "system_stats");
    assert!(cml
        .telemetry_events(&ep, Some(plus_seconds(t0, 60)))
        .await
        .unwrap()
        .is_empty());
    assert!(matches!(
        sim.record_user_activity(&InstanceId::new("i-0"), "x"),
        Err(SimError::UnknownInstance(_))
    ));
}

#[tokio::test]
async fn cml_hooks_and_faults() {
    let sim = Simulation::new(8);
    let (instance, ep) = running_worker(&sim, 1).await;
    let cml = sim.cml();
    sim.set_cml_unreachable(&instance, true).unwrap();
    assert!(matches!(
        cml.system_information(&ep).await,
        Err(CmlError::Unreachable { .. })
    ));
    sim.set_cml_unreachable(&instance, false).unwrap();
    sim.set_cml_ready(&instance, false).unwrap();
    assert!(!cml.system_information(&ep).await.unwrap().ready);
    assert!(!cml.system_health(&ep).await.unwrap().valid);
    sim.set_cml_ready(&instance, true).unwrap();
    sim.set_cml_healthy(&instance, false).unwrap();
    assert_eq!(cml.system_health(&ep).await.unwrap().computes_valid, 0);
    sim.update_faults(|f| f.cml_unreachable = true).unwrap();
    assert!(cml.list_labs(&ep).await.is_err());
    sim.update_faults(|f| {
        f.cml_unreachable = false;
        f.cml_error_rates.insert("start_lab".into(), 1.0);
    })
    .unwrap();
    let lab = cml.import_lab(&ep, &topology(1), None).await.unwrap().id;
    assert!(matches!(
        cml.start_lab(&ep, &lab).await,
        Err(CmlError::Server { status: 500, .. })
    ));
    assert_eq!(
        cml.lab_state(&ep, &lab).await.unwrap(),
        LabState::DefinedOnCore
    );
    let calls = sim.cml_calls().unwrap();
    assert_eq!(calls.get("start_lab"), 1);
    assert_eq!(calls.get("import_lab"), 1);
}

#[tokio::test]
async fn licence_edge_cases() {
    let sim = Simulation::new(9);
    let (_, ep) = running_worker(&sim, 1).await;
    let cml = sim.cml();
    let err = cml.deregister_licence(&ep).await.unwrap_err();
    assert!(matches!(err, CmlError::Rejected { status: 400, .. }));
    cml.register_licence(&ep, &Secret::new("tok"), false)
        .await
        .unwrap();
    let err = cml
        .register_licence(&ep, &Secret::new("tok"), false)
        .await
        .unwrap_err();
    assert!(matches!(err, CmlError::Rejected { status: 409, .. }));
    sim.advance_seconds(60).unwrap();
    let err = cml
        .register_licence(&ep, &Secret::new("tok"), false)
        .await
        .unwrap_err();
    assert!(matches!(err, CmlError::Rejected { status: 400, .. }));
    cml.register_licence(&ep, &Secret::new("INVALID-token"), true)
        .await
        .unwrap();
    sim.advance_seconds(60).unwrap();
    let licensing = cml.licensing(&ep).await.unwrap();
    assert_eq!(licensing.registration_status, "FAILED");
    let node_feature = licensing
        .features
        .iter()
        .find(|f| f.name.contains("Node"))
        .unwrap();
    assert_eq!(node_feature.max, Some(5));
}

#[tokio::test]
async fn unknown_labs_answer_404_with_their_id() {
    let sim = Simulation::new(10);
    let (_, ep) = running_worker(&sim, 1).await;
    let lab = CmlLabId::new("1b6c2a59-0000-4000-8000-000000000000");
    match sim.cml().get_lab(&ep, &lab).await {
        Err(CmlError::NotFound { what: "lab", id }) => assert_eq!(id, lab.to_string()),
        other => panic!("{other:?}"),
    }
}
