//! What the TFTP server serves: a closed set of names — the iPXE loaders and the generated
//! `autoexec.ipxe` — never a path on disk that a client names.

use std::{
    collections::BTreeMap,
    net::{Ipv4Addr, SocketAddrV4},
    path::Path,
    sync::{Arc, RwLock},
};

use app::{model::LoaderArch, server::services::loader_sets::Library};

/// Who asks for a file, and at which of this server's addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Asker {
    pub client: SocketAddrV4,
    /// The address the client sent its request to (unspecified when unknown).
    pub server: Ipv4Addr,
}

/// The files a TFTP server answers with, by name.
pub trait Files: Send + Sync + 'static {
    /// The content of `name` for `asker`, or `None` when there is no such file.
    fn open(&self, name: &str, asker: Asker) -> Option<Arc<[u8]>>;
}

/// Checks a requested name before any lookup: printable ASCII, no directory parts that
/// could leave the set (`..`, a leading `/`, a backslash). The answer is the message of the
/// error packet.
pub fn check_name(name: &[u8]) -> Result<&str, &'static str> {
    let name = std::str::from_utf8(name).map_err(|_| "file names are ASCII")?;
    if !name.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("file names are printable ASCII without spaces");
    }
    if name.starts_with('/') {
        return Err("absolute paths are not served");
    }
    if name.contains('\\') {
        return Err("backslashes are not allowed in file names");
    }
    if name.split('/').any(|part| part == ".." || part.is_empty()) {
        return Err("this path is not served");
    }
    Ok(name)
}

/// A file's bytes as `netascii` sends them: line ends as CR LF, a lone CR as CR NUL.
pub fn to_netascii(content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + content.len() / 16);
    for &byte in content {
        match byte {
            b'\n' => out.extend_from_slice(b"\r\n"),
            b'\r' => out.extend_from_slice(b"\r\0"),
            other => out.push(other),
        }
    }
    out
}

/// The names iPXE loaders go by over TFTP, and where Debian's `ipxe` package keeps them.
pub const LOADERS: [&str; 4] = ["undionly.kpxe", "snponly.efi", "ipxe.efi", "ipxe-arm64.efi"];

/// The loaders built into the binary (`server/build.rs`).
pub mod bundled {
    include!(concat!(env!("OUT_DIR"), "/bundled_loaders.rs"));
}

/// The boot server's files: the loaders found on this machine (or built in), the sets a
/// server admin added (as `<set>/<file>`), and the generated `autoexec.ipxe`.
#[derive(Debug, Clone, Default)]
pub struct BootFiles {
    loaders: BTreeMap<String, Arc<[u8]>>,
    /// Files of the loader sets added, by `<set>/<file>`.
    added: BTreeMap<String, Arc<[u8]>>,
    /// The loader an architecture is offered when it is not the built-in one.
    chosen: BTreeMap<LoaderArch, String>,
    /// Where the loaders come from, for the log and the admin.
    source: String,
    base_url: Option<String>,
    http_port: u16,
}

impl BootFiles {
    /// The loaders in `dir` (those of [`LOADERS`] that exist there) and the `autoexec.ipxe`
    /// that sends iPXE to `base_url` (or, without one, to the address the client reached
    /// this server at, on `http_port`).
    pub fn new(dir: &Path, base_url: Option<&str>, http_port: u16) -> Self {
        let loaders = LOADERS
            .iter()
            .filter_map(|name| {
                let content = std::fs::read(dir.join(name)).ok()?;
                Some(((*name).to_owned(), Arc::from(content)))
            })
            .collect();
        Self {
            loaders,
            source: dir.display().to_string(),
            base_url: base_url.map(str::to_owned),
            http_port,
            ..Self::default()
        }
    }

    /// These loaders, by name (tests and benchmarks).
    pub fn from_loaders(loaders: &[(&str, &[u8])], http_port: u16) -> Self {
        Self {
            loaders: loaders
                .iter()
                .map(|(name, bytes)| ((*name).to_owned(), Arc::from(*bytes)))
                .collect(),
            source: "given".to_owned(),
            http_port,
            ..Self::default()
        }
    }

    /// The same loaders with `library`'s sets and choices instead of the current ones.
    pub fn with_library(&self, library: Library) -> Self {
        Self {
            added: library
                .files
                .into_iter()
                .map(|(path, bytes)| (path, Arc::from(bytes)))
                .collect(),
            chosen: library.chosen,
            ..self.clone()
        }
    }

    /// The loader offered to `arch`: the one a server admin chose, else the built-in one,
    /// when it is there.
    pub fn for_arch(&self, arch: LoaderArch) -> Option<&str> {
        match self.chosen.get(&arch) {
            Some(path) if self.added.contains_key(path) => Some(path),
            _ => self
                .loaders
                .get_key_value(arch.builtin())
                .map(|(name, _)| name.as_str()),
        }
    }

    /// The loader offered to each architecture that has one.
    pub fn choices(&self) -> BTreeMap<LoaderArch, String> {
        LoaderArch::ALL
            .into_iter()
            .filter_map(|arch| Some((arch, self.for_arch(arch)?.to_owned())))
            .collect()
    }

