//! The boot log of an organization: who booted what, on which machine, when.

use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use std::sync::{Arc, OnceLock};
use tokio::sync::{mpsc, oneshot};

use crate::{
    error::AppError,
    model::{BootLogRow, PAGE_SIZE, Page, Role},
    server::{actor::Actor, db, entities::boot_event},
};

/// A page of the organization's boot log, newest first; `filter` matches the user, the
/// machine (MAC or address) or the entry.
pub async fn page(
    db: &impl db::Conn,
    actor: &Actor,
    organization_id: i32,
    filter: &str,
    page: u64,
) -> Result<Page<BootLogRow>, AppError> {
    actor.require_role(db, organization_id, Role::Admin).await?;
    let query = boot_event::Entity::find()
        .filter(boot_event::Column::OrganizationId.eq(organization_id))
        .filter(
            Condition::any()
                .add(db::contains(boot_event::Column::Username, filter))
                .add(db::contains(boot_event::Column::ClientMac, filter))
                .add(db::contains(boot_event::Column::ClientIp, filter))
                .add(db::contains(boot_event::Column::EntryTitle, filter)),
        )
        .order_by_desc(boot_event::Column::At)
        .order_by_desc(boot_event::Column::Id);
    let total = query.clone().count(db).await?;
    let events = query
        .offset(db::offset_of(page))
        .limit(PAGE_SIZE)
        .all(db)
        .await?;
    let items = events
        .into_iter()
        .map(|event| BootLogRow {
            id: event.id,
            at: event.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            username: event.username,
            client_mac: event.client_mac,
            client_ip: event.client_ip,
            client_platform: event.client_platform,
            entry_title: event.entry_title,
            entry_kind: event.entry_kind,
            outcome: event.outcome,
        })
        .collect();
    Ok(db::to_page(items, total, page))
}

/// Deletes boot log rows older than `retention`; returns how many went.
pub async fn prune(
    conn: &impl sea_orm::ConnectionTrait,
    retention: std::time::Duration,
) -> Result<u64, AppError> {
    let result = boot_event::Entity::delete_many()
        .filter(boot_event::Column::At.lt(db::ago(retention)))
        .exec(conn)
        .await?;
    Ok(result.rows_affected)
}

/// A row waiting to be written, and who waits for it.
struct Pending {
    row: boot_event::ActiveModel,
    written: oneshot::Sender<Result<(), AppError>>,
}

/// Rows written together at most: one statement's worth of parameters on every database.
const MOST_AT_ONCE: usize = 128;

/// Writes boot-log rows by group commit. [`Writer::write`] returns once its row is
/// committed, so a boot script sent after it always has its row, even if the process is
/// killed the next instant; the rows of requests arriving while a commit runs are written
/// together by the next one, in one statement. A lab booting at once thus costs one commit
/// (one `fsync` on SQLite) per batch, not one per machine.
#[derive(Clone)]
pub struct Writer {
    db: DatabaseConnection,
    queue: Arc<OnceLock<mpsc::Sender<Pending>>>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("boot_log::Writer").finish_non_exhaustive()
    }
}

impl Writer {
    /// A writer to `db`; its task starts with the first row.
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            db,
            queue: Arc::default(),
        }
    }

    /// Writes `row`; returns once it is committed.
    pub async fn write(&self, row: boot_event::ActiveModel) -> Result<(), AppError> {
        let queue = self.queue.get_or_init(|| {
            let (sender, receiver) = mpsc::channel(4 * MOST_AT_ONCE);
            tokio::spawn(write_batches(self.db.clone(), receiver));
            sender
        });
        let (written, done) = oneshot::channel();
        queue
            .send(Pending { row, written })
            .await
            .map_err(|_| AppError::Internal)?;
        done.await.map_err(|_| AppError::Internal)?
    }
}

/// The writer's task: takes what is waiting (up to [`MOST_AT_ONCE`]), writes it in one
/// statement, answers each waiter, and again.
async fn write_batches(db: DatabaseConnection, mut queue: mpsc::Receiver<Pending>) {
    let mut batch = Vec::with_capacity(MOST_AT_ONCE);
    while queue.recv_many(&mut batch, MOST_AT_ONCE).await > 0 {
        let rows = batch.iter().map(|pending| pending.row.clone());
        match boot_event::Entity::insert_many(rows).exec(&db).await {
            Ok(_) => {
                for pending in batch.drain(..) {
                    let _ = pending.written.send(Ok(()));
                }
            }
            // One row the database refuses (its organization deleted a moment ago, say)
            // must not fail the others: each is tried alone.
            Err(error) => {
                tracing::warn!(%error, rows = batch.len(), "a batch of boot-log rows failed; writing them one by one");
                for pending in batch.drain(..) {
                    let result = boot_event::Entity::insert(pending.row)
                        .exec(&db)
                        .await
                        .map(|_| ())
                        .map_err(AppError::from);
                    let _ = pending.written.send(result);
                }
            }
        }
    }
}
