//! Organisations (one central team, its members), roles, and who is calling.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use sqlx::Row;

use crate::audit::now;
use crate::{OrgId, Result, Store, StoreError};

/// What a token (and later a user) may do.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    CentralAdmin,
    CentralAnalyst,
    MemberAdmin,
    MemberAnalyst,
    ReadOnly,
}

impl Role {
    pub const ALL: [Self; 5] = [
        Self::CentralAdmin,
        Self::CentralAnalyst,
        Self::MemberAdmin,
        Self::MemberAnalyst,
        Self::ReadOnly,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::CentralAdmin => "central-admin",
            Self::CentralAnalyst => "central-analyst",
            Self::MemberAdmin => "member-admin",
            Self::MemberAnalyst => "member-analyst",
            Self::ReadOnly => "read-only",
        }
    }

    /// A central role: sees every organisation.
    pub fn is_central(self) -> bool {
        matches!(self, Self::CentralAdmin | Self::CentralAnalyst)
    }

    /// May change things (report, acknowledge, upload), not only read.
    pub fn can_write(self) -> bool {
        self != Self::ReadOnly
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown role {s:?}; expected one of central-admin, central-analyst, member-admin, member-analyst, read-only"
                )
            })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Organisation {
    pub id: OrgId,
    pub slug: String,
    pub name: String,
    pub central: bool,
    pub created_at: String,
}

/// Who is calling: a valid, unrevoked token's (or a signed-in user's) organisation and role.
///
/// Only the store makes principals (from a valid token or session): `non_exhaustive` keeps
/// other crates from writing one, and so from making a [`crate::Scope`] of their own:
///
/// ```compile_fail
/// # fn forge(organisation: ward_store::Organisation) {
/// let forged = ward_store::Principal {
///     credential: "token:1".into(),
///     organisation,
///     role: ward_store::Role::CentralAdmin,
/// };
/// # }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Principal {
    /// `token:<id>` or `user:<email>`.
    pub credential: String,
    pub organisation: Organisation,
    pub role: Role,
}

impl Principal {
    /// How the audit log names this caller.
    pub fn actor(&self) -> String {
        format!("{}@{}", self.credential, self.organisation.slug)
    }
}

pub(crate) fn organisation(row: &sqlx::any::AnyRow) -> Organisation {
    Organisation {
        id: row.get("id"),
        slug: row.get("slug"),
        name: row.get("name"),
        central: row.get::<i64, _>("central") == 1,
        created_at: row.get("created_at"),
    }
}

impl Store {
    pub async fn create_organisation(
        &self,
        actor: &str,
        slug: &str,
        name: &str,
        central: bool,
    ) -> Result<Organisation> {
        if slug.is_empty()
            || slug.len() > 64
            || !slug
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(StoreError::Invalid(format!(
                "organisation slug {slug:?}: use 1 to 64 lower-case letters, digits and hyphens"
            )));
        }
        if name.trim().is_empty() {
            return Err(StoreError::Invalid("organisation name is empty".into()));
        }
        let mut change = self.begin_change(actor).await?;
        let exists = sqlx::query("SELECT 1 FROM organisation WHERE slug = $1")
            .bind(slug)
            .fetch_optional(&mut *change.tx)
            .await?;
        if exists.is_some() {
            return Err(StoreError::Conflict(format!(
                "organisation {slug:?} exists already"
            )));
        }
        if central {
            let has = sqlx::query("SELECT slug FROM organisation WHERE central = 1")
                .fetch_optional(&mut *change.tx)
                .await?;
            if let Some(row) = has {
                return Err(StoreError::Conflict(format!(
                    "the central team is {:?} already; there is one",
                    row.get::<String, _>("slug")
                )));
            }
        }
        let row = sqlx::query(
            "INSERT INTO organisation (slug, name, central, created_at) VALUES ($1, $2, $3, $4)
             RETURNING id, slug, name, central, created_at",
        )
        .bind(slug)
        .bind(name)
        .bind(i64::from(central))
        .bind(now())
        .fetch_one(&mut *change.tx)
        .await?;
        let org = organisation(&row);
        change
            .created(
                Some(org.id),
                "organisation.create",
                &format!("organisation:{slug}"),
                &org,
            )
            .await?;
        change.commit().await?;
        Ok(org)
    }

    pub async fn organisations(&self) -> Result<Vec<Organisation>> {
        let rows = sqlx::query("SELECT id, slug, name, central, created_at FROM organisation ORDER BY central DESC, slug")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(organisation).collect())
    }

    pub async fn organisation_by_slug(&self, slug: &str) -> Result<Option<Organisation>> {
        let row = sqlx::query(
            "SELECT id, slug, name, central, created_at FROM organisation WHERE slug = $1",
        )
        .bind(slug)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(organisation))
    }

    /// When the central team was created, if it was (`ward admin init` has run).
    pub async fn central(&self) -> Result<Option<Organisation>> {
        let row = sqlx::query(
            "SELECT id, slug, name, central, created_at FROM organisation WHERE central = 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(organisation))
    }
}
