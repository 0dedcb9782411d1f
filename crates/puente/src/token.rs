//! `puente token create | list | revoke`: API tokens for scripts, and the token creation `demo`
//! shares.

use std::sync::Arc;

use anyhow::{Context, Result, bail};
use puente_store::{Store, User};
use uuid::Uuid;

use crate::cli::{TokenCreateArgs, TokenListArgs, TokenRevokeArgs};
use crate::config::NodeDir;
use crate::node::{cli_ctx, now, open_store};

const MAX_LABEL_CHARS: usize = 200;

/// Creates a token for `user` and returns its secret. Only the secret's SHA-256 is stored, so
/// this is the one moment the secret exists outside its holder.
pub async fn create_token(store: &Arc<dyn Store>, user: &User, label: &str) -> Result<String> {
    create_token_with_id(store, user, label)
        .await
        .map(|(_, secret)| secret)
}

async fn create_token_with_id(
    store: &Arc<dyn Store>,
    user: &User,
    label: &str,
) -> Result<(Uuid, String)> {
    let label = label.trim();
    if label.is_empty() || label.chars().count() > MAX_LABEL_CHARS {
        bail!("a token label is 1–{MAX_LABEL_CHARS} characters");
    }
    let (secret, secret_hash) = puente_web::token::generate();
    let id = Uuid::now_v7();
    store
        .create_token(&cli_ctx(now()), id, user.meta.id, &secret_hash, label)
        .await
        .with_context(|| format!("creating a token for {:?}", user.name))?;
    Ok((id, secret))
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
    let (id, secret) = create_token_with_id(&store, &user, &args.label).await?;
    say!(
        "token {id} for {} ({}), label {:?}",
        user.name,
        user.role,
        args.label.trim()
    );
    say!("token: {secret}");
    say!("This token is shown only once. Send it as `Authorization: Bearer <token>`.");
    Ok(())
}

pub async fn list(args: TokenListArgs) -> Result<()> {
    let node = NodeDir::load(&args.node.dir)?;
    let store = open_store(node.database_url(args.node.database.as_deref()), &node.dir).await?;
    let only = match &args.user {
        None => None,
        Some(name) => match store
            .user_by_name(name)
            .await
            .context("looking up the user")?
        {
            Some(u) => Some(u.meta.id),
            None => bail!("no user named {name:?} on this node"),
        },
    };
    let tokens = store.list_tokens(only).await.context("listing tokens")?;
    let mut names = std::collections::HashMap::new();
    for t in &tokens {
        if let std::collections::hash_map::Entry::Vacant(slot) = names.entry(t.user) {
            let name = store
                .user_by_id(t.user)
                .await
                .context("looking up a token's user")?
                .map_or_else(|| t.user.to_string(), |u| u.name);
            slot.insert(name);
        }
    }
    for t in &tokens {
        let created = t
            .created_at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let user = names.get(&t.user).map_or("?", String::as_str);
        say!("{}  {user}  {created}  {:?}", t.id, t.label);
    }
    if tokens.is_empty() {
        say!("no tokens");
    }
    Ok(())
}

pub async fn revoke(args: TokenRevokeArgs) -> Result<()> {
    let node = NodeDir::load(&args.node.dir)?;
    let Ok(id) = Uuid::try_parse(args.id.trim()) else {
        bail!(
            "{:?} is not a token id: `puente token list` shows them",
            args.id
        );
    };
    let store = open_store(node.database_url(args.node.database.as_deref()), &node.dir).await?;
    match store.revoke_token(&cli_ctx(now()), id).await {
        Ok(t) => {
            say!("revoked token {} ({:?})", t.id, t.label);
            Ok(())
        }
        Err(puente_store::StoreError::NotFound { .. }) => {
            bail!("no token {id} on this node: `puente token list` shows them")
        }
        Err(e) => Err(e).context("revoking the token"),
    }
}
