//! An ISO's file tree, read once with `hadris-iso` (see `docs/design/iso-reading.md`): every
//! file's path (Rock Ridge names, else Joliet, else plain ISO 9660 without `;1`), size and
//! extents in the ISO, so that files inside it can be served by byte range without hadris
//! in the request path, and the small text files the recipes read.
//!
//! Blocking: call inside `spawn_blocking`, one image per call (hadris keeps its reader in a
//! spin lock). Any parse error is "not an ISO PXE Cloud can read", never a panic or a 500.

use std::{fs::File, io::BufReader, os::unix::fs::FileExt, path::Path};

use hadris_iso::{
    directory::DirectoryRef,
    file::EntryType,
    read::{DirEntry, IsoImage},
};

use super::recipes::{Listing, TEXT_MAX, WANTED_TEXTS};

/// The deepest folder followed, and the most files listed: an ISO is untrusted input.
const MAX_DEPTH: usize = 32;
const MAX_FILES: usize = 200_000;
const MAX_DIRS: usize = 50_000;
/// The largest folder read (its records are read whole): ~100,000 names.
const MAX_DIR_BYTES: usize = 16 * 1024 * 1024;
/// ISO 9660 logical blocks.
const SECTOR: u64 = 2048;

/// A file inside an ISO.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IsoFile {
    /// From the root, `/` first, as the ISO names it.
    pub path: String,
    pub size: u64,
    /// Byte offsets in the ISO and lengths, in order (more than one for files over 4 GiB).
    pub extents: Vec<(u64, u64)>,
}

/// What is in an ISO.
#[derive(Debug, Clone, Default)]
pub struct IsoIndex {
    pub volume_id: String,
    pub rock_ridge: bool,
    pub joliet: bool,
    pub files: Vec<IsoFile>,
}

/// Why an ISO could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("this is not an ISO 9660 image PXE Cloud can read ({0})")]
    NotIso(String),
    #[error(
        "the ISO's file tree is larger than PXE Cloud reads (deeper than {MAX_DEPTH} folders, \
         more than {MAX_FILES} files or {MAX_DIRS} folders, or a folder over 16 MiB)"
    )]
    TooLarge,
    #[error("the ISO could not be read: {0}")]
    Io(#[from] std::io::Error),
}

fn not_iso(error: impl std::fmt::Display) -> ReadError {
    ReadError::NotIso(error.to_string())
}

/// Reads the tree of the ISO at `path`.
pub fn index(path: &Path) -> Result<IsoIndex, ReadError> {
    let iso = IsoImage::open(BufReader::new(File::open(path)?)).map_err(not_iso)?;
    let volume_id = iso
        .read_pvd()
        .map_err(not_iso)?
        .volume_identifier
        .to_string()
        .trim()
        .to_owned();
    let joliet = iso
        .root_dirs()
        .iter()
        .any(|root| matches!(root.entry_type(), EntryType::Joliet { .. }));
    let rock_ridge = iso.supports_rrip();
    let root = iso.root_dir();
    let joliet_names = matches!(root.entry_type(), EntryType::Joliet { .. }) && !rock_ridge;
    let mut found = Walk::default();
    walk(&iso, root.dir_ref(), joliet_names, "", 0, &mut found)?;
    Ok(IsoIndex {
        volume_id,
        rock_ridge,
        joliet,
        files: found.files,
    })
}

/// An entry's name: Rock Ridge's, else Joliet's (in a Joliet tree), else the plain one
/// without its version.
fn name_of(entry: &DirEntry, joliet_names: bool) -> String {
    if let Some(name) = entry.rrip.as_ref().and_then(|m| m.alternate_name.clone()) {
        return name.to_string();
    }
    if joliet_names {
        return entry.record.joliet_name().to_string();
    }
    let name = String::from_utf8_lossy(entry.name()).into_owned();
    let name = name.strip_suffix(";1").unwrap_or(&name);
    name.strip_suffix('.').unwrap_or(name).to_owned()
}

/// A walk of the tree: what it found, and what it has been through (an untrusted ISO can
/// point a folder at one of its parents, or make folders of any claimed size).
#[derive(Default)]
struct Walk {
    files: Vec<IsoFile>,
    visited: std::collections::HashSet<usize>,
}

