//! Users (Argon2id password hashes), browser sessions and login throttling.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use chrono::{Duration, SecondsFormat, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::audit::now;
use crate::organisations::organisation;
use crate::{Principal, Result, Role, Store, StoreError};

/// Failed logins allowed per (email, client address) within [`THROTTLE_WINDOW_MINUTES`]: the
/// lockout a guesser meets.
pub const MAX_FAILURES: i64 = 5;
/// Failed logins allowed per email from every address together: a slower limit, so that
/// strangers elsewhere cannot lock the owner out with a handful of guesses, yet a guesser
/// spread over many addresses is still stopped.
pub const MAX_FAILURES_PER_EMAIL: i64 = 50;
/// Failed logins allowed per client address over every email (one address trying many
/// accounts).
pub const MAX_FAILURES_PER_ADDRESS: i64 = 30;
pub const THROTTLE_WINDOW_MINUTES: i64 = 15;
/// The PostgreSQL advisory lock that makes reserving a login attempt atomic across servers.
const LOGIN_LOCK: i64 = 0x5741_5244_4c4f_4749; // "WARDLOGI"
/// How long a browser session lasts.
pub const SESSION_HOURS: i64 = 12;
/// The longest e-mail address (RFC 5321's limit on a path) and password Ward reads: longer
/// input is refused before any work (no hashing, no look-up, nothing stored).
pub const MAX_EMAIL: usize = 254;
pub const MAX_PASSWORD: usize = 1024;

#[derive(Debug, Clone, Serialize)]
pub struct UserInfo {
    pub id: i64,
    pub organisation: String,
    pub email: String,
    pub role: Role,
    pub created_at: String,
    /// When the account was disabled (it signs in no more); absent while it is active.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disabled_at: Option<String>,
}

/// A new session: the secret for the cookie (shown once), and the CSRF token forms must echo.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub secret: String,
    pub csrf_token: String,
    pub principal: Principal,
}

/// What a login attempt came to.
#[derive(Debug)]
pub enum Login {
    Ok(NewSession),
    /// Wrong email or password (never says which).
    Refused,
    /// Too many failures lately: try again later.
    Throttled,
}

/// Why a password is refused: fewer than 12 characters, or guessable (zxcvbn's estimate
/// below 3 of 4: common passwords, keyboard walks, repeats, words with digits, the address
/// itself).
pub fn password_problem(password: &str, email: &str) -> Option<String> {
    if password.chars().count() < 12 {
        return Some("use at least 12 characters".into());
    }
    if password.len() > MAX_PASSWORD {
        return Some(format!("at most {MAX_PASSWORD} bytes"));
    }
    let local = email.split('@').next().unwrap_or_default();
    let estimate = zxcvbn::zxcvbn(password, &[email, local]);
    if u8::from(estimate.score()) < 3 {
        let hint = estimate
            .feedback()
            .and_then(|f| f.warning().map(|w| w.to_string()))
            .unwrap_or_else(|| "it is too easy to guess".into());
        return Some(format!(
            "too easy to guess ({hint}); a few uncommon words together are stronger"
        ));
    }
    None
}

fn random_hex() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| StoreError::Invalid(format!("no randomness: {e}")))?;
    Ok(hex::encode(bytes))
}

