//! The import file format: what `pxecloud import` reads and `pxecloud export` writes, and
//! how a problem in a file is reported (line and field).

use app::error::AppError;
use serde::{Deserialize, Serialize};
use toml::Spanned;

/// A problem in an import file, with where it is.
#[derive(Debug, thiserror::Error)]
#[error("{}{path}: {message}", line.map(|l| format!("line {l}: ")).unwrap_or_default())]
pub struct ImportError {
    pub line: Option<usize>,
    pub path: String,
    pub message: String,
}

/// A database error: logged with its cause, reported without it; nothing was changed.
impl From<sea_orm::DbErr> for ImportError {
    fn from(error: sea_orm::DbErr) -> Self {
        tracing::error!(%error, "import or export failed in the database");
        fail(None, "database", "the database failed; nothing was changed")
    }
}

/// The file format (also what `export` writes).
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<Spanned<UserDoc>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub organizations: Vec<Spanned<OrganizationDoc>>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UserDoc {
    pub username: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_hash: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub admin: bool,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MemberDoc {
    pub user: String,
    pub role: String,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OrganizationDoc {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default)]
    pub members: Vec<MemberDoc>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<Spanned<ImageDoc>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub menus: Vec<Spanned<MenuDoc>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<Spanned<GroupDoc>>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ImageDoc {
    pub title: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel: Option<String>,
    /// The initrd (empty for a kernel that boots alone), or the ISO.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub image: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot: Option<String>,
    #[serde(default)]
    pub args: Vec<String>,
    /// The library ISO (`file:<name>`) that `{iso}` and `{tree}` in `args` stand for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iso: Option<String>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MenuDoc {
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<i32>,
    #[serde(default)]
    pub entries: Vec<EntryDoc>,
}

/// One menu entry: exactly one of `image`, `separator`, `action` (with `url` for `chain`).
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EntryDoc {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub separator: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub default: bool,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GroupDoc {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub menu: Option<String>,
    #[serde(default)]
    pub members: Vec<String>,
}

/// Where a record is in the file: its first line and its path (`organizations[0].images[1]`).
#[derive(Debug, Clone)]
pub(super) struct At {
    pub line: Option<usize>,
    pub path: String,
}

impl At {
    pub fn new(line: Option<usize>, path: impl Into<String>) -> Self {
        Self {
            line,
            path: path.into(),
        }
    }

    /// A record inside this one, e.g. `images[1]`, starting at `line`.
    pub fn child(&self, line: Option<usize>, key: &str) -> Self {
        Self::new(line, format!("{}.{key}", self.path))
    }

    /// A problem with the record as a whole.
    pub fn fail(&self, message: impl Into<String>) -> ImportError {
        fail(self.line, self.path.clone(), message)
    }

    /// A problem with one of the record's fields.
    pub fn fail_at(&self, key: &str, message: impl Into<String>) -> ImportError {
        fail(self.line, format!("{}.{key}", self.path), message)
    }

    /// A service's answer about this record. A field error names the file's key for the
    /// service's field (`key` maps them), with the row of a list field (`args.2` is the
    /// second argument: `args[1]`).
    pub fn app(&self, error: AppError, key: impl Fn(&str) -> &str) -> ImportError {
        match error {
            AppError::Invalid { field, message } | AppError::Conflict { field, message } => {
                let field = match field.split_once('.') {
                    Some((name, row)) => format!(
                        "{}[{}]",
                        key(name),
                        row.parse::<usize>().map_or(0, |r| r.saturating_sub(1))
                    ),
                    None => key(&field).to_owned(),
                };
                self.fail_at(&field, message)
            }
            other => self.fail(other.to_string()),
        }
    }
}

/// Line numbers of byte offsets in the file.
pub(super) struct Lines<'a>(pub &'a str);

impl Lines<'_> {
    pub fn of<T>(&self, spanned: &Spanned<T>) -> Option<usize> {
        let offset = spanned.span().start.min(self.0.len());
        Some(self.0[..offset].matches('\n').count() + 1)
    }
}

pub(super) fn fail(
    line: Option<usize>,
    path: impl Into<String>,
    message: impl Into<String>,
) -> ImportError {
    ImportError {
        line,
        path: path.into(),
        message: message.into(),
    }
}

/// Parses a file without touching the database.
pub fn parse(text: &str) -> Result<Document, ImportError> {
    toml::from_str(text).map_err(|error| {
        let line = error
            .span()
            .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1);
        fail(line, "file", error.message().trim())
    })
}

/// Moves an error from its record's first line to the line of the field it names, when that
/// field is written on a line of its own within the record.
pub(super) fn refine(text: &str, mut error: ImportError) -> ImportError {
    let Some(start) = error.line else {
        return error;
    };
    let keys: Vec<&str> = error
        .path
        .split('.')
        .skip(1)
        .map(|part| part.split('[').next().unwrap_or_default())
        .collect();
    let record: Vec<&str> = text
        .lines()
        .skip(start - 1)
        .take_while({
            let mut first = true;
            move |line| std::mem::replace(&mut first, false) || !line.trim_start().starts_with('[')
        })
        .collect();
    for key in keys.iter().rev() {
        let found = record.iter().position(|line| {
            line.trim_start()
                .strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        });
        if let Some(offset) = found {
            error.line = Some(start + offset);
            break;
        }
    }
    error
}
