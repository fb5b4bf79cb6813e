//! The form of one boot image, new or existing: title, type, sources, ISO boot method, and the
//! boot arguments as rows to add, remove and reorder.

use leptos::prelude::*;
use leptos_meta::Title as PageTitle;
use leptos_router::hooks::use_navigate;

use crate::{
    api::{
        files::files,
        images::{CreateImage, UpdateImage, image},
    },
    boot::{
        BOOT_ARGS_MAX, BootArg, BootImage, ISO_PLACEHOLDER, ImageKind, ImageSource, IsoBoot,
        TREE_PLACEHOLDER, URL_MAX,
    },
    components::{
        feedback::use_toasts,
        org_frame::{OrgTab, org_href, use_org_id},
        ui::{Alert, ButtonKind, Card, Field, INPUT_CLASSES, Loading, Tone, field_error},
    },
    error::AppError,
    forms::ImageForm,
    library::ISO_TYPE,
    pages::id_param,
};

/// `/org/:org/images/new` and `/org/:org/images/:image`.
#[component]
pub fn ImagePage() -> impl IntoView {
    let organization_id = use_org_id();
    let image_id = id_param("image");
    move || match image_id.get() {
        None => view! {
            <PageTitle text="New image" />
            <ImageEditor organization_id existing=None />
        }
        .into_any(),
        Some(id) => view! { <ExistingImage organization_id image_id=id /> }.into_any(),
    }
}

