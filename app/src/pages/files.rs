//! `/org/:org/files`: the organization's file library. Admins upload files (resumable, with
//! progress), see what is stored and what space is left, make files public, and delete them;
//! server admins set the organization's quota.

use leptos::{prelude::*, task::spawn_local};
use leptos_meta::Title;

use crate::{
    api::files::{
        create_image_from_iso, delete_file, fetch_file, files, retry_fetch, set_file_public,
        set_file_quota,
    },
    components::{
        feedback::{ConfirmDialog, use_toasts},
        layout::CurrentUser,
        org_frame::{OrgTab, org_href, use_org_id},
        ui::{Alert, ButtonKind, Card, EmptyState, INPUT_CLASSES, Loading, Tone, table},
        uploader::{self, InFlight, NewUpload, Progress},
    },
    library::{
        FileRow, IsoNote, Library, UploadRow, check_file_name, human_size, parse_sha256,
        suggest_file_name,
    },
};

/// `/org/:org/files`.
#[component]
pub fn FilesPage() -> impl IntoView {
    let organization_id = use_org_id();
    let reload = RwSignal::new(0u32);
    let library = Resource::new(move || reload.get(), move |_| files(organization_id));
    let user = use_context::<CurrentUser>();
    let is_server_admin = Resource::new(
        || (),
        move |_| async move {
            match user {
                Some(CurrentUser(user)) => {
                    user.await.ok().flatten().is_some_and(|u| u.is_server_admin)
                }
                None => false,
            }
        },
    );
    view! {
        <Title text="Files" />
        <div class="space-y-6">
            <Upload organization_id reload />
            <Fetch organization_id reload />
            <Suspense fallback=Loading>
                {move || Suspend::new(async move {
                    let admin = is_server_admin.await;
                    match library.await {
                        Ok(library) => {
                            let (fetches, uploads): (Vec<_>, Vec<_>) = library
                                .uploads
                                .iter()
                                .cloned()
                                .partition(|upload| upload.source_url.is_some());
                            view! {
                                <Space library=library.clone() organization_id admin reload />
                                <Fetches fetches organization_id reload />
                                <Unfinished uploads reload />
                                <FileList files=library.files reload />
                            }
                            .into_any()
                        }
                        Err(error) => view! { <Alert tone=Tone::Error>{error.to_string()}</Alert> }.into_any(),
                    }
                })}
            </Suspense>
        </div>
    }
}

/// `1.5 GiB of 50.0 GiB`, and the quota form for server admins.
#[component]
fn Space(
    library: Library,
    organization_id: i32,
    admin: bool,
    reload: RwSignal<u32>,
) -> impl IntoView {
    let toasts = use_toasts();
    let used = human_size(library.used);
    let limit = library.quota.map_or_else(
        || "no limit".to_owned(),
        |q| format!("{} allowed", human_size(q)),
    );
    let reserved = (library.reserved > 0).then(|| {
        format!(
            ", {} held by uploads in progress",
            human_size(library.reserved)
        )
    });
    let quota = RwSignal::new(library.quota.map(human_size).unwrap_or_default());
    let save = Action::new(move |text: &String| set_file_quota(organization_id, text.clone()));
    Effect::new(move || match save.value().get() {
        Some(Ok(())) => {
            toasts.success("The quota was saved.");
            reload.update(|n| *n += 1);
        }
        Some(Err(error)) => toasts.error(error.to_string()),
        None => {}
    });
    view! {
        <p class="text-sm text-slate-600" data-testid="files-space">
            {format!("{used} stored ({limit}){}", reserved.unwrap_or_default())}
        </p>
        {admin.then(|| view! {
            <form
                class="flex flex-wrap items-end gap-3"
                on:submit=move |ev| {
                    ev.prevent_default();
                    save.dispatch(quota.get_untracked());
                }
            >
                <label class="block text-sm">
                    <span class="mb-1 block font-medium text-slate-700">"Quota (server admins)"</span>
                    <input
                        class=format!("{INPUT_CLASSES} w-40")
                        placeholder="e.g. 50 GiB; empty: no limit"
                        prop:value=move || quota.get()
                        on:input=move |ev| quota.set(event_target_value(&ev))
                        data-testid="quota"
                    />
                </label>
                <button type="submit" class=ButtonKind::Secondary.classes()>"Save quota"</button>
            </form>
        })}
    }
}

