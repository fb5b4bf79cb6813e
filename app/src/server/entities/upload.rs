//! An upload in progress: what is coming, how much has arrived, and who is writing it now.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "uploads")]
pub struct Model {
    /// Random, lower-case hex: the upload's URL and its folder under `uploads/`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub organization_id: i32,
    /// The file's name once complete (reserved while the upload runs).
    pub name: String,
    pub length: i64,
    /// Bytes stored and synced so far: where the next piece starts.
    pub received: i64,
    pub expected_sha256: Option<String>,
    /// The SHA-256 state after the whole 64-byte blocks of `received` (see
    /// `server::sha256_state`): the next piece goes on from it, on any replica.
    pub sha256_state: Option<String>,
    /// The file's SHA-256 once every byte arrived: a retry after a failure at the very end
    /// finishes from it.
    pub sha256: Option<String>,
    pub public: bool,
    pub created_by: Option<i32>,
    pub created_by_name: String,
    /// Set while a request writes to it (on any replica); another waits for it to pass.
    pub lease_until: Option<DateTimeUtc>,
    /// Who holds the lease (random, per writer): a writer whose lease lapsed and was taken
    /// by another changes nothing more.
    pub lease_owner: Option<String>,
    /// The URL the server fetches the file from (`None`: a browser uploads it).
    pub source_url: Option<String>,
    /// The checksum list the expected SHA-256 was read from.
    pub sums_url: Option<String>,
    /// The fetched bytes' strong `ETag` or `Last-Modified`: a resumed fetch asks for the rest
    /// only while they are the same (`If-Range`).
    pub source_validator: Option<String>,
    /// Why a fetch stopped; it waits for a retry or a dismissal.
    pub failure: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
