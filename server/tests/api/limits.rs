//! Resource exhaustion: slow clients, too many clients, huge requests, a full hashing queue.

use crate::helpers::{
    call_with, client, free_port, fresh_database_url, json, spawn_app, spawn_custom,
};
use app::server::password::{PasswordHasher, Queue};
use reqwest::{StatusCode, header};
use server::http::{Limits, router};
use std::{
    net::SocketAddr,
    process::{Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// Reads until the server closes the connection; the time it took, or `None` after `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut buffer = [0u8; 1024];
    tokio::time::timeout(within, async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await
    .ok()
    .map(|()| start.elapsed())
}

fn short_header_timeout() -> Limits {
    Limits {
        header_read_timeout: Duration::from_secs(1),
        ..Limits::default()
    }
}

#[tokio::test]
async fn a_client_sending_its_request_head_a_byte_at_a_time_is_dropped() {
    let app = spawn_custom(|_| {}, short_header_timeout()).await;
    let mut stream = TcpStream::connect(app.address).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // One byte every 200 ms: a head that would never end.
    let trickle = async {
        for _ in 0..50 {
            if stream.write_all(b"X").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    let started = Instant::now();
    trickle.await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the server kept reading a trickling head for {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_client_that_connects_and_says_nothing_is_dropped() {
    let app = spawn_custom(|_| {}, short_header_timeout()).await;
    let mut stream = TcpStream::connect(app.address).await.unwrap();
    let closed = closed_within(&mut stream, Duration::from_secs(5)).await;
    assert!(closed.is_some(), "a silent connection stayed open");
}

#[tokio::test]
async fn clients_beyond_the_connection_limit_wait_for_a_free_slot() {
    let limits = Limits {
        max_connections: 2,
        header_read_timeout: Duration::from_secs(30),
        ..Limits::default()
    };
    let app = spawn_custom(|_| {}, limits).await;
    let mut idle = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(app.address).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buffer = [0u8; 256];
        let n = stream.read(&mut buffer).await.unwrap();
        assert!(buffer[..n].starts_with(b"HTTP/1.1 200"));
        idle.push(stream); // kept alive: holds its slot
    }
    let waiting = tokio::spawn({
        let url = app.url("/healthz");
        async move { client().get(url).send().await.map(|r| r.status()) }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!waiting.is_finished(), "a third connection was served");
    drop(idle.pop());
    let status = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("served once a slot is free")
        .unwrap()
        .unwrap();
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_two_megabyte_username_is_refused_before_any_work() {
    let app = spawn_app().await;
    let huge = "a".repeat(2 * 1024 * 1024);

    // Declared length: refused from the head alone.
    let declared = call_with(
        &app.client,
        &app,
        "login",
        &[("username", &huge), ("password", "x")],
    )
    .await;
    assert_eq!(declared.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body = json(declared).await;
    assert!(
        body["Invalid"]["message"]
            .as_str()
            .unwrap()
            .contains("too large"),
        "{body}"
    );

    // No declared length (chunked): cut off at the limit.
    let mut form = b"password=x&username=".to_vec();
    form.resize(2 * 1024 * 1024, b'a');
    let chunked = huge_sign_in(app.address, Arc::new(form), true).await;
    assert_eq!(chunked, Some(422));

    // The iPXE sign-in, by form and in the query.
    let ipxe_form = client()
        .post(app.url("/ipxe/session"))
        .form(&[("username", huge.as_str()), ("password", "78")])
        .send()
        .await
        .unwrap();
    assert_eq!(ipxe_form.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let ipxe_query = client()
        .get(app.url(&format!("/ipxe/session?username={huge}&password=78")))
        .send()
        .await;
    if let Ok(response) = ipxe_query {
        assert!(response.status().is_client_error(), "{}", response.status());
    }

    assert_eq!(app.state.hasher.verifications(), 0);
    assert_eq!(
        client()
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
}

#[test]
fn the_largest_menu_the_editor_can_save_fits_its_body_limit() {
    use app::boot::{MENU_ENTRIES_MAX, MenuAction, MenuEntry, MenuItem, URL_MAX};
    let entry = MenuEntry {
        item: MenuItem::Action {
            action: MenuAction::Chain,
            url: Some(format!("http://{}", "é".repeat(URL_MAX - 7))),
        },
        is_default: false,
    };
    let body = serde_json::json!({
        "organization_id": i32::MAX,
        "menu_id": i32::MAX,
        "version": i32::MAX,
        "settings": {"title": "é".repeat(200), "background_url": "é".repeat(URL_MAX), "timeout_secs": "3600"},
        "entries": vec![entry; MENU_ENTRIES_MAX],
    });
    let size = serde_json::to_vec(&body).unwrap().len();
    assert!(size < router::LARGE_BODY, "{size} bytes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_hashing_queue_answers_503_with_retry_after() {
    const ATTEMPTS: u64 = 30;
    // One check at a time and no waiting: any two sign-ins that overlap turn one away.
    let queue = Queue {
        max_waiting: 0,
        max_wait: Duration::from_secs(30),
    };
    let app = spawn_custom(
        |state| {
            state.hasher = PasswordHasher::with_queue(1, queue).unwrap();
            let mut settings = (*state.settings).clone();
            settings.max_failures_per_address = 1000;
            state.settings = Arc::new(settings);
        },
        Limits::default(),
    )
    .await;
    let app = Arc::new(app);
    let attempts: Vec<_> = (0..ATTEMPTS)
        .map(|i| {
            let app = app.clone();
            tokio::spawn(async move {
                let name = format!("user{i}");
                call_with(
                    &client(),
                    &app,
                    "login",
                    &[("username", &name), ("password", "wrong password")],
                )
                .await
            })
        })
        .collect();
    let mut busy = 0;
    for attempt in attempts {
        let response = attempt.await.unwrap();
        if response.status() == StatusCode::SERVICE_UNAVAILABLE {
            let retry_after: u64 = response.headers()[header::RETRY_AFTER]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!(retry_after > 0);
            let body = json(response).await;
            assert!(body["Busy"].is_object(), "{body}");
            busy += 1;
        } else {
            assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        }
    }
    assert!(busy > 0, "no attempt was turned away");
    assert!(app.state.hasher.verifications() <= ATTEMPTS - busy);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_turned_away_as_busy_does_not_count_as_a_failure() {
    // One check at a time and one waiting, both kept taken by hashing in the background:
    // every sign-in meanwhile is turned away as busy.
    let queue = Queue {
        max_waiting: 1,
        max_wait: Duration::from_secs(30),
    };
    let app = spawn_custom(
        |state| state.hasher = PasswordHasher::with_queue(1, queue).unwrap(),
        Limits::default(),
    )
    .await;
    app.create_user("ada", "correct horse battery", false).await;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let background: Vec<_> = (0..2)
        .map(|_| {
            let (hasher, stop) = (app.state.hasher.clone(), stop.clone());
            tokio::spawn(async move {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let _ = hasher.hash("background work").await;
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let signer = client();
    let sign_in = || {
        call_with(
            &signer,
            &app,
            "login",
            &[("username", "ada"), ("password", "correct horse battery")],
        )
    };
    // More busy answers in a row than the 5 failures a user may have at one address; a
    // sign-in that slips through (it succeeds, and clears them) starts the count again.
    let (mut in_a_row, mut tries) = (0, 0);
    while in_a_row < 8 {
        tries += 1;
        assert!(
            tries < 200,
            "the background hashing left the hasher free too often"
        );
        let response = sign_in().await;
        match response.status() {
            StatusCode::SERVICE_UNAVAILABLE => in_a_row += 1,
            StatusCode::OK => in_a_row = 0,
            status => panic!(
                "a busy server answered {status}: {:?}",
                response.text().await
            ),
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for task in background {
        task.await.unwrap();
    }
    // None of them counted: ada signs in.
    let response = sign_in().await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "{:?}",
        response.text().await
    );
}

/// The peak resident memory of a process, from `/proc`.
fn peak_rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|line| line.starts_with("VmHWM:"))
        .unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

/// One sign-in of a 2 MB username over a raw connection; its status, if one came.
async fn huge_sign_in(address: SocketAddr, body: Arc<Vec<u8>>, chunked: bool) -> Option<u16> {
    let mut stream = TcpStream::connect(address).await.ok()?;
    let head = if chunked {
        "POST /api/login HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n"
            .to_owned()
    } else {
        format!(
            "POST /api/login HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
    };
    stream.write_all(head.as_bytes()).await.ok()?;
    let (mut reader, mut writer) = stream.into_split();
    let send = tokio::spawn(async move {
        for piece in body.chunks(256 * 1024) {
            let result = if chunked {
                let mut framed = format!("{:x}\r\n", piece.len()).into_bytes();
                framed.extend_from_slice(piece);
                framed.extend_from_slice(b"\r\n");
                writer.write_all(&framed).await
            } else {
                writer.write_all(piece).await
            };
            if result.is_err() {
                return;
            }
        }
        let _ = writer
            .write_all(if chunked { b"0\r\n\r\n" } else { b"" })
            .await;
    });
    let mut answer = vec![0u8; 12];
    let read = tokio::time::timeout(Duration::from_secs(60), reader.read_exact(&mut answer)).await;
    send.abort();
    match read {
        Ok(Ok(_)) => std::str::from_utf8(&answer[9..12]).ok()?.parse().ok(),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_sign_ins_with_two_megabyte_usernames_keep_memory_small() {
    let (database_url, _dir) = fresh_database_url().await;
    let data_dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut server = Command::new(env!("CARGO_BIN_EXE_pxecloud"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--database-url")
        .arg(&database_url)
        .arg("--data-dir")
        .arg(data_dir.path())
        .env_remove("PXECLOUD_CONFIG")
        .env("RUST_LOG", "error")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let address: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let health = format!("http://{address}/healthz");
    let started = Instant::now();
    while client().get(&health).send().await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the server did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let mut form = b"password=x&username=".to_vec();
    form.resize(2 * 1024 * 1024, b'a');
    let form = Arc::new(form);
    let attempts: Vec<_> = (0..2000)
        .map(|i| tokio::spawn(huge_sign_in(address, form.clone(), i % 2 == 1)))
        .collect();
    let mut answered = 0;
    for attempt in attempts {
        if let Some(status) = attempt.await.unwrap() {
            assert!((400..500).contains(&status), "answered {status}");
            answered += 1;
        }
    }
    let peak = peak_rss_bytes(server.id());
    let still_up = client().get(&health).send().await.map(|r| r.status());
    server.kill().unwrap();
    let _ = server.wait();

    assert!(answered > 0, "no attempt got an answer");
    assert_eq!(still_up.unwrap(), StatusCode::OK);
    assert!(
        peak < 300 * 1024 * 1024,
        "peak RSS {} MiB",
        peak / 1024 / 1024
    );
    eprintln!(
        "2,000 sign-ins of 2 MB: {answered} answered with a 4xx, peak RSS {} MiB",
        peak / 1024 / 1024
    );
}
