//! Every account, for server admins: a filtered, paged list; create, disable, reset a
//! password, grant or take back the server-admin right.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::{
    api::users::{CreateUser, ResetPassword, SetServerAdmin, SetUserDisabled, users},
    components::{
        feedback::{ConfirmDialog, bind_dialog, use_toasts},
        layout::CurrentUser,
        list::{Column, Empty, PagedList},
        ui::{
            Alert, Badge, ButtonKind, Card, Field, PageHeader, Tone, field_error, form_error, table,
        },
    },
    error::AppError,
    model::{Page, UserRow},
    validate::{Email, NewPassword, PASSWORD_MAX, USERNAME_MAX, Username},
};

/// `/users`.
#[component]
pub fn UsersPage() -> impl IntoView {
    let toasts = use_toasts();
    let current = use_context::<CurrentUser>();
    let reload = RwSignal::new(0u32);
    // Each row with whether it is the signed-in user, who may not disable or demote themselves.
    let fetch = move |filter, page| async move {
        let me = match current {
            Some(CurrentUser(user)) => user.await.ok().flatten().map(|u| u.id),
            None => None,
        };
        let found = users(filter, page).await?;
        Ok(Page {
            items: found
                .items
                .into_iter()
                .map(|user| {
                    let is_me = me == Some(user.id);
                    (user, is_me)
                })
                .collect(),
            total: found.total,
            page: found.page,
            page_size: found.page_size,
        })
    };
    let disable = ServerAction::<SetUserDisabled>::new();
    let admin = ServerAction::<SetServerAdmin>::new();
    let resetting = RwSignal::new(None::<UserRow>);
    let report = move |result: Option<Result<UserRow, AppError>>, done: &str| match result {
        Some(Ok(user)) => {
            toasts.success(format!("{} {done}.", user.username));
            reload.update(|n| *n += 1);
        }
        Some(Err(error)) => toasts.error(error.to_string()),
        None => {}
    };
    Effect::new(move || report(disable.value().get(), "was updated"));
    Effect::new(move || report(admin.value().get(), "was updated"));

    view! {
        <Title text="Users" />
        <div class="space-y-6">
            <PageHeader title="Users" subtitle="Every account on this server." />
            <div class="grid gap-6 lg:grid-cols-3">
                <div class="lg:col-span-2">
                    <PagedList
                        filter_label="Filter users"
                        fetch
                        columns=vec![Column::new("User"), Column::new("Status"), Column::actions()]
                        row=move |(user, is_me)| view! { <UserLine user is_me disable admin resetting /> }
                        empty=Empty {
                            title: "No users yet",
                            text: "Create an account with the form beside this list.",
                            no_match: "No user matches the filter.",
                        }
                        reload
                    />
                </div>
                <NewUser on_created=Callback::new(move |_| reload.update(|n| *n += 1)) />
            </div>
        </div>
        <ResetPasswordDialog resetting />
    }
}

#[component]
fn UserLine(
    user: UserRow,
    is_me: bool,
    disable: ServerAction<SetUserDisabled>,
    admin: ServerAction<SetServerAdmin>,
    resetting: RwSignal<Option<UserRow>>,
) -> impl IntoView {
    let user_id = user.id;
    let name = user.username.clone();
    let disabled = user.is_disabled;
    let is_admin = user.is_server_admin;
    let row = user.clone();
    view! {
        <tr data-testid="user-row">
            <td class=table::TD>
                <div class="font-medium">{user.username.clone()}</div>
                <div class="text-xs text-slate-500">{user.email.clone().unwrap_or_default()}</div>
            </td>
            <td class=format!("{} space-x-1", table::TD)>
                {is_admin.then(|| view! { <Badge text="server admin" strong=true /> })}
                {if disabled { view! { <Badge text="disabled" /> }.into_any() } else { view! { <Badge text="active" /> }.into_any() }}
            </td>
            <td class=format!("{} whitespace-nowrap text-right", table::TD)>
                <button
                    type="button"
                    class=ButtonKind::Quiet.classes()
                    disabled=is_me
                    aria-label=format!("{} {name}", if disabled { "Enable" } else { "Disable" })
                    on:click=move |_| {
                        disable.dispatch(SetUserDisabled { user_id, disabled: !disabled });
                    }
                >
                    {if disabled { "Enable" } else { "Disable" }}
                </button>
                <button
                    type="button"
                    class=ButtonKind::Quiet.classes()
                    disabled=is_me
                    aria-label=format!("{} {name}", if is_admin { "Revoke server admin from" } else { "Make server admin:" })
                    on:click=move |_| {
                        admin.dispatch(SetServerAdmin { user_id, admin: !is_admin });
                    }
                >
                    {if is_admin { "Revoke admin" } else { "Make admin" }}
                </button>
                <button
                    type="button"
                    class=ButtonKind::Quiet.classes()
                    aria-label=format!("Reset the password of {name}")
                    on:click=move |_| resetting.set(Some(row.clone()))
                >
                    "Reset password"
                </button>
            </td>
        </tr>
    }
}

