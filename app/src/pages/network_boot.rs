//! The boot server, for server admins: what listens where, the iPXE loaders, what ProxyDHCP
//! and TFTP did lately, and configuration for the site's own DHCP server, written for the
//! address the admin picks (`?address=`, so the page works before it is hydrated).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::Form, hooks::use_query_map};

use crate::{
    api::network_boot::network_boot_overview,
    components::{
        feedback::use_toasts,
        loader_sets::{AddLoaderSet, LoaderChoices, LoaderSetList, LoaderTable, size},
        ui::{
            Alert, Badge, ButtonKind, Card, EmptyState, INPUT_CLASSES, Loading, PageHeader, Tone,
            table,
        },
    },
    error::AppError,
    model::{Counter, DhcpSnippet, Listener, LoaderRow, NetworkBoot, NetworkEventRow},
};

/// `/network-boot`.
#[component]
pub fn NetworkBootPage() -> impl IntoView {
    let query = use_query_map();
    let address = Memo::new(move |_| query.with(|q| q.get("address").unwrap_or_default()));
    let reload = RwSignal::new(0u32);
    let data = Resource::new(
        move || (address.get(), reload.get()),
        |(address, _)| network_boot_overview(address),
    );
    view! {
        <Title text="Network boot" />
        <div class="space-y-6">
            <PageHeader
                title="Network boot"
                subtitle="How machines reach this server: what listens, the iPXE loaders, what happened lately, and configuration for your own DHCP server."
            >
                <button
                    type="button"
                    class=ButtonKind::Secondary.classes()
                    on:click=move |_| reload.update(|n| *n += 1)
                >
                    "Refresh"
                </button>
            </PageHeader>
            <Suspense fallback=Loading>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(data) => view! { <Overview data reload /> }.into_any(),
                        Err(error) => {
                            // A mistyped address: say so, and keep the form to fix it.
                            let typed = address.get_untracked();
                            let fix = matches!(&error, AppError::Invalid { field, .. } if field == "address");
                            view! {
                                <Alert tone=Tone::Error>{error.to_string()}</Alert>
                                {fix.then(|| view! { <AddressForm addresses=Vec::new() address=Some(typed) /> })}
                            }
                            .into_any()
                        }
                    }
                })}
            </Suspense>
        </div>
    }
}

#[component]
fn Overview(data: NetworkBoot, reload: RwSignal<u32>) -> impl IntoView {
    let NetworkBoot {
        listeners,
        loader_source,
        loaders,
        loader_sets,
        loader_choices,
        counters,
        events,
        addresses,
        snippet_address,
        snippets,
        snippet_warning,
    } = data;
    view! {
        <Card title="Listening">
            <Listeners listeners />
        </Card>
        <Card title="Loaders">
            <div class="space-y-6">
                {loaders.is_empty().then(|| view! {
                    <Alert tone=Tone::Info>
                        "TFTP and ProxyDHCP are off in this process, so no loader is served here, the sets below included: start PXE Cloud with --pxe (or --tftp)."
                    </Alert>
                })}
                <Loaders source=loader_source loaders />
                <div>
                    <h3 class="mb-2 text-sm font-semibold text-slate-700">"Offered to each architecture"</h3>
                    <LoaderChoices choices=loader_choices sets=loader_sets.clone() reload />
                </div>
                <div>
                    <h3 class="mb-2 text-sm font-semibold text-slate-700">"Loader sets added"</h3>
                    <LoaderSetList sets=loader_sets reload />
                </div>
                <AddLoaderSet reload />
            </div>
        </Card>
        <Card title="Recent activity">
            <Activity events />
        </Card>
        <Card title="Counters since start">
            <Counters counters />
        </Card>
        <Card title="Using your own DHCP server">
            <Snippets addresses address=snippet_address snippets warning=snippet_warning />
        </Card>
    }
}

