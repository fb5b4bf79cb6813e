//! The organizations service: who may do what, and the rules that keep data sound.

use crate::helpers::spawn_app;
use app::{
    error::AppError,
    model::Role,
    server::{actor::Actor, services::organizations},
    validate::Username,
};

const PASSWORD: &str = "correct horse battery";

fn actor(id: i32, name: &str, server_admin: bool) -> Actor {
    Actor {
        user_id: Some(id),
        username: name.into(),
        is_server_admin: server_admin,
    }
}

#[tokio::test]
async fn only_a_server_admin_creates_organizations() {
    let app = spawn_app().await;
    let alice = app.create_user("alice", PASSWORD, false).await;
    let root = app.create_user("root", PASSWORD, true).await;

    let refused =
        organizations::create(&app.state.db, &actor(alice, "alice", false), "Lab", "").await;
    let created =
        organizations::create(&app.state.db, &actor(root, "root", true), "Lab", "A lab").await;

    assert_eq!(refused.unwrap_err(), AppError::Forbidden);
    assert_eq!(created.unwrap().description, "A lab");
}

#[tokio::test]
async fn organization_names_are_unique_and_checked() {
    let app = spawn_app().await;
    let operator = Actor::operator();
    organizations::create(&app.state.db, &operator, "Lab", "")
        .await
        .unwrap();

    let duplicate = organizations::create(&app.state.db, &operator, " Lab ", "").await;
    let empty = organizations::create(&app.state.db, &operator, "  ", "").await;
    let long = organizations::create(&app.state.db, &operator, &"x".repeat(101), "").await;

    assert!(matches!(duplicate, Err(AppError::Conflict { ref field, .. }) if field == "name"));
    assert!(matches!(empty, Err(AppError::Invalid { ref field, .. }) if field == "name"));
    assert!(matches!(long, Err(AppError::Invalid { ref field, .. }) if field == "name"));
}

#[tokio::test]
async fn names_that_read_the_same_in_nfkc_form_or_another_case_are_one_name() {
    let app = spawn_app().await;
    let operator = Actor::operator();
    let lab = organizations::create(&app.state.db, &operator, "Lab", "")
        .await
        .unwrap();
    let other = organizations::create(&app.state.db, &operator, "Library", "")
        .await
        .unwrap();

    for same in ["\u{FF2C}\u{FF41}\u{FF42}", "LAB", "lab"] {
        let created = organizations::create(&app.state.db, &operator, same, "").await;
        assert!(
            matches!(created, Err(AppError::Conflict { ref field, .. }) if field == "name"),
            "{same:?}: {created:?}"
        );
        let renamed = organizations::update(&app.state.db, &operator, other.id, same, "").await;
        assert!(
            matches!(renamed, Err(AppError::Conflict { ref field, .. }) if field == "name"),
            "{same:?}: {renamed:?}"
        );
    }
    // An organization may change the case of its own name.
    organizations::update(&app.state.db, &operator, lab.id, "LAB", "")
        .await
        .unwrap();
}

#[tokio::test]
async fn a_look_alike_name_made_with_invisible_or_text_direction_characters_is_refused() {
    let app = spawn_app().await;
    let operator = Actor::operator();
    organizations::create(&app.state.db, &operator, "Lab", "")
        .await
        .unwrap();

    for sneaky in ["La\u{200B}b", "\u{202E}baL", "Lab\u{FEFF}"] {
        let refused = organizations::create(&app.state.db, &operator, sneaky, "").await;
        assert!(
            matches!(refused, Err(AppError::Invalid { ref field, ref message }) if field == "name" && message.contains("invisible")),
            "{sneaky:?}: {refused:?}"
        );
    }
}

