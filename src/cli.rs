//! The self-hoster's commands besides `serve`: each prints its result on stdout and its
//! errors on stderr (through `main`), so scripts can rely on both.

use std::io::BufRead;

use anyhow::{anyhow, bail, Context};

use crate::auth::password;
use crate::config::{
    AuditCommand, ImportCommand, KeysCommand, ProjectCommand, UserCommand, WebhooksCommand,
};
use crate::db::api_keys::{KeyChange, KeyRequest, Revoked};
use crate::db::{self, DatabaseUrl, Pool};
use crate::domain::account::{EmailAddress, ExistingAccount, Password, ProjectName};
use crate::domain::actor::Actor;
use crate::domain::api_key::{hash_token, masked_prefix, ApiKeyName, PREFIX_CHARS};
use crate::domain::expiry::{self, Expiry};
use crate::domain::ids::{CallId, KeyId, ProjectId};
use crate::domain::ip_rules::IpRules;
use crate::domain::key_change::Overlap;
use crate::domain::key_status::KeyStatus;
use crate::domain::one_time_token::OneTimeToken;
use crate::domain::role::Role;
use crate::domain::scope::Scope;
use crate::{startup, time};

/// A failed command's one line for the database's disk being full, naming the file (or the
/// server) — instead of the SQL error, which says "database or disk is full" at best.
pub fn explain_failure(url: &DatabaseUrl, e: anyhow::Error) -> anyhow::Error {
    let full = e.chain().any(|cause| {
        cause
            .downcast_ref::<db::DbError>()
            .is_some_and(db::DbError::is_disk_full)
            || matches!(
                cause.downcast_ref::<startup::StartError>(),
                Some(startup::StartError::Database { cause, .. }) if cause.is_disk_full()
            )
    }) || sqlite_io_error_on_a_full_disk(url, &e);
    if !full {
        return e;
    }
    match url {
        DatabaseUrl::Sqlite(path) => anyhow!(
            "the disk holding {path} is full: free some space on it and run the command again"
        ),
        DatabaseUrl::Postgres(_) => anyhow!(
            "the disk of the PostgreSQL server at {} is full: free some space on it and run \
             the command again",
            url.redacted()
        ),
    }
}

/// SQLite that cannot even create its `-wal` file says "disk I/O error", not "full": told
/// apart by the space left on the file's filesystem (less than one 64 KiB WAL chunk).
fn sqlite_io_error_on_a_full_disk(url: &DatabaseUrl, e: &anyhow::Error) -> bool {
    let DatabaseUrl::Sqlite(path) = url else {
        return false;
    };
    if !format!("{e:#}").contains("disk I/O error") {
        return false;
    }
    let dir = std::path::Path::new(path)
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let Ok(dir) = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    // SAFETY: statvfs only writes the struct passed to it; `dir` is a valid C string.
    #[allow(unsafe_code)]
    let free = unsafe {
        let mut fs: libc::statvfs = std::mem::zeroed();
        (libc::statvfs(dir.as_ptr(), &mut fs) == 0).then(|| fs.f_bavail as u64 * fs.f_frsize as u64)
    };
    free.is_some_and(|bytes| bytes < 64 * 1024)
}

async fn open(url: &DatabaseUrl) -> anyhow::Result<Pool> {
    db::open(url, db::PoolUse::Command).await.map_err(|cause| {
        startup::StartError::Database {
            url: url.redacted(),
            cause,
        }
        .into()
    })
}

/// `callem migrate`.
pub async fn migrate(url: &DatabaseUrl) -> anyhow::Result<()> {
    // Opening the database applies pending migrations.
    open(url).await?;
    eprintln!("database at {} is up to date", url.redacted());
    Ok(())
}

/// The `--project` argument as an id (one no project can have names none).
fn project_id(given: &str) -> anyhow::Result<ProjectId> {
    ProjectId::parse(given).map_err(|_| anyhow!("no project with id '{given}'"))
}

async fn require_project(pool: &Pool, project_id: &ProjectId) -> anyhow::Result<()> {
    let id = project_id.clone();
    let found = db::run(pool, move |conn| Ok(db::projects::find(conn, &id)?)).await?;
    match found {
        Some(_) => Ok(()),
        None => bail!("no project with id '{project_id}'"),
    }
}

