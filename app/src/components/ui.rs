//! The design system: fields, buttons, alerts, cards, badges and empty states.

use leptos::prelude::*;

use crate::error::AppError;

/// The error under a field, computed the one way every form does: the browser's own check
/// (the parser the server runs) once something is typed or a save was `tried`, else what the
/// server said about `field`. An empty field therefore complains only after a first save.
pub fn field_error(
    typed: &str,
    tried: bool,
    check: impl FnOnce(&str) -> Option<String>,
    server: Option<AppError>,
    field: &str,
) -> Option<String> {
    (tried || !typed.trim().is_empty())
        .then(|| check(typed))
        .flatten()
        .or_else(|| server.and_then(|e| e.field_message(field)))
}

/// The server's error when it is about none of `fields`: for an alert above the form.
pub fn form_error(error: Option<AppError>, fields: &[&str]) -> Option<AppError> {
    error.filter(|e| fields.iter().all(|f| e.field_message(f).is_none()))
}

/// A primary submit button that shows when its action is running.
#[component]
pub fn SubmitButton(
    /// The button's text.
    label: &'static str,
    /// The text while the action runs.
    pending_label: &'static str,
    /// Whether the action runs.
    #[prop(into)]
    pending: Signal<bool>,
    /// Whether the button is disabled for another reason.
    #[prop(into, optional)]
    disabled: Signal<bool>,
) -> impl IntoView {
    view! {
        <button
            type="submit"
            disabled=move || pending.get() || disabled.get()
            class="inline-flex w-full items-center justify-center rounded-md bg-indigo-600 px-4 py-2 text-sm font-semibold text-white shadow-sm hover:bg-indigo-500 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500 focus-visible:ring-offset-2 disabled:cursor-not-allowed disabled:opacity-60"
        >
            {move || if pending.get() { pending_label } else { label }}
        </button>
    }
}

/// How an alert looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Error,
    Success,
    Info,
}

/// A message box; errors are announced to screen readers at once.
#[component]
pub fn Alert(tone: Tone, children: Children) -> impl IntoView {
    let (classes, role) = match tone {
        Tone::Error => ("border-red-200 bg-red-50 text-red-800", "alert"),
        Tone::Success => ("border-green-200 bg-green-50 text-green-800", "status"),
        Tone::Info => ("border-sky-200 bg-sky-50 text-sky-800", "status"),
    };
    view! {
        <div role=role class=format!("rounded-md border px-4 py-3 text-sm {classes}")>
            {children()}
        </div>
    }
}

/// A white panel with a title.
#[component]
pub fn Card(#[prop(into)] title: String, children: Children) -> impl IntoView {
    view! {
        <section class="rounded-lg border border-slate-200 bg-white shadow-sm">
            <h2 class="border-b border-slate-200 px-5 py-3 text-base font-semibold">{title}</h2>
            <div class="p-5">{children()}</div>
        </section>
    }
}

/// A small label, e.g. a role.
#[component]
pub fn Badge(#[prop(into)] text: String, #[prop(default = false)] strong: bool) -> impl IntoView {
    let classes = if strong {
        "bg-indigo-100 text-indigo-800"
    } else {
        "bg-slate-100 text-slate-700"
    };
    view! {
        <span class=format!("inline-flex rounded-full px-2 py-0.5 text-xs font-medium {classes}")>
            {text}
        </span>
    }
}

/// What a list shows when it has nothing in it.
#[component]
pub fn EmptyState(#[prop(into)] title: String, #[prop(into)] text: String) -> impl IntoView {
    view! {
        <div class="rounded-lg border border-dashed border-slate-300 px-6 py-10 text-center">
            <p class="font-medium">{title}</p>
            <p class="mt-1 text-sm text-slate-500">{text}</p>
        </div>
    }
}

/// A spinner line for content that is loading.
#[component]
pub fn Loading() -> impl IntoView {
    view! {
        <p class="animate-pulse text-sm text-slate-500" aria-live="polite">
            "Loading…"
        </p>
    }
}

