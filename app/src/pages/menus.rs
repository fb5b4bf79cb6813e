//! An organization's boot menus: a filtered, paged list, a form for a new one, and delete
//! after saying which groups lose their menu.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::A, hooks::use_navigate};

use crate::{
    api::menus::{CreateMenu, delete_menu, menu_usage, menus},
    components::{
        feedback::{DeleteDialog, Doomed},
        org_frame::{OrgFrame, OrgTab, org_href},
        ui::{
            Alert, BoundField, ButtonKind, Card, EmptyState, Loading, Pagination, SearchBox, Tone,
            table,
        },
    },
    model::{MenuRow, PAGE_SIZE},
    pages::id_param,
};

/// `/org/:org/menus`.
#[component]
pub fn MenusPage() -> impl IntoView {
    let org = id_param("org");
    view! {
        <Title text="Menus" />
        <OrgFrame organization_id=org tab=OrgTab::Menus>
            <MenuList organization_id=org.get_untracked().unwrap_or_default() />
        </OrgFrame>
    }
}

#[component]
fn MenuList(organization_id: i32) -> impl IntoView {
    let filter = RwSignal::new(String::new());
    let page = RwSignal::new(0u64);
    let reload = RwSignal::new(0u32);
    let list = Resource::new(
        move || (filter.get(), page.get(), reload.get()),
        move |(filter, page, _)| menus(organization_id, filter, page),
    );
    let doomed = RwSignal::new(None);
    view! {
        <div class="grid gap-6 lg:grid-cols-3">
            <div class="space-y-4 lg:col-span-2">
                <SearchBox label="Filter menus" value=filter on_change=Callback::new(move |_| page.set(0)) />
                <Transition fallback=Loading>
                    {move || Suspend::new(async move {
                        match list.await {
                            Ok(found) if found.total == 0 && filter.get_untracked().is_empty() => view! {
                                <EmptyState
                                    title="No menus yet"
                                    text="Create a menu, then drag images and actions into it."
                                />
                            }
                                .into_any(),
                            Ok(found) => {
                                let total = found.total;
                                view! { <MenuTable organization_id menus=found.items doomed /> <Pagination page total page_size=PAGE_SIZE /> }.into_any()
                            }
                            Err(error) => view! { <Alert tone=Tone::Error>{error.to_string()}</Alert> }.into_any(),
                        }
                    })}
                </Transition>
            </div>
            <NewMenu organization_id />
        </div>
        <DeleteDialog
            doomed
            what="menu"
            affected_intro="These groups will have no menu to boot:"
            nothing_affected="No group boots this menu."
            usage=move |id| menu_usage(organization_id, id)
            delete=move |id| delete_menu(organization_id, id)
            on_deleted=Callback::new(move |_| reload.update(|n| *n += 1))
        />
    }
}

#[component]
fn MenuTable(organization_id: i32, menus: Vec<MenuRow>, doomed: RwSignal<Doomed>) -> impl IntoView {
    if menus.is_empty() {
        return view! { <p class="py-4 text-center text-sm text-slate-500">"No menu matches the filter."</p> }
            .into_any();
    }
    view! {
        <div class="overflow-x-auto rounded-lg border border-slate-200 bg-white px-4 shadow-sm">
            <table class=table::TABLE>
                <thead>
                    <tr>
                        <th scope="col" class=table::TH>"Title"</th>
                        <th scope="col" class=format!("{} text-right", table::TH)>"Entries"</th>
                        <th scope="col" class=table::TH><span class="sr-only">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100">
                    {menus
                        .into_iter()
                        .map(|menu| {
                            let href = format!("{}/{}", org_href(organization_id, OrgTab::Menus), menu.id);
                            let title = menu.title.clone();
                            let link_text = title.clone();
                            view! {
                                <tr data-testid="menu-row">
                                    <td class=table::TD>
                                        <A href=href attr:class="font-medium text-indigo-700 hover:underline">{link_text}</A>
                                    </td>
                                    <td class=format!("{} text-right tabular-nums", table::TD)>{menu.entry_count}</td>
                                    <td class=format!("{} text-right", table::TD)>
                                        <button
                                            type="button"
                                            class=ButtonKind::Quiet.classes()
                                            aria-label=format!("Delete {title}")
                                            on:click=move |_| doomed.set(Some((menu.id, menu.title.clone())))
                                        >
                                            "Delete"
                                        </button>
                                    </td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

#[component]
fn NewMenu(organization_id: i32) -> impl IntoView {
    let navigate = use_navigate();
    let create = ServerAction::<CreateMenu>::new();
    let title = RwSignal::new(String::new());
    let tried = RwSignal::new(false);
    let server_error = move || create.value().get().and_then(Result::err);
    let title_error = Signal::derive(move || {
        let typed = title.get();
        (tried.get() || !typed.trim().is_empty())
            .then(|| crate::boot::Title::parse(&typed, "menu").err())
            .flatten()
            .or_else(|| server_error().and_then(|e| e.field_message("title")))
    });
    Effect::new(move || {
        if let Some(Ok(menu_id)) = create.value().get() {
            navigate(
                &format!("{}/{menu_id}", org_href(organization_id, OrgTab::Menus)),
                Default::default(),
            );
        }
    });
    view! {
        <Card title="New menu">
            <form
                class="space-y-3"
                novalidate=true
                on:submit=move |ev| {
                    ev.prevent_default();
                    tried.set(true);
                    if title_error.get_untracked().is_none() {
                        create.dispatch(CreateMenu {
                            organization_id,
                            title: title.get_untracked(),
                            background_url: String::new(),
                            timeout_secs: String::new(),
                        });
                    }
                }
            >
                <BoundField label="Title" id="new-menu-title" value=title error=title_error maxlength=crate::boot::TITLE_MAX />
                <button type="submit" class=ButtonKind::Primary.classes() disabled=move || create.pending().get()>
                    {move || if create.pending().get() { "Creating…" } else { "Create menu" }}
                </button>
            </form>
        </Card>
    }
}
