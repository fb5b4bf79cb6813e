//! HTTPS for the web app: browsers are sent to it, iPXE keeps plain HTTP, and a bad
//! certificate or key stops the start with a clear message.

use crate::helpers::{client, free_port, fresh_database_url};
use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};
use std::{
    net::SocketAddr,
    path::Path,
    process::{Child, Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A self-signed certificate for 127.0.0.1 and its key, made by openssl, in `dir`.
fn self_signed(dir: &Path, name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let cert = dir.join(format!("{name}.crt"));
    let key = dir.join(format!("{name}.key"));
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=pxecloud test",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
            "-addext",
            "extendedKeyUsage=serverAuth",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl runs");
    assert!(status.success());
    (cert, key)
}

fn pxecloud(database_url: &str, data_dir: &Path, extra: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pxecloud"));
    command
        .arg("serve")
        .args(["--database-url", database_url])
        .arg("--data-dir")
        .arg(data_dir)
        .args(extra)
        .env_remove("PXECLOUD_CONFIG")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    command
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// GET `path` over TLS, trusting only `cert`; the status and the raw head.
async fn https_get(address: SocketAddr, cert: &Path, path: &str) -> (u16, String) {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(cert).unwrap())
        .unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(address).await.unwrap();
    let name = ServerName::IpAddress(address.ip().into());
    let mut stream = connector.connect(name, tcp).await.expect("TLS handshake");
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let head = answer
        .split("\r\n\r\n")
        .next()
        .unwrap_or_default()
        .to_owned();
    let status = head[9..12].parse().unwrap();
    (status, head.to_ascii_lowercase())
}

#[tokio::test]
async fn with_a_certificate_browsers_get_https_and_ipxe_keeps_plain_http() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(dir.path(), "server");
    let (database_url, _db_dir) = fresh_database_url().await;
    let (plain_port, https_port) = (free_port(), free_port());
    let plain = format!("127.0.0.1:{plain_port}");
    let https: SocketAddr = format!("127.0.0.1:{https_port}").parse().unwrap();
    let _server = Server(
        pxecloud(
            &database_url,
            &dir.path().join("data"),
            &[
                "--listen",
                &plain,
                "--tls-listen",
                &https.to_string(),
                "--tls-cert",
                cert.to_str().unwrap(),
                "--tls-key",
                key.to_str().unwrap(),
            ],
        )
        .stderr(Stdio::null())
        .spawn()
        .unwrap(),
    );
    let started = Instant::now();
    while client()
        .get(format!("http://{plain}/healthz"))
        .send()
        .await
        .is_err()
    {
        assert!(started.elapsed() < Duration::from_secs(60), "did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A browser on plain HTTP is sent to the same page over HTTPS.
    let redirected = client()
        .get(format!("http://{plain}/login?next=%2F"))
        .send()
        .await
        .unwrap();
    assert_eq!(redirected.status(), 308);
    assert_eq!(
        redirected.headers()["location"],
        format!("https://127.0.0.1:{https_port}/login?next=%2F").as_str()
    );
    // iPXE keeps plain HTTP.
    let script = client()
        .get(format!("http://{plain}/boot.ipxe"))
        .send()
        .await
        .unwrap();
    assert_eq!(script.status(), 200);
    assert!(script.text().await.unwrap().starts_with("#!ipxe"));

    // Over HTTPS: the app, told to stay on HTTPS.
    let (status, head) = https_get(https, &cert, "/login").await;
    assert_eq!(status, 200, "{head}");
    assert!(
        head.contains("strict-transport-security: max-age="),
        "{head}"
    );
}

fn failed_start(extra: &[&str], data_dir: &Path) -> String {
    let output = pxecloud("sqlite::memory:", data_dir, extra)
        .args(["--listen", "127.0.0.1:0", "--tls-listen", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
        .wait_with_output()
        .unwrap();
    assert!(!output.status.success());
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_key_of_another_certificate_or_a_missing_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, _) = self_signed(dir.path(), "one");
    let (_, other_key) = self_signed(dir.path(), "two");
    let data = dir.path().join("data");

    let mismatch = failed_start(
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            other_key.to_str().unwrap(),
        ],
        &data,
    );
    assert!(mismatch.contains("cannot be used together"), "{mismatch}");

    let missing = failed_start(
        &[
            "--tls-cert",
            "/nonexistent.crt",
            "--tls-key",
            other_key.to_str().unwrap(),
        ],
        &data,
    );
    assert!(
        missing.contains("cannot read the TLS certificate /nonexistent.crt"),
        "{missing}"
    );

    let alone = failed_start(&["--tls-cert", cert.to_str().unwrap()], &data);
    assert!(alone.contains("--tls-key"), "{alone}");
}
