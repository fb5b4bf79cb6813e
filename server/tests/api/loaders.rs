//! The iPXE loaders over HTTP, as UEFI HTTP Boot firmware fetches them.

use crate::helpers::{LOADER, spawn_app};
use reqwest::{StatusCode, header};

#[tokio::test]
async fn a_loader_is_served_whole_with_its_length() {
    let app = spawn_app().await;

    let response = app
        .client
        .get(app.url("/loaders/snponly.efi"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/efi");
    assert_eq!(
        response.headers()[header::CONTENT_LENGTH],
        LOADER.len().to_string()
    );
    assert_eq!(response.bytes().await.unwrap(), LOADER);

    let head = app
        .client
        .head(app.url("/loaders/snponly.efi"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(
        head.headers()[header::CONTENT_LENGTH],
        LOADER.len().to_string()
    );
}

#[tokio::test]
async fn only_loaders_are_served_and_a_miss_says_what_exists() {
    let app = spawn_app().await;
    for path in [
        "/loaders/undionly.kpxe",
        "/loaders/not-a-loader",
        "/loaders/autoexec.ipxe",
        "/loaders/..%2F..%2Fetc%2Fpasswd",
        "/loaders/%2Fetc%2Fpasswd",
    ] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        let text = response.text().await.unwrap();
        assert!(
            text.contains("this server has: snponly.efi."),
            "{path}: {text}"
        );
    }
    let deeper = app
        .client
        .get(app.url("/loaders/a/snponly.efi"))
        .send()
        .await
        .unwrap();
    assert_eq!(deeper.status(), StatusCode::NOT_FOUND);
}
