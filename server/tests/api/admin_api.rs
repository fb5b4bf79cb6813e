//! The admin server functions over HTTP: what they do, and the clear errors they give for
//! bad input (never a 500).

use crate::helpers::{TestApp, call_with, client, json, spawn_app};
use app::{
    boot::{MenuAction, MenuEntry, MenuItem},
    forms::MenuSettings,
    model::Role,
    server::{actor::Actor, services::menus},
};
use reqwest::{StatusCode, header};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";

/// An app with a server admin `root` (signed in on `app.client`), an organization `Lab`
/// administered by `alice`, and its id.
async fn lab() -> (TestApp, i32) {
    let app = spawn_app().await;
    app.create_user("root", PASSWORD, true).await;
    app.create_user("alice", PASSWORD, false).await;
    let org = app
        .create_organization("Lab", &[("alice", Role::Admin)])
        .await
        .id;
    app.login("root", PASSWORD).await;
    (app, org)
}

async fn post_json(app: &TestApp, endpoint: &str, body: &Value) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/api/{endpoint}")))
        .header(header::ACCEPT, "application/json")
        .json(body)
        .send()
        .await
        .unwrap()
}

/// Asserts a response is `status` with an error about `field`, and returns its message.
async fn field_error(response: reqwest::Response, status: StatusCode, field: &str) -> String {
    assert_eq!(response.status(), status);
    let body = json(response).await;
    let kind = if status == StatusCode::CONFLICT {
        "Conflict"
    } else {
        "Invalid"
    };
    assert_eq!(body[kind]["field"], field, "{body}");
    body[kind]["message"].as_str().unwrap().to_owned()
}

fn user_id_of(page: &Value, username: &str) -> i64 {
    id_of(page, username, "id")
}

fn member_id_of(page: &Value, username: &str) -> i64 {
    id_of(page, username, "user_id")
}

fn id_of(page: &Value, username: &str, key: &str) -> i64 {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == username)
        .unwrap_or_else(|| panic!("{username} in {page}"))[key]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn creating_a_user_checks_each_field_and_refuses_a_taken_name() {
    let (app, _) = lab().await;
    let create = async |username: &str, email: &str, password: &str| {
        app.call(
            "create_user",
            &[
                ("username", username),
                ("email", email),
                ("password", password),
                ("server_admin", "false"),
            ],
        )
        .await
    };

    let bad_name = create("al ice", "", PASSWORD).await;
    let bad_email = create("carol", "carol", PASSWORD).await;
    let short = create("carol", "", "short").await;
    let taken = create("Alice", "", PASSWORD).await;
    let created = create("Carol", "carol@example.org", PASSWORD).await;

    field_error(bad_name, StatusCode::UNPROCESSABLE_ENTITY, "username").await;
    field_error(bad_email, StatusCode::UNPROCESSABLE_ENTITY, "email").await;
    field_error(short, StatusCode::UNPROCESSABLE_ENTITY, "password").await;
    field_error(taken, StatusCode::CONFLICT, "username").await;
    assert_eq!(created.status(), StatusCode::OK);
    assert_eq!(json(created).await["username"], "carol");
}

#[tokio::test]
async fn a_disabled_user_is_signed_out_at_once_and_nobody_disables_themselves() {
    let (app, _) = lab().await;
    let alice = client();
    call_with(
        &alice,
        &app,
        "login",
        &[("username", "alice"), ("password", PASSWORD)],
    )
    .await;
    let users = json(app.call("users", &[("filter", ""), ("page", "0")]).await).await;
    let alice_id = user_id_of(&users, "alice").to_string();
    let root_id = user_id_of(&users, "root").to_string();

    let disabled = app
        .call(
            "set_user_disabled",
            &[("user_id", &alice_id), ("disabled", "true")],
        )
        .await;
    let myself = app
        .call(
            "set_user_disabled",
            &[("user_id", &root_id), ("disabled", "true")],
        )
        .await;
    let unadmin_myself = app
        .call(
            "set_server_admin",
            &[("user_id", &root_id), ("admin", "false")],
        )
        .await;
    let alice_now = call_with(&alice, &app, "current_user", &[]).await;

    assert_eq!(json(disabled).await["is_disabled"], true);
    field_error(myself, StatusCode::CONFLICT, "disabled").await;
    field_error(unadmin_myself, StatusCode::CONFLICT, "server_admin").await;
    assert_eq!(json(alice_now).await, Value::Null);
}

