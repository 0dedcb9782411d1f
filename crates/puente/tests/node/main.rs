//! The integration tests of the puente binary: one test binary, one module per subject, all
//! sharing the helpers that start real nodes.

// A test binary: a panic here is a failed assertion, not a crashed node. clippy.toml's
// allow-*-in-tests covers `#[test]` functions only, not the helpers they call.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod helpers;

mod cli;

mod api;
mod browser;
mod crash;
mod demo;
mod exchange_log;
mod federation;
mod federation_faults;
mod federation_rejects;
mod web;
