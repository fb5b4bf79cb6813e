//! Images, menus and groups: organization admins manage their own, nobody reaches another's.

use crate::helpers::{TestApp, spawn_app};
use app::{
    boot::{MenuAction, MenuEntry, MenuItem},
    error::AppError,
    model::Role,
    server::{
        actor::Actor,
        services::{
            groups::{self, GroupForm},
            images::{self, ImageForm},
            menus::{self, MenuSettings},
            organizations,
        },
    },
    validate::Username,
};

const PASSWORD: &str = "correct horse battery";

struct Lab {
    app: TestApp,
    org: i32,
    other_org: i32,
    admin: Actor,
    member: Actor,
    outsider: Actor,
}

async fn lab() -> Lab {
    let app = spawn_app().await;
    let admin_id = app.create_user("alice", PASSWORD, false).await;
    let member_id = app.create_user("bob", PASSWORD, false).await;
    let outsider_id = app.create_user("mallory", PASSWORD, false).await;
    let org = app
        .create_organization("Lab", &[("alice", Role::Admin), ("bob", Role::Member)])
        .await
        .id;
    let other_org = app
        .create_organization("Elsewhere", &[("mallory", Role::Admin)])
        .await
        .id;
    let actor = |id, name: &str| Actor {
        user_id: Some(id),
        username: name.into(),
        is_server_admin: false,
    };
    Lab {
        admin: actor(admin_id, "alice"),
        member: actor(member_id, "bob"),
        outsider: actor(outsider_id, "mallory"),
        app,
        org,
        other_org,
    }
}

fn debian() -> ImageForm {
    ImageForm {
        title: "Debian installer".into(),
        kind: "kernel_initrd".into(),
        kernel_url: "http://boot.lan/linux".into(),
        image_url: "http://boot.lan/initrd.gz".into(),
        iso_boot: String::new(),
        args: vec!["console=ttyS0".into(), "priority=low".into()],
        iso_url: String::new(),
    }
}

fn settings(title: &str) -> MenuSettings {
    MenuSettings {
        title: title.into(),
        ..MenuSettings::default()
    }
}

fn entry(item: MenuItem) -> MenuEntry {
    MenuEntry {
        item,
        is_default: false,
    }
}

#[tokio::test]
async fn an_organization_admin_manages_images_and_others_are_refused() {
    let lab = lab().await;
    let db = &lab.app.state.db;

    let image = images::create(db, &lab.admin, lab.org, &debian())
        .await
        .unwrap();

    assert_eq!(image.args.to_strings(), ["console=ttyS0", "priority=low"]);
    assert_eq!(
        images::create(db, &lab.member, lab.org, &debian())
            .await
            .unwrap_err(),
        AppError::Forbidden
    );
    assert_eq!(
        images::list(db, &lab.outsider, lab.org).await.unwrap_err(),
        AppError::Forbidden
    );
    // The outsider's own organization does not lend them this image either.
    assert_eq!(
        images::get(db, &lab.outsider, lab.other_org, image.id)
            .await
            .unwrap_err(),
        AppError::NotFound
    );
    let duplicate = images::create(db, &lab.admin, lab.org, &debian()).await;
    assert!(matches!(duplicate, Err(AppError::Conflict { ref field, .. }) if field == "title"));
}

#[tokio::test]
async fn menu_entries_are_saved_in_order_and_a_stale_save_is_refused() {
    let lab = lab().await;
    let db = &lab.app.state.db;
    let image = images::create(db, &lab.admin, lab.org, &debian())
        .await
        .unwrap();
    let menu = menus::create(db, &lab.admin, lab.org, &settings("Main"))
        .await
        .unwrap();
    let entries = vec![
        entry(MenuItem::Separator {
            text: "Installers".into(),
        }),
        MenuEntry {
            item: MenuItem::Image { image_id: image.id },
            is_default: true,
        },
        entry(MenuItem::Action {
            action: MenuAction::LocalDisk,
            url: None,
        }),
    ];

    let saved = menus::save(
        db,
        &lab.admin,
        lab.org,
        menu.id,
        menu.version,
        None,
        &entries,
    )
    .await
    .unwrap();
    let stale = menus::save(db, &lab.admin, lab.org, menu.id, menu.version, None, &[]).await;

    assert_eq!(saved.entries, entries);
    assert_eq!(saved.version, menu.version + 1);
    assert!(matches!(stale, Err(AppError::Conflict { ref field, .. }) if field == "version"));
    let reloaded = menus::get(db, &lab.admin, lab.org, menu.id).await.unwrap();
    assert_eq!(reloaded.entries, entries, "the stale save changed nothing");
}

