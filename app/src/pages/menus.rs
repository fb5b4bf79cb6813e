//! An organization's boot menus: a filtered, paged list, a form for a new one, and delete
//! after saying which groups lose their menu.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::A, hooks::use_navigate};

use crate::{
    api::menus::{CreateMenu, delete_menu, menu_usage, menus},
    components::{
        feedback::{DeleteDialog, Doomed},
        list::{Column, Empty, PagedList},
        org_frame::{OrgTab, org_href, use_org_id},
        ui::{ButtonKind, Card, Field, field_error, table},
    },
    model::MenuRow,
};

/// `/org/:org/menus`.
#[component]
pub fn MenusPage() -> impl IntoView {
    let organization_id = use_org_id();
    view! {
        <Title text="Menus" />
        <MenuList organization_id />
    }
}

#[component]
fn MenuList(organization_id: i32) -> impl IntoView {
    let reload = RwSignal::new(0u32);
    let doomed = RwSignal::new(None);
    view! {
        <div class="grid gap-6 lg:grid-cols-3">
            <div class="lg:col-span-2">
                <PagedList
                    filter_label="Filter menus"
                    fetch=move |filter, page| menus(organization_id, filter, page)
                    columns=vec![
                        Column::new("Title"),
                        Column::new("Entries").class("text-right"),
                        Column::actions(),
                    ]
                    row=move |menu| view! { <MenuListRow organization_id menu doomed /> }
                    empty=Empty {
                        title: "No menus yet",
                        text: "Create a menu, then drag images and actions into it.",
                        no_match: "No menu matches the filter.",
                    }
                    reload
                />
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
fn MenuListRow(organization_id: i32, menu: MenuRow, doomed: RwSignal<Doomed>) -> impl IntoView {
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
}

#[component]
fn NewMenu(organization_id: i32) -> impl IntoView {
    let navigate = use_navigate();
    let create = ServerAction::<CreateMenu>::new();
    let title = RwSignal::new(String::new());
    let tried = RwSignal::new(false);
    let server_error = move || create.value().get().and_then(Result::err);
    let title_error = Signal::derive(move || {
        field_error(
            &title.get(),
            tried.get(),
            |v| crate::validate::Label::title(v, "menu").err(),
            server_error(),
            "title",
        )
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
                <Field label="Title" id="new-menu-title" value=title error=title_error maxlength=crate::boot::TITLE_MAX />
                <button type="submit" class=ButtonKind::Primary.classes() disabled=move || create.pending().get()>
                    {move || if create.pending().get() { "Creating…" } else { "Create menu" }}
                </button>
            </form>
        </Card>
    }
}
