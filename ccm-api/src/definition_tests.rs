use ccm_core::definition::NewDefinition;
use serde_json::json;

use super::*;

#[test]
fn the_record_is_what_the_domain_serialised() {
    let domain = sample_definition();
    let wire = LabletDefinition::from(&domain);
    assert_eq!(
        serde_json::to_value(&wire).unwrap(),
        serde_json::to_value(&domain).unwrap()
    );
    // And with the optional parts empty.
    let mut bare = domain;
    bare.licence_affinity = None;
    bare.min_cml_version = None;
    bare.requires = ccm_core::catalog::CatalogNeeds::default();
    assert_eq!(
        serde_json::to_value(LabletDefinition::from(&bare)).unwrap(),
        serde_json::to_value(&bare).unwrap()
    );
}

#[test]
fn create_bodies_the_domain_accepted_are_accepted_and_mean_the_same() {
    let sample = sample_definition();
    let full = json!({
        "name": "ccna-basics",
        "version": "v1.2",
        "topology_yaml": "lab: {}",
        "needs": {"resources": {"cpu_millis": 4000, "memory_mib": 8192, "storage_gib": 20}, "nodes": 2, "ports": 2},
        "licence_affinity": "enterprise",
        "min_cml_version": "2.7.0",
        "max_duration_minutes": 240,
        "warm_pool_depth": 1,
        "unknown_key_the_domain_ignored": true
    });
    let minimal = json!({
        "name": "ccna-basics",
        "version": "1.0.0",
        "topology_yaml": "lab: {}",
        "needs": {"resources": {"cpu_millis": 1000, "memory_mib": 1024, "storage_gib": 1}, "nodes": 1, "ports": 0},
        "max_duration_minutes": 60,
        "warm_pool_depth": 0
    });
    for body in [full, minimal] {
        let before: NewDefinition = serde_json::from_value(body.clone()).unwrap();
        let wire: CreateDefinition = serde_json::from_value(body).unwrap();
        assert_eq!(NewDefinition::try_from(wire).unwrap(), before);
    }
    let example = CreateDefinition::example();
    let domain = NewDefinition::try_from(example).unwrap();
    assert_eq!(domain.min_cml_version, sample.min_cml_version);
    assert_eq!(domain.licence_affinity, sample.licence_affinity);
}

#[test]
fn create_bodies_the_domain_refused_are_refused() {
    let good = serde_json::to_value(CreateDefinition::example()).unwrap();
    let broken = |key: &str, value: serde_json::Value| {
        let mut body = good.clone();
        body[key] = value;
        body
    };
    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("needs");
    for bad in [
        broken("version", json!("one")),
        broken("min_cml_version", json!("2")),
        broken("licence_affinity", json!("gold")),
        broken("max_duration_minutes", json!(-1)),
        missing,
    ] {
        assert!(serde_json::from_value::<NewDefinition>(bad.clone()).is_err());
        assert!(serde_json::from_value::<CreateDefinition>(bad).is_err());
    }
}

#[test]
fn the_activation_body_and_list_query_read_as_before() {
    let body: SetDefinitionActive = serde_json::from_value(json!({"active": true})).unwrap();
    assert!(body.active);
    assert!(
        serde_json::from_value::<SetDefinitionActive>(json!({"active": true, "x": 1})).is_err()
    );
    assert!(serde_json::from_value::<SetDefinitionActive>(json!({})).is_err());
    let query: DefinitionListQuery =
        serde_json::from_value(json!({"name": "ccna", "limit": 5})).unwrap();
    assert_eq!(query.name.as_deref(), Some("ccna"));
    assert!(!query.active_only);
    assert!(serde_json::from_value::<DefinitionListQuery>(json!({"names": "x"})).is_err());
}
