//! The hosts ccm may send the fleet's CML credentials to (`cml.endpoint_allow`):
//! CIDRs (`10.0.0.0/8`, `2001:db8::/32`), single addresses, host names and
//! `*.example.com` wildcards, each optionally with `:port`. Besides the list, a
//! worker's own addresses as EC2 reported them are always allowed.
//!
//! No DNS resolution happens here (ccm-core does no I/O): a host name in the list
//! is trusted as a name, so whoever controls that name's DNS decides where it
//! points. An IP literal is matched only by the CIDR and address entries, and a
//! host name only by the name entries.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::endpoint_url::{canonical, dns_name, split_host_port, EndpointError, EndpointUrl, Host};

/// What one entry matches.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Pattern {
    /// Addresses inside `network/prefix`.
    Net { network: IpAddr, prefix: u8 },
    /// Exactly this name.
    Name(String),
    /// Any name strictly under this suffix (`*.example.com`: `a.example.com`, not
    /// `example.com`).
    Under(String),
}

/// One allow-list entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllowEntry {
    text: String,
    pattern: Pattern,
    port: Option<u16>,
}

impl FromStr for AllowEntry {
    type Err = EndpointError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = |reason: String| EndpointError::BadEntry {
            entry: text.to_owned(),
            reason,
        };
        let entry = text.trim().to_ascii_lowercase();
        if entry.is_empty() || !entry.is_ascii() {
            return Err(bad("empty or not ASCII".into()));
        }
        let (pattern, port) = if let Some((addr, prefix)) = entry.split_once('/') {
            (cidr(addr, prefix).map_err(bad)?, None)
        } else if let Some(suffix) = entry.strip_prefix("*.") {
            let (suffix, port) = match suffix.rsplit_once(':') {
                Some((name, p)) => (name, Some(entry_port(p).map_err(bad)?)),
                None => (suffix, None),
            };
            (Pattern::Under(dns_name(suffix).map_err(bad)?), port)
        } else if let Ok(ip) = IpAddr::from_str(&entry) {
            (single(ip), None)
        } else {
            let (host, port) = split_host_port(&entry).map_err(bad)?;
            let pattern = match host {
                Host::Ip(ip) => single(ip),
                Host::Name(name) => Pattern::Name(name),
            };
            (pattern, port)
        };
        Ok(AllowEntry {
            text: text.trim().to_owned(),
            pattern,
            port,
        })
    }
}

fn entry_port(text: &str) -> Result<u16, String> {
    match text.parse::<u16>() {
        Ok(p) if p > 0 && text.bytes().all(|b| b.is_ascii_digit()) => Ok(p),
        _ => Err(format!("`{text}` is not a port")),
    }
}

fn single(ip: IpAddr) -> Pattern {
    let network = canonical(ip);
    let prefix = if network.is_ipv4() { 32 } else { 128 };
    Pattern::Net { network, prefix }
}

fn cidr(addr: &str, prefix: &str) -> Result<Pattern, String> {
    let addr = addr.trim_start_matches('[').trim_end_matches(']');
    let network = IpAddr::from_str(addr).map_err(|_| format!("`{addr}` is not an IP address"))?;
    let max = if network.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix.parse::<u8>() {
        Ok(p) if p <= max && prefix.bytes().all(|b| b.is_ascii_digit()) => p,
        _ => return Err(format!("prefix `/{prefix}` is outside 0..={max}")),
    };
    if masked(network, prefix) != network {
        return Err(format!(
            "host bits are set; the network is {}/{prefix}",
            masked(network, prefix)
        ));
    }
    Ok(Pattern::Net { network, prefix })
}

/// `ip` with every bit after the first `prefix` cleared.
fn masked(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4((u32::from(v4) & mask).into())
        }
        IpAddr::V6(v6) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6((u128::from(v6) & mask).into())
        }
    }
}

impl AllowEntry {
    /// True when `url`'s host (and port, when the entry names one) match.
    pub fn matches(&self, url: &EndpointUrl) -> bool {
        if self.port.is_some() && self.port != url.effective_port() {
            return false;
        }
        match (&self.pattern, url.host()) {
            (Pattern::Net { network, prefix }, Host::Ip(ip)) => {
                network.is_ipv4() == ip.is_ipv4() && masked(*ip, *prefix) == *network
            }
            (Pattern::Name(name), Host::Name(host)) => name == host,
            (Pattern::Under(suffix), Host::Name(host)) => host
                .strip_suffix(suffix.as_str())
                .is_some_and(|head| head.len() > 1 && head.ends_with('.')),
            _ => false,
        }
    }
}

