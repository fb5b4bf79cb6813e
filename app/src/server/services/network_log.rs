//! What the boot server's UDP doors did (ProxyDHCP answers, TFTP transfers): written in
//! batches by the server's recorder, read by the Network boot page and machine timelines,
//! pruned with the boot log's retention.

use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::{
    error::AppError,
    server::{actor::Actor, db, entities::network_event},
};

/// The longest text kept in each column (longer is cut, never refused: it comes off the
/// network).
const LIMITS: [usize; 5] = [45, 32, 128, 32, 512];

/// An event to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkEvent {
    pub at: chrono::DateTime<chrono::Utc>,
    pub protocol: Protocol,
    pub client_ip: String,
    pub client_mac: Option<String>,
    pub xid: Option<u32>,
    pub arch: Option<u16>,
    pub vendor_class: Option<String>,
    pub interface: Option<String>,
    pub file: Option<String>,
    pub bytes: Option<u64>,
    pub duration_ms: Option<u64>,
    pub outcome: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Dhcp,
    Tftp,
}

impl Protocol {
    fn as_str(self) -> &'static str {
        match self {
            Self::Dhcp => "dhcp",
            Self::Tftp => "tftp",
        }
    }
}

/// `text` as it can be stored: control characters (a NUL, which PostgreSQL refuses in text,
/// among them) replaced by `?`, cut to `max` bytes at a character boundary.
fn cut(text: String, max: usize) -> String {
    let mut text = if text.chars().any(char::is_control) {
        text.chars()
            .map(|c| if c.is_control() { '?' } else { c })
            .collect()
    } else {
        text
    };
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

/// Writes `events` in one statement.
pub async fn record(conn: &impl db::Conn, events: Vec<NetworkEvent>) -> Result<(), AppError> {
    if events.is_empty() {
        return Ok(());
    }
    let [ip, mac, vendor, interface, file] = LIMITS;
    let rows = events.into_iter().map(|event| network_event::ActiveModel {
        at: Set(event.at),
        protocol: Set(event.protocol.as_str().to_owned()),
        client_ip: Set(cut(event.client_ip, ip)),
        client_mac: Set(event.client_mac.map(|v| cut(v, mac))),
        xid: Set(event.xid.map(i64::from)),
        arch: Set(event.arch.map(i32::from)),
        vendor_class: Set(event.vendor_class.map(|v| cut(v, vendor))),
        interface: Set(event.interface.map(|v| cut(v, interface))),
        file: Set(event.file.map(|v| cut(v, file))),
        bytes: Set(event.bytes.map(|v| i64::try_from(v).unwrap_or(i64::MAX))),
        duration_ms: Set(event
            .duration_ms
            .map(|v| i64::try_from(v).unwrap_or(i64::MAX))),
        outcome: Set(cut(event.outcome, 32)),
        ..Default::default()
    });
    network_event::Entity::insert_many(rows).exec(conn).await?;
    Ok(())
}

/// The newest `limit` events, for a server admin; those of one MAC address when given.
pub async fn recent(
    conn: &impl db::Conn,
    actor: &Actor,
    mac: Option<&str>,
    limit: u64,
) -> Result<Vec<network_event::Model>, AppError> {
    actor.require_server_admin()?;
    let mut query = network_event::Entity::find();
    if let Some(mac) = mac {
        query = query.filter(network_event::Column::ClientMac.eq(mac));
    }
    Ok(query
        .order_by_desc(network_event::Column::At)
        .order_by_desc(network_event::Column::Id)
        .limit(limit)
        .all(conn)
        .await?)
}

/// Deletes events older than `retention`; returns how many went.
pub async fn prune(
    conn: &impl sea_orm::ConnectionTrait,
    retention: std::time::Duration,
) -> Result<u64, AppError> {
    let result = network_event::Entity::delete_many()
        .filter(network_event::Column::At.lt(db::ago(retention)))
        .exec(conn)
        .await?;
    Ok(result.rows_affected)
}

#[cfg(test)]
mod tests {
    use super::cut;

    #[test]
    fn text_is_cut_at_a_character_boundary() {
        assert_eq!(cut("abc".into(), 5), "abc");
        assert_eq!(cut("abcdef".into(), 3), "abc");
        assert_eq!(cut("aé".into(), 2), "a");
        assert_eq!(cut("PXE\0Client\n".into(), 32), "PXE?Client?");
    }
}