fn seconds_text(seconds: f64) -> String {
    let seconds = seconds.round() as u64;
    match seconds {
        0..60 => format!("{seconds} s"),
        60..3600 => format!("{} min {} s", seconds / 60, seconds % 60),
        _ => format!("{} h {} min", seconds / 3600, seconds % 3600 / 60),
    }
}

/// The progress bar: bytes, speed, time left.
#[component]
fn ProgressBar(progress: RwSignal<Progress>) -> impl IntoView {
    let text = move || {
        let p = progress.get();
        let mut text = format!(
            "{} of {} ({:.0} %)",
            human_size(p.sent as u64),
            human_size(p.total as u64),
            p.percent().floor()
        );
        if p.speed > 0.0 {
            text.push_str(&format!(" · {}/s", human_size(p.speed as u64)));
        }
        if let Some(left) = p.seconds_left() {
            text.push_str(&format!(" · {} left", seconds_text(left)));
        }
        text
    };
    view! {
        <div class="space-y-1" data-testid="upload-progress">
            <div
                class="h-2 w-full overflow-hidden rounded bg-slate-200"
                role="progressbar"
                aria-valuemin="0"
                aria-valuemax="100"
                aria-valuenow=move || format!("{:.0}", progress.get().percent())
            >
                <div class="h-2 bg-indigo-600" style:width=move || format!("{:.2}%", progress.get().percent())></div>
            </div>
            <p class="text-xs tabular-nums text-slate-600" data-testid="upload-progress-text">{text}</p>
        </div>
    }
}

/// The file picked in an `<input type=file>`.
fn picked(input: &NodeRef<leptos::html::Input>) -> Option<web_sys::File> {
    input.get()?.files()?.get(0)
}

/// Uploads a new file.
#[component]
fn Upload(organization_id: i32, reload: RwSignal<u32>) -> impl IntoView {
    let toasts = use_toasts();
    let input = NodeRef::<leptos::html::Input>::new();
    let name = RwSignal::new(String::new());
    let sha256 = RwSignal::new(String::new());
    let public = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let running = RwSignal::new(false);
    let progress = RwSignal::new(Progress::default());
    let in_flight = InFlight::new();
    let location = StoredValue::new(None::<String>);
    let start = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(file) = picked(&input) else {
            error.set(Some("Pick a file first.".into()));
            return;
        };
        let name_text = name.get_untracked().trim().to_owned();
        if let Err(message) = check_file_name(&name_text) {
            error.set(Some(message));
            return;
        }
        let sha_text = sha256.get_untracked();
        let sha = match sha_text.trim() {
            "" => None,
            text => match parse_sha256(text) {
                Some(sha) => Some(sha),
                None => {
                    error.set(Some("A SHA-256 is 64 hexadecimal digits.".into()));
                    return;
                }
            },
        };
        error.set(None);
        running.set(true);
        progress.set(Progress {
            sent: 0.0,
            total: file.size(),
            speed: 0.0,
        });
        let new = NewUpload {
            organization_id,
            name: name_text,
            sha256: sha,
            public: public.get_untracked(),
        };
        let file = send_wrapper::SendWrapper::new(file);
        spawn_local(async move {
            let result = async {
                let url = uploader::create(&new, file.size(), in_flight).await?;
                // Cancel needs it; after a reload, the list of unfinished uploads shows it.
                location.set_value(Some(url.clone()));
                uploader::resume(&url, &file, progress, in_flight).await
            }
            .await;
            running.set(false);
            location.set_value(None);
            match result {
                Ok(_) => {
                    toasts.success(format!("{} was uploaded.", new.name));
                    name.set(String::new());
                    sha256.set(String::new());
                    if let Some(input) = input.get() {
                        input.set_value("");
                    }
                }
                Err(message) => error.set(Some(message)),
            }
            reload.update(|n| *n += 1);
        });
    };
    let cancel = move |_| {
        in_flight.abort();
        if let Some(url) = location.get_value() {
            spawn_local(async move {
                if let Err(message) = uploader::cancel(&url).await {
                    error.set(Some(message));
                }
                reload.update(|n| *n += 1);
            });
        }
    };
    view! {
        <Card title="Upload a file">
            <form class="space-y-3" on:submit=start>
                <p class="text-sm text-slate-600">
                    "Kernels, initrds and ISOs of any size: the upload goes on after a dropped connection, and after a reload when you pick the same file again."
                </p>
                <div class="flex flex-wrap items-end gap-3">
                    <label class="block text-sm">
                        <span class="mb-1 block font-medium text-slate-700">"File"</span>
                        <input
                            type="file"
                            node_ref=input
                            class="block text-sm"
                            data-testid="upload-file"
                            on:change=move |_| {
                                if let Some(file) = picked(&input) {
                                    name.set(suggest_file_name(&file.name()));
                                }
                            }
                        />
                    </label>
                    <label class="block text-sm">
                        <span class="mb-1 block font-medium text-slate-700">"Name"</span>
                        <input
                            class=format!("{INPUT_CLASSES} w-64 font-mono")
                            prop:value=move || name.get()
                            on:input=move |ev| name.set(event_target_value(&ev))
                            data-testid="upload-name"
                        />
                    </label>
                    <label class="block text-sm">
                        <span class="mb-1 block font-medium text-slate-700">"Expected SHA-256 (optional)"</span>
                        <input
                            class=format!("{INPUT_CLASSES} w-96 font-mono text-xs")
                            prop:value=move || sha256.get()
                            on:input=move |ev| sha256.set(event_target_value(&ev))
                            data-testid="upload-sha256"
                        />
                    </label>
                    <label class="flex items-center gap-2 text-sm">
                        <input type="checkbox" prop:checked=move || public.get() on:change=move |ev| public.set(event_target_checked(&ev)) />
                        "Public (anyone may fetch it by its URL)"
                    </label>
                </div>
                <div class="flex gap-3">
                    <button type="submit" class=ButtonKind::Primary.classes() disabled=move || running.get() data-testid="upload-start">
                        {move || if running.get() { "Uploading…" } else { "Upload" }}
                    </button>
                    <Show when=move || running.get()>
                        <button type="button" class=ButtonKind::Secondary.classes() on:click=cancel data-testid="upload-cancel">"Cancel"</button>
                    </Show>
                </div>
                <Show when=move || running.get()>
                    <ProgressBar progress />
                </Show>
                {move || error.get().map(|message| view! { <Alert tone=Tone::Error>{message}</Alert> })}
            </form>
        </Card>
    }
}