#[tokio::test]
async fn a_menu_cannot_show_another_organizations_image() {
    let lab = lab().await;
    let db = &lab.app.state.db;
    let foreign = images::create(db, &lab.outsider, lab.other_org, &debian())
        .await
        .unwrap();
    let menu = menus::create(db, &lab.admin, lab.org, &settings("Main"))
        .await
        .unwrap();

    let result = menus::save(
        db,
        &lab.admin,
        lab.org,
        menu.id,
        menu.version,
        None,
        &[entry(MenuItem::Image {
            image_id: foreign.id,
        })],
    )
    .await;

    assert!(matches!(result, Err(AppError::Invalid { ref field, .. }) if field == "entries.1"));
}

#[tokio::test]
async fn bad_entries_are_named_by_position() {
    let lab = lab().await;
    let db = &lab.app.state.db;
    let menu = menus::create(db, &lab.admin, lab.org, &settings("Main"))
        .await
        .unwrap();
    let save = |entries: Vec<MenuEntry>| {
        let admin = lab.admin.clone();
        async move { menus::save(db, &admin, lab.org, menu.id, menu.version, None, &entries).await }
    };

    let chain_without_url = save(vec![
        entry(MenuItem::Action {
            action: MenuAction::Reboot,
            url: None,
        }),
        entry(MenuItem::Action {
            action: MenuAction::Chain,
            url: None,
        }),
    ])
    .await;
    let chain_with_space = save(vec![entry(MenuItem::Action {
        action: MenuAction::Chain,
        url: Some("http://x/a b".into()),
    })])
    .await;
    let two_defaults = save(vec![
        MenuEntry {
            item: MenuItem::Action {
                action: MenuAction::Reboot,
                url: None,
            },
            is_default: true,
        },
        MenuEntry {
            item: MenuItem::Action {
                action: MenuAction::Shell,
                url: None,
            },
            is_default: true,
        },
    ])
    .await;
    let multiline_separator = save(vec![entry(MenuItem::Separator {
        text: "a\nb".into(),
    })])
    .await;

    assert!(
        matches!(chain_without_url, Err(AppError::Invalid { ref field, .. }) if field == "entries.2")
    );
    assert!(
        matches!(chain_with_space, Err(AppError::Invalid { ref field, .. }) if field == "entries.1")
    );
    assert!(matches!(two_defaults, Err(AppError::Invalid { ref field, .. }) if field == "entries"));
    assert!(
        matches!(multiline_separator, Err(AppError::Invalid { ref field, .. }) if field == "entries.1")
    );
}

#[tokio::test]
async fn deleting_an_image_removes_it_from_menus_and_says_which_first() {
    let lab = lab().await;
    let db = &lab.app.state.db;
    let image = images::create(db, &lab.admin, lab.org, &debian())
        .await
        .unwrap();
    let menu = menus::create(db, &lab.admin, lab.org, &settings("Main"))
        .await
        .unwrap();
    menus::save(
        db,
        &lab.admin,
        lab.org,
        menu.id,
        menu.version,
        None,
        &[
            entry(MenuItem::Image { image_id: image.id }),
            entry(MenuItem::Action {
                action: MenuAction::Reboot,
                url: None,
            }),
        ],
    )
    .await
    .unwrap();

    assert_eq!(
        images::menus_using(db, &lab.admin, lab.org, image.id)
            .await
            .unwrap(),
        vec!["Main"]
    );
    images::delete(db, &lab.admin, lab.org, image.id)
        .await
        .unwrap();

    let menu = menus::get(db, &lab.admin, lab.org, menu.id).await.unwrap();
    assert_eq!(menu.entries.len(), 1);
}

