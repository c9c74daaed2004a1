//! Where a worker's CML answers, and whether ccm may send the fleet's CML
//! credentials there. In order: the URL an admin set on the worker, the instance's
//! `ccm:cml-endpoint` tag (NAT, proxies, tests), `https://` plus the public or
//! private address. Whatever the source, the host must be one of the instance's own
//! addresses or pass `cml.endpoint_allow`; a tag is untrusted input (anyone with
//! EC2 access can write it), so a refused one is reported, never replaced by
//! another source.

use crate::fleet::settings::EndpointAddress;
use crate::ports::cloud::CML_ENDPOINT_TAG;
use crate::ports::cml::CmlEndpoint;
use crate::worker::{EndpointAllowList, EndpointUrl, Host, Network, Worker};

/// The endpoint the engine may use for a worker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EndpointChoice {
    /// CML may be called here.
    Allowed(CmlEndpoint),
    /// An endpoint is named but ccm will not call it.
    Refused {
        /// The endpoint as named.
        endpoint: String,
        /// Why, naming its source, the host and the rule.
        reason: String,
    },
    /// The worker has no address yet.
    Missing,
}

/// The instance's own hosts as EC2 reported them. Its id counts too, but only for
/// schemes no HTTP client dials (the simulator's `sim://<instance-id>`): as a host
/// name, `i-0abc` would be resolved through whatever DNS search domain ccm runs under.
pub fn own_hosts(worker: &Worker, url: &EndpointUrl) -> Vec<Host> {
    let mut own: Vec<Host> = [&worker.network.public_ip, &worker.network.private_ip]
        .into_iter()
        .flatten()
        .filter_map(|ip| Host::parse(ip.trim()).ok())
        .collect();
    if !url.is_http() {
        if let Some(instance) = &worker.instance_id {
            own.extend(Host::parse(instance.as_str()).ok());
        }
    }
    own
}

/// Checks `text` as an endpoint of `worker`: a URL of the form
/// `scheme://host[:port]` whose host is the instance's own or in `allow`.
pub fn check_endpoint(
    worker: &Worker,
    text: &str,
    allow: &EndpointAllowList,
) -> Result<EndpointUrl, crate::worker::EndpointError> {
    let url = EndpointUrl::parse(text)?;
    allow.check(&url, &own_hosts(worker, &url))?;
    Ok(url)
}

/// The endpoint of `worker` under `address` and `allow`.
pub fn choose(
    worker: &Worker,
    address: EndpointAddress,
    allow: &EndpointAllowList,
) -> EndpointChoice {
    // The admin's choice first; then the instance's tag as last observed, with the
    // record's own tags as the fallback for instances not described yet.
    let named = worker
        .spec
        .cml_endpoint
        .as_ref()
        .map(|url| (url, "the endpoint set on the worker"))
        .or_else(|| {
            worker
                .network
                .endpoint
                .as_ref()
                .or_else(|| worker.tags.get(CML_ENDPOINT_TAG))
                .map(|url| (url, "the instance's `ccm:cml-endpoint` tag"))
        })
        .filter(|(url, _)| !url.trim().is_empty());
    let (text, source) = match named {
        Some((url, source)) => (url.clone(), source),
        None => {
            let ip = match address {
                EndpointAddress::Public => worker
                    .network
                    .public_ip
                    .as_ref()
                    .or(worker.network.private_ip.as_ref()),
                EndpointAddress::Private => worker.network.private_ip.as_ref(),
            };
            let Some(ip) = ip else {
                return EndpointChoice::Missing;
            };
            let host = if ip.contains(':') {
                format!("[{ip}]")
            } else {
                ip.clone()
            };
            (format!("https://{host}"), "the instance's address")
        }
    };
    match check_endpoint(worker, &text, allow) {
        Ok(url) => {
            let mut ep = CmlEndpoint::new(worker.id, url.to_string());
            ep.pinned_sha256
                .clone_from(&worker.status.cml.certificate.pinned_sha256);
            EndpointChoice::Allowed(ep)
        }
        Err(error) => EndpointChoice::Refused {
            endpoint: text,
            reason: format!("ccm will not call CML at {source}: {error}"),
        },
    }
}

