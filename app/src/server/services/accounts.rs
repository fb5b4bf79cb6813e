//! User accounts: sign-in, passwords, and the first server admin.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{NotSet, Set},
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionSession,
};

use crate::{
    error::AppError,
    model::{PAGE_SIZE, Page, UserRow},
    server::{
        actor::Actor,
        db,
        entities::user,
        password::PasswordHasher,
        services::{
            boot_sessions,
            throttle::{self, Subject},
        },
        state::Settings,
    },
    validate::{Email, NewPassword, Username, check_login_password},
};

/// The one message for every failed sign-in, so that it reveals nothing.
pub const INVALID_CREDENTIALS: &str = "Invalid username or password.";

/// Where a sign-in attempt comes from, for throttling.
#[derive(Debug, Clone)]
pub struct Attempt<'a> {
    pub username: &'a str,
    pub password: &'a str,
    pub client_address: Option<String>,
}

fn invalid_credentials() -> AppError {
    AppError::invalid("credentials", INVALID_CREDENTIALS)
}

/// Checks credentials and returns the user; throttles failures per username and per address.
///
/// Every attempt is counted as a failure *before* its password is checked (and taken back
/// when it was right), so concurrent attempts cannot outrun the limit: a subject at its limit
/// is refused without any hashing.
#[tracing::instrument(skip_all, fields(username = tracing::field::Empty, client = ?attempt.client_address))]
pub async fn authenticate(
    db: &impl db::Conn,
    hasher: &PasswordHasher,
    settings: &Settings,
    attempt: Attempt<'_>,
) -> Result<user::Model, AppError> {
    if attempt.username.trim().is_empty() {
        return Err(AppError::invalid("username", "Enter your username."));
    }
    check_login_password(attempt.password).map_err(|m| AppError::invalid("password", m))?;
    // A name that does not parse cannot exist: refused before any work, with the same answer.
    let Ok(username) = Username::parse(attempt.username) else {
        tracing::info!("sign-in refused: not a possible username");
        return Err(invalid_credentials());
    };
    tracing::Span::current().record("username", username.as_str());

    let subjects = sign_in_subjects(&username, attempt.client_address.as_deref(), settings);
    slow_down(db, &subjects, settings).await?;
    // A place in the hashing queue before anything is written: an attempt turned away as
    // busy costs no write.
    let admitted = hasher.admit()?;
    let reservation = match throttle::reserve(db, &subjects, settings.throttle_window).await {
        Ok(reservation) => reservation,
        Err(refused @ AppError::RateLimited { .. }) => {
            tracing::warn!("sign-in refused: too many failures");
            return Err(refused);
        }
        Err(other) => return Err(other),
    };

    let checked = async {
        let found = user::Entity::find()
            .filter(user::Column::Username.eq(username.as_str()))
            .one(db)
            .await?;
        let verified = hasher
            .verify_admitted(
                Some(admitted),
                attempt.password,
                found.as_ref().map(|u| u.password_hash.as_str()),
            )
            .await?;
        Ok::<_, AppError>((found, verified))
    }
    .await;
    let (found, verified) = match checked {
        Ok(checked) => checked,
        // Not checked at all (the server is busy, or the database failed): no failure.
        Err(error) => {
            throttle::release(db, reservation).await?;
            return Err(error);
        }
    };
    match found {
        Some(user) if verified && !user.is_disabled => {
            throttle::release(db, reservation).await?;
            // The failures at this address are forgiven; those from elsewhere still count.
            throttle::clear(db, &subjects[0]).await?;
            tracing::info!(user_id = user.id, "signed in");
            Ok(user)
        }
        _ => {
            tracing::info!("sign-in refused");
            Err(invalid_credentials())
        }
    }
}

