//! Every server function × every kind of caller, as one table: the allowed callers get their
//! answer, everyone else is refused (401 or 403) with a bare error that reveals nothing and
//! changes nothing. A server function without a row fails the test.

use crate::helpers::{Origin, TestApp, client, library_file, spawn_app_with};
use app::{
    boot::{MenuAction, MenuEntry, MenuItem},
    forms::{ImageForm, MenuSettings},
    model::Role,
    server::{
        actor::Actor,
        entities::{invitation, user},
        services::{groups, images, invitations, loader_sets, menus, organizations},
    },
    validate::Username,
};
use reqwest::{StatusCode, header};
use sea_orm::{EntityTrait, QueryOrder};
use serde_json::{Value, json};
use std::{
    collections::BTreeSet,
    future::Future,
    pin::Pin,
    sync::atomic::{AtomicUsize, Ordering},
};

const PASSWORD: &str = "correct horse battery";

/// Who calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    ServerAdmin,
    OrganizationAdmin,
    Member,
    /// The admin of another organization.
    Outsider,
    Anonymous,
}

use Caller::*;

const EVERYONE_SIGNED_IN: &[Caller] = &[ServerAdmin, OrganizationAdmin, Member, Outsider];
const SERVER_ADMIN: &[Caller] = &[ServerAdmin];
const ORGANIZATION_ADMINS: &[Caller] = &[ServerAdmin, OrganizationAdmin];

/// Endpoints outside the table, each tested on its own: they serve anonymous callers on
/// purpose (sign-in, sign-out, who am I).
const PUBLIC: &[&str] = &["login", "logout", "current_user"];

/// The arguments of one call: form fields, or a JSON object for the JSON-encoded functions.
enum Args {
    Form(Vec<(&'static str, String)>),
    Json(Value),
    /// A multipart form: a set's name and one file.
    Upload {
        name: String,
    },
}

type ArgsFuture<'a> = Pin<Box<dyn Future<Output = Args> + 'a>>;

/// One server function: who may call it, and how to build a call's arguments (creating, for
/// destructive calls, a fresh thing to act on).
struct Row {
    endpoint: &'static str,
    allowed: &'static [Caller],
    args: for<'a> fn(&'a World, Caller) -> ArgsFuture<'a>,
}

/// An organization with an admin, a member, an image, a menu and a group; an outsider who
/// administers another organization; a server admin; a signed-in client for each.
struct World {
    app: TestApp,
    /// Serves files to fetch (any name under `/files/`).
    origin: Origin,
    org: i32,
    image: i32,
    menu: i32,
    group: i32,
    member: i32,
    counter: AtomicUsize,
    clients: Vec<(Caller, reqwest::Client)>,
}

impl World {
    fn unique(&self, prefix: &str) -> String {
        format!("{prefix}{}", self.counter.fetch_add(1, Ordering::Relaxed))
    }

    fn client(&self, caller: Caller) -> &reqwest::Client {
        &self
            .clients
            .iter()
            .find(|(c, _)| *c == caller)
            .expect("a client per caller")
            .1
    }

    async fn fresh_user(&self) -> i32 {
        let name = self.unique("user");
        self.app.create_user(&name, PASSWORD, false).await
    }

    async fn fresh_member(&self) -> i32 {
        let name = self.unique("member");
        let id = self.app.create_user(&name, PASSWORD, false).await;
        organizations::set_member(
            &self.app.state.db,
            &Actor::operator(),
            self.org,
            &Username::parse(&name).unwrap(),
            Role::Member,
        )
        .await
        .unwrap();
        id
    }

    /// A file of the organization.
    async fn fresh_file(&self) -> i32 {
        library_file(&self.app, self.org, &self.unique("file-"), b"ab").await
    }

    /// A fetch of the organization that nobody runs yet; its upload id.
    async fn fresh_fetch(&self) -> String {
        let new = app::server::services::fetch::NewFetch {
            organization_id: self.org,
            url: self.origin.url("/files/fetched.iso"),
            name: self.unique("fetch-"),
            ..Default::default()
        };
        let fetcher = self.app.state.fetcher().unwrap();
        app::server::services::fetch::start(&self.app.state.db, &fetcher, &Actor::operator(), new)
            .await
            .unwrap()
            .id
    }