/// The look of a button.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ButtonKind {
    #[default]
    Primary,
    Secondary,
    Danger,
    /// A small, quiet button inside a table row.
    Quiet,
}

impl ButtonKind {
    /// The classes of a button of this kind.
    pub fn classes(self) -> &'static str {
        match self {
            Self::Primary => {
                "inline-flex items-center justify-center gap-1 rounded-md bg-indigo-600 px-3 py-2 text-sm font-semibold text-white shadow-sm hover:bg-indigo-500 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500 focus-visible:ring-offset-2 disabled:cursor-not-allowed disabled:opacity-60"
            }
            Self::Secondary => {
                "inline-flex items-center justify-center gap-1 rounded-md border border-slate-300 bg-white px-3 py-2 text-sm font-medium text-slate-700 shadow-sm hover:bg-slate-50 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500 focus-visible:ring-offset-2 disabled:cursor-not-allowed disabled:opacity-60"
            }
            Self::Danger => {
                "inline-flex items-center justify-center gap-1 rounded-md bg-red-600 px-3 py-2 text-sm font-semibold text-white shadow-sm hover:bg-red-500 focus:outline-none focus-visible:ring-2 focus-visible:ring-red-500 focus-visible:ring-offset-2 disabled:cursor-not-allowed disabled:opacity-60"
            }
            Self::Quiet => {
                "inline-flex items-center justify-center rounded px-2 py-1 text-xs font-medium text-slate-600 hover:bg-slate-100 hover:text-slate-900 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500 disabled:cursor-not-allowed disabled:opacity-40"
            }
        }
    }
}

/// The classes of a text input, a select or a text area.
pub const INPUT_CLASSES: &str = "block w-full rounded-md border border-slate-300 bg-white px-3 py-2 text-sm shadow-sm focus:border-indigo-500 focus:outline-none focus:ring-2 focus:ring-indigo-500 aria-[invalid=true]:border-red-500";

/// A labelled input with its error (or a hint) under it: the one field of every form.
///
/// Bound to `value` when given (the page reads the signal); submitted under `name` when given
/// (an `ActionForm` that works before the page is hydrated); either or both.
#[component]
pub fn Field(
    /// The label shown above the input.
    label: &'static str,
    /// The element id, also what tests and labels point at.
    id: &'static str,
    /// The form field name (the server function's argument), for forms that submit it.
    #[prop(optional)]
    name: Option<&'static str>,
    /// The value, updated as the user types.
    #[prop(optional)]
    value: Option<RwSignal<String>>,
    /// Called with the value on every keystroke.
    #[prop(optional)]
    on_input: Option<Callback<String>>,
    /// The error to show, if any.
    #[prop(into, optional)]
    error: Signal<Option<String>>,
    /// A hint shown when there is no error.
    #[prop(optional)]
    hint: Option<&'static str>,
    /// The input type.
    #[prop(default = "text")]
    kind: &'static str,
    /// The longest value accepted.
    #[prop(optional)]
    maxlength: Option<usize>,
    /// The browser's autocomplete hint.
    #[prop(default = "off")]
    autocomplete: &'static str,
    /// A placeholder.
    #[prop(optional)]
    placeholder: Option<&'static str>,
    /// The browser refuses to submit the form while this is empty.
    #[prop(optional)]
    required: bool,
    /// Focus this input when the page loads.
    #[prop(optional)]
    autofocus: bool,
) -> impl IntoView {
    let error_id = format!("{id}-error");
    view! {
        <div class="space-y-1">
            <label for=id class="block text-sm font-medium text-slate-700">{label}</label>
            <input
                id=id
                name=name
                type=kind
                maxlength=maxlength
                autocomplete=autocomplete
                placeholder=placeholder
                required=required
                autofocus=autofocus
                aria-invalid=move || error.get().is_some().to_string()
                aria-describedby=error_id.clone()
                class=INPUT_CLASSES
                prop:value=move || value.map(|v| v.get()).unwrap_or_default()
                on:input=move |ev| {
                    let typed = event_target_value(&ev);
                    if let Some(callback) = on_input {
                        callback.run(typed.clone());
                    }
                    if let Some(value) = value {
                        value.set(typed);
                    }
                }
            />
            <p id=error_id class="min-h-5 text-sm" role="status">
                {move || match error.get() {
                    Some(message) => view! { <span class="text-red-600">{message}</span> }.into_any(),
                    None => view! { <span class="text-slate-500">{hint}</span> }.into_any(),
                }}
            </p>
        </div>
    }
}

