//! Who is acting, and what that lets them do in an organization.

use sea_orm::{ConnectionTrait, EntityTrait};

use super::entities::organization_member;
use crate::{error::AppError, model::Role};

/// The user on whose behalf a service runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// `None` for the local operator at the command line.
    pub user_id: Option<i32>,
    pub username: String,
    pub is_server_admin: bool,
}

impl Actor {
    /// The operator at the server's shell, who may do anything.
    pub fn operator() -> Self {
        Self {
            user_id: None,
            username: "operator".into(),
            is_server_admin: true,
        }
    }

    /// Refuses anyone but a server admin.
    pub fn require_server_admin(&self) -> Result<(), AppError> {
        if self.is_server_admin {
            Ok(())
        } else {
            Err(AppError::Forbidden)
        }
    }

    /// The actor's role in an organization, `None` when not a member.
    pub async fn role_in(
        &self,
        conn: &impl ConnectionTrait,
        organization_id: i32,
    ) -> Result<Option<Role>, AppError> {
        let Some(user_id) = self.user_id else {
            return Ok(None);
        };
        let membership = organization_member::Entity::find_by_id((organization_id, user_id))
            .one(conn)
            .await?;
        Ok(membership.map(|m| m.role))
    }

    /// Refuses unless the actor has at least `needed` in the organization (server admins
    /// always pass). Non-members are refused the same way whether or not it exists.
    pub async fn require_role(
        &self,
        conn: &impl ConnectionTrait,
        organization_id: i32,
        needed: Role,
    ) -> Result<(), AppError> {
        if self.is_server_admin {
            return Ok(());
        }
        match (self.role_in(conn, organization_id).await?, needed) {
            (Some(Role::Admin), _) | (Some(Role::Member), Role::Member) => Ok(()),
            _ => Err(AppError::Forbidden),
        }
    }
}