#[tokio::test]
async fn an_organization_admin_edits_their_own_organization_and_no_other() {
    let app = spawn_app().await;
    let alice = app.create_user("alice", PASSWORD, false).await;
    app.create_user("bob", PASSWORD, false).await;
    let mine = app
        .create_organization("Mine", &[("alice", Role::Admin)])
        .await;
    let theirs = app
        .create_organization("Theirs", &[("bob", Role::Admin)])
        .await;
    let alice = actor(alice, "alice", false);

    let own = organizations::update(&app.state.db, &alice, mine.id, "Mine 2", "").await;
    let other = organizations::update(&app.state.db, &alice, theirs.id, "Stolen", "").await;
    let missing = organizations::update(&app.state.db, &alice, 9999, "Nope", "").await;

    assert_eq!(own.unwrap().name, "Mine 2");
    assert_eq!(other.unwrap_err(), AppError::Forbidden);
    // A missing organization looks the same as a foreign one: nothing is revealed.
    assert_eq!(missing.unwrap_err(), AppError::Forbidden);
}

#[tokio::test]
async fn a_member_cannot_manage_members() {
    let app = spawn_app().await;
    let bob = app.create_user("bob", PASSWORD, false).await;
    app.create_user("alice", PASSWORD, false).await;
    let org = app
        .create_organization("Lab", &[("alice", Role::Admin), ("bob", Role::Member)])
        .await;

    let result = organizations::set_member(
        &app.state.db,
        &actor(bob, "bob", false),
        org.id,
        &Username::parse("bob").unwrap(),
        Role::Admin,
    )
    .await;

    assert_eq!(result.unwrap_err(), AppError::Forbidden);
}

#[tokio::test]
async fn the_last_admin_can_neither_leave_nor_be_demoted() {
    let app = spawn_app().await;
    let alice = app.create_user("alice", PASSWORD, false).await;
    app.create_user("bob", PASSWORD, false).await;
    let org = app
        .create_organization("Lab", &[("alice", Role::Admin), ("bob", Role::Member)])
        .await;
    let operator = Actor::operator();

    let leave = organizations::remove_member(&app.state.db, &operator, org.id, alice).await;
    let demote = organizations::set_member(
        &app.state.db,
        &operator,
        org.id,
        &Username::parse("alice").unwrap(),
        Role::Member,
    )
    .await;

    assert!(matches!(leave, Err(AppError::Conflict { .. })));
    assert!(matches!(demote, Err(AppError::Conflict { .. })));

    organizations::set_member(
        &app.state.db,
        &operator,
        org.id,
        &Username::parse("bob").unwrap(),
        Role::Admin,
    )
    .await
    .unwrap();
    organizations::remove_member(&app.state.db, &operator, org.id, alice)
        .await
        .unwrap();
    let members = organizations::members_page(&app.state.db, &operator, org.id, "", 0)
        .await
        .unwrap()
        .items;
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].username, "bob");
}

#[tokio::test]
async fn adding_an_unknown_user_names_the_field() {
    let app = spawn_app().await;
    let org = app.create_organization("Lab", &[]).await;

    let result = organizations::set_member(
        &app.state.db,
        &Actor::operator(),
        org.id,
        &Username::parse("ghost").unwrap(),
        Role::Member,
    )
    .await;

    assert!(matches!(result, Err(AppError::Invalid { ref field, .. }) if field == "username"));
}

#[tokio::test]
async fn deleting_an_organization_takes_its_memberships_with_it() {
    let app = spawn_app().await;
    let alice = app.create_user("alice", PASSWORD, false).await;
    let org = app
        .create_organization("Lab", &[("alice", Role::Admin)])
        .await;
    let operator = Actor::operator();

    organizations::delete(&app.state.db, &operator, org.id, false)
        .await
        .unwrap();

    let left = organizations::list_for(&app.state.db, &actor(alice, "alice", false))
        .await
        .unwrap();
    assert!(left.is_empty());
    let again = organizations::delete(&app.state.db, &operator, org.id, false).await;
    assert_eq!(again.unwrap_err(), AppError::NotFound);
}
