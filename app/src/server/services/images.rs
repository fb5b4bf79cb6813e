//! Boot images of an organization; managed by its admins.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{NotSet, Set},
    ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
    TransactionSession,
    sea_query::{Expr, ExprTrait},
};

pub use crate::forms::{ImageForm, ValidImage};
use crate::{
    boot::{BootImage, ImageSource},
    error::AppError,
    library::ISO_TYPE,
    model::{PAGE_SIZE, Page, Role},
    server::{
        actor::Actor,
        db,
        entities::{boot_image, boot_menu, menu_entry},
        services::files,
    },
};

/// A stored image as the UI and the boot flow see it (the row's typed columns were checked
/// when it was read).
pub fn to_view(model: boot_image::Model) -> BootImage {
    BootImage {
        id: model.id,
        kind: model.kind,
        iso_boot: model.iso_boot.unwrap_or_default(),
        args: model.args,
        title: model.title,
        kernel_url: model.kernel_url,
        image_url: model.image_url,
        iso_url: model.iso_url,
    }
}

/// A source as the column keeps it: empty for none (a kernel without an initrd).
fn stored(source: Option<&ImageSource>) -> String {
    source.map(ImageSource::to_stored).unwrap_or_default()
}

const TITLE_TAKEN: &str = "This organization has an image with this title.";

/// The organization's images, by title.
pub async fn list(
    db: &impl db::Conn,
    actor: &Actor,
    organization_id: i32,
) -> Result<Vec<BootImage>, AppError> {
    actor.require_role(db, organization_id, Role::Admin).await?;
    let rows = boot_image::Entity::find()
        .filter(boot_image::Column::OrganizationId.eq(organization_id))
        .order_by_asc(boot_image::Column::Title)
        .all(db)
        .await?;
    Ok(rows.into_iter().map(to_view).collect())
}

/// A page of the organization's images whose title contains `filter`, by title.
pub async fn list_page(
    db: &impl db::Conn,
    actor: &Actor,
    organization_id: i32,
    filter: &str,
    page: u64,
) -> Result<Page<BootImage>, AppError> {
    actor.require_role(db, organization_id, Role::Admin).await?;
    let query = boot_image::Entity::find()
        .filter(boot_image::Column::OrganizationId.eq(organization_id))
        .filter(db::contains(boot_image::Column::Title, filter))
        .order_by_asc(boot_image::Column::Title);
    let total = query.clone().count(db).await?;
    let images = query
        .offset(db::offset_of(page))
        .limit(PAGE_SIZE)
        .all(db)
        .await?
        .into_iter()
        .map(to_view)
        .collect();
    Ok(db::to_page(images, total, page))
}

async fn find(
    db: &impl db::Conn,
    organization_id: i32,
    image_id: i32,
) -> Result<boot_image::Model, AppError> {
    boot_image::Entity::find_by_id(image_id)
        .filter(boot_image::Column::OrganizationId.eq(organization_id))
        .one(db)
        .await?
        .ok_or(AppError::NotFound)
}

/// One image of the organization.
pub async fn get(
    db: &impl db::Conn,
    actor: &Actor,
    organization_id: i32,
    image_id: i32,
) -> Result<BootImage, AppError> {
    actor.require_role(db, organization_id, Role::Admin).await?;
    Ok(to_view(find(db, organization_id, image_id).await?))
}

