//! The steps a network-booting machine walks, as plans for the renderer: sign-in, then
//! organization, group, menu and entry, each re-checked against the services.

use sea_orm::EntityTrait;
use std::sync::Arc;

use crate::{
    boot::{BootMenu, ImageKind, ImageSource, IsoBoot, MenuAction, MenuItem},
    error::AppError,
    ipxe::{
        BootPlan, BootStep, ChoiceOption, ChoicePlan, LoginPlan, MenuLine, NoticePlan, Plan,
        ServerUrl, menu,
    },
    server::{
        boot_cache::Place,
        client::BootToken,
        db,
        entities::{boot_image, group, organization},
        services::{
            accounts::{self, Attempt},
            boot_sessions::{self, BootRecord, BootSession, ClientInfo},
            files, groups, images, menus, organizations,
        },
        state::{AppState, Settings},
    },
};

/// The base URL of this server as a client sees it: the configured public URL, or `http://`
/// and the request's Host when it looks like a host name (escaped by the renderer like any
/// other URL).
pub fn base_url(settings: &Settings, host: Option<&str>) -> String {
    match &settings.public_url {
        Some(url) => url.clone(),
        None => {
            let host = host
                .filter(|h| {
                    !h.is_empty()
                        && h.chars().all(|c| {
                            c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']')
                        })
                })
                .unwrap_or("localhost");
            format!("http://{host}")
        }
    }
}

/// The iPXE routes, spelled once: the server routes these patterns, and [`Urls`] fills them
/// in for the scripts.
pub mod paths {
    pub const ENTRY: &str = "/boot.ipxe";
    pub const LOGIN: &str = "/ipxe/login";
    pub const SESSION: &str = "/ipxe/session";
    pub const START: &str = "/ipxe/s/{token}/start";
    pub const ORGANIZATION: &str = "/ipxe/s/{token}/org/{organization}";
    pub const GROUP: &str = "/ipxe/s/{token}/group/{group}";
    pub const BOOT: &str = "/ipxe/s/{token}/boot/{group}/{version}/{entry}";
    pub const LOGOUT: &str = "/ipxe/s/{token}/logout";
    pub const MEMDISK: &str = "/ipxe/memdisk";
    /// A library file, for a machine in a boot session (see the server's `http::files`).
    pub const FILE: &str = "/f/{token}/{id}/{name}";
    /// A file inside a library ISO: `FILE` (or a browser's `/files/{id}/{name}`), then this,
    /// then the path inside the ISO.
    pub const TREE_SUFFIX: &str = "/tree";
}

/// A route pattern with its `{…}` parts replaced by `values`, in order.
fn fill(route: &str, values: &[&dyn std::fmt::Display]) -> String {
    let mut out = String::with_capacity(route.len() + 48);
    let mut values = values.iter();
    let mut rest = route;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}').map_or(rest.len(), |i| open + i + 1);
        if let Some(value) = values.next() {
            out.push_str(&value.to_string());
        }
        rest = &rest[close..];
    }
    out.push_str(rest);
    out
}

/// Where a client reaches this server, and the URLs of each step under it.
#[derive(Debug, Clone)]
pub struct Urls {
    base: String,
}

impl Urls {
    /// URLs under `base` (the public URL, or `http://<Host>`).
    pub fn new(base: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
        }
    }

    /// The URL of a route, its parts filled in with `values`.
    fn url(&self, route: &str, values: &[&dyn std::fmt::Display]) -> ServerUrl {
        ServerUrl::new(&self.base, fill(route, values).trim_start_matches('/'))
    }

    fn with_client(&self, route: &str, client: &ClientInfo) -> ServerUrl {
        match client.query() {
            query if query.is_empty() => self.url(route, &[]),
            query => self.url(&format!("{route}?{query}"), &[]),
        }
    }

    /// The entry script, which collects the client's details again.
    pub fn entry(&self) -> ServerUrl {
        self.url(paths::ENTRY, &[])
    }

    fn login(&self) -> ServerUrl {
        self.url(paths::LOGIN, &[])
    }

    fn session(&self, client: &ClientInfo) -> ServerUrl {
        self.with_client(paths::SESSION, client)
    }

    fn start(&self, token: &BootToken) -> ServerUrl {
        self.url(paths::START, &[&token.as_str()])
    }

    fn organization(&self, token: &BootToken, organization_id: i32) -> ServerUrl {
        self.url(paths::ORGANIZATION, &[&token.as_str(), &organization_id])
    }

    fn group(&self, token: &BootToken, group_id: i32) -> ServerUrl {
        self.url(paths::GROUP, &[&token.as_str(), &group_id])
    }

    fn boot(
        &self,
        token: &BootToken,
        group_id: i32,
        menu_version: i32,
        entry_id: i32,
    ) -> ServerUrl {
        self.url(
            paths::BOOT,
            &[&token.as_str(), &group_id, &menu_version, &entry_id],
        )
    }

    fn logout(&self, token: &BootToken) -> ServerUrl {
        self.url(paths::LOGOUT, &[&token.as_str()])
    }

    fn memdisk(&self) -> ServerUrl {
        self.url(paths::MEMDISK, &[])
    }

    /// A library file for this boot session, as a plain URL (the script escapes it like
    /// any image URL).
    fn file(&self, token: &BootToken, file_id: i32, name: &str) -> String {
        format!(
            "{}{}",
            self.base,
            fill(paths::FILE, &[&token.as_str(), &file_id, &name])
        )
    }

    /// The folder of the files inside a library ISO, from the ISO's URL (either route).
    pub fn tree(iso_url: &str) -> String {
        format!("{iso_url}{}", paths::TREE_SUFFIX)
    }
}