#[component]
fn Listeners(listeners: Vec<Listener>) -> impl IntoView {
    view! {
        <table class=table::TABLE data-testid="listeners">
            <thead>
                <tr>
                    <th class=table::TH>"Service"</th>
                    <th class=table::TH>"Where"</th>
                    <th class=table::TH>"What it does"</th>
                </tr>
            </thead>
            <tbody class="divide-y divide-slate-100">
                {listeners
                    .into_iter()
                    .map(|listener| view! {
                        <tr data-testid="listener">
                            <td class=table::TD>
                                <span class="mr-2 font-medium">{listener.service}</span>
                                <Badge text=if listener.on { "on" } else { "off" } strong=listener.on />
                            </td>
                            <td class=format!("{} font-mono text-xs", table::TD)>{listener.address}</td>
                            <td class=format!("{} text-slate-600", table::TD)>{listener.note}</td>
                        </tr>
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn Loaders(source: String, loaders: Vec<LoaderRow>) -> impl IntoView {
    if loaders.is_empty() {
        // The alert above says why.
        return ().into_any();
    }
    view! {
        <div>
            <p class="mb-3 text-sm text-slate-600">"Built in, from: " <span class="font-mono text-xs">{source}</span></p>
            <LoaderTable loaders testid="loaders" />
        </div>
    }
    .into_any()
}

#[component]
fn Activity(events: Vec<NetworkEventRow>) -> impl IntoView {
    if events.is_empty() {
        return view! {
            <EmptyState
                title="Nothing yet"
                text="ProxyDHCP answers and TFTP transfers show up here as machines network-boot."
            />
        }
        .into_any();
    }
    view! {
        <div class="overflow-x-auto">
            <table class=table::TABLE data-testid="network-events">
                <thead>
                    <tr>
                        <th class=table::TH>"Time (UTC)"</th>
                        <th class=table::TH>"What"</th>
                        <th class=table::TH>"Machine"</th>
                        <th class=table::TH>"File"</th>
                        <th class=table::TH>"Outcome"</th>
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100">
                    {events.into_iter().map(|event| view! { <EventLine event /> }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

#[component]
fn EventLine(event: NetworkEventRow) -> impl IntoView {
    let when = event.at.replace('T', " ").trim_end_matches('Z').to_owned();
    let protocol = if event.protocol == "dhcp" {
        "ProxyDHCP"
    } else {
        "TFTP"
    };
    let details = [event.arch, event.vendor_class, event.interface]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" · ");
    let transfer = match (event.bytes, event.duration_ms) {
        (Some(bytes), Some(ms)) => Some(format!("{} in {ms} ms", size(bytes))),
        (Some(bytes), None) => Some(size(bytes)),
        _ => None,
    };
    let failed = event.outcome.starts_with("ignored") || event.outcome == "failed";
    view! {
        <tr data-testid="network-event">
            <td class=format!("{} whitespace-nowrap tabular-nums", table::TD)>
                <time datetime=event.at.clone()>{when}</time>
            </td>
            <td class=table::TD>{protocol}</td>
            <td class=table::TD>
                <div class="font-mono text-xs">{event.client_mac.unwrap_or(event.client_ip.clone())}</div>
                <div class="text-xs text-slate-500">{details}</div>
            </td>
            <td class=format!("{} break-all font-mono text-xs", table::TD)>{event.file.unwrap_or_default()}</td>
            <td class=table::TD>
                <span class=if failed { "text-amber-700" } else { "" }>{event.outcome}</span>
                {transfer.map(|t| view! { <div class="text-xs text-slate-500 tabular-nums">{t}</div> })}
            </td>
        </tr>
    }
}

#[component]
fn Counters(counters: Vec<Counter>) -> impl IntoView {
    if counters.is_empty() {
        return view! {
            <p class="text-sm text-slate-500">"TFTP and ProxyDHCP are off in this process: nothing to count."</p>
        }
        .into_any();
    }
    let mut groups: Vec<(String, Vec<Counter>)> = Vec::new();
    for counter in counters {
        match groups.last_mut() {
            Some((group, list)) if *group == counter.group => list.push(counter),
            _ => groups.push((counter.group.clone(), vec![counter])),
        }
    }
    view! {
        <div class="grid gap-6 md:grid-cols-3">
            {groups
                .into_iter()
                .map(|(group, list)| view! {
                    <div>
                        <h3 class="mb-2 text-sm font-semibold text-slate-700">{group}</h3>
                        <dl class="space-y-1 text-sm" data-testid="counters">
                            {list
                                .into_iter()
                                .map(|counter| view! {
                                    <div class="flex justify-between gap-3">
                                        <dt class="text-slate-600">{counter.name}</dt>
                                        <dd class="tabular-nums font-medium">{counter.value}</dd>
                                    </div>
                                })
                                .collect_view()}
                        </dl>
                    </div>
                })
                .collect_view()}
        </div>
    }
    .into_any()
}

#[component]
fn Snippets(
    addresses: Vec<(String, String)>,
    address: Option<String>,
    snippets: Vec<DhcpSnippet>,
    warning: Option<String>,
) -> impl IntoView {
    view! {
        <div class="space-y-4">
            <p class="text-sm text-slate-600">
                "Where ProxyDHCP cannot run (the site's DHCP server is on this host, or the network drops its answers), give the site's DHCP server these lines instead: they send PXE firmware to this server's loaders over TFTP, UEFI HTTP Boot to the loader over HTTP, and iPXE straight to the boot flow."
            </p>
            <AddressForm addresses address />
            {warning.map(|w| view! { <Alert tone=Tone::Info>{w}</Alert> })}
            {if snippets.is_empty() {
                view! {
                    <EmptyState title="No address" text="This host has no IPv4 address besides loopback: type the address machines reach this server at." />
                }
                .into_any()
            } else {
                snippets
                    .into_iter()
                    .enumerate()
                    .map(|(i, snippet)| view! { <Snippet snippet open=i == 0 /> })
                    .collect_view()
                    .into_any()
            }}
        </div>
    }
}

/// The address the snippets are written for (`?address=`), with this host's as suggestions.
#[component]
fn AddressForm(addresses: Vec<(String, String)>, address: Option<String>) -> impl IntoView {
    view! {
        <Form method="GET" action="">
            <div class="flex flex-wrap items-end gap-2">
                <label class="block text-sm">
                    <span class="mb-1 block font-medium text-slate-700">"This server's address, as machines reach it"</span>
                    <input
                        name="address"
                        class=format!("{INPUT_CLASSES} w-56 font-mono")
                        list="host-addresses"
                        value=address.unwrap_or_default()
                        placeholder="192.168.1.10"
                        inputmode="decimal"
                        autocomplete="off"
                    />
                </label>
                <datalist id="host-addresses">
                    {addresses
                        .into_iter()
                        .map(|(interface, address)| view! { <option value=address.clone()>{interface}</option> })
                        .collect_view()}
                </datalist>
                <button type="submit" class=ButtonKind::Secondary.classes()>"Write for this address"</button>
            </div>
        </Form>
    }
}

#[component]
fn Snippet(snippet: DhcpSnippet, open: bool) -> impl IntoView {
    let toasts = use_toasts();
    let area = NodeRef::<leptos::html::Textarea>::new();
    let lines = snippet.text.lines().count().clamp(4, 30);
    let text = snippet.text.clone();
    let copy = move |_| {
        #[cfg(feature = "hydrate")]
        {
            let select = move || {
                if let Some(area) = area.get_untracked() {
                    let _ = area.focus();
                    area.select();
                    toasts.success("Selected: press Ctrl+C to copy.");
                }
            };
            match clipboard_write(&text) {
                // No clipboard outside a secure context (plain HTTP on a LAN address).
                None => select(),
                Some(written) => leptos::task::spawn_local(async move {
                    match wasm_bindgen_futures::JsFuture::from(written).await {
                        Ok(_) => toasts.success("Copied to the clipboard."),
                        Err(_) => select(),
                    }
                }),
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (&text, &area, &toasts);
    };
    view! {
        <details class="rounded-md border border-slate-200" open=open data-testid=format!("snippet-{}", snippet.id)>
            <summary class="cursor-pointer px-4 py-2 font-medium">{snippet.name.clone()}</summary>
            <div class="space-y-2 border-t border-slate-200 p-4">
                <p class="text-sm text-slate-600">"Put it in " {snippet.placement}"."</p>
                <textarea
                    node_ref=area
                    readonly
                    rows=lines
                    spellcheck="false"
                    aria-label=format!("{} configuration", snippet.name)
                    class=format!("{INPUT_CLASSES} font-mono text-xs")
                >
                    {snippet.text}
                </textarea>
                <button type="button" class=ButtonKind::Secondary.classes() on:click=copy>
                    "Copy"
                </button>
            </div>
        </details>
    }
}

/// Starts writing `text` to the clipboard when the page may (a secure context).
#[cfg(feature = "hydrate")]
fn clipboard_write(text: &str) -> Option<web_sys::js_sys::Promise> {
    let window = window();
    window
        .is_secure_context()
        .then(|| window.navigator().clipboard().write_text(text))
}