impl fmt::Display for AllowEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The configured allow-list (`cml.endpoint_allow`); empty by default, which
/// leaves only each worker's own addresses.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<String>", into = "Vec<String>")]
pub struct EndpointAllowList {
    entries: Vec<AllowEntry>,
}

impl EndpointAllowList {
    /// Parses every entry, refusing the first bad one.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, EndpointError> {
        let entries = entries
            .iter()
            .map(|e| e.as_ref().parse())
            .collect::<Result<Vec<AllowEntry>, _>>()?;
        Ok(Self { entries })
    }

    /// The entries.
    pub fn entries(&self) -> &[AllowEntry] {
        &self.entries
    }

    /// Accepts `url` when its host is one of `own` (the instance's addresses as
    /// EC2 reported them) or matches an entry.
    pub fn check(&self, url: &EndpointUrl, own: &[Host]) -> Result<(), EndpointError> {
        if own.contains(url.host()) || self.entries.iter().any(|e| e.matches(url)) {
            return Ok(());
        }
        Err(EndpointError::NotAllowed {
            url: url.to_string(),
            host: url.host().to_string(),
        })
    }
}

impl TryFrom<Vec<String>> for EndpointAllowList {
    type Error = EndpointError;

    fn try_from(entries: Vec<String>) -> Result<Self, Self::Error> {
        Self::parse(&entries)
    }
}

