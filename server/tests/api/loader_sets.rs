//! Loader sets a server admin adds: uploaded whole, served over HTTP (and TFTP) as
//! `<set>/<file>` from the next request on, chosen per architecture, deleted with the
//! architectures falling back to the built-in loader; every bad upload a clear 4xx.

use std::time::Duration;

use crate::helpers::{TestApp, json, spawn_app};
use reqwest::{StatusCode, header, multipart};

const SHIM: &[u8] = b"MZ a stand-in for ipxe-shim.efi";
const IPXE: &[u8] = b"MZ a stand-in for a signed ipxe.efi";

async fn admin() -> TestApp {
    let app = spawn_app().await;
    app.create_user("root", "root password", true).await;
    app.login("root", "root password").await;
    app
}

fn upload(name: &str, files: &[(&str, &[u8])]) -> multipart::Form {
    files.iter().fold(
        multipart::Form::new().text("name", name.to_owned()),
        |form, (file, bytes)| {
            form.part(
                "files",
                multipart::Part::bytes(bytes.to_vec()).file_name(file.to_string()),
            )
        },
    )
}

async fn add(app: &TestApp, form: multipart::Form) -> reqwest::Response {
    app.client
        .post(app.url("/api/add_loader_set"))
        .header(header::ACCEPT, "application/json")
        .multipart(form)
        .send()
        .await
        .unwrap()
}

