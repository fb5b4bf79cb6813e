//! The frame of an organization's admin pages: its name and the tabs between them.

use leptos::prelude::*;
use leptos_router::components::A;

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
    Menus,
    BootLog,
}

impl OrgTab {
    const ALL: [Self; 6] = [
        Self::Overview,
        Self::Members,
        Self::Groups,
        Self::Images,
        Self::Menus,
        Self::BootLog,
    ];

    fn label(self) -> &'static str {
        match self {
            Self::Overview => "Overview",
            Self::Members => "Members",
            Self::Groups => "Groups",
            Self::Images => "Images",
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
            Self::Menus => "/menus",
            Self::BootLog => "/boot-log",
        }
    }
}

/// The link to a tab of an organization.
pub fn org_href(organization_id: i32, tab: OrgTab) -> String {
    format!("/org/{organization_id}{}", tab.path())
}

/// The organization of the frame, loaded once; await it inside a `Suspense`.
#[derive(Debug, Clone, Copy)]
pub struct OrgResource(pub Resource<Result<OrganizationDetail, AppError>>);

/// An organization's name and tabs above the page; or why the organization cannot be shown.
///
/// The page is made once, outside the suspense that waits for the organization (see
/// `Layout`), and hidden when the organization cannot be shown.
#[component]
pub fn OrgFrame(
    /// The organization, from the address; `None` when the address is not a number.
    #[prop(into)]
    organization_id: Signal<Option<i32>>,
    /// The tab to mark as current.
    tab: OrgTab,
    /// Bumped by a page after it changed the organization, to load it again.
    #[prop(optional)]
    reload: Option<RwSignal<u32>>,
    children: Children,
) -> impl IntoView {
    let reload = reload.unwrap_or_else(|| RwSignal::new(0));
    let detail = Resource::new(
        move || (organization_id.get(), reload.get()),
        |(id, _)| async move {
            match id {
                Some(id) => organization(id).await,
                None => Err(AppError::NotFound),
            }
        },
    );
    provide_context(OrgResource(detail));
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
            <div class:hidden=failed>{children()}</div>
        </div>
    }
}

#[component]
fn OrgTabs(org: OrganizationDetail, tab: OrgTab) -> impl IntoView {
    let tab_class = "whitespace-nowrap border-b-2 px-1 pb-2 text-sm font-medium focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500";
    view! {
        <div class="space-y-3">
            <p class="text-sm font-medium text-indigo-600" data-testid="organization-name">{org.name.clone()}</p>
            <nav class="flex gap-5 overflow-x-auto border-b border-slate-200" aria-label="Organization">
                {OrgTab::ALL
                    .into_iter()
                    .map(|t| {
                        let current = t == tab;
                        let classes = if current {
                            format!("{tab_class} border-indigo-600 text-indigo-700")
                        } else {
                            format!("{tab_class} border-transparent text-slate-500 hover:border-slate-300 hover:text-slate-700")
                        };
                        view! {
                            <A href=org_href(org.id, t) attr:class=classes attr:aria-current=current.then_some("page")>
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
