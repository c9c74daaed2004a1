//! Conversions between the SDK's shapes and the port's.

use std::collections::BTreeMap;

use aws_sdk_ec2::primitives::DateTime;
use aws_sdk_ec2::types as ec2;
use ccm_core::ids::{ImageId, InstanceId, Region};
use ccm_core::ports::cloud::{Image, Instance, InstanceState, InstanceStatusCheck, StateChange};
use ccm_core::time::Timestamp;

/// An SDK timestamp as a domain timestamp.
pub(crate) fn to_timestamp(t: &DateTime) -> Option<Timestamp> {
    chrono::DateTime::from_timestamp(t.secs(), t.subsec_nanos())
}

/// A domain timestamp as an SDK timestamp.
pub(crate) fn to_aws_time(t: Timestamp) -> DateTime {
    DateTime::from_secs_and_nanos(t.timestamp(), t.timestamp_subsec_nanos())
}

/// The EC2 state of an SDK instance state: by name, else by the numeric code,
/// else [`InstanceState::Unknown`].
pub(crate) fn instance_state(state: Option<&ec2::InstanceState>) -> InstanceState {
    let Some(state) = state else {
        return InstanceState::Unknown;
    };
    match state.name() {
        Some(name) if !name.as_str().is_empty() => InstanceState::from_name(name.as_str()),
        _ => state
            .code()
            .map_or(InstanceState::Unknown, InstanceState::from_code),
    }
}

