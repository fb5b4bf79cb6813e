//! Feedback around actions: toasts that confirm what happened, and dialogs that ask first.

use leptos::{ev, prelude::*};
use std::time::Duration;

use super::ui::{Alert, ButtonKind, Tone};

/// One short message in the corner.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Toast {
    id: u64,
    tone: Tone,
    text: String,
}

/// The toasts of the page; provided by the layout, used by every page.
#[derive(Debug, Clone, Copy)]
pub struct Toasts {
    list: RwSignal<Vec<Toast>>,
    next: StoredValue<u64>,
}

impl Toasts {
    /// Shows a message for a few seconds.
    pub fn show(&self, tone: Tone, text: impl Into<String>) {
        let id = self.next.get_value();
        self.next.set_value(id + 1);
        self.list.update(|list| {
            list.push(Toast {
                id,
                tone,
                text: text.into(),
            })
        });
        let list = self.list;
        set_timeout(
            move || {
                list.try_update(|l| l.retain(|t| t.id != id));
            },
            Duration::from_secs(5),
        );
    }

    /// Confirms a success.
    pub fn success(&self, text: impl Into<String>) {
        self.show(Tone::Success, text);
    }

    /// Reports a failure.
    pub fn error(&self, text: impl Into<String>) {
        self.show(Tone::Error, text);
    }
}

/// Makes toasts available below this point and shows them.
pub fn provide_toasts() -> Toasts {
    let toasts = Toasts {
        list: RwSignal::new(Vec::new()),
        next: StoredValue::new(0),
    };
    provide_context(toasts);
    toasts
}

/// The page's toasts (a no-op set outside the layout).
pub fn use_toasts() -> Toasts {
    use_context::<Toasts>().unwrap_or_else(provide_toasts)
}

/// Where toasts appear: the bottom right corner, announced politely.
#[component]
pub fn ToastHost(toasts: Toasts) -> impl IntoView {
    view! {
        <div
            class="pointer-events-none fixed inset-x-0 bottom-4 z-50 flex flex-col items-center gap-2 px-4 sm:items-end"
            aria-live="polite"
        >
            <For each=move || toasts.list.get() key=|t| t.id let:toast>
                <div class="pointer-events-auto w-full max-w-sm shadow-lg" data-testid="toast">
                    <Alert tone=toast.tone>{toast.text.clone()}</Alert>
                </div>
            </For>
        </div>
    }
}

/// A modal that asks before something destructive happens, and says what else it affects.
#[component]
pub fn ConfirmDialog(
    /// Whether it is shown.
    open: RwSignal<bool>,
    /// The question.
    #[prop(into)]
    title: Signal<String>,
    /// The confirming button's text, e.g. "Delete image".
    #[prop(into)]
    confirm_label: Signal<String>,
    /// Runs when the user confirms.
    on_confirm: Callback<()>,
    /// Whether the confirmed action is running.
    #[prop(into, optional)]
    pending: Signal<bool>,
    /// What went wrong, if the action failed.
    #[prop(into, optional)]
    error: Signal<Option<String>>,
    /// What the action does and takes along.
    children: ChildrenFn,
) -> impl IntoView {
    let cancel = NodeRef::<leptos::html::Button>::new();
    Effect::new(move || {
        if open.get()
            && let Some(button) = cancel.get()
        {
            let _ = button.focus();
        }
    });
    let escape = window_event_listener(ev::keydown, move |ev| {
        if ev.key() == "Escape" && open.try_get_untracked() == Some(true) {
            open.set(false);
        }
    });
    on_cleanup(move || escape.remove());
    let children = StoredValue::new(children);
    view! {
        <Show when=move || open.get()>
            <div class="fixed inset-0 z-40 flex items-center justify-center bg-slate-900/50 p-4">
                <div
                    role="alertdialog"
                    aria-modal="true"
                    aria-labelledby="confirm-title"
                    class="w-full max-w-md space-y-4 rounded-lg bg-white p-6 shadow-xl"
                >
                    <h2 id="confirm-title" class="text-lg font-semibold">{move || title.get()}</h2>
                    <div class="space-y-2 text-sm text-slate-700">{children.read_value()()}</div>
                    {move || error.get().map(|e| view! { <Alert tone=Tone::Error>{e}</Alert> })}
                    <div class="flex justify-end gap-2">
                        <button
                            type="button"
                            node_ref=cancel
                            class=ButtonKind::Secondary.classes()
                            on:click=move |_| open.set(false)
                        >
                            "Cancel"
                        </button>
                        <button
                            type="button"
                            class=ButtonKind::Danger.classes()
                            disabled=move || pending.get()
                            on:click=move |_| on_confirm.run(())
                        >
                            {move || if pending.get() { "Working…".to_owned() } else { confirm_label.get() }}
                        </button>
                    </div>
                </div>
            </div>
        </Show>
    }
}