/// Where the machine fetches an image's kernel, initrd or ISO: the URL as stored, or a
/// library file's URL in this boot session; `None` when the file has left the library.
async fn source_url(
    state: &AppState,
    urls: &Urls,
    (session, token): (&BootSession, &BootToken),
    organization_id: i32,
    stored: &str,
) -> Result<Option<String>, AppError> {
    let Some(name) = ImageSource::file_name(stored) else {
        return Ok(Some(stored.to_owned()));
    };
    let load = async {
        Ok::<_, AppError>(
            files::by_name(&state.db, organization_id, name)
                .await?
                .map(Arc::new),
        )
    };
    let file = state
        .boot_cache
        .files
        .get_or_load(session.generation, (organization_id, name.to_owned()), load)
        .await?;
    Ok(file.map(|file| urls.file(token, file.id, &file.name)))
}

/// `/boot.ipxe`.
pub fn entry(urls: &Urls) -> Plan {
    Plan::Entry {
        login_url: urls.login(),
    }
}

/// The sign-in prompt, with an optional message above it.
pub fn login(urls: &Urls, client: &ClientInfo, notice: Option<String>) -> Plan {
    Plan::Login(LoginPlan {
        notice,
        session_url: urls.session(client),
    })
}

/// The answer to an unknown, expired or foreign token: it reveals nothing and starts over.
pub fn expired(urls: &Urls) -> Plan {
    Plan::Notice(NoticePlan {
        lines: vec!["Your boot session has expired. Please sign in again.".into()],
        next_url: urls.entry(),
    })
}

/// The answer to a boot session taking steps faster than a person can: a pause, then the
/// start again (the session stays valid).
pub fn too_fast(urls: &Urls, token: &BootToken) -> Plan {
    notice(
        "Too many steps in a short time; wait a minute, then go on.",
        urls.start(token),
    )
}

fn notice(line: impl Into<String>, next_url: ServerUrl) -> Plan {
    Plan::Notice(NoticePlan {
        lines: vec![line.into()],
        next_url,
    })
}

/// Checks credentials sent by the login prompt; on success starts a session and shows the
/// first step, otherwise the prompt again with the reason.
pub async fn sign_in(
    state: &AppState,
    urls: &Urls,
    client: &ClientInfo,
    username: &str,
    password: &str,
) -> Result<Plan, AppError> {
    let attempt = Attempt {
        username,
        password,
        client_address: client.ip.clone(),
    };
    match accounts::authenticate(&state.db, &state.hasher, &state.settings, attempt).await {
        Ok(user) if user.must_change_password => Ok(login(
            urls,
            client,
            Some("Choose a new password in the web app first, then sign in here.".into()),
        )),
        Ok(user) => {
            let (session, token) =
                boot_sessions::start(&state.db, &user, client, state.settings.boot_token_ttl)
                    .await?;
            start(state, urls, &session, &token).await
        }
        Err(AppError::Internal) => Err(AppError::Internal),
        Err(AppError::Invalid { field, .. }) if field == "username" || field == "password" => {
            Ok(login(
                urls,
                client,
                Some("Enter a username and a password.".into()),
            ))
        }
        Err(refused) => Ok(login(urls, client, Some(refused.to_string()))),
    }
}

