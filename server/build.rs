//! Makes sure the site folder exists, so that `cargo check`, clippy and tests work on a fresh
//! checkout before cargo-leptos has built the front end; and builds the iPXE loaders in:
//! those `.ci/setup` put in `target/loaders` (Debian trixie's, pinned), else those of
//! Debian's installed `ipxe` package, else none (then `serve` reads `--loaders-dir`).

use std::{
    env, fs,
    path::{Path, PathBuf},
};

/// The loaders by the names they are served under.
const LOADERS: [&str; 4] = ["undionly.kpxe", "snponly.efi", "ipxe.efi", "ipxe-arm64.efi"];

fn main() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let site = manifest.join("../target/site");
    if let Err(error) = fs::create_dir_all(&site) {
        println!("cargo::warning=cannot create {}: {error}", site.display());
    }
    println!("cargo::rerun-if-changed=../target/site");
    bundle_loaders(manifest);
}

fn bundle_loaders(manifest: &Path) {
    println!("cargo::rerun-if-env-changed=PXECLOUD_BUNDLED_LOADERS");
    let fetched = env::var_os("PXECLOUD_BUNDLED_LOADERS")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../target/loaders"));
    let installed = PathBuf::from("/usr/lib/ipxe");
    // Watched as a folder that exists (a missing path would rerun this script every build);
    // the set-up replaces the folder's content when it fetches other loaders.
    if env::var_os("PXECLOUD_BUNDLED_LOADERS").is_none() {
        let _ = fs::create_dir_all(&fetched);
    }
    println!("cargo::rerun-if-changed={}", fetched.display());
    let (dir, source) = if let Ok(source) = fs::read_to_string(fetched.join("SOURCE")) {
        (Some(fetched), source.trim().to_owned())
    } else if installed.join("undionly.kpxe").exists() {
        println!("cargo::rerun-if-changed={}", installed.display());
        (
            Some(installed),
            "Debian's installed ipxe package".to_owned(),
        )
    } else {
        println!(
            "cargo::warning=no iPXE loaders to build in (run .ci/setup, or install Debian's \
             ipxe package): serve will read them from --loaders-dir"
        );
        (None, String::new())
    };
    let mut entries = String::new();
    if let Some(dir) = &dir {
        for name in LOADERS {
            let path = dir.join(name);
            if let Ok(path) = path.canonicalize() {
                println!("cargo::rerun-if-changed={}", path.display());
                entries.push_str(&format!("    ({name:?}, include_bytes!({:?})),\n", path));
            }
        }
    }
    let code = format!(
        "/// Where the built-in loaders come from.\n\
         pub const SOURCE: &str = {source:?};\n\
         /// The built-in loaders, by name.\n\
         pub const LOADERS: &[(&str, &[u8])] = &[\n{entries}];\n"
    );
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::write(out.join("bundled_loaders.rs"), code).expect("OUT_DIR is writable");
}
