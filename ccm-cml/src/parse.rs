//! Reading CML's answers tolerantly: numbers may be floats (`2791538688.0`) or null,
//! booleans may be null, enum strings may be new, fields may be missing (older
//! versions) or added (newer ones). Only what the domain needs is required.

use ccm_core::ids::CmlLabId;
use ccm_core::lab::LabState;
use ccm_core::ports::cml::{
    CmlLab, ImageDefinition, LabImport, Licensing, LicensingFeature, NodeDefinition, SystemHealth,
    SystemInformation, SystemStats, TelemetryEvent,
};
use ccm_core::time::Timestamp;
use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::Value;

/// Why an answer could not be read.
pub(crate) type ShapeError = String;

/// The value at `path`, `None` when missing or null.
pub(crate) fn at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Value> {
    let mut v = value;
    for key in path {
        v = v.get(key)?;
    }
    (!v.is_null()).then_some(v)
}

/// A non-negative integer from an integer, a float or a numeric string.
pub(crate) fn as_u64(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite() && *f >= 0.0 && *f < 1.8e19)
                .map(|f| f.round() as u64)
        }),
        Value::String(s) => s
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite() && *f >= 0.0 && *f < 1.8e19)
            .map(|f| f.round() as u64),
        _ => None,
    }
}

/// A float from a number or a numeric string.
pub(crate) fn as_f64(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|f| f.is_finite())
}

/// A boolean from a bool, `"true"`/`"false"` or 0/1.
pub(crate) fn as_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Some(true),
            "false" | "0" | "no" => Some(false),
            _ => None,
        },
        Value::Number(n) => n.as_f64().map(|f| f != 0.0),
        _ => None,
    }
}

