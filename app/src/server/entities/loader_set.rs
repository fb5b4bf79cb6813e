//! A loader set a server admin added (e.g. an upstream Secure Boot set).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "loader_sets")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    /// Lower-case letters, digits and dashes: the folder its files are served from.
    #[sea_orm(unique)]
    pub name: String,
    pub created_at: DateTimeUtc,
    pub created_by: Option<i32>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