/// What a sign-in attempt is counted under: the username at this address (the hard limit),
/// the username anywhere (the slowdown), and the address (a hard limit over all usernames).
fn sign_in_subjects(
    username: &Username,
    client_address: Option<&str>,
    settings: &Settings,
) -> Vec<Subject> {
    let mut subjects = vec![
        Subject::user_at(
            username.as_str(),
            client_address.unwrap_or("unknown"),
            settings.max_failures_per_user,
        ),
        Subject::user_anywhere(username.as_str()),
    ];
    if let Some(address) = client_address {
        subjects.push(Subject::address(address, settings.max_failures_per_address));
    }
    subjects
}

/// Waits before a password check when its username has failed often lately, from anywhere:
/// guesses from many addresses get slow, while the right password still works.
async fn slow_down(
    db: &impl db::Conn,
    subjects: &[Subject],
    settings: &Settings,
) -> Result<(), AppError> {
    let wait = throttle::backoff(
        db,
        &subjects[1],
        settings.backoff_after_failures,
        settings.throttle_window,
        settings.max_backoff,
    )
    .await?;
    if !wait.is_zero() {
        tracing::warn!(
            wait_ms = wait.as_millis() as u64,
            "sign-in slowed down: many recent failures for this username"
        );
        tokio::time::sleep(wait).await;
    }
    Ok(())
}

/// A new account's details.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: Username,
    pub email: Option<Email>,
    pub password: NewPassword,
    pub is_server_admin: bool,
}

/// Creates an account; only a server admin may.
#[tracing::instrument(skip_all, fields(actor = %actor.username, username = %new.username))]
pub async fn create_user(
    db: &impl db::Conn,
    hasher: &PasswordHasher,
    actor: &Actor,
    new: NewUser,
) -> Result<user::Model, AppError> {
    actor.require_server_admin()?;
    let hash = hasher.hash(new.password.expose()).await?;
    insert_user(
        db,
        &new.username,
        new.email.as_ref(),
        new.is_server_admin,
        hash,
    )
    .await
}

