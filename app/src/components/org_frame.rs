//! The frame of an organization's admin pages: its name and the tabs between them.

use leptos::prelude::*;
use leptos_router::{
    components::{A, Outlet},
    hooks::use_location,
};

use crate::{
    api::organizations::organization,
    components::ui::{Alert, Loading, Tone},
    error::AppError,
    model::OrganizationDetail,
};

/// The tabs of an organization's pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrgTab {
    Overview,
    Members,
    Groups,
    Images,
    Files,
    Menus,
    BootLog,
}

impl OrgTab {
    const ALL: [Self; 7] = [
        Self::Overview,
        Self::Members,
        Self::Groups,
        Self::Images,
        Self::Files,
        Self::Menus,
        Self::BootLog,
    ];

    fn label(self) -> &'static str {
        match self {
            Self::Overview => "Overview",
            Self::Members => "Members",
            Self::Groups => "Groups",
            Self::Images => "Images",
            Self::Files => "Files",
            Self::Menus => "Menus",
            Self::BootLog => "Boot log",
        }
    }

    fn path(self) -> &'static str {
        match self {
            Self::Overview => "",
            Self::Members => "/members",
            Self::Groups => "/groups",
            Self::Images => "/images",
            Self::Files => "/files",
            Self::Menus => "/menus",
            Self::BootLog => "/boot-log",
        }
    }
}

impl OrgTab {
    /// The tab an address of `/org/:org/…` belongs to.
    fn of_path(path: &str) -> Self {
        let section = path.split('/').nth(3).unwrap_or_default();
        Self::ALL
            .into_iter()
            .find(|tab| tab.path().trim_start_matches('/') == section)
            .unwrap_or(Self::Overview)
    }
}

/// The link to a tab of an organization.
pub fn org_href(organization_id: i32, tab: OrgTab) -> String {
    format!("/org/{organization_id}{}", tab.path())
}

/// The organization of the frame, loaded once; await it inside a `Suspense`.
#[derive(Debug, Clone, Copy)]
pub struct OrgResource(pub Resource<Result<OrganizationDetail, AppError>>);

/// The organization the pages of the frame belong to, parsed once from the address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrgId(pub i32);

/// Bumped by a page after it changed the organization (its name, say) to load it again.
#[derive(Debug, Clone, Copy)]
pub struct OrgReload(pub RwSignal<u32>);

/// The organization of the page; only pages inside an [`OrgSection`] ask.
pub fn use_org_id() -> i32 {
    expect_context::<OrgId>().0
}

/// The route of `/org/:org/…`: an organization's name and tabs above the page of its tab.
/// An address whose organization is not a number shows "not found", never a page.
#[component]
pub fn OrgSection() -> impl IntoView {
    let id = crate::pages::id_param("org");
    move || match id.get() {
        Some(id) => view! { <OrgFrame organization_id=id /> }.into_any(),
        None => {
            view! { <Alert tone=Tone::Error>{AppError::NotFound.to_string()}</Alert> }.into_any()
        }
    }
}

/// The frame of one organization; made again when the address names another.
///
/// The page is made once, outside the suspense that waits for the organization (see
/// `Layout`), and hidden when the organization cannot be shown.
#[component]
fn OrgFrame(organization_id: i32) -> impl IntoView {
    provide_context(OrgId(organization_id));
    let reload = RwSignal::new(0u32);
    provide_context(OrgReload(reload));
    let detail = Resource::new(move || reload.get(), move |_| organization(organization_id));
    provide_context(OrgResource(detail));
    let location = use_location();
    let tab = Memo::new(move |_| OrgTab::of_path(&location.pathname.get()));
    let failed = move || detail.get().is_some_and(|d| d.is_err());
    view! {
        <div class="space-y-6">
            <Suspense fallback=Loading>
                {move || Suspend::new(async move {
                    match detail.await {
                        Ok(org) => view! { <OrgTabs org tab /> }.into_any(),
                        Err(error) => view! { <Alert tone=Tone::Error>{error.to_string()}</Alert> }.into_any(),
                    }
                })}
            </Suspense>
            <div class:hidden=failed><Outlet /></div>
        </div>
    }
}

#[component]
fn OrgTabs(org: OrganizationDetail, tab: Memo<OrgTab>) -> impl IntoView {
    let tab_class = "whitespace-nowrap border-b-2 px-1 pb-2 text-sm font-medium focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500";
    view! {
        <div class="space-y-3">
            <p class="text-sm font-medium text-indigo-600" data-testid="organization-name">{org.name.clone()}</p>
            <nav class="flex gap-5 overflow-x-auto border-b border-slate-200" aria-label="Organization">
                {OrgTab::ALL
                    .into_iter()
                    .map(|t| {
                        let current = move || tab.get() == t;
                        let classes = move || {
                            if current() {
                                format!("{tab_class} border-indigo-600 text-indigo-700")
                            } else {
                                format!("{tab_class} border-transparent text-slate-500 hover:border-slate-300 hover:text-slate-700")
                            }
                        };
                        view! {
                            <A href=org_href(org.id, t) attr:class=classes attr:aria-current=move || current().then_some("page")>
                                {t.label()}
                            </A>
                        }
                    })
                    .collect_view()}
            </nav>
        </div>
    }
}

/// The frame's organization resource (`None` outside a frame).
pub fn use_org() -> Option<OrgResource> {
    use_context::<OrgResource>()
}