/// After sign-in: the organization choice, or straight on when there is one.
pub async fn start(
    state: &AppState,
    urls: &Urls,
    session: &BootSession,
    token: &BootToken,
) -> Result<Plan, AppError> {
    let mine: Vec<_> = organizations::list_for(&state.db, &session.actor)
        .await?
        .into_iter()
        .filter(|o| o.role.is_some())
        .collect();
    match mine.as_slice() {
        [] => Ok(notice(
            "You are not a member of any organization; ask an administrator to add you.",
            urls.logout(token),
        )),
        [only] => organization(state, urls, session, token, only.id).await,
        several => Ok(Plan::Choice(ChoicePlan {
            title: "Choose an organization".into(),
            options: several
                .iter()
                .map(|o| ChoiceOption {
                    text: o.name.clone(),
                    url: urls.organization(token, o.id),
                })
                .collect(),
            back_url: None,
            logout_url: urls.logout(token),
        })),
    }
}

/// How many of the actor's organizations there are, to know whether "Back" leads anywhere.
async fn organization_count(state: &AppState, session: &BootSession) -> Result<u64, AppError> {
    let Some(user_id) = session.actor.user_id else {
        return Ok(0);
    };
    let load = organizations::membership_count(&state.db, &session.actor);
    state
        .boot_cache
        .memberships
        .get_or_load(session.generation, user_id, load)
        .await
}

/// The group choice in an organization, or straight on when there is one.
pub async fn organization(
    state: &AppState,
    urls: &Urls,
    session: &BootSession,
    token: &BootToken,
    organization_id: i32,
) -> Result<Plan, AppError> {
    let mine = match groups::of_member(&state.db, &session.actor, organization_id).await {
        Ok(mine) => mine,
        Err(AppError::Forbidden | AppError::NotFound) => return Ok(unavailable(urls, token)),
        Err(other) => return Err(other),
    };
    let back_url = (organization_count(state, session).await? > 1).then(|| urls.start(token));
    match mine.as_slice() {
        [] => Ok(notice(
            "You are not in any group of this organization; ask its administrator to add you.",
            back_url.unwrap_or_else(|| urls.logout(token)),
        )),
        [only] => group_menu(state, urls, session, token, only.id).await,
        several => Ok(Plan::Choice(ChoicePlan {
            title: "Choose a group".into(),
            options: several
                .iter()
                .map(|g| ChoiceOption {
                    text: g.name.clone(),
                    url: urls.group(token, g.id),
                })
                .collect(),
            back_url,
            logout_url: urls.logout(token),
        })),
    }
}

/// What anyone gets for a step they may not take: nothing revealed, back to the start.
fn unavailable(urls: &Urls, token: &BootToken) -> Plan {
    notice("This choice is not available to you.", urls.start(token))
}

/// The group a member may boot from, with its organization and menu; `None` for anyone
/// else (refused as if the group did not exist). Kept while the boot generation stays.
async fn member_group(
    state: &AppState,
    session: &BootSession,
    group_id: i32,
) -> Result<Option<Arc<Place>>, AppError> {
    let Some(user_id) = session.actor.user_id else {
        return Ok(None);
    };
    let key = (user_id, session.actor.is_server_admin, group_id);
    let load = async {
        Ok(read_member_group(&state.db, session, group_id)
            .await?
            .map(Arc::new))
    };
    state
        .boot_cache
        .places
        .get_or_load(session.generation, key, load)
        .await
}

/// [`member_group`], from the database.
async fn read_member_group(
    db: &impl db::Conn,
    session: &BootSession,
    group_id: i32,
) -> Result<Option<Place>, AppError> {
    let Some((group, Some(organization))) = group::Entity::find_by_id(group_id)
        .find_also_related(organization::Entity)
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let mine = match groups::of_member(db, &session.actor, group.organization_id).await {
        Ok(mine) => mine,
        Err(AppError::Forbidden | AppError::NotFound) => return Ok(None),
        Err(other) => return Err(other),
    };
    if !mine.iter().any(|g| g.id == group_id) {
        return Ok(None);
    }
    let menu = match group.menu_id {
        Some(menu_id) => match menus::load(db, group.organization_id, menu_id).await {
            Ok(menu) => Some(menu),
            Err(AppError::NotFound) => return Ok(None),
            Err(other) => return Err(other),
        },
        None => None,
    };
    Ok(Some(Place {
        group,
        organization_name: organization.name,
        groups_here: mine.len(),
        menu,
    }))
}