#[tokio::test]
async fn a_reset_password_works_at_the_next_sign_in() {
    let (app, _) = lab().await;
    let users = json(app.call("users", &[("filter", "ali"), ("page", "0")]).await).await;
    let alice_id = user_id_of(&users, "alice").to_string();

    let short = app
        .call(
            "reset_password",
            &[("user_id", &alice_id), ("password", "short")],
        )
        .await;
    let reset = app
        .call(
            "reset_password",
            &[("user_id", &alice_id), ("password", "a brand new one")],
        )
        .await;
    let unknown = app
        .call(
            "reset_password",
            &[("user_id", "999999"), ("password", "a brand new one")],
        )
        .await;
    let sign_in = call_with(
        &client(),
        &app,
        "login",
        &[("username", "alice"), ("password", "a brand new one")],
    )
    .await;

    field_error(short, StatusCode::UNPROCESSABLE_ENTITY, "password").await;
    assert_eq!(reset.status(), StatusCode::OK);
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert_eq!(sign_in.status(), StatusCode::OK);
}

#[tokio::test]
async fn members_are_added_once_and_the_last_admin_stays() {
    let (app, org) = lab().await;
    let org = org.to_string();
    app.create_user("bob", PASSWORD, false).await;

    let unknown = app
        .call(
            "add_member",
            &[
                ("organization_id", &org),
                ("username", "nobody"),
                ("role", "member"),
            ],
        )
        .await;
    let bad_role = app
        .call(
            "add_member",
            &[
                ("organization_id", &org),
                ("username", "bob"),
                ("role", "owner"),
            ],
        )
        .await;
    let added = app
        .call(
            "add_member",
            &[
                ("organization_id", &org),
                ("username", "bob"),
                ("role", "member"),
            ],
        )
        .await;
    let again = app
        .call(
            "add_member",
            &[
                ("organization_id", &org),
                ("username", "Bob"),
                ("role", "admin"),
            ],
        )
        .await;
    let members = json(
        app.call(
            "members",
            &[("organization_id", &org), ("filter", ""), ("page", "0")],
        )
        .await,
    )
    .await;
    let alice_id = member_id_of(&members, "alice").to_string();
    let demote_last = app
        .call(
            "set_member_role",
            &[
                ("organization_id", &org),
                ("user_id", &alice_id),
                ("role", "member"),
            ],
        )
        .await;
    let remove_last = app
        .call(
            "remove_member",
            &[("organization_id", &org), ("user_id", &alice_id)],
        )
        .await;

    field_error(unknown, StatusCode::UNPROCESSABLE_ENTITY, "username").await;
    field_error(bad_role, StatusCode::UNPROCESSABLE_ENTITY, "role").await;
    assert_eq!(added.status(), StatusCode::OK);
    field_error(again, StatusCode::CONFLICT, "username").await;
    assert_eq!(members["total"], 2);
    field_error(demote_last, StatusCode::CONFLICT, "role").await;
    field_error(remove_last, StatusCode::CONFLICT, "role").await;
}

#[tokio::test]
async fn long_lists_come_in_pages_and_the_filter_takes_wildcards_literally() {
    let (app, org) = lab().await;
    let org_id = org.to_string();
    for i in 0..57 {
        let name = format!("user{i:02}");
        let created = app
            .call(
                "create_member",
                &[
                    ("organization_id", &org_id),
                    ("username", &name),
                    ("email", ""),
                    ("password", PASSWORD),
                    ("role", "member"),
                ],
            )
            .await;
        assert_eq!(created.status(), StatusCode::OK);
    }
    let page = |filter: &'static str, page: &'static str| {
        let org_id = org_id.clone();
        let app = &app;
        async move {
            json(
                app.call(
                    "members",
                    &[
                        ("organization_id", &org_id),
                        ("filter", filter),
                        ("page", page),
                    ],
                )
                .await,
            )
            .await
        }
    };

    let first = page("", "0").await;
    let second = page("", "1").await;
    let far = page("", "99999999999").await;
    let fives = page("USER5", "0").await;
    let percent = page("%", "0").await;
    let underscore = page("_", "0").await;

    assert_eq!(first["total"], 58);
    assert_eq!(first["items"].as_array().unwrap().len(), 50);
    assert_eq!(first["items"][0]["username"], "alice");
    assert_eq!(second["items"].as_array().unwrap().len(), 8);
    assert_eq!(far["items"].as_array().unwrap().len(), 0);
    assert_eq!(fives["total"], 7);
    assert_eq!(percent["total"], 0);
    assert_eq!(underscore["total"], 0);
}

