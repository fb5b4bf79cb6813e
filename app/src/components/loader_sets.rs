//! The Network boot page's loaders: the built-in ones, the sets a server admin added (upload,
//! delete), and which loader each architecture is offered.

use leptos::prelude::*;

use crate::{
    api::loader_sets::{ChooseLoader, DeleteLoaderSet, add_loader_set},
    components::{
        feedback::{ConfirmDialog, use_toasts},
        ui::{Alert, ButtonKind, EmptyState, INPUT_CLASSES, Tone, table},
    },
    error::AppError,
    model::{LoaderChoice, LoaderRow, LoaderSetRow},
};

/// What one set may hold (the server checks the same).
pub const MAX_FILES: usize = 16;
pub const MAX_FILE_BYTES: usize = 16 * 1024 * 1024;

/// A size as people read it: bytes, KiB or MiB.
pub fn size(bytes: u64) -> String {
    match bytes {
        0..1024 => format!("{bytes} B"),
        1024..1_048_576 => format!("{:.1} KiB", bytes as f64 / 1024.0),
        _ => format!("{:.1} MiB", bytes as f64 / 1_048_576.0),
    }
}

/// Loaders with the machines offered each, their size and SHA-256.
#[component]
pub fn LoaderTable(loaders: Vec<LoaderRow>, #[prop(into)] testid: String) -> impl IntoView {
    view! {
        <div class="overflow-x-auto">
            <table class=table::TABLE data-testid=testid>
                <thead>
                    <tr>
                        <th class=table::TH>"Name"</th>
                        <th class=table::TH>"Offered to"</th>
                        <th class=table::TH>"Size"</th>
                        <th class=table::TH>"SHA-256"</th>
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100">
                    {loaders
                        .into_iter()
                        .map(|loader| view! {
                            <tr data-testid="loader">
                                <td class=format!("{} font-mono text-xs", table::TD)>{loader.name}</td>
                                <td class=table::TD>
                                    {if loader.used_for.is_empty() {
                                        "— (by name only)".to_owned()
                                    } else {
                                        loader.used_for.join(", ")
                                    }}
                                </td>
                                <td class=format!("{} whitespace-nowrap tabular-nums", table::TD)>{size(loader.size)}</td>
                                <td class=format!("{} break-all font-mono text-xs", table::TD)>{loader.sha256}</td>
                            </tr>
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
}

/// Which loader each architecture is offered: the built-in one or a file of a set.
#[component]
pub fn LoaderChoices(
    choices: Vec<LoaderChoice>,
    sets: Vec<LoaderSetRow>,
    reload: RwSignal<u32>,
) -> impl IntoView {
    let toasts = use_toasts();
    let choose = ServerAction::<ChooseLoader>::new();
    // Effects run in the browser only: the selects are enabled once they work.
    let hydrated = RwSignal::new(false);
    Effect::new(move || hydrated.set(true));
    Effect::new(move || match choose.value().get() {
        Some(Ok(())) => {
            toasts.success("The loader was changed: machines get it from their next boot.");
            reload.update(|n| *n += 1);
        }
        Some(Err(error)) => {
            toasts.error(error.to_string());
            // Show the choice that stands, not the one refused.
            reload.update(|n| *n += 1);
        }
        None => {}
    });
    let paths: Vec<String> = sets
        .iter()
        .flat_map(|set| {
            set.files
                .iter()
                .map(move |file| format!("{}/{}", set.name, file.name))
        })
        .collect();
    view! {
        <div class="grid gap-4 sm:grid-cols-3" data-testid="loader-choices">
            {choices
                .into_iter()
                .map(|choice| {
                    let arch = choice.arch;
                    let id = format!("loader-{}", arch.id());
                    let label_for = id.clone();
                    let chosen = choice.chosen.clone().unwrap_or_default();
                    let builtin = if choice.builtin_present {
                        format!("Built in: {}", arch.builtin())
                    } else {
                        "Built in: none in this build".to_owned()
                    };
                    view! {
                        <div>
                        <label class="block text-sm" for=label_for>
                            <span class="mb-1 block font-medium text-slate-700">{arch.label()}</span>
                        </label>
                        // Usable once the page is hydrated: a change is saved at once.
                        <select
                            id=id
                            class=INPUT_CLASSES
                            disabled=move || !hydrated.get() || choose.pending().get()
                            on:change=move |ev| {
                                choose.dispatch(ChooseLoader {
                                    arch: arch.id().to_owned(),
                                    loader: event_target_value(&ev),
                                });
                            }
                        >
                            <option value="" selected=chosen.is_empty()>{builtin}</option>
                            {paths
                                .iter()
                                .map(|path| view! {
                                    <option value=path.clone() selected=*path == chosen>{path.clone()}</option>
                                })
                                .collect_view()}
                        </select>
                        </div>
                    }
                })
                .collect_view()}
        </div>
    }
}

/// The sets added, each with its files and a delete button.
#[component]
pub fn LoaderSetList(sets: Vec<LoaderSetRow>, reload: RwSignal<u32>) -> impl IntoView {
    if sets.is_empty() {
        return view! {
            <EmptyState
                title="No loader sets added"
                text="Add one below, e.g. iPXE's signed Secure Boot loaders with their shim; its files are served as <set>/<file> over TFTP and HTTP."
            />
        }
        .into_any();
    }
    view! {
        <div class="space-y-4">
            {sets.into_iter().map(|set| view! { <LoaderSet set reload /> }).collect_view()}
        </div>
    }
    .into_any()
}

#[component]
fn LoaderSet(set: LoaderSetRow, reload: RwSignal<u32>) -> impl IntoView {
    let toasts = use_toasts();
    let delete = ServerAction::<DeleteLoaderSet>::new();
    let open = RwSignal::new(false);
    let name = set.name.clone();
    Effect::new(move || {
        if let Some(Ok(())) = delete.value().get() {
            open.set(false);
            toasts.success("The loader set was deleted.");
            reload.update(|n| *n += 1);
        }
    });
    let when = set
        .created_at
        .replace('T', " ")
        .trim_end_matches('Z')
        .to_owned();
    let id = set.id;
    view! {
        <section class="rounded-md border border-slate-200" data-testid="loader-set">
            <div class="flex flex-wrap items-center justify-between gap-2 border-b border-slate-200 px-4 py-2">
                <div>
                    <span class="font-mono font-medium">{set.name.clone()}</span>
                    <span class="ml-2 text-xs text-slate-500">
                        {format!("added {when} UTC{}", set.created_by.map(|u| format!(" by {u}")).unwrap_or_default())}
                    </span>
                </div>
                <button
                    type="button"
                    class=ButtonKind::Quiet.classes()
                    aria-label=format!("Delete the loader set {}", set.name)
                    on:click=move |_| open.set(true)
                >
                    "Delete"
                </button>
            </div>
            <div class="p-4">
                <LoaderTable loaders=set.files testid="loader-set-files" />
            </div>
            <ConfirmDialog
                open
                title=format!("Delete the loader set “{name}”?")
                confirm_label="Delete loader set"
                pending=delete.pending()
                error=Signal::derive(move || delete.value().get().and_then(Result::err).map(|e| e.to_string()))
                on_confirm=Callback::new(move |_| {
                    delete.dispatch(DeleteLoaderSet { set_id: id });
                })
            >
                <p>"Its files are no longer served; machines offered one of them get the built-in loader again."</p>
            </ConfirmDialog>
        </section>
    }
}

/// Adds a set: its name and its files, uploaded together.
#[component]
pub fn AddLoaderSet(reload: RwSignal<u32>) -> impl IntoView {
    let toasts = use_toasts();
    let form = NodeRef::<leptos::html::Form>::new();
    let upload = Action::new_local(|data: &send_wrapper::SendWrapper<web_sys::FormData>| {
        add_loader_set((**data).clone().into())
    });
    let error = RwSignal::new(None::<AppError>);
    Effect::new(move || match upload.value().get() {
        Some(Ok(_)) => {
            error.set(None);
            toasts.success("The loader set was added.");
            if let Some(form) = form.get() {
                form.reset();
            }
            reload.update(|n| *n += 1);
        }
        Some(Err(failed)) => error.set(Some(failed)),
        None => {}
    });
    let picked = NodeRef::<leptos::html::Input>::new();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        // The limits the server holds to, said before anything is sent.
        if let Some(files) = picked.get().and_then(|input| input.files()) {
            if files.length() as usize > MAX_FILES {
                error.set(Some(AppError::invalid(
                    "files",
                    format!("A set holds at most {MAX_FILES} files."),
                )));
                return;
            }
            let too_big = (0..files.length())
                .filter_map(|i| files.get(i))
                .find(|file| file.size() > MAX_FILE_BYTES as f64);
            if let Some(file) = too_big {
                error.set(Some(AppError::invalid(
                    "files",
                    format!(
                        "“{}” is larger than {} MiB.",
                        file.name(),
                        MAX_FILE_BYTES >> 20
                    ),
                )));
                return;
            }
        }
        if let Some(element) = form.get()
            && let Ok(data) = web_sys::FormData::new_with_form(&element)
        {
            upload.dispatch_local(send_wrapper::SendWrapper::new(data));
        }
    };
    view! {
        <form
            node_ref=form
            action="/api/add_loader_set"
            method="post"
            enctype="multipart/form-data"
            class="space-y-3"
            on:submit=submit
        >
            <h3 class="text-sm font-semibold text-slate-700">"Add a loader set"</h3>
            <div class="flex flex-wrap items-end gap-3">
                <label class="block text-sm">
                    <span class="mb-1 block font-medium text-slate-700">"Name"</span>
                    <input
                        name="name"
                        class=format!("{INPUT_CLASSES} w-48 font-mono")
                        placeholder="secure-boot"
                        maxlength="32"
                        pattern="[a-z0-9][a-z0-9\\-]*"
                        title="Lower-case letters, digits and dashes"
                        required
                    />
                </label>
                <label class="block text-sm">
                    <span class="mb-1 block font-medium text-slate-700">"Files"</span>
                    <input node_ref=picked name="files" type="file" multiple required class="block text-sm" />
                </label>
                <button type="submit" class=ButtonKind::Primary.classes() disabled=move || upload.pending().get()>
                    {move || if upload.pending().get() { "Uploading…" } else { "Add the set" }}
                </button>
            </div>
            <p class="text-xs text-slate-500">
                {format!("Up to {MAX_FILES} files of at most {} MiB each. Once added, choose above which architecture gets which file.", MAX_FILE_BYTES >> 20)}
            </p>
            {move || error.get().map(|e| view! { <Alert tone=Tone::Error>{e.to_string()}</Alert> })}
        </form>
    }
}
