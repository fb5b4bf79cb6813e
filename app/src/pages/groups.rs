//! An organization's groups: a filtered, paged list with the menu each boots, a form for a new
//! one, and delete.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::A, hooks::use_navigate};

use crate::{
    api::groups::{CreateGroup, delete_group, groups, menu_choices},
    components::{
        feedback::{DeleteDialog, Doomed},
        list::{Column, Empty, PagedList},
        org_frame::{OrgTab, org_href, use_org_id},
        ui::{Alert, ButtonKind, Card, Field, INPUT_CLASSES, Tone, field_error, table},
    },
    error::AppError,
    model::{Choice, GroupRow},
    validate::{Label, NAME_MAX},
};

/// `/org/:org/groups`.
#[component]
pub fn GroupsPage() -> impl IntoView {
    let organization_id = use_org_id();
    view! {
        <Title text="Groups" />
        <GroupList organization_id />
    }
}

#[component]
fn GroupList(organization_id: i32) -> impl IntoView {
    let reload = RwSignal::new(0u32);
    let doomed = RwSignal::new(None);
    view! {
        <div class="grid gap-6 lg:grid-cols-3">
            <div class="lg:col-span-2">
                <PagedList
                    filter_label="Filter groups"
                    fetch=move |filter, page| groups(organization_id, filter, page)
                    columns=vec![
                        Column::new("Group"),
                        Column::new("Menu"),
                        Column::new("Members").class("text-right"),
                        Column::actions(),
                    ]
                    row=move |group| view! { <GroupListRow organization_id group doomed /> }
                    empty=Empty {
                        title: "No groups yet",
                        text: "A group gives its members a menu to boot.",
                        no_match: "No group matches the filter.",
                    }
                    reload
                />
            </div>
            <NewGroup organization_id />
        </div>
        <DeleteDialog
            doomed
            what="group"
            affected_intro=""
            nothing_affected="Its members keep their accounts and the organization; its menu stays."
            usage=|_| async { Ok(Vec::new()) }
            delete=move |id| delete_group(organization_id, id)
            on_deleted=Callback::new(move |_| reload.update(|n| *n += 1))
        />
    }
}

#[component]
fn GroupListRow(organization_id: i32, group: GroupRow, doomed: RwSignal<Doomed>) -> impl IntoView {
    let href = format!("{}/{}", org_href(organization_id, OrgTab::Groups), group.id);
    let name = group.name.clone();
    let link_text = name.clone();
    view! {
        <tr data-testid="group-row">
            <td class=table::TD>
                <A href=href attr:class="font-medium text-indigo-700 hover:underline">{link_text}</A>
                <div class="text-xs text-slate-500">{group.description.clone()}</div>
            </td>
            <td class=table::TD>
                {group.menu_title.clone().unwrap_or_else(|| "— no menu —".into())}
            </td>
            <td class=format!("{} text-right tabular-nums", table::TD)>{group.member_count}</td>
            <td class=format!("{} text-right", table::TD)>
                <button
                    type="button"
                    class=ButtonKind::Quiet.classes()
                    aria-label=format!("Delete {name}")
                    on:click=move |_| doomed.set(Some((group.id, group.name.clone())))
                >
                    "Delete"
                </button>
            </td>
        </tr>
    }
}

/// The organization's menus as choices, for a [`MenuSelect`].
pub fn menu_choices_resource(organization_id: i32) -> Resource<Result<Vec<Choice>, AppError>> {
    Resource::new(|| (), move |_| menu_choices(organization_id))
}

/// A chooser of the organization's menus, with "no menu".
#[component]
pub fn MenuSelect(
    /// The organization's menus, loaded by the caller where it is made once.
    choices: Resource<Result<Vec<Choice>, AppError>>,
    id: &'static str,
    /// The chosen menu's id.
    value: RwSignal<Option<i32>>,
    #[prop(into, optional)] error: Signal<Option<String>>,
) -> impl IntoView {
    view! {
        <div class="space-y-1">
            <label for=id class="block text-sm font-medium text-slate-700">"Menu it boots"</label>
            // The whole select waits for the choices: a Suspense inside a <select> would leave
            // markers the HTML parser moves around.
            <Suspense fallback=|| view! { <select class=INPUT_CLASSES disabled=true><option>"Loading…"</option></select> }>
                {move || Suspend::new(async move {
                    let list = choices.await.unwrap_or_default();
                    view! {
                        <select
                            id=id
                            class=INPUT_CLASSES
                            aria-invalid=move || error.get().is_some().to_string()
                            on:change=move |ev| value.set(event_target_value(&ev).parse().ok())
                        >
                            <option value="" selected=move || value.get().is_none()>"— no menu —"</option>
                            {list
                                .into_iter()
                                .map(|Choice { id, text }| {
                                    view! { <option value=id.to_string() selected=move || value.get() == Some(id)>{text}</option> }
                                })
                                .collect_view()}
                        </select>
                    }
                })}
            </Suspense>
            {move || error.get().map(|e| view! { <p class="text-sm text-red-600">{e}</p> })}
        </div>
    }
}

#[component]
fn NewGroup(organization_id: i32) -> impl IntoView {
    let navigate = use_navigate();
    let choices = menu_choices_resource(organization_id);
    let create = ServerAction::<CreateGroup>::new();
    let name = RwSignal::new(String::new());
    let menu = RwSignal::new(None::<i32>);
    let tried = RwSignal::new(false);
    let server = move || create.value().get().and_then(Result::err);
    let name_error = Signal::derive(move || {
        field_error(
            &name.get(),
            tried.get(),
            |v| Label::name(v, "group").err(),
            server(),
            "name",
        )
    });
    Effect::new(move || {
        if let Some(Ok(group_id)) = create.value().get() {
            navigate(
                &format!("{}/{group_id}", org_href(organization_id, OrgTab::Groups)),
                Default::default(),
            );
        }
    });
    view! {
        <Card title="New group">
            <form
                class="space-y-3"
                novalidate=true
                on:submit=move |ev| {
                    ev.prevent_default();
                    tried.set(true);
                    if name_error.get_untracked().is_none() {
                        create.dispatch(CreateGroup {
                            organization_id,
                            name: name.get_untracked(),
                            description: String::new(),
                            menu_id: menu.get_untracked(),
                        });
                    }
                }
            >
                {move || server().filter(|e| e.field_message("name").is_none()).map(|e| view! { <Alert tone=Tone::Error>{e.to_string()}</Alert> })}
                <Field label="Name" id="new-group-name" value=name error=name_error maxlength=NAME_MAX />
                <MenuSelect choices id="new-group-menu" value=menu />
                <button type="submit" class=ButtonKind::Primary.classes() disabled=move || create.pending().get()>
                    {move || if create.pending().get() { "Creating…" } else { "Create group" }}
                </button>
            </form>
        </Card>
    }
}
