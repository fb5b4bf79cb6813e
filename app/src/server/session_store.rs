//! A tower-sessions store on SeaORM, so that web sessions survive restarts and are shared by
//! every process on one database.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter,
    sea_query::OnConflict,
};
use tower_sessions::{
    SessionStore,
    session::{Id, Record},
    session_store::{self, ExpiredDeletion},
};

use super::entities::web_session;

/// Web sessions in the `web_sessions` table.
#[derive(Debug, Clone)]
pub struct DbSessionStore {
    db: DatabaseConnection,
}

impl DbSessionStore {
    /// A store on this connection.
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

fn backend(error: impl std::fmt::Display) -> session_store::Error {
    session_store::Error::Backend(error.to_string())
}

fn to_chrono(expiry: time::OffsetDateTime) -> DateTime<Utc> {
    DateTime::from_timestamp(expiry.unix_timestamp(), expiry.nanosecond()).unwrap_or_default()
}

/// The row key of a session: the SHA-256 of its id, so that the table (or a backup of it)
/// holds nothing a cookie could be made from.
fn key(id: &Id) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(id.to_string().as_bytes()))
}

fn to_row(record: &Record) -> session_store::Result<web_session::ActiveModel> {
    let data = serde_json::to_string(&record.data)
        .map_err(|e| session_store::Error::Encode(e.to_string()))?;
    Ok(web_session::ActiveModel {
        id: Set(key(&record.id)),
        data: Set(data),
        expires_at: Set(to_chrono(record.expiry_date)),
    })
}

#[async_trait]
impl SessionStore for DbSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // A colliding id (128 random bits) is next to impossible, but is never overwritten.
        loop {
            let inserted = web_session::Entity::insert(to_row(record)?)
                .on_conflict(
                    OnConflict::column(web_session::Column::Id)
                        .do_nothing()
                        .to_owned(),
                )
                .exec_without_returning(&self.db)
                .await
                .map_err(backend)?;
            if inserted == 1 {
                return Ok(());
            }
            record.id = Id::default();
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        web_session::Entity::insert(to_row(record)?)
            .on_conflict(
                OnConflict::column(web_session::Column::Id)
                    .update_columns([web_session::Column::Data, web_session::Column::ExpiresAt])
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let row = web_session::Entity::find_by_id(key(id))
            .filter(web_session::Column::ExpiresAt.gt(Utc::now()))
            .one(&self.db)
            .await
            .map_err(backend)?;
        let Some(row) = row else { return Ok(None) };
        let data = serde_json::from_str(&row.data)
            .map_err(|e| session_store::Error::Decode(e.to_string()))?;
        let expiry_date = time::OffsetDateTime::from_unix_timestamp(row.expires_at.timestamp())
            .map_err(|e| session_store::Error::Decode(e.to_string()))?;
        Ok(Some(Record {
            id: *id,
            data,
            expiry_date,
        }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        web_session::Entity::delete_by_id(key(id))
            .exec(&self.db)
            .await
            .map_err(backend)?;
        Ok(())
    }
}

#[async_trait]
impl ExpiredDeletion for DbSessionStore {
    async fn delete_expired(&self) -> session_store::Result<()> {
        web_session::Entity::delete_many()
            .filter(web_session::Column::ExpiresAt.lte(Utc::now()))
            .exec(&self.db)
            .await
            .map_err(backend)?;
        Ok(())
    }
}
