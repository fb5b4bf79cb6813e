//! Server-rendered pages: redirects, the dashboard, not-found.

use crate::helpers::{json, spawn_app};
use app::model::Role;
use reqwest::{StatusCode, header};

const PASSWORD: &str = "correct horse battery";

#[tokio::test]
async fn the_dashboard_sends_anonymous_visitors_to_the_login() {
    let app = spawn_app().await;

    let response = app
        .client
        .get(app.url("/"))
        .header(header::ACCEPT, "text/html")
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(response.headers()[header::LOCATION], "/login");
}

#[tokio::test]
async fn the_login_page_renders_its_form() {
    let app = spawn_app().await;

    let response = app.client.get(app.url("/login")).send().await.unwrap();

    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.unwrap();
    assert!(html.contains("name=\"username\""));
    assert!(html.contains("name=\"password\""));
    assert!(
        html.contains("<title>Sign in · PXE Cloud</title>"),
        "{html}"
    );
}

#[tokio::test]
async fn the_dashboard_lists_the_users_organizations_with_their_role() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    app.create_user("bob", PASSWORD, false).await;
    app.create_organization(
        "Physics Lab",
        &[("alice", Role::Admin), ("bob", Role::Member)],
    )
    .await;
    app.create_organization("Library", &[("alice", Role::Member)])
        .await;
    app.create_organization("Secret Org", &[("bob", Role::Admin)])
        .await;
    app.login("alice", PASSWORD).await;

    let response = app.client.get(app.url("/")).send().await.unwrap();
    let (status, url) = (response.status(), response.url().clone());
    let html = response.text().await.unwrap();

    assert!(
        html.contains("Physics Lab") && html.contains("Library"),
        "{status} {url}: {}",
        html.chars()
            .skip(html.chars().count().saturating_sub(3000))
            .collect::<String>()
    );
    assert!(!html.contains("Secret Org"), "another organization leaked");
    let list = json(app.call("my_organizations", &[]).await).await;
    let names: Vec<_> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["name"].clone(), o["role"].clone()))
        .collect();
    assert_eq!(
        names,
        vec![
            ("Library".into(), "Member".into()),
            ("Physics Lab".into(), "Admin".into())
        ]
    );
}

#[tokio::test]
async fn a_server_admin_sees_every_organization() {
    let app = spawn_app().await;
    app.create_user("root", PASSWORD, true).await;
    app.create_user("bob", PASSWORD, false).await;
    app.create_organization("Secret Org", &[("bob", Role::Admin)])
        .await;
    app.login("root", PASSWORD).await;

    let list = json(app.call("my_organizations", &[]).await).await;

    assert_eq!(list[0]["name"], "Secret Org");
    assert_eq!(list[0]["role"], serde_json::Value::Null);
    assert_eq!(list[0]["member_count"], 1);
}

#[tokio::test]
async fn organizations_need_a_session() {
    let app = spawn_app().await;

    let response = app.call("my_organizations", &[]).await;

    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_unknown_address_gets_the_not_found_page() {
    let app = spawn_app().await;

    let response = app
        .client
        .get(app.url("/no/such/page"))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("This page does not exist.")
    );
}

#[tokio::test]
async fn the_health_check_reports_the_database() {
    let app = spawn_app().await;

    let response = app.client.get(app.url("/healthz")).send().await.unwrap();

    assert_eq!(response.status(), StatusCode::OK);
}
