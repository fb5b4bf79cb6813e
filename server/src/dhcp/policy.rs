//! What ProxyDHCP answers, as a pure function of the request: which clients get an answer,
//! which loader each architecture gets, and the fields firmware needs to accept a proxy
//! offer. It never hands out an address (`yiaddr` stays 0.0.0.0).
//!
//! The recipe follows what working implementations do (docs: `../shared/reviews/peers.md`
//! b2/b3): only `PXEClient` and `HTTPClient` (UEFI HTTP Boot) requests are answered; the architecture comes from option 93 (or
//! the vendor class's `Arch:`); an iPXE client is sent to `/boot.ipxe` over HTTP so it never
//! loads a loader again; BIOS clients get discovery control "just download" (option 43) on
//! port 67, EFI clients get no option 43 there and are answered on port 4011, where some
//! UEFI firmware asks after a proxy offer.

use std::{collections::BTreeMap, net::Ipv4Addr};

use netboot::dhcp::{BootClient, Message, MessageType, code};

/// Where the request came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Port {
    /// UDP 67, broadcast DISCOVERs and REQUESTs.
    Dhcp,
    /// UDP 4011, the PXE boot server port (unicast REQUESTs after a proxy offer).
    BootServer,
}

/// What the server offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    /// This server's address on the client's network: `siaddr`, option 54.
    pub server: Ipv4Addr,
    /// The base URL of the boot flow for iPXE clients, e.g. `http://10.0.0.2:8080`.
    pub http_base: String,
    /// The loader each architecture is offered: over HTTP at `{http_base}/loaders/{name}`,
    /// and over TFTP when `tftp` is on.
    pub loaders: BTreeMap<Arch, String>,
    /// Whether the TFTP server runs (bare PXE firmware loads its loader over TFTP).
    pub tftp: bool,
}

/// Where the HTTP server serves the loaders, for UEFI HTTP Boot.
pub const LOADERS_PATH: &str = "/loaders/";

/// The architectures PXE Cloud boots, each with the loader it is offered.
pub use app::model::LoaderArch as Arch;

/// The architecture of an RFC 4578 / IANA option 93 code: 0 is x86 BIOS; 7 and 9 are x86-64
/// UEFI (firmware disagree which number is which), 16 when it boots over HTTP; 11 is ARM64
/// UEFI, 19 over HTTP.
pub fn arch_from_code(code: u16) -> Option<Arch> {
    match code {
        0 => Some(Arch::Bios),
        7 | 9 | 16 => Some(Arch::X64Uefi),
        11 | 19 => Some(Arch::Arm64Uefi),
        _ => None,
    }
}

/// Why a request got no answer (counted, never answered).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ignored {
    NotARequest,
    /// A DHCP message type a proxy does not answer (RELEASE, DECLINE…).
    MessageType,
    /// No `PXEClient` or `HTTPClient` vendor class: not a network-booting firmware.
    NotPxe,
    /// No architecture, or one PXE Cloud has no loader for.
    Architecture,
    /// The architecture's loader is not among the served files (or, for PXE firmware, TFTP
    /// is off).
    NoLoader,
    /// A REQUEST on port 67 that does not name this server (option 54): it asks the site's
    /// DHCP server for an address, and an answer from us could be taken for that server's.
    OtherServer,
}

