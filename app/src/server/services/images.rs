//! Boot images of an organization; managed by its admins.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{NotSet, Set},
    ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use crate::{
    boot::{BootImage, HttpUrl, ImageKind, IsoBoot, Title, parse_boot_args},
    error::AppError,
    model::Role,
    server::{
        actor::Actor,
        db,
        entities::{boot_image, boot_menu, menu_entry},
    },
};

/// An image as a form submits it, before checking.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageForm {
    pub title: String,
    pub kind: String,
    pub kernel_url: String,
    pub image_url: String,
    pub iso_boot: String,
    pub args: Vec<String>,
}

/// An image whose every field has been checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidImage {
    pub title: Title,
    pub kind: ImageKind,
    pub kernel_url: Option<HttpUrl>,
    pub image_url: HttpUrl,
    pub iso_boot: Option<IsoBoot>,
    pub args: Vec<String>,
}

impl ImageForm {
    /// Checks every field; errors name the field (`args.N` for the Nth argument row).
    pub fn parse(&self) -> Result<ValidImage, AppError> {
        let title =
            Title::parse(&self.title, "image").map_err(|m| AppError::invalid("title", m))?;
        let kind = ImageKind::parse(&self.kind).map_err(|m| AppError::invalid("kind", m))?;
        let image_url =
            HttpUrl::parse(&self.image_url).map_err(|m| AppError::invalid("image_url", m))?;
        let (kernel_url, iso_boot) = match kind {
            ImageKind::KernelInitrd => {
                let kernel = HttpUrl::parse(&self.kernel_url)
                    .map_err(|m| AppError::invalid("kernel_url", m))?;
                (Some(kernel), None)
            }
            ImageKind::Iso => {
                if !self.kernel_url.trim().is_empty() {
                    return Err(AppError::invalid(
                        "kernel_url",
                        "An ISO image has no separate kernel; leave this empty.",
                    ));
                }
                let method = if self.iso_boot.trim().is_empty() {
                    IsoBoot::default()
                } else {
                    IsoBoot::parse(self.iso_boot.trim())
                        .map_err(|m| AppError::invalid("iso_boot", m))?
                };
                (None, Some(method))
            }
        };
        let args = parse_boot_args(&self.args)
            .map_err(|(row, m)| AppError::invalid(format!("args.{row}"), m))?
            .into_iter()
            .map(|a| a.as_str().to_owned())
            .collect();
        Ok(ValidImage {
            title,
            kind,
            kernel_url,
            image_url,
            iso_boot,
            args,
        })
    }
}

/// Converts a stored image; a row that no longer parses is an internal error, logged.
pub fn to_view(model: boot_image::Model) -> Result<BootImage, AppError> {
    let corrupt = |what: &str| {
        tracing::error!(image_id = model.id, what, "a stored image does not parse");
        AppError::Internal
    };
    Ok(BootImage {
        id: model.id,
        kind: ImageKind::parse(&model.kind).map_err(|_| corrupt("kind"))?,
        iso_boot: model
            .iso_boot
            .as_deref()
            .map(IsoBoot::parse)
            .transpose()
            .map_err(|_| corrupt("iso_boot"))?
            .unwrap_or_default(),
        args: serde_json::from_str(&model.args).map_err(|_| corrupt("args"))?,
        title: model.title,
        kernel_url: model.kernel_url,
        image_url: model.image_url,
    })
}

const TITLE_TAKEN: &str = "This organization has an image with this title.";

/// The organization's images, by title.
pub async fn list(
    db: &DatabaseConnection,
    actor: &Actor,
    organization_id: i32,
) -> Result<Vec<BootImage>, AppError> {
    actor.require_role(db, organization_id, Role::Admin).await?;
    boot_image::Entity::find()
        .filter(boot_image::Column::OrganizationId.eq(organization_id))
        .order_by_asc(boot_image::Column::Title)
        .all(db)
        .await
        .map_err(db::internal)?
        .into_iter()
        .map(to_view)
        .collect()
}

async fn find(
    db: &DatabaseConnection,
    organization_id: i32,
    image_id: i32,
) -> Result<boot_image::Model, AppError> {
    boot_image::Entity::find_by_id(image_id)
        .filter(boot_image::Column::OrganizationId.eq(organization_id))
        .one(db)
        .await
        .map_err(db::internal)?
        .ok_or(AppError::NotFound)
}

/// One image of the organization.
pub async fn get(
    db: &DatabaseConnection,
    actor: &Actor,
    organization_id: i32,
    image_id: i32,
) -> Result<BootImage, AppError> {
    actor.require_role(db, organization_id, Role::Admin).await?;
    to_view(find(db, organization_id, image_id).await?)
}

fn args_json(args: &[String]) -> Result<String, AppError> {
    serde_json::to_string(args).map_err(|_| AppError::Internal)
}

