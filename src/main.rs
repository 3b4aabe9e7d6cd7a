//! The `callem` binary: parse the command line, set up logging, run the command.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use callem::config::{Cli, Command, Settings};
use callem::db::DatabaseUrl;
use callem::startup::Application;
use callem::{cli, telemetry};

fn main() -> ExitCode {
    return_large_blocks_to_the_os();
    let cli = Cli::parse();
    let serving = matches!(cli.command, Command::Serve(_));
    // Commands keep stdout for their result; only warnings reach stderr unless RUST_LOG says.
    telemetry::init(if serving {
        "info,actix_server=warn"
    } else {
        "warn"
    });
    let outcome = actix_web::rt::System::new().block_on(run(cli));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => match e.downcast_ref::<cli::ExitStatus>() {
            // A verdict the command already reported.
            Some(status) => ExitCode::from(status.0),
            None => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let url = DatabaseUrl::parse(&cli.database_url).map_err(anyhow::Error::msg)?;
    command(cli, &url)
        .await
        .map_err(|e| cli::explain_failure(&url, e))
}

async fn command(cli: Cli, url: &DatabaseUrl) -> anyhow::Result<()> {
    let url = url.clone();
    match cli.command {
        Command::Serve(args) => {
            let settings =
                Settings::from_args(&cli.database_url, &args).map_err(anyhow::Error::msg)?;
            let bind = settings.bind.clone();
            // Listen for SIGTERM/SIGINT before anything else, so a supervisor that stops us
            // right after start still gets a graceful shutdown.
            let stop = shutdown_signal()?;
            raise_open_file_limit();
            let drain = settings.shutdown_drain;
            let app = Application::build(settings).await?;
            let host = bind.rsplit_once(':').map(|(h, _)| h).unwrap_or("127.0.0.1");
            let base = format!("http://{host}:{}", app.port());
            let handle = app.handle();
            let draining = app.drain_handle();
            let setup_link = app.setup_token().map(|t| format!("{base}/setup?token={t}"));
            let server = actix_web::rt::spawn(app.run_until_stopped());
            actix_web::rt::spawn(async move {
                stop.await;
                // /readyz fails first, so a load balancer stops sending; keep serving what
                // still arrives (keep-alive connections included) for the drain period.
                draining.start();
                tracing::info!(
                    drain_secs = drain.as_secs(),
                    "shutting down: draining, then finishing in-flight requests"
                );
                actix_web::rt::time::sleep(drain).await;
                handle.stop(true).await;
            });
            // A closed stdout (a supervisor that stopped reading) must not stop the server.
            let mut out = std::io::stdout().lock();
            let _ = writeln!(
                out,
                "Callem Studio is running at {base} (database: {})",
                url.redacted()
            );
            if let Some(link) = setup_link {
                let _ = writeln!(out, "No user yet: finish setting up at {link}");
            }
            let _ = out.flush();
            drop(out);
            server.await??;
            Ok(())
        }
        Command::Migrate => cli::migrate(&url).await,
        Command::Project(cmd) => cli::project(&url, cmd).await,
        Command::User(cmd) => cli::user(&url, cmd).await,
        Command::Keys(cmd) => cli::keys(&url, cmd).await,
        Command::Import(cmd) => cli::import(&url, cmd).await,
        Command::Audit(cmd) => cli::audit(&url, cmd).await,
        Command::Webhooks(cmd) => cli::webhooks(&url, cmd).await,
        Command::Demo => cli::demo(&url).await,
    }
}

/// Resolves on the first SIGTERM or SIGINT; the handlers are installed when this is called.
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use actix_web::rt::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        let term = std::pin::pin!(term.recv());
        let int = std::pin::pin!(int.recv());
        futures_util::future::select(term, int).await;
    })
}

/// Raises the soft open-file limit to the hard one: each client connection is a descriptor,
/// and distributions often start services with a soft limit of 1024.
fn raise_open_file_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed to them.
    #[allow(unsafe_code)]
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            let wanted = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &wanted) != 0 {
                tracing::warn!("could not raise the open-file limit");
            }
        }
    }
}

/// Keeps allocations of 1 MiB and more (an argon2 hash's 19 MiB, a page of big rows) in their
/// own mappings, returned to the system when freed. glibc otherwise raises the threshold
/// after the first such free and keeps the memory in each thread's arena for good: a burst
/// of sign-ins left hundreds of MiB resident.
fn return_large_blocks_to_the_os() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning; called before any other thread exists.
    #[allow(unsafe_code)]
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1024 * 1024);
    }
}