    /// A recognised ISO of the organization (a Debian-live-like image), under a new name, so
    /// each call makes its own image.
    async fn fresh_iso(&self) -> i32 {
        let bytes = crate::helpers::make_iso(
            "d-live 12.5.0 gn amd64",
            &[
                ("live/vmlinuz-6.1.0-18-amd64", b"kernel"),
                ("live/initrd.img-6.1.0-18-amd64", b"initrd"),
                ("live/filesystem.squashfs", b"root"),
                (
                    ".disk/info",
                    b"Debian GNU/Linux 12.5.0 - Official amd64 LIVE",
                ),
            ],
        );
        let name = format!("{}.iso", self.unique("live-"));
        library_file(&self.app, self.org, &name, &bytes).await
    }

    async fn fresh_image(&self) -> i32 {
        images::create(
            &self.app.state.db,
            &Actor::operator(),
            self.org,
            &image_form(&self.unique("Image ")),
        )
        .await
        .unwrap()
        .id
    }

    async fn fresh_menu(&self) -> i32 {
        menus::create(
            &self.app.state.db,
            &Actor::operator(),
            self.org,
            &menu_settings(&self.unique("Menu ")),
        )
        .await
        .unwrap()
        .id
    }

    async fn fresh_group(&self) -> i32 {
        let form = groups::GroupForm {
            name: self.unique("Group "),
            ..Default::default()
        };
        groups::create(&self.app.state.db, &Actor::operator(), self.org, &form)
            .await
            .unwrap()
            .id
    }

    /// Invites `name` into `organization_id` (as the operator) and answers the invitation's id.
    async fn invitation(&self, organization_id: i32, name: &str) -> i32 {
        let db = &self.app.state.db;
        let username = Username::parse(name).unwrap();
        invitations::invite(
            db,
            &Actor::operator(),
            organization_id,
            &username,
            Role::Member,
        )
        .await
        .unwrap();
        invitations::pending(db, &Actor::operator(), organization_id)
            .await
            .unwrap()
            .into_iter()
            .find(|row| row.username == username.as_str())
            .expect("the invitation just made")
            .id
    }

    /// An invitation for `caller` into an organization of its own, which accepting it does
    /// not make the caller a member of the fixture's organizations.
    async fn invitation_for(&self, caller: Caller) -> i32 {
        let org = self
            .app
            .create_organization(&self.unique("Inviting "), &[])
            .await
            .id;
        self.invitation(org, name_of(caller)).await
    }

    /// Everything a refused call must leave alone.
    async fn snapshot(&self) -> String {
        let db = &self.app.state.db;
        let users: Vec<(i32, bool)> = user::Entity::find()
            .order_by_asc(user::Column::Id)
            .all(db)
            .await
            .unwrap()
            .into_iter()
            .map(|u| (u.id, u.is_disabled))
            .collect();
        let invitations: Vec<(i32, i32, String)> = invitation::Entity::find()
            .order_by_asc(invitation::Column::Id)
            .all(db)
            .await
            .unwrap()
            .into_iter()
            .map(|i| (i.id, i.organization_id, i.username))
            .collect();
        let export = server::import::export(db, true).await.unwrap();
        format!("{export}\n{users:?}\n{invitations:?}")
    }
}

/// The name each caller signs in with (the anonymous caller has none; any name will do).
fn name_of(caller: Caller) -> &'static str {
    match caller {
        ServerAdmin => "root",
        OrganizationAdmin => "alice",
        Member => "bob",
        Outsider => "mallory",
        Anonymous => "nobody",
    }
}

fn image_form(title: &str) -> ImageForm {
    ImageForm {
        title: title.into(),
        kind: "kernel_initrd".into(),
        kernel_url: "http://boot.lan/linux".into(),
        image_url: "http://boot.lan/initrd.gz".into(),
        iso_boot: String::new(),
        args: vec!["quiet".into()],
        iso_url: String::new(),
    }
}

fn menu_settings(title: &str) -> MenuSettings {
    MenuSettings {
        title: title.into(),
        ..MenuSettings::default()
    }
}

