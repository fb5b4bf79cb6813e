//! Signing in: the right password, the wrong ones, and throttling.

use crate::helpers::{call_with, client, json, spawn_app, spawn_app_with};
use reqwest::StatusCode;

const PASSWORD: &str = "correct horse battery";

#[tokio::test]
async fn login_with_the_right_password_signs_the_user_in() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;

    app.login("Alice", PASSWORD).await;

    let me = json(app.call("current_user", &[]).await).await;
    assert_eq!(me["username"], "alice");
    assert_eq!(me["is_server_admin"], false);
}

#[tokio::test]
async fn login_with_a_wrong_password_is_refused_with_the_generic_message() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;

    let response = app
        .call(
            "login",
            &[("username", "alice"), ("password", "wrong password")],
        )
        .await;

    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = json(response).await;
    assert_eq!(body["Invalid"]["message"], "Invalid username or password.");
    assert_eq!(
        json(app.call("current_user", &[]).await).await,
        serde_json::Value::Null
    );
}

#[tokio::test]
async fn an_unknown_user_gets_the_same_answer_as_a_wrong_password() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;

    let unknown = app
        .call("login", &[("username", "mallory"), ("password", PASSWORD)])
        .await;
    let wrong = app
        .call("login", &[("username", "alice"), ("password", "nope nope")])
        .await;

    assert_eq!(unknown.status(), wrong.status());
    assert_eq!(json(unknown).await, json(wrong).await);
}

#[tokio::test]
async fn a_disabled_user_cannot_sign_in() {
    use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};
    let app = spawn_app().await;
    let id = app.create_user("alice", PASSWORD, false).await;
    let user = app::server::entities::user::Entity::find_by_id(id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    let mut active: app::server::entities::user::ActiveModel = user.into();
    active.is_disabled = Set(true);
    active.update(&app.state.db).await.unwrap();

    let response = app
        .call("login", &[("username", "alice"), ("password", PASSWORD)])
        .await;

    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn empty_fields_are_named_in_the_error() {
    let app = spawn_app().await;

    let no_name = json(
        app.call("login", &[("username", " "), ("password", "x")])
            .await,
    )
    .await;
    let no_password = json(
        app.call("login", &[("username", "alice"), ("password", "")])
            .await,
    )
    .await;

    assert_eq!(no_name["Invalid"]["field"], "username");
    assert_eq!(no_password["Invalid"]["field"], "password");
}

#[tokio::test]
async fn a_missing_field_is_a_clear_client_error() {
    let app = spawn_app().await;

    let response = app.call("login", &[("username", "alice")]).await;

    assert!(response.status().is_client_error(), "{}", response.status());
}

#[tokio::test]
async fn an_overlong_password_or_username_is_refused_before_any_work() {
    let app = spawn_app().await;
    let long_password = "x".repeat(10_000);
    let long_name = "a".repeat(10_000);

    let password = app
        .call(
            "login",
            &[("username", "alice"), ("password", &long_password)],
        )
        .await;
    let name = app
        .call("login", &[("username", &long_name), ("password", PASSWORD)])
        .await;

    assert_eq!(password.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(json(password).await["Invalid"]["field"], "password");
    assert_eq!(name.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn too_many_failures_lock_the_username_and_say_when_to_retry() {
    let app = spawn_app_with(|s| s.max_failures_per_user = 3).await;
    app.create_user("alice", PASSWORD, false).await;
    for _ in 0..3 {
        let response = app
            .call(
                "login",
                &[("username", "alice"), ("password", "guess guess")],
            )
            .await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }

    // Even the right password is refused while the lock holds.
    let response = app
        .call("login", &[("username", "alice"), ("password", PASSWORD)])
        .await;

    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry = json(response).await["RateLimited"]["retry_after_secs"]
        .as_u64()
        .unwrap();
    assert!((1..=300).contains(&retry), "retry after {retry}");
}

#[tokio::test]
async fn the_lock_message_says_how_long_to_wait() {
    let error = app::error::AppError::RateLimited {
        retry_after_secs: 42,
    };
    assert_eq!(error.to_string(), "Too many attempts, try again in 42 s.");
}

#[tokio::test]
async fn failures_from_one_address_lock_that_address_for_every_username() {
    let app = spawn_app_with(|s| {
        s.max_failures_per_address = 4;
        s.max_failures_per_user = 100;
    })
    .await;
    app.create_user("alice", PASSWORD, false).await;
    for name in ["bob", "carol", "dave", "erin"] {
        app.call("login", &[("username", name), ("password", "guess guess")])
            .await;
    }

    let response = app
        .call("login", &[("username", "alice"), ("password", PASSWORD)])
        .await;

    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn a_successful_login_clears_the_usernames_failures() {
    let app = spawn_app_with(|s| s.max_failures_per_user = 3).await;
    app.create_user("alice", PASSWORD, false).await;
    for _ in 0..2 {
        app.call(
            "login",
            &[("username", "alice"), ("password", "guess guess")],
        )
        .await;
    }
    app.login("alice", PASSWORD).await;
    for _ in 0..2 {
        app.call(
            "login",
            &[("username", "alice"), ("password", "guess guess")],
        )
        .await;
    }

    let other = client();
    let response = call_with(
        &other,
        &app,
        "login",
        &[("username", "alice"), ("password", PASSWORD)],
    )
    .await;

    assert_eq!(response.status(), StatusCode::OK);
}