/// Opens a dialog while `subject` holds something, and empties `subject` when the dialog
/// closes; `on_close` then resets what the dialog showed. Each side is set only when it
/// differs, so the two effects do not wake each other forever.
pub fn bind_dialog<T>(
    open: RwSignal<bool>,
    subject: RwSignal<Option<T>>,
    on_close: impl Fn() + 'static,
) where
    T: Send + Sync + 'static,
{
    Effect::new(move || {
        let wanted = subject.with(Option::is_some);
        if open.get_untracked() != wanted {
            open.set(wanted);
        }
    });
    Effect::new(move || {
        if !open.get() && subject.with_untracked(Option::is_some) {
            subject.set(None);
            on_close();
        }
    });
}

/// A thing about to be deleted: its id and what it is called.
pub type Doomed = Option<(i32, String)>;

/// Asks before deleting one thing, listing what else loses it; deletes on confirmation.
///
/// `usage` names what the deletion affects (the menus that show an image, say), `delete`
/// deletes; both take the thing's id.
#[component]
pub fn DeleteDialog<U, UF, D, DF>(
    /// The thing to delete; set it to open the dialog.
    doomed: RwSignal<Doomed>,
    /// What the thing is, e.g. "image".
    what: &'static str,
    /// Introduces the list of affected things.
    affected_intro: &'static str,
    /// Says that nothing else is affected.
    nothing_affected: &'static str,
    usage: U,
    delete: D,
    /// Runs after a deletion, e.g. to reload the list.
    on_deleted: Callback<()>,
) -> impl IntoView
where
    U: Fn(i32) -> UF + Copy + Send + Sync + 'static,
    UF: std::future::Future<Output = Result<Vec<String>, crate::error::AppError>> + Send + 'static,
    D: Fn(i32) -> DF + Copy + Send + Sync + 'static,
    DF: std::future::Future<Output = Result<(), crate::error::AppError>> + Send + 'static,
{
    let toasts = use_toasts();
    let open = RwSignal::new(false);
    let action = Action::new(move |id: &i32| delete(*id));
    // Loaded in the browser only, when the dialog opens: nothing of it is rendered on the server.
    let affected = LocalResource::new(move || {
        let id = doomed.get().map(|(id, _)| id);
        async move {
            match id {
                Some(id) => usage(id).await,
                None => Ok(Vec::new()),
            }
        }
    });
    bind_dialog(open, doomed, move || action.value().set(None));
    Effect::new(move || {
        if let Some(Ok(())) = action.value().get() {
            let name = doomed
                .get_untracked()
                .map(|(_, name)| name)
                .unwrap_or_default();
            toasts.success(format!("Deleted “{name}”."));
            open.set(false);
            on_deleted.run(());
        }
    });
    let name = move || doomed.get().map(|(_, name)| name).unwrap_or_default();
    view! {
        <ConfirmDialog
            open
            title=Signal::derive(move || format!("Delete the {what} “{}”?", name()))
            confirm_label=format!("Delete {what}")
            pending=action.pending()
            error=Signal::derive(move || action.value().get().and_then(Result::err).map(|e| e.to_string()))
            on_confirm=Callback::new(move |_| {
                if let Some((id, _)) = doomed.get_untracked() {
                    action.dispatch(id);
                }
            })
        >
            <Suspense fallback=|| view! { <p class="animate-pulse">"Checking what this affects…"</p> }>
                {move || Suspend::new(async move {
                    match affected.await {
                        Ok(list) if list.is_empty() => view! { <p>{nothing_affected}</p> }.into_any(),
                        Ok(list) => view! {
                            <p>{affected_intro}</p>
                            <ul class="list-disc pl-5" data-testid="affected">
                                {list.into_iter().map(|item| view! { <li>{item}</li> }).collect_view()}
                            </ul>
                        }
                            .into_any(),
                        Err(error) => view! { <p class="text-red-600">{error.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </ConfirmDialog>
    }
}