/// Adds an image to the organization.
#[tracing::instrument(skip_all, fields(actor = %actor.username, organization_id))]
pub async fn create(
    db: &DatabaseConnection,
    actor: &Actor,
    organization_id: i32,
    form: &ImageForm,
) -> Result<BootImage, AppError> {
    actor.require_role(db, organization_id, Role::Admin).await?;
    let image = form.parse()?;
    let now = Utc::now();
    let model = boot_image::ActiveModel {
        id: NotSet,
        organization_id: Set(organization_id),
        title: Set(image.title.as_str().to_owned()),
        kind: Set(image.kind.as_str().to_owned()),
        kernel_url: Set(image.kernel_url.map(|u| u.as_str().to_owned())),
        image_url: Set(image.image_url.as_str().to_owned()),
        iso_boot: Set(image.iso_boot.map(|m| m.as_str().to_owned())),
        args: Set(args_json(&image.args)?),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
    .map_err(db::conflict_on("title", TITLE_TAKEN))?;
    to_view(model)
}

/// Changes an image of the organization.
#[tracing::instrument(skip_all, fields(actor = %actor.username, organization_id, image_id))]
pub async fn update(
    db: &DatabaseConnection,
    actor: &Actor,
    organization_id: i32,
    image_id: i32,
    form: &ImageForm,
) -> Result<BootImage, AppError> {
    actor.require_role(db, organization_id, Role::Admin).await?;
    let image = form.parse()?;
    let mut active: boot_image::ActiveModel = find(db, organization_id, image_id).await?.into();
    active.title = Set(image.title.as_str().to_owned());
    active.kind = Set(image.kind.as_str().to_owned());
    active.kernel_url = Set(image.kernel_url.map(|u| u.as_str().to_owned()));
    active.image_url = Set(image.image_url.as_str().to_owned());
    active.iso_boot = Set(image.iso_boot.map(|m| m.as_str().to_owned()));
    active.args = Set(args_json(&image.args)?);
    active.updated_at = Set(Utc::now());
    let model = active
        .update(db)
        .await
        .map_err(db::conflict_on("title", TITLE_TAKEN))?;
    to_view(model)
}

/// The titles of the menus that show an image: what deleting it would change.
pub async fn menus_using(
    db: &DatabaseConnection,
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
        .await
        .map_err(db::internal)?;
    boot_menu::Entity::find()
        .select_only()
        .column(boot_menu::Column::Title)
        .filter(boot_menu::Column::Id.is_in(menu_ids))
        .filter(boot_menu::Column::OrganizationId.eq(organization_id))
        .order_by_asc(boot_menu::Column::Title)
        .into_tuple()
        .all(db)
        .await
        .map_err(db::internal)
}

/// Deletes an image; its entries leave every menu (the database cascades).
#[tracing::instrument(skip_all, fields(actor = %actor.username, organization_id, image_id))]
pub async fn delete(
    db: &DatabaseConnection,
    actor: &Actor,
    organization_id: i32,
    image_id: i32,
) -> Result<(), AppError> {
    actor.require_role(db, organization_id, Role::Admin).await?;
    let result = boot_image::Entity::delete_many()
        .filter(boot_image::Column::Id.eq(image_id))
        .filter(boot_image::Column::OrganizationId.eq(organization_id))
        .exec(db)
        .await
        .map_err(db::internal)?;
    if result.rows_affected == 0 {
        return Err(AppError::NotFound);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kernel_form() -> ImageForm {
        ImageForm {
            title: "Debian".into(),
            kind: "kernel_initrd".into(),
            kernel_url: "http://boot.lan/linux".into(),
            image_url: "http://boot.lan/initrd.gz".into(),
            iso_boot: String::new(),
            args: vec!["console=ttyS0".into(), "quiet".into()],
        }
    }

    #[test]
    fn a_kernel_image_needs_a_kernel_url() {
        let form = ImageForm {
            kernel_url: String::new(),
            ..kernel_form()
        };
        assert!(
            form.parse()
                .unwrap_err()
                .field_message("kernel_url")
                .is_some()
        );
        assert!(kernel_form().parse().is_ok());
    }

    #[test]
    fn an_iso_has_no_kernel_and_sanboots_by_default() {
        let form = ImageForm {
            kind: "iso".into(),
            kernel_url: String::new(),
            ..kernel_form()
        };
        assert_eq!(form.parse().unwrap().iso_boot, Some(IsoBoot::Sanboot));
        let with_kernel = ImageForm {
            kind: "iso".into(),
            ..kernel_form()
        };
        assert!(with_kernel.parse().is_err());
    }

    #[test]
    fn a_bad_argument_is_named_by_its_row() {
        let form = ImageForm {
            args: vec!["quiet".into(), "two words".into()],
            ..kernel_form()
        };
        assert!(form.parse().unwrap_err().field_message("args.2").is_some());
    }
}
