//! `pxecloud import` / `export`: idempotent, all-or-nothing, with errors that say where.

use crate::helpers::spawn_app;
use app::server::{
    actor::Actor,
    services::{accounts, groups, images, menus, organizations},
};
use server::import;

const LAB: &str = include_str!("../fixtures/lab.toml");

#[tokio::test]
async fn an_import_creates_everything_it_describes() {
    let app = spawn_app().await;

    let report = import::apply(&app.state.db, &app.state.hasher, LAB)
        .await
        .unwrap();

    assert_eq!(report.organizations, 2);
    let operator = Actor::operator();
    let orgs = organizations::list_for(&app.state.db, &operator)
        .await
        .unwrap();
    let lab = orgs.iter().find(|o| o.name == "Lab").unwrap();
    assert_eq!(lab.member_count, 2);
    assert_eq!(lab.group_count, 2);
    let images = images::list(&app.state.db, &operator, lab.id)
        .await
        .unwrap();
    assert_eq!(images.len(), 2);
    let menu_id = menus::list_page(&app.state.db, &operator, lab.id, "", 0)
        .await
        .unwrap()
        .items[0]
        .id;
    let menu = menus::get(&app.state.db, &operator, lab.id, menu_id)
        .await
        .unwrap();
    assert_eq!(menu.entries.len(), 5);
    assert!(menu.entries[0].is_default);
    assert_eq!(menu.timeout_secs, Some(30));
    let students = groups::list_page(&app.state.db, &operator, lab.id, "", 0)
        .await
        .unwrap()
        .items;
    assert_eq!(
        students.iter().map(|g| g.member_count).collect::<Vec<_>>(),
        vec![1, 2]
    );
    let attempt = accounts::Attempt {
        username: "alice",
        password: "pass & 100% sure",
        client_address: None,
    };
    assert!(
        accounts::authenticate(
            &app.state.db,
            &app.state.hasher,
            &app.state.settings,
            attempt
        )
        .await
        .is_ok()
    );
}

#[tokio::test]
async fn importing_twice_changes_nothing() {
    let app = spawn_app().await;
    import::apply(&app.state.db, &app.state.hasher, LAB)
        .await
        .unwrap();
    let first = import::export(&app.state.db, true).await.unwrap();

    import::apply(&app.state.db, &app.state.hasher, LAB)
        .await
        .unwrap();

    assert_eq!(import::export(&app.state.db, true).await.unwrap(), first);
}

#[tokio::test]
async fn an_export_imports_into_an_empty_server_as_the_same_configuration() {
    let source = spawn_app().await;
    import::apply(&source.state.db, &source.state.hasher, LAB)
        .await
        .unwrap();
    let exported = import::export(&source.state.db, true).await.unwrap();

    let target = spawn_app().await;
    import::apply(&target.state.db, &target.state.hasher, &exported)
        .await
        .unwrap();

    assert_eq!(
        import::export(&target.state.db, true).await.unwrap(),
        exported
    );
}

#[tokio::test]
async fn an_export_leaves_out_password_hashes_unless_asked() {
    let app = spawn_app().await;
    import::apply(&app.state.db, &app.state.hasher, LAB)
        .await
        .unwrap();

    assert!(
        !import::export(&app.state.db, false)
            .await
            .unwrap()
            .contains("$argon2")
    );
    assert!(
        import::export(&app.state.db, true)
            .await
            .unwrap()
            .contains("password_hash = \"$argon2id$")
    );
}

async fn error_of(text: &str) -> String {
    let app = spawn_app().await;
    let error = import::apply(&app.state.db, &app.state.hasher, text)
        .await
        .unwrap_err()
        .to_string();
    // Nothing of a failed import remains.
    assert!(
        organizations::list_for(&app.state.db, &Actor::operator())
            .await
            .unwrap()
            .is_empty()
    );
    error
}

