//! Makes sure the site folder exists, so that `cargo check`, clippy and tests work on a fresh
//! checkout before cargo-leptos has built the front end.

fn main() {
    let site = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/site");
    if let Err(error) = std::fs::create_dir_all(&site) {
        println!("cargo::warning=cannot create {}: {error}", site.display());
    }
    println!("cargo::rerun-if-changed=../target/site");
}
