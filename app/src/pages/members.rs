//! An organization's members: their roles, adding an existing user (a server admin) or
//! inviting one (an organization admin), creating a new one, pending invitations, removing a
//! member (never the last admin).

use leptos::prelude::*;
use leptos_meta::Title;

use crate::{
    api::{
        invitations::{cancel_invitation, invitations},
        members::{AddMember, CreateMember, SetMemberRole, members, remove_member},
    },
    components::{
        feedback::{ConfirmDialog, bind_dialog, use_toasts},
        layout::signed_in,
        list::{Column, Empty, PagedList},
        org_frame::use_org_id,
        ui::{
            Alert, Badge, ButtonKind, Card, Field, INPUT_CLASSES, Loading, Tone, field_error,
            form_error, table,
        },
    },
    model::{AddOutcome, InvitationRow, MemberRow, Role},
    validate::{Email, NewPassword, PASSWORD_MAX, USERNAME_MAX, Username},
};

/// `/org/:org/members`.
#[component]
pub fn MembersPage() -> impl IntoView {
    let organization_id = use_org_id();
    view! {
        <Title text="Members" />
        <Members organization_id />
    }
}

#[component]
fn Members(organization_id: i32) -> impl IntoView {
    let toasts = use_toasts();
    let reload = RwSignal::new(0u32);
    let set_role = ServerAction::<SetMemberRole>::new();
    Effect::new(move || match set_role.value().get() {
        Some(Ok(())) => {
            toasts.success("The role was changed.");
            reload.update(|n| *n += 1);
        }
        Some(Err(error)) => {
            toasts.error(error.to_string());
            reload.update(|n| *n += 1);
        }
        None => {}
    });
    let leaving = RwSignal::new(None::<MemberRow>);
    let reloaded = Callback::new(move |_| reload.update(|n| *n += 1));

    view! {
        <div class="grid gap-6 lg:grid-cols-3">
            <div class="lg:col-span-2">
                <PagedList
                    filter_label="Filter members"
                    fetch=move |filter, page| members(organization_id, filter, page)
                    columns=vec![Column::new("User"), Column::new("Role"), Column::actions()]
                    row=move |member| view! { <MemberListRow organization_id member set_role leaving /> }
                    empty=Empty {
                        title: "No members yet",
                        text: "Add or invite someone with the forms beside this list.",
                        no_match: "No member matches the filter.",
                    }
                    reload
                />
            </div>
            <div class="space-y-6">
                <Suspense fallback=Loading>
                    {move || Suspend::new(async move {
                        let direct = signed_in().await.is_some_and(|u| u.is_server_admin);
                        view! { <AddExisting organization_id direct on_added=reloaded /> }
                    })}
                </Suspense>
                <PendingInvitations organization_id reload />
                <CreateNew organization_id on_added=reloaded />
            </div>
        </div>
        <RemoveMemberDialog organization_id leaving on_removed=reloaded />
    }
}

#[component]
fn MemberListRow(
    organization_id: i32,
    member: MemberRow,
    set_role: ServerAction<SetMemberRole>,
    leaving: RwSignal<Option<MemberRow>>,
) -> impl IntoView {
    let user_id = member.user_id;
    let name = member.username.clone();
    let row = member.clone();
    view! {
        <tr data-testid="member-row">
            <td class=table::TD>
                <div class="font-medium">{member.username.clone()}</div>
                <div class="text-xs text-slate-500">{member.email.clone().unwrap_or_default()}</div>
            </td>
            <td class=table::TD>
                <label class="sr-only" for=format!("role-{user_id}")>{format!("Role of {name}")}</label>
                <select
                    id=format!("role-{user_id}")
                    class=format!("{INPUT_CLASSES} w-32")
                    on:change=move |ev| {
                        set_role.dispatch(SetMemberRole {
                            organization_id,
                            user_id,
                            role: event_target_value(&ev),
                        });
                    }
                >
                    <option value="admin" selected=member.role == Role::Admin>"admin"</option>
                    <option value="member" selected=member.role == Role::Member>"member"</option>
                </select>
            </td>
            <td class=format!("{} text-right", table::TD)>
                <button
                    type="button"
                    class=ButtonKind::Quiet.classes()
                    aria-label=format!("Remove {}", member.username)
                    on:click=move |_| leaving.set(Some(row.clone()))
                >
                    "Remove"
                </button>
            </td>
        </tr>
    }
}

