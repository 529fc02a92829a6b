//! `ward serve`, `ward admin` (bootstrap the federation from the command line) and
//! `ward audit verify`.

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde_json::json;
use ward_store::{Role, Store};

use crate::{DbArgs, TextOrJson, exit};

#[derive(Args)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    pub(crate) db: DbArgs,
    /// Address to listen on (port 0 picks a free one; the address is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub(crate) listen: String,
    /// Policy that prioritises findings: a preset (ssvc-deployer, nhs-hsa, bod-26-04) or a TOML
    /// file; its organisation overrides apply to each member by slug.
    #[arg(long, default_value = "ssvc-deployer")]
    pub(crate) policy: String,
    /// Seconds between deadline checks (escalations, expired risk acceptances).
    #[arg(long, default_value_t = 60)]
    pub(crate) tick: u64,
    /// Seconds a notification being delivered is held; if the server dies meanwhile, it is
    /// delivered again after this (at least once).
    #[arg(long, default_value_t = 30)]
    pub(crate) delivery_hold: u64,
    /// SMTP relay for e-mail channels: smtp://[user:password@]host[:port] (STARTTLS required,
    /// port 587), smtps://… (TLS, port 465); ?tls=none only for a relay on this host.
    #[arg(long, env = "WARD_SMTP_URL", hide_env_values = true)]
    pub(crate) smtp: Option<String>,
    /// The From address of alert e-mails.
    #[arg(long, env = "WARD_SMTP_FROM", requires = "smtp")]
    pub(crate) smtp_from: Option<String>,
    /// A PEM file with a private CA that the SMTP relay's certificate is issued by (added to
    /// the Mozilla roots).
    #[arg(long, env = "WARD_SMTP_CA", requires = "smtp")]
    pub(crate) smtp_ca: Option<std::path::PathBuf>,
    /// Serve HTTPS: the PEM certificate chain (with --tls-key). HSTS is sent under TLS.
    #[arg(long, env = "WARD_TLS_CERT", requires = "tls_key")]
    pub(crate) tls_cert: Option<std::path::PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, env = "WARD_TLS_KEY", requires = "tls_cert")]
    pub(crate) tls_key: Option<std::path::PathBuf>,
    /// How log lines are written to stderr: `text`, or `json` (one object a line, for log
    /// collectors). Which lines: WARD_LOG or RUST_LOG, an env filter such as
    /// `info,ward_server=debug` (default `info`: every request, 5xx and background failure).
    #[arg(long, value_enum, default_value = "text", env = "WARD_LOG_FORMAT")]
    pub(crate) log_format: crate::LogFormat,
    /// An Ed25519 private key (PKCS#8 PEM, from `ward audit keygen`) kept outside the database:
    /// the audit chain's head is signed with it every --tick, so `ward audit verify --key`
    /// catches a chain rewritten by someone who can write the database.
    #[arg(long, env = "WARD_AUDIT_KEY", value_name = "FILE")]
    pub(crate) audit_key: Option<std::path::PathBuf>,
    /// Internal ranges notification channels may reach (CIDRs or addresses, comma-separated,
    /// e.g. 10.20.0.0/16,127.0.0.1). Without it webhooks and syslog reach only public
    /// addresses, and plain-http webhooks none: loopback, private, link-local (cloud
    /// metadata), unique-local and other reserved ranges are refused when Ward connects.
    #[arg(long, env = "WARD_ALLOW_TARGETS", value_name = "CIDR,…")]
    pub(crate) allow_targets: Option<String>,
    /// Database connections this server holds at most, 4 or more [default: 16 on PostgreSQL,
    /// 4 on SQLite]. Several servers on one PostgreSQL share its max_connections (100 by
    /// default); two of a server's connections may be holding its background jobs' locks.
    #[arg(long, env = "WARD_DB_POOL", value_parser = clap::value_parser!(u32).range(4..=1000))]
    pub(crate) db_pool: Option<u32>,
    /// Feeds imported over HTTP (`POST /api/v1/knowledge/imports`): the most one document may
    /// hold once decompressed; a bigger one stops the import, naming it.
    #[arg(long, value_name = "SIZE", default_value = "256MiB", value_parser = ward_feeds::parse_size)]
    pub(crate) max_document: u64,
    /// Follow the publishers' feeds on schedule: a feeds file (TOML `[[source]]` entries, as
    /// for `ward feeds sync`); each source is synced when its `every` has passed, one server
    /// at a time when several share PostgreSQL.
    #[arg(long, env = "WARD_FEEDS", value_name = "FILE")]
    pub(crate) feeds: Option<std::path::PathBuf>,
    /// Publish offline bundles to members: the newest `.tar.gz` in this folder (written by
    /// `ward feeds bundle -o DIR/…`, e.g. nightly) is `GET /api/v1/knowledge/bundles/latest`.
    #[arg(long, env = "WARD_BUNDLE_DIR", value_name = "DIR")]
    pub(crate) bundle_dir: Option<std::path::PathBuf>,
    /// Feeds imported over HTTP: the most one archive or compressed file may expand to in all.
    #[arg(long, value_name = "SIZE", default_value = "16GiB", value_parser = ward_feeds::parse_size)]
    pub(crate) max_archive: u64,
}

