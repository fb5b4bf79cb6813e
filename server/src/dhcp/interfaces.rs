//! The network interfaces ProxyDHCP answers on: each with its IPv4 address, which becomes
//! the server address its clients are sent to.

use std::{collections::BTreeMap, net::Ipv4Addr};

use nix::{ifaddrs::getifaddrs, net::if_::InterfaceFlags, net::if_::if_nametoindex};

/// An interface with an IPv4 address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    pub name: String,
    pub index: u32,
    pub address: Ipv4Addr,
}

/// Why the interfaces asked for cannot be served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InterfaceError {
    #[error("cannot list the network interfaces: {0}")]
    List(String),
    #[error("there is no network interface `{name}` (interfaces: {known})")]
    Unknown { name: String, known: String },
    #[error(
        "the network interface `{name}` has no IPv4 address: ProxyDHCP answers on IPv4 and \
         sends clients to the interface's address; give it one or name another --pxe-interface"
    )]
    NoIpv4 { name: String },
    #[error(
        "no network interface has an IPv4 address besides loopback; give one an address or \
         name one with --pxe-interface"
    )]
    NoneUp,
}

/// Every interface that is up, with its first IPv4 address; interfaces without one are
/// listed with `None`.
fn scan() -> Result<BTreeMap<String, (Option<Ipv4Addr>, InterfaceFlags)>, InterfaceError> {
    let mut found: BTreeMap<String, (Option<Ipv4Addr>, InterfaceFlags)> = BTreeMap::new();
    let addresses = getifaddrs().map_err(|error| InterfaceError::List(error.to_string()))?;
    for entry in addresses {
        let ipv4 = entry
            .address
            .as_ref()
            .and_then(|address| address.as_sockaddr_in())
            .map(|address| address.ip());
        let slot = found
            .entry(entry.interface_name)
            .or_insert((None, entry.flags));
        slot.1 |= entry.flags;
        if slot.0.is_none() {
            slot.0 = ipv4;
        }
    }
    Ok(found)
}

fn index(name: &str) -> Result<u32, InterfaceError> {
    if_nametoindex(name).map_err(|_| InterfaceError::Unknown {
        name: name.to_owned(),
        known: String::new(),
    })
}

/// Every interface that is up with its IPv4 address, loopback last (for the DHCP
/// configuration the Network boot page writes).
pub fn addresses() -> Vec<(String, Ipv4Addr)> {
    let mut found: Vec<(bool, String, Ipv4Addr)> = scan()
        .unwrap_or_default()
        .into_iter()
        .filter(|(_, (_, flags))| flags.contains(InterfaceFlags::IFF_UP))
        .filter_map(|(name, (address, flags))| {
            Some((flags.contains(InterfaceFlags::IFF_LOOPBACK), name, address?))
        })
        .collect();
    found.sort();
    found
        .into_iter()
        .map(|(_, name, address)| (name, address))
        .collect()
}

/// The interfaces named, or, when none is, every interface that is up and has an IPv4
/// address, loopback aside.
pub fn choose(names: &[String]) -> Result<Vec<Interface>, InterfaceError> {
    let found = scan()?;
    if names.is_empty() {
        let chosen: Vec<Interface> = found
            .iter()
            .filter(|(_, (_, flags))| {
                flags.contains(InterfaceFlags::IFF_UP)
                    && !flags.contains(InterfaceFlags::IFF_LOOPBACK)
            })
            .filter_map(|(name, (address, _))| {
                Some(Interface {
                    name: name.clone(),
                    index: index(name).ok()?,
                    address: (*address)?,
                })
            })
            .collect();
        return if chosen.is_empty() {
            Err(InterfaceError::NoneUp)
        } else {
            Ok(chosen)
        };
    }
    names
        .iter()
        .map(|name| match found.get(name) {
            None => Err(InterfaceError::Unknown {
                name: name.clone(),
                known: found.keys().cloned().collect::<Vec<_>>().join(", "),
            }),
            Some((None, _)) => Err(InterfaceError::NoIpv4 { name: name.clone() }),
            Some((Some(address), _)) => Ok(Interface {
                name: name.clone(),
                index: index(name)?,
                address: *address,
            }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_can_be_named_and_is_found_with_its_address() {
        let chosen = choose(&["lo".to_owned()]).unwrap();
        assert_eq!(chosen.len(), 1);
        assert_eq!(chosen[0].address, Ipv4Addr::LOCALHOST);
        assert!(chosen[0].index > 0);
    }

    #[test]
    fn every_address_is_listed_with_loopback_last() {
        let all = addresses();
        let last = all.last().expect("loopback at least");
        assert_eq!(last, &("lo".to_owned(), Ipv4Addr::LOCALHOST));
    }

    #[test]
    fn an_unknown_interface_is_named_with_those_that_exist() {
        let error = choose(&["nosuch0".to_owned()]).unwrap_err();
        let InterfaceError::Unknown { name, known } = &error else {
            panic!("{error:?}");
        };
        assert_eq!(name, "nosuch0");
        assert!(known.split(", ").any(|known| known == "lo"), "{known}");
    }
}