#[component]
fn ExistingImage(organization_id: i32, image_id: i32) -> impl IntoView {
    let loaded = Resource::new(|| (), move |_| image(organization_id, image_id));
    view! {
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                match loaded.await {
                    Ok(found) => view! {
                        <PageTitle text=found.title.clone() />
                        <ImageEditor organization_id existing=Some(found) />
                    }
                        .into_any(),
                    Err(error) => view! { <Alert tone=Tone::Error>{error.to_string()}</Alert> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// One row of the argument list; the key keeps its input in place while rows move.
#[derive(Debug, Clone, Copy)]
struct ArgRow {
    key: u64,
    value: RwSignal<String>,
}

#[component]
fn ImageEditor(organization_id: i32, existing: Option<BootImage>) -> impl IntoView {
    let toasts = use_toasts();
    let navigate = use_navigate();
    let image_id = existing.as_ref().map(|i| i.id);
    let title = RwSignal::new(
        existing
            .as_ref()
            .map(|i| i.title.clone())
            .unwrap_or_default(),
    );
    let kind = RwSignal::new(
        existing
            .as_ref()
            .map_or(ImageKind::KernelInitrd, |i| i.kind),
    );
    let kernel_url = RwSignal::new(
        existing
            .as_ref()
            .and_then(|i| i.kernel_url.clone())
            .unwrap_or_default(),
    );
    let image_url = RwSignal::new(
        existing
            .as_ref()
            .map(|i| i.image_url.clone())
            .unwrap_or_default(),
    );
    let iso_boot = RwSignal::new(existing.as_ref().map(|i| i.iso_boot).unwrap_or_default());
    let iso_url = RwSignal::new(
        existing
            .as_ref()
            .and_then(|i| i.iso_url.clone())
            .unwrap_or_default(),
    );
    let next_key = StoredValue::new(0u64);
    let new_row = move |value: String| {
        let key = next_key.get_value();
        next_key.set_value(key + 1);
        ArgRow {
            key,
            value: RwSignal::new(value),
        }
    };
    let args = RwSignal::new(
        existing
            .as_ref()
            .map(|i| {
                i.args
                    .iter()
                    .map(str::to_owned)
                    .map(new_row)
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default(),
    );
    let submitted = RwSignal::new(false);
    // The organization's files, offered beside the URL fields.
    let library = Resource::new(|| (), move |_| files(organization_id));

    let create = ServerAction::<CreateImage>::new();
    let update = ServerAction::<UpdateImage>::new();
    let pending = Signal::derive(move || create.pending().get() || update.pending().get());
    let server_error = Memo::new(move |_| {
        if image_id.is_some() {
            update.value().get().and_then(Result::err)
        } else {
            create.value().get().and_then(Result::err)
        }
    });

    // Each field is checked alone, with the parser the server uses, so that every error shows
    // at once; empty fields complain only after a first attempt to save.
    let check = move |field: &'static str, value: String, parse: fn(&str) -> Result<(), String>| {
        field_error(
            &value,
            submitted.get(),
            |v| parse(v).err(),
            server_error.get(),
            field,
        )
    };
    let title_error = Signal::derive(move || {
        check("title", title.get(), |v| {
            crate::validate::Label::title(v, "image").map(drop)
        })
    });
    let kernel_error = Signal::derive(move || {
        (kind.get() == ImageKind::KernelInitrd)
            .then(|| {
                check("kernel_url", kernel_url.get(), |v| {
                    ImageSource::parse(v).map(drop)
                })
            })
            .flatten()
    });
    // A kernel may boot without an initrd; an ISO image needs its ISO.
    let image_error = Signal::derive(move || {
        let optional = kind.get() == ImageKind::KernelInitrd;
        field_error(
            &image_url.get(),
            submitted.get(),
            |v| {
                if optional && v.trim().is_empty() {
                    None
                } else {
                    ImageSource::parse(v).err()
                }
            },
            server_error.get(),
            "image_url",
        )
    });
    let arg_error = move |index: usize, value: String| {
        let field = format!("args.{}", index + 1);
        let uses_iso = kind.get() == ImageKind::KernelInitrd && !iso_url.get().is_empty();
        field_error(
            &value,
            submitted.get(),
            |v| match BootArg::parse(v) {
                Ok(arg) if arg.has_placeholder() && !uses_iso => Some(format!(
                    "{ISO_PLACEHOLDER} and {TREE_PLACEHOLDER} stand for the URLs of the image's ISO: pick one of the library, or remove them."
                )),
                Ok(_) => None,
                Err(message) => Some(message),
            },
            server_error.get(),
            &field,
        )
    };
    let iso_error =
        Signal::derive(move || server_error.get().and_then(|e| e.field_message("iso_url")));
    let any_error = move || {
        title_error.get().is_some()
            || kernel_error.get().is_some()
            || image_error.get().is_some()
            || args.with(|rows| {
                rows.iter()
                    .enumerate()
                    .any(|(i, row)| arg_error(i, row.value.get()).is_some())
            })
    };
    let general_error = move || {
        server_error.get().filter(|e| {
            !matches!(e, AppError::Invalid { field, .. } | AppError::Conflict { field, .. }
                if !field.is_empty())
        })
    };

    let form = move || ImageForm {
        title: title.get_untracked(),
        kind: kind.get_untracked().as_str().to_owned(),
        kernel_url: match kind.get_untracked() {
            ImageKind::KernelInitrd => kernel_url.get_untracked(),
            ImageKind::Iso => String::new(),
        },
        image_url: image_url.get_untracked(),
        iso_boot: match kind.get_untracked() {
            ImageKind::Iso => iso_boot.get_untracked().as_str().to_owned(),
            ImageKind::KernelInitrd => String::new(),
        },
        args: args.with_untracked(|rows| rows.iter().map(|r| r.value.get_untracked()).collect()),
        iso_url: match kind.get_untracked() {
            ImageKind::KernelInitrd => iso_url.get_untracked(),
            ImageKind::Iso => String::new(),
        },
    };
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        submitted.set(true);
        if any_error() {
            return;
        }
        match image_id {
            Some(image_id) => {
                update.dispatch(UpdateImage {
                    organization_id,
                    image_id,
                    form: form(),
                });
            }
            None => {
                create.dispatch(CreateImage {
                    organization_id,
                    form: form(),
                });
            }
        }
    };
    let list_href = org_href(organization_id, OrgTab::Images);
    {
        let list_href = list_href.clone();
        Effect::new(move || {
            let saved = create.value().get().or_else(|| update.value().get());
            if let Some(Ok(image)) = saved {
                toasts.success(format!("Saved “{}”.", image.title));
                navigate(&list_href, Default::default());
            }
        });
    }

    let move_row = move |index: usize, delta: isize| {
        args.update(|rows| {
            let target = index as isize + delta;
            if target >= 0 && (target as usize) < rows.len() {
                rows.swap(index, target as usize);
            }
        })
    };

    view! {
        <Card title=if image_id.is_some() { "Edit image" } else { "New image" }>
            <form class="space-y-4" on:submit=save novalidate=true>
                {move || general_error().map(|e| view! { <Alert tone=Tone::Error>{e.to_string()}</Alert> })}
                <Field label="Title" id="image-title" value=title error=title_error maxlength=crate::boot::TITLE_MAX />
                <fieldset class="space-y-1">
                    <legend class="text-sm font-medium text-slate-700">"Type"</legend>
                    <div class="flex flex-wrap gap-4 text-sm">
                        <label class="flex items-center gap-2">
                            <input
                                type="radio"
                                name="kind"
                                value="kernel_initrd"
                                prop:checked=move || kind.get() == ImageKind::KernelInitrd
                                on:change=move |_| kind.set(ImageKind::KernelInitrd)
                            />
                            "Kernel + initrd"
                        </label>
                        <label class="flex items-center gap-2">
                            <input
                                type="radio"
                                name="kind"
                                value="iso"
                                prop:checked=move || kind.get() == ImageKind::Iso
                                on:change=move |_| kind.set(ImageKind::Iso)
                            />
                            "ISO"
                        </label>
                    </div>
                </fieldset>
                <Show when=move || kind.get() == ImageKind::KernelInitrd>
                    <Field
                        label="Kernel URL"
                        id="image-kernel"
                        value=kernel_url
                        error=kernel_error
                        maxlength=URL_MAX
                        placeholder="http://boot.example.org/debian/linux"
                        hint="http:// or https:// (a space as %20), or file:<name> for a file of the library."
                    />
                    <LibraryPick library target=kernel_url label="The kernel from the library" />
                </Show>
                {move || {
                    let label = match kind.get() {
                        ImageKind::Iso => "ISO URL",
                        ImageKind::KernelInitrd => "Initrd URL (optional: empty for a kernel that boots alone)",
                    };
                    view! {
                        <Field
                            label
                            id="image-source"
                            value=image_url
                            error=image_error
                            maxlength=URL_MAX
                            hint="http:// or https:// (a space as %20), or file:<name> for a file of the library."
                        />
                        <LibraryPick library target=image_url label=format!("The {} from the library", match kind.get() {
                            ImageKind::Iso => "ISO",
                            ImageKind::KernelInitrd => "initrd",
                        }) />
                    }
                }}
                <Show when=move || kind.get() == ImageKind::Iso>
                    <div class="space-y-1">
                        <label for="image-iso-boot" class="block text-sm font-medium text-slate-700">"ISO boot method"</label>
                        <select
                            id="image-iso-boot"
                            class=INPUT_CLASSES
                            on:change=move |ev| {
                                if let Ok(method) = IsoBoot::parse(&event_target_value(&ev)) {
                                    iso_boot.set(method);
                                }
                            }
                        >
                            <option value="sanboot" selected=move || iso_boot.get() == IsoBoot::Sanboot>"sanboot (BIOS and UEFI)"</option>
                            <option value="memdisk" selected=move || iso_boot.get() == IsoBoot::Memdisk>"memdisk (BIOS only)"</option>
                        </select>
                    </div>
                </Show>
                <Show when=move || kind.get() == ImageKind::KernelInitrd>
                    <IsoPick library target=iso_url error=iso_error />
                </Show>
                <fieldset class="space-y-2">
                    <legend class="text-sm font-medium text-slate-700">"Boot arguments"</legend>
                    <p class="text-sm text-slate-500">"One argument per row: key=value or a bare flag, no spaces."</p>
                    <ol class="space-y-2" data-testid="boot-args">
                        <For each=move || args.get() key=|row| row.key let:row>
                            {
                                let index = move || args.with(|rows| rows.iter().position(|r| r.key == row.key).unwrap_or(0));
                                let count = move || args.with(Vec::len);
                                let error = move || arg_error(index(), row.value.get());
                                view! {
                                    <li class="space-y-1">
                                        <div class="flex items-center gap-1">
                                            <input
                                                type="text"
                                                class=format!("{INPUT_CLASSES} font-mono")
                                                maxlength=crate::boot::BOOT_ARG_MAX
                                                aria-label=move || format!("Boot argument {}", index() + 1)
                                                aria-invalid=move || error().is_some().to_string()
                                                prop:value=move || row.value.get()
                                                on:input=move |ev| row.value.set(event_target_value(&ev))
                                            />
                                            <button type="button" class=ButtonKind::Quiet.classes()
                                                aria-label=move || format!("Move argument {} up", index() + 1)
                                                disabled=move || index() == 0
                                                on:click=move |_| move_row(index(), -1)>"↑"</button>
                                            <button type="button" class=ButtonKind::Quiet.classes()
                                                aria-label=move || format!("Move argument {} down", index() + 1)
                                                disabled=move || { index() + 1 >= count() }
                                                on:click=move |_| move_row(index(), 1)>"↓"</button>
                                            <button type="button" class=ButtonKind::Quiet.classes()
                                                aria-label=move || format!("Remove argument {}", index() + 1)
                                                on:click=move |_| args.update(|rows| rows.retain(|r| r.key != row.key))>"✕"</button>
                                        </div>
                                        {move || error().map(|e| view! { <p class="text-sm text-red-600">{e}</p> })}
                                    </li>
                                }
                            }
                        </For>
                    </ol>
                    <button
                        type="button"
                        class=ButtonKind::Secondary.classes()
                        disabled=move || { args.with(Vec::len) >= BOOT_ARGS_MAX }
                        on:click=move |_| args.update(|rows| rows.push(new_row(String::new())))
                    >
                        "Add argument"
                    </button>
                </fieldset>
                <div class="flex justify-end gap-2 border-t border-slate-200 pt-4">
                    <a href=list_href.clone() class=ButtonKind::Secondary.classes()>"Cancel"</a>
                    <button type="submit" class=ButtonKind::Primary.classes() disabled=move || pending.get()>
                        {move || if pending.get() { "Saving…" } else { "Save image" }}
                    </button>
                </div>
            </form>
        </Card>
    }
}

/// The organization's files beside a URL field: picking one writes `file:<name>` into it.
/// Shown only when the library has files.
#[component]
fn LibraryPick(
    library: Resource<Result<crate::library::Library, AppError>>,
    target: RwSignal<String>,
    #[prop(into)] label: String,
) -> impl IntoView {
    view! {
        <Suspense fallback=|| ()>
            {move || {
                let label = label.clone();
                Suspend::new(async move {
                    let names: Vec<String> = library
                        .await
                        .map(|l| l.files.into_iter().map(|f| f.name).collect())
                        .unwrap_or_default();
                    (!names.is_empty()).then(|| view! {
                        <select
                            class=format!("{INPUT_CLASSES} mt-1 max-w-md")
                            aria-label=label
                            on:change=move |ev| {
                                let name = event_target_value(&ev);
                                if !name.is_empty() {
                                    target.set(format!("{}{name}", ImageSource::FILE_PREFIX));
                                }
                            }
                        >
                            <option value="">"…or pick a file of the library"</option>
                            {file_options(names, target)}
                        </select>
                    })
                })
            }}
        </Suspense>
    }
}

/// The ISO of the library a kernel image uses (optional): its arguments can then say `{iso}`
/// and `{tree}`, filled in with each machine's own URLs. Shown when the library has an ISO
/// (or the image names one).
#[component]
fn IsoPick(
    library: Resource<Result<crate::library::Library, AppError>>,
    target: RwSignal<String>,
    error: Signal<Option<String>>,
) -> impl IntoView {
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let mut isos: Vec<String> = library
                    .await
                    .map(|l| {
                        l.files
                            .into_iter()
                            .filter(|f| f.content_type == ISO_TYPE)
                            .map(|f| f.name)
                            .collect()
                    })
                    .unwrap_or_default();
                // An ISO the image names but the list lacks stays shown as it is.
                let current = target.get_untracked();
                if let Some(name) = ImageSource::file_name(&current)
                    && !isos.iter().any(|n| n == name)
                {
                    isos.insert(0, name.to_owned());
                }
                (!isos.is_empty()).then(|| view! {
                    <div class="space-y-1">
                        <label for="image-iso" class="block text-sm font-medium text-slate-700">"Files from an ISO (optional)"</label>
                        <select
                            id="image-iso"
                            class=format!("{INPUT_CLASSES} max-w-md")
                            aria-invalid=move || error.get().is_some().to_string()
                            on:change=move |ev| {
                                let name = event_target_value(&ev);
                                target.set(if name.is_empty() {
                                    String::new()
                                } else {
                                    format!("{}{name}", ImageSource::FILE_PREFIX)
                                });
                            }
                        >
                            <option value="" selected=move || target.get().is_empty()>"None"</option>
                            {file_options(isos, target)}
                        </select>
                        <p class="text-sm text-slate-500">
                            "Arguments can then say " <code>{ISO_PLACEHOLDER}</code> " for the ISO's URL and "
                            <code>{TREE_PLACEHOLDER}</code> " for the folder of the files inside it, like "
                            <code>"fetch={tree}/live/filesystem.squashfs"</code> "; each machine gets its own session's URLs."
                        </p>
                        {move || error.get().map(|e| view! { <p class="text-sm text-red-600">{e}</p> })}
                    </div>
                })
            })}
        </Suspense>
    }
}

/// An option per library file, selected while `target` names it (`file:<name>`).
fn file_options(names: Vec<String>, target: RwSignal<String>) -> impl IntoView {
    names
        .into_iter()
        .map(|name| {
            let stored = format!("{}{name}", ImageSource::FILE_PREFIX);
            view! {
                <option value=name.clone() selected=move || target.get() == stored>
                    {name.clone()}
                </option>
            }
        })
        .collect_view()
}