/// A role chooser for the forms below.
#[component]
fn RoleSelect(id: &'static str, value: RwSignal<String>) -> impl IntoView {
    view! {
        <div class="space-y-1">
            <label for=id class="block text-sm font-medium text-slate-700">"Role"</label>
            <select id=id class=INPUT_CLASSES on:change=move |ev| value.set(event_target_value(&ev))>
                <option value="member" selected=move || value.get() == "member">"member"</option>
                <option value="admin" selected=move || value.get() == "admin">"admin"</option>
            </select>
        </div>
    }
}

/// Adds an existing user: a server admin adds them at once (`direct`); an organization admin
/// invites the name, and the answer is the same whether or not an account has it.
#[component]
fn AddExisting(organization_id: i32, direct: bool, on_added: Callback<()>) -> impl IntoView {
    let toasts = use_toasts();
    let add = ServerAction::<AddMember>::new();
    let username = RwSignal::new(String::new());
    let role = RwSignal::new("member".to_owned());
    let server = move || add.value().get().and_then(Result::err);
    let username_error = Signal::derive(move || {
        field_error(
            &username.get(),
            false,
            |v| Username::parse(v).err(),
            server(),
            "username",
        )
    });
    Effect::new(move || {
        if let Some(Ok(outcome)) = add.value().get() {
            let name = username.get_untracked().trim().to_lowercase();
            toasts.success(match outcome {
                AddOutcome::Added => format!("Added {name}."),
                AddOutcome::Invited => format!(
                    "Invited {name}. If an account has this name, its owner can accept on their dashboard."
                ),
            });
            username.set(String::new());
            add.value().set(None);
            on_added.run(());
        }
    });
    let (title, button, busy) = if direct {
        ("Add an existing user", "Add member", "Adding…")
    } else {
        ("Invite an existing user", "Send invitation", "Inviting…")
    };
    view! {
        <Card title=title>
            <form
                class="space-y-3"
                novalidate=true
                on:submit=move |ev| {
                    ev.prevent_default();
                    if username_error.get_untracked().is_none() {
                        add.dispatch(AddMember {
                            organization_id,
                            username: username.get_untracked(),
                            role: role.get_untracked(),
                        });
                    }
                }
            >
                {(!direct).then(|| view! {
                    <p class="text-sm text-slate-600">
                        "They see the invitation on their dashboard and join when they accept it. It lapses after 14 days."
                    </p>
                })}
                {move || form_error(server(), &["username", "role"]).map(|e| view! { <Alert tone=Tone::Error>{e.to_string()}</Alert> })}
                <Field label="Username" id="add-username" value=username error=username_error maxlength=USERNAME_MAX />
                <RoleSelect id="add-role" value=role />
                <button type="submit" class=ButtonKind::Primary.classes() disabled=move || add.pending().get()>
                    {move || if add.pending().get() { busy } else { button }}
                </button>
            </form>
        </Card>
    }
}

