//! One entry of a boot menu, at its position: an image, a separator or an action.

use sea_orm::entity::prelude::*;

pub use crate::boot::MenuAction;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "menu_entries")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub menu_id: i32,
    pub position: i32,
    pub kind: EntryKind,
    pub image_id: Option<i32>,
    /// The separator's text.
    pub text: Option<String>,
    /// The action of an `action` entry.
    pub action: Option<MenuAction>,
    /// The target of a `chain` action.
    pub url: Option<String>,
    pub is_default: bool,
}

/// What an entry row is; its other columns follow from it.
#[derive(Copy, Clone, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "Text")]
pub enum EntryKind {
    #[sea_orm(string_value = "image")]
    Image,
    #[sea_orm(string_value = "separator")]
    Separator,
    #[sea_orm(string_value = "action")]
    Action,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
