//! iPXE boot sessions: the token every URL after the login carries, and the boot log.
//!
//! iPXE has no cookies, so a boot session is a random token in the URL path. Only its
//! SHA-256 is stored; it expires a while after its last use and is bound to the user and to
//! the client address it was issued to.

use crate::{
    error::AppError,
    server::{
        actor::Actor,
        client::{BootToken, ClientUuid, MacAddr},
        db,
        entities::{boot_event, boot_token, user},
        services::boot_log,
    },
};
use chrono::{Duration, Utc};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    sea_query::Expr,
};

/// What the client told about itself (all optional, all checked for shape).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientInfo {
    pub mac: Option<MacAddr>,
    pub uuid: Option<ClientUuid>,
    pub platform: Option<String>,
    pub arch: Option<String>,
    pub ip: Option<String>,
}

fn keep(value: Option<&str>, max: usize, allowed: impl Fn(char) -> bool) -> Option<String> {
    let value = value?.trim();
    (!value.is_empty() && value.len() <= max && value.chars().all(allowed))
        .then(|| value.to_ascii_lowercase())
}

impl ClientInfo {
    /// Keeps only values of the expected shape; anything else is dropped, not trusted.
    pub fn checked(
        mac: Option<&str>,
        uuid: Option<&str>,
        platform: Option<&str>,
        arch: Option<&str>,
        ip: Option<String>,
    ) -> Self {
        let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
        Self {
            mac: mac.and_then(|m| m.parse().ok()),
            uuid: uuid.and_then(|u| u.parse().ok()),
            platform: keep(platform, 16, word),
            arch: keep(arch, 16, word),
            ip,
        }
    }

    /// The client as a query string, to name it again in a later URL.
    pub fn query(&self) -> String {
        [
            ("mac", self.mac.as_ref().map(MacAddr::to_string)),
            ("uuid", self.uuid.as_ref().map(ClientUuid::to_string)),
            ("platform", self.platform.clone()),
            ("arch", self.arch.clone()),
        ]
        .iter()
        .filter_map(|(key, value)| value.as_ref().map(|v| format!("{key}={v}")))
        .collect::<Vec<_>>()
        .join("&")
    }
}

/// A live boot session.
#[derive(Debug, Clone)]
pub struct BootSession {
    pub token_id: i32,
    pub actor: Actor,
    pub client: ClientInfo,
    /// The database's boot generation when the session was read (see
    /// [`crate::server::boot_cache`]); `None` for a session just started.
    pub generation: Option<i64>,
}

/// Starts a session for a signed-in user; returns it with its token, which is never stored.
pub async fn start(
    db: &impl db::Conn,
    user: &user::Model,
    client: &ClientInfo,
    ttl: std::time::Duration,
) -> Result<(BootSession, BootToken), AppError> {
    let token = BootToken::generate();
    let now = Utc::now();
    let row = boot_token::ActiveModel {
        id: NotSet,
        token_hash: Set(token.hash()),
        user_id: Set(user.id),
        organization_id: Set(None),
        group_id: Set(None),
        client_mac: Set(client.mac.as_ref().map(MacAddr::to_string)),
        client_uuid: Set(client.uuid.as_ref().map(ClientUuid::to_string)),
        client_ip: Set(client.ip.clone()),
        client_platform: Set(client.platform.clone()),
        client_arch: Set(client.arch.clone()),
        created_at: Set(now),
        last_used_at: Set(now),
        expires_at: Set(now + Duration::from_std(ttl).unwrap_or(Duration::minutes(15))),
    }
    .insert(db)
    .await?;
    let session = BootSession {
        token_id: row.id,
        actor: Actor {
            user_id: Some(user.id),
            username: user.username.clone(),
            is_server_admin: user.is_server_admin,
        },
        client: client.clone(),
        generation: None,
    };
    Ok((session, token))
}