fn text(value: &Value, path: &[&str]) -> Option<String> {
    match at(value, path)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn u32_at(value: &Value, path: &[&str]) -> Option<u32> {
    at(value, path)
        .and_then(as_u64)
        .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
}

/// A CML time: ISO-8601 with an offset, ISO-8601 without one (UTC), or the
/// licensing style `2026-08-20 17:25:30`; `None` when it is none of them.
pub fn parse_time(text: &str) -> Option<Timestamp> {
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    if let Ok(parsed) = DateTime::parse_from_rfc3339(t) {
        return Some(parsed.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f%:z", "%Y-%m-%d %H:%M:%S%.f%z"] {
        if let Ok(parsed) = DateTime::parse_from_str(t, format) {
            return Some(parsed.with_timezone(&Utc));
        }
    }
    let naive = t.trim_end_matches(" UTC").trim_end_matches('Z');
    for format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(parsed) = NaiveDateTime::parse_from_str(naive, format) {
            return Some(parsed.and_utc());
        }
    }
    None
}

fn time_at(value: &Value, path: &[&str]) -> Option<Timestamp> {
    match at(value, path)? {
        Value::String(s) => parse_time(s),
        Value::Number(n) => n
            .as_f64()
            .filter(|f| f.is_finite())
            .and_then(|f| DateTime::from_timestamp(f.trunc() as i64, 0)),
        _ => None,
    }
}

/// `GET /system_information`.
pub(crate) fn system_information(v: &Value) -> Result<SystemInformation, ShapeError> {
    let version = text(v, &["version"]).ok_or("no `version`")?;
    Ok(SystemInformation {
        version,
        ready: at(v, &["ready"]).and_then(as_bool).unwrap_or(false),
    })
}

fn computes(v: &Value) -> Vec<&Value> {
    at(v, &["computes"])
        .and_then(Value::as_object)
        .map(|m| m.values().collect())
        .unwrap_or_default()
}

/// Sum of `path` over the computes' stats, `None` when no compute reports it.
fn compute_sum(computes: &[&Value], path: &[&str]) -> Option<u64> {
    let values: Vec<u64> = computes
        .iter()
        .filter_map(|c| at(c, path).and_then(as_u64))
        .collect();
    (!values.is_empty()).then(|| values.iter().sum())
}

/// `GET /system_stats`: totals from `all` when present, else summed over computes;
/// node counts and allocations summed over the computes' `dominfo`.
pub(crate) fn system_stats(v: &Value) -> Result<SystemStats, ShapeError> {
    if !v.is_object() {
        return Err("not an object".into());
    }
    let computes = computes(v);
    let total = |all: &[&str], per_compute: &[&str]| {
        at(v, all)
            .and_then(as_u64)
            .or_else(|| compute_sum(&computes, per_compute))
    };
    let percents: Vec<f64> = computes
        .iter()
        .filter_map(|c| at(c, &["stats", "cpu", "percent"]).and_then(as_f64))
        .collect();
    let cpu_percent = if percents.is_empty() {
        at(v, &["all", "cpu", "percent"]).and_then(as_f64)
    } else {
        Some(percents.iter().sum::<f64>() / percents.len() as f64)
    };
    let dominfo = |key: &str| compute_sum(&computes, &["stats", "dominfo", key]).unwrap_or(0);
    let clamp32 = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
    Ok(SystemStats {
        computes: clamp32(computes.len() as u64),
        cpu_percent,
        memory_used_bytes: total(&["all", "memory", "used"], &["stats", "memory", "used"]),
        memory_total_bytes: total(&["all", "memory", "total"], &["stats", "memory", "total"]),
        disk_used_bytes: total(&["all", "disk", "used"], &["stats", "disk", "used"]),
        disk_total_bytes: total(&["all", "disk", "total"], &["stats", "disk", "total"]),
        allocated_cpus: clamp32(dominfo("allocated_cpus")),
        allocated_memory_kib: dominfo("allocated_memory"),
        running_nodes: clamp32(dominfo("running_nodes")),
        total_nodes: clamp32(dominfo("total_nodes")),
    })
}

/// `GET /system_health`; a null boolean counts as false.
pub(crate) fn system_health(v: &Value) -> Result<SystemHealth, ShapeError> {
    if !v.is_object() {
        return Err("not an object".into());
    }
    let flag = |path: &[&str]| at(v, path).and_then(as_bool).unwrap_or(false);
    let computes = computes(v);
    let valid = computes
        .iter()
        .filter(|c| at(c, &["valid"]).and_then(as_bool) == Some(true))
        .count();
    Ok(SystemHealth {
        valid: flag(&["valid"]),
        is_licensed: flag(&["is_licensed"]),
        is_enterprise: flag(&["is_enterprise"]),
        computes_valid: u32::try_from(valid).unwrap_or(u32::MAX),
        computes_total: u32::try_from(computes.len()).unwrap_or(u32::MAX),
    })
}

/// `GET /licensing`; statuses verbatim (`UNKNOWN` when missing).
pub(crate) fn licensing(v: &Value) -> Result<Licensing, ShapeError> {
    if !v.is_object() {
        return Err("not an object".into());
    }
    let status = |path: &[&str]| text(v, path).unwrap_or_else(|| "UNKNOWN".to_owned());
    let features = at(v, &["features"])
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|f| {
                    let id = text(f, &["id"])?;
                    Some(LicensingFeature {
                        name: text(f, &["name"]).unwrap_or_else(|| id.clone()),
                        id,
                        status: text(f, &["status"]).unwrap_or_else(|| "UNKNOWN".to_owned()),
                        in_use: u32_at(f, &["in_use"]).unwrap_or(0),
                        max: u32_at(f, &["max"]),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Licensing {
        registration_status: status(&["registration", "status"]),
        authorization_status: status(&["authorization", "status"]),
        expires_at: time_at(v, &["registration", "expires"])
            .or_else(|| time_at(v, &["authorization", "expires"])),
        is_enterprise: at(v, &["product_license", "is_enterprise"])
            .and_then(as_bool)
            .unwrap_or(false),
        features,
    })
}

/// `GET /labs`.
pub(crate) fn lab_ids(v: &Value) -> Result<Vec<CmlLabId>, ShapeError> {
    let list = v.as_array().ok_or("not a list")?;
    Ok(list
        .iter()
        .filter_map(Value::as_str)
        .map(CmlLabId::new)
        .collect())
}

/// A lab state; text CML may add later is [`LabState::Unknown`].
pub(crate) fn lab_state(v: &Value) -> LabState {
    v.as_str().map_or(LabState::Unknown, LabState::from_cml)
}

/// `GET /labs/{id}`.
pub(crate) fn lab(v: &Value, requested: &CmlLabId) -> Result<CmlLab, ShapeError> {
    if !v.is_object() {
        return Err("not an object".into());
    }
    Ok(CmlLab {
        id: text(v, &["id"]).map_or_else(|| requested.clone(), CmlLabId::new),
        title: text(v, &["lab_title"])
            .or_else(|| text(v, &["title"]))
            .unwrap_or_default(),
        description: text(v, &["lab_description"])
            .or_else(|| text(v, &["description"]))
            .unwrap_or_default(),
        owner_username: text(v, &["owner_username"]),
        state: at(v, &["state"]).map_or(LabState::Unknown, lab_state),
        node_count: u32_at(v, &["node_count"]).unwrap_or(0),
        link_count: u32_at(v, &["link_count"]).unwrap_or(0),
        created_at: time_at(v, &["created"]),
        modified_at: time_at(v, &["modified"]),
    })
}

/// `POST /import`.
pub(crate) fn lab_import(v: &Value) -> Result<LabImport, ShapeError> {
    let id = text(v, &["id"]).ok_or("no `id`")?;
    let warnings = at(v, &["warnings"])
        .and_then(Value::as_array)
        .map(|w| {
            w.iter()
                .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    Ok(LabImport {
        id: CmlLabId::new(id),
        warnings,
    })
}

/// `GET /node_definitions`; entries without an id are skipped.
pub(crate) fn node_definitions(v: &Value) -> Result<Vec<NodeDefinition>, ShapeError> {
    let list = v.as_array().ok_or("not a list")?;
    Ok(list
        .iter()
        .filter_map(|d| {
            Some(NodeDefinition {
                id: text(d, &["id"])?,
                description: text(d, &["general", "description"])
                    .or_else(|| text(d, &["ui", "description"])),
                nature: text(d, &["general", "nature"]),
            })
        })
        .collect())
}

/// `GET /image_definitions`; entries without ids are skipped.
pub(crate) fn image_definitions(v: &Value) -> Result<Vec<ImageDefinition>, ShapeError> {
    let list = v.as_array().ok_or("not a list")?;
    Ok(list
        .iter()
        .filter_map(|d| {
            Some(ImageDefinition {
                id: text(d, &["id"])?,
                node_definition_id: text(d, &["node_definition_id"])?,
                label: text(d, &["label"]),
            })
        })
        .collect())
}

/// `GET /telemetry/events`, keeping events strictly after `after`; entries without a
/// readable category or timestamp are skipped. Oldest first.
pub(crate) fn telemetry_events(
    v: &Value,
    after: Option<Timestamp>,
) -> Result<Vec<TelemetryEvent>, ShapeError> {
    let list = v.as_array().ok_or("not a list")?;
    let mut events: Vec<TelemetryEvent> = list
        .iter()
        .filter_map(|e| {
            Some(TelemetryEvent {
                category: text(e, &["category"])?,
                timestamp: time_at(e, &["timestamp"])?,
                data: e
                    .get("data")
                    .cloned()
                    .unwrap_or(Value::Object(serde_json::Map::new())),
            })
        })
        .filter(|e| after.is_none_or(|mark| e.timestamp > mark))
        .collect();
    events.sort_by_key(|e| e.timestamp);
    Ok(events)
}

/// `{"code", "description"}` of an error answer, or its text.
pub(crate) fn error_description(body: &[u8]) -> String {
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        if let Some(d) = text(&v, &["description"]).or_else(|| text(&v, &["detail"])) {
            return d;
        }
        if let Some(s) = v.as_str() {
            return s.to_owned();
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    // An HTML error page: its title says it all.
    if let Some(title) = text
        .split_once("<title>")
        .and_then(|(_, rest)| rest.split_once("</title>"))
        .map(|(title, _)| title.trim())
    {
        return title.to_owned();
    }
    text.chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ccm_core::time::from_unix_seconds;
    use serde_json::json;

    #[test]
    fn numbers_floats_nulls_and_strings() {
        assert_eq!(as_u64(&json!(2791538688.0)), Some(2_791_538_688));
        assert_eq!(as_u64(&json!(5)), Some(5));
        assert_eq!(as_u64(&json!("12")), Some(12));
        assert_eq!(as_u64(&json!(-1)), None);
        assert_eq!(as_u64(&json!(null)), None);
        assert_eq!(as_bool(&json!(null)), None);
        assert_eq!(as_bool(&json!("true")), Some(true));
        assert_eq!(as_f64(&json!("1.5")), Some(1.5));
        assert!(at(&json!({"a": null}), &["a"]).is_none());
    }

    #[test]
    fn times_in_every_cml_style() {
        let t = from_unix_seconds(1_787_246_730);
        for text in [
            "2026-08-20 17:25:30",
            "2026-08-20T17:25:30+00:00",
            "2026-08-20T17:25:30Z",
            "2026-08-20T17:25:30",
            "2026-08-20T19:25:30+02:00",
            "2026-08-20 17:25:30+00:00",
        ] {
            assert_eq!(parse_time(text), Some(t), "{text}");
        }
        assert_eq!(
            parse_time("2026-08-20T17:25:30.250000+00:00"),
            Some(t + chrono::Duration::milliseconds(250))
        );
        assert_eq!(parse_time("next tuesday"), None);
        assert_eq!(parse_time(""), None);
    }

    #[test]
    fn system_stats_sum_computes_and_accept_floats_and_nulls() {
        let stats = json!({
            "computes": {
                "c1": {"hostname": "a", "is_controller": true, "stats": {
                    "cpu": {"count": 8, "percent": 10.0},
                    "memory": {"used": 1000.0, "free": 3000.0, "total": 4000.0},
                    "disk": {"used": 10.0, "free": 90.0, "total": 100.0},
                    "dominfo": {"total_nodes": 3, "total_orphans": null, "running_nodes": 2,
                                "running_orphans": null, "allocated_cpus": 2, "allocated_memory": 1048576}}},
                "c2": {"hostname": "b", "is_controller": false, "stats": {
                    "cpu": {"count": 8, "percent": 30.5},
                    "memory": {"used": 500.0, "free": 500.0, "total": 1000.0},
                    "disk": {"used": 5.0, "free": 5.0, "total": 10.0},
                    "dominfo": {"total_nodes": null, "running_nodes": null,
                                "allocated_cpus": 1.0, "allocated_memory": 524288.0}}}
            },
            "all": {"cpu": {"count": 16, "percent": 20.25},
                    "memory": {"used": 1500.0, "free": 3500.0, "total": 5000.0},
                    "disk": {"used": 15.0, "free": 95.0, "total": 110.0}},
            "controller": {"disk": {"used": 10.0, "free": 90.0, "total": 100.0}}
        });
        let s = system_stats(&stats).unwrap();
        assert_eq!(s.computes, 2);
        assert_eq!(s.running_nodes, 2);
        assert_eq!(s.total_nodes, 3);
        assert_eq!(s.allocated_cpus, 3);
        assert_eq!(s.allocated_memory_kib, 1_572_864);
        assert_eq!(s.memory_used_bytes, Some(1500));
        assert_eq!(s.disk_total_bytes, Some(110));
        assert_eq!(s.cpu_percent, Some(20.25));
        // Without `all`, the computes are summed.
        let mut partial = stats.clone();
        partial.as_object_mut().unwrap().remove("all");
        let s = system_stats(&partial).unwrap();
        assert_eq!(s.memory_total_bytes, Some(5000));
        assert_eq!(system_stats(&json!({})).unwrap().computes, 0);
        assert!(system_stats(&json!([])).is_err());
    }

    #[test]
    fn health_counts_valid_computes_and_reads_null_as_false() {
        let h = system_health(&json!({
            "valid": null, "is_licensed": true, "is_enterprise": false,
            "computes": {"a": {"valid": true}, "b": {"valid": null}},
            "controller": {}
        }))
        .unwrap();
        assert!(!h.valid && h.is_licensed);
        assert_eq!((h.computes_valid, h.computes_total), (1, 2));
    }

    #[test]
    fn licensing_keeps_unknown_statuses() {
        let l = licensing(&json!({
            "registration": {"status": "SOMETHING_NEW", "expires": "2026-08-20 17:25:30"},
            "authorization": {"status": "IN_COMPLIANCE"},
            "features": [{"id": "f1", "in_use": 2.0, "max": null}, {"name": "no id"}],
            "product_license": {"is_enterprise": true}
        }))
        .unwrap();
        assert_eq!(l.registration_status, "SOMETHING_NEW");
        assert_eq!(l.expires_at, Some(from_unix_seconds(1_787_246_730)));
        assert!(l.is_enterprise);
        assert_eq!(l.features.len(), 1);
        assert_eq!((l.features[0].in_use, l.features[0].max), (2, None));
        assert_eq!(
            licensing(&json!({})).unwrap().registration_status,
            "UNKNOWN"
        );
    }

    #[test]
    fn labs_with_new_states_and_missing_fields() {
        let id = CmlLabId::new("0f0e0d0c-0b0a-4908-8706-050403020100");
        let l = lab(
            &json!({"lab_title": "t", "state": "BRAND_NEW_STATE", "node_count": 2.0,
                    "created": "2025-12-06T11:11:28+00:00", "extra": {"x": 1}}),
            &id,
        )
        .unwrap();
        assert_eq!(l.id, id);
        assert_eq!(l.state, LabState::Unknown);
        assert_eq!(l.node_count, 2);
        assert!(l.created_at.is_some() && l.modified_at.is_none());
        assert_eq!(lab_state(&json!("STOPPED")), LabState::Stopped);
        assert_eq!(lab_state(&json!(42)), LabState::Unknown);
    }

    #[test]
    fn telemetry_filters_strictly_after_the_mark() {
        let v = json!([
            {"category": "start_lab", "timestamp": "2025-01-01T00:00:02+00:00", "data": {}},
            {"category": "brand_new_category", "timestamp": "2025-01-01T00:00:03+00:00"},
            {"category": "stop_lab", "timestamp": "garbage", "data": {}},
            {"category": "import_lab", "timestamp": "2025-01-01T00:00:01+00:00", "data": {}}
        ]);
        let all = telemetry_events(&v, None).unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(all[0].category, "import_lab");
        let mark = parse_time("2025-01-01T00:00:02+00:00");
        let newer = telemetry_events(&v, mark).unwrap();
        assert_eq!(newer.len(), 1);
        assert_eq!(newer[0].category, "brand_new_category");
    }

    #[test]
    fn error_descriptions() {
        assert_eq!(
            error_description(br#"{"code": 404, "description": "Lab not found: x"}"#),
            "Lab not found: x"
        );
        assert_eq!(
            error_description(b"<html><head><title>502 Bad Gateway</title></head></html>"),
            "502 Bad Gateway"
        );
        assert_eq!(error_description(b"  plain  "), "plain");
    }
}