fn walk<R: std::io::Read + std::io::Seek>(
    iso: &IsoImage<R>,
    dir: DirectoryRef,
    joliet_names: bool,
    prefix: &str,
    depth: usize,
    found: &mut Walk,
) -> Result<(), ReadError> {
    if depth > MAX_DEPTH || dir.size > MAX_DIR_BYTES || found.visited.len() >= MAX_DIRS {
        return Err(ReadError::TooLarge);
    }
    // A folder reached twice (a loop, or two names for one folder) is listed once.
    if !found.visited.insert(dir.extent.0) {
        return Ok(());
    }
    for entry in iso.open_dir(dir).read_entries().map_err(not_iso)? {
        if entry.is_special() {
            continue;
        }
        let name = name_of(&entry, joliet_names);
        // Rock Ridge's relocation folder holds what CL entries point at: reached there.
        if depth == 0
            && (name.eq_ignore_ascii_case("rr_moved") || name.eq_ignore_ascii_case(".rr_moved"))
        {
            continue;
        }
        // Symbolic links are not followed (Debian's `debian -> .` would loop), nor are
        // names that would make a path of another shape.
        if entry
            .rrip
            .as_ref()
            .is_some_and(|m| m.symlink_target.is_some())
            || name.is_empty()
            || name == "."
            || name == ".."
            || name.contains('/')
        {
            continue;
        }
        let path = format!("{prefix}/{name}");
        if entry.is_directory() {
            let child = entry.as_dir_ref(iso).map_err(not_iso)?;
            walk(iso, child, joliet_names, &path, depth + 1, found)?;
        } else {
            if found.files.len() >= MAX_FILES {
                return Err(ReadError::TooLarge);
            }
            found.files.push(IsoFile {
                path,
                size: entry.total_size(),
                extents: entry
                    .extents()
                    .map(|extent| (extent.sector.0 as u64 * SECTOR, u64::from(extent.length)))
                    .collect(),
            });
        }
    }
    Ok(())
}

/// Up to `max` bytes of `file`, read from the ISO at `iso` by its extents.
pub fn read_small(iso: &File, file: &IsoFile, max: usize) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::with_capacity(file.size.min(max as u64) as usize);
    for &(offset, length) in &file.extents {
        let room = max - bytes.len();
        if room == 0 {
            break;
        }
        let take = length.min(room as u64) as usize;
        let start = bytes.len();
        bytes.resize(start + take, 0);
        iso.read_exact_at(&mut bytes[start..], offset)?;
    }
    Ok(bytes)
}