async fn world() -> World {
    let app = spawn_app_with(|settings| {
        settings.fetch_allow = vec![app::server::net::Network::parse("127.0.0.1/32").unwrap()];
    })
    .await;
    let origin = Origin::start().await;
    origin.set("fetched.iso", b"fetched bytes");
    app.create_user("root", PASSWORD, true).await;
    app.create_user("alice", PASSWORD, false).await;
    let member = app.create_user("bob", PASSWORD, false).await;
    app.create_user("mallory", PASSWORD, false).await;
    let org = app
        .create_organization("Lab", &[("alice", Role::Admin), ("bob", Role::Member)])
        .await
        .id;
    app.create_organization("Other", &[("mallory", Role::Admin)])
        .await;
    let operator = Actor::operator();
    let db = &app.state.db;
    let image = images::create(db, &operator, org, &image_form("Debian"))
        .await
        .unwrap()
        .id;
    let menu = menus::create(db, &operator, org, &menu_settings("Main"))
        .await
        .unwrap()
        .id;
    let form = groups::GroupForm {
        name: "Students".into(),
        description: String::new(),
        menu_id: Some(menu),
    };
    let group = groups::create(db, &operator, org, &form).await.unwrap().id;

    let mut clients = vec![(Anonymous, client())];
    for caller in [ServerAdmin, OrganizationAdmin, Member, Outsider] {
        let name = name_of(caller);
        let signed_in = client();
        let response = signed_in
            .post(app.url("/api/login"))
            .header(header::ACCEPT, "application/json")
            .form(&[("username", name), ("password", PASSWORD)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{name} signs in");
        clients.push((caller, signed_in));
    }
    World {
        app,
        origin,
        org,
        image,
        menu,
        group,
        member,
        counter: AtomicUsize::new(0),
        clients,
    }
}

fn form(fields: &[(&'static str, &dyn ToString)]) -> Args {
    Args::Form(fields.iter().map(|(k, v)| (*k, v.to_string())).collect())
}

fn table() -> Vec<Row> {
    vec![
        // The signed-in user's own things.
        Row {
            endpoint: "my_organizations",
            allowed: EVERYONE_SIGNED_IN,
            args: |_, _| Box::pin(async { form(&[]) }),
        },
        Row {
            endpoint: "change_password",
            allowed: EVERYONE_SIGNED_IN,
            // Each caller changes their own password once, to a new one each time.
            args: |w, _| {
                Box::pin(async move {
                    let new = w.unique("new password ");
                    form(&[("current", &PASSWORD), ("new", &new), ("confirm", &new)])
                })
            },
        },
        // Organizations.
        Row {
            endpoint: "organization",
            allowed: ORGANIZATION_ADMINS,
            args: |w, _| Box::pin(async move { form(&[("organization_id", &w.org)]) }),
        },
        Row {
            endpoint: "create_organization",
            allowed: SERVER_ADMIN,
            args: |w, _| {
                Box::pin(async move { form(&[("name", &w.unique("Org ")), ("description", &"")]) })
            },
        },
        Row {
            endpoint: "update_organization",
            allowed: ORGANIZATION_ADMINS,
            args: |w, _| {
                Box::pin(async move {
                    form(&[
                        ("organization_id", &w.org),
                        ("name", &"Lab"),
                        ("description", &"The lab"),
                    ])
                })
            },
        },
        Row {
            endpoint: "delete_organization",
            allowed: SERVER_ADMIN,
            args: |w, _| {
                Box::pin(async move {
                    let org = organizations::create(
                        &w.app.state.db,
                        &Actor::operator(),
                        &w.unique("Doomed "),
                        "",
                    )
                    .await
                    .unwrap();
                    form(&[("organization_id", &org.id), ("cascade", &true)])
                })
            },
        },
        // Accounts.
        Row {
            endpoint: "users",
            allowed: SERVER_ADMIN,
            args: |_, _| Box::pin(async { form(&[("filter", &""), ("page", &0)]) }),
        },
        // The boot server.
        Row {
            endpoint: "network_boot",
            allowed: SERVER_ADMIN,
            args: |_, _| Box::pin(async { form(&[("address", &"")]) }),
        },
        Row {
            endpoint: "add_loader_set",
            allowed: SERVER_ADMIN,
            args: |w, _| {
                Box::pin(async move {
                    Args::Upload {
                        name: w.unique("set"),
                    }
                })
            },
        },
        Row {
            endpoint: "delete_loader_set",
            allowed: SERVER_ADMIN,
            args: |w, _| {
                Box::pin(async move {
                    let id = loader_sets::create(
                        &w.app.state.db,
                        &Actor::operator(),
                        &w.unique("set"),
                        vec![loader_sets::NewFile {
                            name: "a.efi".into(),
                            content: b"MZ".to_vec(),
                        }],
                    )
                    .await
                    .unwrap();
                    form(&[("set_id", &id)])
                })
            },
        },
        Row {
            endpoint: "choose_loader",
            allowed: SERVER_ADMIN,
            args: |_, _| Box::pin(async { form(&[("arch", &"bios"), ("loader", &"")]) }),
        },
        Row {
            endpoint: "create_user",
            allowed: SERVER_ADMIN,
            args: |w, _| {
                Box::pin(async move {
                    form(&[
                        ("username", &w.unique("new")),
                        ("email", &""),
                        ("password", &PASSWORD),
                        ("server_admin", &false),
                    ])
                })
            },
        },
        Row {
            endpoint: "set_user_disabled",
            allowed: SERVER_ADMIN,
            args: |w, _| {
                Box::pin(
                    async move { form(&[("user_id", &w.fresh_user().await), ("disabled", &true)]) },
                )
            },
        },
        Row {
            endpoint: "set_server_admin",
            allowed: SERVER_ADMIN,
            args: |w, _| {
                Box::pin(
                    async move { form(&[("user_id", &w.fresh_user().await), ("admin", &true)]) },
                )
            },
        },
        Row {
            endpoint: "reset_password",
            allowed: SERVER_ADMIN,
            args: |w, _| {
                Box::pin(async move {
                    form(&[
                        ("user_id", &w.fresh_user().await),
                        ("password", &"another password"),
                    ])
                })
            },
        },
        // Members of the organization.
        Row {
            endpoint: "members",
            allowed: ORGANIZATION_ADMINS,
            args: |w, _| {
                Box::pin(async move {
                    form(&[("organization_id", &w.org), ("filter", &""), ("page", &0)])
                })
            },
        },
        Row {
            endpoint: "add_member",
            allowed: ORGANIZATION_ADMINS,
            args: |w, _| {
                Box::pin(async move {
                    let name = w.unique("joiner");
                    w.app.create_user(&name, PASSWORD, false).await;
                    form(&[
                        ("organization_id", &w.org),
                        ("username", &name),
                        ("role", &"member"),
                    ])
                })
            },
        },
        Row {
            endpoint: "create_member",
            allowed: ORGANIZATION_ADMINS,
            args: |w, _| {
                Box::pin(async move {
                    form(&[
                        ("organization_id", &w.org),
                        ("username", &w.unique("newbie")),
                        ("email", &""),
                        ("password", &PASSWORD),
                        ("role", &"member"),
                    ])
                })
            },
        },
        // Invitations.
        Row {
            endpoint: "invitations",
            allowed: ORGANIZATION_ADMINS,
            args: |w, _| Box::pin(async move { form(&[("organization_id", &w.org)]) }),
        },
        Row {
            endpoint: "cancel_invitation",
            allowed: ORGANIZATION_ADMINS,
            args: |w, _| {
                Box::pin(async move {
                    let id = w.invitation(w.org, &w.unique("invitee")).await;
                    form(&[("organization_id", &w.org), ("invitation_id", &id)])
                })
            },
        },
        Row {
            endpoint: "my_invitations",
            allowed: EVERYONE_SIGNED_IN,
            args: |_, _| Box::pin(async { form(&[]) }),
        },
        Row {
            endpoint: "accept_invitation",
            allowed: EVERYONE_SIGNED_IN,
            args: |w, caller| {
                Box::pin(async move { form(&[("invitation_id", &w.invitation_for(caller).await)]) })
            },
        },
        Row {
            endpoint: "decline_invitation",
            allowed: EVERYONE_SIGNED_IN,
            args: |w, caller| {
                Box::pin(async move { form(&[("invitation_id", &w.invitation_for(caller).await)]) })
            },
        },
        Row {
            endpoint: "set_member_role",
            allowed: ORGANIZATION_ADMINS,
            args: |w, _| {
                Box::pin(async move {
                    form(&[
                        ("organization_id", &w.org),
                        ("user_id", &w.fresh_member().await),
                        ("role", &"admin"),
                    ])
                })
            },
        },
        Row {
            endpoint: "remove_member",
            allowed: ORGANIZATION_ADMINS,
            args: |w, _| {
                Box::pin(async move {
                    form(&[
                        ("organization_id", &w.org),
                        ("user_id", &w.fresh_member().await),
                    ])
                })
            },
        },
        // Groups.
        Row {
            endpoint: "groups",
            allowed: ORGANIZATION_ADMINS,
            args: |w, _| {
                Box::pin(async move {
                    form(&[("organization_id", &w.org), ("filter", &""), ("page", &0)])
                })
            },
        },
        Row {
            endpoint: "group",
            allowed: ORGANIZATION_ADMINS,
            args: |w, _| {
                Box::pin(
                    async move { form(&[("organization_id", &w.org), ("group_id", &w.group)]) },
                )
            },
        },
        Row {
            endpoint: "create_group",
            allowed: ORGANIZATION_ADMINS,
            args: |w, _| {
                Box::pin(async move {
                    form(&[
                        ("organization_id", &w.org),
                        ("name", &w.unique("Group ")),
                        ("description", &""),
                        ("menu_id", &w.menu),
                    ])
                })
            },
        },
        Row {
            endpoint: "update_group",
            allowed: ORGANIZATION_ADMINS,
            args: |w, _| {
                Box::pin(async move {
                    form(&[
                        ("organization_id", &w.org),
                        ("group_id", &w.group),
                        ("name", &"Students"),
                        ("description", &"Everyone who studies"),
                        ("menu_id", &w.menu),
                    ])
                })
            },
        },
        Row {
            endpoint: "set_group_members",
            allowed: ORGANIZATION_ADMINS,
            args: |w, _| {
                Box::pin(async move {
                    Args::Json(json!({
                        "organization_id": w.org,
                        "group_id": w.group,
                        "usernames": ["bob", "alice"],
                    }))
                })
            },
        },
        Row {
            endpoint: "delete_group",
            allowed: ORGANIZATION_ADMINS,
            args: |w, _| {
                Box::pin(async move {
                    form(&[
                        ("organization_id", &w.org),
                        ("group_id", &w.fresh_group().await),
                    ])
                })
            },
        },
        Row {
            endpoint: "menu_choices",
            allowed: ORGANIZATION_ADMINS,
            args: |w, _| Box::pin(async move { form(&[("organization_id", &w.org)]) }),
        },
        // Images.
        Row {
            endpoint: "images",
            allowed: ORGANIZATION_ADMINS,
            args: |w, _| {
                Box::pin(async move {
                    form(&[("organization_id", &w.org), ("filter", &""), ("page", &0)])
                })
            },
        },
        Row {
            endpoint: "image",
            allowed: ORGANIZATION_ADMINS,
            args: |w, _| {
                Box::pin(
                    async move { form(&[("organization_id", &w.org), ("image_id", &w.image)]) },
                )
            },
        },
        Row {
            endpoint: "create_image",
            allowed: ORGANIZATION_ADMINS,
            args: |w, _| {
                Box::pin(async move {
                    Args::Json(json!({
                        "organization_id": w.org,
                        "form": image_form(&w.unique("Image ")),
                    }))
                })
            },
        },
        Row {
            endpoint: "update_image",
            allowed: ORGANIZATION_ADMINS,
            args: |w, _| {
                Box::pin(async move {
                    Args::Json(json!({
                        "organization_id": w.org,
                        "image_id": w.image,
                        "form": image_form("Debian"),
                    }))
                })
            },
        },
        Row {
            endpoint: "image_usage",
            allowed: ORGANIZATION_ADMINS,
            args: |w, _| {
                Box::pin(
                    async move { form(&[("organization_id", &w.org), ("image_id", &w.image)]) },
                )
            },
        },
        Row {
            endpoint: "delete_image",
            allowed: ORGANIZATION_ADMINS,
            args: |w, _| {
                Box::pin(async move {
                    form(&[
                        ("organization_id", &w.org),
                        ("image_id", &w.fresh_image().await),
                    ])
                })
            },
        },
        // Hosted files.
        Row {
            endpoint: "files",
            allowed: ORGANIZATION_ADMINS,
            args: |w, _| Box::pin(async move { form(&[("organization_id", &w.org)]) }),
        },
        Row {
            endpoint: "delete_file",
            allowed: ORGANIZATION_ADMINS,
            args: |w, _| Box::pin(async move { form(&[("file_id", &w.fresh_file().await)]) }),
        },
        Row {
            endpoint: "set_file_public",
            allowed: ORGANIZATION_ADMINS,
            args: |w, _| {
                Box::pin(
                    async move { form(&[("file_id", &w.fresh_file().await), ("public", &true)]) },
                )
            },
        },
        Row {
            endpoint: "create_image_from_iso",
            allowed: ORGANIZATION_ADMINS,
            args: |w, _| Box::pin(async move { form(&[("file_id", &w.fresh_iso().await)]) }),
        },
        Row {
            endpoint: "fetch_file",
            allowed: ORGANIZATION_ADMINS,
            args: |w, _| {
                Box::pin(async move {
                    form(&[
                        ("organization_id", &w.org),
                        ("url", &w.origin.url("/files/fetched.iso")),
                        ("name", &w.unique("fetched-")),
                        ("sha256", &""),
                        ("sums_url", &""),
                        ("public", &false),
                    ])
                })
            },
        },
        Row {
            endpoint: "retry_fetch",
            allowed: ORGANIZATION_ADMINS,
            args: |w, _| Box::pin(async move { form(&[("upload_id", &w.fresh_fetch().await)]) }),
        },
        Row {
            endpoint: "set_file_quota",
            allowed: SERVER_ADMIN,
            args: |w, _| {
                Box::pin(async move { form(&[("organization_id", &w.org), ("quota", &"50 GiB")]) })
            },
        },
        // Menus.
        Row {
            endpoint: "menus",
            allowed: ORGANIZATION_ADMINS,
            args: |w, _| {
                Box::pin(async move {
                    form(&[("organization_id", &w.org), ("filter", &""), ("page", &0)])
                })
            },
        },
        Row {
            endpoint: "create_menu",
            allowed: ORGANIZATION_ADMINS,
            args: |w, _| {
                Box::pin(async move {
                    form(&[
                        ("organization_id", &w.org),
                        ("title", &w.unique("Menu ")),
                        ("background_url", &""),
                        ("timeout_secs", &"10"),
                    ])
                })
            },
        },
        Row {
            endpoint: "menu_editor",
            allowed: ORGANIZATION_ADMINS,
            args: |w, _| {
                Box::pin(async move { form(&[("organization_id", &w.org), ("menu_id", &w.menu)]) })
            },
        },
        Row {
            endpoint: "save_menu",
            allowed: ORGANIZATION_ADMINS,
            args: |w, _| {
                Box::pin(async move {
                    let menu = menus::load(&w.app.state.db, w.org, w.menu).await.unwrap();
                    let entries = vec![
                        MenuEntry {
                            item: MenuItem::Image { image_id: w.image },
                            is_default: true,
                        },
                        MenuEntry {
                            item: MenuItem::Action {
                                action: MenuAction::Reboot,
                                url: None,
                            },
                            is_default: false,
                        },
                    ];
                    Args::Json(json!({
                        "organization_id": w.org,
                        "menu_id": w.menu,
                        "version": menu.version,
                        "settings": menu_settings("Main"),
                        "entries": entries,
                    }))
                })
            },
        },
        Row {
            endpoint: "menu_usage",
            allowed: ORGANIZATION_ADMINS,
            args: |w, _| {
                Box::pin(async move { form(&[("organization_id", &w.org), ("menu_id", &w.menu)]) })
            },
        },
        Row {
            endpoint: "delete_menu",
            allowed: ORGANIZATION_ADMINS,
            args: |w, _| {
                Box::pin(async move {
                    form(&[
                        ("organization_id", &w.org),
                        ("menu_id", &w.fresh_menu().await),
                    ])
                })
            },
        },
        // The boot log.
        Row {
            endpoint: "boot_log",
            allowed: ORGANIZATION_ADMINS,
            args: |w, _| {
                Box::pin(async move {
                    form(&[("organization_id", &w.org), ("filter", &""), ("page", &0)])
                })
            },
        },
    ]
}

async fn call(world: &World, caller: Caller, endpoint: &str, args: &Args) -> (StatusCode, String) {
    let request = world
        .client(caller)
        .post(world.app.url(&format!("/api/{endpoint}")))
        .header(header::ACCEPT, "application/json");
    let request = match args {
        Args::Form(fields) => request.form(fields),
        Args::Json(value) => request.json(value),
        Args::Upload { name } => request.multipart(
            reqwest::multipart::Form::new()
                .text("name", name.clone())
                .part(
                    "files",
                    reqwest::multipart::Part::bytes(b"MZ loader".to_vec()).file_name("a.efi"),
                ),
        ),
    };
    let response = request.send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

/// The same arguments about an organization that does not exist.
fn about_missing_organization(args: &Args) -> Option<Args> {
    const MISSING: i32 = 999_999;
    match args {
        Args::Form(fields) if fields.iter().any(|(k, _)| *k == "organization_id") => {
            Some(Args::Form(
                fields
                    .iter()
                    .map(|(k, v)| match *k {
                        "organization_id" => (*k, MISSING.to_string()),
                        _ => (*k, v.clone()),
                    })
                    .collect(),
            ))
        }
        Args::Json(value) if value.get("organization_id").is_some() => {
            let mut value = value.clone();
            value["organization_id"] = json!(MISSING);
            Some(Args::Json(value))
        }
        _ => None,
    }
}

#[tokio::test]
async fn every_server_function_has_a_row_in_the_authorization_table() {
    let registered: BTreeSet<String> = leptos::server_fn::axum::server_fn_paths()
        .filter_map(|(path, _)| path.strip_prefix("/api/").map(str::to_owned))
        .collect();
    let covered: BTreeSet<String> = table()
        .iter()
        .map(|row| row.endpoint.to_owned())
        .chain(PUBLIC.iter().map(|e| (*e).to_owned()))
        .collect();

    let missing: Vec<_> = registered.difference(&covered).collect();
    let stale: Vec<_> = covered.difference(&registered).collect();

    assert!(
        missing.is_empty(),
        "server functions without a row in the authorization table: {missing:?}"
    );
    assert!(stale.is_empty(), "rows for no server function: {stale:?}");
}

#[tokio::test]
async fn each_caller_may_do_what_their_role_allows_and_nothing_else() {
    let world = world().await;
    let mut failures = Vec::new();
    for row in table() {
        for caller in [Anonymous, Outsider, Member, OrganizationAdmin, ServerAdmin] {
            let args = (row.args)(&world, caller).await;
            let before = world.snapshot().await;
            let (status, body) = call(&world, caller, row.endpoint, &args).await;
            let what = format!("{} by {caller:?}", row.endpoint);
            if row.allowed.contains(&caller) {
                if status != StatusCode::OK {
                    failures.push(format!("{what}: expected 200, got {status} {body}"));
                }
                continue;
            }
            let (expected_status, expected_body) = match caller {
                Anonymous => (StatusCode::UNAUTHORIZED, "\"Unauthenticated\""),
                _ => (StatusCode::FORBIDDEN, "\"Forbidden\""),
            };
            if status != expected_status || body != expected_body {
                failures.push(format!(
                    "{what}: expected {expected_status} {expected_body}, got {status} {body}"
                ));
            }
            if world.snapshot().await != before {
                failures.push(format!("{what}: was refused but changed data"));
            }
            // A foreign organization looks exactly like one that does not exist.
            if let Some(missing) = about_missing_organization(&args) {
                let answer = call(&world, caller, row.endpoint, &missing).await;
                if answer != (status, body.clone()) {
                    failures.push(format!(
                        "{what}: a missing organization answers {answer:?}, a foreign one {status} {body}"
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The member the fixture made is still there: refused removals removed nothing.
    let members =
        organizations::members_page(&world.app.state.db, &Actor::operator(), world.org, "", 0)
            .await
            .unwrap();
    assert!(members.items.iter().any(|m| m.user_id == world.member));
}
