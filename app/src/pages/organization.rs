//! An organization's overview: what it holds, its name and description, and (for server
//! admins) deleting it with everything in it after saying what goes.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_navigate;

use crate::{
    api::organizations::{DeleteOrganization, UpdateOrganization},
    components::{
        feedback::{ConfirmDialog, use_toasts},
        layout::CurrentUser,
        org_frame::{OrgReload, OrgResource, OrgTab, org_href, use_org},
        ui::{Alert, ButtonKind, Card, Field, Loading, Tone, field_error},
    },
    forms::DESCRIPTION_MAX,
    model::OrganizationDetail,
    validate::{Label, NAME_MAX},
};

/// `/org/:org`.
#[component]
pub fn OrganizationPage() -> impl IntoView {
    let OrgReload(reload) = expect_context::<OrgReload>();
    view! {
        <Title text="Organization" />
        <OverviewLoader reload />
    }
}

/// Waits for the frame's organization and the signed-in user.
#[component]
fn OverviewLoader(reload: RwSignal<u32>) -> impl IntoView {
    let org = use_org();
    let user = use_context::<CurrentUser>();
    view! {
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                let is_server_admin = match user {
                    Some(CurrentUser(user)) => user.await.ok().flatten().is_some_and(|u| u.is_server_admin),
                    None => false,
                };
                match org {
                    Some(OrgResource(org)) => org
                        .await
                        .ok()
                        .map(|detail| view! { <Overview detail reload is_server_admin /> }),
                    None => None,
                }
            })}
        </Suspense>
    }
}

#[component]
fn Overview(
    detail: OrganizationDetail,
    reload: RwSignal<u32>,
    is_server_admin: bool,
) -> impl IntoView {
    let counts = detail.contents;
    let id = detail.id;
    let stat = move |label: &'static str, value: u64, tab: OrgTab| {
        view! {
            <a href=org_href(id, tab) class="rounded-lg border border-slate-200 bg-white p-4 shadow-sm hover:border-indigo-300 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500">
                <div class="text-2xl font-semibold tabular-nums">{value}</div>
                <div class="text-sm text-slate-500">{label}</div>
            </a>
        }
    };
    view! {
        <div class="space-y-6">
            <div class="grid grid-cols-2 gap-4 sm:grid-cols-4">
                {stat("Members", counts.members, OrgTab::Members)}
                {stat("Groups", counts.groups, OrgTab::Groups)}
                {stat("Images", counts.images, OrgTab::Images)}
                {stat("Menus", counts.menus, OrgTab::Menus)}
            </div>
            <OrganizationForm detail=detail.clone() reload />
            {is_server_admin.then(|| view! { <DangerZone detail /> })}
        </div>
    }
}

#[component]
fn OrganizationForm(detail: OrganizationDetail, reload: RwSignal<u32>) -> impl IntoView {
    let toasts = use_toasts();
    let organization_id = detail.id;
    let name = RwSignal::new(detail.name.clone());
    let description = RwSignal::new(detail.description.clone());
    let update = ServerAction::<UpdateOrganization>::new();
    let server = move || update.value().get().and_then(Result::err);
    let name_error = Signal::derive(move || {
        field_error(
            &name.get(),
            true,
            |v| Label::name(v, "organization").err(),
            server(),
            "name",
        )
    });
    let description_error = Signal::derive(move || {
        field_error(
            &description.get(),
            true,
            |v| {
                (v.chars().count() > DESCRIPTION_MAX)
                    .then(|| format!("A description has at most {DESCRIPTION_MAX} characters."))
            },
            server(),
            "description",
        )
    });
    Effect::new(move || {
        if let Some(Ok(())) = update.value().get() {
            toasts.success("The organization was saved.");
            update.value().set(None);
            reload.update(|n| *n += 1);
        }
    });
    view! {
        <Card title="Name and description">
            <form
                class="space-y-3"
                novalidate=true
                on:submit=move |ev| {
                    ev.prevent_default();
                    if name_error.get_untracked().is_none() && description_error.get_untracked().is_none() {
                        update.dispatch(UpdateOrganization {
                            organization_id,
                            name: name.get_untracked(),
                            description: description.get_untracked(),
                        });
                    }
                }
            >
                {move || server().filter(|e| e.field_message("name").is_none() && e.field_message("description").is_none())
                    .map(|e| view! { <Alert tone=Tone::Error>{e.to_string()}</Alert> })}
                <Field label="Name" id="organization-name" value=name error=name_error maxlength=NAME_MAX />
                <Field label="Description" id="organization-description" value=description error=description_error maxlength=DESCRIPTION_MAX />
                <button type="submit" class=ButtonKind::Primary.classes() disabled=move || update.pending().get()>
                    {move || if update.pending().get() { "Saving…" } else { "Save" }}
                </button>
            </form>
        </Card>
    }
}

/// Deleting the organization: refused while it holds things, unless the admin confirms that
/// they all go.
#[component]
fn DangerZone(detail: OrganizationDetail) -> impl IntoView {
    let toasts = use_toasts();
    let navigate = use_navigate();
    let open = RwSignal::new(false);
    let delete = ServerAction::<DeleteOrganization>::new();
    let counts = detail.contents;
    let organization_id = detail.id;
    Effect::new(move || {
        if let Some(Ok(())) = delete.value().get() {
            toasts.success("The organization was deleted.");
            navigate("/organizations", Default::default());
        }
    });
    view! {
        <Card title="Delete the organization">
            <p class="mb-3 text-sm text-slate-600">
                "Deleting it removes its memberships, groups, menus, images and boot log. User accounts stay."
            </p>
            <button type="button" class=ButtonKind::Danger.classes() on:click=move |_| open.set(true)>
                "Delete organization"
            </button>
        </Card>
        <ConfirmDialog
            open
            title=format!("Delete “{}” and everything in it?", detail.name)
            confirm_label="Delete organization"
            pending=delete.pending()
            error=Signal::derive(move || delete.value().get().and_then(Result::err).map(|e| e.to_string()))
            on_confirm=Callback::new(move |_| {
                delete.dispatch(DeleteOrganization { organization_id, cascade: true });
            })
        >
            <p>"This goes with it:"</p>
            <ul class="list-disc pl-5" data-testid="affected">
                <li>{format!("{} memberships", counts.members)}</li>
                <li>{format!("{} groups", counts.groups)}</li>
                <li>{format!("{} menus", counts.menus)}</li>
                <li>{format!("{} images", counts.images)}</li>
            </ul>
        </ConfirmDialog>
    }
}
