//! Why a policy file was refused. Each message points at the offending policy (its `@id` or
//! line) so the node's administrator can fix the file without reading Cedar's internals.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("cannot read policy file {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },

    /// The text is not Cedar. `message` lists each error with its line and column.
    #[error("policy file has syntax errors: {message}")]
    Parse { message: String },

    /// The policies parse but use names or types the schema does not have (a misspelled
    /// attribute, an unknown entity type, comparing a set with a string...).
    #[error("policy file does not match the policy schema: {message}")]
    Validation { message: String },

    /// Denials name the policy responsible by its `@id`, so every policy needs one.
    #[error(
        "the policy at line {line} ({start}) has no @id(\"...\") annotation; give every policy a unique one"
    )]
    MissingId {
        line: usize,
        /// The start of the policy's text, to recognise it by.
        start: String,
    },

    #[error(
        "@id(\"{id}\") at line {line} is already used by the policy at line {first_line}; policy ids must be unique"
    )]
    DuplicateId {
        id: String,
        line: usize,
        first_line: usize,
    },

    /// Templates need linking, which a node's policy file has no way to do.
    #[error(
        "policy {id} at line {line} is a template (it uses ?principal or ?resource); write it as a plain policy"
    )]
    Template { id: String, line: usize },

    /// The schema shipped inside this crate did not load: a defect of the build, not of the file.
    #[error("the built-in policy schema is invalid: {message}")]
    Schema { message: String },
}
