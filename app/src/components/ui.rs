//! The design system: fields, buttons, alerts, cards, badges and empty states.

use leptos::prelude::*;

/// A labelled text input with its error message in place.
#[component]
pub fn TextField(
    /// The label shown above the input.
    label: &'static str,
    /// The form field name (the server function's argument).
    name: &'static str,
    /// The input type: `text`, `password`, `email`…
    #[prop(default = "text")]
    kind: &'static str,
    /// The browser's autocomplete hint.
    #[prop(default = "off")]
    autocomplete: &'static str,
    /// The longest value accepted.
    #[prop(optional)]
    maxlength: Option<usize>,
    /// The error to show under the input, if any.
    #[prop(into, optional)]
    error: Signal<Option<String>>,
    /// A hint shown when there is no error.
    #[prop(optional)]
    hint: Option<&'static str>,
    /// Called with the value on every keystroke.
    #[prop(optional)]
    on_input: Option<Callback<String>>,
    /// Focus this input when the page loads.
    #[prop(optional)]
    autofocus: bool,
) -> impl IntoView {
    let id = format!("field-{name}");
    let error_id = format!("{id}-error");
    let has_error = move || error.get().is_some();
    view! {
        <div class="space-y-1">
            <label for=id.clone() class="block text-sm font-medium text-slate-700">
                {label}
            </label>
            <input
                id=id
                name=name
                type=kind
                autocomplete=autocomplete
                maxlength=maxlength
                autofocus=autofocus
                required=true
                aria-invalid=move || has_error().to_string()
                aria-describedby=error_id.clone()
                class="block w-full rounded-md border border-slate-300 bg-white px-3 py-2 text-sm shadow-sm focus:border-indigo-500 focus:outline-none focus:ring-2 focus:ring-indigo-500 aria-[invalid=true]:border-red-500"
                on:input=move |ev| {
                    if let Some(callback) = on_input {
                        callback.run(event_target_value(&ev));
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
