//! The page where a user changes their own password.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::{
    api::account::ChangePassword,
    components::{
        layout::signed_in,
        ui::{Alert, Card, Field, SubmitButton, Tone, field_error},
    },
    validate::{NewPassword, PASSWORD_MAX},
};

/// Current password, new password twice; checks as you type, the server checks again.
#[component]
pub fn PasswordPage() -> impl IntoView {
    let change = ServerAction::<ChangePassword>::new();
    let (new, set_new) = signal(String::new());
    let (confirm, set_confirm) = signal(String::new());
    let form = NodeRef::<leptos::html::Form>::new();

    let server_error = move || change.value().get().and_then(Result::err);
    let succeeded = move || matches!(change.value().get(), Some(Ok(())));
    Effect::new(move || {
        if succeeded() {
            if let Some(form) = form.get() {
                form.reset();
            }
            set_new.set(String::new());
            set_confirm.set(String::new());
        }
    });

    let new_error = Signal::derive(move || {
        field_error(
            &new.get(),
            false,
            |v| NewPassword::parse(v).err(),
            server_error(),
            "new",
        )
    });
    let confirm_error = Signal::derive(move || {
        field_error(
            &confirm.get(),
            false,
            |v| (v != new.get()).then(|| "The passwords do not match.".to_owned()),
            server_error(),
            "confirm",
        )
    });
    let current_error =
        Signal::derive(move || server_error().and_then(|e| e.field_message("current")));
    let general_error = move || {
        server_error().filter(|e| {
            ["current", "new", "confirm"]
                .iter()
                .all(|field| e.field_message(field).is_none())
        })
    };

    view! {
        <Title text="Change password" />
        <div class="mx-auto max-w-md">
            <Card title="Change your password">
                <ActionForm action=change node_ref=form>
                    <div class="space-y-4">
                        <Suspense>
                            {move || Suspend::new(async move {
                                signed_in()
                                    .await
                                    .filter(|user| user.must_change_password)
                                    .map(|_| view! {
                                        <Alert tone=Tone::Info>
                                            "You signed in with the password PXE Cloud made at its first start. Choose your own to go on."
                                        </Alert>
                                    })
                            })}
                        </Suspense>
                        <Show when=succeeded>
                            <Alert tone=Tone::Success>"Your password has been changed."</Alert>
                        </Show>
                        {move || general_error().map(|e| view! { <Alert tone=Tone::Error>{e.to_string()}</Alert> })}
                        <Field
                            label="Current password"
                            id="field-current"
                            name="current"
                            required=true
                            kind="password"
                            autocomplete="current-password"
                            maxlength=PASSWORD_MAX
                            error=current_error
                        />
                        <Field
                            label="New password"
                            id="field-new"
                            name="new"
                            required=true
                            kind="password"
                            autocomplete="new-password"
                            maxlength=PASSWORD_MAX
                            error=new_error
                            hint="At least 8 characters; spaces and symbols are welcome."
                            on_input=Callback::new(move |value| set_new.set(value))
                        />
                        <Field
                            label="Repeat the new password"
                            id="field-confirm"
                            name="confirm"
                            required=true
                            kind="password"
                            autocomplete="new-password"
                            maxlength=PASSWORD_MAX
                            error=confirm_error
                            on_input=Callback::new(move |value| set_confirm.set(value))
                        />
                        <SubmitButton
                            label="Change password"
                            pending_label="Changing…"
                            pending=change.pending()
                            disabled=Signal::derive(move || new_error.get().is_some() || confirm_error.get().is_some())
                        />
                    </div>
                </ActionForm>
            </Card>
        </div>
    }
}
