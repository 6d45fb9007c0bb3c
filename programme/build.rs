//! `sqlx::migrate!` embeds `../migrations` at compile time, but on stable Rust a new or edited
//! migration file does not make cargo rebuild the crate by itself: without this, a test binary
//! could run with the migrations of its previous build.
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
