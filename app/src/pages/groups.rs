//! An organization's groups: a filtered, paged list with the menu each boots, a form for a new
//! one, and delete.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::A, hooks::use_navigate};

use crate::{
    api::groups::{CreateGroup, delete_group, groups, menu_choices},
    components::{
        feedback::{DeleteDialog, Doomed},
        org_frame::{OrgFrame, OrgTab, org_href},
        ui::{
            Alert, BoundField, ButtonKind, Card, EmptyState, INPUT_CLASSES, Loading, Pagination,
            SearchBox, Tone, table,
        },
    },
    error::AppError,
    model::{Choice, GroupRow, PAGE_SIZE},
    pages::id_param,
    validate::{DisplayName, NAME_MAX},
};

/// `/org/:org/groups`.
#[component]
pub fn GroupsPage() -> impl IntoView {
    let org = id_param("org");
    view! {
        <Title text="Groups" />
        <OrgFrame organization_id=org tab=OrgTab::Groups>
            <GroupList organization_id=org.get_untracked().unwrap_or_default() />
        </OrgFrame>
    }
}

#[component]
fn GroupList(organization_id: i32) -> impl IntoView {
    let filter = RwSignal::new(String::new());
    let page = RwSignal::new(0u64);
    let reload = RwSignal::new(0u32);
    let list = Resource::new(
        move || (filter.get(), page.get(), reload.get()),
        move |(filter, page, _)| groups(organization_id, filter, page),
    );
    let doomed = RwSignal::new(None);
    view! {
        <div class="grid gap-6 lg:grid-cols-3">
            <div class="space-y-4 lg:col-span-2">
                <SearchBox label="Filter groups" value=filter on_change=Callback::new(move |_| page.set(0)) />
                <Transition fallback=Loading>
                    {move || Suspend::new(async move {
                        match list.await {
                            Ok(found) if found.total == 0 && filter.get_untracked().is_empty() => view! {
                                <EmptyState
                                    title="No groups yet"
                                    text="A group gives its members a menu to boot."
                                />
                            }
                                .into_any(),
                            Ok(found) => {
                                let total = found.total;
                                view! { <GroupTable organization_id groups=found.items doomed /> <Pagination page total page_size=PAGE_SIZE /> }.into_any()
                            }
                            Err(error) => view! { <Alert tone=Tone::Error>{error.to_string()}</Alert> }.into_any(),
                        }
                    })}
                </Transition>
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
fn GroupTable(
    organization_id: i32,
    groups: Vec<GroupRow>,
    doomed: RwSignal<Doomed>,
) -> impl IntoView {
    if groups.is_empty() {
        return view! { <p class="py-4 text-center text-sm text-slate-500">"No group matches the filter."</p> }
            .into_any();
    }
    view! {
        <div class="overflow-x-auto rounded-lg border border-slate-200 bg-white px-4 shadow-sm">
            <table class=table::TABLE>
                <thead>
                    <tr>
                        <th scope="col" class=table::TH>"Group"</th>
                        <th scope="col" class=table::TH>"Menu"</th>
                        <th scope="col" class=format!("{} text-right", table::TH)>"Members"</th>
                        <th scope="col" class=table::TH><span class="sr-only">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100">
                    {groups
                        .into_iter()
                        .map(|group| {
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
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
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
        let typed = name.get();
        (tried.get() || !typed.trim().is_empty())
            .then(|| DisplayName::parse(&typed, "group", NAME_MAX).err())
            .flatten()
            .or_else(|| server().and_then(|e| e.field_message("name")))
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
                <BoundField label="Name" id="new-group-name" value=name error=name_error maxlength=NAME_MAX />
                <MenuSelect choices id="new-group-menu" value=menu />
                <button type="submit" class=ButtonKind::Primary.classes() disabled=move || create.pending().get()>
                    {move || if create.pending().get() { "Creating…" } else { "Create group" }}
                </button>
            </form>
        </Card>
    }
}
