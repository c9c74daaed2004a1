//! Bodies and queries of `/api/v1/workers…`. Each keeps the server's rules:
//! unknown keys are refused, absent optional fields take their defaults.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::Example;
use ccm_core::ids::{ImageId, Region};
use ccm_core::secret::Secret;

/// Filters and page of `GET /api/v1/workers`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WorkerListQuery {
    /// Only this region.
    pub region: Option<String>,
    /// Only these lifecycle states, comma-separated (`running,stopped`).
    pub status: Option<String>,
    /// Only workers with all these labels, comma-separated `key=value` pairs.
    pub label: Option<String>,
    /// Include terminated workers.
    #[serde(default)]
    pub include_terminated: bool,
    /// Page size (1 to 1000; 100 when absent).
    pub limit: Option<usize>,
    /// Page start (0 when absent).
    pub offset: Option<usize>,
}

/// Body of `POST /api/v1/workers`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWorker {
    /// Worker name (1 to 256 characters, not blank, no control characters: it
    /// becomes the EC2 `Name` tag).
    #[schema(min_length = 1, max_length = 256)]
    pub name: String,
    /// Region (the first configured region when absent).
    pub region: Option<String>,
    /// Instance type (the launch template's when absent).
    pub instance_type: Option<String>,
    /// Labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Extra EC2 tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Turn idle detection off.
    #[serde(default)]
    pub idle_detection_disabled: bool,
    /// A configured image by name (`cloud.launch.images`); the default image
    /// when absent (422 naming the configured ones for another name).
    pub image: Option<String>,
}

impl CreateWorker {
    /// The domain request, in `region` (the body's, or the server's default),
    /// on behalf of `created_by`.
    pub fn into_domain(
        self,
        region: Region,
        created_by: Option<String>,
    ) -> ccm_core::fleet::CreateWorker {
        ccm_core::fleet::CreateWorker {
            name: self.name,
            region,
            instance_type: self.instance_type,
            labels: self.labels,
            tags: self.tags,
            idle_detection_disabled: self.idle_detection_disabled,
            created_by,
            image: self.image,
        }
    }
}

impl Example for CreateWorker {
    fn example() -> Self {
        Self {
            name: "cml-eu-2".into(),
            region: Some("eu-west-1".into()),
            instance_type: Some("m5zn.metal".into()),
            labels: BTreeMap::from([("pool".to_owned(), "training".to_owned())]),
            tags: BTreeMap::from([("team".to_owned(), "netops".to_owned())]),
            idle_detection_disabled: false,
            image: Some("cml-2.9".into()),
        }
    }
}

/// Body of `POST /api/v1/workers/import`: one existing instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportWorker {
    /// Region of the instance (the first configured region when absent).
    pub region: Option<String>,
    /// The instance (`i-0abc…`).
    pub instance_id: String,
    /// Worker name (the `Name` tag or the instance id when absent).
    pub name: Option<String>,
}

impl Example for ImportWorker {
    fn example() -> Self {
        Self {
            region: Some("eu-west-1".into()),
            instance_id: "i-0abc1234def567890".into(),
            name: Some("cml-eu-1".into()),
        }
    }
}

/// Body of `POST /api/v1/workers/import-matching`: every instance launched from
/// an AMI (`image_id` or `image_name_pattern`, at least one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportMatching {
    /// Region to search (the first configured region when absent).
    pub region: Option<String>,
    /// Launched from this AMI.
    pub image_id: Option<String>,
    /// Launched from an AMI whose name matches (`*` wildcards).
    pub image_name_pattern: Option<String>,
    /// Carrying all these tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

impl ImportMatching {
    /// The domain request, in `region`, on behalf of `by`.
    pub fn into_domain(
        self,
        region: Region,
        by: Option<String>,
    ) -> ccm_core::fleet::ImportMatching {
        ccm_core::fleet::ImportMatching {
            region,
            image_id: self.image_id.map(ImageId::new),
            image_name_pattern: self.image_name_pattern,
            tags: self.tags,
            by,
        }
    }
}

impl Example for ImportMatching {
    fn example() -> Self {
        Self {
            region: Some("eu-west-1".into()),
            image_id: None,
            image_name_pattern: Some("cml-2.9*".into()),
            tags: BTreeMap::from([("team".to_owned(), "netops".to_owned())]),
        }
    }
}

