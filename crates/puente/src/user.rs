//! `puente user add`, and the user creation that `init` and `demo` share with it.

use std::io::BufRead;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use puente_domain::{PartyCode, RecordMeta, Role, UserName};
use puente_store::{Store, StoreError, User};
use uuid::Uuid;

use crate::cli::UserAddArgs;
use crate::config::NodeDir;
use crate::node::{cli_ctx, now, open_store};

/// Shortest password accepted from standard input; generated ones are 20 characters.
const MIN_PASSWORD_CHARS: usize = 12;
const MAX_PASSWORD_CHARS: usize = 1024;

/// A login name: 1–64 of lower-case ASCII letters, digits, `.`, `_` and `-`, starting with a
/// letter or digit. Narrow on purpose: names appear in logs, the audit trail and URLs.
/// The one user-name rule, shared with the API (`puente_domain::UserName`).
pub fn check_name(name: &str) -> Result<()> {
    UserName::parse(name).map(drop).map_err(|_| {
        anyhow::anyhow!(
            "{name:?} is not a valid user name: use 1–{} lower-case letters, digits, '.', '_' or \
             '-', starting with a letter or digit",
            UserName::MAX
        )
    })
}

pub fn parse_role(s: &str) -> Result<Role> {
    s.parse::<Role>().map_err(|_| {
        let names: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
        anyhow::anyhow!("unknown role {s:?}: use one of {}", names.join(", "))
    })
}

/// Creates a user with an Argon2id hash of `password`, audited as a change by the node itself.
pub async fn create_user(
    store: &Arc<dyn Store>,
    party: PartyCode,
    name: &str,
    role: Role,
    agency: Option<&str>,
    password: &str,
) -> Result<User> {
    check_name(name)?;
    let agency = agency.map(str::trim).filter(|a| !a.is_empty());
    if role == Role::AgencyUser && agency.is_none() {
        bail!("an agency-user belongs to an agency: give --agency");
    }
    let password_hash = puente_web::password::hash(password).context("hashing the password")?;
    let at = now();
    let user = User {
        meta: RecordMeta::new(Uuid::now_v7(), party, at),
        name: name.to_owned(),
        role,
        agency: agency.map(str::to_owned),
        password_hash: Some(password_hash),
        disabled: false,
        lang: None,
    };
    match store.create_user(&cli_ctx(at), &user).await {
        Ok(u) => Ok(u),
        Err(StoreError::Duplicate { .. }) => bail!("a user named {name:?} already exists"),
        Err(e) => Err(e).with_context(|| format!("creating user {name:?}")),
    }
}

/// Reads a password from the first line of standard input.
fn read_password_line() -> Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from stdin")?;
    let password = line.trim_end_matches(['\n', '\r']).to_owned();
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        bail!(
            "the password read from stdin is {n} characters; at least {MIN_PASSWORD_CHARS} are needed"
        );
    }
    if n > MAX_PASSWORD_CHARS {
        bail!("the password read from stdin is longer than {MAX_PASSWORD_CHARS} characters");
    }
    Ok(password)
}

pub async fn add(args: UserAddArgs) -> Result<()> {
    check_name(&args.name)?;
    let role = parse_role(&args.role)?;
    let node = NodeDir::load(&args.node.dir)?;
    let (password, generated) = if args.password_stdin {
        (read_password_line()?, false)
    } else {
        (puente_web::password::generate(), true)
    };
    let store = open_store(node.database_url(args.node.database.as_deref()), &node.dir).await?;
    let user = create_user(
        &store,
        node.party,
        &args.name,
        role,
        args.agency.as_deref(),
        &password,
    )
    .await?;
    say!("user {} ({}) added", user.name, user.role);
    if generated {
        say!("password: {password}");
        say!("This password is shown only once.");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_narrow() {
        for ok in ["admin", "j.rivera", "officer-2", "a", "x_y"] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Admin", "-x", ".x", "a b", "ñandú", &"a".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn roles_are_named_in_errors() {
        assert_eq!(parse_role("auditor").unwrap(), Role::Auditor);
        let err = parse_role("root").unwrap_err().to_string();
        assert!(err.contains("program-officer"), "{err}");
    }
}
