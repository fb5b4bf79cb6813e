//! The frame of every signed-in page: navigation, the user, sign-out.

use leptos::prelude::*;
use leptos_router::{
    components::{A, Outlet, Redirect},
    hooks::use_location,
};

use crate::{
    api::account::{Logout, current_user},
    components::ui::{Alert, Tone},
    error::AppError,
    model::SignedInUser,
};

/// Where users change their own password.
pub const PASSWORD_PAGE: &str = "/account/password";

/// The signed-in user as loaded by the layout; await it inside a `Suspense`.
#[derive(Debug, Clone, Copy)]
pub struct CurrentUser(pub Resource<Result<Option<SignedInUser>, AppError>>);

/// The signed-in user, once the layout has loaded it (`None` outside the layout).
pub fn signed_in() -> impl std::future::Future<Output = Option<SignedInUser>> {
    let current = use_context::<CurrentUser>();
    async move {
        match current {
            Some(CurrentUser(user)) => user.await.ok().flatten(),
            None => None,
        }
    }
}

/// The route around every page for signed-in users; sends everyone else to the login. It
/// stays while the user moves between its pages: only the page in its outlet changes.
///
/// The page is made once, outside the suspense that waits for the user: a page made inside
/// it would be made again when the user arrives, with resources the browser never sees.
#[component]
pub fn Layout() -> impl IntoView {
    let user = Resource::new(|| (), |_| current_user());
    provide_context(CurrentUser(user));
    let location = use_location();
    view! {
        <Suspense fallback=|| view! { <div class="h-14 bg-slate-800"></div> }>
            {move || Suspend::new(async move {
                match user.await {
                    // The first-start password is replaced before anything else.
                    Ok(Some(user))
                        if user.must_change_password
                            && location.pathname.get_untracked() != PASSWORD_PAGE =>
                    {
                        view! { <Redirect path=PASSWORD_PAGE /> }.into_any()
                    }
                    Ok(Some(user)) => view! { <Navigation user /> }.into_any(),
                    Ok(None) => view! { <Redirect path="/login" /> }.into_any(),
                    Err(error) => view! {
                        <div class="mx-auto max-w-5xl px-4 pt-8">
                            <Alert tone=Tone::Error>{error.to_string()}</Alert>
                        </div>
                    }
                        .into_any(),
                }
            })}
        </Suspense>
        <main class="mx-auto max-w-5xl px-4 py-8 sm:px-6"><Outlet /></main>
    }
}

#[component]
fn Navigation(user: SignedInUser) -> impl IntoView {
    let logout = ServerAction::<Logout>::new();
    let link = "rounded-md px-3 py-2 text-sm font-medium text-slate-200 hover:bg-slate-700 hover:text-white aria-[current=page]:bg-slate-900 aria-[current=page]:text-white focus:outline-none focus-visible:ring-2 focus-visible:ring-white";
    view! {
        <header class="bg-slate-800">
            <nav
                class="mx-auto flex max-w-5xl flex-wrap items-center gap-2 px-4 py-3 sm:px-6"
                aria-label="Main"
            >
                <A href="/" attr:class="mr-4 text-lg font-bold tracking-tight text-white">
                    "PXE Cloud"
                </A>
                <A href="/" attr:class=link>
                    "Dashboard"
                </A>
                {user.is_server_admin.then(|| view! {
                    <A href="/organizations" attr:class=link>
                        "Organizations"
                    </A>
                    <A href="/users" attr:class=link>
                        "Users"
                    </A>
                    <A href="/network-boot" attr:class=link>
                        "Network boot"
                    </A>
                })}
                <A href=PASSWORD_PAGE attr:class=link>
                    "Password"
                </A>
                <div class="ml-auto flex items-center gap-3">
                    <span class="text-sm text-slate-300" data-testid="signed-in-user">
                        {user.username.clone()}
                        {user.is_server_admin.then_some(" (server admin)")}
                    </span>
                    <ActionForm action=logout>
                        <button
                            type="submit"
                            class="rounded-md bg-slate-700 px-3 py-1.5 text-sm font-medium text-white hover:bg-slate-600 focus:outline-none focus-visible:ring-2 focus-visible:ring-white"
                        >
                            "Sign out"
                        </button>
                    </ActionForm>
                </div>
            </nav>
        </header>
    }
}
