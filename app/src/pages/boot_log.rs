//! An organization's boot log: the latest boots, newest first, filtered by user, machine or
//! entry.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::{
    api::boot_log::boot_log,
    components::{
        org_frame::{OrgFrame, OrgTab},
        ui::{Alert, EmptyState, Loading, Pagination, SearchBox, Tone, table},
    },
    model::{BootLogRow, PAGE_SIZE},
    pages::id_param,
};

/// `/org/:org/boot-log`.
#[component]
pub fn BootLogPage() -> impl IntoView {
    let org = id_param("org");
    view! {
        <Title text="Boot log" />
        <OrgFrame organization_id=org tab=OrgTab::BootLog>
            <BootLog organization_id=org.get_untracked().unwrap_or_default() />
        </OrgFrame>
    }
}

#[component]
fn BootLog(organization_id: i32) -> impl IntoView {
    let filter = RwSignal::new(String::new());
    let page = RwSignal::new(0u64);
    let list = Resource::new(
        move || (filter.get(), page.get()),
        move |(filter, page)| boot_log(organization_id, filter, page),
    );
    view! {
        <div class="space-y-4">
            <SearchBox label="Filter by user, machine or entry" value=filter on_change=Callback::new(move |_| page.set(0)) />
            <Transition fallback=Loading>
                {move || Suspend::new(async move {
                    match list.await {
                        Ok(found) if found.total == 0 && filter.get_untracked().is_empty() => view! {
                            <EmptyState
                                title="Nothing booted yet"
                                text="Every entry a machine boots from this organization's menus shows up here."
                            />
                        }
                            .into_any(),
                        Ok(found) => {
                            let total = found.total;
                            view! { <LogTable rows=found.items /> <Pagination page total page_size=PAGE_SIZE /> }.into_any()
                        }
                        Err(error) => view! { <Alert tone=Tone::Error>{error.to_string()}</Alert> }.into_any(),
                    }
                })}
            </Transition>
        </div>
    }
}

#[component]
fn LogTable(rows: Vec<BootLogRow>) -> impl IntoView {
    if rows.is_empty() {
        return view! { <p class="py-4 text-center text-sm text-slate-500">"No boot matches the filter."</p> }
            .into_any();
    }
    view! {
        <div class="overflow-x-auto rounded-lg border border-slate-200 bg-white px-4 shadow-sm">
            <table class=table::TABLE>
                <thead>
                    <tr>
                        <th scope="col" class=table::TH>"Time (UTC)"</th>
                        <th scope="col" class=table::TH>"User"</th>
                        <th scope="col" class=table::TH>"Machine"</th>
                        <th scope="col" class=table::TH>"Entry"</th>
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100">
                    {rows
                        .into_iter()
                        .map(|row| {
                            let when = row.at.replace('T', " ").trim_end_matches('Z').to_owned();
                            view! {
                                <tr data-testid="boot-log-row">
                                    <td class=format!("{} whitespace-nowrap tabular-nums", table::TD)>
                                        <time datetime=row.at.clone()>{when}</time>
                                    </td>
                                    <td class=table::TD>{row.username.unwrap_or_else(|| "—".into())}</td>
                                    <td class=table::TD>
                                        <div class="font-mono text-xs">{row.client_mac.unwrap_or_else(|| "unknown MAC".into())}</div>
                                        <div class="text-xs text-slate-500">
                                            {[row.client_ip, row.client_platform].into_iter().flatten().collect::<Vec<_>>().join(" · ")}
                                        </div>
                                    </td>
                                    <td class=table::TD>
                                        <div>{row.entry_title.unwrap_or_else(|| "—".into())}</div>
                                        <div class="text-xs text-slate-500">{row.entry_kind.unwrap_or_default()}</div>
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