fn tags_of(tags: &[ec2::Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .filter_map(|t| {
            t.key()
                .map(|k| (k.to_owned(), t.value().unwrap_or_default().to_owned()))
        })
        .collect()
}

/// An SDK instance as the port's.
pub(crate) fn instance(region: &Region, i: &ec2::Instance) -> Instance {
    let monitoring = i
        .monitoring()
        .and_then(|m| m.state())
        .map(|s| {
            matches!(
                s,
                ec2::MonitoringState::Enabled | ec2::MonitoringState::Pending
            )
        })
        .unwrap_or(false);
    Instance {
        instance_id: InstanceId::new(i.instance_id().unwrap_or_default()),
        region: region.clone(),
        instance_type: i
            .instance_type()
            .map(|t| t.as_str().to_owned())
            .unwrap_or_default(),
        state: instance_state(i.state()),
        image_id: ImageId::new(i.image_id().unwrap_or_default()),
        launched_at: i.launch_time().and_then(to_timestamp),
        public_ip: i.public_ip_address().map(str::to_owned),
        private_ip: i.private_ip_address().map(str::to_owned),
        tags: tags_of(i.tags()),
        detailed_monitoring: monitoring,
    }
}

/// An SDK state change as the port's.
pub(crate) fn state_change(change: &ec2::InstanceStateChange) -> StateChange {
    StateChange {
        instance_id: InstanceId::new(change.instance_id().unwrap_or_default()),
        previous: instance_state(change.previous_state()),
        current: instance_state(change.current_state()),
    }
}

/// An SDK status as the port's.
pub(crate) fn status_check(status: &ec2::InstanceStatus) -> InstanceStatusCheck {
    let summary = |s: Option<&ec2::InstanceStatusSummary>| {
        s.and_then(|s| s.status())
            .map(|s| s.as_str().to_owned())
            .unwrap_or_else(|| "insufficient-data".to_owned())
    };
    InstanceStatusCheck {
        instance_id: InstanceId::new(status.instance_id().unwrap_or_default()),
        instance_status: summary(status.instance_status()),
        system_status: summary(status.system_status()),
    }
}

/// Parses EC2's image creation date (`2025-06-01T10:00:00.000Z`).
pub(crate) fn parse_creation_date(text: &str) -> Option<Timestamp> {
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// An SDK image as the port's.
pub(crate) fn image(i: &ec2::Image) -> Image {
    Image {
        id: ImageId::new(i.image_id().unwrap_or_default()),
        name: i.name().map(str::to_owned),
        description: i.description().map(str::to_owned),
        created_at: i.creation_date().and_then(parse_creation_date),
    }
}

/// Newest first; equal dates by name then id, descending, so the order is total
/// and a launch by pattern always picks the image `find_images` lists first.
pub(crate) fn sort_newest_first(images: &mut [Image]) {
    images.sort_by(|a, b| {
        b.created_at
            .cmp(&a.created_at)
            .then_with(|| b.name.cmp(&a.name))
            .then_with(|| b.id.cmp(&a.id))
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use ccm_core::worker::LifecycleState;

    fn state(name: Option<ec2::InstanceStateName>, code: Option<i32>) -> ec2::InstanceState {
        ec2::InstanceState::builder()
            .set_name(name)
            .set_code(code)
            .build()
    }

    #[test]
    fn every_ec2_state_maps_to_a_lifecycle_state() {
        use ec2::InstanceStateName as N;
        let cases = [
            (N::Pending, 0, "pending", LifecycleState::Provisioning),
            (N::Running, 16, "running", LifecycleState::Running),
            (
                N::ShuttingDown,
                32,
                "shutting-down",
                LifecycleState::ShuttingDown,
            ),
            (N::Terminated, 48, "terminated", LifecycleState::Terminated),
            (N::Stopping, 64, "stopping", LifecycleState::Stopping),
            (N::Stopped, 80, "stopped", LifecycleState::Stopped),
        ];
        for (name, code, text, lifecycle) in cases {
            let by_name = instance_state(Some(&state(Some(name), Some(code))));
            assert_eq!(by_name.as_str(), text);
            assert_eq!(LifecycleState::from_instance(by_name), lifecycle);
            // Some answers carry only the code; the high byte is internal to EC2.
            let by_code = instance_state(Some(&state(None, Some(code + 256))));
            assert_eq!(by_code, by_name);
        }
        assert_eq!(instance_state(None), InstanceState::Unknown);
        assert_eq!(
            instance_state(Some(&state(None, Some(7)))),
            InstanceState::Unknown
        );
        let novel = ec2::InstanceStateName::from("hibernating");
        assert_eq!(
            instance_state(Some(&state(Some(novel), None))),
            InstanceState::Unknown
        );
        assert!(InstanceState::ShuttingDown.is_gone() && InstanceState::Terminated.is_gone());
        assert!(InstanceState::LIVE.iter().all(|s| !s.is_gone()));
    }

    #[test]
    fn instances_convert_with_tags_times_and_monitoring() {
        let raw = ec2::Instance::builder()
            .instance_id("i-0abc")
            .image_id("ami-1")
            .instance_type(ec2::InstanceType::from("m5zn.metal"))
            .state(state(Some(ec2::InstanceStateName::ShuttingDown), Some(32)))
            .launch_time(DateTime::from_secs(1_700_000_000))
            .private_ip_address("10.0.0.5")
            .tags(ec2::Tag::builder().key("Name").value("w1").build())
            .monitoring(
                ec2::Monitoring::builder()
                    .state(ec2::MonitoringState::Enabled)
                    .build(),
            )
            .build();
        let converted = instance(&Region::new("eu-west-1"), &raw);
        assert_eq!(converted.instance_id.as_str(), "i-0abc");
        assert_eq!(converted.state, InstanceState::ShuttingDown);
        assert_eq!(converted.instance_type, "m5zn.metal");
        assert_eq!(
            converted.launched_at,
            Some(ccm_core::time::from_unix_seconds(1_700_000_000))
        );
        assert_eq!(converted.tags.get("Name").map(String::as_str), Some("w1"));
        assert!(converted.detailed_monitoring);
        assert_eq!(converted.public_ip, None);
    }

    #[test]
    fn images_sort_newest_first_with_a_total_order() {
        let mk = |id: &str, name: &str, date: &str| {
            image(
                &ec2::Image::builder()
                    .image_id(id)
                    .name(name)
                    .creation_date(date)
                    .build(),
            )
        };
        let mut images = vec![
            mk("ami-a", "cml-2.9.0", "2025-03-01T10:00:00.000Z"),
            mk("ami-c", "cml-2.9.1", "2025-06-01T10:00:00.000Z"),
            mk("ami-b", "cml-2.9.2", "2025-06-01T10:00:00.000Z"),
        ];
        sort_newest_first(&mut images);
        let ids: Vec<&str> = images.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids, ["ami-b", "ami-c", "ami-a"]);
        assert!(parse_creation_date("not a date").is_none());
    }

    #[test]
    fn times_round_trip() {
        let t = ccm_core::time::from_unix_seconds(1_750_000_123);
        assert_eq!(to_timestamp(&to_aws_time(t)), Some(t));
    }
}