/// Runs `op` once the project is known to exist, in the same database call (one round trip
/// for the check and the work): "no project with id …" otherwise.
async fn in_project<T, F>(pool: &Pool, project_id: &ProjectId, op: F) -> anyhow::Result<T>
where
    T: Send + 'static,
    F: FnOnce(&mut db::DbConnection, ProjectId) -> Result<T, db::DbError> + Send + 'static,
{
    let id = project_id.clone();
    let done = db::run(pool, move |conn| {
        if db::projects::find(conn, &id)?.is_none() {
            return Ok(None);
        }
        op(conn, id).map(Some)
    })
    .await?;
    done.ok_or_else(|| anyhow!("no project with id '{project_id}'"))
}

/// `callem project …`.
pub async fn project(url: &DatabaseUrl, cmd: ProjectCommand) -> anyhow::Result<()> {
    match cmd {
        ProjectCommand::Create { name } => {
            let name = ProjectName::parse(&name).map_err(|e| anyhow!("--name: {e}"))?;
            let pool = open(url).await?;
            let id = db::run(&pool, move |conn| {
                db::projects::create(conn, name.as_str(), &Actor::command_line(), time::now())
            })
            .await?;
            println!("{id}");
            Ok(())
        }
    }
}

/// `callem user …`; the password is one line on stdin.
pub async fn user(url: &DatabaseUrl, cmd: UserCommand) -> anyhow::Result<()> {
    match cmd {
        UserCommand::ResetPassword {
            email,
            public_url,
            bind,
        } => {
            let email = EmailAddress::parse(&email).map_err(|e| anyhow!("--email: {e}"))?;
            // The same rule as the server's: CALLEM_PUBLIC_URL, else CALLEM_BIND.
            let public = crate::origin::parse_public_url(&public_url).map_err(|e| anyhow!(e))?;
            let base = crate::config::link_base(public.as_ref(), &bind).ok_or_else(|| {
                anyhow!(
                    "no link can be made: {} (or pass --public-url)",
                    crate::config::NO_LINK_BASE
                )
            })?;
            let pool = open(url).await?;
            let token = OneTimeToken::generate();
            let hash = token.hash();
            let address = email.as_str().to_owned();
            let found = db::run(&pool, move |conn| {
                let Some(user) = db::users::find_by_email(conn, &address)? else {
                    return Ok(false);
                };
                db::password_resets::create(conn, &user.id, &hash, time::now())?;
                Ok(true)
            })
            .await?;
            if !found {
                bail!("no account with the email '{}'", email.as_str());
            }
            // The link alone on stdout, for scripts; what it does on stderr.
            println!("{base}/reset-password/{}", token.expose());
            eprintln!(
                "valid for 1 hour, once; setting a password with it signs {} out everywhere",
                email.as_str()
            );
            Ok(())
        }
        UserCommand::Create {
            email,
            project,
            role,
            reset_password,
        } => {
            let email = EmailAddress::parse(&email).map_err(|e| anyhow!("--email: {e}"))?;
            let role: Role = role.parse().map_err(|e| anyhow!("--role: {e}"))?;
            let project = project_id(&project)?;
            let pool = open(url).await?;
            require_project(&pool, &project).await?;
            let lookup = email.as_str().to_owned();
            let existing = db::run(&pool, move |conn| {
                Ok(db::users::find_by_email(conn, &lookup)?)
            })
            .await?;
            let existing = existing
                .map(|u| ExistingAccount::decide(u.email_verified_at.is_some(), reset_password));
            if existing == Some(ExistingAccount::Refuse) {
                bail!(
                    "an account for {} already exists, made from an invitation link that was shown                      rather than emailed, so nobody has shown that the address is theirs; run                      again with --reset-password to set its password from stdin (signing it out                      everywhere) and add it, or invite the address from Settings → Team",
                    email.as_str()
                );
            }
            let hash = match existing {
                Some(ExistingAccount::Add) => None,
                _ => {
                    let line = read_password_line()?;
                    let pw = Password::parse(&line).map_err(|e| anyhow!("password: {e}"))?;
                    Some(
                        tokio::task::spawn_blocking(move || password::hash(&pw))
                            .await?
                            .map_err(|e| anyhow!(e))?,
                    )
                }
            };
            let reset = existing == Some(ExistingAccount::ResetPasswordAndAdd);
            let added = db::run(&pool, move |conn| {
                if reset {
                    let hash = hash.as_deref().unwrap_or_default();
                    return Ok(db::users::reset_password_and_add(
                        conn,
                        email.as_str(),
                        hash,
                        &project,
                        role,
                        time::now(),
                    )?
                    .map(|id| (id, false)));
                }
                db::users::add_to_project(
                    conn,
                    email.as_str(),
                    hash.as_deref(),
                    &project,
                    role,
                    time::now(),
                )
            })
            .await?;
            let (user_id, created) = added.ok_or_else(|| {
                anyhow!("the user could not be created (an account with that email appeared meanwhile: run the command again)")
            })?;
            match (created, reset) {
                (true, _) => {}
                (false, true) => eprintln!(
                    "user already existed: password replaced, signed out everywhere, added to the \
                     project as {role}"
                ),
                (false, false) => eprintln!(
                    "user already existed: added to the project as {role} (password unchanged)"
                ),
            }
            println!("{user_id}");
            Ok(())
        }
    }
}

