//! The sign-in page.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;

use crate::{
    api::account::{Login, current_user},
    components::ui::{Alert, Field, SubmitButton, Tone},
    error::AppError,
    validate::{PASSWORD_MAX, USERNAME_MAX},
};

/// Username and password, with the server's answer in place.
#[component]
pub fn LoginPage() -> impl IntoView {
    let user = Resource::new(|| (), |_| current_user());
    let login = ServerAction::<Login>::new();
    let error = move || login.value().get().and_then(Result::err);
    let field_error = move |field: &'static str| {
        Signal::derive(move || error().and_then(|e| e.field_message(field)))
    };
    let general_error = move || {
        error().filter(|e| {
            !matches!(e, AppError::Invalid { field, .. } if field == "username" || field == "password")
        })
    };

    view! {
        <Title text="Sign in" />
        <Suspense>
            {move || Suspend::new(async move {
                matches!(user.await, Ok(Some(_))).then(|| view! { <Redirect path="/" /> })
            })}
        </Suspense>
        <main class="flex min-h-full items-center justify-center px-4 py-12">
            <div class="w-full max-w-sm space-y-6">
                <div class="text-center">
                    <h1 class="text-2xl font-bold tracking-tight">"PXE Cloud"</h1>
                    <p class="mt-1 text-sm text-slate-500">"Sign in to manage what your machines boot."</p>
                </div>
                <div class="rounded-lg border border-slate-200 bg-white p-6 shadow-sm">
                    <ActionForm action=login>
                        <div class="space-y-4">
                            {move || {
                                general_error()
                                    .map(|e| view! { <Alert tone=Tone::Error>{e.to_string()}</Alert> })
                            }}
                            <Field
                                label="Username"
                                id="field-username"
                                name="username"
                                required=true
                                autocomplete="username"
                                maxlength=USERNAME_MAX
                                error=field_error("username")
                                autofocus=true
                            />
                            <Field
                                label="Password"
                                id="field-password"
                                name="password"
                                required=true
                                kind="password"
                                autocomplete="current-password"
                                maxlength=PASSWORD_MAX
                                error=field_error("password")
                            />
                            <SubmitButton label="Sign in" pending_label="Signing in…" pending=login.pending() />
                        </div>
                    </ActionForm>
                </div>
            </div>
        </main>
    }
}
