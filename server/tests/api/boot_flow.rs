//! The iPXE boot flow over HTTP, walked the way iPXE walks it.

use crate::{
    helpers::{TestApp, spawn_app, spawn_app_with},
    ipxe_client::Screen,
};
use app::{
    boot::{MenuAction, MenuEntry, MenuItem},
    model::Role,
    server::{
        actor::Actor,
        entities::boot_event,
        services::{
            groups::{self, GroupForm},
            images::{self, ImageForm},
            menus::{self, MenuSettings},
        },
    },
    validate::Username,
};
use reqwest::{StatusCode, header};
use sea_orm::EntityTrait;

pub(crate) const PASSWORD: &str = "pass & 100% sure";
const CLIENT: &str =
    "mac=52-54-00-12-34-56&uuid=12345678-1234-1234-1234-123456789abc&platform=pcbios&arch=x86_64";

/// Fetches a script and reads it.
async fn get(app: &TestApp, url: &str) -> Screen {
    let response = app.client.get(url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{url}");
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "text/plain; charset=utf-8"
    );
    Screen::read(&response.text().await.unwrap())
}

/// Signs in as iPXE does with `params`: the login script's POST of its parameter list, hex.
pub(crate) async fn sign_in(app: &TestApp, username: &str, password: &str) -> Screen {
    let login = get(app, &app.url(&format!("/ipxe/login?{CLIENT}"))).await;
    let post = login
        .command("chain")
        .last()
        .unwrap()
        .split_once("##params=")
        .expect("the sign-in posts a named parameter list")
        .0
        .to_owned();
    assert!(post.contains("mac=52-54-00-12-34-56"), "{post}");
    let response = app
        .client
        .post(&post)
        .form(&[
            ("username", hex::encode(username)),
            ("password", hex::encode(password)),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    Screen::read(&response.text().await.unwrap())
}

pub(crate) struct Lab {
    pub(crate) app: TestApp,
    lab: i32,
    students: i32,
    debian: i32,
}

fn operator() -> Actor {
    Actor::operator()
}

async fn image(app: &TestApp, org: i32, title: &str) -> i32 {
    images::create(
        &app.state.db,
        &operator(),
        org,
        &ImageForm {
            title: title.into(),
            kind: "kernel_initrd".into(),
            kernel_url: "http://10.0.2.2:9000/linux".into(),
            image_url: "http://10.0.2.2:9000/initrd.gz".into(),
            iso_boot: String::new(),
            args: vec!["console=ttyS0".into(), "priority=low".into()],
            iso_url: String::new(),
        },
    )
    .await
    .unwrap()
    .id
}

async fn menu(app: &TestApp, org: i32, title: &str, entries: Vec<MenuItem>) -> i32 {
    let created = menus::create(
        &app.state.db,
        &operator(),
        org,
        &MenuSettings {
            title: title.into(),
            ..MenuSettings::default()
        },
    )
    .await
    .unwrap();
    let entries: Vec<MenuEntry> = entries
        .into_iter()
        .map(|item| MenuEntry {
            item,
            is_default: false,
        })
        .collect();
    menus::save(
        &app.state.db,
        &operator(),
        org,
        created.id,
        created.version,
        None,
        &entries,
    )
    .await
    .unwrap();
    created.id
}

async fn group(app: &TestApp, org: i32, name: &str, menu: Option<i32>, members: &[&str]) -> i32 {
    let created = groups::create(
        &app.state.db,
        &operator(),
        org,
        &GroupForm {
            name: name.into(),
            description: String::new(),
            menu_id: menu,
        },
    )
    .await
    .unwrap();
    let members: Vec<Username> = members
        .iter()
        .map(|m| Username::parse(m).unwrap())
        .collect();
    groups::set_members(&app.state.db, &operator(), org, created.id, &members)
        .await
        .unwrap();
    created.id
}

/// alice: two organizations, two groups in Lab; bob: one organization, one group.
async fn lab() -> Lab {
    lab_with(spawn_app().await).await
}

pub(crate) async fn lab_with(app: TestApp) -> Lab {
    app.create_user("alice", PASSWORD, false).await;
    app.create_user("bob", PASSWORD, false).await;
    app.create_user("mallory", PASSWORD, false).await;
    let lab = app
        .create_organization("Lab", &[("alice", Role::Admin), ("bob", Role::Member)])
        .await
        .id;
    let library = app
        .create_organization("Library", &[("alice", Role::Member)])
        .await
        .id;
    let secret = app
        .create_organization("Secret", &[("mallory", Role::Admin)])
        .await
        .id;
    let debian = image(&app, lab, "Debian installer").await;
    let main = menu(
        &app,
        lab,
        "Main",
        vec![
            MenuItem::Image { image_id: debian },
            MenuItem::Separator {
                text: "Tools".into(),
            },
            MenuItem::Action {
                action: MenuAction::LocalDisk,
                url: None,
            },
        ],
    )
    .await;
    let students = group(&app, lab, "Students", Some(main), &["alice", "bob"]).await;
    group(&app, lab, "Staff", Some(main), &["alice"]).await;
    group(&app, library, "Readers", None, &["alice"]).await;
    let secret_image = image(&app, secret, "Secret image").await;
    let secret_menu = menu(
        &app,
        secret,
        "Secret menu",
        vec![MenuItem::Image {
            image_id: secret_image,
        }],
    )
    .await;
    group(&app, secret, "Spies", Some(secret_menu), &["mallory"]).await;
    Lab {
        app,
        lab,
        students,
        debian,
    }
}

#[tokio::test]
async fn the_entry_script_names_the_machine_and_goes_to_the_login() {
    let app = spawn_app().await;

    let entry = get(&app, &app.url("/boot.ipxe")).await;

    let next = entry.command("chain");
    assert!(
        next.last()
            .unwrap()
            .starts_with(&app.url("/ipxe/login?mac=${mac:hexhyp}&uuid=${uuid}"))
    );
}

#[tokio::test]
async fn the_whole_flow_leads_from_the_login_to_a_kernel_boot() {
    let lab = lab().await;
    let app = &lab.app;

    let organizations = sign_in(app, "alice", PASSWORD).await;
    assert_eq!(
        organizations.title().as_deref(),
        Some("Choose an organization")
    );
    assert_eq!(
        organizations.item_texts(),
        vec!["Lab", "Library", "Sign out"]
    );

    let groups = get(app, &organizations.pick("Lab")).await;
    assert_eq!(groups.title().as_deref(), Some("Choose a group"));
    assert_eq!(
        groups.item_texts(),
        vec!["Staff", "Students", "Back", "Sign out"]
    );

    let menu = get(app, &groups.pick("Students")).await;
    assert_eq!(menu.title().as_deref(), Some("Main"));
    assert_eq!(
        menu.item_texts(),
        vec![
            "Debian installer",
            "Boot from local disk",
            "Back",
            "Sign out"
        ]
    );
    assert_eq!(menu.gaps()[0], "Tools");

    let boot = get(app, &menu.pick("Debian installer")).await;
    assert_eq!(
        boot.command("kernel"),
        vec![
            "kernel",
            "http://10.0.2.2:9000/linux",
            "initrd=initrd.img",
            "console=ttyS0",
            "priority=low"
        ]
    );
    assert_eq!(
        boot.command("initrd"),
        vec![
            "initrd",
            "--name",
            "initrd.img",
            "http://10.0.2.2:9000/initrd.gz"
        ]
    );
    assert!(boot.runs("boot"));
}

#[tokio::test]
async fn a_single_organization_and_group_are_skipped() {
    let lab = lab().await;

    let first = sign_in(&lab.app, "bob", PASSWORD).await;

    assert_eq!(first.title().as_deref(), Some("Main"));
    assert!(!first.item_texts().contains(&"Back".to_owned()));
}

#[tokio::test]
async fn back_leads_to_the_previous_choice() {
    let lab = lab().await;
    let organizations = sign_in(&lab.app, "alice", PASSWORD).await;
    let groups = get(&lab.app, &organizations.pick("Lab")).await;
    let menu = get(&lab.app, &groups.pick("Staff")).await;

    let back = get(&lab.app, &menu.pick("Back")).await;

    assert_eq!(back.title().as_deref(), Some("Choose a group"));
}

#[tokio::test]
async fn a_group_without_a_menu_says_so_and_goes_back() {
    let lab = lab().await;
    let organizations = sign_in(&lab.app, "alice", PASSWORD).await;

    let library = get(&lab.app, &organizations.pick("Library")).await;

    assert_eq!(
        library.messages()[0],
        "This group has no boot menu yet; ask its administrator to choose one."
    );
    assert!(library.command("chain").last().unwrap().ends_with("/start"));
}

#[tokio::test]
async fn a_user_without_organizations_is_told_so() {
    let app = spawn_app().await;
    app.create_user("carol", PASSWORD, false).await;

    let screen = sign_in(&app, "carol", PASSWORD).await;

    assert!(screen.messages()[0].starts_with("You are not a member of any organization"));
}

#[tokio::test]
async fn a_wrong_password_shows_the_message_and_the_prompt_again() {
    let lab = lab().await;

    let again = sign_in(&lab.app, "alice", "wrong password").await;

    assert_eq!(again.messages()[0], "Invalid username or password.");
    assert!(again.runs("login"));
    assert!(!again.text.contains("wrong password"));
}

#[tokio::test]
async fn the_hex_fallback_signs_in_like_the_post() {
    let lab = lab().await;
    let username = hex::encode("bob");
    let password = hex::encode(PASSWORD);

    let screen = get(
        &lab.app,
        &lab.app.url(&format!(
            "/ipxe/session?{CLIENT}&username={username}&password={password}"
        )),
    )
    .await;

    assert_eq!(screen.title().as_deref(), Some("Main"));
}

#[tokio::test]
async fn unreadable_hex_credentials_show_the_prompt_again() {
    let app = spawn_app().await;

    let screen = get(&app, &app.url("/ipxe/session?username=zz&password=4")).await;

    assert!(screen.runs("login"));
    assert_eq!(
        screen.messages()[0],
        "The sign-in could not be read; please try again."
    );
}

#[tokio::test]
async fn empty_credentials_ask_for_both() {
    let app = spawn_app().await;

    let screen = sign_in(&app, "", "").await;

    assert_eq!(screen.messages()[0], "Enter a username and a password.");
}

#[tokio::test]
async fn repeated_failures_are_throttled_at_the_prompt_too() {
    let lab = lab_with(spawn_app_with(|s| s.max_failures_per_user = 2).await).await;
    sign_in(&lab.app, "bob", "guess one").await;
    sign_in(&lab.app, "bob", "guess two").await;

    let screen = sign_in(&lab.app, "bob", PASSWORD).await;

    assert!(screen.messages()[0].starts_with("Too many attempts, try again in "));
}

fn token_of(url: &str) -> String {
    url.split("/ipxe/s/")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn an_unknown_or_malformed_token_reveals_nothing_and_starts_over() {
    let lab = lab().await;

    for token in ["0123456789abcdef0123456789abcdef01234567", "nope", "%00"] {
        let screen = get(
            &lab.app,
            &lab.app
                .url(&format!("/ipxe/s/{token}/group/{}", lab.students)),
        )
        .await;
        assert_eq!(
            screen.messages()[0],
            "Your boot session has expired. Please sign in again."
        );
        assert!(
            screen
                .command("chain")
                .last()
                .unwrap()
                .ends_with("/boot.ipxe")
        );
        assert!(!screen.text.contains("Main"));
    }
}

#[tokio::test]
async fn an_expired_token_starts_over() {
    let lab =
        lab_with(spawn_app_with(|s| s.boot_token_ttl = std::time::Duration::from_secs(1)).await)
            .await;
    let menu = sign_in(&lab.app, "bob", PASSWORD).await;
    let boot_url = menu.pick("Debian installer");

    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let screen = get(&lab.app, &boot_url).await;

    assert_eq!(
        screen.messages()[0],
        "Your boot session has expired. Please sign in again."
    );
}

#[tokio::test]
async fn a_token_presented_from_another_address_is_refused() {
    let lab = lab().await;
    let menu = sign_in(&lab.app, "bob", PASSWORD).await;
    let boot_url = menu.pick("Debian installer");
    let elsewhere = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .build()
        .unwrap();

    let text = elsewhere
        .get(&boot_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();

    assert!(
        Screen::read(&text).messages()[0].contains("expired"),
        "{text}"
    );
}

#[tokio::test]
async fn a_member_of_one_organization_cannot_reach_another() {
    let lab = lab().await;
    let mallory = sign_in(&lab.app, "mallory", PASSWORD).await;
    let token = token_of(&mallory.pick("Secret image"));

    for path in [
        format!("/ipxe/s/{token}/org/{}", lab.lab),
        format!("/ipxe/s/{token}/group/{}", lab.students),
        format!("/ipxe/s/{token}/boot/{}/1/1", lab.students),
        format!("/ipxe/s/{token}/boot/9999/1/1"),
        format!("/ipxe/s/{token}/group/not-a-number"),
    ] {
        let screen = get(&lab.app, &lab.app.url(&path)).await;
        assert_eq!(
            screen.messages()[0],
            "This choice is not available to you.",
            "{path}"
        );
        assert!(!screen.text.contains(&hex_of("Main")) && !screen.text.contains(&hex_of("Debian")));
    }
}

fn hex_of(text: &str) -> String {
    app::ipxe::escape::hex_value(text)
}

#[tokio::test]
async fn a_member_cannot_boot_a_group_they_are_not_in() {
    let lab = lab().await;
    let bob = sign_in(&lab.app, "bob", PASSWORD).await;
    let token = token_of(&bob.pick("Debian installer"));
    let staff = groups::list_page(&lab.app.state.db, &operator(), lab.lab, "", 0)
        .await
        .unwrap()
        .items
        .into_iter()
        .find(|g| g.name == "Staff")
        .unwrap();

    let screen = get(
        &lab.app,
        &lab.app
            .url(&format!("/ipxe/s/{token}/boot/{}/1/1", staff.id)),
    )
    .await;

    assert_eq!(screen.messages()[0], "This choice is not available to you.");
}

#[tokio::test]
async fn an_unknown_entry_or_menu_version_shows_the_menu_again() {
    let lab = lab().await;
    let bob = sign_in(&lab.app, "bob", PASSWORD).await;
    let token = token_of(&bob.pick("Debian installer"));
    let menu = students_menu(&lab).await;
    let version = menu.version.to_string();
    let entry = menu.entry_ids[0].to_string();

    for (version, entry) in [
        ("0", entry.as_str()),
        (version.as_str(), "99999"),
        ("x", "y"),
    ] {
        let screen = get(
            &lab.app,
            &lab.app.url(&format!(
                "/ipxe/s/{token}/boot/{}/{version}/{entry}",
                lab.students
            )),
        )
        .await;
        assert_eq!(screen.gaps()[0], MENU_CHANGED, "{version}/{entry}");
    }
    assert_eq!(boots_logged(&lab).await, Vec::<Option<String>>::new());
}

#[tokio::test]
async fn each_boot_choice_is_logged_with_the_client() {
    let lab = lab().await;
    let menu = sign_in(&lab.app, "bob", PASSWORD).await;

    get(&lab.app, &menu.pick("Debian installer")).await;

    let events = boot_event::Entity::find()
        .all(&lab.app.state.db)
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(event.username.as_deref(), Some("bob"));
    assert_eq!(event.image_id, Some(lab.debian));
    assert_eq!(event.organization_id, Some(lab.lab));
    assert_eq!(event.group_id, Some(lab.students));
    assert_eq!(event.entry_title.as_deref(), Some("Debian installer"));
    assert_eq!(event.client_mac.as_deref(), Some("52-54-00-12-34-56"));
    assert_eq!(event.client_platform.as_deref(), Some("pcbios"));
    assert_eq!(event.client_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(event.outcome, "boot_script_served");
}

/// The menu the Students group boots, as stored now.
async fn students_menu(lab: &Lab) -> app::boot::BootMenu {
    let group = app::server::entities::group::Entity::find_by_id(lab.students)
        .one(&lab.app.state.db)
        .await
        .unwrap()
        .unwrap();
    menus::load(&lab.app.state.db, lab.lab, group.menu_id.unwrap())
        .await
        .unwrap()
}

/// Saves the Students menu with these items, in this order.
async fn save_students_menu(lab: &Lab, items: Vec<MenuItem>) {
    let current = students_menu(lab).await;
    let entries: Vec<MenuEntry> = items
        .into_iter()
        .map(|item| MenuEntry {
            item,
            is_default: false,
        })
        .collect();
    menus::save(
        &lab.app.state.db,
        &operator(),
        lab.lab,
        current.id,
        current.version,
        None,
        &entries,
    )
    .await
    .unwrap();
}

async fn boots_logged(lab: &Lab) -> Vec<Option<String>> {
    boot_event::Entity::find()
        .all(&lab.app.state.db)
        .await
        .unwrap()
        .into_iter()
        .map(|event| event.entry_title)
        .collect()
}

const MENU_CHANGED: &str = "This menu changed since it was shown; please choose again.";

#[tokio::test]
async fn a_choice_from_a_menu_reordered_since_boots_nothing_else_and_shows_the_menu_again() {
    let lab = lab().await;
    let shown = sign_in(&lab.app, "bob", PASSWORD).await;
    let debian_choice = shown.pick("Debian installer");

    // Reordered while the machine showed the menu: the local disk now comes first.
    save_students_menu(
        &lab,
        vec![
            MenuItem::Action {
                action: MenuAction::LocalDisk,
                url: None,
            },
            MenuItem::Image {
                image_id: lab.debian,
            },
        ],
    )
    .await;
    let again = get(&lab.app, &debian_choice).await;

    assert_eq!(again.title().as_deref(), Some("Main"));
    assert_eq!(again.gaps()[0], MENU_CHANGED);
    assert!(!again.runs("kernel") && !again.runs("sanboot") && !again.runs("exit"));
    assert_eq!(boots_logged(&lab).await, Vec::<Option<String>>::new());

    // Chosen again on the new menu, it boots what it says.
    let booted = get(&lab.app, &again.pick("Debian installer")).await;
    assert!(booted.runs("kernel"), "{}", booted.text);
    assert_eq!(
        boots_logged(&lab).await,
        [Some("Debian installer".to_owned())]
    );
}

#[tokio::test]
async fn deleting_an_image_sends_a_stale_choice_back_to_the_menu() {
    let lab = lab().await;
    let rescue = image(&lab.app, lab.lab, "Rescue").await;
    save_students_menu(
        &lab,
        vec![
            MenuItem::Image { image_id: rescue },
            MenuItem::Image {
                image_id: lab.debian,
            },
            MenuItem::Action {
                action: MenuAction::LocalDisk,
                url: None,
            },
        ],
    )
    .await;
    let shown = sign_in(&lab.app, "bob", PASSWORD).await;
    let debian_choice = shown.pick("Debian installer");
    let version_before = students_menu(&lab).await.version;

    images::delete(&lab.app.state.db, &operator(), lab.lab, rescue)
        .await
        .unwrap();
    let again = get(&lab.app, &debian_choice).await;

    assert!(
        students_menu(&lab).await.version > version_before,
        "the menu changed"
    );
    assert_eq!(again.gaps()[0], MENU_CHANGED);
    assert_eq!(boots_logged(&lab).await, Vec::<Option<String>>::new());
    let booted = get(&lab.app, &again.pick("Debian installer")).await;
    assert!(booted.runs("kernel"), "{}", booted.text);
}

#[tokio::test]
async fn deleting_an_organization_keeps_its_boot_log_with_the_name() {
    let lab = lab().await;
    let menu = sign_in(&lab.app, "bob", PASSWORD).await;
    get(&lab.app, &menu.pick("Debian installer")).await;

    app::server::services::organizations::delete(
        &lab.app.state.db,
        &app::server::actor::Actor::operator(),
        lab.lab,
        true,
    )
    .await
    .unwrap();

    let events = boot_event::Entity::find()
        .all(&lab.app.state.db)
        .await
        .unwrap();
    assert_eq!(events.len(), 1, "the boot is still on record");
    assert_eq!(events[0].organization_id, None);
    assert_eq!(events[0].organization_name.as_deref(), Some("Lab"));
    assert_eq!(events[0].entry_title.as_deref(), Some("Debian installer"));
}

#[tokio::test]
async fn signing_out_ends_the_session_and_shows_the_prompt() {
    let lab = lab().await;
    let menu = sign_in(&lab.app, "bob", PASSWORD).await;
    let boot_url = menu.pick("Debian installer");

    let out = get(&lab.app, &menu.pick("Sign out")).await;
    let after = get(&lab.app, &boot_url).await;

    assert_eq!(out.messages()[0], "Signed out.");
    assert!(out.runs("login"));
    assert!(
        out.command("chain")
            .last()
            .unwrap()
            .contains("mac=52-54-00-12-34-56")
    );
    assert!(after.messages()[0].contains("expired"));
}

#[tokio::test]
async fn hostile_titles_reach_the_client_as_text() {
    let lab = lab().await;
    let app = &lab.app;
    let hostile = "Ubuntu || shell ${password} x\\";
    let image_id = image(app, lab.lab, hostile).await;
    let menu_id = menu(
        app,
        lab.lab,
        "${password} menu",
        vec![
            MenuItem::Image { image_id },
            MenuItem::Separator {
                text: "#comment && reboot".into(),
            },
        ],
    )
    .await;
    group(app, lab.lab, "Testers", Some(menu_id), &["bob"]).await;
    let groups_screen = sign_in(app, "bob", PASSWORD).await;

    let menu = get(app, &groups_screen.pick("Testers")).await;

    assert_eq!(menu.title().as_deref(), Some("$(password} menu"));
    assert_eq!(menu.item_texts()[0], "Ubuntu || shell $(password} x\\");
    assert_eq!(menu.gaps()[0], "#comment && reboot");
    assert!(!menu.runs("shell") && !menu.runs("reboot"));
}

#[tokio::test]
async fn script_urls_follow_the_public_url_or_the_host_header() {
    let with_public =
        spawn_app_with(|s| s.public_url = Some("https://boot.example.org/pxe".into())).await;
    let entry = get(&with_public, &with_public.url("/boot.ipxe")).await;
    assert!(
        entry
            .command("chain")
            .last()
            .unwrap()
            .starts_with("https://boot.example.org/pxe/ipxe/login?")
    );

    let app = spawn_app().await;
    let text = app
        .client
        .get(app.url("/boot.ipxe"))
        .header(header::HOST, "evil ${password}")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        Screen::read(&text)
            .command("chain")
            .last()
            .unwrap()
            .starts_with("http://localhost/ipxe/login?")
    );
}

#[tokio::test]
async fn memdisk_is_served_when_installed_and_explained_when_not() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("memdisk");
    std::fs::write(&path, b"MEMDISK").unwrap();
    let app = spawn_app_with(|s| s.memdisk_path = Some(path.clone())).await;
    let missing = spawn_app_with(|s| s.memdisk_path = Some("/nonexistent/memdisk".into())).await;

    let served = app
        .client
        .get(app.url("/ipxe/memdisk"))
        .send()
        .await
        .unwrap();
    let absent = missing
        .client
        .get(missing.url("/ipxe/memdisk"))
        .send()
        .await
        .unwrap();

    assert_eq!(served.bytes().await.unwrap().as_ref(), b"MEMDISK");
    assert_eq!(absent.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_password_holding_an_expansion_signs_in_by_post_and_by_query() {
    // iPXE expands `${…}` again inside an expanded value: the credentials travel as hex on
    // both paths, so such a password arrives as typed.
    const TRICKY: &str = "a${password}b${username:hexraw}";
    let app = spawn_app().await;
    app.create_user("carol", TRICKY, false).await;
    app.create_organization("Lab", &[("carol", Role::Member)])
        .await;

    let posted = sign_in(&app, "carol", TRICKY).await;
    let queried = get(
        &app,
        &app.url(&format!(
            "/ipxe/session?{CLIENT}&username={}&password={}",
            hex::encode("carol"),
            hex::encode(TRICKY)
        )),
    )
    .await;

    for screen in [posted, queried] {
        assert_ne!(
            screen.messages().first().map(String::as_str),
            Some("Invalid username or password."),
            "{}",
            screen.text
        );
        assert!(!screen.runs("login"), "{}", screen.text);
    }
}

#[tokio::test]
async fn replaying_a_boot_url_is_limited_per_session_and_cannot_flood_the_boot_log() {
    use app::server::rate::StepLimiter;
    let app = crate::helpers::spawn_custom(
        |state| {
            state.boot_steps =
                std::sync::Arc::new(StepLimiter::new(5, std::time::Duration::from_secs(60)))
        },
        server::http::Limits::default(),
    )
    .await;
    let lab = lab_with(app).await;
    let menu = sign_in(&lab.app, "bob", PASSWORD).await;
    let choice = menu.pick("Debian installer");

    for _ in 0..5 {
        assert!(get(&lab.app, &choice).await.runs("kernel"));
    }
    let refused = get(&lab.app, &choice).await;

    assert_eq!(
        refused.messages()[0],
        "Too many steps in a short time; wait a minute, then go on."
    );
    assert!(!refused.runs("kernel"));
    assert_eq!(
        boot_event::Entity::find()
            .all(&lab.app.state.db)
            .await
            .unwrap()
            .len(),
        5
    );
}

#[tokio::test]
async fn boot_log_rows_past_their_retention_are_deleted() {
    use sea_orm::{ActiveModelTrait, ActiveValue::Set};
    let lab = lab().await;
    let menu = sign_in(&lab.app, "bob", PASSWORD).await;
    get(&lab.app, &menu.pick("Debian installer")).await;
    let old = boot_event::ActiveModel {
        at: Set(chrono::Utc::now() - chrono::Duration::days(181)),
        username: Set(Some("bob".into())),
        outcome: Set("boot_script_served".into()),
        ..Default::default()
    };
    old.insert(&lab.app.state.db).await.unwrap();

    let deleted = app::server::services::boot_log::prune(
        &lab.app.state.db,
        std::time::Duration::from_secs(180 * 24 * 3600),
    )
    .await
    .unwrap();

    assert_eq!(deleted, 1);
    assert_eq!(
        boot_event::Entity::find()
            .all(&lab.app.state.db)
            .await
            .unwrap()
            .len(),
        1,
        "this week's boot stays"
    );
}

/// Puts `bytes` in Lab's library as `name`, as a finished upload leaves them.
async fn library_file(lab: &Lab, name: &str, bytes: &[u8]) -> i32 {
    crate::helpers::library_file(&lab.app, lab.lab, name, bytes).await
}

fn library_form(kernel: &str, initrd: &str) -> ImageForm {
    ImageForm {
        title: "Debian installer".into(),
        kind: "kernel_initrd".into(),
        kernel_url: kernel.into(),
        image_url: initrd.into(),
        iso_boot: String::new(),
        args: vec!["console=ttyS0".into()],
        iso_url: String::new(),
    }
}

#[tokio::test]
async fn an_image_of_library_files_boots_them_by_urls_of_the_boot_session() {
    let lab = lab().await;
    let kernel = library_file(&lab, "vmlinuz", b"a kernel").await;
    library_file(&lab, "initrd.gz", b"an initrd").await;
    images::update(
        &lab.app.state.db,
        &operator(),
        lab.lab,
        lab.debian,
        &library_form("file:vmlinuz", "file:initrd.gz"),
    )
    .await
    .unwrap();

    let menu = sign_in(&lab.app, "bob", PASSWORD).await;
    let boot = get(&lab.app, &menu.pick("Debian installer")).await;

    let kernel_url = boot.command("kernel")[1].clone();
    let token = token_of(&menu.pick("Debian installer"));
    assert_eq!(
        kernel_url,
        lab.app.url(&format!("/f/{token}/{kernel}/vmlinuz"))
    );
    let fetched = lab.app.client.get(&kernel_url).send().await.unwrap();
    assert_eq!(fetched.status(), StatusCode::OK);
    assert_eq!(fetched.bytes().await.unwrap().as_ref(), b"a kernel");
    assert!(boot.text.contains(&format!("/f/{token}/")), "{}", boot.text);

    // A file an image boots stays: the error names the image.
    let refused = app::server::services::files::delete(&lab.app.state.db, &operator(), kernel)
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("Debian installer"),
        "{refused}"
    );
    // An image cannot name a file the library does not have.
    let missing = images::update(
        &lab.app.state.db,
        &operator(),
        lab.lab,
        lab.debian,
        &library_form("file:vmlinuz", "file:nope.gz"),
    )
    .await
    .unwrap_err();
    assert_eq!(
        missing.field_message("image_url").as_deref(),
        Some("This organization's library has no file named nope.gz.")
    );
}

#[tokio::test]
async fn a_file_gone_from_the_library_is_said_on_the_machines_screen() {
    use app::server::entities::file;
    let lab = lab().await;
    let kernel = library_file(&lab, "vmlinuz", b"a kernel").await;
    images::update(
        &lab.app.state.db,
        &operator(),
        lab.lab,
        lab.debian,
        &library_form("file:vmlinuz", "http://10.0.2.2:9000/initrd.gz"),
    )
    .await
    .unwrap();
    // Gone behind the service's back (a restore of an older database, say).
    file::Entity::delete_by_id(kernel)
        .exec(&lab.app.state.db)
        .await
        .unwrap();

    let menu = sign_in(&lab.app, "bob", PASSWORD).await;
    let screen = get(&lab.app, &menu.pick("Debian installer")).await;

    assert_eq!(
        screen.messages()[0],
        "A file this image boots is no longer in the library."
    );
    assert!(!screen.runs("kernel"));
}

#[tokio::test]
async fn an_image_made_from_an_iso_boots_with_the_isos_urls_of_the_boot_session() {
    let lab = lab().await;
    let (kernel, squashfs) = (b"a live kernel".to_vec(), b"a root file system".to_vec());
    let live = crate::helpers::make_iso(
        "d-live 12.5.0 gn amd64",
        &[
            ("live/vmlinuz-6.1.0-18-amd64", &kernel),
            ("live/initrd.img-6.1.0-18-amd64", b"an initrd"),
            ("live/filesystem.squashfs", &squashfs),
            (
                ".disk/info",
                b"Debian GNU/Linux 12.5.0 - Official amd64 LIVE",
            ),
        ],
    );
    let iso = library_file(&lab, "live.iso", &live).await;
    let (db, store) = (&lab.app.state.db, lab.app.state.file_store());
    let made = app::server::services::iso::create_image(db, &store, &operator(), iso)
        .await
        .unwrap();
    // The menu's entry boots it.
    let form = ImageForm {
        title: "Debian installer".into(),
        ..ImageForm::from(&made)
    };
    images::update(db, &operator(), lab.lab, lab.debian, &form)
        .await
        .unwrap();

    let menu = sign_in(&lab.app, "bob", PASSWORD).await;
    let boot = get(&lab.app, &menu.pick("Debian installer")).await;

    let token = token_of(&menu.pick("Debian installer"));
    let tree = lab.app.url(&format!("/f/{token}/{iso}/live.iso/tree"));
    let command = boot.command("kernel");
    assert!(
        command.contains(&format!("fetch={tree}/live/filesystem.squashfs")),
        "{command:?}"
    );
    let fetched = lab.app.client.get(&command[1]).send().await.unwrap();
    assert_eq!(fetched.bytes().await.unwrap().as_ref(), kernel);
    let root = lab
        .app
        .client
        .get(format!("{tree}/live/filesystem.squashfs"))
        .send()
        .await
        .unwrap();
    assert_eq!(root.status(), StatusCode::OK);
    assert_eq!(root.bytes().await.unwrap().as_ref(), squashfs);

    // The ISO gone from the library behind the service's back: the machine is told.
    use sea_orm::EntityTrait;
    app::server::entities::file::Entity::delete_by_id(iso)
        .exec(db)
        .await
        .unwrap();
    let menu = sign_in(&lab.app, "bob", PASSWORD).await;
    let boot = get(&lab.app, &menu.pick("Debian installer")).await;
    assert!(!boot.runs("kernel"));
    assert_eq!(
        boot.messages()[0],
        "The ISO this image uses is no longer in the library."
    );
}

/// `url` with its server (scheme, host and port) replaced by `app`'s.
fn on(app: &TestApp, url: &str) -> String {
    let path = url.splitn(4, '/').nth(3).unwrap();
    app.url(&format!("/{path}"))
}

#[tokio::test]
async fn a_session_ended_on_another_replica_is_refused_at_the_next_step_here() {
    use app::{server::services::accounts, validate::NewPassword};
    let lab = lab().await;
    let other = crate::helpers::spawn_on(lab.app.database_url.clone(), None, |_| {}).await;
    let bob = Username::parse("bob").unwrap();

    // Signed out on the other replica.
    let menu = sign_in(&lab.app, "bob", PASSWORD).await;
    let choice = menu.pick("Debian installer");
    assert!(get(&lab.app, &choice).await.runs("kernel"));
    get(&other, &on(&other, &menu.pick("Sign out"))).await;
    assert!(get(&lab.app, &choice).await.messages()[0].contains("expired"));

    // A new password set on the other replica ends every session signed in with the old.
    let menu = sign_in(&lab.app, "bob", PASSWORD).await;
    let choice = menu.pick("Debian installer");
    assert!(get(&lab.app, &choice).await.runs("kernel"));
    accounts::set_password(
        &other.state.db,
        &other.state.hasher,
        &operator(),
        &bob,
        &NewPassword::parse("a whole new password").unwrap(),
    )
    .await
    .unwrap();
    assert!(get(&lab.app, &choice).await.messages()[0].contains("expired"));

    // Disabled on the other replica.
    let menu = sign_in(&lab.app, "bob", "a whole new password").await;
    let choice = menu.pick("Debian installer");
    assert!(get(&lab.app, &choice).await.runs("kernel"));
    let bob_id = accounts::find_by_username(&other.state.db, &operator(), &bob)
        .await
        .unwrap()
        .id;
    accounts::set_disabled(&other.state.db, &operator(), bob_id, true)
        .await
        .unwrap();
    assert!(get(&lab.app, &choice).await.messages()[0].contains("expired"));

    // Taken out of the group on the other replica: the group is gone from the menu at once.
    let organizations = sign_in(&lab.app, "alice", PASSWORD).await;
    let groups_here = get(&lab.app, &organizations.pick("Lab")).await;
    let students = groups_here.pick("Students");
    get(&lab.app, &students).await.pick("Debian installer");
    groups::set_members(
        &other.state.db,
        &operator(),
        lab.lab,
        lab.students,
        &[Username::parse("bob").unwrap()],
    )
    .await
    .unwrap();
    let refused = get(&lab.app, &students).await;
    assert_eq!(
        refused.messages()[0],
        "This choice is not available to you."
    );
}

#[tokio::test]
async fn a_session_in_use_slides_its_expiry_with_one_write_a_while_not_one_a_step() {
    use app::server::entities::boot_token;
    // A lifetime of 4 s: the session is written again when 1 s behind.
    let lab =
        lab_with(spawn_app_with(|s| s.boot_token_ttl = std::time::Duration::from_secs(4)).await)
            .await;
    let menu = sign_in(&lab.app, "bob", PASSWORD).await;
    let choice = menu.pick("Debian installer");
    let expiry = async || {
        boot_token::Entity::find()
            .one(&lab.app.state.db)
            .await
            .unwrap()
            .unwrap()
            .expires_at
    };
    let issued = expiry().await;

    for _ in 0..10 {
        assert!(get(&lab.app, &choice).await.runs("kernel"));
    }
    assert_eq!(expiry().await, issued, "ten quick steps wrote nothing");

    // Steps every 0.6 s for 6 s: past the 4 s lifetime, the session lives on.
    for _ in 0..10 {
        tokio::time::sleep(std::time::Duration::from_millis(600)).await;
        assert!(get(&lab.app, &choice).await.runs("kernel"));
    }
    let slid = expiry().await;
    assert!(
        slid > issued + chrono::Duration::seconds(4),
        "{issued} → {slid}"
    );

    // Left alone for its lifetime, it ends.
    tokio::time::sleep(std::time::Duration::from_millis(4100)).await;
    assert!(get(&lab.app, &choice).await.messages()[0].contains("expired"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boots_at_the_same_moment_are_each_logged_once_with_their_own_machine() {
    let lab = lab().await;
    let mut choices = Vec::new();
    for user in ["alice", "bob"] {
        let menu = sign_in(&lab.app, user, PASSWORD).await;
        let menu = if user == "alice" {
            // alice picks an organization and a group first.
            let lab_screen = get(&lab.app, &menu.pick("Lab")).await;
            get(&lab.app, &lab_screen.pick("Students")).await
        } else {
            menu
        };
        choices.push((user, menu.pick("Debian installer")));
    }
    let boots = (0..25)
        .flat_map(|_| choices.iter().cloned())
        .map(|(user, url)| {
            let app = &lab.app;
            async move {
                let screen = get(app, &url).await;
                assert!(screen.runs("kernel"), "{}", screen.text);
                user
            }
        });
    let booted = futures_util::future::join_all(boots).await;

    let rows = boot_event::Entity::find()
        .all(&lab.app.state.db)
        .await
        .unwrap();
    assert_eq!(booted.len(), 50);
    assert_eq!(rows.len(), 50);
    for user in ["alice", "bob"] {
        let theirs: Vec<_> = rows
            .iter()
            .filter(|row| row.username.as_deref() == Some(user))
            .collect();
        assert_eq!(theirs.len(), 25, "{user}");
        assert!(theirs.iter().all(|row| {
            row.organization_name.as_deref() == Some("Lab")
                && row.entry_title.as_deref() == Some("Debian installer")
                && row.client_mac.as_deref() == Some("52-54-00-12-34-56")
                && row.group_id == Some(lab.students)
        }));
    }
}

#[tokio::test]
async fn what_changes_anywhere_shows_at_the_next_step_though_steps_keep_what_they_read() {
    use sea_orm::ConnectionTrait;
    let lab = lab().await;
    let other = crate::helpers::spawn_on(lab.app.database_url.clone(), None, |_| {}).await;
    let menu = sign_in(&lab.app, "bob", PASSWORD).await;
    let group_url = lab.app.url(&format!(
        "/ipxe/s/{}/group/{}",
        token_of(&menu.pick("Debian installer")),
        lab.students
    ));
    // Read twice: the second from what the first kept.
    get(&lab.app, &group_url).await.pick("Debian installer");
    get(&lab.app, &group_url).await.pick("Debian installer");

    // Renamed through the other replica's services.
    images::update(
        &other.state.db,
        &operator(),
        lab.lab,
        lab.debian,
        &ImageForm {
            title: "Debian 13".into(),
            kind: "kernel_initrd".into(),
            kernel_url: "http://10.0.2.2:9000/linux".into(),
            image_url: "http://10.0.2.2:9000/initrd.gz".into(),
            iso_boot: String::new(),
            args: vec!["console=ttyS0".into()],
            iso_url: String::new(),
        },
    )
    .await
    .unwrap();
    let renamed = get(&lab.app, &group_url).await;
    let choice = renamed.pick("Debian 13");
    assert!(get(&lab.app, &choice).await.runs("kernel"));

    // Written by another program straight into the database (an import, a restore).
    other
        .state
        .db
        .execute_unprepared(&format!(
            "UPDATE boot_images SET title = 'Rescue' WHERE id = {}",
            lab.debian
        ))
        .await
        .unwrap();
    get(&lab.app, &group_url).await.pick("Rescue");
    other
        .state
        .db
        .execute_unprepared(&format!(
            "UPDATE boot_images SET kernel_url = 'http://10.0.2.2:9000/other-linux' WHERE id = {}",
            lab.debian
        ))
        .await
        .unwrap();
    let kernel = get(&lab.app, &choice).await.command("kernel");
    assert!(
        kernel.iter().any(|word| word.ends_with("/other-linux")),
        "{kernel:?}"
    );

    // The group's menu taken away on the other replica.
    other
        .state
        .db
        .execute_unprepared(&format!(
            "UPDATE groups SET menu_id = NULL WHERE id = {}",
            lab.students
        ))
        .await
        .unwrap();
    assert_eq!(
        get(&lab.app, &group_url).await.messages()[0],
        "This group has no boot menu yet; ask its administrator to choose one."
    );
}
