//! The loader an architecture is offered when it is not the built-in one.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "loader_defaults")]
pub struct Model {
    /// `bios`, `x64-uefi` or `arm64-uefi`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub arch: String,
    pub set_id: i32,
    /// A file of that set.
    pub file: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
