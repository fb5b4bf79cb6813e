//! The TFTP server against real clients on loopback (curl and tftp-hpa's `tftp`), and against
//! a client written here that loses packets, repeats itself and probes sizes.

use std::{
    net::SocketAddr,
    path::Path,
    process::Command,
    sync::{Arc, atomic::Ordering},
    time::Duration,
};

use server::tftp::{
    Settings, Stats, TftpServer,
    files::{AUTOEXEC, BootFiles},
};
use tokio::net::UdpSocket;

/// A megabyte and a bit of bytes that repeat nowhere near a block.
fn loader_bytes() -> Vec<u8> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    (0..(1 << 20) + 777)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

struct Running {
    address: SocketAddr,
    stats: Arc<Stats>,
    loader: Vec<u8>,
    _dir: tempfile::TempDir,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn start(settings: Settings) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let loader = loader_bytes();
    std::fs::write(dir.path().join("snponly.efi"), &loader).unwrap();
    // Exactly two blocks of 512: the transfer ends with an empty block.
    std::fs::write(dir.path().join("undionly.kpxe"), vec![7u8; 1024]).unwrap();
    std::fs::write(dir.path().join("not-a-loader"), b"secret").unwrap();
    let files = BootFiles::new(dir.path(), Some("http://boot.test:8080"), 8080);
    let server = TftpServer::bind("127.0.0.1:0".parse().unwrap(), Arc::new(files), settings)
        .await
        .unwrap();
    let address = server.local_addr().unwrap();
    let stats = server.stats();
    let task = tokio::spawn(server.run());
    Running {
        address,
        stats,
        loader,
        _dir: dir,
        task,
    }
}

