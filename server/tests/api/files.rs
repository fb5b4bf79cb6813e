//! Hosted files: tus uploads (whole, resumed, cut off, cancelled, over quota, wrong
//! checksum), serving with ranges and validators, and the tenancy wall for browsers and boot
//! clients.

use std::time::Duration;

use crate::helpers::{
    TestApp, call_with, client, json, make_iso, spawn_app, spawn_app_with, spawn_custom,
};
use app::{
    model::Role,
    server::{
        actor::Actor,
        entities::user,
        services::{boot_sessions, files},
    },
};
use base64::Engine;
use reqwest::{StatusCode, header};
use sea_orm::EntityTrait;
use server::http;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PASSWORD: &str = "correct horse battery";

/// An organization `lab` with its admin `ada` (signed in on `app.client`) and member `bob`,
/// and another organization `other` with its admin `eve`.
struct Library {
    app: TestApp,
    lab: i32,
    other: i32,
}

async fn library_on(app: TestApp) -> Library {
    for name in ["ada", "bob", "eve"] {
        app.create_user(name, PASSWORD, false).await;
    }
    let lab = app
        .create_organization("lab", &[("ada", Role::Admin), ("bob", Role::Member)])
        .await
        .id;
    let other = app
        .create_organization("other", &[("eve", Role::Admin)])
        .await
        .id;
    app.login("ada", PASSWORD).await;
    Library { app, lab, other }
}

async fn library() -> Library {
    library_on(spawn_app().await).await
}

fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Bytes that differ along their length, so a misplaced range shows.
fn content(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

impl Library {
    /// Starts an upload; returns the response.
    async fn create(
        &self,
        client: &reqwest::Client,
        org: i32,
        name: &str,
        length: u64,
        extra: &str,
    ) -> reqwest::Response {
        let mut metadata = format!("organization {},name {}", b64(&org.to_string()), b64(name));
        if !extra.is_empty() {
            metadata.push(',');
            metadata.push_str(extra);
        }
        client
            .post(self.app.url("/uploads"))
            .header("Tus-Resumable", "1.0.0")
            .header("Upload-Length", length.to_string())
            .header("Upload-Metadata", metadata)
            .send()
            .await
            .unwrap()
    }

    /// Starts an upload as `ada`; returns its URL.
    async fn start(&self, name: &str, length: u64, extra: &str) -> String {
        let response = self
            .create(&self.app.client, self.lab, name, length, extra)
            .await;
        assert_eq!(
            response.status(),
            StatusCode::CREATED,
            "{:?}",
            response.text().await
        );
        assert_eq!(response.headers()["tus-resumable"], "1.0.0");
        let location = response.headers()[header::LOCATION].to_str().unwrap();
        self.app.url(location)
    }

    async fn patch(
        &self,
        url: &str,
        offset: u64,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        self.app
            .client
            .patch(url)
            .header("Tus-Resumable", "1.0.0")
            .header(header::CONTENT_TYPE, "application/offset+octet-stream")
            .header("Upload-Offset", offset.to_string())
            .body(body)
            .send()
            .await
            .unwrap()
    }

    async fn offset(&self, url: &str) -> reqwest::Response {
        self.app
            .client
            .head(url)
            .header("Tus-Resumable", "1.0.0")
            .send()
            .await
            .unwrap()
    }

    /// Uploads `bytes` whole as `ada`; returns the file's URL.
    async fn upload(&self, name: &str, bytes: &[u8], extra: &str) -> String {
        let url = self.start(name, bytes.len() as u64, extra).await;
        let response = self.patch(&url, 0, bytes.to_vec()).await;
        assert_eq!(
            response.status(),
            StatusCode::NO_CONTENT,
            "{:?}",
            response.text().await
        );
        assert_eq!(response.headers()["upload-offset"], bytes.len().to_string());
        let file = response.headers()[header::CONTENT_LOCATION]
            .to_str()
            .unwrap();
        self.app.url(file)
    }

    async fn listing(&self) -> serde_json::Value {
        let response = call_with(
            &self.app.client,
            &self.app,
            "files",
            &[("organization_id", &self.lab.to_string())],
        )
        .await;
        assert_eq!(response.status(), StatusCode::OK);
        json(response).await
    }

    /// A browser signed in as `username`.
    async fn signed_in(&self, username: &str) -> reqwest::Client {
        let browser = client();
        let response = call_with(
            &browser,
            &self.app,
            "login",
            &[("username", username), ("password", PASSWORD)],
        )
        .await;
        assert_eq!(response.status(), StatusCode::OK, "{username} signs in");
        browser
    }

    /// A boot session's token for `username`, as the sign-in at the prompt makes.
    async fn boot_token(&self, username: &str) -> String {
        let users = user::Entity::find().all(&self.app.state.db).await.unwrap();
        let user = users.into_iter().find(|u| u.username == username).unwrap();
        let (_, token) = boot_sessions::start(
            &self.app.state.db,
            &user,
            &Default::default(),
            self.app.state.settings.boot_token_ttl,
        )
        .await
        .unwrap();
        token.as_str().to_owned()
    }
}

#[tokio::test]
async fn a_whole_upload_becomes_a_file_served_with_its_checksum() {
    let lib = library().await;
    let bytes = content(3 * 1024 * 1024 + 17);

    let url = lib
        .upload(
            "debian.iso",
            &bytes,
            &format!("sha256 {}", b64(&sha256(&bytes))),
        )
        .await;

    let response = lib.app.client.get(&url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    assert_eq!(headers[header::ETAG], format!("\"{}\"", sha256(&bytes)));
    assert_eq!(headers[header::ACCEPT_RANGES], "bytes");
    assert_eq!(headers[header::CONTENT_LENGTH], bytes.len().to_string());
    assert!(
        headers[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(response.bytes().await.unwrap().as_ref(), bytes.as_slice());
    let listing = lib.listing().await;
    assert_eq!(listing["files"][0]["name"], "debian.iso");
    assert_eq!(listing["files"][0]["sha256"], sha256(&bytes));
    assert_eq!(listing["files"][0]["added_by"], "ada");
    assert_eq!(listing["used"], bytes.len());
    assert_eq!(listing["uploads"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn an_upload_sent_in_pieces_resumes_where_head_says() {
    let lib = library().await;
    let bytes = content(2_000_000);
    let url = lib.start("kernel", bytes.len() as u64, "").await;

    let first = lib.patch(&url, 0, bytes[..700_000].to_vec()).await;
    assert_eq!(first.status(), StatusCode::NO_CONTENT);
    assert_eq!(first.headers()["upload-offset"], "700000");
    let head = lib.offset(&url).await;
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(head.headers()["upload-offset"], "700000");
    assert_eq!(head.headers()["upload-length"], "2000000");
    assert_eq!(head.headers()[header::CACHE_CONTROL], "no-store");
    // A piece from the wrong offset is refused, and changes nothing.
    let wrong = lib.patch(&url, 0, bytes.to_vec()).await;
    assert_eq!(wrong.status(), StatusCode::CONFLICT);
    assert!(
        json(wrong).await["Conflict"]["message"]
            .as_str()
            .unwrap()
            .contains("700000")
    );
    // The listing shows the upload in progress.
    assert_eq!(lib.listing().await["uploads"][0]["received"], 700_000);

    let rest = lib.patch(&url, 700_000, bytes[700_000..].to_vec()).await;
    assert_eq!(rest.status(), StatusCode::NO_CONTENT);
    let file = rest.headers()[header::CONTENT_LOCATION].to_str().unwrap();
    let served = lib.app.client.get(lib.app.url(file)).send().await.unwrap();
    assert_eq!(served.bytes().await.unwrap().as_ref(), bytes.as_slice());
    assert_eq!(lib.offset(&url).await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_piece_cut_off_mid_way_keeps_what_arrived_and_the_upload_completes() {
    let lib = library().await;
    let bytes = content(3 * 1024 * 1024);
    let url = lib.start("cut.img", bytes.len() as u64, "").await;

    // The connection drops after 1.5 MiB of the piece.
    let sent = bytes[..1536 * 1024].to_vec();
    let stream = futures_util::stream::iter(vec![
        Ok::<_, std::io::Error>(sent),
        Err(std::io::Error::other("the cable was pulled")),
    ]);
    let cut = lib
        .app
        .client
        .patch(&url)
        .header("Tus-Resumable", "1.0.0")
        .header(header::CONTENT_TYPE, "application/offset+octet-stream")
        .header("Upload-Offset", "0")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await;
    assert!(cut.is_err() || cut.unwrap().status() == StatusCode::BAD_REQUEST);

    // What arrived is kept (the server may still be writing it down: ask until it settles).
    let mut offset = 0;
    for _ in 0..50 {
        let head = lib.offset(&url).await;
        offset = head.headers()["upload-offset"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        if offset > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(offset > 0 && offset <= 1536 * 1024, "offset {offset}");
    // The lease of the cut request is gone: the next piece is taken.
    let mut rest = lib
        .patch(&url, offset, bytes[offset as usize..].to_vec())
        .await;
    for _ in 0..50 {
        if rest.status() != StatusCode::CONFLICT {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        rest = lib
            .patch(&url, offset, bytes[offset as usize..].to_vec())
            .await;
    }
    assert_eq!(rest.status(), StatusCode::NO_CONTENT);
    let file = rest.headers()[header::CONTENT_LOCATION].to_str().unwrap();
    let served = lib.app.client.get(lib.app.url(file)).send().await.unwrap();
    assert_eq!(
        served.headers()[header::ETAG],
        format!("\"{}\"", sha256(&bytes))
    );
}

#[tokio::test]
async fn a_cancelled_upload_frees_its_name_and_quota() {
    let lib = library().await;
    files::set_quota(&lib.app.state.db, &Actor::operator(), lib.lab, Some(1000))
        .await
        .unwrap();
    let url = lib.start("big.iso", 1000, "").await;
    lib.patch(&url, 0, vec![1u8; 400]).await;
    // The quota is held by the upload in progress.
    let refused = lib
        .create(&lib.app.client, lib.lab, "more.iso", 1, "")
        .await;
    assert_eq!(refused.status(), StatusCode::PAYLOAD_TOO_LARGE);

    let cancel = lib
        .app
        .client
        .delete(&url)
        .header("Tus-Resumable", "1.0.0")
        .send()
        .await
        .unwrap();
    assert_eq!(cancel.status(), StatusCode::NO_CONTENT);
    assert_eq!(lib.offset(&url).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(lib.listing().await["reserved"], 0);
    lib.upload("big.iso", &[2u8; 1000], "").await;
}

#[tokio::test]
async fn a_file_over_the_quota_is_refused_before_a_byte_is_sent() {
    let lib = library().await;
    files::set_quota(
        &lib.app.state.db,
        &Actor::operator(),
        lib.lab,
        Some(1 << 20),
    )
    .await
    .unwrap();
    lib.upload("small", &[0u8; 1000], "").await;

    let refused = lib
        .create(&lib.app.client, lib.lab, "huge.iso", 1 << 20, "")
        .await;

    assert_eq!(refused.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let message = json(refused).await["Invalid"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        message.contains("does not fit") && message.contains("1.0 MiB"),
        "{message}"
    );
    assert!(
        lib.listing().await["uploads"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_wrong_checksum_drops_the_upload_and_names_both_checksums() {
    let lib = library().await;
    let bytes = content(100_000);
    let expected = "ab".repeat(32);
    let url = lib
        .start(
            "x.iso",
            bytes.len() as u64,
            &format!("sha256 {}", b64(&expected)),
        )
        .await;

    let response = lib.patch(&url, 0, bytes.clone()).await;

    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let message = json(response).await["Invalid"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        message.contains(&sha256(&bytes)) && message.contains(&expected),
        "{message}"
    );
    let listing = lib.listing().await;
    assert!(listing["files"].as_array().unwrap().is_empty());
    assert!(listing["uploads"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn bad_upload_requests_get_clear_errors() {
    let lib = library().await;
    let bad_name = lib
        .create(&lib.app.client, lib.lab, "../etc/passwd", 10, "")
        .await;
    assert_eq!(bad_name.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let bad_sum = lib
        .create(
            &lib.app.client,
            lib.lab,
            "a",
            10,
            &format!("sha256 {}", b64("xyz")),
        )
        .await;
    assert_eq!(bad_sum.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let no_length = lib
        .app
        .client
        .post(lib.app.url("/uploads"))
        .header("Tus-Resumable", "1.0.0")
        .send()
        .await
        .unwrap();
    assert_eq!(no_length.status(), StatusCode::BAD_REQUEST);
    let old_version = lib
        .app
        .client
        .post(lib.app.url("/uploads"))
        .header("Tus-Resumable", "0.2.2")
        .header("Upload-Length", "10")
        .send()
        .await
        .unwrap();
    assert_eq!(old_version.status(), StatusCode::PRECONDITION_FAILED);
    assert_eq!(old_version.headers()["tus-version"], "1.0.0");
    let bad_metadata = lib
        .app
        .client
        .post(lib.app.url("/uploads"))
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Length", "10")
        .header("Upload-Metadata", "name !!!")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_metadata.status(), StatusCode::BAD_REQUEST);

    let url = lib.start("a", 10, "").await;
    let taken = lib.create(&lib.app.client, lib.lab, "a", 10, "").await;
    assert_eq!(taken.status(), StatusCode::CONFLICT);
    let form = lib
        .app
        .client
        .patch(&url)
        .header("Tus-Resumable", "1.0.0")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header("Upload-Offset", "0")
        .body("a=b")
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let too_long = lib.patch(&url, 0, vec![0u8; 11]).await;
    assert_eq!(too_long.status(), StatusCode::BAD_REQUEST);
    // The 10 bytes that fitted made the file (a tus client takes offset == length as
    // done); the answer says the rest was dropped.
    assert!(
        json(too_long).await["Invalid"]["message"]
            .as_str()
            .unwrap()
            .contains("past the length")
    );
    assert_eq!(lib.offset(&url).await.status(), StatusCode::NOT_FOUND);
    let listing = lib.listing().await;
    assert_eq!(
        (
            listing["files"][0]["name"].as_str(),
            listing["files"][0]["size"].as_u64()
        ),
        (Some("a"), Some(10))
    );
    let options = lib
        .app
        .client
        .request(reqwest::Method::OPTIONS, lib.app.url("/uploads"))
        .send()
        .await
        .unwrap();
    assert_eq!(options.headers()["tus-extension"], "creation,termination");
}

#[tokio::test]
async fn uploads_are_for_the_organizations_admins_only() {
    let lib = library().await;
    let url = lib.start("mine.iso", 10, "").await;
    for (name, expected) in [
        ("bob", StatusCode::FORBIDDEN),
        ("eve", StatusCode::FORBIDDEN),
    ] {
        let other = lib.signed_in(name).await;
        let create = lib.create(&other, lib.lab, "theirs.iso", 10, "").await;
        assert_eq!(create.status(), expected, "{name}");
        // Someone else's upload is not found, whatever they try.
        let head = other
            .head(&url)
            .header("Tus-Resumable", "1.0.0")
            .send()
            .await
            .unwrap();
        assert_eq!(head.status(), StatusCode::NOT_FOUND, "{name}");
        let delete = other
            .delete(&url)
            .header("Tus-Resumable", "1.0.0")
            .send()
            .await
            .unwrap();
        assert_eq!(delete.status(), StatusCode::NOT_FOUND, "{name}");
    }
    let anonymous = lib.create(&client(), lib.lab, "anon.iso", 10, "").await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    // Eve administers another organization, not this one.
    let eve = lib.signed_in("eve").await;
    assert_eq!(
        lib.create(&eve, lib.other, "hers.iso", 10, "")
            .await
            .status(),
        StatusCode::CREATED
    );
}

/// A GET of `url` with extra headers.
async fn get(client: &reqwest::Client, url: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = client.get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn ranges_are_served_as_rfc_9110_says() {
    let lib = library().await;
    let bytes = content(10_000);
    let url = lib.upload("disk.iso", &bytes, "").await;
    let etag = format!("\"{}\"", sha256(&bytes));
    let client = &lib.app.client;

    for (range, start, end) in [
        ("bytes=0-99", 0, 99),
        ("bytes=5000-5999", 5000, 5999),
        ("bytes=9990-", 9990, 9999),
        ("bytes=-10", 9990, 9999),
        ("bytes=9000-20000", 9000, 9999),
        ("bytes=-20000", 0, 9999),
    ] {
        let response = get(client, &url, &[("Range", range)]).await;
        assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT, "{range}");
        assert_eq!(
            response.headers()[header::CONTENT_RANGE],
            format!("bytes {start}-{end}/10000"),
            "{range}"
        );
        assert_eq!(
            response.headers()[header::CONTENT_LENGTH],
            (end - start + 1).to_string()
        );
        assert_eq!(
            response.bytes().await.unwrap().as_ref(),
            &bytes[start..=end],
            "{range}"
        );
    }
    let outside = get(client, &url, &[("Range", "bytes=10000-")]).await;
    assert_eq!(outside.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(outside.headers()[header::CONTENT_RANGE], "bytes */10000");
    // Several ranges, or a range of another version: the whole file.
    for headers in [
        vec![("Range", "bytes=0-1,5-6")],
        vec![("Range", "bytes=0-1"), ("If-Range", "\"another\"")],
    ] {
        let response = get(client, &url, &headers).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.bytes().await.unwrap().len(), 10_000);
    }
    let current = get(client, &url, &[("Range", "bytes=0-1"), ("If-Range", &etag)]).await;
    assert_eq!(current.status(), StatusCode::PARTIAL_CONTENT);
    let cached = get(client, &url, &[("If-None-Match", &etag)]).await;
    assert_eq!(cached.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(cached.headers()[header::ETAG], etag);
    let last_modified = current.headers()[header::LAST_MODIFIED]
        .to_str()
        .unwrap()
        .to_owned();
    let since = get(client, &url, &[("If-Modified-Since", &last_modified)]).await;
    assert_eq!(since.status(), StatusCode::NOT_MODIFIED);

    let head = client.head(&url).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(head.headers()[header::CONTENT_LENGTH], "10000");
    assert_eq!(head.headers()[header::ETAG], etag);
    assert!(head.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn files_are_behind_the_organizations_wall_for_browsers_and_boot_clients() {
    let lib = library().await;
    let bytes = content(5000);
    let url = lib.upload("private.iso", &bytes, "").await;
    let path = url.split_once("/files/").unwrap().1.to_owned();
    let boot_url = |token: &str| lib.app.url(&format!("/f/{token}/{path}"));

    // Members' browsers and machines get it.
    let bob = lib.signed_in("bob").await;
    assert_eq!(get(&bob, &url, &[]).await.status(), StatusCode::OK);
    let bobs_machine = lib.boot_token("bob").await;
    let fetched = get(
        &client(),
        &boot_url(&bobs_machine),
        &[("Range", "bytes=0-9")],
    )
    .await;
    assert_eq!(fetched.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(fetched.bytes().await.unwrap().as_ref(), &bytes[..10]);

    // Nobody else: another organization's admin, anonymous, another organization's machine,
    // a made-up token, a wrong name.
    let eve = lib.signed_in("eve").await;
    assert_eq!(get(&eve, &url, &[]).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        get(&client(), &url, &[]).await.status(),
        StatusCode::NOT_FOUND
    );
    let eves_machine = lib.boot_token("eve").await;
    assert_eq!(
        get(&client(), &boot_url(&eves_machine), &[]).await.status(),
        StatusCode::NOT_FOUND
    );
    for token in ["0123456789abcdef0123456789abcdef01234567", "nope"] {
        assert_eq!(
            get(&client(), &boot_url(token), &[]).await.status(),
            StatusCode::FORBIDDEN
        );
    }
    // A server admin's browser may (to help), their machine may not: it boots what their own
    // organizations offer.
    lib.app.create_user("root", PASSWORD, true).await;
    let root = lib.signed_in("root").await;
    assert_eq!(get(&root, &url, &[]).await.status(), StatusCode::OK);
    let roots_machine = lib.boot_token("root").await;
    assert_eq!(
        get(&client(), &boot_url(&roots_machine), &[])
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let renamed = url.replace("private.iso", "other.iso");
    assert_eq!(
        get(&bob, &renamed, &[]).await.status(),
        StatusCode::NOT_FOUND
    );

    // A public file is for anyone.
    let file_id: i32 = path.split('/').next().unwrap().parse().unwrap();
    let public = call_with(
        &lib.app.client,
        &lib.app,
        "set_file_public",
        &[("file_id", &file_id.to_string()), ("public", "true")],
    )
    .await;
    assert_eq!(public.status(), StatusCode::OK);
    let anyone = get(&client(), &url, &[]).await;
    assert_eq!(anyone.status(), StatusCode::OK);
    assert_eq!(anyone.headers()[header::CACHE_CONTROL], "public, no-cache");
}

#[tokio::test]
async fn an_expired_boot_session_gets_no_file() {
    let lib =
        library_on(spawn_app_with(|s| s.boot_token_ttl = std::time::Duration::from_secs(1)).await)
            .await;
    let url = lib.upload("k", b"kernel", "").await;
    let path = url.split_once("/files/").unwrap().1.to_owned();
    let token = lib.boot_token("bob").await;
    let boot_url = lib.app.url(&format!("/f/{token}/{path}"));
    assert_eq!(
        get(&client(), &boot_url, &[]).await.status(),
        StatusCode::OK
    );

    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;

    let late = get(&client(), &boot_url, &[]).await;
    assert_eq!(late.status(), StatusCode::FORBIDDEN);
    assert!(late.text().await.unwrap().contains("boot again"));
}

#[tokio::test]
async fn the_same_bytes_in_two_organizations_are_stored_once_and_counted_in_both() {
    let lib = library().await;
    let bytes = content(50_000);
    lib.upload("shared.iso", &bytes, "").await;
    let eve = lib.signed_in("eve").await;
    let create = lib
        .create(&eve, lib.other, "copy.iso", bytes.len() as u64, "")
        .await;
    let url = lib
        .app
        .url(create.headers()[header::LOCATION].to_str().unwrap());
    let done = eve
        .patch(&url)
        .header("Tus-Resumable", "1.0.0")
        .header(header::CONTENT_TYPE, "application/offset+octet-stream")
        .header("Upload-Offset", "0")
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::NO_CONTENT);

    let blobs = walk(&lib.app.state.settings.files_dir.join("blobs"));
    assert_eq!(blobs, 1);
    assert_eq!(lib.listing().await["used"], 50_000);
    // Deleting one organization's file leaves the other's bytes.
    let id = lib.listing().await["files"][0]["id"].as_i64().unwrap();
    let deleted = call_with(
        &lib.app.client,
        &lib.app,
        "delete_file",
        &[("file_id", &id.to_string())],
    )
    .await;
    assert_eq!(deleted.status(), StatusCode::OK);
    files::sweep(&lib.app.state.db, &lib.app.state.file_store())
        .await
        .unwrap();
    let theirs = eve
        .get(
            lib.app
                .url(done.headers()[header::CONTENT_LOCATION].to_str().unwrap()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(theirs.bytes().await.unwrap().len(), 50_000);
}

fn walk(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            if path.is_dir() { walk(&path) } else { 1 }
        })
        .sum()
}

#[tokio::test]
async fn a_cross_site_page_cannot_write_to_an_upload() {
    let lib = library().await;
    let url = lib.start("x", 10, "").await;
    let response = lib
        .app
        .client
        .patch(&url)
        .header("Origin", "https://evil.example")
        .header("Tus-Resumable", "1.0.0")
        .header(header::CONTENT_TYPE, "application/offset+octet-stream")
        .header("Upload-Offset", "0")
        .body(vec![0u8; 10])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(lib.offset(&url).await.headers()["upload-offset"], "0");
}

#[tokio::test]
async fn pieces_sent_to_two_replicas_make_one_file_with_the_right_checksum() {
    let lib = library().await;
    // A second server on the same database and the same files folder.
    let files_dir = lib.app.state.settings.files_dir.clone();
    let other = crate::helpers::spawn_on(lib.app.database_url.clone(), None, move |s| {
        s.files_dir = files_dir;
    })
    .await;
    let bytes = content(3_000_001);
    let url = lib
        .start(
            "replicas.iso",
            bytes.len() as u64,
            &format!("sha256 {}", b64(&sha256(&bytes))),
        )
        .await;
    let path = url.split_once("/uploads/").unwrap().1.to_owned();
    let other_url = other.url(&format!("/uploads/{path}"));

    // Pieces not on 64-byte boundaries, alternating between the servers.
    let cuts = [0, 1_000_003, 2_000_037, 3_000_001];
    for (i, window) in cuts.windows(2).enumerate() {
        let target = if i % 2 == 0 {
            url.clone()
        } else {
            other_url.clone()
        };
        let response = lib
            .patch(
                &target,
                window[0] as u64,
                bytes[window[0]..window[1]].to_vec(),
            )
            .await;
        assert_eq!(
            response.status(),
            StatusCode::NO_CONTENT,
            "piece {i}: {:?}",
            response.text().await
        );
    }
    let listing = lib.listing().await;
    assert_eq!(listing["files"][0]["sha256"], sha256(&bytes));
}

#[tokio::test]
async fn large_ranges_are_read_ahead_in_pieces_and_come_out_whole() {
    let lib = library().await;
    let bytes = content(3 * 1024 * 1024 + 5);
    let url = lib.upload("big.img", &bytes, "").await;

    for (start, end) in [
        (1_000_001usize, 2_999_999usize),
        (0, bytes.len() - 1),
        (1_048_575, 2_097_152),
    ] {
        let response = get(
            &lib.app.client,
            &url,
            &[("Range", &format!("bytes={start}-{end}"))],
        )
        .await;
        assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
        let body = response.bytes().await.unwrap();
        assert_eq!(body.len(), end - start + 1);
        assert!(body.as_ref() == &bytes[start..=end], "bytes {start}-{end}");
    }
}

#[tokio::test]
async fn a_client_that_stops_reading_is_cut_off_and_gives_its_memory_back() {
    let limits = http::Limits {
        write_stall_timeout: Duration::from_secs(1),
        ..http::Limits::default()
    };
    let lib = library_on(spawn_custom(|_| {}, limits).await).await;
    // Larger than what the sockets of both ends buffer.
    let bytes = content(24 * 1024 * 1024);
    let url = lib.upload("big.iso", &bytes, "").await;
    let path = url.split_once("/files/").unwrap().1.to_owned();
    let token = lib.boot_token("bob").await;

    let mut machine = tokio::net::TcpStream::connect(lib.app.address)
        .await
        .unwrap();
    machine
        .write_all(format!("GET /f/{token}/{path} HTTP/1.1\r\nHost: pxe\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut head = [0u8; 4096];
    let read = machine.read(&mut head).await.unwrap();
    assert!(
        head[..read].starts_with(b"HTTP/1.1 200 OK"),
        "{:?}",
        String::from_utf8_lossy(&head[..read])
    );
    // The machine reads no more: the pieces read ahead for it wait, holding memory...
    let blobs = &lib.app.state.blobs;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(blobs.held() > 0, "pieces wait for the machine");
    // ...until the write-stall timeout closes its connection.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while blobs.held() > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} bytes still held",
            blobs.held()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut rest = Vec::new();
    let _ = machine.read_to_end(&mut rest).await;
    assert!(
        rest.len() < bytes.len(),
        "the connection was closed, not the file sent"
    );

    // A machine that reads gets it all, with the memory given back after.
    let whole = get(
        &lib.app.client,
        &lib.app.url(&format!("/f/{token}/{path}")),
        &[],
    )
    .await;
    assert_eq!(whole.status(), StatusCode::OK);
    assert!(whole.bytes().await.unwrap() == bytes);
    assert_eq!(blobs.held(), 0);
}

/// The file `name` of a listing.
fn file_in(listing: &serde_json::Value, name: &str) -> serde_json::Value {
    listing["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {listing}"))
        .clone()
}

#[tokio::test]
async fn an_uploaded_iso_is_looked_inside_and_said_what_it_is() {
    let lib = library().await;
    let live = make_iso(
        "d-live 12.5.0 gn amd64",
        &[
            ("live/vmlinuz-6.1.0-18-amd64", &content(100_000)),
            ("live/initrd.img-6.1.0-18-amd64", &content(50_000)),
            ("live/filesystem.squashfs", &content(20_000)),
            (
                ".disk/info",
                b"Debian GNU/Linux 12.5.0 \"Bookworm\" - Official amd64 LIVE",
            ),
        ],
    );
    lib.upload("debian-live.iso", &live, "").await;
    let other = make_iso("SOMETHING", &[("readme.txt", b"hello")]);
    lib.upload("something.iso", &other, "").await;
    // ISO-shaped, but its directories are gone.
    let mut broken = other.clone();
    broken.truncate(18 * 2048);
    lib.upload("broken.iso", &broken, "").await;
    lib.upload("kernel", &content(3000), "").await;

    let listing = lib.listing().await;
    let note = |name: &str| file_in(&listing, name)["iso"].clone();
    assert_eq!(note("debian-live.iso")["kind"], "netboot", "{listing}");
    assert!(
        note("debian-live.iso")["distribution"]
            .as_str()
            .unwrap()
            .starts_with("Debian GNU/Linux 12.5.0"),
        "{listing}"
    );
    assert_eq!(note("something.iso")["kind"], "unknown");
    assert!(
        note("something.iso")["why"]
            .as_str()
            .unwrap()
            .contains("sanboot"),
        "{listing}"
    );
    assert_eq!(note("broken.iso")["kind"], "unknown");
    assert!(
        note("broken.iso")["why"]
            .as_str()
            .unwrap()
            .contains("not an ISO 9660 image PXE Cloud can read"),
        "{listing}"
    );
    assert!(note("kernel").is_null(), "not an ISO: nothing said");

    // An ISO not looked inside yet (an older server's upload, say) is pending until the
    // housekeeping reads it; what no file names any more is forgotten.
    use app::server::entities::iso_index;
    use sea_orm::{EntityTrait, PaginatorTrait};
    let db = &lib.app.state.db;
    let store = lib.app.state.file_store();
    iso_index::Entity::delete_by_id(sha256(&live))
        .exec(db)
        .await
        .unwrap();
    let listing = lib.listing().await;
    assert_eq!(
        file_in(&listing, "debian-live.iso")["iso"]["kind"],
        "pending"
    );
    assert_eq!(
        app::server::services::iso::sweep(db, &store).await.unwrap(),
        1
    );
    let listing = lib.listing().await;
    let live_note = &file_in(&listing, "debian-live.iso")["iso"];
    assert_eq!(live_note["kind"], "netboot", "{listing}");
    let something = file_in(&listing, "something.iso")["id"].as_i64().unwrap();
    let deleted = call_with(
        &lib.app.client,
        &lib.app,
        "delete_file",
        &[("file_id", &something.to_string())],
    )
    .await;
    assert_eq!(deleted.status(), StatusCode::OK);
    assert_eq!(iso_index::Entity::find().count(db).await.unwrap(), 3);
    app::server::services::iso::sweep(db, &store).await.unwrap();
    assert_eq!(iso_index::Entity::find().count(db).await.unwrap(), 2);
}

/// A Debian-live-like ISO (the layout `live-boot` has): kernel, initrd and squashfs given.
fn debian_live_iso(kernel: &[u8], initrd: &[u8], squashfs: &[u8]) -> Vec<u8> {
    make_iso(
        "d-live 12.5.0 gn amd64",
        &[
            ("live/vmlinuz-6.1.0-18-amd64", kernel),
            ("live/initrd.img-6.1.0-18-amd64", initrd),
            ("live/filesystem.squashfs", squashfs),
            (
                ".disk/info",
                b"Debian GNU/Linux 12.5.0 \"Bookworm\" - Official amd64 LIVE",
            ),
        ],
    )
}

#[tokio::test]
async fn files_inside_an_iso_are_served_by_path_behind_the_same_wall() {
    let lib = library().await;
    // Over one read piece (256 KiB), so it is streamed.
    let squashfs = content(300_000);
    let live = debian_live_iso(&content(10_000), &content(5_001), &squashfs);
    let url = lib.upload("debian-live.iso", &live, "").await;
    let inside = format!("{url}/tree/live/filesystem.squashfs");
    let ada = &lib.app.client;

    let whole = get(ada, &inside, &[]).await;
    assert_eq!(whole.status(), StatusCode::OK);
    assert_eq!(whole.headers()[header::CONTENT_LENGTH], "300000");
    assert_eq!(whole.headers()[header::ACCEPT_RANGES], "bytes");
    assert_eq!(
        whole.headers()[header::CONTENT_DISPOSITION],
        "attachment; filename=\"filesystem.squashfs\""
    );
    let etag = whole.headers()[header::ETAG].to_str().unwrap().to_owned();
    assert!(etag.starts_with(&format!("\"{}@", sha256(&live))), "{etag}");
    assert_eq!(whole.bytes().await.unwrap().as_ref(), &squashfs[..]);

    let part = get(ada, &inside, &[("Range", "bytes=1000-1999")]).await;
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        part.headers()[header::CONTENT_RANGE],
        "bytes 1000-1999/300000"
    );
    assert_eq!(part.bytes().await.unwrap().as_ref(), &squashfs[1000..2000]);
    let last = get(ada, &inside, &[("Range", "bytes=-10")]).await;
    assert_eq!(last.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(last.bytes().await.unwrap().as_ref(), &squashfs[299_990..]);
    let past = get(ada, &inside, &[("Range", "bytes=300000-")]).await;
    assert_eq!(past.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    let cached = get(ada, &inside, &[("If-None-Match", &etag)]).await;
    assert_eq!(cached.status(), StatusCode::NOT_MODIFIED);
    let head = ada.head(&inside).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(head.headers()[header::CONTENT_LENGTH], "300000");
    // The ISO itself and another file of it keep their own validators.
    let kernel = get(ada, &format!("{url}/tree/live/vmlinuz-6.1.0-18-amd64"), &[]).await;
    assert_ne!(kernel.headers()[header::ETAG].to_str().unwrap(), etag);
    assert_eq!(kernel.bytes().await.unwrap().as_ref(), &content(10_000)[..]);
    // Another case finds the one file of that name (plain ISO 9660 names are capitals).
    let shouted = get(ada, &format!("{url}/tree/LIVE/Filesystem.SQUASHFS"), &[]).await;
    assert_eq!(shouted.status(), StatusCode::OK);

    // What is not there, or not inside an ISO, is not found, and says so.
    let missing = get(ada, &format!("{url}/tree/live/nothing"), &[]).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert!(
        missing
            .text()
            .await
            .unwrap()
            .contains("debian-live.iso holds no file /live/nothing"),
    );
    let folder = get(ada, &format!("{url}/tree/live"), &[]).await;
    assert_eq!(folder.status(), StatusCode::NOT_FOUND);
    let kernel_file = lib.upload("kernel", &content(3000), "").await;
    let not_iso = get(ada, &format!("{kernel_file}/tree/live/vmlinuz"), &[]).await;
    assert_eq!(not_iso.status(), StatusCode::NOT_FOUND);

    // Members' machines by their boot session; nobody else.
    let path = url.split_once("/files/").unwrap().1.to_owned();
    let machine = |token: &str| {
        lib.app
            .url(&format!("/f/{token}/{path}/tree/live/filesystem.squashfs"))
    };
    let bob = lib.boot_token("bob").await;
    let fetched = get(&client(), &machine(&bob), &[("Range", "bytes=0-9")]).await;
    assert_eq!(fetched.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(fetched.bytes().await.unwrap().as_ref(), &squashfs[..10]);
    let eve = lib.boot_token("eve").await;
    assert_eq!(
        get(&client(), &machine(&eve), &[]).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&client(), &machine("nope"), &[]).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        get(&client(), &inside, &[]).await.status(),
        StatusCode::NOT_FOUND
    );
    // A public ISO is public inside too.
    let file_id = path.split('/').next().unwrap().to_owned();
    call_with(
        ada,
        &lib.app,
        "set_file_public",
        &[("file_id", &file_id), ("public", "true")],
    )
    .await;
    assert_eq!(get(&client(), &inside, &[]).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_recognised_iso_becomes_an_image_of_its_kernel_and_initrd() {
    let lib = library().await;
    let (kernel, initrd) = (content(10_000), content(5_001));
    let live = debian_live_iso(&kernel, &initrd, &content(20_000));
    lib.upload("debian-live.iso", &live, "").await;
    let id_of = |listing: &serde_json::Value, name: &str| file_in(listing, name)["id"].to_string();
    let iso = id_of(&lib.listing().await, "debian-live.iso");
    let make = |file_id: String| {
        let lib = &lib;
        async move {
            call_with(
                &lib.app.client,
                &lib.app,
                "create_image_from_iso",
                &[("file_id", &file_id)],
            )
            .await
        }
    };

    let made = make(iso.clone()).await;
    assert_eq!(made.status(), StatusCode::OK);
    let image = json(made).await;
    assert!(
        image["title"]
            .as_str()
            .unwrap()
            .starts_with("Debian GNU/Linux 12.5.0"),
        "{image}"
    );
    assert_eq!(image["kind"], "KernelInitrd");
    assert_eq!(image["kernel_url"], "file:debian-live-kernel");
    assert_eq!(image["image_url"], "file:debian-live-initrd");
    assert_eq!(image["iso_url"], "file:debian-live.iso");
    assert!(
        image["args"]
            .as_array()
            .unwrap()
            .contains(&"fetch={tree}/live/filesystem.squashfs".into()),
        "{image}"
    );
    let listing = lib.listing().await;
    assert_eq!(
        file_in(&listing, "debian-live-kernel")["sha256"],
        sha256(&kernel)
    );
    assert_eq!(
        file_in(&listing, "debian-live-kernel")["content_type"],
        "application/octet-stream"
    );
    assert_eq!(
        file_in(&listing, "debian-live-initrd")["sha256"],
        sha256(&initrd)
    );
    assert_eq!(
        listing["uploads"],
        serde_json::json!([]),
        "none left behind"
    );

    // Once per ISO; and the ISO stays while the image uses it.
    let again = make(iso.clone()).await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert!(
        again
            .text()
            .await
            .unwrap()
            .contains("uses this ISO already")
    );
    let deleted = call_with(
        &lib.app.client,
        &lib.app,
        "delete_file",
        &[("file_id", &iso)],
    )
    .await;
    assert_eq!(deleted.status(), StatusCode::CONFLICT);
    assert!(deleted.text().await.unwrap().contains("Debian GNU/Linux"));

    // Several initrds make one, as a boot loader lays them out: each padded to 4 bytes.
    let (intel, amd, main) = (content(1_001), content(2_002), content(3_003));
    let rescue = make_iso(
        "RESCUE1100",
        &[
            ("sysresccd/boot/intel_ucode.img", &intel),
            ("sysresccd/boot/amd_ucode.img", &amd),
            ("sysresccd/boot/x86_64/vmlinuz", &kernel),
            ("sysresccd/boot/x86_64/sysresccd.img", &main),
            ("sysresccd/x86_64/airootfs.sfs", &content(100)),
        ],
    );
    lib.upload("systemrescue-11.00-amd64.iso", &rescue, "")
        .await;
    let rescue_id = id_of(&lib.listing().await, "systemrescue-11.00-amd64.iso");
    let made = make(rescue_id).await;
    assert_eq!(made.status(), StatusCode::OK);
    let image = json(made).await;
    assert_eq!(image["title"], "SystemRescue (RESCUE1100)");
    let joined = [&intel[..], &[0; 3], &amd, &[0; 2], &main].concat();
    let listing = lib.listing().await;
    let initrd = file_in(&listing, "systemrescue-11.00-amd64-initrd");
    assert_eq!(initrd["sha256"], sha256(&joined));
    assert_eq!(initrd["size"], joined.len());
    // The kernel is the same bytes as Debian's here: stored once more under its own name.
    assert_eq!(
        file_in(&listing, "systemrescue-11.00-amd64-kernel")["sha256"],
        sha256(&kernel)
    );

    // An ISO PXE Cloud does not know, and a file that is no ISO, say why.
    lib.upload(
        "something.iso",
        &make_iso("SOMETHING", &[("a.txt", b"a")]),
        "",
    )
    .await;
    lib.upload("notes.txt", b"not an ISO", "").await;
    let listing = lib.listing().await;
    let unknown = make(id_of(&listing, "something.iso")).await;
    assert_eq!(unknown.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        unknown
            .text()
            .await
            .unwrap()
            .contains("does not know this ISO")
    );
    let text = make(id_of(&listing, "notes.txt")).await;
    assert_eq!(text.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text.text().await.unwrap().contains("is not an ISO image"));

    // Another organization's admin cannot, nor can a member.
    let eve = lib.signed_in("eve").await;
    let foreign = call_with(
        &eve,
        &lib.app,
        "create_image_from_iso",
        &[("file_id", &iso)],
    )
    .await;
    assert_eq!(foreign.status(), StatusCode::FORBIDDEN);
}
