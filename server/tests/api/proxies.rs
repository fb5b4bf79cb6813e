//! Client addresses behind proxies, and sign-in throttling that one attacker cannot turn
//! against a user at another address.

use crate::{
    helpers::{TestApp, json, spawn_app_with},
    ipxe_client::Screen,
};
use app::server::{entities::boot_token, net::Network};
use reqwest::{StatusCode, header};
use sea_orm::EntityTrait;
use std::time::{Duration, Instant};

const PASSWORD: &str = "correct horse battery";
const CLIENT: &str = "mac=52-54-00-12-34-56&platform=pcbios&arch=x86_64";

async fn behind_a_proxy() -> TestApp {
    let app = spawn_app_with(|settings| {
        settings.trusted_proxies = vec![Network::parse("127.0.0.1").unwrap()];
        settings.max_backoff = Duration::from_secs(1);
    })
    .await;
    app.create_user("alice", PASSWORD, false).await;
    app
}

/// A browser at `address` (as the proxy names it) signing in.
async fn login_from(app: &TestApp, address: &str, password: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(app.url("/api/login"))
        .header(header::ACCEPT, "application/json")
        .header("x-forwarded-for", format!("{address}, 127.0.0.1"))
        .form(&[("username", "alice"), ("password", password)])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn forwarding_headers_from_a_peer_that_is_not_a_trusted_proxy_are_ignored() {
    let app = spawn_app_with(|_| {}).await;
    app.create_user("alice", PASSWORD, false).await;

    for i in 0..5 {
        let wrong = login_from(&app, &format!("10.0.0.{i}"), "wrong password").await;
        assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    // Every attempt came from 127.0.0.1, whatever the header said: that address is done.
    let refused = login_from(&app, "10.0.0.99", PASSWORD).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn an_attacker_at_one_address_cannot_lock_out_a_user_at_another() {
    let app = behind_a_proxy().await;

    for _ in 0..5 {
        let wrong = login_from(&app, "198.51.100.66", "wrong password").await;
        assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    let attacker = login_from(&app, "198.51.100.66", PASSWORD).await;
    let user = login_from(&app, "192.0.2.10", PASSWORD).await;

    assert_eq!(attacker.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(json(attacker).await["RateLimited"]["retry_after_secs"].as_u64() > Some(0));
    assert_eq!(
        user.status(),
        StatusCode::OK,
        "the user's own address still works"
    );
}

#[tokio::test]
async fn guesses_from_twenty_machines_slow_down_but_do_not_lock_out_a_twenty_first() {
    let app = behind_a_proxy().await;

    for i in 1..=20 {
        let wrong = login_from(&app, &format!("198.51.100.{i}"), "wrong password").await;
        assert_eq!(
            wrong.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "guess {i}"
        );
    }
    let started = Instant::now();
    let user = login_from(&app, "192.0.2.21", PASSWORD).await;

    assert_eq!(user.status(), StatusCode::OK);
    // Past the free failures, every attempt for the username waits (here at most 1 s).
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_boot_token_is_bound_to_the_address_the_proxy_names() {
    let app = spawn_app_with(|settings| {
        settings.trusted_proxies = vec![Network::parse("127.0.0.0/8").unwrap()];
    })
    .await;
    let lab = crate::boot_flow::lab_with(app).await;
    let app = &lab.app;
    let at = |address: &'static str| {
        reqwest::Client::builder()
            .default_headers(
                [(
                    header::HeaderName::from_static("x-forwarded-for"),
                    header::HeaderValue::from_static(address),
                )]
                .into_iter()
                .collect(),
            )
            .build()
            .unwrap()
    };
    let read = |client: reqwest::Client, url: String| async move {
        Screen::read(&client.get(url).send().await.unwrap().text().await.unwrap())
    };
    let machine = at("10.0.0.5");
    let menu = read(
        machine.clone(),
        app.url(&format!(
            "/ipxe/session?username={}&password={}&{CLIENT}",
            hex::encode("bob"),
            hex::encode(crate::boot_flow::PASSWORD)
        )),
    )
    .await;
    let tokens = boot_token::Entity::find().all(&app.state.db).await.unwrap();
    assert_eq!(tokens.len(), 1, "{}", menu.text);
    assert_eq!(tokens[0].client_ip.as_deref(), Some("10.0.0.5"));
    let choice = menu.pick("Debian installer");

    let elsewhere = read(at("10.0.0.6"), choice.clone()).await;
    let same = read(machine, choice).await;

    assert!(
        elsewhere.messages()[0].contains("expired"),
        "{}",
        elsewhere.text
    );
    assert!(same.runs("kernel"), "{}", same.text);
}
