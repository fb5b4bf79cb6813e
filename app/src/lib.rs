//! PXE Cloud's web app: pages, components, shared types and server functions; server-only
//! code (database, services, authentication) behind the `ssr` feature.

#![recursion_limit = "256"]

pub mod api;
pub mod boot;
pub mod components;
pub mod error;
pub mod forms;
pub mod ipxe;
pub mod library;
pub mod model;
pub mod pages;
pub mod validate;

#[cfg(feature = "ssr")]
pub mod server;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Title, provide_meta_context};
use leptos_router::{
    SsrMode,
    components::{ParentRoute, Route, Router, Routes},
    path,
};

use crate::{
    components::{
        feedback::{ToastHost, provide_toasts},
        layout::Layout,
        org_frame::OrgSection,
    },
    pages::{
        account::PasswordPage, boot_log::BootLogPage, dashboard::DashboardPage, files::FilesPage,
        group::GroupPage, groups::GroupsPage, image::ImagePage, images::ImagesPage,
        login::LoginPage, members::MembersPage, menu_editor::MenuEditorPage, menus::MenusPage,
        network_boot::NetworkBootPage, not_found::NotFoundPage, organization::OrganizationPage,
        organizations::OrganizationsPage, users::UsersPage,
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
                <ParentRoute path=path!("") view=Layout ssr=ssr.clone()>
                    <Route path=path!("/") view=DashboardPage ssr=ssr.clone() />
                    <Route path=path!("/account/password") view=PasswordPage ssr=ssr.clone() />
                    <Route path=path!("/organizations") view=OrganizationsPage ssr=ssr.clone() />
                    <Route path=path!("/users") view=UsersPage ssr=ssr.clone() />
                    <Route path=path!("/network-boot") view=NetworkBootPage ssr=ssr.clone() />
                    <ParentRoute path=path!("/org/:org") view=OrgSection ssr=ssr.clone()>
                        <Route path=path!("") view=OrganizationPage ssr=ssr.clone() />
                        <Route path=path!("/members") view=MembersPage ssr=ssr.clone() />
                        <Route path=path!("/groups") view=GroupsPage ssr=ssr.clone() />
                        <Route path=path!("/groups/:group") view=GroupPage ssr=ssr.clone() />
                        <Route path=path!("/images") view=ImagesPage ssr=ssr.clone() />
                        <Route path=path!("/images/new") view=ImagePage ssr=ssr.clone() />
                        <Route path=path!("/images/:image") view=ImagePage ssr=ssr.clone() />
                        <Route path=path!("/files") view=FilesPage ssr=ssr.clone() />
                        <Route path=path!("/menus") view=MenusPage ssr=ssr.clone() />
                        <Route path=path!("/menus/:menu") view=MenuEditorPage ssr=ssr.clone() />
                        <Route path=path!("/boot-log") view=BootLogPage ssr=ssr.clone() />
                    </ParentRoute>
                </ParentRoute>
            </Routes>
        </Router>
    }
}
