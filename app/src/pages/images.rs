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
        list::{Column, Empty, PagedList},
        org_frame::{OrgTab, org_href, use_org_id},
        ui::{Badge, ButtonKind, table},
    },
};

/// `/org/:org/images`.
#[component]
pub fn ImagesPage() -> impl IntoView {
    let organization_id = use_org_id();
    view! {
        <Title text="Images" />
        <ImageList organization_id />
    }
}

#[component]
fn ImageList(organization_id: i32) -> impl IntoView {
    let reload = RwSignal::new(0u32);
    let doomed = RwSignal::new(None);
    let new_image = format!("{}/new", org_href(organization_id, OrgTab::Images));
    view! {
        <PagedList
            filter_label="Filter images"
            fetch=move |filter, page| images(organization_id, filter, page)
            columns=vec![
                Column::new("Title"),
                Column::new("Type"),
                Column::new("Source").class("hidden md:table-cell"),
                Column::actions(),
            ]
            row=move |image| view! { <ImageRow organization_id image doomed /> }
            empty=Empty {
                title: "No images yet",
                text: "An image is a kernel with its initrd, or an ISO, that menus can boot.",
                no_match: "No image matches the filter.",
            }
            reload
        >
            <A href=new_image.clone() attr:class=ButtonKind::Primary.classes()>"New image"</A>
        </PagedList>
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
fn ImageRow(organization_id: i32, image: BootImage, doomed: RwSignal<Doomed>) -> impl IntoView {
    let href = format!("{}/{}", org_href(organization_id, OrgTab::Images), image.id);
    let kind = match image.kind {
        ImageKind::KernelInitrd => "kernel + initrd",
        ImageKind::Iso => "ISO",
    };
    let title = image.title.clone();
    let link_text = title.clone();
    let source = image
        .kernel_url
        .clone()
        .unwrap_or_else(|| image.image_url.clone());
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
}
