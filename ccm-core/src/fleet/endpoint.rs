//! Where a worker's CML answers: the `ccm:cml-endpoint` tag wins (NAT, proxies,
//! tests); otherwise `https://` plus the public or private address.

use crate::fleet::settings::EndpointAddress;
use crate::ports::cloud::CML_ENDPOINT_TAG;
use crate::ports::cml::CmlEndpoint;
use crate::worker::Worker;

/// The endpoint of `worker`, or `None` while it has no address at all.
pub fn cml_endpoint(worker: &Worker, address: EndpointAddress) -> Option<CmlEndpoint> {
    // The instance's tag as last observed wins; the record's own tags are the
    // fallback for workers whose instance has not been described yet.
    let tagged = worker
        .network
        .endpoint
        .as_ref()
        .or_else(|| worker.tags.get(CML_ENDPOINT_TAG))
        .map(|url| url.trim())
        .filter(|url| !url.is_empty());
    let base_url = match tagged {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => {
            let ip = match address {
                EndpointAddress::Public => worker
                    .network
                    .public_ip
                    .as_ref()
                    .or(worker.network.private_ip.as_ref()),
                EndpointAddress::Private => worker.network.private_ip.as_ref(),
            }?;
            format!("https://{ip}")
        }
    };
    Some(CmlEndpoint {
        worker_id: worker.id,
        base_url,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::ids::{Region, WorkerId};
    use crate::resources::Resources;
    use crate::time::epoch;
    use crate::worker::{Capacity, NewWorker};

    fn worker() -> Worker {
        Worker::create(
            WorkerId::from_u128(1),
            NewWorker {
                name: "w".into(),
                region: Region::new("us-east-1"),
                instance_type: "m5zn.metal".into(),
                capacity: Capacity::new(Resources::ZERO, 0),
                tags: BTreeMap::new(),
                labels: BTreeMap::new(),
                idle: Default::default(),
                created_by: None,
            },
            epoch(),
        )
        .0
    }

    #[test]
    fn tag_wins_over_addresses() {
        let mut w = worker();
        w.network.public_ip = Some("3.3.3.3".into());
        w.tags
            .insert(CML_ENDPOINT_TAG.into(), "http://127.0.0.1:9000/".into());
        let ep = cml_endpoint(&w, EndpointAddress::Public).unwrap();
        assert_eq!(ep.base_url, "http://127.0.0.1:9000");
        w.network.endpoint = Some("sim://i-1".into());
        let ep = cml_endpoint(&w, EndpointAddress::Public).unwrap();
        assert_eq!(ep.base_url, "sim://i-1", "the observed instance tag wins");
    }

    #[test]
    fn address_setting_chooses_public_or_private() {
        let mut w = worker();
        assert!(cml_endpoint(&w, EndpointAddress::Public).is_none());
        w.network.private_ip = Some("10.0.0.5".into());
        assert_eq!(
            cml_endpoint(&w, EndpointAddress::Public).unwrap().base_url,
            "https://10.0.0.5",
            "falls back to the private address"
        );
        w.network.public_ip = Some("3.3.3.3".into());
        assert_eq!(
            cml_endpoint(&w, EndpointAddress::Public).unwrap().base_url,
            "https://3.3.3.3"
        );
        assert_eq!(
            cml_endpoint(&w, EndpointAddress::Private).unwrap().base_url,
            "https://10.0.0.5"
        );
    }
}