/// Adds an image to the organization.
#[tracing::instrument(skip_all, fields(actor = %actor.username, organization_id))]
pub async fn create(
    db: &impl db::Conn,
    actor: &Actor,
    organization_id: i32,
    form: &ImageForm,
) -> Result<BootImage, AppError> {
    actor.require_role(db, organization_id, Role::Admin).await?;
    let image = form.parse()?;
    let txn = db.begin().await?;
    check_sources(&txn, organization_id, &image).await?;
    let now = Utc::now();
    let model = boot_image::ActiveModel {
        id: NotSet,
        organization_id: Set(organization_id),
        title: Set(image.title.as_str().to_owned()),
        kind: Set(image.kind),
        kernel_url: Set(image.kernel_url.map(|u| u.to_stored())),
        image_url: Set(stored(image.image_url.as_ref())),
        iso_boot: Set(image.iso_boot),
        args: Set(image.args),
        iso_url: Set(image.iso_url.map(|u| u.to_stored())),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await
    .map_err(db::conflict_on("title", TITLE_TAKEN))?;
    txn.commit().await?;
    Ok(to_view(model))
}

/// Checks that the library files an image names are there, holding the library still until
/// the image is stored (a file cannot be deleted in between).
async fn check_sources(
    txn: &impl db::Conn,
    organization_id: i32,
    image: &ValidImage,
) -> Result<(), AppError> {
    let sources = [
        ("kernel_url", image.kernel_url.as_ref()),
        ("image_url", image.image_url.as_ref()),
        ("iso_url", image.iso_url.as_ref()),
    ];
    if sources
        .iter()
        .any(|(_, source)| matches!(source, Some(ImageSource::File(_))))
    {
        db::serialize(txn, &files::space_key(organization_id)).await?;
        files::check_sources(txn, organization_id, &sources).await?;
    }
    if let Some(ImageSource::File(name)) = &image.iso_url
        && files::by_name(txn, organization_id, name)
            .await?
            .is_some_and(|file| file.content_type != ISO_TYPE)
    {
        return Err(AppError::invalid(
            "iso_url",
            format!("{name} is not an ISO image: pick an ISO of the library."),
        ));
    }
    Ok(())
}

/// Changes an image of the organization.
#[tracing::instrument(skip_all, fields(actor = %actor.username, organization_id, image_id))]
pub async fn update(
    db: &impl db::Conn,
    actor: &Actor,
    organization_id: i32,
    image_id: i32,
    form: &ImageForm,
) -> Result<BootImage, AppError> {
    actor.require_role(db, organization_id, Role::Admin).await?;
    let image = form.parse()?;
    let txn = db.begin().await?;
    check_sources(&txn, organization_id, &image).await?;
    let mut active: boot_image::ActiveModel = find(&txn, organization_id, image_id).await?.into();
    active.title = Set(image.title.as_str().to_owned());
    active.kind = Set(image.kind);
    active.kernel_url = Set(image.kernel_url.map(|u| u.to_stored()));
    active.image_url = Set(stored(image.image_url.as_ref()));
    active.iso_boot = Set(image.iso_boot);
    active.args = Set(image.args);
    active.iso_url = Set(image.iso_url.map(|u| u.to_stored()));
    active.updated_at = Set(Utc::now());
    let model = active
        .update(&txn)
        .await
        .map_err(db::conflict_on("title", TITLE_TAKEN))?;
    txn.commit().await?;
    Ok(to_view(model))
}

/// The titles of the menus that show an image: what deleting it would change.
pub async fn menus_using(
    db: &impl db::Conn,
    actor: &Actor,
    organization_id: i32,
    image_id: i32,
) -> Result<Vec<String>, AppError> {
    actor.require_role(db, organization_id, Role::Admin).await?;
    find(db, organization_id, image_id).await?;
    let menu_ids: Vec<i32> = menu_entry::Entity::find()
        .select_only()
        .column(menu_entry::Column::MenuId)
        .distinct()
        .filter(menu_entry::Column::ImageId.eq(image_id))
        .into_tuple()
        .all(db)
        .await?;
    boot_menu::Entity::find()
        .select_only()
        .column(boot_menu::Column::Title)
        .filter(boot_menu::Column::Id.is_in(menu_ids))
        .filter(boot_menu::Column::OrganizationId.eq(organization_id))
        .order_by_asc(boot_menu::Column::Title)
        .into_tuple()
        .all(db)
        .await
        .map_err(AppError::from)
}

/// Deletes an image; its entries leave every menu (the database cascades).
#[tracing::instrument(skip_all, fields(actor = %actor.username, organization_id, image_id))]
pub async fn delete(
    db: &impl db::Conn,
    actor: &Actor,
    organization_id: i32,
    image_id: i32,
) -> Result<(), AppError> {
    actor.require_role(db, organization_id, Role::Admin).await?;
    let txn = db.begin().await?;
    // The menus that lose entries change: a bumped version makes a choice made on the
    // old menu show the new one instead of booting whatever moved into its place.
    let menus_losing_entries = menu_entry::Entity::find()
        .select_only()
        .column(menu_entry::Column::MenuId)
        .filter(menu_entry::Column::ImageId.eq(image_id));
    boot_menu::Entity::update_many()
        .col_expr(
            boot_menu::Column::Version,
            Expr::col(boot_menu::Column::Version).add(1),
        )
        .col_expr(boot_menu::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(boot_menu::Column::OrganizationId.eq(organization_id))
        .filter(boot_menu::Column::Id.in_subquery(menus_losing_entries.into_query()))
        .exec(&txn)
        .await?;
    let result = boot_image::Entity::delete_many()
        .filter(boot_image::Column::Id.eq(image_id))
        .filter(boot_image::Column::OrganizationId.eq(organization_id))
        .exec(&txn)
        .await?;
    if result.rows_affected == 0 {
        return Err(AppError::NotFound);
    }
    Ok(txn.commit().await?)
}
