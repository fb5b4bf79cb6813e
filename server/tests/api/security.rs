//! Requests a browser could be tricked into sending, and the headers every answer carries.

use crate::helpers::{TestApp, client, json, session_cookie, spawn_app};
use app::{
    model::Role,
    server::{
        actor::Actor,
        entities::user,
        services::menus::{self, MenuSettings},
    },
};
use reqwest::{StatusCode, header};
use sea_orm::EntityTrait;
use serde_json::json;

const PASSWORD: &str = "correct horse battery";

/// A server admin signed in with the app's client, and another account.
async fn signed_in_admin() -> (TestApp, i32) {
    let app = spawn_app().await;
    app.create_user("root", PASSWORD, true).await;
    let bob = app.create_user("bob", PASSWORD, false).await;
    app.login("root", PASSWORD).await;
    (app, bob)
}

async fn is_server_admin(app: &TestApp, id: i32) -> bool {
    user::Entity::find_by_id(id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
        .is_server_admin
}

async fn assert_cross_site_refusal(response: reqwest::Response) {
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body = json(response).await;
    assert_eq!(body, json!("CrossSite"), "{body}");
}

/// Posts the form that makes `user` a server admin, as a page with `origin` (and
/// `Sec-Fetch-Site: site`) would, with the signed-in admin's cookie.
async fn make_admin_from(app: &TestApp, user: i32, origin: &str, site: &str) -> reqwest::Response {
    let user = user.to_string();
    app.client
        .post(app.url("/api/set_server_admin"))
        .header(header::ORIGIN, origin)
        .header("sec-fetch-site", site)
        .form(&[("user_id", user.as_str()), ("admin", "true")])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_cross_site_form_cannot_make_a_server_admin() {
    let (app, bob) = signed_in_admin().await;

    let response = make_admin_from(&app, bob, "http://files.example.org", "cross-site").await;

    assert_cross_site_refusal(response).await;
    assert!(!is_server_admin(&app, bob).await);
}

#[tokio::test]
async fn a_same_site_sibling_page_is_another_origin_too() {
    let (app, bob) = signed_in_admin().await;

    // The same host on another port (a file server beside PXE Cloud): same site, other origin.
    let response = make_admin_from(&app, bob, "http://127.0.0.1:1", "same-site").await;

    assert_cross_site_refusal(response).await;
    assert!(!is_server_admin(&app, bob).await);
}

#[tokio::test]
async fn the_apps_own_pages_may_still_write() {
    let (app, bob) = signed_in_admin().await;
    let own = format!("http://{}", app.address);

    let response = make_admin_from(&app, bob, &own, "same-origin").await;

    assert_eq!(response.status(), StatusCode::OK);
    assert!(is_server_admin(&app, bob).await);
}

#[tokio::test]
async fn a_text_plain_post_cannot_pass_for_json() {
    let (app, _) = signed_in_admin().await;
    let org = app
        .create_organization("Lab", &[("root", Role::Admin)])
        .await
        .id;
    let menu = menus::create(
        &app.state.db,
        &Actor::operator(),
        org,
        &MenuSettings {
            title: "Main".into(),
            ..MenuSettings::default()
        },
    )
    .await
    .unwrap();
    let body = json!({
        "organization_id": org, "menu_id": menu.id, "version": menu.version,
        "settings": { "title": "Hijacked", "background_url": "", "timeout_secs": "" },
        "entries": [],
    });

    // What `<form enctype="text/plain">` on another site sends: no Origin check would help
    // a browser that leaves Origin out, so the body kind is refused on its own.
    let response = app
        .client
        .post(app.url("/api/save_menu"))
        .header(header::CONTENT_TYPE, "text/plain")
        .body(body.to_string())
        .send()
        .await
        .unwrap();

    assert_cross_site_refusal(response).await;
    let now = menus::load(&app.state.db, org, menu.id).await.unwrap();
    assert_eq!(now.title, "Main");
    assert_eq!(now.version, menu.version);
}

#[tokio::test]
async fn a_cross_site_sign_in_cannot_plant_the_attackers_session() {
    let app = spawn_app().await;
    app.create_user("mallory", PASSWORD, false).await;

    let response = client()
        .post(app.url("/api/login"))
        .header(header::ORIGIN, "http://evil.example.org")
        .form(&[("username", "mallory"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();

    assert!(session_cookie(&response).is_none());
    assert_cross_site_refusal(response).await;
}

#[tokio::test]
async fn every_answer_carries_the_security_headers() {
    let app = spawn_app().await;
    app.create_user("root", PASSWORD, true).await;
    let page = app.client.get(app.url("/login")).send().await.unwrap();
    let api = app.call("current_user", &[]).await;
    let asset = app
        .client
        .get(app.url("/favicon.ico"))
        .send()
        .await
        .unwrap();
    let script = app.client.get(app.url("/boot.ipxe")).send().await.unwrap();

    assert_eq!(page.headers()[header::CACHE_CONTROL], "no-store");
    for response in [&page, &api, &asset, &script] {
        let headers = response.headers();
        assert_eq!(
            headers["x-content-type-options"],
            "nosniff",
            "{}",
            response.url()
        );
        assert_eq!(headers["x-frame-options"], "DENY");
        assert_eq!(headers["referrer-policy"], "same-origin");
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(csp.contains("default-src 'self'"), "{csp}");
        let scripts = csp
            .split(';')
            .find(|d| d.trim().starts_with("script-src"))
            .unwrap();
        assert!(!scripts.contains("unsafe-inline"), "{csp}");
    }
    // The page's inline scripts carry this response's nonce, and only them.
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .unwrap()
        .to_owned();
    let html = page.text().await.unwrap();
    let inline_scripts = html.matches("<script").count();
    assert!(inline_scripts > 0);
    assert_eq!(
        html.matches(&format!("nonce=\"{nonce}\"")).count(),
        inline_scripts,
        "{html}"
    );
    for response in [&api, &script] {
        assert_eq!(
            response.headers()[header::CACHE_CONTROL],
            "no-store",
            "{}",
            response.url()
        );
    }
    assert_ne!(asset.headers()[header::CACHE_CONTROL], "no-store");
}
