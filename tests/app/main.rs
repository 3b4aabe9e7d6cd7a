//! One integration-test binary: every test runs against the real app over HTTP, on SQLite and
//! (with TEST_DATABASE_URL) on PostgreSQL.

// Tests may panic on what they did not expect.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;

mod account_pages;
mod accounts;
mod api;
mod api_keys;
mod audit_log;
mod browser;
mod calls_write;
mod cli;
mod dashboard_errors;
mod data_pages;
mod disk_full;
mod edge;
mod faults;
mod input_bounds;
mod key_browser;
mod key_page;
mod leaks;
mod lifecycle;
mod lists;
mod migrations;
mod openapi;
mod resets;
mod scopes;
mod sessions;
mod shell;
mod slow_clients;
mod sweep;
mod team;
mod usage;
mod webhooks;
mod webhooks_tab;
