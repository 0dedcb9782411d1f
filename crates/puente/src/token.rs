//! `puente token create`: API tokens for scripts, and the token creation `demo` shares.

use std::sync::Arc;

use anyhow::{Context, Result, bail};
use puente_store::{Store, User};
use uuid::Uuid;

use crate::cli::TokenCreateArgs;
use crate::config::NodeDir;
use crate::node::{cli_ctx, now, open_store};

const MAX_LABEL_CHARS: usize = 200;

/// Creates a token for `user` and returns its secret. Only the secret's SHA-256 is stored, so
/// this is the one moment the secret exists outside its holder.
pub async fn create_token(store: &Arc<dyn Store>, user: &User, label: &str) -> Result<String> {
    let label = label.trim();
    if label.is_empty() || label.chars().count() > MAX_LABEL_CHARS {
        bail!("a token label is 1–{MAX_LABEL_CHARS} characters");
    }
    let (secret, secret_hash) = puente_web::token::generate();
    store
        .create_token(
            &cli_ctx(now()),
            Uuid::now_v7(),
            user.meta.id,
            &secret_hash,
            label,
        )
        .await
        .with_context(|| format!("creating a token for {:?}", user.name))?;
    Ok(secret)
}

pub async fn create(args: TokenCreateArgs) -> Result<()> {
    let node = NodeDir::load(&args.node.dir)?;
    let store = open_store(node.database_url(args.node.database.as_deref()), &node.dir).await?;
    let Some(user) = store
        .user_by_name(&args.user)
        .await
        .context("looking up the user")?
    else {
        bail!(
            "no user named {:?} on this node: add one with `puente user add`",
            args.user
        );
    };
    if user.disabled {
        bail!("user {:?} is disabled: a token would not work", user.name);
    }
    let secret = create_token(&store, &user, &args.label).await?;
    say!(
        "token for {} ({}), label {:?}",
        user.name,
        user.role,
        args.label.trim()
    );
    say!("token: {secret}");
    say!("This token is shown only once. Send it as `Authorization: Bearer <token>`.");
    Ok(())
}