#[tokio::test]
async fn groups_take_only_the_organizations_menus_and_members() {
    let lab = lab().await;
    let db = &lab.app.state.db;
    let foreign_menu = menus::create(db, &lab.outsider, lab.other_org, &settings("Theirs"))
        .await
        .unwrap();
    let menu = menus::create(db, &lab.admin, lab.org, &settings("Main"))
        .await
        .unwrap();

    let with_foreign_menu = groups::create(
        db,
        &lab.admin,
        lab.org,
        &GroupForm {
            name: "Students".into(),
            description: String::new(),
            menu_id: Some(foreign_menu.id),
        },
    )
    .await;
    let group = groups::create(
        db,
        &lab.admin,
        lab.org,
        &GroupForm {
            name: "Students".into(),
            description: String::new(),
            menu_id: Some(menu.id),
        },
    )
    .await
    .unwrap();
    let with_outsider = groups::set_members(
        db,
        &lab.admin,
        lab.org,
        group.id,
        &[
            Username::parse("bob").unwrap(),
            Username::parse("mallory").unwrap(),
        ],
    )
    .await;
    groups::set_members(
        db,
        &lab.admin,
        lab.org,
        group.id,
        &[Username::parse("bob").unwrap()],
    )
    .await
    .unwrap();

    assert!(
        matches!(with_foreign_menu, Err(AppError::Invalid { ref field, .. }) if field == "menu_id")
    );
    assert!(
        matches!(with_outsider, Err(AppError::Invalid { ref field, .. }) if field == "members")
    );
    assert_eq!(
        groups::members(db, &lab.admin, lab.org, group.id)
            .await
            .unwrap(),
        vec!["bob"]
    );
}

#[tokio::test]
async fn a_member_sees_the_menu_of_their_group_and_nothing_else() {
    let lab = lab().await;
    let db = &lab.app.state.db;
    let menu = menus::create(db, &lab.admin, lab.org, &settings("Main"))
        .await
        .unwrap();
    let theirs = groups::create(
        db,
        &lab.admin,
        lab.org,
        &GroupForm {
            name: "Students".into(),
            description: String::new(),
            menu_id: Some(menu.id),
        },
    )
    .await
    .unwrap();
    let staff = groups::create(
        db,
        &lab.admin,
        lab.org,
        &GroupForm {
            name: "Staff".into(),
            description: String::new(),
            menu_id: Some(menu.id),
        },
    )
    .await
    .unwrap();
    groups::set_members(
        db,
        &lab.admin,
        lab.org,
        theirs.id,
        &[Username::parse("bob").unwrap()],
    )
    .await
    .unwrap();

    let own = groups::of_member(db, &lab.member, lab.org).await.unwrap();
    let booted = groups::menu_for_member(db, &lab.member, lab.org, theirs.id)
        .await
        .unwrap();
    let other_group = groups::menu_for_member(db, &lab.member, lab.org, staff.id).await;
    let outsider = groups::menu_for_member(db, &lab.outsider, lab.org, theirs.id).await;

    assert_eq!(
        own.iter().map(|g| g.name.as_str()).collect::<Vec<_>>(),
        vec!["Students"]
    );
    assert_eq!(booted.unwrap().title, "Main");
    assert_eq!(other_group.unwrap_err(), AppError::NotFound);
    assert_eq!(outsider.unwrap_err(), AppError::Forbidden);
}

#[tokio::test]
async fn an_organization_with_contents_is_deleted_only_when_confirmed() {
    let lab = lab().await;
    let db = &lab.app.state.db;
    images::create(db, &lab.admin, lab.org, &debian())
        .await
        .unwrap();
    let operator = Actor::operator();

    let refused = organizations::delete(db, &operator, lab.org, false).await;
    assert!(matches!(refused, Err(AppError::Conflict { .. })));
    organizations::delete(db, &operator, lab.org, true)
        .await
        .unwrap();

    assert_eq!(images::list(db, &operator, lab.org).await.unwrap(), vec![]);
}