/// Has the server fetch a file from a URL.
#[component]
fn Fetch(organization_id: i32, reload: RwSignal<u32>) -> impl IntoView {
    let toasts = use_toasts();
    let url = RwSignal::new(String::new());
    let name = RwSignal::new(String::new());
    // The name follows the URL until it is typed in.
    let name_typed = RwSignal::new(false);
    let check = RwSignal::new(String::new());
    let public = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let start = Action::new(move |_: &()| {
        // A checksum list is a URL; anything else is the SHA-256 itself.
        let check = check.get_untracked().trim().to_owned();
        let (sha256, sums_url) = if check.contains("://") {
            (String::new(), check)
        } else {
            (check, String::new())
        };
        fetch_file(
            organization_id,
            url.get_untracked(),
            name.get_untracked(),
            sha256,
            sums_url,
            public.get_untracked(),
        )
    });
    Effect::new(move || match start.value().get() {
        Some(Ok(row)) => {
            error.set(None);
            toasts.success(format!("Fetching {}: its progress is below.", row.name));
            url.set(String::new());
            name.set(String::new());
            name_typed.set(false);
            check.set(String::new());
            reload.update(|n| *n += 1);
        }
        Some(Err(failure)) => error.set(Some(failure.to_string())),
        None => {}
    });
    view! {
        <Card title="Fetch from a URL">
            <form
                class="space-y-3"
                on:submit=move |ev| {
                    ev.prevent_default();
                    start.dispatch(());
                }
            >
                <p class="text-sm text-slate-600">
                    "The server downloads the file itself, in the background: leave the page or reload it, the download goes on (and resumes after a broken connection)."
                </p>
                <div class="flex flex-wrap items-end gap-3">
                    <label class="block text-sm">
                        <span class="mb-1 block font-medium text-slate-700">"URL (http or https)"</span>
                        <input
                            type="url"
                            required
                            class=format!("{INPUT_CLASSES} w-96")
                            placeholder="https://cdimage.debian.org/…/debian-live-12-amd64-standard.iso"
                            prop:value=move || url.get()
                            on:input=move |ev| {
                                let text = event_target_value(&ev);
                                if !name_typed.get_untracked() {
                                    name.set(name_from_url(&text));
                                }
                                url.set(text);
                            }
                            data-testid="fetch-url"
                        />
                    </label>
                    <label class="block text-sm">
                        <span class="mb-1 block font-medium text-slate-700">"Name"</span>
                        <input
                            class=format!("{INPUT_CLASSES} w-64 font-mono")
                            prop:value=move || name.get()
                            on:input=move |ev| {
                                name_typed.set(true);
                                name.set(event_target_value(&ev));
                            }
                            data-testid="fetch-name"
                        />
                    </label>
                    <label class="block text-sm">
                        <span class="mb-1 block font-medium text-slate-700">"Expected SHA-256, or the URL of a SHA256SUMS list (optional)"</span>
                        <input
                            class=format!("{INPUT_CLASSES} w-96 font-mono text-xs")
                            prop:value=move || check.get()
                            on:input=move |ev| check.set(event_target_value(&ev))
                            data-testid="fetch-check"
                        />
                    </label>
                    <label class="flex items-center gap-2 text-sm">
                        <input type="checkbox" prop:checked=move || public.get() on:change=move |ev| public.set(event_target_checked(&ev)) />
                        "Public"
                    </label>
                </div>
                <button type="submit" class=ButtonKind::Primary.classes() disabled=move || start.pending().get() data-testid="fetch-start">
                    {move || if start.pending().get() { "Asking its size…" } else { "Fetch" }}
                </button>
                {move || error.get().map(|message| view! { <Alert tone=Tone::Error>{message}</Alert> })}
            </form>
        </Card>
    }
}

