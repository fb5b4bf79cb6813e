//! Every organization, for server admins: a filtered, paged list and a form for a new one.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::A, hooks::use_navigate};

use crate::{
    api::organizations::{CreateOrganization, my_organizations},
    components::{
        org_frame::{OrgTab, org_href},
        ui::{
            Alert, BoundField, ButtonKind, Card, EmptyState, Loading, PageHeader, Pagination,
            SearchBox, Tone, table,
        },
    },
    forms::DESCRIPTION_MAX,
    model::{OrganizationSummary, PAGE_SIZE},
    validate::{DisplayName, NAME_MAX},
};

/// `/organizations`.
#[component]
pub fn OrganizationsPage() -> impl IntoView {
    let list = Resource::new(|| (), |_| my_organizations());
    let filter = RwSignal::new(String::new());
    let page = RwSignal::new(0u64);
    view! {
        <Title text="Organizations" />
        <div class="space-y-6">
            <PageHeader title="Organizations" subtitle="Every organization on this server." />
            <div class="grid gap-6 lg:grid-cols-3">
                <div class="space-y-4 lg:col-span-2">
                    <SearchBox label="Filter organizations" value=filter on_change=Callback::new(move |_| page.set(0)) />
                    <Suspense fallback=Loading>
                        {move || Suspend::new(async move {
                            match list.await {
                                Ok(all) if all.is_empty() => view! {
                                    <EmptyState title="No organizations yet" text="Create the first one with the form." />
                                }
                                    .into_any(),
                                Ok(all) => view! { <OrganizationTable all filter page /> }.into_any(),
                                Err(error) => view! { <Alert tone=Tone::Error>{error.to_string()}</Alert> }.into_any(),
                            }
                        })}
                    </Suspense>
                </div>
                <NewOrganization />
            </div>
        </div>
    }
}

#[component]
fn OrganizationTable(
    all: Vec<OrganizationSummary>,
    filter: RwSignal<String>,
    page: RwSignal<u64>,
) -> impl IntoView {
    let all = StoredValue::new(all);
    let matching = Memo::new(move |_| {
        let needle = filter.get().trim().to_lowercase();
        all.with_value(|list| {
            list.iter()
                .filter(|o| needle.is_empty() || o.name.to_lowercase().contains(&needle))
                .cloned()
                .collect::<Vec<_>>()
        })
    });
    let shown = move || {
        let start = (page.get() * PAGE_SIZE) as usize;
        matching.with(|list| {
            list.iter()
                .skip(start)
                .take(PAGE_SIZE as usize)
                .cloned()
                .collect::<Vec<_>>()
        })
    };
    let total = Signal::derive(move || matching.with(Vec::len) as u64);
    view! {
        <div class="overflow-x-auto rounded-lg border border-slate-200 bg-white px-4 shadow-sm">
            <table class=table::TABLE>
                <thead>
                    <tr>
                        <th scope="col" class=table::TH>"Organization"</th>
                        <th scope="col" class=format!("{} text-right", table::TH)>"Members"</th>
                        <th scope="col" class=format!("{} text-right", table::TH)>"Groups"</th>
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100">
                    <For each=shown key=|o| o.id let:org>
                        <tr data-testid="organization-row">
                            <td class=table::TD>
                                <A href=org_href(org.id, OrgTab::Overview) attr:class="font-medium text-indigo-700 hover:underline">
                                    {org.name.clone()}
                                </A>
                                <div class="text-xs text-slate-500">{org.description.clone()}</div>
                            </td>
                            <td class=format!("{} text-right tabular-nums", table::TD)>{org.member_count}</td>
                            <td class=format!("{} text-right tabular-nums", table::TD)>{org.group_count}</td>
                        </tr>
                    </For>
                </tbody>
            </table>
        </div>
        <Pagination page total page_size=PAGE_SIZE />
    }
}

#[component]
fn NewOrganization() -> impl IntoView {
    let navigate = use_navigate();
    let create = ServerAction::<CreateOrganization>::new();
    let name = RwSignal::new(String::new());
    let description = RwSignal::new(String::new());
    let tried = RwSignal::new(false);
    let server = move || create.value().get().and_then(Result::err);
    let name_error = Signal::derive(move || {
        let typed = name.get();
        (tried.get() || !typed.trim().is_empty())
            .then(|| DisplayName::parse(&typed, "organization", NAME_MAX).err())
            .flatten()
            .or_else(|| server().and_then(|e| e.field_message("name")))
    });
    let description_error = Signal::derive(move || {
        (description.get().chars().count() > DESCRIPTION_MAX)
            .then(|| format!("A description has at most {DESCRIPTION_MAX} characters."))
            .or_else(|| server().and_then(|e| e.field_message("description")))
    });
    Effect::new(move || {
        if let Some(Ok(id)) = create.value().get() {
            navigate(&org_href(id, OrgTab::Overview), Default::default());
        }
    });
    view! {
        <Card title="New organization">
            <form
                class="space-y-3"
                novalidate=true
                on:submit=move |ev| {
                    ev.prevent_default();
                    tried.set(true);
                    if name_error.get_untracked().is_none() && description_error.get_untracked().is_none() {
                        create.dispatch(CreateOrganization {
                            name: name.get_untracked(),
                            description: description.get_untracked(),
                        });
                    }
                }
            >
                {move || server().filter(|e| e.field_message("name").is_none() && e.field_message("description").is_none())
                    .map(|e| view! { <Alert tone=Tone::Error>{e.to_string()}</Alert> })}
                <BoundField label="Name" id="new-organization-name" value=name error=name_error maxlength=NAME_MAX />
                <BoundField label="Description" id="new-organization-description" value=description error=description_error maxlength=DESCRIPTION_MAX />
                <button type="submit" class=ButtonKind::Primary.classes() disabled=move || create.pending().get()>
                    {move || if create.pending().get() { "Creating…" } else { "Create organization" }}
                </button>
            </form>
        </Card>
    }
}