pub(crate) async fn serve(args: ServeArgs) -> anyhow::Result<u8> {
    let location = args.db.location();
    let policy = ward_priority::Policy::load(&args.policy)?;
    let feeds = args
        .feeds
        .as_deref()
        .map(ward_sync::Config::load)
        .transpose()?;
    let options = ward_store::OpenOptions {
        max_connections: args.db_pool,
    };
    let store = Store::open_with(&location, &options).await?;
    if store.central().await?.is_none() {
        tracing::warn!(
            "no central team yet: run `ward admin init --slug … --name …` to create it and its first token"
        );
    }
    let mailer = match &args.smtp {
        None => None,
        Some(url) => {
            let from = args
                .smtp_from
                .as_deref()
                .context("--smtp needs --smtp-from ADDRESS (the From of alert e-mails)")?;
            let ca = match &args.smtp_ca {
                Some(path) => Some(
                    std::fs::read(path).with_context(|| format!("--smtp-ca {}", path.display()))?,
                ),
                None => None,
            };
            Some(
                ward_server::notify::Mailer::new(url, from, ca.as_deref())
                    .map_err(anyhow::Error::msg)?,
            )
        }
    };
    let audit_key = match &args.audit_key {
        Some(path) => Some(read_signing_key(path)?),
        None => None,
    };
    let targets =
        ward_server::outbound::Targets::parse(args.allow_targets.as_deref().unwrap_or(""))
            .map_err(anyhow::Error::msg)?;
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            let _ = rustls::crypto::ring::default_provider().install_default();
            Some(
                axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
                    .await
                    .with_context(|| {
                        format!(
                            "TLS certificate {} or key {}",
                            cert.display(),
                            key.display()
                        )
                    })?,
            )
        }
        _ => None,
    };
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    // Scripts and tests read this line to find the server.
    let scheme = if tls.is_some() { "https" } else { "http" };
    println!("listening on {scheme}://{addr}");
    tracing::info!(
        database = %ward_store::redact(&location),
        backend = store.backend().as_str(),
        %addr,
        "serving"
    );
    use std::io::Write as _;
    std::io::stdout().flush()?;
    ward_server::serve(
        store,
        policy,
        listener,
        ward_server::ServeOptions {
            tick: std::time::Duration::from_secs(args.tick.max(1)),
            delivery_hold: std::time::Duration::from_secs(args.delivery_hold.max(1)),
            mailer,
            targets,
            audit_key,
            tls,
            import_limits: ward_import::Limits {
                document: args.max_document,
                archive: args.max_archive,
            },
            feeds,
            bundle_dir: args.bundle_dir.clone(),
        },
    )
    .await?;
    Ok(exit::OK)
}

#[derive(Subcommand)]
pub(crate) enum AdminCommand {
    /// Create the central team and its first central-admin token (printed once).
    Init {
        #[command(flatten)]
        db: DbArgs,
        /// Short name of the central team (lower-case letters, digits, hyphens).
        #[arg(long)]
        slug: String,
        /// Full name of the central team.
        #[arg(long)]
        name: String,
    },
    /// Member organisations.
    Org {
        #[command(subcommand)]
        command: OrgCommand,
    },
    /// API tokens: opaque, shown once, stored hashed, scoped to an organisation and a role.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// People who sign in with a password (the password is read from standard input).
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
}

