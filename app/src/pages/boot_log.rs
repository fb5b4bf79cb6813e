//! An organization's boot log: the latest boots, newest first, filtered by user, machine or
//! entry.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::{
    api::boot_log::boot_log,
    components::{
        list::{Column, Empty, PagedList},
        org_frame::use_org_id,
        ui::table,
    },
    model::BootLogRow,
};

/// `/org/:org/boot-log`.
#[component]
pub fn BootLogPage() -> impl IntoView {
    let organization_id = use_org_id();
    view! {
        <Title text="Boot log" />
        <BootLog organization_id />
    }
}

#[component]
fn BootLog(organization_id: i32) -> impl IntoView {
    view! {
        <PagedList
            filter_label="Filter by user, machine or entry"
            fetch=move |filter, page| boot_log(organization_id, filter, page)
            columns=vec![
                Column::new("Time (UTC)"),
                Column::new("User"),
                Column::new("Machine"),
                Column::new("Entry"),
            ]
            row=|row| view! { <LogRow row /> }
            empty=Empty {
                title: "Nothing booted yet",
                text: "Every entry a machine boots from this organization's menus shows up here.",
                no_match: "No boot matches the filter.",
            }
        />
    }
}

#[component]
fn LogRow(row: BootLogRow) -> impl IntoView {
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
}
