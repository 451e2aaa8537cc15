//! Rebuild when a migration is added or changed: `sqlx::migrate!` embeds the files at compile
//! time, and without this a new migration alone would not trigger a rebuild.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
