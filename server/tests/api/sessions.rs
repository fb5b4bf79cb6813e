//! Web sessions: cookies, id cycling, logout, restarts.

use crate::helpers::{call_with, client, json, session_cookie, spawn_app, spawn_on};
use reqwest::{StatusCode, header};

const PASSWORD: &str = "correct horse battery";

#[tokio::test]
async fn the_session_cookie_is_http_only_and_same_site_lax_but_not_secure_over_http() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;

    let response = app
        .call("login", &[("username", "alice"), ("password", PASSWORD)])
        .await;

    let cookie = session_cookie(&response).expect("a session cookie");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(!cookie.contains("Secure"), "{cookie}");
}

#[tokio::test]
async fn cookies_are_secure_when_the_public_url_is_https() {
    let app = crate::helpers::spawn_app_with(|s| s.secure_cookies = true).await;
    app.create_user("alice", PASSWORD, false).await;

    let response = app
        .call("login", &[("username", "alice"), ("password", PASSWORD)])
        .await;

    assert!(session_cookie(&response).unwrap().contains("Secure"));
}

#[tokio::test]
async fn signing_in_again_gives_a_new_session_id_and_the_old_one_stops_working() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let first = app
        .call("login", &[("username", "alice"), ("password", PASSWORD)])
        .await;
    let first_cookie = session_cookie(&first).unwrap();
    let first_value = first_cookie.split(';').next().unwrap().to_owned();

    let second = app
        .call("login", &[("username", "alice"), ("password", PASSWORD)])
        .await;
    let second_value = session_cookie(&second)
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();

    assert_ne!(first_value, second_value);
    let stale = client()
        .post(app.url("/api/current_user"))
        .header(header::COOKIE, first_value)
        .send()
        .await
        .unwrap();
    assert_eq!(json(stale).await, serde_json::Value::Null);
}

#[tokio::test]
async fn logout_ends_the_session_for_good() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let login = app
        .call("login", &[("username", "alice"), ("password", PASSWORD)])
        .await;
    let value = session_cookie(&login)
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();

    let logout = app.call("logout", &[]).await;
    assert_eq!(logout.status(), StatusCode::OK);

    let replayed = client()
        .post(app.url("/api/current_user"))
        .header(header::COOKIE, value)
        .send()
        .await
        .unwrap();
    assert_eq!(json(replayed).await, serde_json::Value::Null);
    assert_eq!(
        json(app.call("current_user", &[]).await).await,
        serde_json::Value::Null
    );
}

#[tokio::test]
async fn a_session_survives_a_restart_of_the_server() {
    let first = spawn_app().await;
    first.create_user("alice", PASSWORD, false).await;
    first.login("alice", PASSWORD).await;

    let second = spawn_on(first.database_url.clone(), None, |_| {}).await;
    // The same cookie jar, sent to the new process (cookies are per host, not port).
    let response = call_with(&first.client, &second, "current_user", &[]).await;

    assert_eq!(json(response).await["username"], "alice");
}

#[tokio::test]
async fn a_forged_session_cookie_is_ignored() {
    let app = spawn_app().await;

    let response = client()
        .post(app.url("/api/current_user"))
        .header(header::COOKIE, "pxecloud_session=AAAAAAAAAAAAAAAAAAAAAA")
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(json(response).await, serde_json::Value::Null);
}
