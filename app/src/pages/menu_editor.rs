//! The menu editor: the menu's settings, its entries on a drag-and-drop board, and a live
//! preview of the exact iPXE script clients receive. Saving sends the whole menu with the
//! version the editor started from; if someone else saved meanwhile, the editor says so.

use leptos::{ev, prelude::*};
use leptos_meta::Title as PageTitle;
use leptos_router::components::A;
use std::collections::HashMap;

use crate::{
    api::menus::{SaveMenu, menu_editor},
    boot::{BootMenu, MenuEntry, TITLE_MAX, URL_MAX},
    components::{
        feedback::use_toasts,
        menu_board::{Board, MenuBoard},
        org_frame::{OrgTab, org_href, use_org_id},
        ui::{Alert, ButtonKind, Card, Field, Loading, Tone, field_error},
    },
    error::AppError,
    forms::{MenuSettings, check_entry, parse_background, parse_timeout},
    ipxe::{self, Plan, ServerUrl, menu::menu_plan},
    model::MenuEditorData,
    pages::id_param,
};

/// The question asked before unsaved changes are thrown away.
const LEAVE_QUESTION: &str = "This menu has unsaved changes. Leave without saving them?";

/// `/org/:org/menus/:menu`.
#[component]
pub fn MenuEditorPage() -> impl IntoView {
    let organization_id = use_org_id();
    let menu = id_param("menu");
    let reload = RwSignal::new(0u32);
    let data = Resource::new(
        move || (menu.get(), reload.get()),
        move |(menu, _)| async move {
            match menu {
                Some(menu) => menu_editor(organization_id, menu).await,
                None => Err(AppError::NotFound),
            }
        },
    );
    view! {
        <PageTitle text="Menu editor" />
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(data) => view! { <Editor organization_id data reload /> }.into_any(),
                    Err(error) => view! { <Alert tone=Tone::Error>{error.to_string()}</Alert> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The menu as saved, to tell whether the editor has changes.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Draft {
    settings: MenuSettings,
    entries: Vec<MenuEntry>,
}

fn settings_of(menu: &BootMenu) -> MenuSettings {
    MenuSettings {
        title: menu.title.clone(),
        background_url: menu.background_url.clone().unwrap_or_default(),
        timeout_secs: menu.timeout_secs.map(|t| t.to_string()).unwrap_or_default(),
    }
}

#[component]
fn Editor(organization_id: i32, data: MenuEditorData, reload: RwSignal<u32>) -> impl IntoView {
    let toasts = use_toasts();
    let MenuEditorData {
        menu,
        images,
        groups,
        boot_url_base,
    } = data;
    let menu_id = menu.id;
    let board = Board::new(&menu.entries, &images);
    let version = RwSignal::new(menu.version);
    let title = RwSignal::new(menu.title.clone());
    let background = RwSignal::new(menu.background_url.clone().unwrap_or_default());
    let timeout = RwSignal::new(menu.timeout_secs.map(|t| t.to_string()).unwrap_or_default());
    let saved = RwSignal::new(Draft {
        settings: settings_of(&menu),
        entries: menu.entries.clone(),
    });
    let settings = move || MenuSettings {
        title: title.get(),
        background_url: background.get(),
        timeout_secs: timeout.get(),
    };
    let dirty = Memo::new(move |_| {
        saved.with(|s| s.settings != settings() || s.entries != board.entries())
    });

    let save = ServerAction::<SaveMenu>::new();
    let conflict = RwSignal::new(false);
    let server_error = Memo::new(move |_| save.value().get().and_then(Result::err));
    Effect::new(move || match save.value().get() {
        Some(Ok(menu)) => {
            version.set(menu.version);
            board.reset(&menu.entries);
            title.set(menu.title.clone());
            background.set(menu.background_url.clone().unwrap_or_default());
            timeout.set(menu.timeout_secs.map(|t| t.to_string()).unwrap_or_default());
            saved.set(Draft {
                settings: settings_of(&menu),
                entries: menu.entries.clone(),
            });
            toasts.success("The menu was saved.");
            save.value().set(None);
        }
        Some(Err(AppError::Conflict { field, .. })) if field == "version" => conflict.set(true),
        _ => {}
    });

    // The editor's fields are never empty to begin with: they are checked from the start.
    let title_error = Signal::derive(move || {
        field_error(
            &title.get(),
            true,
            |v| crate::validate::Label::title(v, "menu").err(),
            server_error.get(),
            "title",
        )
    });
    let background_error = Signal::derive(move || {
        field_error(
            &background.get(),
            true,
            |v| parse_background(v).err(),
            server_error.get(),
            "background_url",
        )
    });
    let timeout_error = Signal::derive(move || {
        field_error(
            &timeout.get(),
            true,
            |v| parse_timeout(v).err(),
            server_error.get(),
            "timeout_secs",
        )
    });
    let entry_errors = Signal::derive(move || {
        let mut errors = HashMap::new();
        if let Some(AppError::Invalid { field, message }) = server_error.get()
            && let Some(position) = field.strip_prefix("entries.").and_then(|n| n.parse().ok())
        {
            errors.insert(position, message);
        }
        errors
    });
    let invalid = move || {
        title_error.get().is_some()
            || background_error.get().is_some()
            || timeout_error.get().is_some()
            || board.entries().iter().any(|e| check_entry(e).is_err())
    };
    let general_error = move || {
        server_error.get().filter(|e| match e {
            AppError::Conflict { field, .. } => field != "version" && field != "title",
            AppError::Invalid { field, .. } => {
                !(["title", "background_url", "timeout_secs"].contains(&field.as_str())
                    || field.starts_with("entries."))
            }
            _ => true,
        })
    };

    let preview = Memo::new(move |_| {
        let entries = board.entries();
        let shown = BootMenu {
            id: menu_id,
            title: title.get(),
            background_url: parse_background(&background.get())
                .ok()
                .flatten()
                .map(|u| u.as_str().to_owned()),
            timeout_secs: parse_timeout(&timeout.get()).ok().flatten(),
            version: version.get(),
            entries,
            entry_ids: Vec::new(),
        };
        let plan = menu_plan(
            &shown,
            &board.titles(),
            |position| {
                ServerUrl::new(
                    &boot_url_base,
                    &format!("ipxe/s/TOKEN/boot/GROUP/{position}"),
                )
            },
            None,
            ServerUrl::new(&boot_url_base, "ipxe/s/TOKEN/logout"),
        );
        ipxe::render(&Plan::Menu(plan))
    });

    let on_save = move |_| {
        if invalid() {
            toasts.error("Fix the marked fields first.");
            return;
        }
        conflict.set(false);
        save.dispatch(SaveMenu {
            organization_id,
            menu_id,
            version: version.get_untracked(),
            settings: MenuSettings {
                title: title.get_untracked(),
                background_url: background.get_untracked(),
                timeout_secs: timeout.get_untracked(),
            },
            entries: board
                .rows
                .with_untracked(|rows| rows.iter().map(|r| r.entry.clone()).collect()),
        });
    };
    let on_reload = move |_| reload.update(|n| *n += 1);

    guard_unsaved_changes(dirty);
    let groups_text = if groups.is_empty() {
        "No group boots this menu yet.".to_owned()
    } else {
        format!("Booted by: {}", groups.join(", "))
    };

    view! {
        <div class="space-y-4">
            <div class="flex flex-wrap items-center justify-between gap-3">
                <div>
                    <A href=org_href(organization_id, OrgTab::Menus) attr:class="text-sm text-indigo-700 hover:underline">
                        "← All menus"
                    </A>
                    <h1 class="text-2xl font-bold tracking-tight" data-testid="menu-title">{move || title.get()}</h1>
                    <p class="text-sm text-slate-500">{groups_text}</p>
                </div>
                <div class="flex items-center gap-3">
                    <span
                        class=move || if dirty.get() { "text-sm font-medium text-amber-700" } else { "text-sm text-slate-500" }
                        data-testid="save-state"
                        role="status"
                    >
                        {move || if dirty.get() { "Unsaved changes" } else { "All changes saved" }}
                    </span>
                    <button
                        type="button"
                        class=ButtonKind::Primary.classes()
                        disabled=move || save.pending().get() || !dirty.get()
                        on:click=on_save
                    >
                        {move || if save.pending().get() { "Saving…" } else { "Save menu" }}
                    </button>
                </div>
            </div>
            <Show when=move || conflict.get()>
                <Alert tone=Tone::Error>
                    <div class="flex flex-wrap items-center justify-between gap-3" data-testid="conflict">
                        <span>"Someone else saved this menu meanwhile. Reload it to see their changes; yours are not saved."</span>
                        <button type="button" class=ButtonKind::Secondary.classes() on:click=on_reload>
                            "Reload the menu"
                        </button>
                    </div>
                </Alert>
            </Show>
            {move || general_error().map(|e| view! { <Alert tone=Tone::Error>{e.to_string()}</Alert> })}
            <Card title="Settings">
                <div class="grid gap-4 md:grid-cols-3">
                    <Field label="Title" id="menu-title" value=title error=title_error maxlength=TITLE_MAX />
                    <Field
                        label="Background picture URL"
                        id="menu-background"
                        value=background
                        error=background_error
                        maxlength=URL_MAX
                        hint="Optional; shown where iPXE has the console command."
                    />
                    <Field
                        label="Timeout (seconds)"
                        id="menu-timeout"
                        value=timeout
                        error=timeout_error
                        hint="Optional; the default entry boots after it."
                    />
                </div>
            </Card>
            <MenuBoard board images server_errors=entry_errors />
            <Card title="iPXE script preview">
                <p class="mb-2 text-xs text-slate-500">
                    "What clients receive for this menu, rendered by the server's own renderer. TOKEN stands for a client's boot session and GROUP for its group; a Back item appears when the client chose among several groups."
                </p>
                <pre
                    class="max-h-[32rem] overflow-auto rounded-md bg-slate-900 p-4 font-mono text-xs leading-relaxed text-slate-100"
                    data-testid="ipxe-preview"
                    tabindex="0"
                    aria-label="iPXE script preview"
                >
                    {move || preview.get()}
                </pre>
            </Card>
        </div>
    }
}

/// Asks before unsaved changes are lost: when the tab closes or reloads, and when a link
/// inside the app is followed.
fn guard_unsaved_changes(dirty: Memo<bool>) {
    let unload = window_event_listener(ev::beforeunload, move |ev| {
        if dirty.try_get_untracked().unwrap_or(false) {
            ev.prevent_default();
            ev.set_return_value(LEAVE_QUESTION);
        }
    });
    on_cleanup(move || unload.remove());
    #[cfg(feature = "hydrate")]
    guard_links(dirty);
}

/// Links are followed by the router's own click handler, so the question is asked in the
/// capture phase, before it runs.
#[cfg(feature = "hydrate")]
fn guard_links(dirty: Memo<bool>) {
    use wasm_bindgen::{JsCast, closure::Closure};

    let on_click = Closure::<dyn Fn(web_sys::MouseEvent)>::new(move |ev: web_sys::MouseEvent| {
        if !dirty.try_get_untracked().unwrap_or(false) {
            return;
        }
        let on_link = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .and_then(|e| e.closest("a[href]").ok().flatten())
            .is_some();
        if on_link
            && !window()
                .confirm_with_message(LEAVE_QUESTION)
                .unwrap_or(true)
        {
            ev.prevent_default();
            ev.stop_immediate_propagation();
        }
    });
    let function: web_sys::js_sys::Function = on_click.into_js_value().unchecked_into();
    let _ = document().add_event_listener_with_callback_and_bool("click", &function, true);
    let function = send_wrapper::SendWrapper::new(function);
    on_cleanup(move || {
        let _ = document().remove_event_listener_with_callback_and_bool("click", &function, true);
    });
}
