//! Embedded assets: types, caching, precompression.

use crate::helpers::spawn_app;
use reqwest::{StatusCode, header};

/// The test command builds the front end first; plain `cargo test` may not have.
fn site_required() -> bool {
    let present = server::http::assets::front_end_present();
    if !present && std::env::var_os("PXECLOUD_REQUIRE_SITE").is_some() {
        panic!("the front end is not built: run `cargo leptos build` first");
    }
    present
}

#[tokio::test]
async fn the_favicon_is_served_with_its_type() {
    let app = spawn_app().await;

    let response = app
        .client
        .get(app.url("/favicon.ico"))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "image/x-icon");
}

#[tokio::test]
async fn hashed_front_end_files_are_cached_forever_and_precompressed() {
    if !site_required() {
        return;
    }
    let app = spawn_app().await;
    let name = server::http::assets::hashed_output_name();
    let page = app
        .client
        .get(app.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(&format!("/pkg/{name}.wasm")), "{page}");

    for (ext, mime) in [
        ("wasm", "application/wasm"),
        ("js", "text/javascript"),
        ("css", "text/css"),
    ] {
        let response = app
            .client
            .get(app.url(&format!("/pkg/{name}.{ext}")))
            .header(header::ACCEPT_ENCODING, "gzip, br")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{ext}");
        assert_eq!(response.headers()[header::CONTENT_TYPE], mime, "{ext}");
        assert_eq!(
            response.headers()[header::CACHE_CONTROL],
            "public, max-age=31536000, immutable"
        );
        assert_eq!(response.headers()[header::CONTENT_ENCODING], "br", "{ext}");
    }
}

#[tokio::test]
async fn a_client_without_compression_gets_the_plain_file() {
    if !site_required() {
        return;
    }
    let app = spawn_app().await;
    let name = server::http::assets::hashed_output_name();

    let response = app
        .client
        .get(app.url(&format!("/pkg/{name}.wasm")))
        .header(header::ACCEPT_ENCODING, "identity")
        .send()
        .await
        .unwrap();

    assert!(response.headers().get(header::CONTENT_ENCODING).is_none());
    let body = response.bytes().await.unwrap();
    assert_eq!(&body[..4], b"\0asm");
}

#[tokio::test]
async fn an_unchanged_file_is_answered_with_not_modified() {
    let app = spawn_app().await;
    let first = app
        .client
        .get(app.url("/favicon.ico"))
        .send()
        .await
        .unwrap();
    let etag = first.headers()[header::ETAG].clone();

    let second = app
        .client
        .get(app.url("/favicon.ico"))
        .header(header::IF_NONE_MATCH, etag)
        .send()
        .await
        .unwrap();

    assert_eq!(second.status(), StatusCode::NOT_MODIFIED);
}
