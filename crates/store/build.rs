// `sqlx::migrate!` embeds the migrations at compile time; a new migration file must rebuild
// the crate (a proc macro cannot watch a folder).
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
