//! Every organization, for server admins: a filtered, paged list and a form for a new one.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::A, hooks::use_navigate};

use crate::{
    api::organizations::{CreateOrganization, my_organizations},
    components::{
        list::{Column, Empty, PagedList, page_of},
        org_frame::{OrgTab, org_href},
        ui::{Alert, ButtonKind, Card, Field, PageHeader, Tone, field_error, table},
    },
    forms::DESCRIPTION_MAX,
    model::OrganizationSummary,
    validate::{Label, NAME_MAX},
};

/// `/organizations`.
#[component]
pub fn OrganizationsPage() -> impl IntoView {
    // The server sends every organization; the list filters and pages them here.
    let fetch = |filter: String, page| async move {
        let all = my_organizations().await?;
        Ok(page_of(all, &filter, page, |o: &OrganizationSummary| {
            o.name.clone()
        }))
    };
    view! {
        <Title text="Organizations" />
        <div class="space-y-6">
            <PageHeader title="Organizations" subtitle="Every organization on this server." />
            <div class="grid gap-6 lg:grid-cols-3">
                <div class="lg:col-span-2">
                    <PagedList
                        filter_label="Filter organizations"
                        fetch
                        columns=vec![
                            Column::new("Organization"),
                            Column::new("Members").class("text-right"),
                            Column::new("Groups").class("text-right"),
                        ]
                        row=|org| view! { <OrganizationRow org /> }
                        empty=Empty {
                            title: "No organizations yet",
                            text: "Create the first one with the form.",
                            no_match: "No organization matches the filter.",
                        }
                    />
                </div>
                <NewOrganization />
            </div>
        </div>
    }
}

#[component]
fn OrganizationRow(org: OrganizationSummary) -> impl IntoView {
    view! {
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
        field_error(
            &name.get(),
            tried.get(),
            |v| Label::name(v, "organization").err(),
            server(),
            "name",
        )
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
                <Field label="Name" id="new-organization-name" value=name error=name_error maxlength=NAME_MAX />
                <Field label="Description" id="new-organization-description" value=description error=description_error maxlength=DESCRIPTION_MAX />
                <button type="submit" class=ButtonKind::Primary.classes() disabled=move || create.pending().get()>
                    {move || if create.pending().get() { "Creating…" } else { "Create organization" }}
                </button>
            </form>
        </Card>
    }
}