fn read_password_line() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from stdin")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// `callem keys …`, with the dashboard's validation.
pub async fn keys(url: &DatabaseUrl, cmd: KeysCommand) -> anyhow::Result<()> {
    match cmd {
        KeysCommand::Create {
            project,
            name,
            allowed_ips,
            expires,
            scope,
        } => {
            let name = ApiKeyName::parse(&name).map_err(|e| anyhow!("--name: {e}"))?;
            let rules = IpRules::parse(&allowed_ips).map_err(|e| anyhow!("--allowed-ips: {e}"))?;
            let expiry = Expiry::from_cli(&expires, time::now().date())
                .map_err(|e| anyhow!("--expires: {e}"))?;
            let scope = scope
                .parse::<Scope>()
                .map_err(|e| anyhow!("--scope: {e}"))?;
            let project = project_id(&project)?;
            let pool = open(url).await?;
            let (_, secret) = in_project(&pool, &project, move |conn, project| {
                let request = KeyRequest {
                    project_id: &project,
                    name: &name,
                    rules: &rules,
                    expiry,
                    scope,
                    actor: &Actor::command_line(),
                };
                db::api_keys::issue(conn, &request, time::now())
            })
            .await?;
            println!("{}", secret.expose_secret());
            Ok(())
        }
        KeysCommand::List { project } => {
            let project = project_id(&project)?;
            let pool = open(url).await?;
            let keys = in_project(&pool, &project, move |conn, project| {
                Ok(db::api_keys::list_active(conn, &project)?)
            })
            .await?;
            let now = time::now();
            let mut rows = vec![[
                "ID".to_owned(),
                "NAME".to_owned(),
                "KEY PREFIX".to_owned(),
                "IP RESTRICTION".to_owned(),
                "LAST USED".to_owned(),
                "EXPIRES".to_owned(),
                "SCOPE".to_owned(),
                "STATUS".to_owned(),
            ]];
            for k in keys {
                let ips = IpRules::from_storage(&k.allowed_ips)
                    .map(|r| r.summary())
                    .unwrap_or_default();
                let last = k
                    .last_used_at
                    .map(|t| format!("{} ({})", time::relative(t, now), time::full_label(t)))
                    .unwrap_or_else(|| "Never".to_owned());
                let exp = match k.expires_at {
                    None => "Never".to_owned(),
                    Some(at) if expiry::is_expired(Some(at), now) => {
                        format!("Expired {}", time::date_label(at))
                    }
                    Some(at) => time::date_label(at),
                };
                let status =
                    KeyStatus::of(k.expires_at, k.revoked_at, k.replaced_by.is_some(), now).label();
                rows.push([
                    k.id.into_string(),
                    k.name,
                    masked_prefix(&k.prefix),
                    ips,
                    last,
                    exp,
                    k.scope.as_str().to_owned(),
                    status,
                ]);
            }
            print_table(&rows);
            Ok(())
        }
        KeysCommand::Revoke { project, key_id } => {
            let project = project_id(&project)?;
            let pool = open(url).await?;
            // An id no key can have is looked for all the same: a missing project is said first.
            let kid = KeyId::parse(&key_id).ok();
            let outcome = in_project(&pool, &project, move |conn, project| match kid {
                Some(kid) => {
                    db::api_keys::revoke(conn, &project, &kid, &Actor::command_line(), time::now())
                }
                None => Ok(Revoked::NotFound),
            })
            .await?;
            match outcome {
                Revoked::Now(name) => println!("revoked {key_id} ({name})"),
                Revoked::Already(name) => println!("{key_id} ({name}) was already revoked"),
                Revoked::NotFound => bail!("no key with id '{key_id}' in this project"),
            }
            Ok(())
        }
        KeysCommand::Roll {
            project,
            key_id,
            overlap,
        } => {
            let overlap = Overlap::parse(&overlap).map_err(|e| anyhow!("--overlap: {e}"))?;
            let project = project_id(&project)?;
            let pool = open(url).await?;
            let kid = KeyId::parse(&key_id).ok();
            let outcome = in_project(&pool, &project, move |conn, project| {
                let Some(kid) = kid else {
                    return Ok(KeyChange::NotFound);
                };
                let by = Actor::command_line();
                db::api_keys::roll(conn, &project, &kid, overlap, None, &by, time::now())
            })
            .await?;
            match outcome {
                KeyChange::Done(rolled) => {
                    // The new key alone on stdout, for scripts; what happened on stderr.
                    println!("{}", rolled.secret.expose_secret());
                    eprintln!(
                        "rolled {key_id} ({}): new key {}; the old key works until {}",
                        rolled.name,
                        rolled.new_key_id,
                        time::full_label(rolled.old_stops_at)
                    );
                    Ok(())
                }
                KeyChange::Refused(why) => bail!("{why}"),
                KeyChange::NotFound | KeyChange::Unchanged => {
                    bail!("no key with id '{key_id}' in this project")
                }
            }
        }
        KeysCommand::Check { file } => check(url, file).await,
    }
}