fn sha256(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// A hash to verify against when the email is unknown, so that unknown and known emails take
/// the same time.
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| {
        Argon2::default()
            .hash_password(b"no such user")
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

impl Store {
    pub async fn create_user(
        &self,
        actor: &str,
        org_slug: &str,
        email: &str,
        password: &str,
        role: Role,
    ) -> Result<UserInfo> {
        let email = email.trim().to_lowercase();
        if !email.contains('@') || email.len() > MAX_EMAIL {
            return Err(StoreError::Invalid(format!(
                "email {email:?} is not an address"
            )));
        }
        if let Some(problem) = password_problem(password, &email) {
            return Err(StoreError::Invalid(format!("password: {problem}")));
        }
        let org = self
            .organisation_by_slug(org_slug)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("organisation {org_slug:?}")))?;
        if role.is_central() != org.central {
            return Err(StoreError::Invalid(format!(
                "role {role} does not fit organisation {org_slug:?}"
            )));
        }
        let owned = password.to_owned();
        let hash = crate::cpu::run(move || {
            Argon2::default()
                .hash_password(owned.as_bytes())
                .map(|h| h.to_string())
        })
        .await
        .map_err(|e| StoreError::Invalid(format!("password: {e}")))?;
        let mut change = self.begin_change(actor).await?;
        if sqlx::query("SELECT 1 FROM user_account WHERE email = $1")
            .bind(&email)
            .fetch_optional(&mut *change.tx)
            .await?
            .is_some()
        {
            return Err(StoreError::Conflict(format!(
                "user {email:?} exists already"
            )));
        }
        let created = now();
        let row = sqlx::query(
            "INSERT INTO user_account (organisation_id, email, password_hash, role, created_at)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(org.id)
        .bind(&email)
        .bind(&hash)
        .bind(role.as_str())
        .bind(&created)
        .fetch_one(&mut *change.tx)
        .await?;
        let user = UserInfo {
            id: row.get("id"),
            organisation: org.slug.clone(),
            email,
            role,
            created_at: created,
            disabled_at: None,
        };
        change
            .created(
                Some(org.id),
                "user.create",
                &format!("user:{}", user.id),
                &user,
            )
            .await?;
        change.commit().await?;
        Ok(user)
    }

    /// The people of the organisations in `scope`, by organisation and address.
    pub async fn users(&self, scope: crate::Scope) -> Result<Vec<UserInfo>> {
        let rows = sqlx::query(
            "SELECT u.id, o.slug, u.email, u.role, u.created_at, u.disabled_at
             FROM user_account u JOIN organisation o ON o.id = u.organisation_id
             WHERE ($1 IS NULL OR u.organisation_id = $1) ORDER BY o.slug, u.email",
        )
        .bind(scope.organisation())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(user_info).collect()
    }

    /// Disables a user in `scope`: their sessions end now and they sign in no more. Audited
    /// (`user.disable`). Disabling a disabled user changes nothing.
    pub async fn disable_user(
        &self,
        actor: &str,
        scope: crate::Scope,
        email: &str,
    ) -> Result<UserInfo> {
        let email = email.trim().to_lowercase();
        let mut change = self.begin_change(actor).await?;
        let (before, org) = user_in(&mut change, scope, &email).await?;
        if before.disabled_at.is_some() {
            return Ok(before);
        }
        sqlx::query("UPDATE user_account SET disabled_at = $1 WHERE id = $2")
            .bind(now())
            .bind(before.id)
            .execute(&mut *change.tx)
            .await?;
        end_sessions_and_log(change, scope, &email, before, org, "user.disable").await
    }

    /// Sets a new password for a user in `scope` (the same rules as a new account's), ends
    /// their sessions and lets a disabled account sign in again. Audited
    /// (`user.reset-password`; the hash is never in the log).
    pub async fn reset_password(
        &self,
        actor: &str,
        scope: crate::Scope,
        email: &str,
        password: &str,
    ) -> Result<UserInfo> {
        let email = email.trim().to_lowercase();
        if let Some(problem) = password_problem(password, &email) {
            return Err(StoreError::Invalid(format!("password: {problem}")));
        }
        let owned = password.to_owned();
        let hash = crate::cpu::run(move || {
            Argon2::default()
                .hash_password(owned.as_bytes())
                .map(|h| h.to_string())
        })
        .await
        .map_err(|e| StoreError::Invalid(format!("password: {e}")))?;
        let mut change = self.begin_change(actor).await?;
        let (before, org) = user_in(&mut change, scope, &email).await?;
        sqlx::query("UPDATE user_account SET password_hash = $1, disabled_at = NULL WHERE id = $2")
            .bind(&hash)
            .bind(before.id)
            .execute(&mut *change.tx)
            .await?;
        end_sessions_and_log(change, scope, &email, before, org, "user.reset-password").await
    }

    /// Deletes what no longer counts: login failures older than the throttle window, and
    /// expired sessions (neither is read after that). `ward serve` calls it every few seconds,
    /// off the login path, so a sign-in writes only its own attempt. Returns the rows deleted.
    pub async fn prune_logins(&self) -> Result<u64> {
        let since = (Utc::now() - Duration::minutes(THROTTLE_WINDOW_MINUTES))
            .to_rfc3339_opts(SecondsFormat::Millis, true);
        let _turn = self.write_turn().await;
        let failures = sqlx::query("DELETE FROM login_failure WHERE at <= $1")
            .bind(&since)
            .execute(&self.pool)
            .await?
            .rows_affected();
        let sessions = sqlx::query("DELETE FROM session WHERE expires_at <= $1")
            .bind(now())
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(failures + sessions)
    }

    /// Checks a password and opens a session; failures are counted per email and per client
    /// address, and too many lately refuse even a right password.
    pub async fn login(&self, email: &str, password: &str, client: &str) -> Result<Login> {
        // No account has an address or a password this long: refused before any work, and not
        // recorded (an anonymous caller cannot fill the database through the failure log).
        if email.len() > MAX_EMAIL || password.len() > MAX_PASSWORD {
            return Ok(Login::Refused);
        }
        let email = email.trim().to_lowercase();
        let since = (Utc::now() - Duration::minutes(THROTTLE_WINDOW_MINUTES))
            .to_rfc3339_opts(SecondsFormat::Millis, true);
        let keys = [
            (format!("pair:{email} {client}"), MAX_FAILURES),
            (format!("email:{email}"), MAX_FAILURES_PER_EMAIL),
            (format!("ip:{client}"), MAX_FAILURES_PER_ADDRESS),
        ];
        // The attempt is reserved before the password is checked: recorded as a failure, in a
        // transaction that sees every other attempt's reservation (PostgreSQL: an advisory
        // lock shared by every server; SQLite: the first statement writes, so the transaction
        // holds the one write lock), so a burst of concurrent guesses cannot all be evaluated.
        let turn = self.write_turn().await;
        let mut tx = self.pool.begin().await?;
        if self.backend == crate::Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(LOGIN_LOCK)
                .execute(&mut *tx)
                .await?;
        }
        let at = now();
        let attempt = random_hex()?;
        for (key, _) in &keys {
            sqlx::query("INSERT INTO login_failure (key, at, attempt) VALUES ($1, $2, $3)")
                .bind(key)
                .bind(&at)
                .bind(&attempt)
                .execute(&mut *tx)
                .await?;
        }
        let mut email_failures = 0;
        for (key, limit) in &keys {
            let n: i64 =
                sqlx::query("SELECT COUNT(*) AS n FROM login_failure WHERE key = $1 AND at > $2")
                    .bind(key)
                    .bind(&since)
                    .fetch_one(&mut *tx)
                    .await?
                    .get("n");
            if key.starts_with("email:") {
                email_failures = n;
            }
            // This attempt's own reservation is counted too.
            if n > *limit {
                tx.rollback().await?;
                drop(turn);
                // The first refusal of a window is audited (bounded: once per account and
                // window, whatever the rate of guesses).
                if key.starts_with("email:") && n == *limit + 1 {
                    self.audit_failed_login(&email, client, "session.login-throttled")
                        .await?;
                }
                return Ok(Login::Throttled);
            }
        }
        tx.commit().await?;
        drop(turn);
        let row = sqlx::query(
            "SELECT u.id AS user_id, u.password_hash, u.role, o.id, o.slug, o.name, o.central, o.created_at
             FROM user_account u JOIN organisation o ON o.id = u.organisation_id
             WHERE u.email = $1 AND u.disabled_at IS NULL",
        )
        .bind(&email)
        .fetch_optional(&self.pool)
        .await?;
        let stored: String = row
            .as_ref()
            .map_or_else(|| dummy_hash().to_owned(), |r| r.get("password_hash"));
        let guess = password.to_owned();
        let verified = crate::cpu::run(move || {
            PasswordHash::new(&stored).ok().is_some_and(|h| {
                Argon2::default()
                    .verify_password(guess.as_bytes(), &h)
                    .is_ok()
            })
        })
        .await;
        // A failure keeps its reservation; a success takes it back, with the pair's earlier
        // failures (the owner got in from there).
        let known = row.is_some();
        let (Some(row), true) = (row, verified) else {
            // A wrong password for an account is audited on the window's first failure (the
            // rest are counted, and throttled, not each logged); unknown addresses are not
            // (they name no one, and would let anyone fill the chain).
            if known && email_failures == 1 {
                self.audit_failed_login(&email, client, "session.login-failed")
                    .await?;
            }
            return Ok(Login::Refused);
        };
        let role: Role = row
            .get::<String, _>("role")
            .parse()
            .map_err(StoreError::Invalid)?;
        let principal = Principal {
            credential: format!("user:{email}"),
            organisation: organisation(&row),
            role,
        };
        let secret = random_hex()?;
        let csrf_token = random_hex()?;
        let expires = (Utc::now() + Duration::hours(SESSION_HOURS))
            .to_rfc3339_opts(SecondsFormat::Millis, true);
        let mut change = self.begin_change(&principal.actor()).await?;
        sqlx::query("DELETE FROM login_failure WHERE attempt = $1 OR key = $2")
            .bind(&attempt)
            .bind(&keys[0].0)
            .execute(&mut *change.tx)
            .await?;
        sqlx::query("INSERT INTO session (id_hash, user_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(sha256(&secret))
            .bind(row.get::<i64, _>("user_id"))
            .bind(&csrf_token)
            .bind(now())
            .bind(&expires)
            .execute(&mut *change.tx)
            .await?;
        change
            .log(
                Some(principal.organisation.id),
                "session.login",
                &principal.credential,
                None,
                None,
            )
            .await?;
        change.commit().await?;
        Ok(Login::Ok(NewSession {
            secret,
            csrf_token,
            principal,
        }))
    }

    /// Audits a refused sign-in to an existing account (`action`: failed or throttled).
    async fn audit_failed_login(&self, email: &str, client: &str, action: &str) -> Result<()> {
        let Some(org) = sqlx::query("SELECT organisation_id FROM user_account WHERE email = $1")
            .bind(email)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| r.get::<crate::OrgId, _>("organisation_id"))
        else {
            return Ok(());
        };
        let mut change = self.begin_change(&format!("user:{email}")).await?;
        change
            .log(
                Some(org),
                action,
                &format!("user:{email}"),
                None,
                Some(&serde_json::json!({
                    "client": client,
                    "window_minutes": THROTTLE_WINDOW_MINUTES,
                })),
            )
            .await?;
        change.commit().await
    }

    /// The principal and CSRF token of a live session.
    pub async fn session(&self, secret: &str) -> Result<Option<(Principal, String)>> {
        if secret.len() != 64 || !secret.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let row = sqlx::query(
            "SELECT s.csrf_token, u.email, u.role, o.id, o.slug, o.name, o.central, o.created_at
             FROM session s JOIN user_account u ON u.id = s.user_id JOIN organisation o ON o.id = u.organisation_id
             WHERE s.id_hash = $1 AND s.expires_at > $2 AND u.disabled_at IS NULL",
        )
        .bind(sha256(secret))
        .bind(now())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let role: Role = row
            .get::<String, _>("role")
            .parse()
            .map_err(StoreError::Invalid)?;
        Ok(Some((
            Principal {
                credential: format!("user:{}", row.get::<String, _>("email")),
                organisation: organisation(&row),
                role,
            },
            row.get("csrf_token"),
        )))
    }

    pub async fn logout(&self, secret: &str) -> Result<()> {
        let _turn = self.write_turn().await;
        sqlx::query("DELETE FROM session WHERE id_hash = $1")
            .bind(sha256(secret))
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

fn user_info(r: &sqlx::any::AnyRow) -> Result<UserInfo> {
    Ok(UserInfo {
        id: r.try_get("id")?,
        organisation: r.try_get("slug")?,
        email: r.try_get("email")?,
        role: r
            .try_get::<String, _>("role")?
            .parse()
            .map_err(StoreError::Invalid)?,
        created_at: r.try_get("created_at")?,
        disabled_at: r.try_get("disabled_at")?,
    })
}

/// The end of a change to an account: its sessions end, the entry records it before and
/// after, and the change commits.
async fn end_sessions_and_log(
    mut change: crate::audit::Change,
    scope: crate::Scope,
    email: &str,
    before: UserInfo,
    org: crate::OrgId,
    action: &str,
) -> Result<UserInfo> {
    sqlx::query("DELETE FROM session WHERE user_id = $1")
        .bind(before.id)
        .execute(&mut *change.tx)
        .await?;
    let (after, _) = user_in(&mut change, scope, email).await?;
    change
        .log(
            Some(org),
            action,
            &format!("user:{}", before.id),
            Some(&serde_json::to_value(&before).expect("serialisable")),
            Some(&serde_json::to_value(&after).expect("serialisable")),
        )
        .await?;
    change.commit().await?;
    Ok(after)
}

/// The user with this address in `scope`, with their organisation; not found otherwise (a
/// member's admin cannot reach another organisation's people).
async fn user_in(
    change: &mut crate::audit::Change,
    scope: crate::Scope,
    email: &str,
) -> Result<(UserInfo, crate::OrgId)> {
    let row = sqlx::query(
        "SELECT u.id, o.slug, u.email, u.role, u.created_at, u.disabled_at, u.organisation_id
         FROM user_account u JOIN organisation o ON o.id = u.organisation_id
         WHERE u.email = $1 AND ($2 IS NULL OR u.organisation_id = $2)",
    )
    .bind(email)
    .bind(scope.organisation())
    .fetch_optional(&mut *change.tx)
    .await?
    .ok_or_else(|| StoreError::NotFound(format!("user {email:?}")))?;
    Ok((user_info(&row)?, row.try_get("organisation_id")?))
}