#[component]
fn NewUser(on_created: Callback<()>) -> impl IntoView {
    let toasts = use_toasts();
    let create = ServerAction::<CreateUser>::new();
    let username = RwSignal::new(String::new());
    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let server_admin = RwSignal::new(false);
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
        if let Some(Ok(user)) = create.value().get() {
            toasts.success(format!("Created {}.", user.username));
            username.set(String::new());
            email.set(String::new());
            password.set(String::new());
            server_admin.set(false);
            create.value().set(None);
            on_created.run(());
        }
    });
    view! {
        <Card title="New user">
            <form
                class="space-y-3"
                novalidate=true
                on:submit=move |ev| {
                    ev.prevent_default();
                    let clean = username_error.get_untracked().is_none()
                        && email_error.get_untracked().is_none()
                        && password_error.get_untracked().is_none();
                    if clean {
                        create.dispatch(CreateUser {
                            username: username.get_untracked(),
                            email: email.get_untracked(),
                            password: password.get_untracked(),
                            server_admin: server_admin.get_untracked(),
                        });
                    }
                }
            >
                {move || form_error(server(), &["username", "email", "password"]).map(|e| view! { <Alert tone=Tone::Error>{e.to_string()}</Alert> })}
                <Field label="Username" id="user-username" value=username error=username_error maxlength=USERNAME_MAX />
                <Field label="Email (optional)" id="user-email" kind="email" value=email error=email_error />
                <Field label="Password" id="user-password" kind="password" autocomplete="new-password" value=password error=password_error maxlength=PASSWORD_MAX />
                <label class="flex items-center gap-2 text-sm">
                    <input type="checkbox" prop:checked=move || server_admin.get() on:change=move |ev| server_admin.set(event_target_checked(&ev)) />
                    "Server admin (manages every organization and user)"
                </label>
                <button type="submit" class=ButtonKind::Primary.classes() disabled=move || create.pending().get()>
                    {move || if create.pending().get() { "Creating…" } else { "Create user" }}
                </button>
            </form>
        </Card>
    }
}

#[component]
fn ResetPasswordDialog(resetting: RwSignal<Option<UserRow>>) -> impl IntoView {
    let toasts = use_toasts();
    let open = RwSignal::new(false);
    let password = RwSignal::new(String::new());
    let reset = ServerAction::<ResetPassword>::new();
    bind_dialog(open, resetting, move || {
        password.set(String::new());
        reset.value().set(None);
    });
    Effect::new(move || {
        if let Some(Ok(())) = reset.value().get() {
            let name = resetting
                .get_untracked()
                .map(|u| u.username)
                .unwrap_or_default();
            toasts.success(format!("The password of {name} was changed."));
            open.set(false);
        }
    });
    let local_error = Signal::derive(move || {
        field_error(
            &password.get(),
            false,
            |v| NewPassword::parse(v).err(),
            reset.value().get().and_then(Result::err),
            "password",
        )
    });
    let name = move || resetting.get().map(|u| u.username).unwrap_or_default();
    view! {
        <ConfirmDialog
            open
            title=Signal::derive(move || format!("Set a new password for {}", name()))
            confirm_label="Set password"
            pending=reset.pending()
            error=Signal::derive(move || form_error(reset.value().get().and_then(Result::err), &["password"]).map(|e| e.to_string()))
            on_confirm=Callback::new(move |_| {
                let typed = password.get_untracked();
                if let (Some(user), Ok(_)) = (resetting.get_untracked(), NewPassword::parse(&typed)) {
                    reset.dispatch(ResetPassword { user_id: user.id, password: typed });
                }
            })
        >
            <p>"Their sessions stay signed in; tell them the new password."</p>
            <Field label="New password" id="reset-password" kind="password" autocomplete="new-password" value=password error=local_error maxlength=PASSWORD_MAX />
        </ConfirmDialog>
    }
}