/// A command's verdict that is no error but must show in its exit status (`keys check`
/// finding an active key): `main` exits with it, without an error line.
#[derive(Debug)]
pub struct ExitStatus(pub u8);

impl std::fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit status {}", self.0)
    }
}

impl std::error::Error for ExitStatus {}

/// `callem keys check`: the keys in a text, each with what this server knows of it; never
/// the full key. Fails with [`ExitStatus`] 1 when one of them is active.
async fn check(url: &DatabaseUrl, file: Option<String>) -> anyhow::Result<()> {
    use std::io::Read;
    let mut bytes = Vec::new();
    match file.as_deref() {
        None | Some("-") => std::io::stdin()
            .lock()
            .read_to_end(&mut bytes)
            .context("reading stdin")?,
        Some(path) => std::fs::File::open(path)
            .and_then(|mut f| f.read_to_end(&mut bytes))
            .with_context(|| format!("cannot read {path}"))?,
    };
    let text = crate::domain::leak::decode_text(&bytes);
    let found = crate::domain::leak::find_keys(&text);
    if found.is_empty() {
        eprintln!("no keys found");
        return Ok(());
    }
    let hashes: Vec<_> = found.iter().map(|k| hash_token(k)).collect();
    let pool = open(url).await?;
    let lookup = hashes.clone();
    let keys = db::run(&pool, move |conn| {
        Ok(db::api_keys::find_by_hashes(conn, &lookup)?)
    })
    .await?;
    let keys: std::collections::HashMap<_, _> =
        keys.into_iter().map(|k| (k.key_hash.clone(), k)).collect();
    let now = time::now();
    let mut rows = vec![[
        "KEY PREFIX".to_owned(),
        "PROJECT".to_owned(),
        "NAME".to_owned(),
        "STATUS".to_owned(),
    ]];
    let mut active = 0;
    for (token, hash) in found.iter().zip(&hashes) {
        let prefix = masked_prefix(&token[..PREFIX_CHARS]);
        let row = match keys.get(hash) {
            Some(k) => {
                let status =
                    KeyStatus::of(k.expires_at, k.revoked_at, k.replaced_by.is_some(), now);
                let word = match status {
                    KeyStatus::Revoked => "revoked",
                    s if s.is_active() => "active",
                    _ => "expired",
                };
                active += usize::from(word == "active");
                [
                    prefix,
                    k.project_id.to_string(),
                    k.name.clone(),
                    word.to_owned(),
                ]
            }
            None => [prefix, "—".to_owned(), "—".to_owned(), "unknown".to_owned()],
        };
        rows.push(row);
    }
    print_table(&rows);
    let n = found.len();
    eprintln!(
        "found {n} key{}, {active} of them active{}",
        if n == 1 { "" } else { "s" },
        if active > 0 {
            ": revoke them now (the dashboard, `callem keys revoke`, or POST /v1/leaked-keys)"
        } else {
            ""
        }
    );
    if active > 0 {
        return Err(ExitStatus(1).into());
    }
    Ok(())
}

