//! ProxyDHCP: answers network-booting firmware beside the site's own DHCP server, naming the
//! TFTP server and the loader (or, for iPXE, the boot flow's URL), never an address.
//!
//! [`policy`] decides what to answer, as a pure function of the request; the listener on UDP
//! 67 and 4011 (per interface, replies leaving from the interface they belong to) comes next.

pub mod policy;
