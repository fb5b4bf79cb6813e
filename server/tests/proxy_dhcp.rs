//! The ProxyDHCP listener on loopback: the answers that go back by unicast (the PXE boot
//! server port 4011, and a relay agent), bad packets ignored and counted while the server
//! keeps answering. Broadcast answers out of the right interface are proven in network
//! namespaces with real firmware (end2end/pxe).

use std::{
    net::{Ipv4Addr, SocketAddr},
    sync::{Arc, atomic::Ordering},
    time::Duration,
};

use netboot::dhcp::{Message, MessageType, code};
use server::{
    dhcp::{
        Ports, ProxyDhcp, Settings, Stats, interfaces,
        policy::{Arch, Ignored},
    },
    tftp::files::{BootFiles, LiveFiles},
};
use tokio::net::UdpSocket;

/// A port free right now (for the client port, which only broadcasts would reach).
fn free_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Running {
    server_port: u16,
    boot_server_port: u16,
    stats: Arc<Stats>,
    /// Stands for the relay agent: relayed answers come here.
    relay: UdpSocket,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Loaders by these names (their bytes do not matter here).
fn files(names: &[&str]) -> Arc<LiveFiles> {
    let loaders: Vec<(&str, &[u8])> = names.iter().map(|name| (*name, &b"loader"[..])).collect();
    Arc::new(LiveFiles::new(BootFiles::from_loaders(&loaders, 8080)))
}

async fn start(loaders: &[&str]) -> Running {
    start_with(files(loaders)).await
}

async fn start_with(files: Arc<LiveFiles>) -> Running {
    let relay = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let server = ProxyDhcp::bind(Settings {
        interfaces: interfaces::choose(&["lo".to_owned()]).unwrap(),
        public_url: None,
        http_port: 8080,
        files,
        tftp: true,
        ports: Ports {
            server: 0,
            relay: relay.local_addr().unwrap().port(),
            client: free_port(),
            boot_server: 0,
        },
    })
    .unwrap();
    let (server_port, boot_server_port) = server.local_ports().unwrap();
    let stats = server.stats();
    Running {
        server_port,
        boot_server_port,
        stats,
        relay,
        task: tokio::spawn(server.run()),
    }
}

fn request(kind: MessageType, options: &[(u8, &[u8])]) -> Message {
    let mut bytes = vec![0u8; 300];
    bytes[0] = netboot::dhcp::BOOTREQUEST;
    bytes[1] = 1;
    bytes[2] = 6;
    bytes[4..8].copy_from_slice(&0x1234_5678u32.to_be_bytes());
    bytes[28..34].copy_from_slice(&[0x52, 0x54, 0, 0xab, 0xcd, 0xef]);
    bytes[236..240].copy_from_slice(&[99, 130, 83, 99]);
    bytes[240] = code::END;
    let mut message = Message::parse(&bytes).unwrap();
    let kind = match kind {
        MessageType::Discover => 1,
        MessageType::Request => 3,
        _ => unreachable!(),
    };
    message.set_option(code::MESSAGE_TYPE, [kind]);
    for (code, value) in options {
        message.set_option(*code, *value);
    }
    message
}

const UEFI: [(u8, &[u8]); 2] = [
    (code::VENDOR_CLASS, b"PXEClient:Arch:00007:UNDI:003016"),
    (code::CLIENT_ARCH, &[0, 7]),
];

/// The `file` field without its zero padding.
fn boot_file(message: &Message) -> String {
    let name = message.file.split(|b| *b == 0).next().unwrap_or_default();
    String::from_utf8_lossy(name).into_owned()
}

async fn receive(socket: &UdpSocket) -> (Message, SocketAddr) {
    let mut buffer = [0u8; 1500];
    let (len, from) = tokio::time::timeout(Duration::from_secs(5), socket.recv_from(&mut buffer))
        .await
        .expect("an answer within 5 s")
        .unwrap();
    (Message::parse(&buffer[..len]).unwrap(), from)
}

async fn no_answer(socket: &UdpSocket) {
    let mut buffer = [0u8; 1500];
    let waited =
        tokio::time::timeout(Duration::from_millis(300), socket.recv_from(&mut buffer)).await;
    assert!(waited.is_err(), "an answer came: {waited:?}");
}

#[tokio::test]
async fn uefi_firmware_asking_on_port_4011_gets_the_loader_by_unicast() {
    let server = start(&["undionly.kpxe", "snponly.efi"]).await;
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut options = UEFI.to_vec();
    options.push((code::MACHINE_ID, &[0; 17]));
    let ask = request(MessageType::Request, &options);
    client
        .send_to(&ask.write(), ("127.0.0.1", server.boot_server_port))
        .await
        .unwrap();

    let (reply, from) = receive(&client).await;
    assert_eq!(from.port(), server.boot_server_port);
    assert_eq!(reply.message_type(), Some(MessageType::Ack));
    assert_eq!(reply.xid, 0x1234_5678);
    assert_eq!(reply.hardware_address(), &[0x52, 0x54, 0, 0xab, 0xcd, 0xef]);
    assert_eq!(reply.yiaddr, Ipv4Addr::UNSPECIFIED);
    assert_eq!(reply.siaddr, Ipv4Addr::LOCALHOST);
    assert_eq!(reply.option(code::SERVER_ID), Some(&[127, 0, 0, 1][..]));
    assert_eq!(reply.option(code::MACHINE_ID), Some(&[0; 17][..]));
    assert_eq!(
        reply.option(code::VENDOR_SPECIFIC),
        Some(&[6, 1, 8, 255][..])
    );
    assert_eq!(boot_file(&reply), "snponly.efi");
    assert_eq!(server.stats.acks.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn a_loader_a_server_admin_chose_is_offered_from_the_next_request_on() {
    let files = files(&["undionly.kpxe", "snponly.efi"]);
    let server = start_with(files.clone()).await;
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let ask = request(MessageType::Request, &UEFI).write();
    let ask_once = async || {
        client
            .send_to(&ask, ("127.0.0.1", server.boot_server_port))
            .await
            .unwrap();
        boot_file(&receive(&client).await.0)
    };
    assert_eq!(ask_once().await, "snponly.efi");
    files.replace_library(app::server::services::loader_sets::Library {
        files: vec![("secure-boot/ipxe-shim.efi".into(), b"shim".to_vec())],
        chosen: [(Arch::X64Uefi, "secure-boot/ipxe-shim.efi".to_owned())].into(),
    });
    assert_eq!(ask_once().await, "secure-boot/ipxe-shim.efi");
    // The set is deleted: back to the built-in loader.
    files.replace_library(Default::default());
    assert_eq!(ask_once().await, "snponly.efi");
}

#[tokio::test]
async fn ipxe_gets_the_boot_flow_url_at_the_address_it_asked() {
    let server = start(&["snponly.efi"]).await;
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut options = UEFI.to_vec();
    options.push((code::USER_CLASS, b"iPXE"));
    client
        .send_to(
            &request(MessageType::Request, &options).write(),
            ("127.0.0.1", server.boot_server_port),
        )
        .await
        .unwrap();
    let (reply, _) = receive(&client).await;
    assert_eq!(boot_file(&reply), "http://127.0.0.1:8080/boot.ipxe");
    assert_eq!(
        reply.option(code::BOOTFILE),
        Some(&b"http://127.0.0.1:8080/boot.ipxe"[..])
    );
}

#[tokio::test]
async fn a_relayed_discover_is_answered_to_the_relay() {
    let server = start(&["undionly.kpxe"]).await;
    let mut discover = request(
        MessageType::Discover,
        &[
            (code::VENDOR_CLASS, b"PXEClient:Arch:00000:UNDI:002001"),
            (code::CLIENT_ARCH, &[0, 0]),
        ],
    );
    discover.giaddr = Ipv4Addr::LOCALHOST;
    discover.hops = 1;
    server
        .relay
        .send_to(&discover.write(), ("127.0.0.1", server.server_port))
        .await
        .unwrap();

    let (reply, from) = receive(&server.relay).await;
    assert_eq!(from.port(), server.server_port);
    assert_eq!(reply.message_type(), Some(MessageType::Offer));
    // A giaddr without a relay's hop count is a peer choosing where answers go: none.
    let mut forged = discover.clone();
    forged.hops = 0;
    server
        .relay
        .send_to(&forged.write(), ("127.0.0.1", server.server_port))
        .await
        .unwrap();
    no_answer(&server.relay).await;
    assert_eq!(reply.giaddr, Ipv4Addr::LOCALHOST);
    assert_eq!(boot_file(&reply), "undionly.kpxe");
    assert_eq!(server.stats.offers.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn bad_packets_are_ignored_and_counted_and_the_server_keeps_answering() {
    let server = start(&["snponly.efi"]).await;
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let to = ("127.0.0.1", server.boot_server_port);

    // Not DHCP at all, a truncated message, and a huge datagram.
    client.send_to(b"hello", to).await.unwrap();
    let whole = request(MessageType::Request, &UEFI).write();
    client.send_to(&whole[..200], to).await.unwrap();
    // A valid request padded past the receive buffer: cut by the kernel, never parsed.
    let mut huge = request(MessageType::Request, &UEFI).write();
    huge.resize(9000, 0);
    client.send_to(&huge, to).await.unwrap();
    // Well formed, but not ours to answer.
    let windows = request(MessageType::Request, &[(code::VENDOR_CLASS, b"MSFT 5.0")]);
    client.send_to(&windows.write(), to).await.unwrap();
    let mut arm = request(
        MessageType::Request,
        &[
            (code::VENDOR_CLASS, b"PXEClient:Arch:00011"),
            (code::CLIENT_ARCH, &[0, 11]),
        ],
    );
    client.send_to(&arm.write(), to).await.unwrap();
    arm.op = netboot::dhcp::BOOTREPLY;
    client.send_to(&arm.write(), to).await.unwrap();
    no_answer(&client).await;

    let counted = || {
        (
            server.stats.malformed.load(Ordering::Relaxed),
            server.stats.ignored(Ignored::NotPxe),
            server.stats.ignored(Ignored::NoLoader),
            server.stats.ignored(Ignored::NotARequest),
        )
    };
    for _ in 0..100 {
        if counted() == (3, 1, 1, 1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(counted(), (3, 1, 1, 1));

    client.send_to(&whole, to).await.unwrap();
    let (reply, _) = receive(&client).await;
    assert_eq!(boot_file(&reply), "snponly.efi");
}

#[tokio::test]
async fn a_port_in_use_is_reported_with_its_number() {
    let taken = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let error = ProxyDhcp::bind(Settings {
        interfaces: interfaces::choose(&["lo".to_owned()]).unwrap(),
        public_url: None,
        http_port: 8080,
        files: files(&[]),
        tftp: false,
        ports: Ports {
            server: port,
            ..Ports::default()
        },
    })
    .err()
    .expect("the port is taken");
    assert_eq!(error.port, port);
    assert_eq!(error.source.kind(), std::io::ErrorKind::AddrInUse);
}

/// What ProxyDHCP decides for the messages real firmware sent (netboot/tests/captures).
#[test]
fn captured_firmware_requests_get_the_answers_the_boot_chain_needs() {
    use server::dhcp::policy::{Offer, Port, answer};
    let capture = |name: &str| {
        let path = format!(
            "{}/../netboot/tests/captures/{name}.bin",
            env!("CARGO_MANIFEST_DIR")
        );
        Message::parse(&std::fs::read(&path).unwrap()).unwrap()
    };
    let offer = Offer {
        server: Ipv4Addr::new(10, 77, 0, 2),
        http_base: "http://10.77.0.2:8080".into(),
        loaders: [
            (Arch::Bios, "undionly.kpxe".to_owned()),
            (Arch::X64Uefi, "snponly.efi".to_owned()),
        ]
        .into(),
        tftp: true,
    };

    let ovmf = answer(&capture("ovmf-discover"), Port::Dhcp, &offer).unwrap();
    assert_eq!(boot_file(&ovmf), "snponly.efi");
    assert_eq!(ovmf.option(code::VENDOR_SPECIFIC), None);
    let ovmf_4011 = answer(&capture("ovmf-request-4011"), Port::BootServer, &offer).unwrap();
    assert_eq!(ovmf_4011.message_type(), Some(MessageType::Ack));
    assert_eq!(boot_file(&ovmf_4011), "snponly.efi");
    assert_eq!(
        ovmf_4011.option(code::VENDOR_SPECIFIC),
        Some(&[6, 1, 8, 255][..])
    );
    for ipxe in ["ipxe-bios-discover", "ipxe-efi-discover"] {
        let reply = answer(&capture(ipxe), Port::Dhcp, &offer).unwrap();
        assert_eq!(
            boot_file(&reply),
            "http://10.77.0.2:8080/boot.ipxe",
            "{ipxe}"
        );
    }
    for to_the_site in ["ovmf-request-to-site", "ipxe-bios-request-to-site"] {
        assert_eq!(
            answer(&capture(to_the_site), Port::Dhcp, &offer),
            Err(Ignored::OtherServer),
            "{to_the_site}"
        );
    }
    assert_eq!(
        answer(&capture("site-offer"), Port::Dhcp, &offer),
        Err(Ignored::NotARequest)
    );
}

/// A migrated SQLite database in a temporary folder.
async fn database() -> (sea_orm::DatabaseConnection, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    let db = server::database::connect(&url).await.unwrap();
    server::database::migrate(&db, &url).await.unwrap();
    (db, dir)
}

#[tokio::test]
async fn answers_and_unanswerable_boot_requests_are_recorded() {
    use app::server::{actor::Actor, services::network_log};
    let (db, _dir) = database().await;
    let relay = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let server = ProxyDhcp::bind(Settings {
        interfaces: interfaces::choose(&["lo".to_owned()]).unwrap(),
        public_url: None,
        http_port: 8080,
        files: files(&["snponly.efi"]),
        tftp: true,
        ports: Ports {
            server: 0,
            relay: relay.local_addr().unwrap().port(),
            client: free_port(),
            boot_server: 0,
        },
    })
    .unwrap()
    .with_recorder(server::netlog::Recorder::start(db.clone()));
    let (_, boot_server_port) = server.local_ports().unwrap();
    let task = tokio::spawn(server.run());

    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let to = ("127.0.0.1", boot_server_port);
    client
        .send_to(&request(MessageType::Request, &UEFI).write(), to)
        .await
        .unwrap();
    receive(&client).await;
    let arm = request(
        MessageType::Request,
        &[
            (code::VENDOR_CLASS, b"PXEClient:Arch:00011"),
            (code::CLIENT_ARCH, &[0, 11]),
        ],
    );
    client.send_to(&arm.write(), to).await.unwrap();
    // Not a booting machine: not recorded.
    let windows = request(MessageType::Request, &[(code::VENDOR_CLASS, b"MSFT 5.0")]);
    client.send_to(&windows.write(), to).await.unwrap();

    let recorded = || async {
        network_log::recent(&db, &Actor::operator(), None, 10)
            .await
            .unwrap()
    };
    for _ in 0..100 {
        if recorded().await.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Time for the packet that came last to be recorded too, were it recorded.
    tokio::time::sleep(Duration::from_millis(200)).await;
    task.abort();
    let events = recorded().await;
    let outcomes: Vec<&str> = events.iter().rev().map(|e| e.outcome.as_str()).collect();
    assert_eq!(outcomes, ["ack", "ignored: no loader"]);
    let ack = events.last().unwrap();
    assert_eq!(ack.protocol, "dhcp");
    assert_eq!(ack.client_mac.as_deref(), Some("52-54-00-ab-cd-ef"));
    assert_eq!(ack.client_ip, "127.0.0.1");
    assert_eq!(ack.xid, Some(0x1234_5678));
    assert_eq!(ack.arch, Some(7));
    assert_eq!(ack.interface.as_deref(), Some("lo"));
    assert_eq!(ack.file.as_deref(), Some("snponly.efi"));
    assert_eq!(
        ack.vendor_class.as_deref(),
        Some("PXEClient:Arch:00007:UNDI:003016")
    );
}
