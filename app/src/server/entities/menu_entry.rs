//! One entry of a boot menu, at its position: an image, a separator or an action.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "menu_entries")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub menu_id: i32,
    pub position: i32,
    /// `image`, `separator` or `action`.
    pub kind: String,
    pub image_id: Option<i32>,
    /// The separator's text.
    pub text: Option<String>,
    /// The action: `local_disk`, `reboot`, `poweroff`, `shell`, `exit` or `chain`.
    pub action: Option<String>,
    /// The target of a `chain` action.
    pub url: Option<String>,
    pub is_default: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
