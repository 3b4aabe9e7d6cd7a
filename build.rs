//! Decides, when the tests are compiled, which of their backends this machine has, so a test
//! that cannot run is reported as ignored rather than as a pass: `callem_pg_tests` when
//! `TEST_DATABASE_URL` is set (always with `CI=true`, where a missing one fails the run),
//! `callem_browser_tests` when a chromedriver is installed,
//! `callem_smtp_tests` when aiosmtpd (the email tests' SMTP server) is in `target/ci-venv`,
//! `callem_webhook_verifier_tests` when `standardwebhooks` (a verifier from PyPI) is there too,
//! `callem_mount_tests` when the tests may mount a small filesystem (root, or CI),
//! `callem_axe_tests` when axe-core (the browser sweep's accessibility check) is in
//! `target/axe` (`.ci/run` installs it there).

fn main() {
    println!("cargo::rustc-check-cfg=cfg(callem_pg_tests)");
    println!("cargo::rustc-check-cfg=cfg(callem_browser_tests)");
    println!("cargo::rustc-check-cfg=cfg(callem_smtp_tests)");
    println!("cargo::rustc-check-cfg=cfg(callem_mount_tests)");
    println!("cargo::rustc-check-cfg=cfg(callem_axe_tests)");
    println!("cargo::rustc-check-cfg=cfg(callem_webhook_verifier_tests)");
    println!("cargo::rerun-if-env-changed=TEST_DATABASE_URL");
    println!("cargo::rerun-if-env-changed=CHROMEDRIVER");
    println!("cargo::rerun-if-env-changed=CI");
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    // With CI=true the PostgreSQL tests are compiled in even without TEST_DATABASE_URL, so a
    // missing database fails the run (each such test panics naming the variable) instead of
    // passing with them ignored.
    if ci || std::env::var("TEST_DATABASE_URL").is_ok_and(|v| !v.is_empty()) {
        println!("cargo::rustc-cfg=callem_pg_tests");
    }
    let driver =
        std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".to_owned());
    // Only the driver itself is watched, when it exists: watching its folder (/usr/bin)
    // recompiled the crate after any package install. A missing file cannot be watched (it
    // would rerun this script on every build), so a driver installed after the first build
    // is noticed with `touch build.rs`, as the README says.
    if std::path::Path::new(&driver).exists() {
        println!("cargo::rerun-if-changed={driver}");
    }
    println!("cargo::rerun-if-changed=build.rs");
    // With CI=true a missing driver must fail the run, so the browser test is compiled in.
    if ci || std::path::Path::new(&driver).exists() {
        println!("cargo::rustc-cfg=callem_browser_tests");
    }
    // `.ci/run` installs aiosmtpd into target/ci-venv. Its site-packages folder is watched
    // when it exists (a venv made later is noticed on the next change of this file).
    let mut smtp = ci;
    // The webhook tests also verify deliveries with the `standardwebhooks` package from PyPI,
    // which `.ci/run` installs in the same venv.
    let mut verifier = ci;
    let lib = std::path::Path::new("target/ci-venv/lib");
    for entry in std::fs::read_dir(lib).into_iter().flatten().flatten() {
        let site = entry.path().join("site-packages");
        if site.is_dir() {
            println!("cargo::rerun-if-changed={}", site.display());
            smtp |= site.join("aiosmtpd").is_dir();
            verifier |= site.join("standardwebhooks").is_dir();
        }
    }
    if smtp {
        println!("cargo::rustc-cfg=callem_smtp_tests");
    }
    if verifier {
        println!("cargo::rustc-cfg=callem_webhook_verifier_tests");
    }
    // The sweep's axe check runs when axe-core is installed, and always with CI=true (where a
    // missing axe fails it). The folder is watched so an install is noticed.
    let axe_dir = std::path::Path::new("target/axe/node_modules");
    if axe_dir.is_dir() {
        println!("cargo::rerun-if-changed={}", axe_dir.display());
    }
    if ci || axe_dir.join("axe-core/axe.min.js").exists() {
        println!("cargo::rustc-cfg=callem_axe_tests");
    }
    // The disk-full tests mount a small tmpfs, which takes root; with CI=true they always
    // run (and fail if they cannot mount).
    if ci || effective_uid() == Some(0) {
        println!("cargo::rustc-cfg=callem_mount_tests");
    }
}

/// This process's effective user id, from /proc (Linux).
fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}
