//! API tokens: 256-bit secrets shown once, stored as SHA-256, revocable.

use chrono::{SecondsFormat, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::audit::now;
use crate::organisations::organisation;
use crate::{Principal, Result, Role, Store, StoreError, TokenId};

/// An API token as listed (never the secret).
#[derive(Debug, Clone, Serialize)]
pub struct TokenInfo {
    pub id: TokenId,
    pub organisation: String,
    pub name: String,
    pub role: Role,
    pub prefix: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
    pub last_used_at: Option<String>,
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl Store {
    /// Creates a token for an organisation; returns it with its secret, which is shown once and
    /// stored only as a SHA-256 hash. Central roles need the central organisation, member roles
    /// a member.
    pub async fn create_token(
        &self,
        actor: &str,
        org_slug: &str,
        name: &str,
        role: Role,
    ) -> Result<(TokenInfo, String)> {
        let org = self
            .organisation_by_slug(org_slug)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("organisation {org_slug:?}")))?;
        if role.is_central() != org.central {
            return Err(StoreError::Invalid(format!(
                "role {role} is for {} organisation; {org_slug:?} is {}",
                if role.is_central() {
                    "the central"
                } else {
                    "a member"
                },
                if org.central {
                    "the central team"
                } else {
                    "a member"
                }
            )));
        }
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)
            .map_err(|e| StoreError::Invalid(format!("no randomness: {e}")))?;
        let secret = format!("ward_{}", hex::encode(bytes));
        let prefix: String = secret.chars().take(12).collect();
        let mut change = self.begin_change(actor).await?;
        let created = now();
        let row = sqlx::query(
            "INSERT INTO api_token (organisation_id, name, role, token_hash, prefix, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(org.id)
        .bind(name)
        .bind(role.as_str())
        .bind(token_hash(&secret))
        .bind(&prefix)
        .bind(&created)
        .fetch_one(&mut *change.tx)
        .await?;
        let info = TokenInfo {
            id: row.get("id"),
            organisation: org.slug.clone(),
            name: name.to_owned(),
            role,
            prefix,
            created_at: created,
            revoked_at: None,
            last_used_at: None,
        };
        change
            .created(
                Some(org.id),
                "token.create",
                &format!("token:{}", info.id),
                &info,
            )
            .await?;
        change.commit().await?;
        Ok((info, secret))
    }

    /// Revokes a token; `false` when there is no such unrevoked token.
    pub async fn revoke_token(&self, actor: &str, id: TokenId) -> Result<bool> {
        let mut change = self.begin_change(actor).await?;
        let row = sqlx::query(
            "UPDATE api_token SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL RETURNING organisation_id",
        )
        .bind(now())
        .bind(id)
        .fetch_optional(&mut *change.tx)
        .await?;
        let Some(row) = row else {
            return Ok(false);
        };
        change
            .log(
                Some(row.get("organisation_id")),
                "token.revoke",
                &format!("token:{id}"),
                Some(&serde_json::json!({"revoked": false})),
                Some(&serde_json::json!({"revoked": true})),
            )
            .await?;
        change.commit().await?;
        Ok(true)
    }

    pub async fn tokens(&self) -> Result<Vec<TokenInfo>> {
        let rows = sqlx::query(
            "SELECT t.id, o.slug, t.name, t.role, t.prefix, t.created_at, t.revoked_at, t.last_used_at
             FROM api_token t JOIN organisation o ON o.id = t.organisation_id ORDER BY t.id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(TokenInfo {
                    id: r.get("id"),
                    organisation: r.get("slug"),
                    name: r.get("name"),
                    role: r
                        .get::<String, _>("role")
                        .parse()
                        .map_err(StoreError::Invalid)?,
                    prefix: r.get("prefix"),
                    created_at: r.get("created_at"),
                    revoked_at: r.get("revoked_at"),
                    last_used_at: r.get("last_used_at"),
                })
            })
            .collect()
    }

    /// The principal a bearer token stands for, or `None` (unknown, revoked, malformed).
    pub async fn authenticate(&self, token: &str) -> Result<Option<Principal>> {
        if !token.starts_with("ward_") || token.len() != 69 {
            return Ok(None);
        }
        let row = sqlx::query(
            "SELECT t.id AS token_id, t.role, o.id, o.slug, o.name, o.central, o.created_at
             FROM api_token t JOIN organisation o ON o.id = t.organisation_id
             WHERE t.token_hash = $1 AND t.revoked_at IS NULL",
        )
        .bind(token_hash(token))
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let role: Role = row
            .get::<String, _>("role")
            .parse()
            .map_err(StoreError::Invalid)?;
        let token_id: i64 = row.get("token_id");
        // Noted in memory: a read never waits for a write (an import holding SQLite's write
        // lock, say); `flush_token_uses` records the uses every few seconds.
        self.token_uses
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(
                token_id,
                Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
            );
        Ok(Some(Principal {
            credential: format!("token:{token_id}"),
            organisation: organisation(&row),
            role,
        }))
    }

    /// Records when each token noted since the last flush was last used (the server calls
    /// this every few seconds, and `close` once more); the number recorded.
    pub async fn flush_token_uses(&self) -> Result<usize> {
        let uses = std::mem::take(
            &mut *self
                .token_uses
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        if uses.is_empty() {
            return Ok(0);
        }
        let _turn = self.write_turn().await;
        let mut tx = self.pool.begin().await?;
        for (id, at) in &uses {
            sqlx::query(
                "UPDATE api_token SET last_used_at = $1
                 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $1)",
            )
            .bind(at)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(uses.len())
    }
}