/// A live session as one query reads it: the token, its user, and the boot generation.
#[derive(Debug, sea_orm::FromQueryResult)]
struct LiveToken {
    id: i32,
    client_mac: Option<String>,
    client_uuid: Option<String>,
    client_ip: Option<String>,
    client_platform: Option<String>,
    client_arch: Option<String>,
    expires_at: chrono::DateTime<Utc>,
    user_id: i32,
    username: String,
    is_server_admin: bool,
    is_disabled: bool,
    generation: i64,
}

/// The live session of a token, with its user and the boot generation, in one query:
/// `None` when the token is unknown, expired, issued to another client address, or its user
/// is gone or disabled.
async fn find(
    db: &impl db::Conn,
    token: &BootToken,
    ip: Option<&str>,
) -> Result<Option<LiveToken>, AppError> {
    use sea_orm::QuerySelect;
    let Some(live) = boot_token::Entity::find()
        .select_only()
        .columns([
            boot_token::Column::Id,
            boot_token::Column::ClientMac,
            boot_token::Column::ClientUuid,
            boot_token::Column::ClientIp,
            boot_token::Column::ClientPlatform,
            boot_token::Column::ClientArch,
            boot_token::Column::ExpiresAt,
            boot_token::Column::UserId,
        ])
        .columns([
            user::Column::Username,
            user::Column::IsServerAdmin,
            user::Column::IsDisabled,
        ])
        .expr_as(
            Expr::cust("(SELECT generation FROM boot_generation WHERE id = 1)"),
            "generation",
        )
        .inner_join(user::Entity)
        .filter(boot_token::Column::TokenHash.eq(token.hash()))
        .filter(boot_token::Column::ExpiresAt.gt(Utc::now()))
        .into_model::<LiveToken>()
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    if let (Some(issued_to), Some(ip)) = (live.client_ip.as_deref(), ip)
        && issued_to != ip
    {
        tracing::warn!(
            token_id = live.id,
            "a boot token was presented from another address"
        );
        return Ok(None);
    }
    Ok((!live.is_disabled).then_some(live))
}

/// A live session, as read for a step: the session, and when its row says it expires.
#[derive(Debug, Clone)]
pub struct Resumed {
    pub session: BootSession,
    expires_at: chrono::DateTime<Utc>,
}

/// The session a token belongs to, read without writing; `None` when the token is unknown,
/// expired, issued to another client address, or its user is gone or disabled. Every step
/// reads it again, so a session ended anywhere (sign-out, a password change, a disabled
/// user, on any replica) is refused at the next step. [`extend`] then slides its expiry.
pub async fn resume(
    db: &impl db::Conn,
    token: &BootToken,
    ip: Option<&str>,
) -> Result<Option<Resumed>, AppError> {
    let Some(live) = find(db, token, ip).await? else {
        return Ok(None);
    };
    let session = BootSession {
        token_id: live.id,
        actor: Actor {
            user_id: Some(live.user_id),
            username: live.username,
            is_server_admin: live.is_server_admin,
        },
        client: ClientInfo {
            mac: live.client_mac.as_deref().and_then(|m| m.parse().ok()),
            uuid: live.client_uuid.as_deref().and_then(|u| u.parse().ok()),
            platform: live.client_platform,
            arch: live.client_arch,
            ip: live.client_ip,
        },
        generation: Some(live.generation),
    };
    Ok(Some(Resumed {
        session,
        expires_at: live.expires_at,
    }))
}

/// How far behind its sliding expiry a session may fall before it is written again: a
/// minute, or a quarter of the lifetime when that is shorter. A session in use thus expires
/// between `ttl - EXTEND_EVERY` and `ttl` after its last step, and a machine taking steps
/// (or reading its files in many ranged requests) costs one write a minute, not one a
/// request.
fn extend_every(ttl: Duration) -> Duration {
    (ttl / 4).min(Duration::seconds(60))
}

