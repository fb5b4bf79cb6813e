//! An organization's boot images: a filtered, paged list; delete after saying which menus lose
//! the image.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use crate::{
    api::images::{delete_image, image_usage, images},
    boot::{BootImage, ImageKind},
    components::{
        feedback::{DeleteDialog, Doomed},
        org_frame::{OrgFrame, OrgTab, org_href},
        ui::{Alert, Badge, ButtonKind, EmptyState, Loading, Pagination, SearchBox, Tone, table},
    },
    model::PAGE_SIZE,
    pages::id_param,
};

/// `/org/:org/images`.
#[component]
pub fn ImagesPage() -> impl IntoView {
    let org = id_param("org");
    view! {
        <Title text="Images" />
        <OrgFrame organization_id=org tab=OrgTab::Images>
            <ImageList organization_id=org.get_untracked().unwrap_or_default() />
        </OrgFrame>
    }
}

#[component]
fn ImageList(organization_id: i32) -> impl IntoView {
    let filter = RwSignal::new(String::new());
    let page = RwSignal::new(0u64);
    let reload = RwSignal::new(0u32);
    let list = Resource::new(
        move || (filter.get(), page.get(), reload.get()),
        move |(filter, page, _)| images(organization_id, filter, page),
    );
    let doomed = RwSignal::new(None);
    view! {
        <div class="space-y-4">
            <div class="flex flex-wrap items-center justify-between gap-3">
                <SearchBox label="Filter images" value=filter on_change=Callback::new(move |_| page.set(0)) />
                <A href=format!("{}/new", org_href(organization_id, OrgTab::Images)) attr:class=ButtonKind::Primary.classes()>
                    "New image"
                </A>
            </div>
            <Transition fallback=Loading>
                {move || Suspend::new(async move {
                    match list.await {
                        Ok(found) if found.total == 0 && filter.get_untracked().is_empty() => view! {
                            <EmptyState
                                title="No images yet"
                                text="An image is a kernel with its initrd, or an ISO, that menus can boot."
                            />
                        }
                            .into_any(),
                        Ok(found) => {
                            let total = found.total;
                            view! { <ImageTable organization_id images=found.items doomed /> <Pagination page total page_size=PAGE_SIZE /> }.into_any()
                        }
                        Err(error) => view! { <Alert tone=Tone::Error>{error.to_string()}</Alert> }.into_any(),
                    }
                })}
            </Transition>
        </div>
        <DeleteDialog
            doomed
            what="image"
            affected_intro="It leaves these menus:"
            nothing_affected="No menu shows this image."
            usage=move |id| image_usage(organization_id, id)
            delete=move |id| delete_image(organization_id, id)
            on_deleted=Callback::new(move |_| reload.update(|n| *n += 1))
        />
    }
}

#[component]
fn ImageTable(
    organization_id: i32,
    images: Vec<BootImage>,
    doomed: RwSignal<Doomed>,
) -> impl IntoView {
    if images.is_empty() {
        return view! { <p class="py-4 text-center text-sm text-slate-500">"No image matches the filter."</p> }
            .into_any();
    }
    view! {
        <div class="overflow-x-auto rounded-lg border border-slate-200 bg-white px-4 shadow-sm">
            <table class=table::TABLE>
                <thead>
                    <tr>
                        <th scope="col" class=table::TH>"Title"</th>
                        <th scope="col" class=table::TH>"Type"</th>
                        <th scope="col" class=format!("{} hidden md:table-cell", table::TH)>"Source"</th>
                        <th scope="col" class=table::TH><span class="sr-only">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100">
                    {images
                        .into_iter()
                        .map(|image| {
                            let href = format!("{}/{}", org_href(organization_id, OrgTab::Images), image.id);
                            let kind = match image.kind {
                                ImageKind::KernelInitrd => "kernel + initrd",
                                ImageKind::Iso => "ISO",
                            };
                            let title = image.title.clone();
                            let link_text = title.clone();
                            let source = image.kernel_url.clone().unwrap_or_else(|| image.image_url.clone());
                            view! {
                                <tr data-testid="image-row">
                                    <td class=table::TD>
                                        <A href=href attr:class="font-medium text-indigo-700 hover:underline">{link_text}</A>
                                        <div class="text-xs text-slate-500">{format!("{} boot arguments", image.args.len())}</div>
                                    </td>
                                    <td class=table::TD><Badge text=kind /></td>
                                    <td class=format!("{} hidden max-w-xs truncate font-mono text-xs text-slate-500 md:table-cell", table::TD)>{source}</td>
                                    <td class=format!("{} text-right", table::TD)>
                                        <button
                                            type="button"
                                            class=ButtonKind::Quiet.classes()
                                            aria-label=format!("Delete {title}")
                                            on:click=move |_| doomed.set(Some((image.id, image.title.clone())))
                                        >
                                            "Delete"
                                        </button>
                                    </td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}