/// The name a URL suggests: its path's last segment, decoded and made fit (empty when it
/// has none).
fn name_from_url(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or_default();
    let last = path
        .split_once("://")
        .and_then(|(_, rest)| rest.split('/').skip(1).last())
        .unwrap_or_default();
    if last.is_empty() {
        return String::new();
    }
    suggest_file_name(&percent_decode(last).unwrap_or_else(|| last.to_owned()))
}

/// `%xx` escapes decoded (`None` when they do not make UTF-8).
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Fetches in progress (or stopped, with why): their progress polled while any runs, on
/// every page of every admin, and after a reload.
#[component]
fn Fetches(fetches: Vec<UploadRow>, organization_id: i32, reload: RwSignal<u32>) -> impl IntoView {
    if fetches.is_empty() {
        return ().into_any();
    }
    // Each fetch with its speed (bytes/s, between two polls).
    let rows = RwSignal::new(
        fetches
            .into_iter()
            .map(|row| (row, 0.0))
            .collect::<Vec<_>>(),
    );
    let alive = StoredValue::new(true);
    Effect::new(move || {
        spawn_local(async move {
            let mut last = js_sys::Date::now();
            // Each second while a fetch runs; every 5 s while all have stopped (another
            // admin may retry one); slower after errors (signed out, server away).
            let mut pause = 1000;
            loop {
                uploader::sleep(pause).await;
                if !alive.try_get_value().unwrap_or(false) {
                    return;
                }
                let running = rows
                    .try_with_untracked(|rows| rows.iter().any(|(row, _)| row.failure.is_none()))
                    .unwrap_or(false);
                let Ok(library) = files(organization_id).await else {
                    pause = (pause * 2).min(30_000);
                    continue;
                };
                pause = if running { 1000 } else { 5000 };
                let now = js_sys::Date::now();
                let seconds = ((now - last) / 1000.0).max(0.001);
                last = now;
                let fresh: Vec<UploadRow> = library
                    .uploads
                    .into_iter()
                    .filter(|upload| upload.source_url.is_some())
                    .collect();
                let Some(ended) = rows.try_update(|rows| {
                    let ended = rows
                        .iter()
                        .any(|(old, _)| !fresh.iter().any(|row| row.id == old.id));
                    let next = fresh
                        .iter()
                        .map(|row| {
                            let before = rows.iter().find(|(old, _)| old.id == row.id);
                            let speed = before.map_or(0.0, |(old, speed)| {
                                let now =
                                    row.received.saturating_sub(old.received) as f64 / seconds;
                                // Smoothed: counts arrive every few seconds.
                                if now > 0.0 {
                                    0.5 * speed + 0.5 * now
                                } else {
                                    *speed * 0.8
                                }
                            });
                            (row.clone(), if row.running { speed } else { 0.0 })
                        })
                        .collect();
                    *rows = next;
                    ended
                }) else {
                    return;
                };
                if ended {
                    // Finished (now a file) or cancelled elsewhere.
                    reload.update(|n| *n += 1);
                }
            }
        });
    });
    on_cleanup(move || alive.set_value(false));
    view! {
        <Card title="Fetches">
            <ul class="space-y-4">
                <For
                    each=move || rows.with(|rows| rows.iter().map(|(row, _)| row.id.clone()).collect::<Vec<_>>())
                    key=|id| id.clone()
                    children=move |id| {
                        let row = Memo::new(move |_| {
                            rows.with(|rows| rows.iter().find(|(row, _)| row.id == id).cloned())
                        });
                        view! { <FetchLine row reload /> }
                    }
                />
            </ul>
        </Card>
    }
    .into_any()
}

