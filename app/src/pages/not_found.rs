//! The page for addresses that lead nowhere.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

/// A 404 page with a way back.
#[component]
pub fn NotFoundPage() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Not found" />
        <main class="flex min-h-full flex-col items-center justify-center gap-3 px-4 py-16 text-center">
            <p class="text-sm font-semibold text-indigo-600">"404"</p>
            <h1 class="text-2xl font-bold">"This page does not exist."</h1>
            <A href="/" attr:class="text-sm font-medium text-indigo-600 hover:underline">
                "Back to the dashboard"
            </A>
        </main>
    }
}