/// Stores a new account with its password hash, without checking who asks; a taken name is
/// a `Conflict` on `username`.
pub async fn insert_user(
    conn: &impl ConnectionTrait,
    username: &Username,
    email: Option<&Email>,
    is_server_admin: bool,
    password_hash: String,
) -> Result<user::Model, AppError> {
    let now = Utc::now();
    user::ActiveModel {
        id: NotSet,
        username: Set(username.as_str().to_owned()),
        email: Set(email.map(|e| e.as_str().to_owned())),
        password_hash: Set(password_hash),
        is_server_admin: Set(is_server_admin),
        is_disabled: Set(false),
        must_change_password: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(conn)
    .await
    .map_err(db::conflict_on("username", "This username is taken."))
}

/// Changes a user's email (or removes it); only a server admin may.
#[tracing::instrument(skip_all, fields(actor = %actor.username, user_id))]
pub async fn set_email(
    db: &impl db::Conn,
    actor: &Actor,
    user_id: i32,
    email: Option<&Email>,
) -> Result<UserRow, AppError> {
    actor.require_server_admin()?;
    let mut active: user::ActiveModel = find_by_id(db, user_id).await?.into();
    active.email = Set(email.map(|e| e.as_str().to_owned()));
    active.updated_at = Set(Utc::now());
    Ok(to_row(active.update(db).await?))
}

/// Finds a user by name, for a server admin.
pub async fn find_by_username(
    db: &impl db::Conn,
    actor: &Actor,
    username: &Username,
) -> Result<user::Model, AppError> {
    actor.require_server_admin()?;
    user::Entity::find()
        .filter(user::Column::Username.eq(username.as_str()))
        .one(db)
        .await?
        .ok_or(AppError::NotFound)
}

/// Every account, by name, for a server admin.
pub async fn list_users(db: &impl db::Conn, actor: &Actor) -> Result<Vec<user::Model>, AppError> {
    actor.require_server_admin()?;
    user::Entity::find()
        .order_by_asc(user::Column::Username)
        .all(db)
        .await
        .map_err(AppError::from)
}

/// A user as the UI lists them.
pub fn to_row(user: user::Model) -> UserRow {
    UserRow {
        id: user.id,
        username: user.username,
        email: user.email,
        is_server_admin: user.is_server_admin,
        is_disabled: user.is_disabled,
    }
}

/// A page of accounts whose name or email contains `filter`, by name, for a server admin.
pub async fn users_page(
    db: &impl db::Conn,
    actor: &Actor,
    filter: &str,
    page: u64,
) -> Result<Page<UserRow>, AppError> {
    actor.require_server_admin()?;
    let query = user::Entity::find()
        .filter(
            Condition::any()
                .add(db::contains(user::Column::Username, filter))
                .add(db::contains(user::Column::Email, filter)),
        )
        .order_by_asc(user::Column::Username);
    let total = query.clone().count(db).await?;
    let users = query
        .offset(db::offset_of(page))
        .limit(PAGE_SIZE)
        .all(db)
        .await?;
    Ok(db::to_page(
        users.into_iter().map(to_row).collect(),
        total,
        page,
    ))
}

async fn find_by_id(conn: &impl ConnectionTrait, user_id: i32) -> Result<user::Model, AppError> {
    user::Entity::find_by_id(user_id)
        .one(conn)
        .await?
        .ok_or(AppError::NotFound)
}

/// Disables or enables an account; a server admin may, but not for their own account.
/// A disabled user's sessions stop working at their next request.
#[tracing::instrument(skip_all, fields(actor = %actor.username, user_id, disabled))]
pub async fn set_disabled(
    db: &impl db::Conn,
    actor: &Actor,
    user_id: i32,
    disabled: bool,
) -> Result<UserRow, AppError> {
    actor.require_server_admin()?;
    if disabled && actor.user_id == Some(user_id) {
        return Err(AppError::conflict(
            "disabled",
            "You cannot disable your own account.",
        ));
    }
    let txn = db.begin().await?;
    db::serialize(&txn, SERVER_ADMINS_KEY).await?;
    ensure_still_server_admin(&txn, actor).await?;
    let user = find_by_id(&txn, user_id).await?;
    if disabled && user.is_server_admin && !user.is_disabled {
        ensure_another_server_admin(&txn, user_id).await?;
    }
    let mut active: user::ActiveModel = user.into();
    active.is_disabled = Set(disabled);
    active.updated_at = Set(Utc::now());
    let row = to_row(active.update(&txn).await?);
    txn.commit().await?;
    Ok(row)
}

/// The key that changes to the server admins are serialized on, so that two server admins
/// demoting or disabling each other at once cannot leave the server without one.
const SERVER_ADMINS_KEY: &str = "server-admins";

/// Refuses a server admin whose right was taken away (or account disabled) since the request
/// started: checked under the lock, after any concurrent change committed.
async fn ensure_still_server_admin(
    conn: &impl ConnectionTrait,
    actor: &Actor,
) -> Result<(), AppError> {
    let Some(actor_id) = actor.user_id else {
        return Ok(()); // the operator, on the command line
    };
    let current = user::Entity::find_by_id(actor_id).one(conn).await?;
    match current {
        Some(user) if user.is_server_admin && !user.is_disabled => Ok(()),
        _ => Err(AppError::Forbidden),
    }
}

/// Refuses when `leaving_user_id` is the last active server admin.
async fn ensure_another_server_admin(
    conn: &impl ConnectionTrait,
    leaving_user_id: i32,
) -> Result<(), AppError> {
    let others = user::Entity::find()
        .filter(user::Column::IsServerAdmin.eq(true))
        .filter(user::Column::IsDisabled.eq(false))
        .filter(user::Column::Id.ne(leaving_user_id))
        .count(conn)
        .await?;
    if others == 0 {
        Err(AppError::conflict(
            "server_admin",
            "This is the last active server admin; make someone else server admin first.",
        ))
    } else {
        Ok(())
    }
}

/// Grants or takes back the server-admin right; a server admin may, but not from themselves,
/// so that there is always one left.
#[tracing::instrument(skip_all, fields(actor = %actor.username, user_id, admin))]
pub async fn set_server_admin(
    db: &impl db::Conn,
    actor: &Actor,
    user_id: i32,
    admin: bool,
) -> Result<UserRow, AppError> {
    actor.require_server_admin()?;
    if !admin && actor.user_id == Some(user_id) {
        return Err(AppError::conflict(
            "server_admin",
            "You cannot take the server-admin right from yourself; ask another server admin.",
        ));
    }
    let txn = db.begin().await?;
    db::serialize(&txn, SERVER_ADMINS_KEY).await?;
    ensure_still_server_admin(&txn, actor).await?;
    let user = find_by_id(&txn, user_id).await?;
    if !admin && user.is_server_admin && !user.is_disabled {
        ensure_another_server_admin(&txn, user_id).await?;
    }
    let mut active: user::ActiveModel = user.into();
    active.is_server_admin = Set(admin);
    active.updated_at = Set(Utc::now());
    let row = to_row(active.update(&txn).await?);
    txn.commit().await?;
    Ok(row)
}

/// Sets a new password for an account by id; only a server admin may.
#[tracing::instrument(skip_all, fields(actor = %actor.username, user_id))]
pub async fn reset_password(
    db: &impl db::Conn,
    hasher: &PasswordHasher,
    actor: &Actor,
    user_id: i32,
    password: &NewPassword,
) -> Result<(), AppError> {
    actor.require_server_admin()?;
    let user = find_by_id(db, user_id).await?;
    store_password(db, hasher, user, password).await.map(drop)
}

/// Sets an account's password hash as a file brought it (an argon2 string no costlier than
/// the server's own, [`password::check_hash`]); only a server admin may. Like a reset, it
/// signs out whoever used the old password.
#[tracing::instrument(skip_all, fields(actor = %actor.username, user_id))]
pub async fn set_password_hash(
    db: &impl db::Conn,
    actor: &Actor,
    user_id: i32,
    hash: String,
) -> Result<(), AppError> {
    actor.require_server_admin()?;
    crate::server::password::check_hash(&hash)
        .map_err(|m| AppError::invalid("password_hash", m))?;
    let user = find_by_id(db, user_id).await?;
    store_hash(db, user, hash).await.map(drop)
}

/// Stores a new password (see [`store_hash`]).
async fn store_password(
    db: &impl db::Conn,
    hasher: &PasswordHasher,
    user: user::Model,
    password: &NewPassword,
) -> Result<user::Model, AppError> {
    let hash = hasher.hash(password.expose()).await?;
    store_hash(db, user, hash).await
}

/// Stores a new password hash. Whoever signed in with the old password is signed out: every
/// boot session of the user ends here, and every web session on its next request (its
/// [`credential_stamp`] no longer matches).
async fn store_hash(
    db: &impl db::Conn,
    user: user::Model,
    hash: String,
) -> Result<user::Model, AppError> {
    let mut active: user::ActiveModel = user.into();
    active.password_hash = Set(hash);
    active.must_change_password = Set(false);
    active.updated_at = Set(Utc::now());
    let txn = db.begin().await?;
    let user = active.update(&txn).await?;
    let ended = boot_sessions::end_all_of(&txn, user.id).await?;
    txn.commit().await?;
    tracing::info!(
        user_id = user.id,
        boot_sessions_ended = ended,
        "password changed"
    );
    Ok(user)
}

/// A short digest of a user's credentials, kept in their web sessions at sign-in: when the
/// password changes, so does the stamp, and older sessions stop working.
pub fn credential_stamp(user: &user::Model) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(&Sha256::digest(user.password_hash.as_bytes())[..12])
}