/// Query of `POST /api/v1/workers/{id}/stop`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StopWorkerQuery {
    /// Stop even with lablets bound to the worker (409 `worker_in_use` otherwise).
    #[serde(default)]
    pub force: bool,
}

/// Query of `DELETE /api/v1/workers/{id}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeleteWorkerQuery {
    /// Terminate the instance first (otherwise it keeps running unmanaged).
    #[serde(default)]
    pub terminate_instance: bool,
    /// Delete even with lablets bound to the worker (409 `worker_in_use` otherwise).
    #[serde(default)]
    pub force: bool,
}

/// Body of `PUT /api/v1/workers/{id}/tags`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetWorkerTags {
    /// Tags to add or overwrite (reserved `ccm:` keys and EC2's limits are refused).
    pub tags: BTreeMap<String, String>,
}

impl Example for SetWorkerTags {
    fn example() -> Self {
        Self {
            tags: BTreeMap::from([("cost-centre".to_owned(), "training".to_owned())]),
        }
    }
}

/// Body of `PUT /api/v1/workers/{id}/cml-endpoint`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetCmlEndpoint {
    /// `https://host[:port]` within `cml.endpoint_allow`, or `null` (or absent)
    /// for the instance's tag or address.
    pub url: Option<String>,
}

impl Example for SetCmlEndpoint {
    fn example() -> Self {
        Self {
            url: Some("https://cml-eu-1.example.net".into()),
        }
    }
}

/// Body of `POST /api/v1/workers/{id}/licence`; an empty body is the same as `{}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterLicence {
    /// Smart Licensing token (the configured one when absent).
    #[schema(value_type = Option<String>)]
    pub token: Option<Secret>,
}

impl Example for RegisterLicence {
    fn example() -> Self {
        Self {
            token: Some(Secret::new("NjA1ZTk0ZDUtYzk1OS00ZDIy")),
        }
    }
}

/// Body of `PUT /api/v1/workers/{id}/idle-detection`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetIdleDetection {
    /// On or off.
    pub enabled: bool,
}

impl Example for SetIdleDetection {
    fn example() -> Self {
        Self { enabled: false }
    }
}

/// Body of `PUT /api/v1/workers/{id}/monitoring-interval`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetMonitoringInterval {
    /// Seconds between observations (60 to 86,400), or `null` for the fleet's
    /// setting. Required: an absent field is a 422, not a reset.
    #[serde(deserialize_with = "required_nullable")]
    #[schema(required = true, minimum = 60, maximum = 86400)]
    pub seconds: Option<u32>,
}

/// `Option<T>` that must be present (as a value or `null`).
fn required_nullable<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer)
}

impl Example for SetMonitoringInterval {
    fn example() -> Self {
        Self { seconds: Some(300) }
    }
}

/// Body of `POST /api/v1/workers/{id}/cml-certificate/accept`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptCmlCertificate {
    /// SHA-256 fingerprint (64 hex digits, colons allowed) of the certificate the
    /// worker presented.
    pub sha256: String,
}

impl Example for AcceptCmlCertificate {
    fn example() -> Self {
        Self {
            sha256: "cd".repeat(32),
        }
    }
}

