//! MEDIUM-4: an organization admin can neither enrol, list, nor read the email of an account
//! that is not already theirs. They invite a name; the account's owner accepts or declines.

use crate::helpers::{TestApp, call_with, client, json, spawn_app};
use app::{
    model::Role,
    server::{
        actor::Actor,
        entities::invitation,
        services::{
            accounts::{self, NewUser},
            invitations,
        },
    },
    validate::{Email, NewPassword, Username},
};
use chrono::Utc;
use reqwest::StatusCode;
use sea_orm::{EntityTrait, sea_query::Expr};
use serde_json::Value;

const PASSWORD: &str = "correct horse battery";

/// A client signed in as `name`.
async fn signed_in(app: &TestApp, name: &str) -> reqwest::Client {
    let client = client();
    let response = call_with(
        &client,
        app,
        "login",
        &[("username", name), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK, "{name} signs in");
    client
}

async fn create_user_with_email(app: &TestApp, name: &str, email: &str, disabled: bool) -> i32 {
    let new = NewUser {
        username: Username::parse(name).unwrap(),
        email: Email::parse_optional(email).unwrap(),
        password: NewPassword::parse(PASSWORD).unwrap(),
        is_server_admin: false,
    };
    let user = accounts::create_user(&app.state.db, &app.state.hasher, &Actor::operator(), new)
        .await
        .unwrap();
    if disabled {
        accounts::set_disabled(&app.state.db, &Actor::operator(), user.id, true)
            .await
            .unwrap();
    }
    user.id
}

/// Lab, administered by alice; Other, with mallory (who has an email) as its member; root, a
/// server admin.
async fn two_organizations() -> (TestApp, i32) {
    let app = spawn_app().await;
    app.create_user("root", PASSWORD, true).await;
    app.create_user("alice", PASSWORD, false).await;
    create_user_with_email(&app, "mallory", "mallory@other.example", false).await;
    create_user_with_email(&app, "sleeper", "", true).await;
    let lab = app
        .create_organization("Lab", &[("alice", Role::Admin)])
        .await
        .id;
    app.create_organization("Other", &[("mallory", Role::Member)])
        .await;
    (app, lab)
}

async fn add(
    client: &reqwest::Client,
    app: &TestApp,
    org: i32,
    name: &str,
) -> (StatusCode, String) {
    let response = call_with(
        client,
        app,
        "add_member",
        &[
            ("organization_id", &org.to_string()),
            ("username", name),
            ("role", "member"),
        ],
    )
    .await;
    (response.status(), response.text().await.unwrap())
}

async fn members(client: &reqwest::Client, app: &TestApp, org: i32, filter: &str) -> Value {
    json(
        call_with(
            client,
            app,
            "members",
            &[
                ("organization_id", &org.to_string()),
                ("filter", filter),
                ("page", "0"),
            ],
        )
        .await,
    )
    .await
}

fn usernames(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["username"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn an_organization_admin_cannot_tell_which_usernames_exist() {
    let (app, lab) = two_organizations().await;
    let alice = signed_in(&app, "alice").await;

    // Unknown, another organization's member, a server admin, a disabled account.
    let mut answers = Vec::new();
    for name in ["ghost", "mallory", "root", "sleeper"] {
        answers.push(add(&alice, &app, lab, name).await);
    }
    let pending = json(
        call_with(
            &alice,
            &app,
            "invitations",
            &[("organization_id", &lab.to_string())],
        )
        .await,
    )
    .await;

    for answer in &answers {
        assert_eq!(answer, &(StatusCode::OK, "\"Invited\"".to_owned()));
    }
    let invited: Vec<&str> = pending
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["username"].as_str().unwrap())
        .collect();
    assert_eq!(invited, ["ghost", "mallory", "root", "sleeper"]);
    // Nobody was enrolled.
    assert_eq!(usernames(&members(&alice, &app, lab, "").await), ["alice"]);
}

#[tokio::test]
async fn an_organization_admin_cannot_enrol_an_account_without_its_owner_consent() {
    let (app, lab) = two_organizations().await;
    let alice = signed_in(&app, "alice").await;
    let mallory = signed_in(&app, "mallory").await;

    assert_eq!(add(&alice, &app, lab, "Mallory").await.0, StatusCode::OK);
    let before_accepting = members(&alice, &app, lab, "").await;
    let waiting = json(call_with(&mallory, &app, "my_invitations", &[]).await).await;
    let id = waiting[0]["id"].as_i64().unwrap().to_string();
    // Someone else cannot answer mallory's invitation, nor see it.
    let alice_sees = json(call_with(&alice, &app, "my_invitations", &[]).await).await;
    let stolen = call_with(&alice, &app, "accept_invitation", &[("invitation_id", &id)]).await;
    let accepted = call_with(
        &mallory,
        &app,
        "accept_invitation",
        &[("invitation_id", &id)],
    )
    .await;
    let again = call_with(
        &mallory,
        &app,
        "accept_invitation",
        &[("invitation_id", &id)],
    )
    .await;
    let after_accepting = members(&alice, &app, lab, "").await;
    let now_a_member = add(&alice, &app, lab, "mallory").await;

    assert_eq!(usernames(&before_accepting), ["alice"]);
    assert_eq!(waiting.as_array().unwrap().len(), 1);
    assert_eq!(waiting[0]["organization_name"], "Lab");
    assert_eq!(waiting[0]["invited_by"], "alice");
    assert_eq!(waiting[0]["role"], "Member");
    assert_eq!(alice_sees, serde_json::json!([]));
    assert_eq!(stolen.status(), StatusCode::NOT_FOUND);
    assert_eq!(accepted.status(), StatusCode::OK);
    assert_eq!(json(accepted).await, serde_json::json!(lab));
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
    assert_eq!(usernames(&after_accepting), ["alice", "mallory"]);
    // A member is the one name an admin may be told about: they see their members anyway.
    assert_eq!(now_a_member.0, StatusCode::CONFLICT);
}

#[tokio::test]
async fn a_declined_or_withdrawn_invitation_enrols_nobody() {
    let (app, lab) = two_organizations().await;
    let alice = signed_in(&app, "alice").await;
    let mallory = signed_in(&app, "mallory").await;
    let lab_id = lab.to_string();

    add(&alice, &app, lab, "mallory").await;
    let id = json(call_with(&mallory, &app, "my_invitations", &[]).await).await[0]["id"]
        .as_i64()
        .unwrap()
        .to_string();
    let declined = call_with(
        &mallory,
        &app,
        "decline_invitation",
        &[("invitation_id", &id)],
    )
    .await;
    let accept_declined = call_with(
        &mallory,
        &app,
        "accept_invitation",
        &[("invitation_id", &id)],
    )
    .await;
    add(&alice, &app, lab, "mallory").await;
    let id = json(call_with(&alice, &app, "invitations", &[("organization_id", &lab_id)]).await)
        .await[0]["id"]
        .as_i64()
        .unwrap()
        .to_string();
    let withdrawn = call_with(
        &alice,
        &app,
        "cancel_invitation",
        &[("organization_id", &lab_id), ("invitation_id", &id)],
    )
    .await;
    let waiting = json(call_with(&mallory, &app, "my_invitations", &[]).await).await;

    assert_eq!(declined.status(), StatusCode::OK);
    assert_eq!(accept_declined.status(), StatusCode::NOT_FOUND);
    assert_eq!(withdrawn.status(), StatusCode::OK);
    assert_eq!(waiting, serde_json::json!([]));
    assert_eq!(usernames(&members(&alice, &app, lab, "").await), ["alice"]);
}

#[tokio::test]
async fn an_expired_invitation_can_no_longer_be_accepted() {
    let (app, lab) = two_organizations().await;
    let alice = signed_in(&app, "alice").await;
    let mallory = signed_in(&app, "mallory").await;
    add(&alice, &app, lab, "mallory").await;
    let id = json(call_with(&mallory, &app, "my_invitations", &[]).await).await[0]["id"]
        .as_i64()
        .unwrap();

    invitation::Entity::update_many()
        .col_expr(
            invitation::Column::ExpiresAt,
            Expr::value(Utc::now() - chrono::Duration::seconds(1)),
        )
        .exec(&app.state.db)
        .await
        .unwrap();
    let waiting = json(call_with(&mallory, &app, "my_invitations", &[]).await).await;
    let accepted = call_with(
        &mallory,
        &app,
        "accept_invitation",
        &[("invitation_id", &id.to_string())],
    )
    .await;
    let pruned = invitations::prune(&app.state.db).await.unwrap();

    assert_eq!(waiting, serde_json::json!([]));
    assert_eq!(accepted.status(), StatusCode::NOT_FOUND);
    assert_eq!(pruned, 1);
    assert_eq!(usernames(&members(&alice, &app, lab, "").await), ["alice"]);
}

#[tokio::test]
async fn an_organization_admin_cannot_read_the_email_of_an_account_from_elsewhere() {
    let (app, lab) = two_organizations().await;
    let root = signed_in(&app, "root").await;
    let alice = signed_in(&app, "alice").await;
    // A server admin adds mallory directly; alice creates carol in Lab with an email.
    let added = add(&root, &app, lab, "mallory").await;
    let created = call_with(
        &alice,
        &app,
        "create_member",
        &[
            ("organization_id", &lab.to_string()),
            ("username", "carol"),
            ("email", "carol@lab.example"),
            ("password", PASSWORD),
            ("role", "member"),
        ],
    )
    .await;

    let alice_sees = members(&alice, &app, lab, "").await;
    let alice_searches = members(&alice, &app, lab, "other.example").await;
    let root_sees = members(&root, &app, lab, "other.example").await;

    assert_eq!(added, (StatusCode::OK, "\"Added\"".to_owned()));
    assert_eq!(created.status(), StatusCode::OK);
    let email_of = |page: &Value, name: &str| {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["username"] == name)
            .map(|m| m["email"].clone())
            .unwrap()
    };
    assert_eq!(email_of(&alice_sees, "mallory"), Value::Null);
    assert_eq!(email_of(&alice_sees, "carol"), "carol@lab.example");
    assert!(!alice_sees.to_string().contains("other.example"));
    // Searching by email must not find what is not shown.
    assert_eq!(alice_searches["total"], 0);
    assert_eq!(email_of(&root_sees, "mallory"), "mallory@other.example");
}

#[tokio::test]
async fn creating_accounts_cannot_list_the_names_that_exist() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD, false).await;
    let lab = app
        .create_organization("Lab", &[("alice", Role::Admin)])
        .await
        .id;
    for n in 0..12 {
        app.create_user(&format!("taken{n}"), PASSWORD, false).await;
    }
    let alice = signed_in(&app, "alice").await;

    let mut statuses = Vec::new();
    for n in 0..12 {
        let response = call_with(
            &alice,
            &app,
            "create_member",
            &[
                ("organization_id", &lab.to_string()),
                ("username", &format!("taken{n}")),
                ("email", ""),
                ("password", PASSWORD),
                ("role", "member"),
            ],
        )
        .await;
        statuses.push(response.status());
    }

    let limit = app::server::services::organizations::MAX_TAKEN_NAMES as usize;
    assert!(
        statuses[..limit].iter().all(|s| *s == StatusCode::CONFLICT),
        "{statuses:?}"
    );
    assert!(
        statuses[limit..]
            .iter()
            .all(|s| *s == StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn an_invitation_to_an_admin_role_makes_an_admin_once_accepted() {
    let (app, lab) = two_organizations().await;
    let db = &app.state.db;
    invitations::invite(
        db,
        &Actor::operator(),
        lab,
        &Username::parse("mallory").unwrap(),
        Role::Admin,
    )
    .await
    .unwrap();
    let mallory = signed_in(&app, "mallory").await;
    let id = json(call_with(&mallory, &app, "my_invitations", &[]).await).await[0]["id"]
        .as_i64()
        .unwrap();
    let accepted = call_with(
        &mallory,
        &app,
        "accept_invitation",
        &[("invitation_id", &id.to_string())],
    )
    .await;
    let as_admin = members(&mallory, &app, lab, "").await;

    assert_eq!(accepted.status(), StatusCode::OK);
    assert_eq!(usernames(&as_admin), ["alice", "mallory"]);
}