#[tokio::test]
async fn an_image_with_a_bad_argument_names_its_row() {
    let (app, org) = lab().await;
    let form = |args: Value| {
        json!({
            "organization_id": org,
            "form": {
                "title": "Debian", "kind": "kernel_initrd",
                "kernel_url": "http://boot.lan/linux", "image_url": "http://boot.lan/initrd.gz",
                "iso_boot": "", "args": args,
            }
        })
    };

    let bad = post_json(
        &app,
        "create_image",
        &form(json!(["quiet", "x=${password}"])),
    )
    .await;
    let good = post_json(
        &app,
        "create_image",
        &form(json!(["quiet", "console=ttyS0"])),
    )
    .await;
    let garbage = app
        .client
        .post(app.url("/api/create_image"))
        .header(header::CONTENT_TYPE, "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();

    let message = field_error(bad, StatusCode::UNPROCESSABLE_ENTITY, "args.2").await;
    assert!(message.contains('$'), "{message}");
    assert_eq!(json(good).await["args"], json!(["quiet", "console=ttyS0"]));
    assert_eq!(garbage.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn a_malformed_argument_is_a_clear_client_error() {
    let (app, _) = lab().await;

    let response = app
        .call("organization", &[("organization_id", "first")])
        .await;

    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn the_editor_saves_settings_and_entries_together_and_refuses_a_stale_version() {
    let (app, org) = lab().await;
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
    let entries = vec![
        MenuEntry {
            item: MenuItem::Separator {
                text: "Tools".into(),
            },
            is_default: false,
        },
        MenuEntry {
            item: MenuItem::Action {
                action: MenuAction::Reboot,
                url: None,
            },
            is_default: true,
        },
    ];
    let save = |version: i32, title: &str, entries: &[MenuEntry]| {
        json!({
            "organization_id": org, "menu_id": menu.id, "version": version,
            "settings": { "title": title, "background_url": "", "timeout_secs": "5" },
            "entries": entries,
        })
    };
    let chain_without_url = [MenuEntry {
        item: MenuItem::Action {
            action: MenuAction::Chain,
            url: None,
        },
        is_default: false,
    }];
    let foreign_image = [MenuEntry {
        item: MenuItem::Image { image_id: 4242 },
        is_default: false,
    }];

    let bad_entry = post_json(
        &app,
        "save_menu",
        &save(menu.version, "Main", &chain_without_url),
    )
    .await;
    let missing_image = post_json(
        &app,
        "save_menu",
        &save(menu.version, "Main", &foreign_image),
    )
    .await;
    let bad_title = post_json(&app, "save_menu", &save(menu.version, " ", &entries)).await;
    let saved = post_json(&app, "save_menu", &save(menu.version, "Start", &entries)).await;
    let stale = post_json(&app, "save_menu", &save(menu.version, "Stale", &[])).await;

    field_error(bad_entry, StatusCode::UNPROCESSABLE_ENTITY, "entries.1").await;
    field_error(missing_image, StatusCode::UNPROCESSABLE_ENTITY, "entries.1").await;
    field_error(bad_title, StatusCode::UNPROCESSABLE_ENTITY, "title").await;
    let saved = json(saved).await;
    assert_eq!(saved["title"], "Start");
    assert_eq!(saved["timeout_secs"], 5);
    assert_eq!(saved["version"], menu.version + 1);
    field_error(stale, StatusCode::CONFLICT, "version").await;
    let now = menus::load(&app.state.db, org, menu.id).await.unwrap();
    assert_eq!((now.title.as_str(), now.entries), ("Start", entries));
}

#[tokio::test]
async fn a_group_cannot_boot_another_organizations_menu() {
    let (app, org) = lab().await;
    let other = app.create_organization("Other", &[]).await.id;
    let theirs = menus::create(
        &app.state.db,
        &Actor::operator(),
        other,
        &MenuSettings {
            title: "Theirs".into(),
            ..MenuSettings::default()
        },
    )
    .await
    .unwrap();

    let response = app
        .call(
            "create_group",
            &[
                ("organization_id", &org.to_string()),
                ("name", "Students"),
                ("description", ""),
                ("menu_id", &theirs.id.to_string()),
            ],
        )
        .await;

    field_error(response, StatusCode::UNPROCESSABLE_ENTITY, "menu_id").await;
}

#[tokio::test]
async fn deleting_an_organization_with_contents_needs_the_cascade() {
    let (app, org) = lab().await;
    let org_id = org.to_string();
    app.call(
        "create_menu",
        &[
            ("organization_id", &org_id),
            ("title", "Main"),
            ("background_url", ""),
            ("timeout_secs", ""),
        ],
    )
    .await;

    let refused = app
        .call(
            "delete_organization",
            &[("organization_id", &org_id), ("cascade", "false")],
        )
        .await;
    let deleted = app
        .call(
            "delete_organization",
            &[("organization_id", &org_id), ("cascade", "true")],
        )
        .await;
    let gone = app
        .call("organization", &[("organization_id", &org_id)])
        .await;

    let message = field_error(refused, StatusCode::CONFLICT, "organization").await;
    assert!(message.contains("1 menus"), "{message}");
    assert_eq!(deleted.status(), StatusCode::OK);
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
}
