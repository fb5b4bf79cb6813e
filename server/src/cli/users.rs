//! `pxecloud user …`: accounts from the shell, passwords from a prompt or stdin, never argv.

use app::{
    error::AppError,
    server::{
        actor::Actor,
        password::PasswordHasher,
        services::accounts::{self, NewUser},
    },
    validate::{Email, NewPassword, Username},
};
use sea_orm::DatabaseConnection;
use std::io::{BufRead, IsTerminal, Write};

/// Why a user command failed.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("{0}")]
    Invalid(String),
    #[error("cannot read the password: {0}")]
    Read(#[from] std::io::Error),
    #[error("the passwords do not match")]
    Mismatch,
    #[error("there is no user `{0}`")]
    NoSuchUser(String),
    #[error("{0}")]
    App(AppError),
}

impl From<AppError> for UserError {
    fn from(error: AppError) -> Self {
        match error {
            AppError::Invalid { message, .. } | AppError::Conflict { message, .. } => {
                Self::Invalid(message)
            }
            other => Self::App(other),
        }
    }
}

/// Reads a new password: twice at a terminal, or the first line of stdin otherwise.
fn read_new_password(for_user: &str) -> Result<NewPassword, UserError> {
    let stdin = std::io::stdin();
    let password = if stdin.is_terminal() {
        let first = rpassword::prompt_password(format!("New password for {for_user}: "))?;
        let second = rpassword::prompt_password("Repeat it: ")?;
        if first != second {
            return Err(UserError::Mismatch);
        }
        first
    } else {
        let mut line = String::new();
        stdin.lock().read_line(&mut line)?;
        line.trim_end_matches(['\n', '\r']).to_owned()
    };
    NewPassword::parse(&password).map_err(UserError::Invalid)
}

/// `pxecloud user add`.
pub async fn add(
    db: &DatabaseConnection,
    hasher: &PasswordHasher,
    name: &str,
    email: Option<&str>,
    admin: bool,
) -> Result<(), UserError> {
    let username = Username::parse(name).map_err(UserError::Invalid)?;
    let email = Email::parse_optional(email.unwrap_or_default()).map_err(UserError::Invalid)?;
    let password = read_new_password(username.as_str())?;
    let new = NewUser {
        username,
        email,
        password,
        is_server_admin: admin,
    };
    let user = accounts::create_user(db, hasher, &Actor::operator(), new).await?;
    eprintln!(
        "created user {}{}",
        user.username,
        if user.is_server_admin {
            " (server admin)"
        } else {
            ""
        }
    );
    Ok(())
}

/// `pxecloud user passwd`.
pub async fn passwd(
    db: &DatabaseConnection,
    hasher: &PasswordHasher,
    name: &str,
) -> Result<(), UserError> {
    let username = Username::parse(name).map_err(UserError::Invalid)?;
    let operator = Actor::operator();
    match accounts::find_by_username(db, &operator, &username).await {
        Err(AppError::NotFound) => return Err(UserError::NoSuchUser(username.to_string())),
        other => other?,
    };
    let password = read_new_password(username.as_str())?;
    accounts::set_password(db, hasher, &operator, &username, &password).await?;
    eprintln!("changed the password of {username}");
    Ok(())
}

/// `pxecloud user list`: a table on stdout.
pub async fn list(db: &DatabaseConnection) -> Result<(), UserError> {
    let users = accounts::list_users(db, &Actor::operator()).await?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{:<24} {:<32} {:<7} STATE",
        "USERNAME", "EMAIL", "ROLE"
    )?;
    for user in users {
        writeln!(
            out,
            "{:<24} {:<32} {:<7} {}",
            user.username,
            user.email.unwrap_or_default(),
            if user.is_server_admin {
                "admin"
            } else {
                "user"
            },
            if user.is_disabled {
                "disabled"
            } else {
                "active"
            }
        )?;
    }
    Ok(())
}
