//! What passes between sovereign puente nodes, and how: each node's identity (an Ed25519
//! signing key and a TLS certificate), the signed **peer card** two parties swap to recognise
//! each other, the signed **envelope** every message travels in and the **receipt** that answers
//! it, and mutual TLS with pinned certificates between peers.
//!
//! The byte-exact envelope format is specified in `docs/exchange.md`; this crate is its
//! reference implementation. Nothing here touches a database: the store keeps what this crate
//! has verified.

pub mod card;
mod committer;
pub mod envelope;
pub mod error;
pub mod items;
pub mod json;
pub mod keys;
pub mod node;
pub mod tlog;
pub mod tls;
pub mod wire;
