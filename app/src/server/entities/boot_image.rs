//! A boot image: a kernel with its initrd, or an ISO.

use sea_orm::entity::prelude::*;

use crate::boot::{BootArgs, ImageKind, IsoBoot};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "boot_images")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub organization_id: i32,
    pub title: String,
    pub kind: ImageKind,
    pub kernel_url: Option<String>,
    pub image_url: String,
    /// The library ISO (`file:<name>`) whose URLs `{iso}` and `{tree}` in `args` stand for.
    pub iso_url: Option<String>,
    /// How an ISO boots (unset for kernels).
    pub iso_boot: Option<IsoBoot>,
    /// Stored as a JSON array, in order.
    pub args: BootArgs,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
