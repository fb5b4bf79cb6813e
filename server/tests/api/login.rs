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

/// Sends every request at once and counts the answers by status.
async fn all_at_once(
    requests: Vec<reqwest::RequestBuilder>,
) -> std::collections::BTreeMap<u16, Vec<String>> {
    let mut running = tokio::task::JoinSet::new();
    for request in requests {
        running.spawn(async move {
            let response = request.send().await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        });
    }
    let mut answers = std::collections::BTreeMap::<u16, Vec<String>>::new();
    while let Some(answer) = running.join_next().await {
        let (status, body) = answer.unwrap();
        answers.entry(status).or_default().push(body);
    }
    answers
}

#[tokio::test]
async fn two_hundred_concurrent_wrong_sign_ins_cannot_outrun_the_throttle() {
    let app = spawn_app().await;
    app.create_user("root", PASSWORD, true).await;
    let before = app.state.hasher.verifications();

    let requests = (0..200)
        .map(|i| {
            client()
                .post(app.url("/api/login"))
                .header(reqwest::header::ACCEPT, "application/json")
                .form(&[
                    ("username", "root".to_owned()),
                    ("password", format!("guess {i}")),
                ])
        })
        .collect();
    let answers = all_at_once(requests).await;

    let checked = app.state.hasher.verifications() - before;
    let refused = answers.get(&422).map_or(0, Vec::len);
    let throttled = answers.get(&429).map_or(0, Vec::len);
    assert!(checked <= 5, "{checked} password checks for a limit of 5");
    assert_eq!(refused as u64, checked, "{:?}", answers.keys());
    assert_eq!(refused + throttled, 200, "{:?}", answers.keys());
}

#[tokio::test]
async fn two_hundred_concurrent_wrong_ipxe_sign_ins_cannot_outrun_the_throttle() {
    let app = spawn_app().await;
    app.create_user("root", PASSWORD, true).await;
    let before = app.state.hasher.verifications();

    let requests = (0..200)
        .map(|i| {
            client().post(app.url("/ipxe/session")).form(&[
                ("username", hex::encode("root")),
                ("password", hex::encode(format!("guess {i}"))),
            ])
        })
        .collect();
    let answers = all_at_once(requests).await;

    let checked = app.state.hasher.verifications() - before;
    assert!(checked <= 5, "{checked} password checks for a limit of 5");
    let screens = &answers[&200];
    assert_eq!(screens.len(), 200, "{:?}", answers.keys());
    let message = |body: &String| crate::ipxe_client::Screen::read(body).messages()[0].clone();
    let refused = screens
        .iter()
        .filter(|b| message(b) == "Invalid username or password.")
        .count();
    let throttled = screens
        .iter()
        .filter(|b| message(b).starts_with("Too many attempts, try again in "))
        .count();
    assert_eq!(refused as u64, checked);
    assert_eq!(refused + throttled, 200);
}

#[tokio::test]
async fn the_current_password_cannot_be_guessed_through_the_password_form() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    app.login("alice", PASSWORD).await;
    async fn guess(app: &crate::helpers::TestApp, i: usize) -> StatusCode {
        let current = format!("guess number {i}");
        app.call(
            "change_password",
            &[
                ("current", current.as_str()),
                ("new", "a new password"),
                ("confirm", "a new password"),
            ],
        )
        .await
        .status()
    }

    for i in 0..5 {
        assert_eq!(guess(&app, i).await, StatusCode::UNPROCESSABLE_ENTITY);
    }
    assert_eq!(guess(&app, 5).await, StatusCode::TOO_MANY_REQUESTS);
    // The same limit guards the sign-in: the guesses counted there too.
    let response = call_with(
        &client(),
        &app,
        "login",
        &[("username", "alice"), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn a_username_that_cannot_exist_is_refused_without_a_password_check() {
    let app = spawn_app().await;
    let before = app.state.hasher.verifications();

    for name in ["a\u{0}b", "al ice", &"a".repeat(4096)] {
        let response = app
            .call("login", &[("username", name), ("password", PASSWORD)])
            .await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            json(response).await["Invalid"]["message"],
            "Invalid username or password."
        );
    }
    assert_eq!(app.state.hasher.verifications(), before);
}