/// Slides a session's expiry to `ttl` from now when it has fallen behind by more than
/// [`extend_every`]; otherwise writes nothing.
pub async fn extend(
    db: &impl db::Conn,
    resumed: &Resumed,
    ttl: std::time::Duration,
) -> Result<(), AppError> {
    let now = Utc::now();
    let ttl = Duration::from_std(ttl).unwrap_or(Duration::minutes(15));
    if resumed.expires_at >= now + ttl - extend_every(ttl) {
        return Ok(());
    }
    boot_token::Entity::update_many()
        .col_expr(boot_token::Column::LastUsedAt, Expr::value(now))
        .col_expr(boot_token::Column::ExpiresAt, Expr::value(now + ttl))
        .filter(boot_token::Column::Id.eq(resumed.session.token_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Who holds a live token, for a machine fetching the files of its boot (a kernel, or an ISO
/// that `sanboot` reads in many ranged requests for as long as the booted system runs): the
/// session is extended like a boot step.
pub async fn holder(
    db: &impl db::Conn,
    token: &BootToken,
    ip: Option<&str>,
    ttl: std::time::Duration,
) -> Result<Option<Actor>, AppError> {
    let Some(resumed) = resume(db, token, ip).await? else {
        return Ok(None);
    };
    extend(db, &resumed, ttl).await?;
    Ok(Some(resumed.session.actor))
}

/// Ends a session (sign-out at the client).
pub async fn end(db: &impl db::Conn, token_id: i32) -> Result<(), AppError> {
    boot_token::Entity::delete_by_id(token_id).exec(db).await?;
    Ok(())
}

/// Ends every boot session of a user (their password changed: whoever holds a token signed
/// in with the old one).
pub async fn end_all_of(db: &impl ConnectionTrait, user_id: i32) -> Result<u64, AppError> {
    let result = boot_token::Entity::delete_many()
        .filter(boot_token::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// Deletes expired sessions.
pub async fn prune(db: &impl db::Conn) -> Result<u64, AppError> {
    let result = boot_token::Entity::delete_many()
        .filter(boot_token::Column::ExpiresAt.lte(Utc::now()))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// One boot choice, for the log.
#[derive(Debug, Clone, Default)]
pub struct BootRecord {
    pub organization_id: Option<i32>,
    /// The organization's name as it is now, so that the row still says where it booted
    /// after the organization is renamed or deleted.
    pub organization_name: Option<String>,
    pub group_id: Option<i32>,
    pub menu_id: Option<i32>,
    pub image_id: Option<i32>,
    pub entry_title: Option<String>,
    pub entry_kind: Option<String>,
    pub outcome: String,
}

/// Writes one line of the boot log; returns once it is committed.
pub async fn record(
    log: &boot_log::Writer,
    session: &BootSession,
    record: BootRecord,
) -> Result<(), AppError> {
    let clip = |s: Option<String>, max: usize| s.map(|s| s.chars().take(max).collect::<String>());
    log.write(boot_event::ActiveModel {
        id: NotSet,
        at: Set(Utc::now()),
        user_id: Set(session.actor.user_id),
        organization_id: Set(record.organization_id),
        group_id: Set(record.group_id),
        menu_id: Set(record.menu_id),
        image_id: Set(record.image_id),
        username: Set(Some(session.actor.username.clone())),
        organization_name: Set(record.organization_name),
        entry_title: Set(clip(record.entry_title, 200)),
        entry_kind: Set(clip(record.entry_kind, 32)),
        client_mac: Set(session.client.mac.as_ref().map(MacAddr::to_string)),
        client_uuid: Set(session.client.uuid.as_ref().map(ClientUuid::to_string)),
        client_ip: Set(session.client.ip.clone()),
        client_platform: Set(session.client.platform.clone()),
        outcome: Set(record.outcome),
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_values_of_the_wrong_shape_are_dropped() {
        let client = ClientInfo::checked(
            Some("52-54-00-12-34-56"),
            Some("not a uuid!"),
            Some("pcbios"),
            Some("x86_64&evil=1"),
            None,
        );
        assert_eq!(
            client.mac.as_ref().unwrap().to_string(),
            "52-54-00-12-34-56"
        );
        assert_eq!(client.uuid, None);
        assert_eq!(client.arch, None);
        assert_eq!(client.query(), "mac=52-54-00-12-34-56&platform=pcbios");
    }
}
