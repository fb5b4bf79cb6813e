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

/// Signs `username` in over iPXE (the POST of the login script) and returns the URL of the
/// first step after it, which carries the new boot token.
async fn boot_token_url(app: &crate::helpers::TestApp, username: &str) -> String {
    let script = crate::boot_flow::sign_in(app, username, PASSWORD)
        .await
        .text;
    let logout = script
        .split_whitespace()
        .find(|w| w.contains("/ipxe/s/") && w.ends_with("/logout"))
        .unwrap_or_else(|| panic!("no boot session in:\n{script}"));
    logout.replace("/logout", "/start")
}

/// Whether a boot-session URL still answers with a step rather than the "expired" notice.
async fn boot_token_works(url: &str) -> bool {
    let script = client()
        .get(url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    !script.contains(&hex_text("Your boot session has expired."))
}

/// How the renderer stores a text: hex bytes separated by colons.
fn hex_text(text: &str) -> String {
    text.bytes()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

async fn signed_in(app: &crate::helpers::TestApp, client: &reqwest::Client) -> bool {
    let me = call_with(client, app, "current_user", &[]).await;
    json(me).await != serde_json::Value::Null
}

#[tokio::test]
async fn a_password_reset_ends_the_users_web_sessions_and_boot_tokens() {
    let app = spawn_app().await;
    app.create_user("root", PASSWORD, true).await;
    let alice = app.create_user("alice", PASSWORD, false).await;
    app.create_organization("Lab", &[("alice", app::model::Role::Member)])
        .await;
    let thief = client();
    let login = call_with(
        &thief,
        &app,
        "login",
        &[("username", "alice"), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(login.status(), StatusCode::OK);
    let token = boot_token_url(&app, "alice").await;
    assert!(signed_in(&app, &thief).await);
    assert!(boot_token_works(&token).await);

    app.login("root", PASSWORD).await;
    let reset = app
        .call(
            "reset_password",
            &[
                ("user_id", &alice.to_string()),
                ("password", "a brand new secret"),
            ],
        )
        .await;

    assert_eq!(reset.status(), StatusCode::OK);
    assert!(!signed_in(&app, &thief).await);
    assert!(!boot_token_works(&token).await);
}

#[tokio::test]
async fn changing_ones_own_password_keeps_this_session_and_ends_the_others() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    app.create_organization("Lab", &[("alice", app::model::Role::Member)])
        .await;
    let other = client();
    call_with(
        &other,
        &app,
        "login",
        &[("username", "alice"), ("password", PASSWORD)],
    )
    .await;
    let token = boot_token_url(&app, "alice").await;
    app.login("alice", PASSWORD).await;

    let changed = app
        .call(
            "change_password",
            &[
                ("current", PASSWORD),
                ("new", "a brand new secret"),
                ("confirm", "a brand new secret"),
            ],
        )
        .await;

    assert_eq!(changed.status(), StatusCode::OK);
    assert!(signed_in(&app, &app.client).await);
    assert!(!signed_in(&app, &other).await);
    assert!(!boot_token_works(&token).await);
}

#[tokio::test]
async fn web_session_ids_are_stored_hashed() {
    use sea_orm::EntityTrait;
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let response = app
        .call("login", &[("username", "alice"), ("password", PASSWORD)])
        .await;
    let cookie = session_cookie(&response).unwrap();
    let id = cookie
        .split(';')
        .next()
        .and_then(|pair| pair.split_once('='))
        .map(|(_, value)| value.to_owned())
        .unwrap();

    let rows = app::server::entities::web_session::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap();

    assert_eq!(rows.len(), 1);
    assert_ne!(rows[0].id, id);
    assert!(!rows[0].data.contains(&id));
    assert!(signed_in(&app, &app.client).await);
}