/// The address students dial for a lablet's ports on a worker (PATty listens on
/// the CML host itself): the instance's public IP first — ccm may reach CML on a
/// private address or through an admin-set name that fronts only HTTPS, but the
/// instance's own public address is where PATty listens —, then the host of the
/// endpoint ccm uses, then the private IP. IPv6 literals are given bare
/// (`telnet` takes them so).
pub fn console_host(network: Option<&Network>, ep: &CmlEndpoint) -> String {
    let usable = |ip: &Option<String>| {
        ip.as_deref()
            .map(str::trim)
            .filter(|ip| !ip.is_empty())
            .map(str::to_owned)
    };
    if let Some(public) = network.and_then(|n| usable(&n.public_ip)) {
        return public;
    }
    if let Ok(url) = EndpointUrl::parse(&ep.base_url) {
        return match url.host() {
            Host::Ip(ip) => ip.to_string(),
            Host::Name(name) => name.clone(),
        };
    }
    network
        .and_then(|n| usable(&n.private_ip))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::ids::{InstanceId, Region, WorkerId};
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
                image: None,
            },
            epoch(),
        )
        .0
    }

    fn url(choice: EndpointChoice) -> String {
        match choice {
            EndpointChoice::Allowed(ep) => ep.base_url,
            other => panic!("expected an allowed endpoint, got {other:?}"),
        }
    }

    fn loopback() -> EndpointAllowList {
        EndpointAllowList::parse(&["127.0.0.1/32"]).unwrap()
    }

    #[test]
    fn consoles_are_reached_on_the_public_address_first() {
        let mut network = Network {
            endpoint: None,
            public_ip: Some("3.3.3.3".into()),
            private_ip: Some("10.0.0.5".into()),
        };
        let ep = CmlEndpoint::new(WorkerId::from_u128(1), "https://10.0.0.5");
        assert_eq!(console_host(Some(&network), &ep), "3.3.3.3");
        network.public_ip = Some(" ".into());
        let named = CmlEndpoint::new(WorkerId::from_u128(1), "https://cml-1.example.com:8443");
        assert_eq!(console_host(Some(&network), &named), "cml-1.example.com");
        let v6 = CmlEndpoint::new(WorkerId::from_u128(1), "https://[2001:db8::5]");
        assert_eq!(console_host(None, &v6), "2001:db8::5");
        let broken = CmlEndpoint::new(WorkerId::from_u128(1), "not a url");
        assert_eq!(console_host(Some(&network), &broken), "10.0.0.5");
        assert_eq!(console_host(None, &broken), "");
    }

    #[test]
    fn admin_url_then_tag_then_address() {
        let mut w = worker();
        let public = EndpointAddress::Public;
        w.network.public_ip = Some("3.3.3.3".into());
        assert_eq!(url(choose(&w, public, &loopback())), "https://3.3.3.3");
        w.tags
            .insert(CML_ENDPOINT_TAG.into(), "http://127.0.0.1:9000/".into());
        assert_eq!(
            url(choose(&w, public, &loopback())),
            "http://127.0.0.1:9000"
        );
        w.network.endpoint = Some("http://127.0.0.1:9001".into());
        assert_eq!(
            url(choose(&w, public, &loopback())),
            "http://127.0.0.1:9001",
            "the observed instance tag wins over the record's"
        );
        w.spec.cml_endpoint = Some("https://3.3.3.3:8443".into());
        assert_eq!(url(choose(&w, public, &loopback())), "https://3.3.3.3:8443");
    }

    #[test]
    fn a_tag_outside_the_list_is_refused_not_replaced() {
        let mut w = worker();
        w.network.public_ip = Some("3.3.3.3".into());
        w.network.endpoint = Some("https://169.254.169.254".into());
        let EndpointChoice::Refused { reason, .. } =
            choose(&w, EndpointAddress::Public, &EndpointAllowList::default())
        else {
            panic!("the metadata service must be refused");
        };
        assert!(reason.contains("169.254.169.254"), "{reason}");
        assert!(reason.contains("ccm:cml-endpoint"), "{reason}");
        assert!(matches!(
            choose(&w, EndpointAddress::Public, &loopback()),
            EndpointChoice::Refused { .. }
        ));
    }

    #[test]
    fn the_instance_id_is_own_only_outside_http() {
        let mut w = worker();
        w.instance_id = Some(InstanceId::new("i-0abc"));
        w.network.endpoint = Some("sim://i-0abc".into());
        let none = EndpointAllowList::default();
        assert_eq!(
            url(choose(&w, EndpointAddress::Public, &none)),
            "sim://i-0abc"
        );
        w.network.endpoint = Some("https://i-0abc".into());
        assert!(matches!(
            choose(&w, EndpointAddress::Public, &none),
            EndpointChoice::Refused { .. }
        ));
        w.network.endpoint = Some("sim://i-0def".into());
        assert!(matches!(
            choose(&w, EndpointAddress::Public, &none),
            EndpointChoice::Refused { .. }
        ));
    }

    #[test]
    fn address_setting_chooses_public_or_private() {
        let mut w = worker();
        let none = EndpointAllowList::default();
        assert_eq!(
            choose(&w, EndpointAddress::Public, &none),
            EndpointChoice::Missing
        );
        w.network.private_ip = Some("10.0.0.5".into());
        assert_eq!(
            url(choose(&w, EndpointAddress::Public, &none)),
            "https://10.0.0.5",
            "falls back to the private address"
        );
        w.network.public_ip = Some("3.3.3.3".into());
        assert_eq!(
            url(choose(&w, EndpointAddress::Public, &none)),
            "https://3.3.3.3"
        );
        assert_eq!(
            url(choose(&w, EndpointAddress::Private, &none)),
            "https://10.0.0.5"
        );
    }
}