/// A group's menu.
pub async fn group_menu(
    state: &AppState,
    urls: &Urls,
    session: &BootSession,
    token: &BootToken,
    group_id: i32,
) -> Result<Plan, AppError> {
    let place = member_group(state, session, group_id).await?;
    group_menu_with(state, urls, session, token, place.as_deref(), None).await
}

/// A group's menu, with a one-line notice above its entries (and then no countdown: the
/// user chooses again).
async fn group_menu_with(
    state: &AppState,
    urls: &Urls,
    session: &BootSession,
    token: &BootToken,
    place: Option<&Place>,
    notice_line: Option<&str>,
) -> Result<Plan, AppError> {
    let Some(Place {
        group,
        groups_here,
        menu,
        ..
    }) = place
    else {
        return Ok(unavailable(urls, token));
    };
    let back_url = if *groups_here > 1 {
        Some(urls.organization(token, group.organization_id))
    } else if organization_count(state, session).await? > 1 {
        Some(urls.start(token))
    } else {
        None
    };
    let Some(menu) = menu else {
        return Ok(notice(
            "This group has no boot menu yet; ask its administrator to choose one.",
            back_url.unwrap_or_else(|| urls.logout(token)),
        ));
    };
    let load = image_titles(&state.db, group.organization_id, menu);
    let titles = state
        .boot_cache
        .titles
        .get_or_load(session.generation, (group.organization_id, menu.id), load)
        .await?;
    let mut plan = menu::menu_plan(
        menu,
        &titles,
        |position| urls.boot(token, group.id, menu.version, menu.entry_ids[position - 1]),
        back_url,
        urls.logout(token),
    );
    if let Some(line) = notice_line {
        plan.lines.insert(
            0,
            MenuLine::Gap {
                text: line.to_owned(),
            },
        );
        plan.timeout_secs = None;
    }
    Ok(Plan::Menu(plan))
}

/// The titles of the images a menu shows.
async fn image_titles(
    db: &impl db::Conn,
    organization_id: i32,
    menu: &BootMenu,
) -> Result<Arc<std::collections::HashMap<i32, String>>, AppError> {
    use sea_orm::{ColumnTrait, QueryFilter, QuerySelect};
    let ids: Vec<i32> = menu
        .entries
        .iter()
        .filter_map(|entry| match entry.item {
            MenuItem::Image { image_id } => Some(image_id),
            _ => None,
        })
        .collect();
    if ids.is_empty() {
        return Ok(Arc::default());
    }
    let rows: Vec<(i32, String)> = boot_image::Entity::find()
        .select_only()
        .column(boot_image::Column::Id)
        .column(boot_image::Column::Title)
        .filter(boot_image::Column::Id.is_in(ids))
        .filter(boot_image::Column::OrganizationId.eq(organization_id))
        .into_tuple()
        .all(db)
        .await?;
    Ok(Arc::new(rows.into_iter().collect()))
}

