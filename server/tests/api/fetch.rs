//! Files fetched from a URL: into the library with progress and a checksum (given, or read
//! from a `SHA256SUMS` list), resumed with `Range`/`If-Range` after a broken download, kept
//! with the reason when they fail (then retried), cancelled, taken over when nobody runs
//! them, and refused — before any request — where the server's policy forbids.

use std::time::{Duration, Instant};

use crate::helpers::{Origin, TestApp, spawn_app, spawn_app_with};
use app::{
    model::Role,
    server::{
        actor::Actor,
        entities::upload,
        net::Network,
        services::{
            fetch::{self, NewFetch},
            files,
        },
    },
};
use reqwest::StatusCode;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};
use serde_json::Value;
use sha2::{Digest, Sha256};

const PASSWORD: &str = "correct horse battery";

/// A server that may fetch from 127.0.0.1 only, an organization `lab` whose admin `ada` is
/// signed in, and an origin to fetch from.
struct Lab {
    app: TestApp,
    lab: i32,
    origin: Origin,
}

async fn lab_on(app: TestApp) -> Lab {
    app.create_user("ada", PASSWORD, false).await;
    let lab = app
        .create_organization("lab", &[("ada", Role::Admin)])
        .await
        .id;
    app.login("ada", PASSWORD).await;
    Lab {
        app,
        lab,
        origin: Origin::start().await,
    }
}

async fn lab() -> Lab {
    lab_on(
        spawn_app_with(|settings| {
            settings.fetch_allow = vec![Network::parse("127.0.0.1/32").unwrap()];
        })
        .await,
    )
    .await
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Bytes that differ along their length.
fn content(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 13 + i / 509) as u8).collect()
}

impl Lab {
    /// Asks for a fetch; the response.
    async fn fetch(&self, url: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let org = self.lab.to_string();
        let mut form = vec![
            ("organization_id", org.as_str()),
            ("url", url),
            ("name", ""),
            ("sha256", ""),
            ("sums_url", ""),
            ("public", "false"),
        ];
        for (key, value) in fields {
            form.retain(|(k, _)| k != key);
            form.push((key, value));
        }
        self.app.call("fetch_file", &form).await
    }