#[tokio::test]
async fn a_bad_value_is_reported_with_its_line_and_field_and_nothing_is_imported() {
    let text = LAB.replace(
        "kernel = \"http://10.0.2.2:9000/linux\"",
        "kernel = \"ftp://x/linux\"",
    );

    let error = error_of(&text).await;

    assert_eq!(
        error,
        "line 20: organizations[0].images[0].kernel: A URL starts with http:// or https://."
    );
}

#[tokio::test]
async fn a_bad_boot_argument_names_its_row() {
    let text = LAB.replace("\"priority=low\"", "\"two words\"");

    let error = error_of(&text).await;

    assert!(
        error.starts_with("line 22: organizations[0].images[0].args[1]: "),
        "{error}"
    );
}

#[tokio::test]
async fn unknown_references_and_keys_are_named() {
    let unknown_image =
        error_of(&LAB.replace("{ image = \"Rescue ISO\" }", "{ image = \"Nope\" }")).await;
    let unknown_member =
        error_of(&LAB.replace("members = [\"alice\"]", "members = [\"zed\"]")).await;
    let unknown_key =
        error_of(&LAB.replace("description = \"The physics lab\"", "descripton = \"x\"")).await;
    let broken = error_of("[[users]\nusername = 1").await;

    assert!(
        unknown_image.contains("organizations[0].menus[0].entries[2].image: no image `Nope`"),
        "{unknown_image}"
    );
    assert!(
        unknown_member.contains("organizations[0].groups[1].members[0]: no user `zed`"),
        "{unknown_member}"
    );
    assert!(
        unknown_key.starts_with("line ") && unknown_key.contains("descripton"),
        "{unknown_key}"
    );
    assert!(broken.starts_with("line 1: "), "{broken}");
}

#[tokio::test]
async fn a_new_user_without_a_password_is_refused() {
    let error = error_of("[[users]]\nusername = \"zed\"\n").await;

    assert_eq!(
        error,
        "line 1: users[0]: a new user needs `password` or `password_hash`"
    );
}

#[tokio::test]
async fn an_imported_hash_costlier_than_the_servers_is_refused_with_its_line() {
    let error = error_of(
        "[[users]]\nusername = \"zed\"\npassword_hash = \"$argon2id$v=19$m=4194304,t=50,p=1$c29tZXNhbHRzb21lc2FsdA$dGhpcnR5dHdvYnl0ZXNvZm91dHB1dHRoaXJ0eXR3bw\"\n",
    )
    .await;

    assert!(
        error.starts_with(
            "line 3: users[0].password_hash: its argon2 parameters (m=4194304, t=50, p=1) cost more"
        ),
        "{error}"
    );
}

/// Lab as in the fixture, with these members and no images, menus or groups (which an import
/// then leaves alone).
fn lab_with_members(members: &str) -> String {
    format!(
        "[[organizations]]\nname = \"Lab\"\ndescription = \"The physics lab\"\nmembers = [{members}]\n"
    )
}

#[tokio::test]
async fn an_import_cannot_take_away_an_organizations_last_admin() {
    let app = spawn_app().await;
    import::apply(&app.state.db, &app.state.hasher, LAB)
        .await
        .unwrap();

    let error = import::apply(
        &app.state.db,
        &app.state.hasher,
        &lab_with_members(
            r#"{ user = "alice", role = "member" }, { user = "bob", role = "member" }"#,
        ),
    )
    .await
    .unwrap_err()
    .to_string();

    assert_eq!(
        error,
        "line 4: organizations[0].members: An organization keeps at least one admin; make someone else admin first."
    );
    let lab = organizations::list_for(&app.state.db, &Actor::operator())
        .await
        .unwrap()
        .into_iter()
        .find(|o| o.name == "Lab")
        .unwrap();
    let members = organizations::members_page(&app.state.db, &Actor::operator(), lab.id, "", 0)
        .await
        .unwrap()
        .items;
    assert!(
        members
            .iter()
            .any(|m| m.username == "alice" && m.role == app::model::Role::Admin)
    );
}

