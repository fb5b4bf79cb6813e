//! The parser against DHCP messages real firmware sent (tests/captures, see its README).

use netboot::dhcp::{BOOTREPLY, BootClient, Message, MessageType, code};

fn capture(name: &str) -> Message {
    let path = format!("{}/tests/captures/{name}.bin", env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(&path).unwrap_or_else(|error| panic!("{path}: {error}"));
    Message::parse(&bytes).unwrap_or_else(|error| panic!("{name}: {error:?}"))
}

#[test]
fn ovmf_and_ipxe_requests_read_as_what_they_are() {
    let ovmf = capture("ovmf-discover");
    assert_eq!(ovmf.message_type(), Some(MessageType::Discover));
    assert_eq!(ovmf.boot_client(), Some(BootClient::Pxe));
    assert_eq!(ovmf.client_arch(), Some(7));
    assert!(!ovmf.is_ipxe());
    assert_eq!(ovmf.hardware_address(), &[0x52, 0x54, 0, 0x77, 0, 1]);
    assert_eq!(ovmf.option(code::MACHINE_ID).map(<[u8]>::len), Some(17));

    let ipxe_bios = capture("ipxe-bios-discover");
    assert_eq!(ipxe_bios.client_arch(), Some(0));
    assert!(ipxe_bios.is_ipxe());
    assert!(ipxe_bios.option(code::IPXE).is_some());

    // snponly.efi says only `PXEClient`: its architecture comes from option 93.
    let ipxe_efi = capture("ipxe-efi-discover");
    assert_eq!(ipxe_efi.vendor_class(), Some(&b"PXEClient"[..]));
    assert_eq!(ipxe_efi.client_arch(), Some(7));
    assert!(ipxe_efi.is_ipxe());

    for name in ["ovmf-request-to-site", "ipxe-bios-request-to-site"] {
        let request = capture(name);
        assert_eq!(request.message_type(), Some(MessageType::Request));
        assert_eq!(request.option(code::SERVER_ID), Some(&[10, 77, 0, 1][..]));
    }
    assert_eq!(
        capture("ovmf-request-4011").message_type(),
        Some(MessageType::Request)
    );
    assert_eq!(capture("site-offer").op, BOOTREPLY);
}

#[test]
fn captured_messages_survive_a_write_and_a_parse() {
    let dir = format!("{}/tests/captures", env!("CARGO_MANIFEST_DIR"));
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "bin") {
            let message = Message::parse(&std::fs::read(&path).unwrap()).unwrap();
            assert_eq!(
                Message::parse(&message.write()).unwrap(),
                message,
                "{path:?}"
            );
            seen += 1;
        }
    }
    assert_eq!(seen, 7);
}
