//! The Network boot page's data: for server admins only, what listens, the loaders with their
//! size and SHA-256, the counters, recent events, and DHCP configuration written for the
//! address asked (a bad one is a field error).

use std::sync::{Arc, atomic::Ordering};

use crate::helpers::{LOADER, boot_files, json, spawn_app, spawn_custom};
use app::server::services::network_log::{self, NetworkEvent, Protocol};
use reqwest::StatusCode;
use server::{boot_status::Probe, dhcp, http, tftp};

async fn signed_in_admin(app: &crate::helpers::TestApp) {
    app.create_user("root", "root password", true).await;
    app.login("root", "root password").await;
}

#[tokio::test]
async fn a_server_admin_sees_listeners_loaders_counters_events_and_snippets() {
    let tftp_stats = Arc::new(tftp::Stats::default());
    tftp_stats.transfers.store(3, Ordering::Relaxed);
    let probe = Probe {
        http: Some("0.0.0.0:8080".parse().unwrap()),
        http_port: 8080,
        tftp: Some(("0.0.0.0:69".parse().unwrap(), tftp_stats)),
        proxy_dhcp: Some((Vec::new(), Arc::new(dhcp::Stats::default()))),
        files: Some(Arc::new(tftp::files::LiveFiles::new(boot_files()))),
        ..Probe::default()
    };
    let app = spawn_custom(
        move |state| state.boot_server = Some(Arc::new(probe)),
        http::Limits::default(),
    )
    .await;
    signed_in_admin(&app).await;
    network_log::record(
        &app.state.db,
        vec![NetworkEvent {
            at: chrono::Utc::now(),
            protocol: Protocol::Dhcp,
            client_ip: "0.0.0.0".into(),
            client_mac: Some("52-54-00-00-00-09".into()),
            xid: Some(7),
            arch: Some(7),
            vendor_class: Some("PXEClient:Arch:00007".into()),
            interface: Some("br0".into()),
            file: Some("snponly.efi".into()),
            bytes: None,
            duration_ms: None,
            outcome: "offer".into(),
        }],
    )
    .await
    .unwrap();

    let response = app.call("network_boot", &[("address", " 10.9.8.7 ")]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = json(response).await;

    let services: Vec<(&str, bool)> = body["listeners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["service"].as_str().unwrap(), l["on"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        services,
        [("HTTP", true), ("TFTP", true), ("ProxyDHCP", true)]
    );
    assert_eq!(body["listeners"][1]["address"], "port 69 on every address");

    let loaders = body["loaders"].as_array().unwrap();
    assert_eq!(loaders.len(), 1, "{body}");
    assert_eq!(loaders[0]["name"], "snponly.efi");
    assert_eq!(loaders[0]["size"], LOADER.len());
    use sha2::Digest;
    assert_eq!(
        loaders[0]["sha256"],
        hex::encode(sha2::Sha256::digest(LOADER))
    );
    assert_eq!(loaders[0]["used_for"], serde_json::json!(["x86-64 UEFI"]));

    let transfers = body["counters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["group"] == "TFTP" && c["name"] == "Transfers")
        .expect("a TFTP transfer counter");
    assert_eq!(transfers["value"], 3);

    let event = &body["events"][0];
    assert_eq!(event["client_mac"], "52-54-00-00-00-09");
    assert_eq!(event["arch"], "x86-64 UEFI");
    assert_eq!(event["outcome"], "offer");

    assert_eq!(body["snippet_address"], "10.9.8.7");
    assert!(body["snippet_warning"].is_null(), "{body}");
    let snippets = body["snippets"].as_array().unwrap();
    let ids: Vec<&str> = snippets.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["dnsmasq", "isc-dhcpd", "kea", "windows", "mikrotik"]);
    for snippet in snippets {
        let text = snippet["text"].as_str().unwrap();
        assert!(
            text.contains("http://10.9.8.7:8080/boot.ipxe"),
            "{}: {text}",
            snippet["id"]
        );
    }
}

#[tokio::test]
async fn without_tftp_on_port_69_the_page_says_firmware_cannot_load_a_loader() {
    let app = spawn_app().await;
    signed_in_admin(&app).await;
    let body = json(app.call("network_boot", &[("address", "")]).await).await;
    assert!(
        body["snippet_warning"]
            .as_str()
            .is_some_and(|w| w.contains("--tftp")),
        "{body}"
    );
    // Written for this host's first address besides loopback, when it has one.
    let first = body["addresses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a[1].as_str().unwrap().to_owned())
        .find(|a| a != "127.0.0.1");
    assert_eq!(body["snippet_address"].as_str().map(str::to_owned), first);
}

#[tokio::test]
async fn an_address_that_is_not_ipv4_is_a_field_error() {
    let app = spawn_app().await;
    signed_in_admin(&app).await;
    for bad in ["10.0.0", "boot.lan", "::1", "10.0.0.256"] {
        let response = app.call("network_boot", &[("address", bad)]).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        let body = json(response).await;
        assert_eq!(body["Invalid"]["field"], "address", "{bad}: {body}");
    }
}
