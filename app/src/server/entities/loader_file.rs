//! One file of a loader set, with its bytes (every replica serves the same).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "loader_files")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub set_id: i32,
    pub name: String,
    pub size: i64,
    pub sha256: String,
    pub content: Vec<u8>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
