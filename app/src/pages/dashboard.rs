//! The dashboard: invitations waiting for the signed-in user, their organizations and their
//! role in each.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use crate::{
    api::{
        invitations::{accept_invitation, decline_invitation, my_invitations},
        organizations::my_organizations,
    },
    components::{
        feedback::use_toasts,
        layout::signed_in,
        org_frame::{OrgTab, org_href},
        ui::{Alert, Badge, ButtonKind, Card, EmptyState, Loading, Pagination, Tone},
    },
    model::{MyInvitation, OrganizationSummary, PAGE_SIZE, Role},
};

/// Lists the user's organizations, with a filter that works as you type.
#[component]
pub fn DashboardPage() -> impl IntoView {
    let reload = RwSignal::new(0u32);
    let organizations = Resource::new(move || reload.get(), |_| my_organizations());
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
            <Invitations reload />
            <Card title="Your organizations">
                <Suspense fallback=Loading>
                    {move || Suspend::new(async move {
                        match organizations.await {
                            Ok(list) if list.is_empty() => view! {
                                <EmptyState
                                    title="No organizations yet"
                                    text="An administrator adds you to an organization or invites you to one; it then shows up here."
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

/// What the user decided about an invitation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Accept,
    Decline,
}

/// The invitations waiting for the user, each with Accept and Decline; nothing when none.
#[component]
fn Invitations(reload: RwSignal<u32>) -> impl IntoView {
    let toasts = use_toasts();
    let list = Resource::new(move || reload.get(), |_| my_invitations());
    let answer = Action::new(move |(invitation, answer): &(MyInvitation, Answer)| {
        let (invitation, answer) = (invitation.clone(), *answer);
        async move {
            match answer {
                Answer::Accept => accept_invitation(invitation.id).await.map(|_| ()),
                Answer::Decline => decline_invitation(invitation.id).await,
            }
            .map(|()| (invitation.organization_name, answer))
        }
    });
    Effect::new(move || match answer.value().get() {
        Some(Ok((organization, Answer::Accept))) => {
            toasts.success(format!("You joined {organization}."));
            reload.update(|n| *n += 1);
        }
        Some(Ok((organization, Answer::Decline))) => {
            toasts.success(format!("You declined the invitation to {organization}."));
            reload.update(|n| *n += 1);
        }
        Some(Err(error)) => {
            toasts.error(error.to_string());
            reload.update(|n| *n += 1);
        }
        None => {}
    });
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                match list.await {
                    Ok(rows) if rows.is_empty() => None,
                    Ok(rows) => Some(view! {
                        <Card title="Invitations">
                            <ul class="divide-y divide-slate-100" data-testid="my-invitations">
                                {rows
                                    .into_iter()
                                    .map(|row| {
                                        let expires = row.expires_at.get(..10).unwrap_or_default().to_owned();
                                        let (accepting, declining) = (row.clone(), row.clone());
                                        view! {
                                            <li class="flex flex-wrap items-center justify-between gap-3 py-2" data-testid="my-invitation">
                                                <div>
                                                    <div>
                                                        <span class="font-medium">{row.organization_name.clone()}</span>
                                                        " "<Badge text=row.role.to_string() />
                                                    </div>
                                                    <div class="text-xs text-slate-500">
                                                        {format!("{} invited you; the invitation lapses on {expires}.", row.invited_by)}
                                                    </div>
                                                </div>
                                                <div class="flex gap-2">
                                                    <button
                                                        type="button"
                                                        class=ButtonKind::Primary.classes()
                                                        aria-label=format!("Accept the invitation to {}", row.organization_name)
                                                        disabled=move || answer.pending().get()
                                                        on:click=move |_| {
                                                            answer.dispatch((accepting.clone(), Answer::Accept));
                                                        }
                                                    >
                                                        "Accept"
                                                    </button>
                                                    <button
                                                        type="button"
                                                        class=ButtonKind::Secondary.classes()
                                                        aria-label=format!("Decline the invitation to {}", row.organization_name)
                                                        disabled=move || answer.pending().get()
                                                        on:click=move |_| {
                                                            answer.dispatch((declining.clone(), Answer::Decline));
                                                        }
                                                    >
                                                        "Decline"
                                                    </button>
                                                </div>
                                            </li>
                                        }
                                    })
                                    .collect_view()}
                            </ul>
                        </Card>
                    }
                        .into_any()),
                    Err(error) => Some(view! { <Alert tone=Tone::Error>{error.to_string()}</Alert> }.into_any()),
                }
            })}
        </Transition>
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