#[derive(Subcommand)]
pub(crate) enum UserCommand {
    /// Create a user; the password (at least 12 characters) is the first line of standard
    /// input, stored as an Argon2id hash.
    Create {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        org: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        role: Role,
    },
    /// List people: address, organisation, role, created, disabled.
    List {
        #[command(flatten)]
        db: DbArgs,
        /// Only this organisation's (by slug).
        #[arg(long)]
        org: Option<String>,
        #[arg(long, value_enum, default_value = "text")]
        format: TextOrJson,
    },
    /// Disable a user: their sessions end now and they cannot sign in (audited).
    Disable {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        email: String,
    },
    /// Set a new password (the first line of standard input, same rules as `create`); ends the
    /// user's sessions and enables a disabled account (audited; the hash is never logged).
    ResetPassword {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        email: String,
    },
}

#[derive(Subcommand)]
pub(crate) enum OrgCommand {
    /// Add a member organisation.
    Create {
        #[command(flatten)]
        db: DbArgs,
        slug: String,
        name: String,
    },
    /// List the organisations.
    List {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long, value_enum, default_value = "text")]
        format: TextOrJson,
    },
}

#[derive(Subcommand)]
pub(crate) enum TokenCommand {
    /// Create a token; the secret is printed once on standard output.
    Create {
        #[command(flatten)]
        db: DbArgs,
        /// The organisation it acts for.
        #[arg(long)]
        org: String,
        /// central-admin, central-analyst (central team); member-admin, member-analyst,
        /// read-only (members; read-only for either).
        #[arg(long)]
        role: Role,
        /// What it is for ("hunt on web-01", "SIEM export").
        #[arg(long)]
        name: String,
    },
    /// List tokens (never their secrets).
    List {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long, value_enum, default_value = "text")]
        format: TextOrJson,
    },
    /// Revoke a token: it stops working at once.
    Revoke {
        #[command(flatten)]
        db: DbArgs,
        id: i64,
    },
}

/// A password from the first line of standard input (never an argument: it would show in
/// the process list and the shell's history).
fn read_password() -> anyhow::Result<String> {
    let mut password = String::new();
    std::io::stdin()
        .read_line(&mut password)
        .context("reading the password from standard input")?;
    Ok(password.trim_end_matches(['\r', '\n']).to_owned())
}

/// How the audit log names a command-line administrator: `cli:<os user>@<host>`, the account
/// from the operating system (not the `USER` variable, which a service manager may not set
/// and anyone can set), the host it ran on.
pub(crate) fn cli_actor() -> String {
    let user = whoami::username()
        .ok()
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "unknown".into());
    let host = whoami::hostname().unwrap_or_else(|_| "unknown-host".into());
    format!("cli:{user}@{host}")
}