fn print_table<const N: usize>(rows: &[[String; N]]) {
    let mut widths = [0usize; N];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in rows {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        println!("{}", line.join("  ").trim_end());
    }
}

/// `callem import calls`: validates every line first, then stores all calls in one
/// transaction, showing progress on stderr.
pub async fn import(url: &DatabaseUrl, cmd: ImportCommand) -> anyhow::Result<()> {
    let ImportCommand::Calls {
        project,
        file,
        webhooks,
    } = cmd;
    let reader: Box<dyn BufRead> = if file == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(&file).with_context(|| format!("cannot open {file}"))?,
        ))
    };
    let project = project_id(&project)?;
    let rows = crate::import::read_calls(reader, &project, time::now())?;
    let pool = open(url).await?;
    require_project(&pool, &project).await?;
    let count = rows.len();
    let ids: Vec<CallId> = rows.iter().map(|r| r.call.id.clone()).collect();
    let clash = db::run(&pool, move |conn| Ok(db::calls::existing_ids(conn, &ids)?)).await?;
    if let Some(id) = clash.first() {
        let line = rows
            .iter()
            .find(|r| &r.call.id == id)
            .map(|r| r.line)
            .unwrap_or(0);
        bail!("line {line}: a call with id '{id}' already exists; nothing was imported");
    }
    let calls: Vec<_> = rows.into_iter().map(|r| r.call).collect();
    let mut progress = crate::import::Progress::new("importing calls", count);
    let imported = db::run(&pool, move |conn| {
        db::calls::insert_all(
            conn,
            &calls,
            webhooks.then_some(crate::api::dto::call_json as db::webhook_outbox::CallJson),
            |done| progress.update(done),
        )
    })
    .await?;
    println!("imported {imported} calls");
    Ok(())
}

/// `callem audit …`.
pub async fn audit(url: &DatabaseUrl, cmd: AuditCommand) -> anyhow::Result<()> {
    match cmd {
        AuditCommand::Verify { project } => {
            let project = project_id(&project)?;
            let pool = open(url).await?;
            let id = project.clone();
            let (exists, verdict) = db::run(&pool, move |conn| {
                let exists = db::projects::find(conn, &id)?.is_some();
                Ok((exists, db::audit::verify(conn, &id)?))
            })
            .await?;
            if !exists {
                bail!("no project with id '{project}'")
            }
            match verdict {
                db::audit::Verdict::Ok(head) => {
                    let n = head.count;
                    println!("ok: {n} event{}", if n == 1 { "" } else { "s" });
                    // Recorded elsewhere, this line later shows a truncated tail.
                    println!("chain head: seq {n}, hash {}", head.hash);
                    Ok(())
                }
                db::audit::Verdict::Broken(broken) => {
                    match &broken.event {
                        Some(e) => println!(
                            "broken: event seq {} (id {}, {}, {}): {}",
                            e.seq,
                            e.id,
                            crate::domain::audit_chain::canonical_time(e.created_at),
                            e.action,
                            broken.problem
                        ),
                        None => println!("broken: {}", broken.problem),
                    }
                    Err(ExitStatus(1).into())
                }
            }
        }
    }
}

