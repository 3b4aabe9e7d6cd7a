//! Typed settings from the command line and the environment. Every variable is listed in the
//! README's configuration table.

use clap::{Args, Parser, Subcommand};
use ipnetwork::IpNetwork;

use crate::db::DatabaseUrl;
use crate::origin::{parse_public_url, Origin};
use crate::secret::Secret;

/// Callem Studio, self-hosted: the API keys dashboard and the public REST API in one binary.
#[derive(Debug, Parser)]
#[command(name = "callem", version, about, long_about = None)]
pub struct Cli {
    /// Database: postgres://… for PostgreSQL, sqlite://PATH (or a plain path) for SQLite.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://callem.db",
        global = true,
        hide_env_values = true
    )]
    pub database_url: String,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (dashboard and /v1 API); applies pending migrations first.
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage projects.
    #[command(subcommand)]
    Project(ProjectCommand),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Create, list and revoke API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Import data into a project.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Check a project's audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Add, list and delete webhooks, and read a webhook's delivery log.
    #[command(subcommand)]
    Webhooks(WebhooksCommand),
    /// Create (or refresh) a project "Demo" with a few thousand realistic calls and about
    /// twenty knowledge items, and print how to sign in. Safe to run twice.
    Demo,
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Import calls from JSON Lines: one call object a line, in the API's shape (`id`
    /// optional). The whole file is validated first; one bad line rejects it all.
    Calls {
        #[arg(long)]
        project: String,
        /// The file to read, or - for stdin.
        file: String,
        /// fire webhooks for the imported calls (off by default: a backfill must not flood
        /// receivers)
        #[arg(long)]
        webhooks: bool,
    },
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, env = "CALLEM_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,

    /// Secret (at least 32 bytes) that signs and encrypts session cookies. When unset, one is
    /// generated at first start and stored in the database, so every replica shares it.
    #[arg(long, env = "CALLEM_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,

    /// Comma-separated CIDRs of reverse proxies whose X-Forwarded-For is believed.
    #[arg(long, env = "CALLEM_TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: String,

    /// Mark session cookies Secure (set this when serving over HTTPS).
    #[arg(long, env = "CALLEM_SECURE_COOKIES", default_value_t = false, action = clap::ArgAction::Set)]
    pub secure_cookies: bool,

    /// Requests a minute per client IP over all of /v1.
    #[arg(long, env = "CALLEM_RATE_LIMIT_PER_MINUTE", default_value_t = 120)]
    pub rate_limit_per_minute: u32,

    /// Database connections per server process (requests beyond this wait their turn).
    #[arg(long, env = "CALLEM_DB_POOL_SIZE", default_value_t = 6)]
    pub db_pool_size: u32,

    /// Milliseconds a request may spend on the database in all (waiting for a connection and
    /// the query) before it is answered 503; at most 1800, so the 503 comes within 2 s.
    #[arg(long, env = "CALLEM_DB_DEADLINE_MS", default_value_t = 1800)]
    pub db_deadline_ms: u64,

    /// The address people open the dashboard at, e.g. https://callem.example.com. When set,
    /// it is the only Host answered (others get 400) and the only Origin accepted.
    #[arg(long, env = "CALLEM_PUBLIC_URL", default_value = "")]
    pub public_url: String,

    /// Address ranges (CIDRs, comma-separated) webhooks may reach although private, e.g. an
    /// internal receiver at 10.0.0.0/8; for an address in them plain http: is accepted too.
    #[arg(long, env = "CALLEM_WEBHOOK_ALLOW_CIDRS", default_value = "")]
    pub webhook_allow_cidrs: String,

    /// The delays before each retry of a failed webhook delivery (each ±20 %), e.g.
    /// 5s,5m,30m,2h,5h,10h,14h,20h,24h for a day of retries.
    #[arg(
        long,
        env = "CALLEM_WEBHOOK_RETRY_SCHEDULE",
        default_value = "5s,5m,30m"
    )]
    pub webhook_retry_schedule: String,

    /// Count each use of an API key (by hour, outcome and client address; written every
    /// 10 s): `on` or `off`. Off, the key page shows no usage and "last used" stays as it was.
    #[arg(long, env = "CALLEM_USAGE_RECORDING", default_value = "on", value_parser = ["on", "off"])]
    pub usage_recording: String,

    /// Seconds to keep serving after SIGTERM while /readyz already fails, so a load balancer
    /// stops sending before connections close: its health-check interval × unhealthy
    /// threshold, plus a margin.
    #[arg(long, env = "CALLEM_SHUTDOWN_DRAIN_SECS", default_value_t = 15)]
    pub shutdown_drain_secs: u64,

    /// Seconds a request head (every one on a keep-alive connection, not only the first) may
    /// take to arrive whole.
    #[arg(long, env = "CALLEM_HEAD_TIMEOUT_SECS", default_value_t = 5)]
    pub head_timeout_secs: u64,

    /// Seconds a request body may take to arrive whole, counted from its head (30 s: at least
    /// 35 KB/s for the 1 MiB maximum).
    #[arg(long, env = "CALLEM_BODY_TIMEOUT_SECS", default_value_t = 30)]
    pub body_timeout_secs: u64,

    /// Seconds a response may make no progress (the client reads nothing) before the
    /// connection is closed.
    #[arg(long, env = "CALLEM_WRITE_IDLE_TIMEOUT_SECS", default_value_t = 30)]
    pub write_idle_timeout_secs: u64,

    /// Simultaneous connections one peer address may hold; beyond, new ones are closed at once.
    #[arg(long, env = "CALLEM_MAX_CONNECTIONS_PER_CLIENT", default_value_t = 64)]
    pub max_connections_per_client: usize,

    /// SMTP server for email (invitations): smtp://user:password@host:587 (STARTTLS),
    /// smtps://user:password@host:465 (TLS), or smtp://host:port (a local relay: STARTTLS when
    /// offered, else plain). Set with CALLEM_SMTP_FROM, or leave both unset (no email).
    #[arg(
        long,
        env = "CALLEM_SMTP_URL",
        default_value = "",
        hide_env_values = true
    )]
    pub smtp_url: String,

    /// The sender of email, e.g. 'Callem Studio <callem@example.com>'.
    #[arg(long, env = "CALLEM_SMTP_FROM", default_value = "")]
    pub smtp_from: String,

    /// Sign a dashboard session out after this long without a request: 30m, 12h, 7d… (at
    /// most 14d; a session lasts 14 days from sign-in however active).
    #[arg(long, env = "CALLEM_SESSION_IDLE", default_value = "7d")]
    pub session_idle: String,
}