pub(crate) async fn admin(command: AdminCommand) -> anyhow::Result<u8> {
    match command {
        AdminCommand::Init { db, slug, name } => {
            let store = Store::open(&db.location()).await?;
            if let Some(c) = store.central().await? {
                bail!("the central team exists already ({})", c.slug);
            }
            let org = store
                .create_organisation(&cli_actor(), &slug, &name, true)
                .await?;
            let (info, secret) = store
                .create_token(&cli_actor(), &org.slug, "bootstrap", Role::CentralAdmin)
                .await?;
            eprintln!(
                "created the central team {} and central-admin token {} ({}); keep it safe, it is not shown again:",
                org.slug, info.id, info.prefix
            );
            println!("{secret}");
            store.close().await;
        }
        AdminCommand::Org {
            command: OrgCommand::Create { db, slug, name },
        } => {
            let store = Store::open(&db.location()).await?;
            let org = store
                .create_organisation(&cli_actor(), &slug, &name, false)
                .await?;
            println!("created organisation {} ({})", org.slug, org.name);
            store.close().await;
        }
        AdminCommand::Org {
            command: OrgCommand::List { db, format },
        } => {
            let store = Store::open(&db.location()).await?;
            let orgs = store.organisations().await?;
            match format {
                TextOrJson::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&json!({"organisations": orgs}))?
                ),
                TextOrJson::Text => {
                    for o in orgs {
                        println!(
                            "{}\t{}{}",
                            o.slug,
                            o.name,
                            if o.central { "\t(central team)" } else { "" }
                        );
                    }
                }
            }
            store.close().await;
        }
        AdminCommand::Token {
            command:
                TokenCommand::Create {
                    db,
                    org,
                    role,
                    name,
                },
        } => {
            let store = Store::open(&db.location()).await?;
            let (info, secret) = store.create_token(&cli_actor(), &org, &name, role).await?;
            eprintln!(
                "created token {} ({}) for {} as {}; it is not shown again:",
                info.id, info.prefix, info.organisation, info.role
            );
            println!("{secret}");
            store.close().await;
        }
        AdminCommand::Token {
            command: TokenCommand::List { db, format },
        } => {
            let store = Store::open(&db.location()).await?;
            let tokens = store.tokens().await?;
            match format {
                TextOrJson::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&json!({"tokens": tokens}))?
                ),
                TextOrJson::Text => {
                    for t in tokens {
                        println!(
                            "{}\t{}…\t{}\t{}\t{}{}",
                            t.id,
                            t.prefix,
                            t.organisation,
                            t.role,
                            t.name,
                            t.revoked_at
                                .map(|r| format!("\trevoked {r}"))
                                .unwrap_or_default()
                        );
                    }
                }
            }
            store.close().await;
        }
        AdminCommand::User {
            command:
                UserCommand::Create {
                    db,
                    org,
                    email,
                    role,
                },
        } => {
            let password = read_password()?;
            let password = password.as_str();
            let store = Store::open(&db.location()).await?;
            let user = store
                .create_user(&cli_actor(), &org, &email, password, role)
                .await?;
            store.close().await;
            println!(
                "created user {} ({}) in {}",
                user.email, user.role, user.organisation
            );
        }
        AdminCommand::User {
            command: UserCommand::List { db, org, format },
        } => {
            let store = Store::open(&db.location()).await?;
            let scope = match &org {
                None => ward_store::Scope::operator(),
                Some(slug) => {
                    let o = store
                        .organisation_by_slug(slug)
                        .await?
                        .with_context(|| format!("no organisation {slug:?}"))?;
                    ward_store::Scope::operator()
                        .within(o.id)
                        .context("the operator reaches every organisation")?
                }
            };
            let users = store.users(scope).await?;
            store.close().await;
            match format {
                TextOrJson::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&json!({"users": users}))?
                ),
                TextOrJson::Text => {
                    for u in users {
                        println!(
                            "{}\t{}\t{}\t{}{}",
                            u.email,
                            u.organisation,
                            u.role,
                            u.created_at,
                            u.disabled_at
                                .map(|d| format!("\tdisabled {d}"))
                                .unwrap_or_default()
                        );
                    }
                }
            }
        }
        AdminCommand::User {
            command: UserCommand::Disable { db, email },
        } => {
            let store = Store::open(&db.location()).await?;
            let user = store
                .disable_user(&cli_actor(), ward_store::Scope::operator(), &email)
                .await;
            store.close().await;
            let user = user?;
            println!(
                "disabled user {} ({}) in {}",
                user.email, user.role, user.organisation
            );
        }
        AdminCommand::User {
            command: UserCommand::ResetPassword { db, email },
        } => {
            let password = read_password()?;
            let password = password.as_str();
            let store = Store::open(&db.location()).await?;
            let user = store
                .reset_password(
                    &cli_actor(),
                    ward_store::Scope::operator(),
                    &email,
                    password,
                )
                .await;
            store.close().await;
            let user = user?;
            println!(
                "new password set for {} ({}) in {}; their sessions ended",
                user.email, user.role, user.organisation
            );
        }
        AdminCommand::Token {
            command: TokenCommand::Revoke { db, id },
        } => {
            let store = Store::open(&db.location()).await?;
            let done = store.revoke_token(&cli_actor(), id.into()).await?;
            store.close().await;
            if !done {
                bail!("no unrevoked token {id}");
            }
            println!("revoked token {id}");
        }
    }
    Ok(exit::OK)
}

