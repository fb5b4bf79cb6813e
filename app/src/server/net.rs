//! Client addresses: networks of trusted proxies, and the address a request came from.

use std::net::IpAddr;

/// A network in CIDR notation (`10.0.0.0/8`, `2001:db8::/32`, or one address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    address: IpAddr,
    prefix: u8,
}

impl Network {
    /// Parses `ADDRESS/PREFIX`, or one address (a /32 or /128).
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let address: IpAddr = address
            .parse()
            .map_err(|_| format!("`{text}` is not an address or a network like 10.0.0.0/8"))?;
        let max = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(prefix) => prefix
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("`{text}` has a prefix length that is not 0 to {max}"))?,
        };
        Ok(Self { address, prefix })
    }

    /// Whether `address` is in this network (an IPv4 address mapped into IPv6 counts as IPv4).
    pub fn contains(&self, address: IpAddr) -> bool {
        let address = canonical(address);
        match (canonical(self.address), address) {
            (IpAddr::V4(network), IpAddr::V4(address)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(network) & mask == u32::from(address) & mask
            }
            (IpAddr::V6(network), IpAddr::V6(address)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(network) & mask == u128::from(address) & mask
            }
            _ => false,
        }
    }
}

impl std::fmt::Display for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix)
    }
}

/// An IPv4 address mapped into IPv6 (`::ffff:192.0.2.1`) as the IPv4 address it is.
pub fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// The address of the client a request came from, as worked out from the connection and,
/// when the connection is from a trusted proxy, its forwarding headers: handlers read this
/// request extension, never the headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// The client's address: the peer's, unless the peer is a trusted proxy; then the nearest
/// address in `forwarded` (the hops its proxies reported, the client first) that is not a
/// trusted proxy itself. A hop that does not parse ends the walk at the proxy that reported
/// it: nothing beyond it can be trusted.
pub fn client_ip(peer: IpAddr, forwarded: &[&str], trusted: &[Network]) -> IpAddr {
    let trusted_address = |address: IpAddr| trusted.iter().any(|n| n.contains(address));
    let mut client = canonical(peer);
    if !trusted_address(client) {
        return client;
    }
    for hop in forwarded.iter().rev() {
        match parse_hop(hop) {
            Some(address) => {
                client = address;
                if !trusted_address(address) {
                    break;
                }
            }
            None => break,
        }
    }
    client
}

/// One hop of `X-Forwarded-For` or of a `Forwarded` `for=`: an address, maybe quoted, maybe
/// in brackets, maybe with a port.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim().trim_matches('"');
    if let Ok(address) = hop.parse::<IpAddr>() {
        return Some(canonical(address));
    }
    if let Some(rest) = hop.strip_prefix('[') {
        let (inside, _) = rest.split_once(']')?;
        return inside.parse::<IpAddr>().ok().map(canonical);
    }
    let (address, port) = hop.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    address.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

/// The hops of the `Forwarded` headers' `for=` parameters, in order, if there are any; else
/// the hops of the `X-Forwarded-For` headers.
pub fn forwarded_hops<'a>(
    forwarded: impl Iterator<Item = &'a str>,
    x_forwarded_for: impl Iterator<Item = &'a str>,
) -> Vec<&'a str> {
    let from_forwarded: Vec<&str> = forwarded
        .flat_map(|header| header.split(','))
        .filter_map(|element| {
            element.split(';').find_map(|pair| {
                let (name, value) = pair.trim().split_once('=')?;
                name.trim()
                    .eq_ignore_ascii_case("for")
                    .then_some(value.trim())
            })
        })
        .collect();
    if !from_forwarded.is_empty() {
        return from_forwarded;
    }
    x_forwarded_for
        .flat_map(|header| header.split(','))
        .map(str::trim)
        .filter(|hop| !hop.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn networks_parse_and_contain() {
        let lan = Network::parse("10.0.0.0/8").unwrap();
        assert!(lan.contains(ip("10.200.1.2")));
        assert!(!lan.contains(ip("11.0.0.1")));
        assert!(lan.contains(ip("::ffff:10.1.2.3")));
        assert!(Network::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        let one = Network::parse("192.0.2.7").unwrap();
        assert!(one.contains(ip("192.0.2.7")) && !one.contains(ip("192.0.2.8")));
        let v6 = Network::parse("2001:db8::/32").unwrap();
        assert!(v6.contains(ip("2001:db8:1::5")) && !v6.contains(ip("2001:db9::1")));
        assert!(!v6.contains(ip("10.0.0.1")));
        for bad in [
            "",
            "10.0.0.0/33",
            "10.0.0/8",
            "x/1",
            "::/129",
            "10.0.0.0/-1",
        ] {
            assert!(Network::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn forwarding_headers_count_only_from_a_trusted_peer() {
        let trusted = [
            Network::parse("127.0.0.1").unwrap(),
            Network::parse("10.0.0.0/8").unwrap(),
        ];
        // An untrusted peer: its headers are ignored, whatever they say.
        assert_eq!(
            client_ip(ip("203.0.113.9"), &["10.9.9.9"], &trusted),
            ip("203.0.113.9")
        );
        // A trusted proxy: the nearest untrusted hop, so a client cannot forge the chain by
        // sending its own header first.
        assert_eq!(
            client_ip(
                ip("127.0.0.1"),
                &["1.2.3.4", "198.51.100.7", "10.1.1.1"],
                &trusted
            ),
            ip("198.51.100.7")
        );
        // Every hop trusted: the first one.
        assert_eq!(
            client_ip(ip("127.0.0.1"), &["10.0.0.5"], &trusted),
            ip("10.0.0.5")
        );
        // No header: the proxy itself.
        assert_eq!(client_ip(ip("127.0.0.1"), &[], &trusted), ip("127.0.0.1"));
        // An unreadable hop stops the walk at the proxy that reported it.
        assert_eq!(
            client_ip(
                ip("127.0.0.1"),
                &["198.51.100.7", "unknown", "10.1.1.1"],
                &trusted
            ),
            ip("10.1.1.1")
        );
    }

    #[test]
    fn hops_are_read_from_forwarded_first_then_x_forwarded_for() {
        let forwarded =
            ["for=192.0.2.60;proto=http;by=203.0.113.43, for=\"[2001:db8:cafe::17]:4711\""];
        let hops = forwarded_hops(forwarded.into_iter(), ["9.9.9.9"].into_iter());
        assert_eq!(hops, ["192.0.2.60", "\"[2001:db8:cafe::17]:4711\""]);
        assert_eq!(parse_hop(hops[1]), Some(ip("2001:db8:cafe::17")));
        let hops = forwarded_hops(
            [].into_iter(),
            ["1.1.1.1, 2.2.2.2", "3.3.3.3:80"].into_iter(),
        );
        assert_eq!(hops, ["1.1.1.1", "2.2.2.2", "3.3.3.3:80"]);
        assert_eq!(parse_hop("3.3.3.3:80"), Some(ip("3.3.3.3")));
        assert_eq!(parse_hop("_hidden"), None);
    }
}