#[tokio::test]
async fn a_member_an_import_removes_leaves_the_organizations_groups() {
    let app = spawn_app().await;
    import::apply(&app.state.db, &app.state.hasher, LAB)
        .await
        .unwrap();

    import::apply(
        &app.state.db,
        &app.state.hasher,
        &lab_with_members(r#"{ user = "alice", role = "admin" }"#),
    )
    .await
    .unwrap();

    let operator = Actor::operator();
    let lab = organizations::list_for(&app.state.db, &operator)
        .await
        .unwrap()
        .into_iter()
        .find(|o| o.name == "Lab")
        .unwrap();
    let student_counts: Vec<u64> = groups::list_page(&app.state.db, &operator, lab.id, "", 0)
        .await
        .unwrap()
        .items
        .iter()
        .map(|g| g.member_count)
        .collect();
    // Students had alice and bob, Staff alice: bob left both with the organization.
    assert_eq!(student_counts, vec![1, 1]);
}

#[tokio::test]
async fn an_imported_description_is_bounded_like_the_forms() {
    let long = "x".repeat(app::forms::DESCRIPTION_MAX + 1);
    let organization = error_of(&LAB.replace(
        "description = \"The physics lab\"",
        &format!("description = \"{long}\""),
    ))
    .await;
    let group = error_of(&LAB.replace(
        "name = \"Staff\"",
        &format!("name = \"Staff\"\ndescription = \"{long}\""),
    ))
    .await;

    assert_eq!(
        organization,
        "line 14: organizations[0].description: A description has at most 2000 characters."
    );
    assert!(
        group.ends_with(
            "organizations[0].groups[1].description: A description has at most 2000 characters."
        ),
        "{group}"
    );
}

#[tokio::test]
async fn an_import_cannot_take_away_the_last_server_admin() {
    let app = spawn_app().await;
    app.create_user("root", "root's password", true).await;

    let error = import::apply(
        &app.state.db,
        &app.state.hasher,
        "[[users]]\nusername = \"root\"\n",
    )
    .await
    .unwrap_err()
    .to_string();
    // Handing the right to another account in the same file is fine.
    let handed_over = import::apply(
        &app.state.db,
        &app.state.hasher,
        "[[users]]\nusername = \"root\"\n\n[[users]]\nusername = \"next\"\npassword = \"next's password\"\nadmin = true\n",
    )
    .await;

    assert_eq!(
        error,
        "line 1: users[0].admin: This is the last active server admin; make someone else server admin first."
    );
    assert!(handed_over.is_ok(), "{handed_over:?}");
}

#[tokio::test]
async fn importing_while_an_editor_holds_a_menu_makes_the_editors_next_save_a_conflict() {
    let app = spawn_app().await;
    let db = &app.state.db;
    let operator = Actor::operator();
    import::apply(db, &app.state.hasher, LAB).await.unwrap();
    let lab = organizations::list_for(db, &operator)
        .await
        .unwrap()
        .into_iter()
        .find(|o| o.name == "Lab")
        .unwrap();
    let menu_id = menus::list_page(db, &operator, lab.id, "", 0)
        .await
        .unwrap()
        .items[0]
        .id;
    // The editor opens the menu.
    let held = menus::get(db, &operator, lab.id, menu_id).await.unwrap();

    // Importing the same file again changes nothing, so the editor may still save...
    import::apply(db, &app.state.hasher, LAB).await.unwrap();
    let unchanged = menus::get(db, &operator, lab.id, menu_id).await.unwrap();
    // ...but a file that changes the menu moves its version on.
    import::apply(
        db,
        &app.state.hasher,
        &LAB.replace("timeout = 30", "timeout = 20"),
    )
    .await
    .unwrap();
    let saved = menus::save(
        db,
        &operator,
        lab.id,
        menu_id,
        held.version,
        None,
        &held.entries,
    )
    .await;

    assert_eq!(unchanged.version, held.version);
    match saved {
        Err(app::error::AppError::Conflict { field, .. }) => assert_eq!(field, "version"),
        other => panic!("the editor's save should conflict: {other:?}"),
    }
}