/// The organization's pending invitations, each with a button to withdraw it.
#[component]
fn PendingInvitations(organization_id: i32, reload: RwSignal<u32>) -> impl IntoView {
    let toasts = use_toasts();
    let list = Resource::new(move || reload.get(), move |_| invitations(organization_id));
    let cancel = Action::new(move |row: &InvitationRow| {
        let (id, name) = (row.id, row.username.clone());
        async move { cancel_invitation(organization_id, id).await.map(|()| name) }
    });
    Effect::new(move || match cancel.value().get() {
        Some(Ok(name)) => {
            toasts.success(format!("Withdrew the invitation of {name}."));
            reload.update(|n| *n += 1);
        }
        Some(Err(error)) => {
            toasts.error(error.to_string());
            reload.update(|n| *n += 1);
        }
        None => {}
    });
    view! {
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                match list.await {
                    Ok(rows) if rows.is_empty() => None,
                    Ok(rows) => Some(view! {
                        <Card title="Pending invitations">
                            <ul class="divide-y divide-slate-100" data-testid="invitations">
                                {rows
                                    .into_iter()
                                    .map(|row| {
                                        let label = format!("Withdraw the invitation of {}", row.username);
                                        let expires = row.expires_at.get(..10).unwrap_or_default().to_owned();
                                        let item = row.clone();
                                        view! {
                                            <li class="flex items-center justify-between gap-3 py-2" data-testid="invitation-row">
                                                <div>
                                                    <div class="font-medium">{row.username.clone()}" "<Badge text=row.role.to_string() /></div>
                                                    <div class="text-xs text-slate-500">{format!("by {}, until {expires}", row.invited_by)}</div>
                                                </div>
                                                <button
                                                    type="button"
                                                    class=ButtonKind::Quiet.classes()
                                                    aria-label=label
                                                    disabled=move || cancel.pending().get()
                                                    on:click=move |_| {
                                                        cancel.dispatch(item.clone());
                                                    }
                                                >
                                                    "Withdraw"
                                                </button>
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

#[component]
fn CreateNew(organization_id: i32, on_added: Callback<()>) -> impl IntoView {
    let toasts = use_toasts();
    let create = ServerAction::<CreateMember>::new();
    let username = RwSignal::new(String::new());
    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let role = RwSignal::new("member".to_owned());
    let server = move || create.value().get().and_then(Result::err);
    let username_error = Signal::derive(move || {
        field_error(
            &username.get(),
            false,
            |v| Username::parse(v).err(),
            server(),
            "username",
        )
    });
    let email_error = Signal::derive(move || {
        field_error(
            &email.get(),
            false,
            |v| Email::parse_optional(v).err(),
            server(),
            "email",
        )
    });
    let password_error = Signal::derive(move || {
        field_error(
            &password.get(),
            false,
            |v| NewPassword::parse(v).err(),
            server(),
            "password",
        )
    });
    Effect::new(move || {
        if let Some(Ok(member)) = create.value().get() {
            toasts.success(format!("Created {} and added them.", member.username));
            username.set(String::new());
            email.set(String::new());
            password.set(String::new());
            create.value().set(None);
            on_added.run(());
        }
    });
    view! {
        <Card title="Create a new user">
            <form
                class="space-y-3"
                novalidate=true
                on:submit=move |ev| {
                    ev.prevent_default();
                    let clean = username_error.get_untracked().is_none()
                        && email_error.get_untracked().is_none()
                        && password_error.get_untracked().is_none();
                    if clean {
                        create.dispatch(CreateMember {
                            organization_id,
                            username: username.get_untracked(),
                            email: email.get_untracked(),
                            password: password.get_untracked(),
                            role: role.get_untracked(),
                        });
                    }
                }
            >
                {move || form_error(server(), &["username", "email", "password", "role"]).map(|e| view! { <Alert tone=Tone::Error>{e.to_string()}</Alert> })}
                <Field label="Username" id="new-username" value=username error=username_error maxlength=USERNAME_MAX />
                <Field label="Email (optional)" id="new-email" kind="email" value=email error=email_error />
                <Field
                    label="Password"
                    id="new-password"
                    kind="password"
                    autocomplete="new-password"
                    value=password
                    error=password_error
                    maxlength=PASSWORD_MAX
                    hint="At least 8 characters; tell it to the user, who can change it."
                />
                <RoleSelect id="new-role" value=role />
                <button type="submit" class=ButtonKind::Primary.classes() disabled=move || create.pending().get()>
                    {move || if create.pending().get() { "Creating…" } else { "Create and add" }}
                </button>
            </form>
        </Card>
    }
}

#[component]
fn RemoveMemberDialog(
    organization_id: i32,
    leaving: RwSignal<Option<MemberRow>>,
    on_removed: Callback<()>,
) -> impl IntoView {
    let toasts = use_toasts();
    let open = RwSignal::new(false);
    let remove = Action::new(move |user_id: &i32| remove_member(organization_id, *user_id));
    bind_dialog(open, leaving, move || remove.value().set(None));
    Effect::new(move || {
        if let Some(Ok(())) = remove.value().get() {
            let name = leaving
                .get_untracked()
                .map(|m| m.username)
                .unwrap_or_default();
            toasts.success(format!("Removed {name} from the organization."));
            open.set(false);
            on_removed.run(());
        }
    });
    let name = move || leaving.get().map(|m| m.username).unwrap_or_default();
    view! {
        <ConfirmDialog
            open
            title=Signal::derive(move || format!("Remove {} from the organization?", name()))
            confirm_label="Remove member"
            pending=remove.pending()
            error=Signal::derive(move || remove.value().get().and_then(Result::err).map(|e| e.to_string()))
            on_confirm=Callback::new(move |_| {
                if let Some(member) = leaving.get_untracked() {
                    remove.dispatch(member.user_id);
                }
            })
        >
            <p>"They leave every group of this organization too, and can no longer boot its menus. Their account stays."</p>
            <Show when=move || leaving.get().is_some_and(|m| m.role == Role::Admin)>
                <p><Badge text="admin" strong=true />" An organization keeps at least one admin."</p>
            </Show>
        </ConfirmDialog>
    }
}
