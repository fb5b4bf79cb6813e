//! The record of what the boot server's UDP doors did: written in batches, read by server
//! admins only, cut to the columns' sizes (it comes off the network), pruned by age.

use crate::helpers::spawn_app;
use app::{
    error::AppError,
    server::{
        actor::Actor,
        services::network_log::{self, NetworkEvent, Protocol},
    },
};

fn event(mac: &str, outcome: &str, days_ago: i64) -> NetworkEvent {
    NetworkEvent {
        at: chrono::Utc::now() - chrono::Duration::days(days_ago),
        protocol: Protocol::Dhcp,
        client_ip: "0.0.0.0".into(),
        client_mac: Some(mac.into()),
        xid: Some(u32::MAX),
        arch: Some(7),
        vendor_class: Some("PXEClient:Arch:00007:UNDI:003000".into()),
        interface: Some("br0".into()),
        file: Some("snponly.efi".into()),
        bytes: None,
        duration_ms: None,
        outcome: outcome.into(),
    }
}

#[tokio::test]
async fn events_are_written_read_by_machine_and_pruned_by_age() {
    let app = spawn_app().await;
    let db = &app.state.db;
    let mut long = event("52-54-00-00-00-02", "offer", 0);
    // Off the network: a NUL (PostgreSQL refuses it in text) and too much of everything.
    long.vendor_class = Some(format!("PXEClient\0{}", "é".repeat(300)));
    long.file = Some("x".repeat(2000));
    long.protocol = Protocol::Tftp;
    long.bytes = Some(u64::MAX);
    network_log::record(
        db,
        vec![
            event("52-54-00-00-00-01", "offer", 0),
            event("52-54-00-00-00-01", "ack", 0),
            long,
            event("52-54-00-00-00-01", "offer", 40),
        ],
    )
    .await
    .unwrap();

    let admin = Actor::operator();
    let all = network_log::recent(db, &admin, None, 10).await.unwrap();
    assert_eq!(all.len(), 4);
    let one = network_log::recent(db, &admin, Some("52-54-00-00-00-01"), 10)
        .await
        .unwrap();
    assert_eq!(one.len(), 3);
    assert_eq!(one[0].xid, Some(i64::from(u32::MAX)));
    let cut = all
        .iter()
        .find(|e| e.client_mac.as_deref() == Some("52-54-00-00-00-02"))
        .unwrap();
    assert_eq!(cut.protocol, "tftp");
    let vendor_class = cut.vendor_class.as_deref().unwrap();
    assert!(vendor_class.starts_with("PXEClient?é"), "{vendor_class}");
    assert!(vendor_class.len() <= 128 && vendor_class.len() >= 127);
    assert_eq!(cut.file.as_deref().map(str::len), Some(512));
    assert_eq!(cut.bytes, Some(i64::MAX));

    let deleted = network_log::prune(db, std::time::Duration::from_secs(30 * 24 * 3600))
        .await
        .unwrap();
    assert_eq!(deleted, 1);
    assert_eq!(
        network_log::recent(db, &admin, None, 10)
            .await
            .unwrap()
            .len(),
        3
    );
}

#[tokio::test]
async fn only_server_admins_read_the_network_log() {
    let app = spawn_app().await;
    let user = app
        .create_user("alice", "correct horse battery", false)
        .await;
    let alice = Actor {
        user_id: Some(user),
        username: "alice".into(),
        is_server_admin: false,
    };
    let denied = network_log::recent(&app.state.db, &alice, None, 10).await;
    assert!(matches!(denied, Err(AppError::Forbidden)), "{denied:?}");
}
