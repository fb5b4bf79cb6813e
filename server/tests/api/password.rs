//! Changing one's own password.

use crate::helpers::{call_with, client, json, spawn_app};
use reqwest::StatusCode;

const OLD: &str = "correct horse battery";
const NEW: &str = "a & b % c staple";

async fn change(
    app: &crate::helpers::TestApp,
    current: &str,
    new: &str,
    confirm: &str,
) -> reqwest::Response {
    app.call(
        "change_password",
        &[("current", current), ("new", new), ("confirm", confirm)],
    )
    .await
}

#[tokio::test]
async fn a_user_changes_their_password_and_only_the_new_one_works() {
    let app = spawn_app().await;
    app.create_user("alice", OLD, false).await;
    app.login("alice", OLD).await;

    let response = change(&app, OLD, NEW, NEW).await;
    assert_eq!(response.status(), StatusCode::OK);

    let fresh = client();
    let old = call_with(
        &fresh,
        &app,
        "login",
        &[("username", "alice"), ("password", OLD)],
    )
    .await;
    assert_eq!(old.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let new = call_with(
        &fresh,
        &app,
        "login",
        &[("username", "alice"), ("password", NEW)],
    )
    .await;
    assert_eq!(new.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_wrong_current_password_is_named() {
    let app = spawn_app().await;
    app.create_user("alice", OLD, false).await;
    app.login("alice", OLD).await;

    let body = json(change(&app, "not it at all", NEW, NEW).await).await;

    assert_eq!(body["Invalid"]["field"], "current");
}

#[tokio::test]
async fn a_short_or_unconfirmed_new_password_is_named() {
    let app = spawn_app().await;
    app.create_user("alice", OLD, false).await;
    app.login("alice", OLD).await;

    let short = json(change(&app, OLD, "short", "short").await).await;
    let mismatch = json(change(&app, OLD, NEW, "something else").await).await;
    let same = json(change(&app, OLD, OLD, OLD).await).await;

    assert_eq!(short["Invalid"]["field"], "new");
    assert_eq!(mismatch["Invalid"]["field"], "confirm");
    assert_eq!(same["Invalid"]["field"], "new");
}

#[tokio::test]
async fn changing_a_password_needs_a_session() {
    let app = spawn_app().await;

    let response = change(&app, OLD, NEW, NEW).await;

    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(json(response).await, serde_json::json!("Unauthenticated"));
}