/// What the recipes need from an indexed ISO: its volume id, its paths, and the small texts
/// they read.
pub fn listing(iso: &File, index: &IsoIndex) -> std::io::Result<Listing> {
    let mut listing = Listing {
        volume_id: index.volume_id.clone(),
        files: index.files.iter().map(|f| f.path.clone()).collect(),
        ..Listing::default()
    };
    for wanted in WANTED_TEXTS {
        if let Some(file) = index
            .files
            .iter()
            .find(|f| f.path.eq_ignore_ascii_case(wanted))
        {
            let bytes = read_small(iso, file, TEXT_MAX)?;
            listing.texts.insert(
                wanted.to_owned(),
                String::from_utf8_lossy(&bytes).into_owned(),
            );
        }
    }
    Ok(listing)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::iso::recipes::{Recognition, recognise};
    use std::{path::PathBuf, process::Command};

    /// A scratch folder, removed at the end.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new() -> Self {
            let mut bytes = [0u8; 8];
            rand::fill(&mut bytes);
            let dir = std::env::temp_dir().join(format!("pxecloud-iso-{}", hex::encode(bytes)));
            std::fs::create_dir_all(dir.join("tree")).unwrap();
            Self(dir)
        }

        fn put(&self, path: &str, bytes: &[u8]) {
            let path = self.0.join("tree").join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, bytes).unwrap();
        }

        /// An ISO of the tree, made by xorriso (a test dependency, installed by `.ci/setup`)
        /// with `options` (`-R`, `-J`, …).
        fn iso(&self, volume: &str, options: &[&str]) -> PathBuf {
            let out = self.0.join("image.iso");
            let made = Command::new("xorriso")
                .args(["-as", "mkisofs", "-quiet", "-V", volume])
                .args(options)
                .arg("-o")
                .arg(&out)
                .arg(self.0.join("tree"))
                .output()
                .expect("xorriso runs (apt-get install xorriso)");
            assert!(
                made.status.success(),
                "{}",
                String::from_utf8_lossy(&made.stderr)
            );
            out
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// Bytes that differ along their length, so a misplaced extent shows.
    fn content(len: usize, seed: u8) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect()
    }

    fn bytes_of(iso: &Path, file: &IsoFile) -> Vec<u8> {
        read_small(&File::open(iso).unwrap(), file, usize::MAX).unwrap()
    }

    #[test]
    fn a_rock_ridge_and_joliet_iso_is_listed_with_its_names_sizes_and_extents() {
        let scratch = Scratch::new();
        let kernel = content(300_000, 1);
        scratch.put("live/vmlinuz-6.1.0-18-amd64", &kernel);
        scratch.put("live/initrd.img-6.1.0-18-amd64", &content(70_001, 2));
        scratch.put("live/filesystem.squashfs", &content(5000, 3));
        scratch.put(
            ".disk/info",
            b"Debian GNU/Linux 12.5.0 \"Bookworm\" - Official amd64 LIVE\n",
        );
        scratch.put("boot/grub/A Long Mixed-Case Name.cfg", b"menuentry");
        scratch.put("empty", b"");
        std::os::unix::fs::symlink(".", scratch.0.join("tree/debian")).unwrap();
        let iso = scratch.iso("d-live 12.5.0 gn amd64", &["-R", "-J"]);

        let index = index(&iso).unwrap();
        assert_eq!(index.volume_id, "d-live 12.5.0 gn amd64");
        assert!(index.rock_ridge && index.joliet);
        let mut paths: Vec<&str> = index.files.iter().map(|f| f.path.as_str()).collect();
        paths.sort_unstable();
        assert_eq!(
            paths,
            [
                "/.disk/info",
                "/boot/grub/A Long Mixed-Case Name.cfg",
                "/empty",
                "/live/filesystem.squashfs",
                "/live/initrd.img-6.1.0-18-amd64",
                "/live/vmlinuz-6.1.0-18-amd64",
            ],
            "Rock Ridge names, the symbolic link not followed"
        );
        let find = |path: &str| index.files.iter().find(|f| f.path == path).unwrap();
        let vmlinuz = find("/live/vmlinuz-6.1.0-18-amd64");
        assert_eq!(vmlinuz.size, 300_000);
        assert_eq!(
            bytes_of(&iso, vmlinuz),
            kernel,
            "the extents hold the file's bytes"
        );
        assert_eq!(find("/empty").size, 0);
        assert!(bytes_of(&iso, find("/empty")).is_empty());

        let listing = listing(&File::open(&iso).unwrap(), &index).unwrap();
        assert!(listing.texts["/.disk/info"].starts_with("Debian GNU/Linux 12.5.0"));
        match recognise(&listing) {
            Recognition::Netboot(recipe) => {
                assert_eq!(recipe.kernel, "/live/vmlinuz-6.1.0-18-amd64");
                assert_eq!(recipe.initrds, ["/live/initrd.img-6.1.0-18-amd64"]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_joliet_only_iso_keeps_its_joliet_names() {
        let scratch = Scratch::new();
        scratch.put("casper/vmlinuz", &content(4096, 4));
        scratch.put("casper/initrd", &content(4097, 5));
        scratch.put("Mixed Case File.txt", b"x");
        // xorriso writes Rock Ridge unless told not to.
        let iso = scratch.iso("Ubuntu-Server 24.04 LTS amd64", &["--norock", "-J"]);
        let index = index(&iso).unwrap();
        assert!(index.joliet && !index.rock_ridge);
        let paths: Vec<&str> = index.files.iter().map(|f| f.path.as_str()).collect();
        assert!(paths.contains(&"/Mixed Case File.txt"), "{paths:?}");
        assert!(paths.contains(&"/casper/vmlinuz"), "{paths:?}");
    }

    #[test]
    fn a_plain_iso_9660_image_is_read_without_versions() {
        let scratch = Scratch::new();
        scratch.put("memtest.bin", &content(2048 * 3 + 5, 6));
        let iso = scratch.iso("MT86PLUS", &["--norock"]);
        let index = index(&iso).unwrap();
        assert!(!index.joliet && !index.rock_ridge);
        assert_eq!(index.files.len(), 1);
        assert_eq!(index.files[0].path, "/MEMTEST.BIN");
        assert_eq!(bytes_of(&iso, &index.files[0]), content(2048 * 3 + 5, 6));
    }

    /// One distribution's documented layout, as an xorriso-made ISO: what it is called, the
    /// kernel and initrds it boots, and one argument its recipe must give.
    struct Layout {
        volume: &'static str,
        files: &'static [(&'static str, &'static str)],
        distribution: &'static str,
        kernel: &'static str,
        initrds: &'static [&'static str],
        arg: &'static str,
    }

    const LAYOUTS: &[Layout] = &[
        Layout {
            volume: "Ubuntu-Server 24.04.1 LTS amd64",
            files: &[
                ("casper/vmlinuz", "k"),
                ("casper/initrd", "i"),
                ("casper/ubuntu-server-minimal.squashfs", "s"),
                (
                    ".disk/info",
                    "Ubuntu-Server 24.04.1 LTS \"Noble Numbat\" - Release amd64 (20240827)",
                ),
            ],
            distribution: "Ubuntu-Server 24.04.1 LTS \"Noble Numbat\" - Release amd64 (20240827)",
            kernel: "/casper/vmlinuz",
            initrds: &["/casper/initrd"],
            arg: "url={iso}",
        },
        Layout {
            volume: "Ubuntu 24.04.1 LTS amd64",
            files: &[
                ("casper/vmlinuz", "k"),
                ("casper/initrd", "i"),
                ("casper/minimal.squashfs", "s"),
                (
                    ".disk/info",
                    "Ubuntu 24.04.1 LTS \"Noble Numbat\" - Release amd64 (20240827)",
                ),
            ],
            distribution: "Ubuntu 24.04.1 LTS \"Noble Numbat\" - Release amd64 (20240827)",
            kernel: "/casper/vmlinuz",
            initrds: &["/casper/initrd"],
            arg: "boot=casper",
        },
        Layout {
            volume: "Fedora-WS-Live-41-1-4",
            files: &[
                ("LiveOS/squashfs.img", "s"),
                ("images/pxeboot/vmlinuz", "k"),
                ("images/pxeboot/initrd.img", "i"),
            ],
            distribution: "Fedora WS Live 41 1 4",
            kernel: "/images/pxeboot/vmlinuz",
            initrds: &["/images/pxeboot/initrd.img"],
            arg: "root=live:{tree}/LiveOS/squashfs.img",
        },
        Layout {
            volume: "Fedora-S-dvd-x86_64-41",
            files: &[
                (
                    ".treeinfo",
                    "[general]\nfamily = Fedora\nversion = 41\n[stage2]\nmainimage = images/install.img\n",
                ),
                ("images/install.img", "s"),
                ("images/pxeboot/vmlinuz", "k"),
                ("images/pxeboot/initrd.img", "i"),
            ],
            distribution: "Fedora 41",
            kernel: "/images/pxeboot/vmlinuz",
            initrds: &["/images/pxeboot/initrd.img"],
            arg: "inst.stage2={tree}",
        },
        Layout {
            volume: "Rocky-9-5-x86_64-dvd",
            files: &[
                (
                    ".treeinfo",
                    "[release]\nname = Rocky Linux\nversion = 9.5\n[general]\nfamily = Rocky Linux\n",
                ),
                ("BaseOS/Packages/b/bash-5.1.8-9.el9.x86_64.rpm", "p"),
                ("images/install.img", "s"),
                ("images/pxeboot/vmlinuz", "k"),
                ("images/pxeboot/initrd.img", "i"),
            ],
            distribution: "Rocky Linux 9.5",
            kernel: "/images/pxeboot/vmlinuz",
            initrds: &["/images/pxeboot/initrd.img"],
            arg: "inst.repo={tree}",
        },
        Layout {
            volume: "AlmaLinux-9-5-x86_64-dvd",
            files: &[
                (".treeinfo", "[release]\nname = AlmaLinux\nversion = 9.5\n"),
                ("images/install.img", "s"),
                ("images/pxeboot/vmlinuz", "k"),
                ("images/pxeboot/initrd.img", "i"),
            ],
            distribution: "AlmaLinux 9.5",
            kernel: "/images/pxeboot/vmlinuz",
            initrds: &["/images/pxeboot/initrd.img"],
            arg: "inst.stage2={tree}",
        },
        Layout {
            volume: "ARCH_202411",
            files: &[
                ("arch/version", "2024.11.01\n"),
                ("arch/boot/intel-ucode.img", "u"),
                ("arch/boot/amd-ucode.img", "a"),
                ("arch/boot/x86_64/vmlinuz-linux", "k"),
                ("arch/boot/x86_64/initramfs-linux.img", "i"),
                ("arch/x86_64/airootfs.sfs", "s"),
            ],
            distribution: "Arch Linux 2024.11.01",
            kernel: "/arch/boot/x86_64/vmlinuz-linux",
            initrds: &[
                "/arch/boot/intel-ucode.img",
                "/arch/boot/amd-ucode.img",
                "/arch/boot/x86_64/initramfs-linux.img",
            ],
            arg: "archiso_http_srv={tree}/",
        },
        Layout {
            volume: "RESCUE1103",
            files: &[
                ("sysresccd/boot/intel_ucode.img", "u"),
                ("sysresccd/boot/amd_ucode.img", "a"),
                ("sysresccd/boot/x86_64/vmlinuz", "k"),
                ("sysresccd/boot/x86_64/sysresccd.img", "i"),
                ("sysresccd/x86_64/airootfs.sfs", "s"),
            ],
            distribution: "SystemRescue (RESCUE1103)",
            kernel: "/sysresccd/boot/x86_64/vmlinuz",
            initrds: &[
                "/sysresccd/boot/intel_ucode.img",
                "/sysresccd/boot/amd_ucode.img",
                "/sysresccd/boot/x86_64/sysresccd.img",
            ],
            arg: "archisobasedir=sysresccd",
        },
        Layout {
            volume: "alpine-std 3.20.3 x86_64",
            files: &[
                (".alpine-release", "3.20.3\n"),
                ("boot/vmlinuz-lts", "k"),
                ("boot/initramfs-lts", "i"),
                ("boot/modloop-lts", "m"),
                ("apks/x86_64/APKINDEX.tar.gz", "p"),
            ],
            distribution: "Alpine 3.20.3",
            kernel: "/boot/vmlinuz-lts",
            initrds: &["/boot/initramfs-lts"],
            arg: "modloop={tree}/boot/modloop-lts",
        },
        Layout {
            volume: "openSUSE-Leap-15.6-NET-x86_64",
            files: &[
                ("media.1/products", "/ openSUSE-Leap-15.6 15.6-0\n"),
                ("boot/x86_64/loader/linux", "k"),
                ("boot/x86_64/loader/initrd", "i"),
            ],
            distribution: "openSUSE Leap 15.6",
            kernel: "/boot/x86_64/loader/linux",
            initrds: &["/boot/x86_64/loader/initrd"],
            arg: "install={tree}",
        },
    ];

    #[test]
    fn each_distributions_layout_on_a_real_iso_is_recognised_with_its_recipe() {
        for layout in LAYOUTS {
            let scratch = Scratch::new();
            for (path, text) in layout.files {
                scratch.put(path, text.as_bytes());
            }
            let iso = scratch.iso(layout.volume, &["-R", "-J"]);
            let index = index(&iso).unwrap();
            let listing = listing(&File::open(&iso).unwrap(), &index).unwrap();
            let Recognition::Netboot(recipe) = recognise(&listing) else {
                panic!("{}: {:?}", layout.volume, recognise(&listing));
            };
            assert_eq!(recipe.distribution, layout.distribution);
            assert_eq!(recipe.kernel, layout.kernel, "{}", layout.volume);
            assert_eq!(recipe.initrds, layout.initrds, "{}", layout.volume);
            assert!(
                recipe.args.iter().any(|a| a == layout.arg),
                "{}: {:?}",
                layout.volume,
                recipe.args
            );
            // What the recipe names is in the tree, and holds the file's bytes.
            for path in std::iter::once(&recipe.kernel).chain(&recipe.initrds) {
                let file = index.files.iter().find(|f| &f.path == path).unwrap();
                let expected = layout.files.iter().find(|(p, _)| format!("/{p}") == *path);
                assert_eq!(
                    bytes_of(&iso, file),
                    expected.unwrap().1.as_bytes(),
                    "{path}"
                );
            }
        }
    }

    #[test]
    fn debians_installer_iso_is_known_to_boot_only_whole() {
        let scratch = Scratch::new();
        scratch.put("install.amd/vmlinuz", b"k");
        scratch.put("install.amd/initrd.gz", b"i");
        scratch.put(
            ".disk/info",
            b"Debian GNU/Linux 12.8.0 \"Bookworm\" - Official amd64 NETINST with firmware",
        );
        let iso = scratch.iso("Debian 12.8.0 amd64 n", &["-R", "-J"]);
        let index = index(&iso).unwrap();
        let listing = listing(&File::open(&iso).unwrap(), &index).unwrap();
        match recognise(&listing) {
            Recognition::SanbootOnly { distribution, why } => {
                assert!(distribution.contains("NETINST"), "{distribution}");
                assert!(why.contains("sanboot"), "{why}");
            }
            other => panic!("{other:?}"),
        }
    }

    /// An ISO a Debian package ships (installed by `.ci/setup --test`), read and recognised.
    fn debian_iso(path: &str) -> (IsoIndex, Recognition) {
        let path = Path::new(path);
        assert!(
            path.exists(),
            "{} is missing: run .ci/setup --test (it installs memtest86+, grub-rescue-pc and ipxe)",
            path.display()
        );
        let index = index(path).unwrap();
        let listing = listing(&File::open(path).unwrap(), &index).unwrap();
        let recognition = recognise(&listing);
        (index, recognition)
    }

    #[test]
    fn debians_own_isos_are_read_and_told_apart() {
        // memtest86+ 6: a UEFI program that also boots by the Linux boot protocol.
        let (index, memtest) = debian_iso("/usr/lib/memtest86+/memtest86+x64.iso");
        assert_eq!(index.volume_id, "MT86PLUS_64");
        match memtest {
            Recognition::Netboot(recipe) => {
                assert_eq!(recipe.distribution, "memtest86+");
                assert_eq!(recipe.kernel, "/EFI/BOOT/bootx64.efi");
                assert!(recipe.initrds.is_empty());
            }
            other => panic!("{other:?}"),
        }
        let efi = index
            .files
            .iter()
            .find(|f| f.path == "/EFI/BOOT/bootx64.efi")
            .unwrap();
        let head = read_small(
            &File::open("/usr/lib/memtest86+/memtest86+x64.iso").unwrap(),
            efi,
            2,
        )
        .unwrap();
        assert_eq!(head, b"MZ", "the extents hold the program");

        // GRUB's rescue CD and iPXE's ISO boot whole only: the page says why.
        for path in [
            "/usr/lib/grub-rescue/grub-rescue-cdrom.iso",
            "/usr/lib/ipxe/ipxe.iso",
        ] {
            let (index, recognition) = debian_iso(path);
            assert!(!index.files.is_empty(), "{path}");
            match recognition {
                Recognition::Unknown { why } => assert!(why.contains("sanboot"), "{why}"),
                other => panic!("{path}: {other:?}"),
            }
        }
    }

    #[test]
    fn what_is_not_an_iso_is_said_so_and_never_panics() {
        let scratch = Scratch::new();
        let junk = scratch.0.join("junk.iso");
        for bytes in [
            Vec::new(),
            vec![0u8; 100],
            content(64 * 1024, 7),
            vec![0u8; 40 * 2048],
        ] {
            std::fs::write(&junk, &bytes).unwrap();
            match index(&junk) {
                Err(ReadError::NotIso(_)) => {}
                other => panic!("{} bytes: {other:?}", bytes.len()),
            }
        }
        // A real image cut short, and one with its directory records scrambled.
        scratch.put("live/filesystem.squashfs", &content(200_000, 8));
        let iso = std::fs::read(scratch.iso("CUT", &["-R", "-J"])).unwrap();
        for cut in [17 * 2048, iso.len() / 2] {
            std::fs::write(&junk, &iso[..cut]).unwrap();
            assert!(
                index(&junk).is_err() || cut == iso.len() / 2,
                "cut at {cut}"
            );
        }
        // Bytes flipped in the descriptors, the path tables and the directories, one
        // sector at a time: whatever comes of it, an answer and no panic.
        for sector in 16..(iso.len() / 2048).min(40) {
            for seed in [1u8, 77, 255] {
                let mut scrambled = iso.clone();
                for (i, byte) in scrambled
                    .iter_mut()
                    .enumerate()
                    .skip(sector * 2048)
                    .take(2048)
                {
                    *byte ^= (i as u8).wrapping_mul(151).wrapping_add(seed) | 1;
                }
                std::fs::write(&junk, &scrambled).unwrap();
                if let Ok(index) = index(&junk) {
                    let _ = listing(&File::open(&junk).unwrap(), &index);
                }
            }
        }
    }
}
