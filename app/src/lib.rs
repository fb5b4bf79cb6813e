//! PXE Cloud's web app: pages, components, shared types and server functions; server-only
//! code (database, services, authentication) behind the `ssr` feature.

#![recursion_limit = "256"]

pub mod api;
pub mod boot;
pub mod components;
pub mod error;
pub mod forms;
pub mod ipxe;
pub mod model;
pub mod pages;
pub mod validate;

#[cfg(feature = "ssr")]
pub mod server;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Title, provide_meta_context};
use leptos_router::{
    SsrMode,
    components::{Route, Router, Routes},
    path,
};

use crate::{
    components::{
        feedback::{ToastHost, provide_toasts},
        layout::Layout,
    },
    pages::{
        account::PasswordPage, boot_log::BootLogPage, dashboard::DashboardPage, group::GroupPage,
        groups::GroupsPage, image::ImagePage, images::ImagesPage, login::LoginPage,
        members::MembersPage, menu_editor::MenuEditorPage, menus::MenusPage,
        not_found::NotFoundPage, organization::OrganizationPage, organizations::OrganizationsPage,
        users::UsersPage,
    },
};

/// The HTML document around the app; rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    let stylesheet = format!("/{}/{}.css", options.site_pkg_dir, options.output_name);
    view! {
        <!DOCTYPE html>
        <html lang="en" class="h-full bg-slate-50">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <link rel="stylesheet" href=stylesheet />
                <link rel="icon" href="/favicon.ico" />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body class="h-full text-slate-900 antialiased">
                <App />
            </body>
        </html>
    }
}

/// The app: the router and its pages.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Above the router, so that a toast outlives the page that showed it.
    let toasts = provide_toasts();
    // Effects run only in the browser: this marks the page as hydrated for the browser tests.
    Effect::new(|| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
    // Pages are rendered completely before they are sent, so that a redirect (to the login,
    // say) is a real HTTP redirect.
    let ssr = SsrMode::Async;
    view! {
        <Title formatter=|page: String| {
            if page.is_empty() { "PXE Cloud".to_owned() } else { format!("{page} · PXE Cloud") }
        } />
        <ToastHost toasts />
        <Router>
            <Routes fallback=NotFoundPage>
                <Route path=path!("/login") view=LoginPage ssr=ssr.clone() />
                <Route
                    path=path!("/")
                    view=|| view! { <Layout><DashboardPage /></Layout> }
                    ssr=ssr.clone()
                />
                <Route
                    path=path!("/account/password")
                    view=|| view! { <Layout><PasswordPage /></Layout> }
                    ssr=ssr.clone()
                />
                <Route
                    path=path!("/organizations")
                    view=|| view! { <Layout><OrganizationsPage /></Layout> }
                    ssr=ssr.clone()
                />
                <Route
                    path=path!("/users")
                    view=|| view! { <Layout><UsersPage /></Layout> }
                    ssr=ssr.clone()
                />
                <Route
                    path=path!("/org/:org")
                    view=|| view! { <Layout><OrganizationPage /></Layout> }
                    ssr=ssr.clone()
                />
                <Route
                    path=path!("/org/:org/members")
                    view=|| view! { <Layout><MembersPage /></Layout> }
                    ssr=ssr.clone()
                />
                <Route
                    path=path!("/org/:org/groups")
                    view=|| view! { <Layout><GroupsPage /></Layout> }
                    ssr=ssr.clone()
                />
                <Route
                    path=path!("/org/:org/groups/:group")
                    view=|| view! { <Layout><GroupPage /></Layout> }
                    ssr=ssr.clone()
                />
                <Route
                    path=path!("/org/:org/images")
                    view=|| view! { <Layout><ImagesPage /></Layout> }
                    ssr=ssr.clone()
                />
                <Route
                    path=path!("/org/:org/images/new")
                    view=|| view! { <Layout><ImagePage /></Layout> }
                    ssr=ssr.clone()
                />
                <Route
                    path=path!("/org/:org/images/:image")
                    view=|| view! { <Layout><ImagePage /></Layout> }
                    ssr=ssr.clone()
                />
                <Route
                    path=path!("/org/:org/menus")
                    view=|| view! { <Layout><MenusPage /></Layout> }
                    ssr=ssr.clone()
                />
                <Route
                    path=path!("/org/:org/menus/:menu")
                    view=|| view! { <Layout><MenuEditorPage /></Layout> }
                    ssr=ssr.clone()
                />
                <Route
                    path=path!("/org/:org/boot-log")
                    view=|| view! { <Layout><BootLogPage /></Layout> }
                    ssr=ssr.clone()
                />
            </Routes>
        </Router>
    }
}