/// The boot script of a group's menu entry, chosen on the menu of `menu_version`; logged.
pub async fn boot(
    state: &AppState,
    urls: &Urls,
    session: &BootSession,
    token: &BootToken,
    group_id: i32,
    menu_version: i32,
    entry_id: i32,
) -> Result<Plan, AppError> {
    let place = member_group(state, session, group_id).await?;
    let Some(Place {
        group,
        organization_name,
        menu: Some(menu),
        ..
    }) = place.as_deref()
    else {
        return Ok(unavailable(urls, token));
    };
    // The choice names the entry and the menu as it was shown: after any change since
    // (a reorder, a deleted image), the current menu is shown again, never another entry
    // booted in its place.
    let current = menu
        .entry_ids
        .iter()
        .position(|id| *id == entry_id)
        .filter(|_| menu.version == menu_version)
        .and_then(|index| menu.entries.get(index));
    let Some(entry) = current else {
        tracing::info!(
            group_id,
            menu_version,
            entry_id,
            "a boot choice from a changed menu"
        );
        return group_menu_with(
            state,
            urls,
            session,
            token,
            place.as_deref(),
            Some("This menu changed since it was shown; please choose again."),
        )
        .await;
    };
    let menu_url = urls.group(token, group_id);
    let mut record = BootRecord {
        organization_id: Some(group.organization_id),
        organization_name: Some(organization_name.clone()),
        group_id: Some(group_id),
        menu_id: Some(menu.id),
        outcome: "boot_script_served".into(),
        ..BootRecord::default()
    };
    let (title, step) = match &entry.item {
        MenuItem::Separator { .. } => {
            return Ok(notice("This line is not bootable.", menu_url));
        }
        MenuItem::Image { image_id } => {
            let load = async {
                Ok::<_, AppError>(
                    boot_image::Entity::find_by_id(*image_id)
                        .one(&state.db)
                        .await?
                        .map(Arc::new),
                )
            };
            let model = state
                .boot_cache
                .images
                .get_or_load(session.generation, *image_id, load)
                .await?;
            let Some(model) = model.filter(|m| m.organization_id == group.organization_id) else {
                return Ok(notice("This image no longer exists.", menu_url));
            };
            let image = images::to_view(Arc::unwrap_or_clone(model));
            record.image_id = Some(image.id);
            record.entry_kind = Some(image.kind.as_str().to_owned());
            let organization_id = group.organization_id;
            let kernel = image.kernel_url.as_deref().unwrap_or_default();
            let gone = || {
                notice(
                    "A file this image boots is no longer in the library.",
                    menu_url.clone(),
                )
            };
            // Empty: a kernel that boots alone.
            let image_url = match image.image_url.as_str() {
                "" => None,
                stored => match source_url(state, urls, (session, token), organization_id, stored)
                    .await?
                {
                    Some(url) => Some(url),
                    None => return Ok(gone()),
                },
            };
            let Some(kernel_url) =
                source_url(state, urls, (session, token), organization_id, kernel).await?
            else {
                return Ok(gone());
            };
            // `{iso}` and `{tree}` in the arguments: the image's ISO in this session.
            let args = match image.iso_url.as_deref() {
                None => image.args.to_strings(),
                Some(stored) => {
                    match source_url(state, urls, (session, token), organization_id, stored).await?
                    {
                        Some(iso_url) => image.args.expand(&iso_url, &Urls::tree(&iso_url)),
                        None => {
                            return Ok(notice(
                                "The ISO this image uses is no longer in the library.",
                                menu_url,
                            ));
                        }
                    }
                }
            };
            let step = match (image.kind, image.iso_boot) {
                (ImageKind::KernelInitrd, _) => BootStep::KernelInitrd {
                    kernel_url,
                    initrd_url: image_url,
                    args,
                },
                // A stored ISO image always has its ISO (the form requires it).
                (ImageKind::Iso, IsoBoot::Sanboot) => BootStep::Sanboot {
                    iso_url: image_url.unwrap_or_default(),
                },
                (ImageKind::Iso, IsoBoot::Memdisk) => BootStep::Memdisk {
                    iso_url: image_url.unwrap_or_default(),
                    memdisk_url: urls.memdisk(),
                },
            };
            (image.title, step)
        }
        MenuItem::Action { action, url } => {
            record.entry_kind = Some(action.as_str().to_owned());
            let step = match action {
                MenuAction::LocalDisk => BootStep::LocalDisk,
                MenuAction::Reboot => BootStep::Reboot,
                MenuAction::PowerOff => BootStep::PowerOff,
                MenuAction::Shell => BootStep::Shell,
                MenuAction::Exit => BootStep::Exit,
                MenuAction::Chain => BootStep::Chain {
                    url: url.clone().unwrap_or_default(),
                },
            };
            (action.label().to_owned(), step)
        }
    };
    record.entry_title = Some(title.clone());
    boot_sessions::record(&state.boot_log, session, record).await?;
    Ok(Plan::Boot(BootPlan {
        title,
        step,
        menu_url,
    }))
}

/// Signs out at the client: the session ends and the prompt shows again.
pub async fn logout(
    state: &AppState,
    urls: &Urls,
    session: &BootSession,
) -> Result<Plan, AppError> {
    boot_sessions::end(&state.db, session.token_id).await?;
    Ok(login(urls, &session.client, Some("Signed out.".into())))
}

#[cfg(test)]
mod tests {
    use super::{fill, paths};

    #[test]
    fn a_route_is_filled_in_with_its_values_in_order() {
        assert_eq!(
            fill(paths::BOOT, &[&"t0k", &3, &7, &42]),
            "/ipxe/s/t0k/boot/3/7/42"
        );
        assert_eq!(fill(paths::START, &[&"t0k"]), "/ipxe/s/t0k/start");
        assert_eq!(fill(paths::ENTRY, &[]), "/boot.ipxe");
    }
}