/// Whether `check` holds within five seconds.
async fn eventually(check: impl Fn() -> bool) -> bool {
    for _ in 0..250 {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

/// Fast retransmission, and retries enough that a busy machine does not fail a transfer.
fn quick() -> Settings {
    Settings {
        timeout: Duration::from_millis(100),
        retries: 20,
        ..Settings::default()
    }
}

/// Runs a client to its end (off the runtime's threads, which serve the transfer).
async fn run(mut command: Command) -> std::process::Output {
    let output = tokio::task::spawn_blocking(move || command.output());
    tokio::time::timeout(Duration::from_secs(60), output)
        .await
        .expect("the client finished")
        .unwrap()
        .unwrap()
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

#[tokio::test]
async fn curl_fetches_a_loader_with_the_block_size_it_asks_for() {
    let server = start(quick()).await;
    let out = tempfile::tempdir().unwrap();
    for blksize in ["1456", "512", "8192"] {
        let file = out.path().join(format!("loader-{blksize}"));
        let mut curl = Command::new("curl");
        curl.args(["--silent", "--show-error", "--tftp-blksize", blksize, "-o"])
            .arg(&file)
            .arg(format!("tftp://{}/snponly.efi", server.address));
        let output = run(curl).await;
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            read(&file) == server.loader,
            "blksize {blksize}: content differs"
        );
    }
    assert!(eventually(|| server.stats.completed.load(Ordering::Relaxed) == 3).await);
}

#[tokio::test]
async fn tftp_hpa_fetches_files_without_options_in_both_modes() {
    let server = start(quick()).await;
    let out = tempfile::tempdir().unwrap();
    let port = server.address.port().to_string();
    let get = |mode: &str, name: &str, to: &Path| {
        let mut command = Command::new("tftp");
        command
            .args(["-m", mode, "127.0.0.1", &port, "-c", "get", name])
            .arg(to);
        command
    };
    let loader = out.path().join("snponly.efi");
    assert!(
        run(get("binary", "snponly.efi", &loader))
            .await
            .status
            .success()
    );
    assert!(read(&loader) == server.loader);
    let even = out.path().join("undionly.kpxe");
    assert!(
        run(get("binary", "undionly.kpxe", &even))
            .await
            .status
            .success()
    );
    assert_eq!(read(&even), vec![7u8; 1024]);
    // netascii: the client turns CR LF back into LF.
    let script = out.path().join(AUTOEXEC);
    assert!(run(get("ascii", AUTOEXEC, &script)).await.status.success());
    let text = String::from_utf8(read(&script)).unwrap();
    assert!(text.starts_with("#!ipxe\n"), "{text}");
    assert!(
        text.contains("http://boot.test:8080/boot.ipxe?mac=${net0/mac:hexhyp}"),
        "{text}"
    );
}

/// Sends one packet to the server and returns its answer.
async fn ask(server: SocketAddr, packet: &[u8]) -> Vec<u8> {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    socket.send_to(packet, server).await.unwrap();
    let mut buffer = [0u8; 2048];
    let (len, _) = tokio::time::timeout(Duration::from_secs(5), socket.recv_from(&mut buffer))
        .await
        .expect("an answer")
        .unwrap();
    buffer[..len].to_vec()
}

fn request(opcode: u8, fields: &[&[u8]]) -> Vec<u8> {
    let mut out = vec![0, opcode];
    for field in fields {
        out.extend_from_slice(field);
        out.push(0);
    }
    out
}

/// The error code of an error packet.
fn error_code(packet: &[u8]) -> u16 {
    assert_eq!(&packet[..2], [0, 5], "not an error packet: {packet:?}");
    u16::from_be_bytes([packet[2], packet[3]])
}

#[tokio::test]
async fn writes_unknown_names_and_paths_out_of_the_set_get_error_packets() {
    let server = start(quick()).await;
    let address = server.address;
    assert_eq!(
        error_code(&ask(address, &request(2, &[b"snponly.efi", b"octet"])).await),
        2
    );
    for name in [
        &b"../snponly.efi"[..],
        b"/snponly.efi",
        b"x\\snponly.efi",
        b"a/../snponly.efi",
    ] {
        assert_eq!(
            error_code(&ask(address, &request(1, &[name, b"octet"])).await),
            2
        );
    }
    for name in [&b"not-a-loader"[..], b"etc/passwd", b"pxelinux.0"] {
        assert_eq!(
            error_code(&ask(address, &request(1, &[name, b"octet"])).await),
            1
        );
    }
    assert_eq!(
        error_code(&ask(address, &request(1, &[b"snponly.efi", b"mail"])).await),
        4
    );
    assert_eq!(
        error_code(&ask(address, &request(1, &[b"snponly.efi", b"bogus"])).await),
        4
    );
    assert_eq!(error_code(&ask(address, &[0, 1, b's']).await), 4);
    assert_eq!(error_code(&ask(address, &[0, 42]).await), 4);
    assert_eq!(server.stats.transfers.load(Ordering::Relaxed), 0);
}

#[tokio::test]
async fn a_size_probe_ended_with_error_8_is_answered_quietly() {
    let server = start(quick()).await;
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let rrq = request(
        1,
        &[
            b"snponly.efi",
            b"octet",
            b"tsize",
            b"0",
            b"blksize",
            b"99999",
        ],
    );
    socket.send_to(&rrq, server.address).await.unwrap();
    let mut buffer = [0u8; 2048];
    let (len, transfer) = socket.recv_from(&mut buffer).await.unwrap();
    let size = server.loader.len().to_string();
    // blksize out of range is ignored, so only tsize is acknowledged.
    assert_eq!(
        &buffer[..len],
        [&[0u8, 6][..], b"tsize\0", size.as_bytes(), b"\0"].concat()
    );
    socket
        .send_to(
            &request(5, &[&[0, 8], b"User aborted the transfer"]),
            transfer,
        )
        .await
        .unwrap();
    assert!(eventually(|| server.stats.probes.load(Ordering::Relaxed) == 1).await);
    assert_eq!(server.stats.failed.load(Ordering::Relaxed), 0);
}

/// A client that fetches `name` with a window, losing every `lose`-th data packet it
/// receives the first time, acknowledging some blocks twice, and answering strangers' noise.
async fn lossy_fetch(
    server: SocketAddr,
    name: &[u8],
    blksize: u16,
    window: u16,
    lose: usize,
) -> Vec<u8> {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let blksize_text = blksize.to_string();
    let window_text = window.to_string();
    let rrq = request(
        1,
        &[
            name,
            b"octet",
            b"blksize",
            blksize_text.as_bytes(),
            b"windowsize",
            window_text.as_bytes(),
        ],
    );
    socket.send_to(&rrq, server).await.unwrap();
    let mut buffer = vec![0u8; 70000];
    let mut content = Vec::new();
    let mut expected: u16 = 1;
    let mut received = 0usize;
    let mut lost = std::collections::HashSet::new();
    let mut transfer = None;
    loop {
        let (len, from) =
            tokio::time::timeout(Duration::from_secs(10), socket.recv_from(&mut buffer))
                .await
                .expect("the server keeps sending")
                .unwrap();
        transfer.get_or_insert(from);
        let packet = &buffer[..len];
        match packet[1] {
            6 => {
                socket.send_to(&[0, 4, 0, 0], from).await.unwrap();
                continue;
            }
            3 => {}
            other => panic!("unexpected opcode {other}"),
        }
        let block = u16::from_be_bytes([packet[2], packet[3]]);
        received += 1;
        if received.is_multiple_of(lose) && lost.insert(block) {
            continue;
        }
        if block == expected {
            let data = &packet[4..];
            content.extend_from_slice(data);
            expected = expected.wrapping_add(1);
            let last = data.len() < usize::from(blksize);
            let end_of_window = last || expected.wrapping_sub(1).is_multiple_of(window);
            if end_of_window {
                let ack = [&[0u8, 4][..], &expected.wrapping_sub(1).to_be_bytes()].concat();
                socket.send_to(&ack, from).await.unwrap();
                if block.is_multiple_of(7) {
                    socket.send_to(&ack, from).await.unwrap();
                }
            }
            if last {
                return content;
            }
        }
    }
}

#[tokio::test]
async fn lost_and_repeated_packets_are_recovered_with_and_without_a_window() {
    let server = start(quick()).await;
    for (blksize, window, lose) in [(1456, 1, 97), (1024, 8, 89), (512, 4, 101)] {
        let content = lossy_fetch(server.address, b"snponly.efi", blksize, window, lose).await;
        assert!(
            content == server.loader,
            "blksize {blksize} window {window}: content differs"
        );
    }
}

#[tokio::test]
async fn many_transfers_run_at_once() {
    let server = start(quick()).await;
    let jobs: Vec<_> = (0..50)
        .map(|i| {
            let address = server.address;
            tokio::spawn(async move {
                lossy_fetch(address, b"snponly.efi", 1456, 1 + (i % 4), 1000).await
            })
        })
        .collect();
    for job in jobs {
        assert!(job.await.unwrap() == server.loader);
    }
    // The server counts a transfer once the last acknowledgement reached it.
    assert!(eventually(|| server.stats.completed.load(Ordering::Relaxed) == 50).await);
}

#[tokio::test]
async fn a_stranger_on_a_transfer_port_gets_error_5_and_the_transfer_goes_on() {
    let server = start(quick()).await;
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    socket
        .send_to(&request(1, &[b"undionly.kpxe", b"octet"]), server.address)
        .await
        .unwrap();
    let mut buffer = [0u8; 2048];
    let (len, transfer) = socket.recv_from(&mut buffer).await.unwrap();
    assert_eq!((&buffer[..4], len), (&[0u8, 3, 0, 1][..], 516));
    let stranger = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    stranger.send_to(&[0, 4, 0, 1], transfer).await.unwrap();
    let (len, _) = stranger.recv_from(&mut buffer).await.unwrap();
    assert_eq!(error_code(&buffer[..len]), 5);
    // The real client carries on.
    socket.send_to(&[0, 4, 0, 1], transfer).await.unwrap();
    let (len, _) = socket.recv_from(&mut buffer).await.unwrap();
    assert_eq!((&buffer[..4], len), (&[0u8, 3, 0, 2][..], 516));
    socket.send_to(&[0, 4, 0, 2], transfer).await.unwrap();
    let (len, _) = socket.recv_from(&mut buffer).await.unwrap();
    assert_eq!((&buffer[..4], len), (&[0u8, 3, 0, 3][..], 4));
    socket.send_to(&[0, 4, 0, 3], transfer).await.unwrap();
}

#[tokio::test]
async fn a_silent_client_is_given_up_after_the_retries() {
    let server = start(Settings {
        timeout: Duration::from_millis(50),
        retries: 2,
        ..Settings::default()
    })
    .await;
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    socket
        .send_to(&request(1, &[b"undionly.kpxe", b"octet"]), server.address)
        .await
        .unwrap();
    let mut buffer = [0u8; 2048];
    // The first block, then the same block again twice, then an error.
    let mut blocks = Vec::new();
    loop {
        let (len, _) = tokio::time::timeout(Duration::from_secs(5), socket.recv_from(&mut buffer))
            .await
            .expect("the server keeps talking until it gives up")
            .unwrap();
        if buffer[1] == 5 {
            break;
        }
        blocks.push((u16::from_be_bytes([buffer[2], buffer[3]]), len));
    }
    assert_eq!(blocks, [(1, 516), (1, 516), (1, 516)]);
    assert!(eventually(|| server.stats.failed.load(Ordering::Relaxed) == 1).await);
}

#[tokio::test]
async fn autoexec_sends_ipxe_back_to_the_address_it_fetched_from() {
    let dir = tempfile::tempdir().unwrap();
    // No public URL: the script names the address the client reached, which a server on
    // every address learns per request (127.0.0.2 here, not the 0.0.0.0 it listens on).
    let files = BootFiles::new(dir.path(), None, 8080);
    let server = TftpServer::bind("0.0.0.0:0".parse().unwrap(), Arc::new(files), quick())
        .await
        .unwrap();
    let address = format!("127.0.0.2:{}", server.local_addr().unwrap().port());
    let task = tokio::spawn(server.run());

    let out = tempfile::tempdir().unwrap();
    let script = out.path().join(AUTOEXEC);
    let mut curl = Command::new("curl");
    curl.args(["--silent", "--show-error", "-o"])
        .arg(&script)
        .arg(format!("tftp://{address}/{AUTOEXEC}"));
    let output = run(curl).await;
    task.abort();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(read(&script)).unwrap();
    assert!(
        text.contains("chain --autofree http://127.0.0.2:8080/boot.ipxe?mac="),
        "{text}"
    );
}

#[tokio::test]
async fn every_transfer_is_recorded() {
    use app::server::{actor::Actor, services::network_log};
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    let db = server::database::connect(&url).await.unwrap();
    server::database::migrate(&db, &url).await.unwrap();
    std::fs::write(dir.path().join("undionly.kpxe"), vec![7u8; 1024]).unwrap();
    let files = BootFiles::new(dir.path(), None, 8080);
    let server = TftpServer::bind("127.0.0.1:0".parse().unwrap(), Arc::new(files), quick())
        .await
        .unwrap()
        .with_recorder(server::netlog::Recorder::start(db.clone()));
    let address = server.local_addr().unwrap();
    let task = tokio::spawn(server.run());

    let out = tempfile::tempdir().unwrap();
    let mut curl = Command::new("curl");
    curl.args(["--silent", "--show-error", "-o"])
        .arg(out.path().join("got"))
        .arg(format!("tftp://{address}/undionly.kpxe"));
    assert!(run(curl).await.status.success());

    let mut events = Vec::new();
    for _ in 0..100 {
        events = network_log::recent(&db, &Actor::operator(), None, 10)
            .await
            .unwrap();
        if !events.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    task.abort();
    assert_eq!(events.len(), 1, "{events:?}");
    let sent = &events[0];
    assert_eq!(
        (sent.protocol.as_str(), sent.outcome.as_str()),
        ("tftp", "sent")
    );
    assert_eq!(sent.file.as_deref(), Some("undionly.kpxe"));
    assert_eq!(sent.bytes, Some(1024));
    assert_eq!(sent.client_ip, "127.0.0.1");
    assert!(sent.duration_ms.is_some());
}