impl From<EndpointAllowList> for Vec<String> {
    fn from(list: EndpointAllowList) -> Self {
        list.entries.iter().map(ToString::to_string).collect()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn list(entries: &[&str]) -> EndpointAllowList {
        EndpointAllowList::parse(entries).unwrap()
    }

    fn allowed(list: &EndpointAllowList, url: &str) -> bool {
        list.check(&EndpointUrl::parse(url).unwrap(), &[]).is_ok()
    }

    #[test]
    fn cidr_v4_matches_inside_only() {
        let l = list(&["10.0.0.0/8", "192.168.1.7"]);
        assert!(allowed(&l, "https://10.1.2.3"));
        assert!(allowed(&l, "https://10.255.255.255:8443"));
        assert!(allowed(&l, "https://[::ffff:10.9.9.9]"), "mapped v6 is v4");
        assert!(allowed(&l, "http://192.168.1.7"));
        assert!(!allowed(&l, "https://11.0.0.1"));
        assert!(!allowed(&l, "https://192.168.1.8"));
        assert!(!allowed(&l, "https://10.0.0.1.evil.test"));
        assert!(
            !allowed(&list(&["0.0.0.0/0"]), "https://[2001:db8::1]"),
            "a v4 network never matches v6"
        );
    }

    #[test]
    fn cidr_v6_matches_inside_only() {
        let l = list(&["2001:db8::/32", "[fd00::1]/128"]);
        assert!(allowed(&l, "https://[2001:db8:ffff::1]"));
        assert!(allowed(&l, "https://[fd00::1]:443"));
        assert!(!allowed(&l, "https://[2001:db9::1]"));
        assert!(!allowed(&l, "https://[fd00::2]"));
        assert!(!allowed(&l, "https://10.0.0.1"));
    }

    #[test]
    fn wildcard_names_match_strict_subdomains() {
        let l = list(&["*.cml.example.com", "proxy.example.com"]);
        assert!(allowed(&l, "https://w1.cml.example.com"));
        assert!(allowed(&l, "https://a.b.CML.example.com."));
        assert!(allowed(&l, "https://proxy.example.com:9443"));
        assert!(!allowed(&l, "https://cml.example.com"));
        assert!(!allowed(&l, "https://evilcml.example.com"));
        assert!(!allowed(&l, "https://w1.cml.example.com.evil.test"));
        assert!(!allowed(&l, "https://a.proxy.example.com"));
        assert!(!allowed(&l, "https://example.com"));
    }

    #[test]
    fn ports_restrict_when_named() {
        let l = list(&[
            "cml.example.com:8443",
            "*.lab.test:443",
            "10.0.0.5:9000",
            "[fd00::5]:9000",
        ]);
        assert!(allowed(&l, "https://cml.example.com:8443"));
        assert!(!allowed(&l, "https://cml.example.com"));
        assert!(allowed(&l, "https://w.lab.test"), "443 is https' default");
        assert!(!allowed(&l, "http://w.lab.test"), "80 is http's default");
        assert!(allowed(&l, "http://10.0.0.5:9000"));
        assert!(!allowed(&l, "http://10.0.0.5:9001"));
        assert!(allowed(&l, "http://[fd00::5]:9000"));
        assert!(!allowed(&l, "http://[fd00::5]"));
    }

    #[test]
    fn own_addresses_are_allowed_without_entries() {
        let own = [
            Host::parse("3.3.3.3").unwrap(),
            Host::parse("10.0.0.5").unwrap(),
        ];
        let empty = EndpointAllowList::default();
        let check = |url: &str| empty.check(&EndpointUrl::parse(url).unwrap(), &own);
        assert!(check("https://3.3.3.3").is_ok());
        assert!(check("https://10.0.0.5:8443").is_ok());
        let refused = check("https://10.0.0.6").unwrap_err();
        assert!(refused.to_string().contains("10.0.0.6"), "{refused}");
    }

    #[test]
    fn bad_entries_are_refused_with_the_entry() {
        for bad in [
            "",
            "*",
            "*.",
            "10.0.0.1/8",
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/x",
            "a..b",
            "host:0",
            "host:99999",
            "*.1",
            "exämple.test",
            "10.0.0.1:port",
        ] {
            let error = EndpointAllowList::parse(&[bad]).unwrap_err();
            assert!(
                matches!(error, EndpointError::BadEntry { .. }),
                "{bad}: {error}"
            );
        }
    }

    #[test]
    fn round_trips_through_serde() {
        let l = list(&["10.0.0.0/8", "*.example.com"]);
        let json = serde_json::to_string(&l).unwrap();
        assert_eq!(json, r#"["10.0.0.0/8","*.example.com"]"#);
        assert_eq!(serde_json::from_str::<EndpointAllowList>(&json).unwrap(), l);
        assert!(serde_json::from_str::<EndpointAllowList>(r#"["nope/1"]"#).is_err());
    }

    fn any_url() -> impl Strategy<Value = String> {
        let v4 = any::<[u8; 4]>().prop_map(|o| format!("{}.{}.{}.{}", o[0], o[1], o[2], o[3]));
        let v6 = any::<u128>().prop_map(|v| format!("[{}]", std::net::Ipv6Addr::from(v)));
        let name = "[a-z]{1,3}(\\.[a-z]{1,3}){0,2}";
        let host = prop_oneof![v4, v6, name.prop_map(String::from)];
        (
            prop_oneof![Just("http"), Just("https")],
            host,
            proptest::option::of(1u16..),
        )
            .prop_map(|(s, h, p)| match p {
                Some(p) => format!("{s}://{h}:{p}"),
                None => format!("{s}://{h}"),
            })
    }

    fn any_entry() -> impl Strategy<Value = String> {
        prop_oneof![
            (any::<[u8; 4]>(), 0u8..=32).prop_map(|(o, p)| {
                let ip = IpAddr::V4(o.into());
                format!("{}/{p}", masked(ip, p))
            }),
            (any::<u128>(), 0u8..=128).prop_map(|(v, p)| {
                let ip = IpAddr::V6(v.into());
                format!("{}/{p}", masked(ip, p))
            }),
            "[a-z]{1,3}(\\.[a-z]{1,3}){0,1}".prop_map(String::from),
            "\\*\\.[a-z]{1,3}".prop_map(String::from),
        ]
    }

    /// Whether `host` lies inside the entry, computed independently of `matches`.
    fn inside(entry: &str, url: &EndpointUrl) -> bool {
        match (entry.split_once('/'), url.host()) {
            (Some((net, p)), Host::Ip(ip)) => {
                let net: IpAddr = net.parse().unwrap();
                let p: u32 = p.parse().unwrap();
                match (net, ip) {
                    (IpAddr::V4(n), IpAddr::V4(h)) => {
                        p == 0 || (u32::from(*h) ^ u32::from(n)) >> (32 - p) == 0
                    }
                    (IpAddr::V6(n), IpAddr::V6(h)) => {
                        p == 0 || (u128::from(*h) ^ u128::from(n)) >> (128 - p) == 0
                    }
                    _ => false,
                }
            }
            (None, Host::Name(name)) => match entry.strip_prefix("*.") {
                Some(suffix) => name.ends_with(&format!(".{suffix}")),
                None => name == entry,
            },
            _ => false,
        }
    }

    proptest! {
        #[test]
        fn no_accepted_endpoint_is_outside_the_list(
            entries in proptest::collection::vec(any_entry(), 0..4),
            url in any_url(),
        ) {
            let list = EndpointAllowList::parse(&entries).unwrap();
            let Ok(url) = EndpointUrl::parse(&url) else { return Ok(()); };
            let accepted = list.check(&url, &[]).is_ok();
            let expected = entries.iter().any(|e| inside(e, &url));
            prop_assert_eq!(accepted, expected, "{} against {:?}", url, entries);
        }
    }
}