    /// Asks for a fetch that must start; its upload row.
    async fn started(&self, url: &str, fields: &[(&str, &str)]) -> Value {
        let response = self.fetch(url, fields).await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{:?}",
            response.text().await
        );
        response.json().await.unwrap()
    }

    /// The refusal of a fetch: its field and message.
    async fn refused(&self, url: &str, fields: &[(&str, &str)]) -> (String, String) {
        let response = self.fetch(url, fields).await;
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{url} {fields:?}: {body}"
        );
        let error = &body["Invalid"];
        (
            error["field"].as_str().unwrap().to_owned(),
            error["message"].as_str().unwrap().to_owned(),
        )
    }

    async fn listing(&self) -> Value {
        let response = self
            .app
            .call("files", &[("organization_id", &self.lab.to_string())])
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    /// Waits (30 s at most) until `done` holds for the listing; the listings seen.
    async fn wait_for(&self, done: impl Fn(&Value) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut seen = Vec::new();
        loop {
            let listing = self.listing().await;
            let finished = done(&listing);
            seen.push(listing);
            if finished {
                return seen;
            }
            assert!(Instant::now() < deadline, "gave up waiting: {seen:#?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn file_named(&self, name: &str) -> Value {
        let listing = self
            .wait_for(|l| {
                l["files"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|f| f["name"] == name)
            })
            .await;
        let last = listing.last().unwrap();
        last["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .unwrap()
            .clone()
    }

    async fn download(&self, file: &Value) -> Vec<u8> {
        let url = self.app.url(&format!(
            "/files/{}/{}",
            file["id"],
            file["name"].as_str().unwrap()
        ));
        let response = self.app.client.get(url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.bytes().await.unwrap().to_vec()
    }
}

#[tokio::test]
async fn a_fetched_file_lands_in_the_library_checked_against_its_sums_with_progress_meanwhile() {
    let lab = lab().await;
    let bytes = content(3 * 1024 * 1024 + 17);
    lab.origin.set("live-12.iso", &bytes);
    lab.origin.set_sums(&format!(
        "{}  other.iso\n{} *live-12.iso\n",
        "0".repeat(64),
        sha256(&bytes)
    ));

    let row = lab
        .started(
            &lab.origin.url("/slow/live-12.iso"),
            &[("sums_url", &lab.origin.url("/SHA256SUMS"))],
        )
        .await;
    // Named after the URL, its length asked first, its checksum read from the list.
    assert_eq!(row["name"], "live-12.iso");
    assert_eq!(row["length"], bytes.len());
    assert_eq!(row["expected_sha256"], sha256(&bytes));
    assert_eq!(row["source_url"], lab.origin.url("/slow/live-12.iso"));
    assert_eq!(row["sums_url"], lab.origin.url("/SHA256SUMS"));

    let seen = lab
        .wait_for(|l| l["files"].as_array().unwrap().len() == 1)
        .await;
    // The page sees it run, and bytes counted on the way.
    let progress: Vec<u64> = seen
        .iter()
        .filter_map(|l| l["uploads"][0]["received"].as_u64())
        .collect();
    assert!(
        progress.iter().any(|&n| n > 0 && n < bytes.len() as u64),
        "progress seen: {progress:?}"
    );
    assert!(seen.iter().any(|l| l["uploads"][0]["running"] == true));
    assert!(
        seen.last().unwrap()["uploads"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    let file = lab.file_named("live-12.iso").await;
    assert_eq!(file["sha256"], sha256(&bytes));
    assert_eq!(file["size"], bytes.len());
    assert_eq!(lab.download(&file).await, bytes);
    let methods: Vec<String> = lab
        .origin
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        methods,
        [
            "HEAD /slow/live-12.iso",
            "GET /SHA256SUMS",
            "GET /slow/live-12.iso"
        ]
    );
}

#[tokio::test]
async fn a_broken_download_resumes_where_it_broke_while_the_bytes_are_the_same() {
    let lab = lab().await;
    let bytes = content(2 * 1024 * 1024 + 5);
    lab.origin.set("rescue.iso", &bytes);
    lab.started(
        &lab.origin.url("/cut/rescue.iso"),
        &[("sha256", &sha256(&bytes))],
    )
    .await;
    let file = lab.file_named("rescue.iso").await;
    assert_eq!(lab.download(&file).await, bytes);
    let gets: Vec<_> = lab
        .origin
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET")
        .collect();
    assert_eq!(gets.len(), 2, "{gets:?}");
    assert_eq!(gets[0].range, None);
    // The second asks for the rest, and only if the bytes did not change.
    let range = gets[1].range.clone().expect("a range");
    let from: u64 = range
        .strip_prefix("bytes=")
        .and_then(|r| r.strip_suffix('-'))
        .unwrap()
        .parse()
        .unwrap();
    assert!(from > 0 && from < bytes.len() as u64, "{range}");
    assert!(
        gets[1]
            .if_range
            .as_deref()
            .is_some_and(|v| v.starts_with('"'))
    );
}

#[tokio::test]
async fn a_failed_fetch_keeps_its_reason_until_retried_and_takes_no_pieces() {
    let lab = lab().await;
    let (wrong, right) = (content(100_000), content(100_001));
    lab.origin.set("netinst.iso", &wrong);
    let row = lab
        .started(
            &lab.origin.url("/files/netinst.iso"),
            &[("sha256", &sha256(&right)), ("name", "debian-netinst.iso")],
        )
        .await;
    let id = row["id"].as_str().unwrap().to_owned();
    let listing = lab
        .wait_for(|l| !l["uploads"][0]["failure"].is_null())
        .await;
    let failed = &listing.last().unwrap()["uploads"][0];
    let reason = failed["failure"].as_str().unwrap();
    assert!(
        reason.contains(&sha256(&wrong)) && reason.contains(&sha256(&right)),
        "{reason}"
    );
    assert_eq!(failed["running"], false);
    assert!(
        listing.last().unwrap()["files"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // Its space stays held, so the page can say why until it is dismissed.
    assert_eq!(listing.last().unwrap()["reserved"], 100_000);

    // A browser cannot send it pieces: the server writes it.
    let patch = lab
        .app
        .client
        .patch(lab.app.url(&format!("/uploads/{id}")))
        .header("Tus-Resumable", "1.0.0")
        .header("Content-Type", "application/offset+octet-stream")
        .header("Upload-Offset", "0")
        .body(vec![0u8; 10])
        .send()
        .await
        .unwrap();
    assert_eq!(patch.status(), StatusCode::CONFLICT);

    // The source is fixed; a retry fetches it again.
    lab.origin.set("netinst.iso", &right);
    let retried = lab.app.call("retry_fetch", &[("upload_id", &id)]).await;
    assert_eq!(retried.status(), StatusCode::OK);
    let file = lab.file_named("debian-netinst.iso").await;
    assert_eq!(file["sha256"], sha256(&right));
    assert!(
        lab.listing().await["uploads"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // Another organization's fetch and one that does not exist are refused alike.
    let unknown = lab
        .app
        .call("retry_fetch", &[("upload_id", "0123456789abcdef")])
        .await;
    assert_eq!(unknown.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_cancelled_fetch_stops_and_its_space_and_bytes_are_freed() {
    let lab = lab().await;
    let bytes = content(6 * 1024 * 1024);
    lab.origin.set("big.iso", &bytes);
    let row = lab.started(&lab.origin.url("/slow/big.iso"), &[]).await;
    let id = row["id"].as_str().unwrap().to_owned();
    lab.wait_for(|l| l["uploads"][0]["received"].as_u64() > Some(0))
        .await;
    let cancelled = lab
        .app
        .client
        .delete(lab.app.url(&format!("/uploads/{id}")))
        .header("Tus-Resumable", "1.0.0")
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), StatusCode::NO_CONTENT);
    // The task notices at its next count (2 s at most) and stops.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let listing = lab.listing().await;
    assert!(listing["uploads"].as_array().unwrap().is_empty());
    assert!(listing["files"].as_array().unwrap().is_empty());
    assert_eq!(listing["reserved"], 0);
    assert!(!lab.app.state.file_store().part(&id).exists());
}

#[tokio::test]
async fn a_fetch_nobody_runs_is_taken_over() {
    let lab = lab().await;
    let bytes = content(50_000);
    lab.origin.set("memtest.iso", &bytes);
    // Started on a replica that died before it took the fetch (or while it held it).
    let fetcher = lab.app.state.fetcher().unwrap();
    let new = NewFetch {
        organization_id: lab.lab,
        url: lab.origin.url("/files/memtest.iso"),
        ..NewFetch::default()
    };
    let row = fetch::start(&lab.app.state.db, &fetcher, &Actor::operator(), new)
        .await
        .unwrap();
    let mut lapsed: upload::ActiveModel = row.clone().into();
    lapsed.lease_until = Set(Some(chrono::Utc::now() - chrono::Duration::seconds(5)));
    lapsed.update(&lab.app.state.db).await.unwrap();

    let orphans = fetch::orphans(&lab.app.state.db).await.unwrap();
    assert_eq!(orphans, std::slice::from_ref(&row.id));
    lab.app.state.spawn_fetch(row.id.clone()).unwrap();
    // A second taker finds it taken and leaves it.
    lab.app.state.spawn_fetch(row.id.clone()).unwrap();
    let file = lab.file_named("memtest.iso").await;
    assert_eq!(lab.download(&file).await, bytes);
    let gets = lab
        .origin
        .requests()
        .iter()
        .filter(|r| r.method == "GET")
        .count();
    assert_eq!(gets, 1);
    assert!(
        upload::Entity::find()
            .all(&lab.app.state.db)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn fetches_the_server_may_not_make_are_refused_before_any_request() {
    // The default policy: not this machine.
    let default = lab_on(spawn_app().await).await;
    default.origin.set("a.iso", b"bytes");
    for url in [
        default.origin.url("/files/a.iso"),
        format!(
            "http://localhost:{}/files/a.iso",
            default.origin.address.port()
        ),
        format!("http://[::1]:{}/files/a.iso", default.origin.address.port()),
        "http://169.254.169.254/latest/meta-data".to_owned(),
    ] {
        let (field, message) = default.refused(&url, &[]).await;
        assert_eq!(field, "url");
        assert!(
            message.contains("loopback") || message.contains("link-local"),
            "{url}: {message}"
        );
    }
    assert!(default.origin.requests().is_empty());

    let lab = lab().await;
    lab.origin.set("a.iso", &content(1000));
    lab.origin.set_sums(&format!("{}  b.iso\n", "1".repeat(64)));
    // The URL, the other fields, and the field and words of the refusal.
    type Case = (
        String,
        Vec<(&'static str, String)>,
        &'static str,
        &'static str,
    );
    let cases: Vec<Case> = vec![
        // Redirected outside the networks allowed: refused before connecting there.
        (
            lab.origin.url("/away"),
            vec![],
            "url",
            "169.254.0.1 is outside the networks this server may fetch from (127.0.0.1/32)",
        ),
        (
            "ftp://127.0.0.1/a.iso".into(),
            vec![],
            "url",
            "Only http and https",
        ),
        ("not a url".into(), vec![], "url", "not a URL"),
        (
            lab.origin.url("/files/missing.iso"),
            vec![],
            "url",
            "404 Not Found",
        ),
        (
            lab.origin.url("/chunked/a.iso"),
            vec![],
            "url",
            "does not say how large",
        ),
        (
            lab.origin.url("/"),
            vec![],
            "name",
            "does not end in a file name",
        ),
        (
            lab.origin.url("/files/a.iso"),
            vec![("name", "a b.iso".into())],
            "name",
            "",
        ),
        (
            lab.origin.url("/files/a.iso"),
            vec![("sha256", "12ab".into())],
            "sha256",
            "64 hexadecimal",
        ),
        (
            lab.origin.url("/files/a.iso"),
            vec![
                ("sha256", "1".repeat(64)),
                ("sums_url", lab.origin.url("/SHA256SUMS")),
            ],
            "sums_url",
            "not both",
        ),
        (
            lab.origin.url("/files/a.iso"),
            vec![("sums_url", lab.origin.url("/SHA256SUMS"))],
            "sums_url",
            "no SHA-256 for a.iso",
        ),
    ];
    for (url, fields, field, message) in cases {
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (got_field, got_message) = lab.refused(&url, &fields).await;
        assert_eq!(got_field, field, "{url}: {got_message}");
        assert!(got_message.contains(message), "{url}: {got_message}");
    }
    assert!(
        !lab.origin.requests().iter().any(|r| r.path == "/x.iso"),
        "nothing reached the redirect's target"
    );

    // Over the quota: refused with the sizes, before a byte is fetched.
    let root = Actor::operator();
    app::server::services::files::set_quota(&lab.app.state.db, &root, lab.lab, Some(999))
        .await
        .unwrap();
    let (field, message) = lab.refused(&lab.origin.url("/files/a.iso"), &[]).await;
    assert_eq!(field, "quota");
    assert!(message.contains("does not fit"), "{message}");
    assert!(
        !lab.origin
            .requests()
            .iter()
            .any(|r| r.method == "GET" && r.path == "/files/a.iso"),
        "{:?}",
        lab.origin.requests()
    );
    assert!(
        lab.listing().await["uploads"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_url_signed_for_get_only_is_sized_by_a_one_byte_get() {
    let lab = lab().await;
    let bytes = content(70_000);
    lab.origin.set("signed.iso", &bytes);
    lab.started(&lab.origin.url("/signed/signed.iso"), &[])
        .await;
    let file = lab.file_named("signed.iso").await;
    assert_eq!(lab.download(&file).await, bytes);
    let asked: Vec<_> = lab
        .origin
        .requests()
        .into_iter()
        .map(|r| (r.method, r.range))
        .collect();
    assert_eq!(asked[0], ("HEAD".to_owned(), None));
    assert_eq!(asked[1], ("GET".to_owned(), Some("bytes=0-0".to_owned())));
}

#[tokio::test]
async fn a_writer_whose_lease_lapsed_and_was_taken_changes_nothing_more() {
    let lab = lab().await;
    lab.origin.set("lease.iso", &content(1000));
    let fetcher = lab.app.state.fetcher().unwrap();
    let new = NewFetch {
        organization_id: lab.lab,
        url: lab.origin.url("/files/lease.iso"),
        ..NewFetch::default()
    };
    let db = &lab.app.state.db;
    let row = fetch::start(db, &fetcher, &Actor::operator(), new)
        .await
        .unwrap();
    let first = files::take_lease(db, row.clone()).await.unwrap().unwrap();
    assert!(
        files::take_lease(db, row.clone()).await.unwrap().is_none(),
        "a held lease is not taken"
    );
    // The first writer stalls past its lease; a second takes the upload over.
    let mut lapsed: upload::ActiveModel = first.clone().into();
    lapsed.lease_until = Set(Some(chrono::Utc::now() - chrono::Duration::seconds(1)));
    lapsed.update(db).await.unwrap();
    let second = files::take_lease(db, row).await.unwrap().unwrap();
    assert!(!files::advance(db, &first, 500, "").await.unwrap());
    assert!(
        !files::complete(db, &first, 1000, &"a".repeat(64))
            .await
            .unwrap()
    );
    files::release(db, &first, 900, "").await.unwrap();
    let stored = upload::Entity::find_by_id(second.id.clone())
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((stored.received, stored.sha256.as_deref()), (0, None));
    assert_eq!(stored.lease_owner, second.lease_owner);
    assert!(files::advance(db, &second, 200, "").await.unwrap());
}