/// `callem webhooks …`, with the dashboard's validation and messages.
pub async fn webhooks(url: &DatabaseUrl, cmd: WebhooksCommand) -> anyhow::Result<()> {
    use crate::db::delivery_log::LogFilter;
    use crate::db::webhooks::{NewWebhook, WebhookChange};
    use crate::domain::ids::WebhookId;
    use crate::domain::webhook::{self, AllowedRanges, EventKinds, WebhookUrl};
    match cmd {
        WebhooksCommand::Create {
            project,
            url: hook_url,
            events,
            description,
            secret_key,
            webhook_allow_cidrs,
        } => {
            let allowed = AllowedRanges::parse(&webhook_allow_cidrs)
                .map_err(|e| anyhow!("CALLEM_WEBHOOK_ALLOW_CIDRS: {e}"))?;
            let hook_url =
                WebhookUrl::parse(&hook_url, &allowed).map_err(|e| anyhow!("--url: {e}"))?;
            let events =
                EventKinds::parse(events.split(',')).map_err(|e| anyhow!("--events: {e}"))?;
            let description = webhook::parse_description(&description)
                .map_err(|e| anyhow!("--description: {e}"))?;
            // The same rule as the server's.
            let secret_key = match secret_key.as_deref().map(str::trim) {
                None | Some("") => None,
                Some(s) if s.len() < 32 => {
                    bail!("CALLEM_SECRET_KEY must be at least 32 bytes long")
                }
                Some(s) => Some(crate::secret::Secret::new(s.to_owned())),
            };
            let project = project_id(&project)?;
            let pool = open(url).await?;
            require_project(&pool, &project).await?;
            let material = startup::key_material(secret_key.as_ref(), &pool).await?;
            let sealer = crate::webhooks::secret::Sealer::from_material(&material);
            let (hook, secret) = in_project(&pool, &project, move |conn, project| {
                let new = NewWebhook {
                    url: &hook_url,
                    description: &description,
                    events: &events,
                };
                db::webhooks::create(
                    conn,
                    &project,
                    &new,
                    &sealer,
                    &Actor::command_line(),
                    time::now(),
                )
            })
            .await?;
            // The id, then the secret, each alone on its line, for scripts.
            println!("{}", hook.id);
            println!("{}", secret.to_whsec());
            Ok(())
        }
        WebhooksCommand::List { project } => {
            let project = project_id(&project)?;
            let pool = open(url).await?;
            let hooks = in_project(&pool, &project, move |conn, project| {
                Ok(db::webhooks::list(conn, &project)?)
            })
            .await?;
            let mut rows = vec![[
                "ID".to_owned(),
                "URL".to_owned(),
                "EVENTS".to_owned(),
                "STATUS".to_owned(),
                "DESCRIPTION".to_owned(),
            ]];
            for h in hooks {
                let status = webhook::webhook_status(
                    h.enabled,
                    h.disabled_reason.as_deref(),
                    h.disabled_by.as_deref(),
                );
                rows.push([h.id.into_string(), h.url, h.events, status, h.description]);
            }
            print_table(&rows);
            Ok(())
        }
        WebhooksCommand::Delete {
            project,
            webhook_id,
        } => {
            let project = project_id(&project)?;
            let pool = open(url).await?;
            let wid = WebhookId::parse(&webhook_id).ok();
            let outcome = in_project(&pool, &project, move |conn, project| match wid {
                Some(wid) => {
                    db::webhooks::delete(conn, &project, &wid, &Actor::command_line(), time::now())
                }
                None => Ok(WebhookChange::NotFound),
            })
            .await?;
            match outcome {
                WebhookChange::Done(hook_url) => {
                    println!("deleted {webhook_id} ({hook_url})");
                    Ok(())
                }
                _ => bail!("no webhook with id '{webhook_id}' in this project"),
            }
        }
        WebhooksCommand::Deliveries {
            project,
            webhook_id,
            failed,
        } => {
            let project = project_id(&project)?;
            let pool = open(url).await?;
            let wid = WebhookId::parse(&webhook_id).ok();
            let now = time::now();
            let found = in_project(&pool, &project, move |conn, project| {
                let Some(wid) = wid else {
                    return Ok(None);
                };
                if db::webhooks::find(conn, &project, &wid)?.is_none() {
                    return Ok(None);
                }
                let filter = LogFilter {
                    failed_only: failed,
                };
                let total = db::delivery_log::count(conn, &project, &wid, filter, now)?;
                Ok(Some(db::delivery_log::page(
                    conn, &project, &wid, filter, now, total, 0,
                )?))
            })
            .await?;
            let Some(deliveries) = found else {
                bail!("no webhook with id '{webhook_id}' in this project");
            };
            let mut rows = vec![[
                "ID".to_owned(),
                "EVENT".to_owned(),
                "CALL OR KEY".to_owned(),
                "STATUS".to_owned(),
                "ATTEMPTS".to_owned(),
                "LAST RESPONSE".to_owned(),
                "QUEUED".to_owned(),
            ]];
            for d in deliveries {
                let status = d
                    .state
                    .parse()
                    .map(|s| {
                        webhook::delivery_status(
                            s,
                            d.attempts,
                            &time::full_label(d.next_attempt_at),
                        )
                    })
                    .unwrap_or_else(|_| d.state.clone());
                let last = match (d.last_status, d.last_error.as_deref()) {
                    (Some(s), _) => s.to_string(),
                    (None, Some(e)) => e.to_owned(),
                    (None, None) => "—".to_owned(),
                };
                rows.push([
                    d.id.into_string(),
                    d.kind,
                    d.subject,
                    status,
                    d.attempts.to_string(),
                    last,
                    time::full_label(d.created_at),
                ]);
            }
            print_table(&rows);
            Ok(())
        }
    }
}

