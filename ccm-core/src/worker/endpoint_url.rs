//! A CML base URL as ccm accepts it before sending the fleet's CML credentials
//! there: `scheme://host[:port]` and nothing else. The parser is deliberately
//! narrower than a browser's so that the host it checks is the host an HTTP client
//! dials: no user info, no path, query or fragment, no percent-escapes, no
//! backslashes, no non-ASCII, and no host name that a WHATWG parser would read as
//! a numeric IPv4 address (`2130706433`, `0x7f.1`).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// Why a URL or an allow-list entry was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    /// Not of the form `scheme://host[:port]`.
    #[error("`{url}` is not a CML base URL: {reason}")]
    Malformed {
        /// The text given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The host is neither one of the instance's own addresses nor in the allow-list.
    #[error(
        "host `{host}` of `{url}` is neither an address of the instance nor in cml.endpoint_allow"
    )]
    NotAllowed {
        /// The URL.
        url: String,
        /// Its host.
        host: String,
    },
    /// An allow-list entry that is neither a CIDR, an address nor a host name.
    #[error("`{entry}` is not a CIDR, an IP address or a host name: {reason}")]
    BadEntry {
        /// The entry.
        entry: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// The host of an endpoint: an IP literal or a lower-case DNS name without the
/// trailing dot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Host {
    /// An IP address (an IPv4-mapped IPv6 address is kept as its IPv4 form, so
    /// `::ffff:10.0.0.1` cannot slip past a rule written for `10.0.0.1`).
    Ip(IpAddr),
    /// A DNS name.
    Name(String),
}

impl Host {
    /// Parses a bare host (IPv6 without brackets), the way the allow-list and
    /// the instance's reported addresses are written.
    pub fn parse(text: &str) -> Result<Host, String> {
        if let Ok(ip) = IpAddr::from_str(text) {
            return Ok(Host::Ip(canonical(ip)));
        }
        dns_name(text).map(Host::Name)
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Ip(IpAddr::V6(v6)) => write!(f, "[{v6}]"),
            Host::Ip(IpAddr::V4(v4)) => write!(f, "{v4}"),
            Host::Name(name) => f.write_str(name),
        }
    }
}

/// The IPv4 form of an IPv4-mapped IPv6 address, any other address unchanged.
pub(crate) fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// A validated `scheme://host[:port]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointUrl {
    scheme: String,
    host: Host,
    port: Option<u16>,
}

impl EndpointUrl {
    /// Parses `text` (surrounding whitespace and one trailing `/` are ignored).
    pub fn parse(text: &str) -> Result<EndpointUrl, EndpointError> {
        let bad = |reason: &str| EndpointError::Malformed {
            url: text.to_owned(),
            reason: reason.to_owned(),
        };
        let trimmed = text.trim();
        if !trimmed.is_ascii() {
            return Err(bad(
                "only ASCII is accepted (write IDN host names in punycode)",
            ));
        }
        if trimmed
            .chars()
            .any(|c| c.is_ascii_control() || c == ' ' || c == '\\' || c == '%')
        {
            return Err(bad(
                "spaces, control characters, `\\` and `%` are not accepted",
            ));
        }
        let (scheme, rest) = trimmed
            .split_once("://")
            .ok_or_else(|| bad("expected scheme://host[:port]"))?;
        let scheme = scheme.to_ascii_lowercase();
        let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_lowercase())
            && scheme
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c));
        if !scheme_ok {
            return Err(bad("the scheme is not a URL scheme"));
        }
        let (authority, tail) = match rest.find(['/', '?', '#']) {
            Some(at) => rest.split_at(at),
            None => (rest, ""),
        };
        if !tail.is_empty() && tail != "/" {
            return Err(bad("no path, query or fragment is accepted after the host"));
        }
        if authority.contains('@') {
            return Err(bad("user info (`user@`) is not accepted"));
        }
        let (host, port) = split_host_port(authority).map_err(|reason| bad(&reason))?;
        Ok(EndpointUrl { scheme, host, port })
    }

    /// The scheme, lower-case.
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// The host.
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// The port written in the URL.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The port an HTTP client dials: the written one, else 443/80 for https/http.
    pub fn effective_port(&self) -> Option<u16> {
        self.port.or(match self.scheme.as_str() {
            "https" => Some(443),
            "http" => Some(80),
            _ => None,
        })
    }

    /// True for `http` and `https`, the schemes an HTTP client dials.
    pub fn is_http(&self) -> bool {
        matches!(self.scheme.as_str(), "http" | "https")
    }
}

