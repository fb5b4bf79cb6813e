//! Changing one's own password.

use crate::helpers::{call_with, client, json, spawn_app};
use reqwest::StatusCode;
use sea_orm::{EntityTrait, PaginatorTrait};

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

/// A first-start admin, with the password file the server wrote for it.
async fn first_start_admin() -> (crate::helpers::TestApp, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("first-admin-password");
    let app = crate::helpers::spawn_app_with(|settings| {
        settings.first_password_file = Some(file.clone());
    })
    .await;
    let password =
        app::server::services::accounts::ensure_first_admin(&app.state.db, &app.state.hasher)
            .await
            .unwrap()
            .expect("the first admin is made");
    std::fs::write(&file, &password).unwrap();
    (app, password, dir)
}

#[tokio::test]
async fn the_first_start_admin_must_choose_a_password_before_anything_else() {
    let (app, password, dir) = first_start_admin().await;
    app.login("admin", &password).await;

    let me = json(app.call("current_user", &[]).await).await;
    assert_eq!(me["must_change_password"], true);
    let before = app.call("users", &[("filter", ""), ("page", "0")]).await;
    assert_eq!(before.status(), StatusCode::FORBIDDEN);
    assert_eq!(json(before).await, "PasswordChangeRequired");

    let changed = change(&app, &password, NEW, NEW).await;
    assert_eq!(changed.status(), StatusCode::OK);

    let after = app.call("users", &[("filter", ""), ("page", "0")]).await;
    assert_eq!(after.status(), StatusCode::OK);
    let me = json(app.call("current_user", &[]).await).await;
    assert_eq!(me["must_change_password"], false);
    assert!(
        !dir.path().join("first-admin-password").exists(),
        "the password file is deleted once replaced"
    );
}

#[tokio::test]
async fn the_first_start_password_does_not_boot_a_machine() {
    let (app, password, _dir) = first_start_admin().await;

    let screen = crate::boot_flow::sign_in(&app, "admin", &password).await;

    assert_eq!(
        screen.messages()[0],
        "Choose a new password in the web app first, then sign in here."
    );
    assert_eq!(
        app::server::entities::boot_token::Entity::find()
            .count(&app.state.db)
            .await
            .unwrap(),
        0,
        "no boot session was started"
    );
}
