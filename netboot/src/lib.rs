//! The wire formats of network booting (DHCP for ProxyDHCP, TFTP), apart from any I/O: what a client sends is parsed
//! without panicking and without trusting a length, and what we send is written here.
//! `fuzz/` holds a fuzz target for every parser.

pub mod dhcp;
pub mod tftp;