impl fmt::Display for EndpointUrl {
    /// The canonical base URL, exactly what was checked.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme, self.host)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        Ok(())
    }
}

/// Splits `host[:port]` or `[v6][:port]`.
pub(crate) fn split_host_port(authority: &str) -> Result<(Host, Option<u16>), String> {
    if let Some(inner) = authority.strip_prefix('[') {
        let (v6, after) = inner
            .split_once(']')
            .ok_or("an IPv6 address is missing its `]`")?;
        let ip = Ipv6Addr::from_str(v6).map_err(|_| format!("`{v6}` is not an IPv6 address"))?;
        let port = match after {
            "" => None,
            _ => Some(port(
                after
                    .strip_prefix(':')
                    .ok_or("only `:port` may follow `]`")?,
            )?),
        };
        return Ok((Host::Ip(canonical(IpAddr::V6(ip))), port));
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, p)) => (host, Some(port(p)?)),
        None => (authority, None),
    };
    if host.contains(':') {
        return Err("write an IPv6 address in brackets: `[2001:db8::1]`".into());
    }
    if let Ok(v4) = Ipv4Addr::from_str(host) {
        return Ok((Host::Ip(IpAddr::V4(v4)), port));
    }
    Ok((Host::Name(dns_name(host)?), port))
}

fn port(text: &str) -> Result<u16, String> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("`{text}` is not a port"));
    }
    match text.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(format!("port `{text}` is outside 1..=65535")),
    }
}

/// A lower-case DNS name without its trailing dot, or why not.
pub(crate) fn dns_name(text: &str) -> Result<String, String> {
    let name = text.to_ascii_lowercase();
    let name = name.strip_suffix('.').unwrap_or(&name);
    if name.is_empty() {
        return Err("the host is empty".into());
    }
    if name.len() > 253 {
        return Err("a host name has at most 253 characters".into());
    }
    for label in name.split('.') {
        let ok = (1..=63).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err(format!("`{text}` is not a host name"));
        }
    }
    let last = name.rsplit('.').next().unwrap_or(name);
    let numeric = last.bytes().all(|b| b.is_ascii_digit())
        || last
            .strip_prefix("0x")
            .is_some_and(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()));
    if numeric {
        return Err(format!(
            "`{text}` would be read as a numeric IPv4 address; write the address in dotted form"
        ));
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(url: &str) -> String {
        EndpointUrl::parse(url).unwrap().host().to_string()
    }

    #[test]
    fn accepts_base_urls_and_canonicalises_them() {
        let url = EndpointUrl::parse(" HTTPS://CML.Example.com.:8443/ ").unwrap();
        assert_eq!(url.to_string(), "https://cml.example.com:8443");
        assert_eq!(url.effective_port(), Some(8443));
        assert!(url.is_http());
        assert_eq!(host("http://10.0.0.5"), "10.0.0.5");
        assert_eq!(host("https://[2001:DB8::1]:443"), "[2001:db8::1]");
        assert_eq!(host("https://[::ffff:10.0.0.1]"), "10.0.0.1");
        assert_eq!(
            EndpointUrl::parse("http://x.test")
                .unwrap()
                .effective_port(),
            Some(80)
        );
        let sim = EndpointUrl::parse("sim://i-0abc").unwrap();
        assert!(!sim.is_http());
        assert_eq!(sim.effective_port(), None);
    }

    #[test]
    fn refuses_everything_but_scheme_host_port() {
        for bad in [
            "cml.example.com",
            "https://",
            "https://user:pw@10.0.0.1",
            "https://10.0.0.1@evil.test",
            "https://evil.test\\@10.0.0.1",
            "https://10.0.0.1/api",
            "https://10.0.0.1?x=1",
            "https://10.0.0.1#frag",
            "https://10.0.0.1:0",
            "https://10.0.0.1:65536",
            "https://10.0.0.1:",
            "https://10.0.0.1:http",
            "https://2001:db8::1",
            "https://[2001:db8::1",
            "https://[2001:db8::1]x",
            "https://%31%30.0.0.1",
            "https://10.0.0.1\t.evil.test",
            "https://2130706433",
            "https://0x7f.1",
            "https://127.1",
            "https://010.0.0.1",
            "https://exämple.test",
            "https://-a.test",
            "https://a..test",
            "1https://a.test",
        ] {
            assert!(EndpointUrl::parse(bad).is_err(), "{bad} was accepted");
        }
    }
}
