//! `puente audit verify`: recomputes the node's hash-chained audit trail.
//!
//! Exit codes follow `grep` and `diff`: 0 the chain is intact, 1 it is broken, 2 the check could
//! not be made (see `main`).

use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::cli::NodeArgs;
use crate::config::NodeDir;
use crate::node::open_store;

pub async fn verify(args: NodeArgs) -> Result<ExitCode> {
    let node = NodeDir::load(&args.dir)?;
    let store = open_store(node.database_url(args.database.as_deref()), &node.dir).await?;
    let v = store
        .verify_audit()
        .await
        .context("reading the audit trail")?;
    Ok(match v.first_bad {
        None => {
            say!("audit chain ok: {} entries", v.n_entries);
            ExitCode::SUCCESS
        }
        Some((seq, reason)) => {
            say!("audit chain broken at entry {seq}: {reason}");
            ExitCode::from(1)
        }
    })
}