    /// The loaders built into the binary, and the same `autoexec.ipxe` as [`BootFiles::new`].
    pub fn bundled(base_url: Option<&str>, http_port: u16) -> Self {
        Self {
            loaders: bundled::LOADERS
                .iter()
                .map(|(name, bytes)| ((*name).to_owned(), Arc::from(*bytes)))
                .collect(),
            source: format!("built in: {}", bundled::SOURCE),
            base_url: base_url.map(str::to_owned),
            http_port,
            ..Self::default()
        }
    }

    /// Where the loaders come from: a folder, or built in and from which package.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// One loader, built in or added (never the generated script), for UEFI HTTP Boot.
    pub fn loader(&self, name: &str) -> Option<Arc<[u8]>> {
        self.loaders
            .get(name)
            .or_else(|| self.added.get(name))
            .cloned()
    }

    /// The loaders found and added.
    pub fn loader_names(&self) -> Vec<String> {
        self.loaders
            .keys()
            .chain(self.added.keys())
            .cloned()
            .collect()
    }

    /// Each loader found (not added) with its size and SHA-256, for the Network boot page.
    pub fn listing(&self) -> Vec<(String, u64, String)> {
        use sha2::Digest;
        self.loaders
            .iter()
            .map(|(name, bytes)| {
                let digest = hex::encode(sha2::Sha256::digest(bytes));
                (name.clone(), bytes.len() as u64, digest)
            })
            .collect()
    }

    /// The names served, loaders first.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .loaders
            .keys()
            .chain(self.added.keys())
            .map(String::as_str)
            .collect();
        names.push(AUTOEXEC);
        names
    }
}

/// The script iPXE loaders run first when they were fetched over TFTP.
pub const AUTOEXEC: &str = "autoexec.ipxe";

impl BootFiles {
    /// Whether `name` is `autoexec.ipxe`, or `<set>/autoexec.ipxe` of an added set (iPXE
    /// looks for it beside the loader it was loaded as).
    fn is_autoexec(&self, name: &str) -> bool {
        match name.rsplit_once('/') {
            None => name == AUTOEXEC,
            Some((set, file)) => {
                file == AUTOEXEC
                    && self
                        .added
                        .keys()
                        .any(|path| path.split_once('/').is_some_and(|(s, _)| s == set))
            }
        }
    }
}

impl Files for BootFiles {
    fn open(&self, name: &str, asker: Asker) -> Option<Arc<[u8]>> {
        if self.is_autoexec(name) {
            let script = autoexec(self.base_url.as_deref(), self.http_port, asker.server);
            return Some(Arc::from(script.into_bytes()));
        }
        self.loader(name)
    }
}

/// The boot server's files as they are now, shared by TFTP, ProxyDHCP and the HTTP loader
/// route: replaced whole when a server admin changes the loader sets.
#[derive(Debug)]
pub struct LiveFiles {
    current: RwLock<Arc<BootFiles>>,
    changed: tokio::sync::Notify,
}

impl LiveFiles {
    pub fn new(files: BootFiles) -> Self {
        Self {
            current: RwLock::new(Arc::new(files)),
            changed: tokio::sync::Notify::new(),
        }
    }

    /// The files now.
    pub fn current(&self) -> Arc<BootFiles> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Serves `library`'s sets and choices from now on.
    pub fn replace_library(&self, library: Library) {
        let next = Arc::new(self.current().with_library(library));
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = next;
    }

    /// Says the library changed (a server admin changed it on this replica).
    pub fn notify_changed(&self) {
        self.changed.notify_one();
    }

    /// Waits until [`LiveFiles::notify_changed`] is called.
    pub async fn changed(&self) {
        self.changed.notified().await;
    }
}

impl Files for LiveFiles {
    fn open(&self, name: &str, asker: Asker) -> Option<Arc<[u8]>> {
        self.current().open(name, asker)
    }
}