/// Query of `GET /api/v1/workers/{id}/metrics`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MetricsSeriesQuery {
    /// Start (RFC 3339, not in the future); one hour ago when absent.
    pub since: Option<DateTime<Utc>>,
    /// Bucket length in seconds (0: raw points; at most 86400; default 60).
    pub step: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn refused<T: serde::de::DeserializeOwned>(body: serde_json::Value) -> bool {
        serde_json::from_value::<T>(body).is_err()
    }

    #[test]
    fn bodies_accepted_before_are_accepted() {
        let create: CreateWorker = serde_json::from_value(json!({"name": "w"})).unwrap();
        assert_eq!(create.region, None);
        assert!(create.labels.is_empty() && !create.idle_detection_disabled);
        let full: CreateWorker =
            serde_json::from_value(serde_json::to_value(CreateWorker::example()).unwrap()).unwrap();
        assert_eq!(full, CreateWorker::example());
        let domain = full.into_domain(Region::new("eu-west-1"), Some("alice".into()));
        assert_eq!(domain.name, "cml-eu-2");
        assert_eq!(domain.image.as_deref(), Some("cml-2.9"));
        assert_eq!(domain.instance_type.as_deref(), Some("m5zn.metal"));
        assert_eq!(domain.tags.len(), 1);
        assert_eq!(domain.labels.len(), 1);
        assert_eq!(domain.created_by.as_deref(), Some("alice"));

        let import: ImportWorker = serde_json::from_value(json!({"instance_id": "i-1"})).unwrap();
        assert_eq!(import.instance_id, "i-1");
        let matching: ImportMatching =
            serde_json::from_value(json!({"image_id": "ami-1"})).unwrap();
        let domain = matching.into_domain(Region::new("r"), None);
        assert_eq!(domain.image_id, Some(ImageId::new("ami-1")));
        let pattern = ImportMatching::example().into_domain(Region::new("r"), Some("a".into()));
        assert_eq!(pattern.image_name_pattern.as_deref(), Some("cml-2.9*"));
        assert_eq!(pattern.tags.len(), 1);
        assert_eq!(pattern.by.as_deref(), Some("a"));

        let tags: SetWorkerTags = serde_json::from_value(json!({"tags": {"a": "b"}})).unwrap();
        assert_eq!(tags.tags.len(), 1);
        let url: SetCmlEndpoint = serde_json::from_value(json!({"url": null})).unwrap();
        assert_eq!(url.url, None);
        let url: SetCmlEndpoint = serde_json::from_value(json!({})).unwrap();
        assert_eq!(url.url, None);
        let licence: RegisterLicence = serde_json::from_value(json!({"token": "t"})).unwrap();
        assert_eq!(
            licence.token.map(|t| t.expose().to_owned()).as_deref(),
            Some("t")
        );
        let licence: RegisterLicence = serde_json::from_value(json!({})).unwrap();
        assert_eq!(licence.token, None);
        let idle: SetIdleDetection = serde_json::from_value(json!({"enabled": true})).unwrap();
        assert!(idle.enabled);
        let interval: SetMonitoringInterval =
            serde_json::from_value(json!({"seconds": null})).unwrap();
        assert_eq!(interval.seconds, None);
        let interval: SetMonitoringInterval =
            serde_json::from_value(json!({"seconds": 120})).unwrap();
        assert_eq!(interval.seconds, Some(120));
        let accept: AcceptCmlCertificate =
            serde_json::from_value(json!({"sha256": "AB:CD"})).unwrap();
        assert_eq!(accept.sha256, "AB:CD");
    }

    #[test]
    fn unknown_keys_and_missing_required_fields_are_refused() {
        assert!(refused::<CreateWorker>(
            json!({"name": "w", "colour": "red"})
        ));
        assert!(refused::<CreateWorker>(json!({})));
        assert!(refused::<ImportWorker>(json!({"instance_id": "i", "x": 1})));
        assert!(refused::<ImportMatching>(json!({"image": "ami-1"})));
        assert!(refused::<SetWorkerTags>(json!({})));
        assert!(refused::<SetWorkerTags>(json!({"tags": {}, "x": 1})));
        assert!(refused::<SetCmlEndpoint>(json!({"endpoint": "https://x"})));
        assert!(refused::<RegisterLicence>(json!({"licence": "t"})));
        assert!(refused::<SetIdleDetection>(json!({})));
        assert!(
            refused::<SetMonitoringInterval>(json!({})),
            "absent is not a reset"
        );
        assert!(refused::<SetMonitoringInterval>(
            json!({"seconds": 60, "x": 1})
        ));
        assert!(refused::<AcceptCmlCertificate>(json!({"sha": "ab"})));
    }

    #[test]
    fn queries_take_what_they_took() {
        let q: WorkerListQuery =
            serde_json::from_value(json!({"region": "r", "status": "running", "label": "a=b", "include_terminated": true, "limit": 5, "offset": 10}))
                .unwrap();
        assert_eq!(
            (q.limit, q.offset, q.include_terminated),
            (Some(5), Some(10), true)
        );
        assert!(refused::<WorkerListQuery>(json!({"page": 2})));
        assert!(refused::<StopWorkerQuery>(json!({"forced": true})));
        assert!(refused::<DeleteWorkerQuery>(json!({"terminate": true})));
        let d: DeleteWorkerQuery = serde_json::from_value(json!({})).unwrap();
        assert!(!d.force && !d.terminate_instance);
        let m: MetricsSeriesQuery =
            serde_json::from_value(json!({"since": "2026-03-02T09:30:00Z", "step": 0})).unwrap();
        assert_eq!(m.step, Some(0));
        assert!(m.since.is_some());
        assert!(refused::<MetricsSeriesQuery>(json!({"until": "x"})));
    }
}