/// Sets another user's password; only a server admin may.
#[tracing::instrument(skip_all, fields(actor = %actor.username, username = %username))]
pub async fn set_password(
    db: &impl db::Conn,
    hasher: &PasswordHasher,
    actor: &Actor,
    username: &Username,
    password: &NewPassword,
) -> Result<(), AppError> {
    let user = find_by_username(db, actor, username).await?;
    store_password(db, hasher, user, password).await.map(drop)
}

/// Changes the actor's own password after checking the current one, and returns the user
/// as now stored. A wrong current password counts as a failed sign-in of the user (the same
/// throttle), so a stolen session cannot guess it.
#[tracing::instrument(skip_all, fields(actor = %actor.username))]
pub async fn change_own_password(
    db: &impl db::Conn,
    hasher: &PasswordHasher,
    settings: &Settings,
    actor: &Actor,
    client_address: Option<&str>,
    current: &str,
    new: &NewPassword,
) -> Result<user::Model, AppError> {
    let user_id = actor.user_id.ok_or(AppError::Unauthenticated)?;
    check_login_password(current).map_err(|m| AppError::invalid("current", m))?;
    let user = user::Entity::find_by_id(user_id)
        .one(db)
        .await?
        .ok_or(AppError::Unauthenticated)?;
    let username = Username::parse(&user.username).map_err(|_| AppError::Internal)?;
    let subjects = sign_in_subjects(&username, client_address, settings);
    slow_down(db, &subjects, settings).await?;
    let reservation = match throttle::reserve(db, &subjects, settings.throttle_window).await {
        Ok(reservation) => reservation,
        Err(refused @ AppError::RateLimited { .. }) => {
            tracing::warn!("password change refused: too many wrong current passwords");
            return Err(refused);
        }
        Err(other) => return Err(other),
    };
    if !hasher.verify(current, Some(&user.password_hash)).await? {
        tracing::info!("password change refused: wrong current password");
        return Err(AppError::invalid(
            "current",
            "The current password is not right.",
        ));
    }
    throttle::release(db, reservation).await?;
    if current == new.expose() {
        return Err(AppError::invalid(
            "new",
            "Choose a password different from the current one.",
        ));
    }
    store_password(db, hasher, user, new).await
}