/// The answer to `request` received on `port`, or why there is none.
pub fn answer(request: &Message, port: Port, offer: &Offer) -> Result<Message, Ignored> {
    if request.op != netboot::dhcp::BOOTREQUEST {
        return Err(Ignored::NotARequest);
    }
    let kind = match (request.message_type(), port) {
        (Some(MessageType::Discover), Port::Dhcp) => MessageType::Offer,
        (Some(MessageType::Request), _) => MessageType::Ack,
        _ => return Err(Ignored::MessageType),
    };
    // On port 67 a REQUEST is ours only when it names us: one naming another server, or none
    // (INIT-REBOOT, REBIND), asks the site's DHCP server for an address, and an answer from
    // us could race that server's.
    if port == Port::Dhcp
        && kind == MessageType::Ack
        && request.option(code::SERVER_ID) != Some(&offer.server.octets()[..])
    {
        return Err(Ignored::OtherServer);
    }
    let client = request.boot_client().ok_or(Ignored::NotPxe)?;
    let arch = request
        .client_arch()
        .and_then(arch_from_code)
        .ok_or(Ignored::Architecture)?;
    let loader = offer.loaders.get(&arch);
    let http_base = offer.http_base.trim_end_matches('/');

    let mut reply = request.reply(kind);
    reply.siaddr = offer.server;
    reply.set_option(code::SERVER_ID, offer.server.octets());
    if let Some(id) = request.option(code::MACHINE_ID) {
        reply.set_option(code::MACHINE_ID, id);
    }
    let file = match client {
        BootClient::Http => {
            // UEFI HTTP Boot: the loader's URL; the firmware takes a proxy offer only when it
            // says `HTTPClient` back.
            let loader = loader.ok_or(Ignored::NoLoader)?;
            reply.set_option(code::VENDOR_CLASS, &b"HTTPClient"[..]);
            format!("{http_base}{LOADERS_PATH}{loader}")
        }
        BootClient::Pxe if request.is_ipxe() => {
            // iPXE runs already: straight to the boot flow, never a loader again.
            reply.set_option(code::VENDOR_CLASS, &b"PXEClient"[..]);
            format!("{http_base}/boot.ipxe")
        }
        BootClient::Pxe => {
            let loader = loader.filter(|_| offer.tftp).ok_or(Ignored::NoLoader)?;
            reply.set_option(code::VENDOR_CLASS, &b"PXEClient"[..]);
            if arch == Arch::Bios || port == Port::BootServer {
                // PXE discovery control: no boot server discovery, download the file named here.
                reply.set_option(code::VENDOR_SPECIFIC, &[6u8, 1, 8, 255][..]);
            }
            reply.set_option(code::TFTP_SERVER, offer.server.to_string());
            loader.clone()
        }
    };
    reply.set_option(code::BOOTFILE, file.as_bytes());
    reply.file = file.into_bytes();
    Ok(reply)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer() -> Offer {
        Offer {
            server: Ipv4Addr::new(10, 0, 0, 2),
            http_base: "http://10.0.0.2:8080".into(),
            loaders: [
                (Arch::Bios, "undionly.kpxe".to_owned()),
                (Arch::X64Uefi, "snponly.efi".to_owned()),
            ]
            .into(),
            tftp: true,
        }
    }

    fn request(kind: u8, options: &[(u8, &[u8])]) -> Message {
        let mut bytes = vec![0u8; 240];
        bytes[236..240].copy_from_slice(&[99, 130, 83, 99]);
        let mut message = Message::parse(&bytes).unwrap();
        message.op = netboot::dhcp::BOOTREQUEST;
        message.htype = 1;
        message.hlen = 6;
        message.xid = 42;
        message.chaddr[..6].copy_from_slice(&[0x52, 0x54, 0, 1, 2, 3]);
        message.set_option(code::MESSAGE_TYPE, [kind]);
        for (code, value) in options {
            message.set_option(*code, *value);
        }
        message
    }

    const DISCOVER: u8 = 1;
    const REQUEST: u8 = 3;

    #[test]
    fn a_bios_discover_gets_undionly_with_discovery_control_and_no_address() {
        let bios = request(
            DISCOVER,
            &[
                (code::VENDOR_CLASS, b"PXEClient:Arch:00000:UNDI:002001"),
                (code::CLIENT_ARCH, &[0, 0]),
                (
                    code::MACHINE_ID,
                    &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16],
                ),
            ],
        );
        let reply = answer(&bios, Port::Dhcp, &offer()).unwrap();
        assert_eq!(reply.message_type(), Some(MessageType::Offer));
        assert_eq!(reply.yiaddr, Ipv4Addr::UNSPECIFIED);
        assert_eq!(reply.siaddr, Ipv4Addr::new(10, 0, 0, 2));
        assert_eq!(reply.xid, 42);
        assert_eq!(reply.option(code::SERVER_ID), Some(&[10, 0, 0, 2][..]));
        assert_eq!(reply.option(code::VENDOR_CLASS), Some(&b"PXEClient"[..]));
        assert_eq!(
            reply.option(code::VENDOR_SPECIFIC),
            Some(&[6, 1, 8, 255][..])
        );
        assert_eq!(
            reply.option(code::MACHINE_ID),
            bios.option(code::MACHINE_ID)
        );
        assert_eq!(reply.file, b"undionly.kpxe");
        assert_eq!(reply.option(code::BOOTFILE), Some(&b"undionly.kpxe"[..]));
    }

    #[test]
    fn uefi_gets_snponly_without_discovery_control_on_67_and_with_it_on_4011() {
        for arch in [7u8, 9] {
            let uefi = request(
                DISCOVER,
                &[
                    (code::VENDOR_CLASS, b"PXEClient:Arch:00007:UNDI:003016"),
                    (code::CLIENT_ARCH, &[0, arch]),
                ],
            );
            let reply = answer(&uefi, Port::Dhcp, &offer()).unwrap();
            assert_eq!(reply.file, b"snponly.efi");
            assert_eq!(reply.option(code::VENDOR_SPECIFIC), None);
        }
        let follow_up = request(
            REQUEST,
            &[
                (code::VENDOR_CLASS, b"PXEClient:Arch:00007:UNDI:003016"),
                (code::CLIENT_ARCH, &[0, 7]),
            ],
        );
        let reply = answer(&follow_up, Port::BootServer, &offer()).unwrap();
        assert_eq!(reply.message_type(), Some(MessageType::Ack));
        assert_eq!(
            reply.option(code::VENDOR_SPECIFIC),
            Some(&[6, 1, 8, 255][..])
        );
        assert_eq!(reply.file, b"snponly.efi");
    }

    #[test]
    fn a_request_for_the_site_servers_address_is_left_to_it() {
        let pxe = [
            (code::VENDOR_CLASS, &b"PXEClient:Arch:00000:UNDI:002001"[..]),
            (code::CLIENT_ARCH, &[0, 0][..]),
        ];
        let mut options = pxe.to_vec();
        options.push((code::SERVER_ID, &[10, 0, 0, 1][..]));
        let to_the_site = request(REQUEST, &options);
        assert_eq!(
            answer(&to_the_site, Port::Dhcp, &offer()),
            Err(Ignored::OtherServer)
        );
        // The same request sent to us, or on the boot server port, is ours.
        let mut options = pxe.to_vec();
        options.push((code::SERVER_ID, &[10, 0, 0, 2][..]));
        let to_us = request(REQUEST, &options);
        assert!(answer(&to_us, Port::Dhcp, &offer()).is_ok());
        assert!(answer(&to_the_site, Port::BootServer, &offer()).is_ok());
        // Naming no server (INIT-REBOOT, REBIND): the site's too.
        let naming_none = request(REQUEST, &pxe);
        assert_eq!(
            answer(&naming_none, Port::Dhcp, &offer()),
            Err(Ignored::OtherServer)
        );
        assert!(answer(&naming_none, Port::BootServer, &offer()).is_ok());
    }

    #[test]
    fn ipxe_is_sent_to_the_boot_flow_not_to_a_loader_again() {
        let ipxe = request(
            DISCOVER,
            &[
                (code::VENDOR_CLASS, b"PXEClient:Arch:00007:UNDI:003016"),
                (code::CLIENT_ARCH, &[0, 7]),
                (code::USER_CLASS, b"iPXE"),
            ],
        );
        let reply = answer(&ipxe, Port::Dhcp, &offer()).unwrap();
        assert_eq!(reply.file, b"http://10.0.0.2:8080/boot.ipxe");
    }

    #[test]
    fn uefi_http_boot_gets_the_loader_url_and_http_client_back() {
        let http = request(
            DISCOVER,
            &[
                (code::VENDOR_CLASS, b"HTTPClient:Arch:00016:UNDI:003000"),
                (code::CLIENT_ARCH, &[0, 16]),
            ],
        );
        // Over HTTP, so even without TFTP.
        let mut without_tftp = offer();
        without_tftp.tftp = false;
        let reply = answer(&http, Port::Dhcp, &without_tftp).unwrap();
        assert_eq!(reply.message_type(), Some(MessageType::Offer));
        assert_eq!(reply.option(code::VENDOR_CLASS), Some(&b"HTTPClient"[..]));
        assert_eq!(
            reply.option(code::BOOTFILE),
            Some(&b"http://10.0.0.2:8080/loaders/snponly.efi"[..])
        );
        assert_eq!(reply.option(code::VENDOR_SPECIFIC), None);
        assert_eq!(reply.option(code::TFTP_SERVER), None);
        let arm = request(
            DISCOVER,
            &[
                (code::VENDOR_CLASS, b"HTTPClient:Arch:00019"),
                (code::CLIENT_ARCH, &[0, 19]),
            ],
        );
        assert_eq!(answer(&arm, Port::Dhcp, &offer()), Err(Ignored::NoLoader));
    }

    #[test]
    fn clients_that_are_not_pxe_firmware_get_nothing() {
        let plain = request(DISCOVER, &[(code::VENDOR_CLASS, b"MSFT 5.0")]);
        assert_eq!(answer(&plain, Port::Dhcp, &offer()), Err(Ignored::NotPxe));
        let none = request(DISCOVER, &[]);
        assert_eq!(answer(&none, Port::Dhcp, &offer()), Err(Ignored::NotPxe));
        let release = request(7, &[(code::VENDOR_CLASS, b"PXEClient")]);
        assert_eq!(
            answer(&release, Port::Dhcp, &offer()),
            Err(Ignored::MessageType)
        );
        let discover_on_4011 = request(DISCOVER, &[(code::VENDOR_CLASS, b"PXEClient")]);
        assert_eq!(
            answer(&discover_on_4011, Port::BootServer, &offer()),
            Err(Ignored::MessageType)
        );
        let ia32 = request(
            DISCOVER,
            &[
                (code::VENDOR_CLASS, b"PXEClient:Arch:00006"),
                (code::CLIENT_ARCH, &[0, 6]),
            ],
        );
        assert_eq!(
            answer(&ia32, Port::Dhcp, &offer()),
            Err(Ignored::Architecture)
        );
        let arm = request(
            DISCOVER,
            &[
                (code::VENDOR_CLASS, b"PXEClient:Arch:00011"),
                (code::CLIENT_ARCH, &[0, 11]),
            ],
        );
        assert_eq!(answer(&arm, Port::Dhcp, &offer()), Err(Ignored::NoLoader));
        let mut without_tftp = offer();
        without_tftp.tftp = false;
        let bios = request(
            DISCOVER,
            &[
                (code::VENDOR_CLASS, b"PXEClient:Arch:00000"),
                (code::CLIENT_ARCH, &[0, 0]),
            ],
        );
        assert_eq!(
            answer(&bios, Port::Dhcp, &without_tftp),
            Err(Ignored::NoLoader)
        );
        let mut reply_sent_back = request(DISCOVER, &[(code::VENDOR_CLASS, b"PXEClient")]);
        reply_sent_back.op = netboot::dhcp::BOOTREPLY;
        assert_eq!(
            answer(&reply_sent_back, Port::Dhcp, &offer()),
            Err(Ignored::NotARequest)
        );
    }
}
