//! A boot image: a kernel with its initrd, or an ISO.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "boot_images")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub organization_id: i32,
    pub title: String,
    /// `kernel_initrd` or `iso`.
    pub kind: String,
    pub kernel_url: Option<String>,
    pub image_url: String,
    /// `sanboot` or `memdisk`, for ISOs.
    pub iso_boot: Option<String>,
    /// A JSON array of boot arguments, in order.
    pub args: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