/// `autoexec.ipxe`: configure the network (again and again: the ProxyDHCP answer may come
/// after the site's), then chain to the boot flow naming the machine: at `base_url`, else at
/// `server` (the address the loader was fetched from), else — when that is unknown — at the
/// ProxyDHCP answer's `next-server` or the DHCP server's (the site's DHCP server may name
/// itself there).
pub fn autoexec(base_url: Option<&str>, http_port: u16, server: Ipv4Addr) -> String {
    let (find_host, base) = match base_url {
        Some(url) => (String::new(), url.trim_end_matches('/').to_owned()),
        None if !server.is_unspecified() => (String::new(), format!("http://{server}:{http_port}")),
        None => (
            "set pxecloud-host ${next-server}\n\
             isset ${proxydhcp/next-server} || goto chain\n\
             set pxecloud-host ${proxydhcp/next-server}\n\
             :chain\n"
                .to_owned(),
            format!("http://${{pxecloud-host}}:{http_port}"),
        ),
    };
    format!(
        "#!ipxe\n\
         # Written by PXE Cloud: configure the network, then go to the boot flow.\n\
         :dhcp\n\
         dhcp || goto retry\n\
         {find_host}\
         chain --autofree {base}/boot.ipxe?mac=${{net0/mac:hexhyp}}&uuid=${{uuid}}&platform=${{platform}}&arch=${{buildarch}} || goto retry\n\
         :retry\n\
         echo PXE Cloud: no answer yet, trying again in 3 seconds\n\
         sleep 3\n\
         goto dhcp\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_could_leave_the_set_are_refused() {
        for bad in [
            &b"../etc/passwd"[..],
            b"/etc/passwd",
            b"a/../../b",
            b"a\\b",
            b"a//b",
            b"a b",
            b"caf\xc3\xa9",
            b"\xff",
            b"a\x01",
        ] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(check_name(b"snponly.efi"), Ok("snponly.efi"));
        assert_eq!(check_name(b"x86_64/snponly.efi"), Ok("x86_64/snponly.efi"));
    }

    #[test]
    fn netascii_turns_line_ends_into_cr_lf() {
        assert_eq!(to_netascii(b"a\nb\rc"), b"a\r\nb\r\0c");
    }

    #[test]
    fn autoexec_chains_to_the_public_url_or_the_address_asked_or_the_next_server() {
        let asked = Ipv4Addr::new(10, 0, 0, 2);
        let script = autoexec(Some("https://boot.example.org/"), 8080, asked);
        assert!(script.starts_with("#!ipxe\n"));
        assert!(script.contains(
            "chain --autofree https://boot.example.org/boot.ipxe?mac=${net0/mac:hexhyp}&"
        ));
        let script = autoexec(None, 8080, asked);
        assert!(
            script.contains("chain --autofree http://10.0.0.2:8080/boot.ipxe?mac="),
            "{script}"
        );
        assert!(!script.contains("next-server"));
        let script = autoexec(None, 8080, Ipv4Addr::UNSPECIFIED);
        assert!(
            script.contains("chain --autofree http://${pxecloud-host}:8080/boot.ipxe?"),
            "{script}"
        );
        assert!(script.contains("set pxecloud-host ${next-server}\n"));
        assert!(script.contains("set pxecloud-host ${proxydhcp/next-server}\n"));
    }

    #[test]
    fn the_built_in_loaders_are_served_when_the_build_had_them() {
        let files = BootFiles::bundled(None, 8080);
        assert_eq!(files.loader_names().len(), bundled::LOADERS.len());
        if let Some((name, bytes)) = bundled::LOADERS.first() {
            assert_eq!(files.loader(name).as_deref(), Some(*bytes));
            assert!(
                files.source().starts_with("built in: "),
                "{}",
                files.source()
            );
        }
    }

    #[test]
    fn an_added_set_is_served_and_its_chosen_file_offered_while_it_exists() {
        let files = BootFiles::from_loaders(&[("snponly.efi", b"builtin")], 8080);
        assert_eq!(files.for_arch(LoaderArch::X64Uefi), Some("snponly.efi"));
        assert_eq!(files.for_arch(LoaderArch::Bios), None);
        let live = LiveFiles::new(files);
        live.replace_library(Library {
            files: vec![("sb/ipxe-shim.efi".into(), b"shim".to_vec())],
            chosen: [
                (LoaderArch::X64Uefi, "sb/ipxe-shim.efi".to_owned()),
                (LoaderArch::Bios, "sb/gone.kpxe".to_owned()),
            ]
            .into(),
        });
        let now = live.current();
        assert_eq!(now.for_arch(LoaderArch::X64Uefi), Some("sb/ipxe-shim.efi"));
        // A choice of a file that is not there falls back to the built-in loader (none here).
        assert_eq!(now.for_arch(LoaderArch::Bios), None);
        let asker = Asker {
            client: "127.0.0.1:5000".parse().unwrap(),
            server: Ipv4Addr::LOCALHOST,
        };
        assert_eq!(
            live.open("sb/ipxe-shim.efi", asker).as_deref(),
            Some(&b"shim"[..])
        );
        assert_eq!(
            live.open("snponly.efi", asker).as_deref(),
            Some(&b"builtin"[..])
        );
        live.replace_library(Library::default());
        assert!(live.open("sb/ipxe-shim.efi", asker).is_none());
        assert_eq!(
            live.current().for_arch(LoaderArch::X64Uefi),
            Some("snponly.efi")
        );
    }

    #[test]
    fn only_the_set_is_served() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("snponly.efi"), b"loader").unwrap();
        std::fs::write(dir.path().join("secret"), b"no").unwrap();
        let files = BootFiles::new(dir.path(), None, 8080);
        let client = Asker {
            client: "127.0.0.1:5000".parse().unwrap(),
            server: Ipv4Addr::LOCALHOST,
        };
        assert_eq!(
            files.open("snponly.efi", client).as_deref(),
            Some(&b"loader"[..])
        );
        assert!(files.open("secret", client).is_none());
        assert!(files.open(AUTOEXEC, client).is_some());
        assert_eq!(files.names(), ["snponly.efi", AUTOEXEC]);
    }
}