/// `callem demo`: creates or refreshes the "Demo" project and its demo owner.
pub async fn demo(url: &DatabaseUrl) -> anyhow::Result<()> {
    use crate::demo;
    let pool = open(url).await?;
    let now = time::now();
    let password: String = (0..3)
        .map(|_| crate::domain::ids::new_id()[..6].to_owned())
        .collect::<Vec<_>>()
        .join("-");
    let pw = Password::parse(&password).map_err(|e| anyhow!(e))?;
    let hash = tokio::task::spawn_blocking(move || password::hash(&pw))
        .await?
        .map_err(|e| anyhow!(e))?;
    eprintln!("preparing the Demo project…");
    let mut progress = crate::import::Progress::new("writing demo calls", demo::CALLS);
    let (project_id, replaced, joined) = db::run(&pool, move |conn| {
        db::write_transaction::<_, db::DbError, _>(conn, |conn| {
            let (project_id, replaced) = match db::projects::find_by_name(conn, demo::PROJECT_NAME)?
            {
                Some(p) => {
                    let n = db::calls::delete_all(conn, &p.id)?;
                    db::knowledge::delete_all(conn, &p.id)?;
                    (p.id, n)
                }
                None => (
                    db::projects::create(conn, demo::PROJECT_NAME, &Actor::command_line(), now)?,
                    0,
                ),
            };
            let added = db::users::add_to_project(
                conn,
                demo::USER_EMAIL,
                Some(&hash),
                &project_id,
                Role::Owner,
                now,
            )?;
            if let Some((user_id, false)) = added {
                db::users::change_password(
                    conn,
                    &db::users::PasswordChange {
                        user_id: &user_id,
                        password_hash: &hash,
                        how: db::users::PasswordSet::Changed,
                        actor: &Actor::command_line(),
                    },
                    now,
                )?;
            }
            // Whoever set this server up (at /setup, say) can open the Demo project too.
            let owners = db::memberships::owners_of_other_projects(conn, &project_id)?;
            let mut joined = Vec::new();
            for (user_id, email) in owners.into_iter().filter(|(_, e)| e != demo::USER_EMAIL) {
                if db::memberships::role_of(conn, &user_id, &project_id)?.is_none() {
                    db::memberships::upsert(conn, &project_id, &user_id, Role::Owner, now)?;
                    joined.push(email);
                }
            }
            let calls = demo::calls(&project_id, demo::CALLS, now, rand::random());
            // Demo calls never fire webhooks.
            db::calls::insert_all(conn, &calls, None, |done| progress.update(done))?;
            for item in demo::knowledge(&project_id, now) {
                db::knowledge::insert(conn, &item)?;
            }
            Ok((project_id, replaced, joined))
        })
    })
    .await?;
    if replaced > 0 {
        eprintln!("refreshed: the previous {replaced} demo calls were replaced");
    }
    let bind = std::env::var("CALLEM_BIND").unwrap_or_else(|_| "127.0.0.1:8080".to_owned());
    println!(
        "Demo project ready: {} calls and 20 knowledge items.",
        demo::CALLS
    );
    println!(
        "Start the server (`cargo run --release -- serve` in the repository, or `callem serve` \
         once installed), then sign in at http://{bind}/login"
    );
    println!("  email:    {}", demo::USER_EMAIL);
    println!("  password: {password}");
    println!("  project:  http://{bind}/projects/{project_id}/calls");
    if !joined.is_empty() {
        println!(
            "The existing owners can open it too (added as owners): {}",
            joined.join(", ")
        );
    }
    Ok(())
}
