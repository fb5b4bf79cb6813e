//! Invariants that must hold when two admins act at the same moment: an organization keeps
//! an admin, the server keeps an active server admin.

use crate::helpers::{TestApp, call_with, client, spawn_app};
use app::model::Role;
use app::server::entities::{organization_member, user};
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

const PASSWORD: &str = "correct horse battery";
const ROUNDS: usize = 15;

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

/// Both answers of a pair of concurrent changes: exactly one may win; the other is refused
/// clearly (409 "keep one admin", or 403/401 when the winner already took its right away),
/// never with a 500.
fn one_won(first: StatusCode, second: StatusCode) {
    let statuses = [first, second];
    let refusals = [
        StatusCode::CONFLICT,
        StatusCode::FORBIDDEN,
        StatusCode::UNAUTHORIZED,
    ];
    assert!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count() == 1
            && statuses
                .iter()
                .all(|s| *s == StatusCode::OK || refusals.contains(s)),
        "one change wins and the other is refused: {statuses:?}"
    );
}

async fn organization_admins(app: &TestApp, organization_id: i32) -> u64 {
    organization_member::Entity::find()
        .filter(organization_member::Column::OrganizationId.eq(organization_id))
        .filter(organization_member::Column::Role.eq(Role::Admin.as_str()))
        .count(&app.state.db)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_organization_admins_demoting_each_other_at_once_leave_one_admin() {
    let app = spawn_app().await;
    let alice_id = app.create_user("alice", PASSWORD, false).await;
    let bob_id = app.create_user("bob", PASSWORD, false).await;
    let org = app
        .create_organization("Lab", &[("alice", Role::Admin), ("bob", Role::Admin)])
        .await;
    let alice = signed_in(&app, "alice").await;
    let bob = signed_in(&app, "bob").await;
    let org_id = org.id.to_string();
    let demote = |client: &reqwest::Client, user_id: i32| {
        let client = client.clone();
        let org_id = org_id.clone();
        let app = &app;
        async move {
            let user_id = user_id.to_string();
            call_with(
                &client,
                app,
                "set_member_role",
                &[
                    ("organization_id", org_id.as_str()),
                    ("user_id", user_id.as_str()),
                    ("role", "member"),
                ],
            )
            .await
            .status()
        }
    };
    let remove = |client: &reqwest::Client, user_id: i32| {
        let client = client.clone();
        let org_id = org_id.clone();
        let app = &app;
        async move {
            let user_id = user_id.to_string();
            call_with(
                &client,
                app,
                "remove_member",
                &[
                    ("organization_id", org_id.as_str()),
                    ("user_id", user_id.as_str()),
                ],
            )
            .await
            .status()
        }
    };

    for round in 0..ROUNDS {
        let (by_alice, by_bob) = if round % 2 == 0 {
            tokio::join!(demote(&alice, bob_id), demote(&bob, alice_id))
        } else {
            tokio::join!(remove(&alice, bob_id), demote(&bob, alice_id))
        };
        one_won(by_alice, by_bob);
        assert_eq!(organization_admins(&app, org.id).await, 1, "round {round}");
        // Both admins again for the next round.
        for name in ["alice", "bob"] {
            app.set_member(org.id, name, Role::Admin).await;
        }
    }
}

async fn active_server_admins(app: &TestApp) -> u64 {
    user::Entity::find()
        .filter(user::Column::IsServerAdmin.eq(true))
        .filter(user::Column::IsDisabled.eq(false))
        .count(&app.state.db)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_server_admins_demoting_or_disabling_each_other_at_once_leave_one() {
    let app = spawn_app().await;
    let root_id = app.create_user("root", PASSWORD, true).await;
    let toor_id = app.create_user("toor", PASSWORD, true).await;
    let root = signed_in(&app, "root").await;
    let toor = signed_in(&app, "toor").await;
    let change = |client: &reqwest::Client, endpoint: &'static str, user_id: i32| {
        let client = client.clone();
        let app = &app;
        async move {
            let user_id = user_id.to_string();
            let form: [(&str, &str); 2] = if endpoint == "set_server_admin" {
                [("user_id", &user_id), ("admin", "false")]
            } else {
                [("user_id", &user_id), ("disabled", "true")]
            };
            call_with(&client, app, endpoint, &form).await.status()
        }
    };

    for round in 0..ROUNDS {
        let (first, second) = match round % 3 {
            0 => tokio::join!(
                change(&root, "set_server_admin", toor_id),
                change(&toor, "set_server_admin", root_id)
            ),
            1 => tokio::join!(
                change(&root, "set_user_disabled", toor_id),
                change(&toor, "set_user_disabled", root_id)
            ),
            _ => tokio::join!(
                change(&root, "set_user_disabled", toor_id),
                change(&toor, "set_server_admin", root_id)
            ),
        };
        one_won(first, second);
        assert_eq!(active_server_admins(&app).await, 1, "round {round}");
        app.restore_server_admins(&[root_id, toor_id]).await;
    }
}

#[tokio::test]
async fn the_last_active_server_admin_cannot_be_demoted_or_disabled() {
    // A disabled server admin does not count. Only the operator (the command line) can
    // reach this: a server admin cannot demote or disable themselves.
    use app::server::{actor::Actor, services::accounts};
    let app = spawn_app().await;
    let root_id = app.create_user("root", PASSWORD, true).await;
    let toor_id = app.create_user("toor", PASSWORD, true).await;
    let operator = Actor::operator();
    accounts::set_disabled(&app.state.db, &operator, toor_id, true)
        .await
        .unwrap();

    let demote = accounts::set_server_admin(&app.state.db, &operator, root_id, false).await;
    let disable = accounts::set_disabled(&app.state.db, &operator, root_id, true).await;

    for refused in [demote, disable] {
        let error = refused.unwrap_err();
        assert_eq!(error.status(), 409);
        assert!(error.field_message("server_admin").is_some(), "{error:?}");
    }
    assert_eq!(active_server_admins(&app).await, 1);
}
