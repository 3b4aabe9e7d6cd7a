//! Structured logs with `tracing`, filtered by `RUST_LOG`, written to stderr. Each request
//! runs in a span carrying its request id; the span's closing line is the access log.

use std::io::IsTerminal;

use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::EnvFilter;

/// Installs the subscriber; `default_filter` applies when `RUST_LOG` is unset.
pub fn init(default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_span_events(FmtSpan::CLOSE)
        .with_writer(std::io::stderr)
        // Colour only for a person at a terminal, never in a file or a log collector.
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}