#[derive(Debug, Subcommand)]
pub enum WebhooksCommand {
    /// Add a webhook; prints its id, then its signing secret (whsec_…), each on its own line.
    ///
    /// The URL must be https: to a public address (http:, localhost and private, reserved or
    /// internal addresses are refused, as in the dashboard) unless its address is in
    /// CALLEM_WEBHOOK_ALLOW_CIDRS. The secret is stored encrypted under a key derived from
    /// CALLEM_SECRET_KEY (or, when unset, the key the server generated and stored in the
    /// database): run this with the same CALLEM_SECRET_KEY as `callem serve`.
    Create {
        #[arg(long)]
        project: String,
        /// The HTTPS endpoint that receives the events.
        #[arg(long)]
        url: String,
        /// The events to send, comma-separated: call_started, call_ended, call_analyzed,
        /// api_key_expiring, api_key_revoked, api_key_leaked.
        #[arg(long)]
        events: String,
        /// What the webhook is for, e.g. "CRM sync".
        #[arg(long, default_value = "")]
        description: String,
        /// The server's secret key (as for `callem serve`), which the signing secret is
        /// encrypted under.
        #[arg(long, env = "CALLEM_SECRET_KEY", hide_env_values = true)]
        secret_key: Option<String>,
        /// Address ranges (CIDRs, comma-separated) a webhook may reach although private (as
        /// for `callem serve`); for an address in them plain http: is accepted too.
        #[arg(long, env = "CALLEM_WEBHOOK_ALLOW_CIDRS", default_value = "")]
        webhook_allow_cidrs: String,
    },
    /// List a project's webhooks: id, URL, events, status, description.
    List {
        #[arg(long)]
        project: String,
    },
    /// Delete a webhook: nothing more is sent to it, and its delivery log goes with it.
    Delete {
        #[arg(long)]
        project: String,
        /// The webhook's id (see `callem webhooks list`).
        webhook_id: String,
    },
    /// A webhook's deliveries of the last 30 days, newest first: id (the webhook-id header),
    /// event, call or key, status, attempts, last response, time.
    Deliveries {
        #[arg(long)]
        project: String,
        /// The webhook's id (see `callem webhooks list`).
        webhook_id: String,
        /// Only the failed deliveries.
        #[arg(long)]
        failed: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check that no event of a project's audit log was altered or removed
    ///
    /// Each event stores SHA-256(the previous event's hash ‖ its own fields), so the events
    /// form a chain. This recomputes the chain in order and prints `ok: N events` and the
    /// chain head (its last seq and hash: record it elsewhere, so that a chain later cut
    /// short shows) (exit status 0), or names the first event that does not match — its
    /// seq, id, time and action — and what is wrong (exit status 1):
    ///
    ///   hash mismatch   the event's fields were changed after it was recorded
    ///   broken link     its prev_hash is not the previous event's hash
    ///   missing seq     events before it (or at the end of the chain) were deleted
    ///   empty           no event at all, though every chain starts with project.created
    ///
    /// Reads the log in batches: any size of log is fine.
    #[command(verbatim_doc_comment)]
    Verify {
        /// The project's id.
        #[arg(long)]
        project: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ProjectCommand {
    /// Create a project; prints its id alone on stdout.
    Create {
        /// The project's name.
        #[arg(long)]
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user (password read from stdin, one line), or add an existing email to the
    /// project with that role. An existing account whose email was never verified (made from
    /// an invitation link shown on screen) is refused unless --reset-password is given.
    Create {
        #[arg(long)]
        email: String,
        /// The project the user joins.
        #[arg(long)]
        project: String,
        /// owner, admin, developer or member.
        #[arg(long)]
        role: String,
        /// When the account exists: set its password to the one read from stdin, signing it
        /// out everywhere, before adding it.
        #[arg(long)]
        reset_password: bool,
    },
    /// Print a one-time link that sets a new password for the account (valid 1 hour, used
    /// once; using it signs the account out everywhere). For self-hosters without email.
    ResetPassword {
        #[arg(long)]
        email: String,
        /// The address people open the dashboard at, which starts the link.
        #[arg(long, env = "CALLEM_PUBLIC_URL", default_value = "")]
        public_url: String,
        /// Where the server listens, for the link when CALLEM_PUBLIC_URL is not set.
        #[arg(long, env = "CALLEM_BIND", default_value = "127.0.0.1:8080")]
        bind: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key; prints the full key alone on stdout (the only time it is shown).
    Create {
        #[arg(long)]
        project: String,
        /// A descriptive name, e.g. "Production CRM Integration".
        #[arg(long)]
        name: String,
        /// Allowed client IPs: addresses, CIDR ranges or *, separated by commas or spaces.
        #[arg(long, default_value = "")]
        allowed_ips: String,
        /// 30d, 60d, 90d, 1y, a date YYYY-MM-DD (works until the end of that day, UTC), or never.
        #[arg(long, default_value = "90d")]
        expires: String,
        /// What the key may do: full, read (GET only), or a list of calls:read, calls:write
        /// (create and update), calls:delete, knowledge:read, knowledge:write, e.g.
        /// calls:read,knowledge:write; each adds to its resource (calls:write,calls:delete).
        #[arg(long, default_value = "full")]
        scope: String,
    },
    /// List a project's active keys.
    List {
        #[arg(long)]
        project: String,
    },
    /// Revoke a key: every request with it is refused from now on.
    Revoke {
        #[arg(long)]
        project: String,
        /// The key's id (see `callem keys list`).
        key_id: String,
    },
    /// Roll a key: a new key with the same name, IP rules and scope, printed alone on stdout
    /// (the only time it is shown); the old key keeps working until the overlap ends.
    Roll {
        #[arg(long)]
        project: String,
        /// The id of the key to replace (see `callem keys list`).
        key_id: String,
        /// When the old key stops working: 0 (at once), 1h, 24h or 7d.
        #[arg(long, default_value = "24h")]
        overlap: String,
    },
    /// Find API keys in any text (a log, a diff, a paste) and say what each is.
    ///
    /// Finds every ck_live_ key in the text and prints, for each (once, in order of first
    /// appearance), its masked prefix, project, name and status: active, expired, revoked or
    /// unknown (no such key on this server). The full keys are never printed. A line on
    /// stderr says how many keys were found.
    ///
    /// Exit status: 1 when an active key is found, 0 otherwise — so it can guard a
    /// pre-commit hook (`git diff --cached | callem keys check`) or a CI job. Revoke a key
    /// found active in the dashboard, with `callem keys revoke`, or by POSTing it to
    /// /v1/leaked-keys.
    #[command(verbatim_doc_comment)]
    Check {
        /// The file to read; - or nothing for stdin.
        file: Option<String>,
    },
}

/// Everything the server needs to start.
#[derive(Debug, Clone)]
pub struct Settings {
    pub database_url: DatabaseUrl,
    pub bind: String,
    pub secret_key: Option<Secret>,
    pub trusted_proxies: Vec<IpNetwork>,
    pub secure_cookies: bool,
    pub rate_limit_per_minute: u32,
    pub db_pool_size: u32,
    /// `CALLEM_DB_DEADLINE_MS`: a request's whole time on the database.
    pub db_deadline: std::time::Duration,
    pub public_origin: Option<Origin>,
    pub shutdown_drain: std::time::Duration,
    /// `CALLEM_USAGE_RECORDING`.
    pub usage_recording: bool,
    /// `CALLEM_WEBHOOK_ALLOW_CIDRS`.
    pub webhook_allowed: crate::domain::webhook::AllowedRanges,
    /// `CALLEM_WEBHOOK_RETRY_SCHEDULE`.
    pub webhook_retries: crate::domain::webhook::RetrySchedule,
    /// `CALLEM_SMTP_URL` and `CALLEM_SMTP_FROM`; `None`: no email.
    pub smtp: Option<crate::email::SmtpConfig>,
    /// `CALLEM_SESSION_IDLE`, and the 14-day lifetime.
    pub session_policy: crate::domain::session_policy::SessionPolicy,
    /// `CALLEM_HEAD_TIMEOUT_SECS`, `CALLEM_BODY_TIMEOUT_SECS`, `CALLEM_WRITE_IDLE_TIMEOUT_SECS`,
    /// `CALLEM_MAX_CONNECTIONS_PER_CLIENT`.
    pub conn_limits: crate::conn_limits::ConnLimits,
}

impl Settings {
    /// Checks the server's flags and environment; the error names the setting at fault.
    pub fn from_args(database_url: &str, args: &ServeArgs) -> Result<Self, String> {
        let database_url = DatabaseUrl::parse(database_url)?;
        let secret_key = match args.secret_key.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(s) if s.len() < 32 => {
                return Err("CALLEM_SECRET_KEY must be at least 32 bytes long".to_owned())
            }
            Some(s) => Some(Secret::new(s.to_owned())),
        };
        if !(1..=1000).contains(&args.db_pool_size) {
            return Err("CALLEM_DB_POOL_SIZE must be between 1 and 1000".to_owned());
        }
        // Past 1800 ms the 503 would no longer come within the 2 s the README promises.
        if !(100..=1800).contains(&args.db_deadline_ms) {
            return Err("CALLEM_DB_DEADLINE_MS must be between 100 and 1800".to_owned());
        }
        if args.rate_limit_per_minute == 0 {
            return Err("CALLEM_RATE_LIMIT_PER_MINUTE must be at least 1".to_owned());
        }
        check_bind(&args.bind)?;
        if args.shutdown_drain_secs > 300 {
            return Err("CALLEM_SHUTDOWN_DRAIN_SECS must be at most 300".to_owned());
        }
        let conn_limits = conn_limits(args)?;
        Ok(Settings {
            conn_limits,
            database_url,
            bind: args.bind.clone(),
            secret_key,
            trusted_proxies: parse_trusted_proxies(&args.trusted_proxies)?,
            secure_cookies: args.secure_cookies,
            rate_limit_per_minute: args.rate_limit_per_minute,
            db_pool_size: args.db_pool_size,
            db_deadline: std::time::Duration::from_millis(args.db_deadline_ms),
            public_origin: parse_public_url(&args.public_url)?,
            shutdown_drain: std::time::Duration::from_secs(args.shutdown_drain_secs),
            usage_recording: args.usage_recording == "on",
            webhook_allowed: crate::domain::webhook::AllowedRanges::parse(
                &args.webhook_allow_cidrs,
            )
            .map_err(|e| e.0)?,
            webhook_retries: crate::domain::webhook::RetrySchedule::parse(
                &args.webhook_retry_schedule,
            )
            .map_err(|e| e.0)?,
            smtp: crate::email::SmtpConfig::parse(&args.smtp_url, &args.smtp_from)?,
            session_policy: crate::domain::session_policy::SessionPolicy {
                idle_secs: crate::domain::session_policy::parse_idle(&args.session_idle)?,
                ..Default::default()
            },
        })
    }
}

/// The connection limits: every timeout between 1 s and an hour, the cap at least 1.
fn conn_limits(args: &ServeArgs) -> Result<crate::conn_limits::ConnLimits, String> {
    let secs = |name: &str, value: u64| {
        if (1..=3600).contains(&value) {
            Ok(std::time::Duration::from_secs(value))
        } else {
            Err(format!("{name} must be between 1 and 3600 seconds"))
        }
    };
    if args.max_connections_per_client == 0 {
        return Err("CALLEM_MAX_CONNECTIONS_PER_CLIENT must be at least 1".to_owned());
    }
    Ok(crate::conn_limits::ConnLimits {
        head_timeout: secs("CALLEM_HEAD_TIMEOUT_SECS", args.head_timeout_secs)?,
        body_timeout: secs("CALLEM_BODY_TIMEOUT_SECS", args.body_timeout_secs)?,
        write_idle_timeout: secs(
            "CALLEM_WRITE_IDLE_TIMEOUT_SECS",
            args.write_idle_timeout_secs,
        )?,
        max_connections_per_client: args.max_connections_per_client,
        ..Default::default()
    })
}

/// `CALLEM_BIND` must be an address and a port: a bare port would not say which interfaces
/// to listen on (this machine only, or every one).
fn check_bind(bind: &str) -> Result<(), String> {
    let bind = bind.trim();
    match bind.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => Ok(()),
        _ if bind.parse::<u16>().is_ok() => Err(format!(
            "CALLEM_BIND={bind} is a port without an address — use 127.0.0.1:{bind} (this machine only) or 0.0.0.0:{bind} (every interface)"
        )),
        _ => Err(format!(
            "CALLEM_BIND={bind} is not an address and a port — use e.g. 127.0.0.1:8080"
        )),
    }
}

/// The start of every link the server sends away (reset and invitation emails, the invite
/// modal's link, `callem user reset-password`): `CALLEM_PUBLIC_URL` when set, else `http://`
/// and the address the server listens on (`bound`: the address it actually bound, or for the
/// command line `CALLEM_BIND`) — never a request's `Host`. `None` when neither gives an
/// address someone could open: a bind to every interface (`0.0.0.0`, `[::]`) names no
/// reachable host, so links need `CALLEM_PUBLIC_URL` then.
pub fn link_base(public_origin: Option<&Origin>, bound: &str) -> Option<String> {
    if let Some(o) = public_origin {
        return Some(format!("{}://{}", o.scheme, o.host));
    }
    let bound = bound.trim();
    let unspecified = match bound.parse::<std::net::SocketAddr>() {
        Ok(addr) => addr.ip().is_unspecified(),
        // A host name (`localhost:8080`): people can open it as it is.
        Err(_) => bound.is_empty(),
    };
    (!unspecified).then(|| format!("http://{bound}"))
}

/// What to do when [`link_base`] has no address: the sentence the dashboard and the command
/// line show.
pub const NO_LINK_BASE: &str = "this server listens on every interface (CALLEM_BIND 0.0.0.0) \
     and does not know the address people open it at: set CALLEM_PUBLIC_URL, e.g. \
     https://callem.example.com";

/// Parses `CALLEM_TRUSTED_PROXIES`: CIDRs or single addresses, separated by commas or spaces.
pub fn parse_trusted_proxies(s: &str) -> Result<Vec<IpNetwork>, String> {
    s.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
        .map(|t| {
            t.parse::<IpNetwork>()
                .map_err(|_| format!("CALLEM_TRUSTED_PROXIES: '{t}' is not an IP address or CIDR"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_start_at_the_public_url_else_the_bound_address_never_at_every_interface() {
        let public = parse_public_url("https://callem.example.com").unwrap();
        assert_eq!(
            link_base(public.as_ref(), "0.0.0.0:8080").as_deref(),
            Some("https://callem.example.com")
        );
        assert_eq!(
            link_base(None, "127.0.0.1:41234").as_deref(),
            Some("http://127.0.0.1:41234")
        );
        assert_eq!(
            link_base(None, "[::1]:8080").as_deref(),
            Some("http://[::1]:8080")
        );
        assert_eq!(
            link_base(None, "localhost:8080").as_deref(),
            Some("http://localhost:8080")
        );
        assert_eq!(link_base(None, "0.0.0.0:8080"), None);
        assert_eq!(link_base(None, "[::]:8080"), None);
    }

    #[test]
    fn trusted_proxies_parse_and_name_bad_entries() {
        let p = parse_trusted_proxies("10.0.0.0/8, 192.168.1.1 ::1").unwrap();
        assert_eq!(p.len(), 3);
        assert!(parse_trusted_proxies("").unwrap().is_empty());
        assert!(parse_trusted_proxies("10.0.0.0/8,nope")
            .unwrap_err()
            .contains("'nope'"));
    }

    fn serve_settings(args: &[&str]) -> Result<Settings, String> {
        let mut argv = vec!["callem", "serve"];
        argv.extend_from_slice(args);
        let cli = Cli::try_parse_from(argv).map_err(|e| e.to_string())?;
        let Command::Serve(serve) = cli.command else {
            unreachable!("serve was parsed")
        };
        Settings::from_args("sqlite://x.db", &serve)
    }

    #[test]
    fn the_database_deadline_defaults_to_1800_ms_and_stays_under_the_2_s_promise() {
        let deadline = |args: &[&str]| serve_settings(args).map(|s| s.db_deadline.as_millis());
        assert_eq!(deadline(&[]), Ok(1800));
        assert_eq!(deadline(&["--db-deadline-ms", "800"]), Ok(800));
        for bad in ["99", "1801", "5000"] {
            assert_eq!(
                deadline(&["--db-deadline-ms", bad]),
                Err("CALLEM_DB_DEADLINE_MS must be between 100 and 1800".to_owned()),
                "{bad}"
            );
        }
    }

    #[test]
    fn connection_limits_default_to_the_documented_values_and_refuse_zero() {
        let limits = serve_settings(&[]).unwrap().conn_limits;
        assert_eq!(limits.head_timeout.as_secs(), 5);
        assert_eq!(limits.body_timeout.as_secs(), 30);
        assert_eq!(limits.write_idle_timeout.as_secs(), 30);
        assert_eq!(limits.max_connections_per_client, 64);

        let set = serve_settings(&[
            "--head-timeout-secs",
            "2",
            "--max-connections-per-client",
            "3",
        ])
        .unwrap()
        .conn_limits;
        assert_eq!(
            (set.head_timeout.as_secs(), set.max_connections_per_client),
            (2, 3)
        );

        let zero = serve_settings(&["--body-timeout-secs", "0"]).unwrap_err();
        assert!(zero.contains("CALLEM_BODY_TIMEOUT_SECS"), "{zero}");
        let none = serve_settings(&["--max-connections-per-client", "0"]).unwrap_err();
        assert!(none.contains("CALLEM_MAX_CONNECTIONS_PER_CLIENT"), "{none}");
    }
}