#[component]
fn FetchLine(row: Memo<Option<(UploadRow, f64)>>, reload: RwSignal<u32>) -> impl IntoView {
    let toasts = use_toasts();
    let Some((first, _)) = row.get_untracked() else {
        return ().into_any();
    };
    let progress = RwSignal::new(Progress::default());
    Effect::new(move || {
        if let Some((row, speed)) = row.get() {
            progress.set(Progress {
                sent: row.received as f64,
                total: row.length as f64,
                speed,
            });
        }
    });
    let id = first.id.clone();
    let retry = Action::new(move |_: &()| retry_fetch(id.clone()));
    Effect::new(move || match retry.value().get() {
        Some(Ok(())) => reload.update(|n| *n += 1),
        Some(Err(error)) => toasts.error(error.to_string()),
        None => {}
    });
    let url = format!("/uploads/{}", first.id);
    let name = first.name.clone();
    let stop = move |_| {
        let url = url.clone();
        let name = name.clone();
        spawn_local(async move {
            match uploader::cancel(&url).await {
                Ok(()) => {
                    toasts.success(format!("The fetch of {name} was dropped."));
                    reload.update(|n| *n += 1);
                }
                Err(message) => toasts.error(message),
            }
        });
    };
    let failure = move || row.get().and_then(|(row, _)| row.failure);
    let state = move || match row.get() {
        Some((row, _)) if row.failure.is_some() => "Stopped",
        Some((row, _)) if row.running => "Fetching",
        _ => "Waiting to resume",
    };
    let checked = match (&first.sums_url, &first.expected_sha256) {
        (Some(sums), _) => format!(" · checked against {sums}"),
        (None, Some(_)) => " · checked against the SHA-256 given".to_owned(),
        (None, None) => String::new(),
    };
    view! {
        <li class="space-y-2" data-testid="fetch" data-name=first.name.clone()>
            <p class="text-sm">
                <span class="font-mono font-medium">{first.name.clone()}</span>
                <span class="text-slate-500">
                    {move || format!(" · {}", state())}
                    {format!(" from {} · started by {}{checked}", first.source_url.clone().unwrap_or_default(), first.started_by)}
                </span>
            </p>
            <ProgressBar progress />
            {move || failure().map(|message| view! { <Alert tone=Tone::Error>{message}</Alert> })}
            <div class="flex flex-wrap items-center gap-3">
                <Show when=move || failure().is_some()>
                    <button
                        type="button"
                        class=ButtonKind::Secondary.classes()
                        disabled=move || retry.pending().get()
                        on:click=move |_| { retry.dispatch(()); }
                        data-testid="fetch-retry"
                    >
                        "Retry"
                    </button>
                </Show>
                <button type="button" class=ButtonKind::Danger.classes() on:click=stop data-testid="fetch-cancel">
                    {move || if failure().is_some() { "Dismiss" } else { "Cancel fetch" }}
                </button>
            </div>
        </li>
    }
    .into_any()
}

/// Uploads that did not finish: resumed by picking the same file again, or cancelled.
#[component]
fn Unfinished(uploads: Vec<UploadRow>, reload: RwSignal<u32>) -> impl IntoView {
    if uploads.is_empty() {
        return ().into_any();
    }
    view! {
        <Card title="Unfinished uploads">
            <ul class="space-y-4">
                {uploads.into_iter().map(|upload| view! { <UnfinishedUpload upload reload /> }).collect_view()}
            </ul>
        </Card>
    }
    .into_any()
}