/// The user a session points at, if it still exists and is enabled.
pub async fn active_user(
    db: &impl db::Conn,
    user_id: i32,
) -> Result<Option<user::Model>, AppError> {
    let found = user::Entity::find_by_id(user_id).one(db).await?;
    Ok(found.filter(|u| !u.is_disabled))
}

/// The length of a generated first-admin password.
const GENERATED_PASSWORD_LEN: usize = 20;

/// Creates the server admin `admin` with a random password when there are no users yet, and
/// returns that password (to be shown once). Returns `None` when users exist, including when
/// another process created the admin first.
pub async fn ensure_first_admin(
    db: &impl db::Conn,
    hasher: &PasswordHasher,
) -> Result<Option<String>, AppError> {
    if user::Entity::find().count(db).await? > 0 {
        return Ok(None);
    }
    let password = generate_password(GENERATED_PASSWORD_LEN);
    let new = NewUser {
        username: Username::parse("admin").map_err(|_| AppError::Internal)?,
        email: None,
        password: NewPassword::parse(&password).map_err(|_| AppError::Internal)?,
        is_server_admin: true,
    };
    match create_user(db, hasher, &Actor::operator(), new).await {
        Ok(admin) => {
            // The password went to a file: the admin chooses their own at first sign-in.
            let mut active: user::ActiveModel = admin.into();
            active.must_change_password = Set(true);
            active.update(db).await?;
            Ok(Some(password))
        }
        Err(AppError::Conflict { .. }) => Ok(None),
        Err(other) => Err(other),
    }
}

/// Whether the first-start admin (`admin`) still has to replace the generated password.
pub async fn first_admin_must_change(db: &impl db::Conn) -> Result<bool, AppError> {
    Ok(user::Entity::find()
        .filter(user::Column::Username.eq("admin"))
        .filter(user::Column::MustChangePassword.eq(true))
        .count(db)
        .await?
        > 0)
}

/// A random password of letters and digits, without look-alikes (0/O, 1/l/I).
pub fn generate_password(length: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    (0..length)
        .map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char)
        .collect()
}
