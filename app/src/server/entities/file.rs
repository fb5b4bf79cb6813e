//! A file in an organization's library: a name for bytes stored once, by their SHA-256.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "files")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub organization_id: i32,
    /// Unique in the organization; letters, digits, `.`, `_`, `+` and `-` (it ends URLs).
    pub name: String,
    pub size: i64,
    pub content_type: String,
    /// Lower-case hex: where the bytes are, and the file's `ETag`.
    pub sha256: String,
    /// Anyone may fetch it (e.g. an installer from inside the booted system).
    pub public: bool,
    pub added_by: Option<i32>,
    /// The username at the time, kept when the user goes.
    pub added_by_name: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