#[component]
fn UnfinishedUpload(upload: UploadRow, reload: RwSignal<u32>) -> impl IntoView {
    let toasts = use_toasts();
    let input = NodeRef::<leptos::html::Input>::new();
    let url = format!("/uploads/{}", upload.id);
    let progress = RwSignal::new(Progress {
        sent: upload.received as f64,
        total: upload.length as f64,
        speed: 0.0,
    });
    let running = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let in_flight = InFlight::new();
    let length = upload.length;
    let name = upload.name.clone();
    let resume_url = url.clone();
    let resume = move |_| {
        let Some(file) = picked(&input) else {
            error.set(Some("Pick the same file again to go on.".into()));
            return;
        };
        if file.size() as u64 != length {
            error.set(Some(format!(
                "That file has {} bytes; this upload is of {length} bytes. Pick the same file.",
                file.size() as u64
            )));
            return;
        }
        error.set(None);
        running.set(true);
        let file = send_wrapper::SendWrapper::new(file);
        let url = resume_url.clone();
        let name = name.clone();
        spawn_local(async move {
            let result = uploader::resume(&url, &file, progress, in_flight).await;
            running.set(false);
            match result {
                Ok(_) => {
                    toasts.success(format!("{name} was uploaded."));
                    reload.update(|n| *n += 1);
                }
                Err(message) => error.set(Some(message)),
            }
        });
    };
    let cancel = move |_| {
        in_flight.abort();
        let url = url.clone();
        spawn_local(async move {
            match uploader::cancel(&url).await {
                Ok(()) => reload.update(|n| *n += 1),
                Err(message) => error.set(Some(message)),
            }
        });
    };
    view! {
        <li class="space-y-2" data-testid="unfinished-upload">
            <p class="text-sm">
                <span class="font-mono font-medium">{upload.name.clone()}</span>
                <span class="text-slate-500">{format!(" · started by {} · last piece {}", upload.started_by, upload.updated_at.replace('T', " ").trim_end_matches('Z'))}</span>
            </p>
            <ProgressBar progress />
            <div class="flex flex-wrap items-center gap-3">
                <input type="file" node_ref=input class="text-sm" aria-label=format!("The file {} again", upload.name) />
                <button type="button" class=ButtonKind::Secondary.classes() disabled=move || running.get() on:click=resume>
                    {move || if running.get() { "Uploading…" } else { "Resume" }}
                </button>
                <button type="button" class=ButtonKind::Danger.classes() on:click=cancel>"Cancel upload"</button>
            </div>
            {move || error.get().map(|message| view! { <Alert tone=Tone::Error>{message}</Alert> })}
        </li>
    }
}