#[derive(Subcommand)]
pub(crate) enum AuditCommand {
    /// Check the audit log's hash chain: exit 0 when intact, 1 when an entry was changed or
    /// deleted (each problem is printed). With --key, also every checkpoint that key signed:
    /// a chain rewritten and recomputed by someone who could write the database is caught.
    Verify {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long, value_enum, default_value = "text")]
        format: TextOrJson,
        /// The checkpoint key: its public half (SPKI PEM) or the private key file.
        #[arg(long, value_name = "FILE")]
        key: Option<std::path::PathBuf>,
    },
    /// Make a checkpoint key: the private key (PKCS#8 PEM, mode 0600) to FILE, its public half
    /// to FILE.pub. Keep the private key off the database's machine's backups.
    Keygen {
        /// Where to write the private key (refused if it exists).
        #[arg(long, value_name = "FILE")]
        out: std::path::PathBuf,
    },
    /// Sign the chain's head now with the private key (as `ward serve --audit-key` does every
    /// tick).
    Checkpoint {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long, value_name = "FILE")]
        key: std::path::PathBuf,
    },
}

fn read_signing_key(path: &std::path::Path) -> anyhow::Result<ward_store::checkpoint::SigningKey> {
    let pem = std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))?;
    ward_store::checkpoint::signing_key(&pem)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

pub(crate) async fn audit(command: AuditCommand) -> anyhow::Result<u8> {
    let (db, format, key) = match command {
        AuditCommand::Keygen { out } => {
            let (private, public) =
                ward_store::checkpoint::generate().map_err(anyhow::Error::msg)?;
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options
                .open(&out)
                .with_context(|| format!("{} (it must not exist yet)", out.display()))?;
            std::io::Write::write_all(&mut file, private.as_bytes())?;
            let public_path = std::path::PathBuf::from(format!("{}.pub", out.display()));
            std::fs::write(&public_path, &public)?;
            let key = ward_store::checkpoint::verifying_key(&public).map_err(anyhow::Error::msg)?;
            println!(
                "key {} written: private {}, public {}",
                ward_store::checkpoint::key_id(&key),
                out.display(),
                public_path.display()
            );
            return Ok(exit::OK);
        }
        AuditCommand::Checkpoint { db, key } => {
            let key = read_signing_key(&key)?;
            let store = Store::open(&db.location()).await?;
            let made = store.sign_checkpoint(&key).await?;
            store.close().await;
            match made {
                Some(c) => println!("checkpoint signed: entry {} ({})", c.seq, c.hash),
                None => println!("the chain's head is signed already (or the log is empty)"),
            }
            return Ok(exit::OK);
        }
        AuditCommand::Verify { db, format, key } => (db, format, key),
    };
    let key = match key {
        Some(path) => {
            let pem =
                std::fs::read_to_string(&path).with_context(|| format!("{}", path.display()))?;
            Some(
                ward_store::checkpoint::verifying_key(&pem)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?,
            )
        }
        None => None,
    };
    let store = Store::open(&db.location()).await?;
    let (verdict, checkpoints) = match &key {
        Some(key) => store.verify_audit_signed(key).await?,
        None => (store.verify_audit().await?, Vec::new()),
    };
    store.close().await;
    match format {
        TextOrJson::Json => println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "entries": verdict.entries,
                "head_seq": verdict.head_seq,
                "problems": verdict.problems,
                "checkpoints": checkpoints,
            }))?
        ),
        TextOrJson::Text => {
            if verdict.problems.is_empty() {
                println!(
                    "audit log intact: {} entries, chain head {}",
                    verdict.entries, verdict.head_seq
                );
                if let Some(last) = checkpoints.last() {
                    println!(
                        "{} signed checkpoints hold; the newest vouches for entries up to {} (signed {})",
                        checkpoints.len(),
                        last.seq,
                        last.signed_at
                    );
                }
            } else {
                for p in &verdict.problems {
                    println!("tampered: {p}");
                }
            }
        }
    }
    Ok(if verdict.problems.is_empty() {
        exit::OK
    } else {
        exit::FOUND
    })
}
