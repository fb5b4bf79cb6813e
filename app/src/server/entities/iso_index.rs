//! What was found inside an ISO (see `server::iso`), for the bytes with this SHA-256.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "iso_indexes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub sha256: String,
    /// The version of the reader and recipes that wrote it: older rows are made again.
    pub format: i32,
    pub volume_id: String,
    /// JSON of `server::iso::recipes::Recognition`.
    pub recognition: String,
    /// JSON of the files inside (`server::iso::read::IsoFile`), empty when unreadable.
    pub tree: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
