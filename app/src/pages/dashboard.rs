//! The dashboard: the signed-in user's organizations and their role in each.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use crate::{
    api::organizations::my_organizations,
    components::{
        layout::signed_in,
        org_frame::{OrgTab, org_href},
        ui::{Alert, Badge, Card, EmptyState, Loading, Pagination, Tone},
    },
    model::{OrganizationSummary, PAGE_SIZE, Role},
};

/// Lists the user's organizations, with a filter that works as you type.
#[component]
pub fn DashboardPage() -> impl IntoView {
    let organizations = Resource::new(|| (), |_| my_organizations());
    let (filter, set_filter) = signal(String::new());

    view! {
        <Title text="Dashboard" />
        <div class="space-y-6">
            <h1 class="text-2xl font-bold tracking-tight">
                <Suspense fallback=|| "Welcome">
                    {move || Suspend::new(async move {
                        signed_in().await.map(|u| format!("Welcome, {}", u.username)).unwrap_or_default()
                    })}
                </Suspense>
            </h1>
            <Card title="Your organizations">
                <Suspense fallback=Loading>
                    {move || Suspend::new(async move {
                        match organizations.await {
                            Ok(list) if list.is_empty() => view! {
                                <EmptyState
                                    title="No organizations yet"
                                    text="An administrator adds you to an organization; it then shows up here."
                                />
                            }
                                .into_any(),
                            Ok(list) => view! {
                                <OrganizationTable list filter set_filter />
                            }
                                .into_any(),
                            Err(error) => view! {
                                <Alert tone=Tone::Error>{error.to_string()}</Alert>
                            }
                                .into_any(),
                        }
                    })}
                </Suspense>
            </Card>
        </div>
    }
}

fn matches_filter(organization: &OrganizationSummary, filter: &str) -> bool {
    let filter = filter.trim().to_lowercase();
    filter.is_empty()
        || organization.name.to_lowercase().contains(&filter)
        || organization.description.to_lowercase().contains(&filter)
}

#[component]
fn OrganizationTable(
    list: Vec<OrganizationSummary>,
    filter: ReadSignal<String>,
    set_filter: WriteSignal<String>,
) -> impl IntoView {
    let total = list.len();
    let list = StoredValue::new(list);
    let page = RwSignal::new(0u64);
    let visible = Memo::new(move |_| {
        list.with_value(|all| {
            all.iter()
                .filter(|o| matches_filter(o, &filter.get()))
                .cloned()
                .collect::<Vec<_>>()
        })
    });
    // A server admin may see thousands: one page of them is drawn at a time.
    let shown = move || {
        let start = usize::try_from(page.get() * PAGE_SIZE).unwrap_or(usize::MAX);
        visible.with(|v| {
            v.iter()
                .skip(start)
                .take(PAGE_SIZE as usize)
                .cloned()
                .collect::<Vec<_>>()
        })
    };
    let matching = Signal::derive(move || visible.with(Vec::len) as u64);
    view! {
        <div class="space-y-4">
            <div class="flex flex-wrap items-center gap-3">
                <label for="organization-filter" class="sr-only">"Filter organizations"</label>
                <input
                    id="organization-filter"
                    type="search"
                    placeholder="Filter organizations"
                    class="w-full max-w-xs rounded-md border border-slate-300 px-3 py-2 text-sm shadow-sm focus:border-indigo-500 focus:outline-none focus:ring-2 focus:ring-indigo-500"
                    prop:value=move || filter.get()
                    on:input=move |ev| {
                        set_filter.set(event_target_value(&ev));
                        page.set(0);
                    }
                />
                <span class="text-sm text-slate-500" data-testid="organization-count">
                    {move || format!("{} of {total} shown", matching.get())}
                </span>
            </div>
            <div class="overflow-x-auto">
                <table class="min-w-full divide-y divide-slate-200 text-sm">
                    <thead>
                        <tr class="text-left text-slate-500">
                            <th scope="col" class="py-2 pr-4 font-medium">"Organization"</th>
                            <th scope="col" class="py-2 pr-4 font-medium">"Your role"</th>
                            <th scope="col" class="py-2 pr-4 text-right font-medium">"Members"</th>
                            <th scope="col" class="py-2 text-right font-medium">"Groups"</th>
                        </tr>
                    </thead>
                    <tbody class="divide-y divide-slate-100">
                        <For each=shown key=|o| o.id let:organization>
                            <tr data-testid="organization-row">
                                <td class="py-2 pr-4">
                                    {if organization.role != Some(Role::Member) {
                                        view! {
                                            <A href=org_href(organization.id, OrgTab::Overview) attr:class="font-medium text-indigo-700 hover:underline">
                                                {organization.name.clone()}
                                            </A>
                                        }
                                            .into_any()
                                    } else {
                                        view! { <div class="font-medium">{organization.name.clone()}</div> }.into_any()
                                    }}
                                    <div class="text-slate-500">{organization.description.clone()}</div>
                                </td>
                                <td class="py-2 pr-4">
                                    {match organization.role {
                                        Some(Role::Admin) => view! { <Badge text="admin" strong=true /> }.into_any(),
                                        Some(Role::Member) => view! { <Badge text="member" /> }.into_any(),
                                        None => view! { <Badge text="server admin" /> }.into_any(),
                                    }}
                                </td>
                                <td class="py-2 pr-4 text-right tabular-nums">{organization.member_count}</td>
                                <td class="py-2 text-right tabular-nums">{organization.group_count}</td>
                            </tr>
                        </For>
                    </tbody>
                </table>
                <Show when=move || matching.get() == 0>
                    <p class="py-4 text-center text-sm text-slate-500">"No organization matches the filter."</p>
                </Show>
            </div>
            <Pagination page total=matching page_size=PAGE_SIZE />
        </div>
    }
}
