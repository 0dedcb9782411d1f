//! `sqlx::migrate!` embeds the migration files at compile time but does not tell cargo about
//! them, so a new migration file would not trigger a rebuild; this does.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
