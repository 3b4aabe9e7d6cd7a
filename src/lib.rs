//! Callem Studio, self-hosted: the API keys dashboard and the public REST API in one binary.

pub mod api;
pub mod assets;
pub mod auth;
pub mod cli;
pub mod config;
pub mod conn_limits;
pub mod db;
pub mod demo;
pub mod domain;
pub mod edge;
pub mod email;
pub mod import;
pub mod jobs;
pub mod json_field;
pub mod markdown;
pub mod origin;
pub mod rate_limit;
pub mod request;
pub mod secret;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod time;
pub mod usage;
pub mod web;
pub mod webhooks;