/// The library's files.
#[component]
fn FileList(files: Vec<FileRow>, reload: RwSignal<u32>) -> impl IntoView {
    if files.is_empty() {
        return view! {
            <EmptyState
                title="No files yet"
                text="Upload a kernel, an initrd or an ISO: machines of this organization's members boot it from here."
            />
        }
        .into_any();
    }
    view! {
        <div class="overflow-x-auto">
            <table class=table::TABLE data-testid="files">
                <thead>
                    <tr>
                        <th class=table::TH>"Name"</th>
                        <th class=table::TH>"Size"</th>
                        <th class=table::TH>"Type"</th>
                        <th class=table::TH>"SHA-256"</th>
                        <th class=table::TH>"Added"</th>
                        <th class=table::TH>"Public"</th>
                        <th class=table::TH></th>
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100">
                    {files.into_iter().map(|file| view! { <FileLine file reload /> }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

#[component]
fn FileLine(file: FileRow, reload: RwSignal<u32>) -> impl IntoView {
    let toasts = use_toasts();
    let id = file.id;
    let public = Action::new(move |public: &bool| set_file_public(id, *public));
    let delete = Action::new(move |_: &()| delete_file(id));
    Effect::new(move || {
        for result in [public.value().get(), delete.value().get()]
            .into_iter()
            .flatten()
        {
            match result {
                Ok(()) => reload.update(|n| *n += 1),
                Err(error) => toasts.error(error.to_string()),
            }
        }
    });
    let asking = RwSignal::new(false);
    let delete_title = format!("Delete {}?", file.name);
    let short = format!("{}…", &file.sha256[..file.sha256.len().min(12)]);
    view! {
        <tr data-testid="file-row">
            <td class=table::TD>
                <a class="font-mono text-indigo-700 hover:underline" href=file.url() rel="external">{file.name.clone()}</a>
                {file.iso.as_ref().map(|note| {
                    let tone = if matches!(note, IsoNote::Netboot { .. }) { "text-emerald-700" } else { "text-slate-600" };
                    view! { <p class=format!("mt-1 max-w-md text-xs {tone}") data-testid="file-iso">{note.describe()}</p> }
                })}
                {matches!(file.iso, Some(IsoNote::Netboot { .. })).then(|| view! { <MakeImage file_id=id name=file.name.clone() reload /> })}
            </td>
            <td class=format!("{} whitespace-nowrap tabular-nums", table::TD)>{human_size(file.size)}</td>
            <td class=format!("{} text-xs text-slate-600", table::TD)>{file.content_type.clone()}</td>
            <td class=format!("{} font-mono text-xs", table::TD) title=file.sha256.clone() data-testid="file-sha256" data-sha256=file.sha256.clone()>{short}</td>
            <td class=format!("{} text-xs text-slate-600", table::TD)>
                {format!("{} · {}", file.added_by, file.added_at.replace('T', " ").trim_end_matches('Z'))}
            </td>
            <td class=table::TD>
                <input
                    type="checkbox"
                    prop:checked=file.public
                    aria-label=format!("{} is public", file.name)
                    on:change=move |ev| { public.dispatch(event_target_checked(&ev)); }
                />
            </td>
            <td class=table::TD>
                <button
                    type="button"
                    class=ButtonKind::Quiet.classes()
                    aria-label=format!("Delete the file {}", file.name)
                    on:click=move |_| asking.set(true)
                >
                    "Delete"
                </button>
                <ConfirmDialog
                    open=asking
                    title=delete_title
                    confirm_label="Delete file".to_owned()
                    on_confirm=Callback::new(move |()| {
                        asking.set(false);
                        delete.dispatch(());
                    })
                    pending=delete.pending()
                >
                    <p class="text-sm text-slate-600">
                        "Machines can no longer fetch it. Its bytes are freed when no other organization has the same file."
                    </p>
                </ConfirmDialog>
            </td>
        </tr>
    }
}

/// "Create image" under a recognised ISO: its kernel and initrd copied into the library and
/// an image that boots them, then the image's page to look it over.
#[component]
fn MakeImage(file_id: i32, name: String, reload: RwSignal<u32>) -> impl IntoView {
    let toasts = use_toasts();
    let navigate = leptos_router::hooks::use_navigate();
    let organization_id = use_org_id();
    let make = Action::new(move |_: &()| create_image_from_iso(file_id));
    Effect::new(move || match make.value().get() {
        Some(Ok(image)) => {
            toasts.success(format!("Made the image “{}” from {name}.", image.title));
            reload.update(|n| *n += 1);
            let href = format!("{}/{}", org_href(organization_id, OrgTab::Images), image.id);
            navigate(&href, Default::default());
        }
        Some(Err(error)) => toasts.error(error.to_string()),
        None => {}
    });
    view! {
        <button
            type="button"
            class=format!("{} mt-1", ButtonKind::Secondary.classes())
            data-testid="file-make-image"
            title="Copy its kernel and initrd into the library and make an image that boots them, fetching the rest from this server"
            disabled=move || make.pending().get()
            on:click=move |_| { make.dispatch(()); }
        >
            {move || if make.pending().get() { "Making the image…" } else { "Create image" }}
        </button>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_suggests_its_last_segment_as_the_name() {
        let cases = [
            (
                "https://cdimage.debian.org/x/debian-live-12.iso",
                "debian-live-12.iso",
            ),
            ("http://h/a/b%20c.iso?x=1#y", "b-c.iso"),
            ("http://h/a/%E2%9C%93.iso", "iso"),
            ("http://h/a/100%.iso", "100-.iso"),
            ("https://host", ""),
            ("https://host/", ""),
            ("https://host/dir/", ""),
            ("not a url", ""),
        ];
        for (url, name) in cases {
            assert_eq!(name_from_url(url), name, "{url}");
        }
    }
}
