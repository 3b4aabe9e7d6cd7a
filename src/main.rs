//! The `callem` binary: parse the command line, set up logging, run the command.

use std::process::ExitCode;

use clap::Parser;

use callem::config::{Cli, Command, Settings};
use callem::db::DatabaseUrl;
use callem::startup::Application;
use callem::{cli, db, telemetry};

fn main() -> ExitCode {
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
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let url = DatabaseUrl::parse(&cli.database_url).map_err(anyhow::Error::msg)?;
    match cli.command {
        Command::Serve(args) => {
            let settings =
                Settings::from_args(&cli.database_url, &args).map_err(anyhow::Error::msg)?;
            let bind = settings.bind.clone();
            let app = Application::build(settings).await?;
            let host = bind.rsplit_once(':').map(|(h, _)| h).unwrap_or("127.0.0.1");
            let base = format!("http://{host}:{}", app.port());
            let pool = app.pool().clone();
            // Start serving (and listening for SIGTERM) before saying so.
            let server = actix_web::rt::spawn(app.run_until_stopped());
            let users = db::run(&pool, |conn| Ok(db::users::count(conn)?)).await?;
            println!(
                "Callem Studio is running at {base} (database: {})",
                url.redacted()
            );
            if users == 0 {
                println!("No user yet: finish setting up at {base}/setup");
            }
            server.await??;
            Ok(())
        }
        Command::Migrate => cli::migrate(&url).await,
        Command::Project(cmd) => cli::project(&url, cmd).await,
        Command::User(cmd) => cli::user(&url, cmd).await,
        Command::Keys(cmd) => cli::keys(&url, cmd).await,
        Command::Import(cmd) => cli::import(&url, cmd).await,
        Command::Demo => cli::demo(&url).await,
    }
}