/// A search box that filters a list as the user types.
#[component]
pub fn SearchBox(
    /// The accessible label, also the placeholder.
    label: &'static str,
    /// The filter text.
    value: RwSignal<String>,
    /// Called when the text changes (to go back to the first page, say).
    #[prop(optional)]
    on_change: Option<Callback<()>>,
) -> impl IntoView {
    view! {
        <label class="block w-full max-w-xs">
            <span class="sr-only">{label}</span>
            <input
                type="search"
                placeholder=label
                class=INPUT_CLASSES
                prop:value=move || value.get()
                on:input=move |ev| {
                    value.set(event_target_value(&ev));
                    if let Some(callback) = on_change {
                        callback.run(());
                    }
                }
            />
        </label>
    }
}

/// Previous / next buttons and where the page sits in the list.
#[component]
pub fn Pagination(
    /// The page shown, from 0.
    page: RwSignal<u64>,
    /// How many rows match, over all pages.
    #[prop(into)]
    total: Signal<u64>,
    /// How many rows a page holds.
    page_size: u64,
) -> impl IntoView {
    let pages = move || total.get().div_ceil(page_size.max(1)).max(1);
    let first = move || page.get() * page_size + 1;
    let last = move || ((page.get() + 1) * page_size).min(total.get());
    view! {
        <nav class="flex items-center justify-between gap-3 pt-3 text-sm text-slate-600" aria-label="Pages">
            <span data-testid="page-status">
                {move || {
                    if total.get() == 0 {
                        "Nothing to show".to_owned()
                    } else {
                        format!("{}–{} of {}", first(), last(), total.get())
                    }
                }}
            </span>
            <Show when=move || { pages() > 1 }>
                <div class="flex gap-2">
                    <button
                        type="button"
                        class=ButtonKind::Secondary.classes()
                        disabled=move || page.get() == 0
                        on:click=move |_| page.update(|p| *p = p.saturating_sub(1))
                    >
                        "Previous"
                    </button>
                    <button
                        type="button"
                        class=ButtonKind::Secondary.classes()
                        disabled=move || { page.get() + 1 >= pages() }
                        on:click=move |_| page.update(|p| *p += 1)
                    >
                        "Next"
                    </button>
                </div>
            </Show>
        </nav>
    }
}

/// A page heading with optional actions on its right.
#[component]
pub fn PageHeader(
    #[prop(into)] title: String,
    #[prop(optional, into)] subtitle: Option<String>,
    #[prop(optional)] children: Option<Children>,
) -> impl IntoView {
    view! {
        <div class="flex flex-wrap items-end justify-between gap-3">
            <div>
                <h1 class="text-2xl font-bold tracking-tight">{title}</h1>
                {subtitle.map(|s| view! { <p class="mt-1 text-sm text-slate-500">{s}</p> })}
            </div>
            <div class="flex flex-wrap gap-2">{children.map(|c| c())}</div>
        </div>
    }
}

/// The classes of a table and its parts, shared by every list.
pub mod table {
    /// The table element.
    pub const TABLE: &str = "min-w-full divide-y divide-slate-200 text-sm";
    /// A header cell.
    pub const TH: &str = "py-2 pr-4 text-left font-medium text-slate-500";
    /// A body cell.
    pub const TD: &str = "py-2 pr-4 align-top";
}
