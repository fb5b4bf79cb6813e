//! One line of the boot log.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "boot_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub at: DateTimeUtc,
    pub user_id: Option<i32>,
    pub organization_id: Option<i32>,
    pub group_id: Option<i32>,
    pub menu_id: Option<i32>,
    pub image_id: Option<i32>,
    pub username: Option<String>,
    /// The organization's name when the row was written; kept after the organization is
    /// deleted (then `organization_id` is null).
    pub organization_name: Option<String>,
    pub entry_title: Option<String>,
    pub entry_kind: Option<String>,
    pub client_mac: Option<String>,
    pub client_uuid: Option<String>,
    pub client_ip: Option<String>,
    pub client_platform: Option<String>,
    pub outcome: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