/// What `/loaders/<path>` answers, once the server has caught up (it reloads at once, in
/// the background).
async fn served(app: &TestApp, path: &str, expected: StatusCode) -> Vec<u8> {
    for _ in 0..100 {
        let response = app
            .client
            .get(app.url(&format!("/loaders/{path}")))
            .send()
            .await
            .unwrap();
        if response.status() == expected {
            return response.bytes().await.unwrap().to_vec();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("/loaders/{path} never answered {expected}");
}

async fn overview(app: &TestApp) -> serde_json::Value {
    json(app.call("network_boot", &[("address", "10.0.0.2")]).await).await
}

#[tokio::test]
async fn a_set_is_uploaded_served_chosen_for_an_architecture_and_deleted() {
    let app = admin().await;
    let response = add(
        &app,
        upload(
            "secure-boot",
            &[("ipxe-shim.efi", SHIM), ("ipxe.efi", IPXE)],
        ),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let id = json(response).await.as_i64().unwrap();
    assert_eq!(
        served(&app, "secure-boot/ipxe-shim.efi", StatusCode::OK).await,
        SHIM
    );
    assert_eq!(
        served(&app, "secure-boot/ipxe.efi", StatusCode::OK).await,
        IPXE
    );

    let body = overview(&app).await;
    let set = &body["loader_sets"][0];
    assert_eq!(set["name"], "secure-boot");
    assert_eq!(set["created_by"], "root");
    let shim = set["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "ipxe-shim.efi")
        .unwrap();
    assert_eq!(shim["size"], SHIM.len());
    use sha2::Digest;
    assert_eq!(shim["sha256"], hex::encode(sha2::Sha256::digest(SHIM)));

    // x86-64 UEFI gets the shim instead of the built-in snponly.efi.
    let chose = app
        .call(
            "choose_loader",
            &[
                ("arch", "x64-uefi"),
                ("loader", "secure-boot/ipxe-shim.efi"),
            ],
        )
        .await;
    assert_eq!(chose.status(), StatusCode::OK);
    let body = overview(&app).await;
    let choice = body["loader_choices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["arch"] == "X64Uefi")
        .unwrap()
        .clone();
    assert_eq!(choice["chosen"], "secure-boot/ipxe-shim.efi");
    // The DHCP configuration the page writes names it too.
    let dnsmasq = body["snippets"][0]["text"].as_str().unwrap();
    assert!(
        dnsmasq.contains("tag:pxecloud-efi64,secure-boot/ipxe-shim.efi,,10.0.0.2"),
        "{dnsmasq}"
    );
    let files = body["loader_sets"][0]["files"].as_array().unwrap();
    let shim = files.iter().find(|f| f["name"] == "ipxe-shim.efi").unwrap();
    assert_eq!(shim["used_for"], serde_json::json!(["x86-64 UEFI"]));
    let mut builtin_used = serde_json::Value::Null;
    for _ in 0..100 {
        builtin_used = overview(&app).await["loaders"][0]["used_for"].clone();
        if builtin_used == serde_json::json!([]) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        builtin_used,
        serde_json::json!([]),
        "snponly.efi is no longer offered"
    );

    // Back to the built-in loader, then the set goes.
    let back = app
        .call("choose_loader", &[("arch", "x64-uefi"), ("loader", "")])
        .await;
    assert_eq!(back.status(), StatusCode::OK);
    app.call(
        "choose_loader",
        &[("arch", "bios"), ("loader", "secure-boot/ipxe.efi")],
    )
    .await;
    let deleted = app
        .call("delete_loader_set", &[("set_id", &id.to_string())])
        .await;
    assert_eq!(deleted.status(), StatusCode::OK);
    served(&app, "secure-boot/ipxe-shim.efi", StatusCode::NOT_FOUND).await;
    let body = overview(&app).await;
    assert_eq!(body["loader_sets"], serde_json::json!([]));
    assert!(
        body["loader_choices"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["chosen"].is_null()),
        "{body}"
    );
    let again = app
        .call("delete_loader_set", &[("set_id", &id.to_string())])
        .await;
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_uploads_and_choices_are_clear_client_errors() {
    let app = admin().await;
    let field_error = async |response: reqwest::Response, status: StatusCode, field: &str| {
        let actual = response.status();
        let body = json(response).await;
        assert_eq!(actual, status, "{body}");
        let kind = if status == StatusCode::CONFLICT {
            "Conflict"
        } else {
            "Invalid"
        };
        assert_eq!(body[kind]["field"], field, "{body}");
        body
    };
    for name in ["", "Secure Boot", "../x", &"a".repeat(40)] {
        field_error(
            add(&app, upload(name, &[("a.efi", SHIM)])).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "name",
        )
        .await;
    }
    field_error(
        add(&app, upload("empty", &[])).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "files",
    )
    .await;
    for bad in [
        ("../a.efi", SHIM),
        (".a", SHIM),
        ("a b.efi", SHIM),
        ("zero.efi", &b""[..]),
    ] {
        field_error(
            add(&app, upload("bad", &[bad])).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "files",
        )
        .await;
    }
    field_error(
        add(&app, upload("twice", &[("a.efi", SHIM), ("a.efi", IPXE)])).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "files",
    )
    .await;
    let big = vec![1u8; 16 * 1024 * 1024 + 1];
    let body = field_error(
        add(&app, upload("big", &[("big.efi", &big)])).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "files",
    )
    .await;
    assert!(body.to_string().contains("16 MiB"), "{body}");
    let many: Vec<(String, &[u8])> = (0..17).map(|i| (format!("f{i}.efi"), SHIM)).collect();
    let many: Vec<(&str, &[u8])> = many.iter().map(|(n, b)| (n.as_str(), *b)).collect();
    field_error(
        add(&app, upload("many", &many)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "files",
    )
    .await;
    // Nothing was stored by any of them.
    assert_eq!(overview(&app).await["loader_sets"], serde_json::json!([]));

    assert_eq!(
        add(&app, upload("one", &[("a.efi", SHIM)])).await.status(),
        StatusCode::OK
    );
    field_error(
        add(&app, upload("one", &[("b.efi", SHIM)])).await,
        StatusCode::CONFLICT,
        "name",
    )
    .await;

    // Not multipart: refused before the server-function layer, which cannot read it.
    for (content_type, status) in [
        (
            "application/x-www-form-urlencoded",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        ("multipart/form-data", StatusCode::UNSUPPORTED_MEDIA_TYPE),
        // An empty boundary parses; the body then does not.
        (
            "multipart/form-data; boundary=",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        let response = app
            .client
            .post(app.url("/api/add_loader_set"))
            .header(header::CONTENT_TYPE, content_type)
            .body("name=x")
            .send()
            .await
            .unwrap();
        field_error(response, status, "files").await;
    }
    // A body cut off in the middle of a part.
    let cut = app
        .client
        .post(app.url("/api/add_loader_set"))
        .header(header::CONTENT_TYPE, "multipart/form-data; boundary=XYZ")
        .body(
            "--XYZ\r\nContent-Disposition: form-data; name=\"files\"; filename=\"a.efi\"\r\n\r\nMZ",
        )
        .send()
        .await
        .unwrap();
    field_error(cut, StatusCode::UNPROCESSABLE_ENTITY, "files").await;

    for (arch, loader, field) in [
        ("x86", "", "arch"),
        ("bios", "one/nope.efi", "loader"),
        ("bios", "nope", "loader"),
        ("bios", "nope/a.efi", "loader"),
    ] {
        let response = app
            .call("choose_loader", &[("arch", arch), ("loader", loader)])
            .await;
        field_error(response, StatusCode::UNPROCESSABLE_ENTITY, field).await;
    }
}

#[tokio::test]
async fn a_non_admin_is_refused_before_the_arguments_are_read() {
    let app = spawn_app().await;
    app.create_user("bob", "bob password", false).await;
    app.login("bob", "bob password").await;
    let response = app
        .call("choose_loader", &[("arch", "x86"), ("loader", "")])
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = add(&app, upload("Not A Name", &[])).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn long_names_reserved_names_and_endless_bodies_are_refused_without_harm() {
    let app = admin().await;
    // 127 bytes, then a two-byte character across the 128th: cut nowhere, refused.
    let name = format!("{}é{}", "a".repeat(127), "b".repeat(50));
    let response = add(&app, upload(&name, &[("a.efi", SHIM)])).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(json(response).await["Invalid"]["field"], "name");
    let response = add(&app, upload("mine", &[("autoexec.ipxe", b"#!ipxe")])).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // A body without a length, longer than any upload may be, in a part the server skips:
    // cut off at the limit, not read forever.
    let login = crate::helpers::call_with(
        &crate::helpers::client(),
        &app,
        "login",
        &[("username", "root"), ("password", "root password")],
    )
    .await;
    let cookie = crate::helpers::session_cookie(&login).unwrap();
    let cookie = cookie.split(';').next().unwrap();
    let mut stream = tokio::net::TcpStream::connect(app.address).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let head = format!(
        "POST /api/add_loader_set HTTP/1.1\r\nHost: {}\r\nCookie: {cookie}\r\n\
         Accept: application/json\r\nContent-Type: multipart/form-data; boundary=XYZ\r\n\
         Transfer-Encoding: chunked\r\n\r\n",
        app.address
    );
    let part = b"--XYZ\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\n";
    let mut sent = stream.write_all(head.as_bytes()).await.is_ok()
        && stream
            .write_all(format!("{:x}\r\n", part.len()).as_bytes())
            .await
            .is_ok()
        && stream.write_all(part).await.is_ok()
        && stream.write_all(b"\r\n").await.is_ok();
    let chunk = vec![b'x'; 1024 * 1024];
    // 200 MiB is offered; the server stops reading at 64 MiB and answers.
    let mut chunks = 0;
    while sent && chunks < 200 {
        sent = stream.write_all(b"100000\r\n").await.is_ok()
            && stream.write_all(&chunk).await.is_ok()
            && stream.write_all(b"\r\n").await.is_ok();
        chunks += 1;
    }
    assert!(
        !sent && chunks < 200,
        "the server read {chunks} MiB of a skipped part"
    );
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    // The answer is a field error, unless the connection was reset before it was read.
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 422"),
        "{}",
        answer.lines().next().unwrap_or_default()
    );
    // The server is fine, and stored nothing.
    assert_eq!(overview(&app).await["loader_sets"], serde_json::json!([]));
}

#[tokio::test]
async fn two_admins_choosing_at_once_both_succeed() {
    let app = admin().await;
    let response = add(&app, upload("sb", &[("a.efi", SHIM), ("b.efi", IPXE)])).await;
    assert_eq!(response.status(), StatusCode::OK);
    let (a, b) = tokio::join!(
        app.call(
            "choose_loader",
            &[("arch", "x64-uefi"), ("loader", "sb/a.efi")]
        ),
        app.call(
            "choose_loader",
            &[("arch", "x64-uefi"), ("loader", "sb/b.efi")]
        ),
    );
    assert_eq!((a.status(), b.status()), (StatusCode::OK, StatusCode::OK));
    let body = overview(&app).await;
    let chosen = body["loader_choices"][1]["chosen"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(chosen == "sb/a.efi" || chosen == "sb/b.efi", "{chosen}");
}
