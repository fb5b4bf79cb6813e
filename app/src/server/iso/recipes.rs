//! The boot recipes of the distributions PXE Cloud recognises on an ISO, from the ISO's
//! file listing, its volume id and a few small text files on it. Pure: the caller reads the
//! ISO (see `docs/design/iso-reading.md`).
//!
//! Each recipe names the kernel and initrds inside the ISO and the kernel arguments, where
//! `{tree}` stands for the URL of the ISO's file tree on this server (no trailing slash)
//! and `{iso}` for the URL of the ISO itself (ending in `.iso`, as casper wants). Sources
//! per distribution: `docs/design/hosted-files.md`, "Recognition and boot recipes".

use std::collections::BTreeMap;

/// What the caller read from the ISO.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    /// The primary volume descriptor's volume id.
    pub volume_id: String,
    /// Every file's path from the root, `/` first, as the ISO names it (Rock Ridge case).
    pub files: Vec<String>,
    /// The contents of the small text files [`WANTED_TEXTS`] that exist.
    pub texts: BTreeMap<String, String>,
}

/// Small files whose contents help: read them (at most [`TEXT_MAX`] bytes each) when they
/// exist, by case-insensitive path.
pub const WANTED_TEXTS: [&str; 5] = [
    "/.disk/info",
    "/.treeinfo",
    "/arch/version",
    "/.alpine-release",
    "/media.1/products",
];

/// The most of a text file read.
pub const TEXT_MAX: usize = 16 * 1024;

/// What an ISO was recognised as.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Recognition {
    /// It boots as a kernel and initrds fetched from this server.
    Netboot(Recipe),
    /// It is known, but cannot fetch its own files over HTTP: `sanboot`/`memdisk` only.
    SanbootOnly { distribution: String, why: String },
    /// Not known: `sanboot`/`memdisk` only.
    Unknown { why: String },
}

/// How to boot a recognised ISO over the network.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Recipe {
    /// E.g. "Debian 12.5 live", for the image's title.
    pub distribution: String,
    /// Paths inside the ISO, as it names them.
    pub kernel: String,
    pub initrds: Vec<String>,
    /// With `{tree}` and `{iso}` placeholders.
    pub args: Vec<String>,
}

/// The listing, with lower-cased paths to match and the original ones to return.
struct Files<'a> {
    by_lower: BTreeMap<String, &'a str>,
}

impl<'a> Files<'a> {
    fn new(listing: &'a Listing) -> Self {
        Self {
            by_lower: listing
                .files
                .iter()
                .map(|path| (path.to_ascii_lowercase(), path.as_str()))
                .collect(),
        }
    }

    /// The ISO's name for `path` (any case), if it has it.
    fn get(&self, path: &str) -> Option<String> {
        self.by_lower
            .get(&path.to_ascii_lowercase())
            .map(|p| (*p).to_owned())
    }

    fn has(&self, path: &str) -> bool {
        self.by_lower.contains_key(&path.to_ascii_lowercase())
    }

    /// Whether anything lies under the folder `dir` (`/casper`, say).
    fn has_dir(&self, dir: &str) -> bool {
        let prefix = format!("{}/", dir.to_ascii_lowercase().trim_end_matches('/'));
        self.by_lower
            .range(prefix.clone()..)
            .next()
            .is_some_and(|(path, _)| path.starts_with(&prefix))
    }

    /// The first of `paths` the ISO has.
    fn first(&self, paths: &[&str]) -> Option<String> {
        paths.iter().find_map(|p| self.get(p))
    }

    /// The files directly in `dir` whose name starts with `prefix`, in order.
    fn named_like(&self, dir: &str, prefix: &str) -> Vec<String> {
        let start = format!(
            "{}/{}",
            dir.to_ascii_lowercase(),
            prefix.to_ascii_lowercase()
        );
        self.by_lower
            .range(start.clone()..)
            .take_while(|(path, _)| path.starts_with(&start))
            .filter(|(path, _)| !path[dir.len() + 1..].contains('/'))
            .map(|(_, p)| (*p).to_owned())
            .collect()
    }
}

fn text<'a>(listing: &'a Listing, path: &str) -> Option<&'a str> {
    listing
        .texts
        .iter()
        .find(|(p, _)| p.eq_ignore_ascii_case(path))
        .map(|(_, t)| t.as_str())
}

/// The first line of `.disk/info` (Debian, Ubuntu: "Ubuntu-Server 24.04 LTS "Noble
/// Numbat" - Release amd64 (20240423)"), trimmed and shortened.
fn disk_info(listing: &Listing) -> Option<String> {
    let line = text(listing, "/.disk/info")?.lines().next()?.trim();
    (!line.is_empty()).then(|| line.chars().take(80).collect())
}

/// A value of an INI-style file (`.treeinfo`): `key` in `[section]`.
fn ini_value(text: &str, section: &str, key: &str) -> Option<String> {
    let mut current = "";
    for line in text.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = name;
        } else if current.eq_ignore_ascii_case(section)
            && let Some((k, v)) = line.split_once('=')
            && k.trim().eq_ignore_ascii_case(key)
        {
            return Some(v.trim().to_owned());
        }
    }
    None
}

fn words(args: &str) -> Vec<String> {
    args.split_whitespace().map(str::to_owned).collect()
}

/// One distribution's test: the listing, its files by path, its volume id.
type Recogniser = fn(&Listing, &Files, &str) -> Option<Recognition>;

/// What `listing` is, and how to boot it.
pub fn recognise(listing: &Listing) -> Recognition {
    let files = Files::new(listing);
    let volume = listing.volume_id.trim();
    let recognisers: [Recogniser; 9] = [
        debian_live,
        ubuntu,
        fedora_live,
        anaconda,
        system_rescue,
        arch,
        alpine,
        opensuse,
        debian_installer,
    ];
    recognisers
        .iter()
        .find_map(|recognise| recognise(listing, &files, volume))
        .or_else(|| memtest(listing, &files, volume))
        .unwrap_or_else(|| Recognition::Unknown {
            why: format!(
                "PXE Cloud does not know this ISO (volume {volume:?}): it found none of the \
                 layouts of Debian, Ubuntu, Fedora, Rocky, Alma, Arch, Alpine, openSUSE, \
                 SystemRescue or memtest86+. It can still boot whole by sanboot or memdisk."
            ),
        })
}

fn netboot(
    distribution: String,
    kernel: String,
    initrds: Vec<String>,
    args: &str,
) -> Option<Recognition> {
    Some(Recognition::Netboot(Recipe {
        distribution,
        kernel,
        initrds,
        args: words(args),
    }))
}

/// Debian live: `live-boot` fetches the squashfs by HTTP (`fetch=`, a URL ending in
/// `.squashfs`).
fn debian_live(listing: &Listing, files: &Files, _: &str) -> Option<Recognition> {
    files.get("/live/filesystem.squashfs")?;
    let kernel = files.named_like("/live", "vmlinuz").into_iter().next()?;
    let initrd = files.named_like("/live", "initrd").into_iter().next()?;
    let name = disk_info(listing).unwrap_or_else(|| "Debian live".into());
    netboot(
        name,
        kernel,
        vec![initrd],
        "boot=live components fetch={tree}/live/filesystem.squashfs",
    )
}

/// Ubuntu (live-server and desktop): casper downloads the whole ISO into RAM (`url=`, which
/// must end in `.iso`) and boots from it.
fn ubuntu(listing: &Listing, files: &Files, _: &str) -> Option<Recognition> {
    if !files.has_dir("/casper") {
        return None;
    }
    let kernel = files.first(&["/casper/vmlinuz", "/casper/vmlinuz.efi"])?;
    let initrd = files.first(&["/casper/initrd", "/casper/initrd.lz", "/casper/initrd.gz"])?;
    let name = disk_info(listing).unwrap_or_else(|| "Ubuntu".into());
    netboot(
        name,
        kernel,
        vec![initrd],
        "boot=casper ip=dhcp url={iso} root=/dev/ram0 cloud-config-url=/dev/null",
    )
}

/// The kernel and initrd of Fedora-family ISOs: `images/pxeboot` (Fedora up to 43, RHEL
/// clones), or kiwi's `boot/x86_64/loader` (Fedora 44 live).
fn fedora_kernel(files: &Files) -> Option<(String, String)> {
    let pxeboot = files
        .get("/images/pxeboot/vmlinuz")
        .zip(files.get("/images/pxeboot/initrd.img"));
    pxeboot.or_else(|| {
        files
            .get("/boot/x86_64/loader/linux")
            .zip(files.get("/boot/x86_64/loader/initrd"))
    })
}

/// Fedora live: dracut fetches the squashfs (`root=live:<URL>`).
fn fedora_live(_: &Listing, files: &Files, volume: &str) -> Option<Recognition> {
    files.get("/LiveOS/squashfs.img")?;
    let (kernel, initrd) = fedora_kernel(files)?;
    let name = if volume.is_empty() {
        "Fedora live".to_owned()
    } else {
        volume.replace('-', " ")
    };
    netboot(
        name,
        kernel,
        vec![initrd],
        "root=live:{tree}/LiveOS/squashfs.img rd.live.image ip=dhcp",
    )
}

/// Anaconda installers (Fedora netinst and DVD, Rocky, Alma, RHEL): the stage 2 image from
/// the tree (`inst.stage2=`), and on a DVD its packages too (`inst.repo=`).
fn anaconda(listing: &Listing, files: &Files, _: &str) -> Option<Recognition> {
    let treeinfo = text(listing, "/.treeinfo")?;
    let (kernel, initrd) = fedora_kernel(files)?;
    let family = ini_value(treeinfo, "release", "name")
        .or_else(|| ini_value(treeinfo, "general", "family"))
        .unwrap_or_else(|| "Anaconda installer".into());
    let version = ini_value(treeinfo, "release", "version")
        .or_else(|| ini_value(treeinfo, "general", "version"))
        .unwrap_or_default();
    let dvd = files.has_dir("/BaseOS") || files.has_dir("/Packages");
    let args = if dvd {
        "inst.stage2={tree} inst.repo={tree} ip=dhcp"
    } else {
        "inst.stage2={tree} ip=dhcp"
    };
    netboot(
        format!("{family} {version}").trim().to_owned(),
        kernel,
        vec![initrd],
        args,
    )
}

/// The CPU microcode initrds of archiso-based ISOs, before the main one.
fn microcode(files: &Files, dir: &str, names: &[&str]) -> Vec<String> {
    names
        .iter()
        .filter_map(|name| files.get(&format!("{dir}/{name}")))
        .collect()
}

/// SystemRescue (archiso): the squashfs by HTTP from the tree.
fn system_rescue(_: &Listing, files: &Files, volume: &str) -> Option<Recognition> {
    let kernel = files.get("/sysresccd/boot/x86_64/vmlinuz")?;
    let main = files.get("/sysresccd/boot/x86_64/sysresccd.img")?;
    let mut initrds = microcode(
        files,
        "/sysresccd/boot",
        &["intel_ucode.img", "amd_ucode.img"],
    );
    initrds.push(main);
    let name = match volume {
        "" => "SystemRescue".to_owned(),
        v => format!("SystemRescue ({v})"),
    };
    netboot(
        name,
        kernel,
        initrds,
        "archisobasedir=sysresccd archiso_http_srv={tree}/ ip=dhcp",
    )
}

/// Arch Linux (archiso): the squashfs by HTTP from the tree.
fn arch(listing: &Listing, files: &Files, _: &str) -> Option<Recognition> {
    let kernel = files.get("/arch/boot/x86_64/vmlinuz-linux")?;
    let main = files.get("/arch/boot/x86_64/initramfs-linux.img")?;
    let mut initrds = microcode(files, "/arch/boot", &["intel-ucode.img", "amd-ucode.img"]);
    initrds.push(main);
    let version = text(listing, "/arch/version")
        .map(str::trim)
        .unwrap_or_default();
    netboot(
        format!("Arch Linux {version}").trim().to_owned(),
        kernel,
        initrds,
        "archisobasedir=arch archiso_http_srv={tree}/ ip=dhcp",
    )
}

/// Alpine: packages and the kernel modules from the tree.
fn alpine(listing: &Listing, files: &Files, _: &str) -> Option<Recognition> {
    let release = text(listing, "/.alpine-release")?.trim().to_owned();
    let flavour = ["lts", "virt"]
        .into_iter()
        .find(|f| files.has(&format!("/boot/vmlinuz-{f}")))?;
    let kernel = files.get(&format!("/boot/vmlinuz-{flavour}"))?;
    let initrd = files.get(&format!("/boot/initramfs-{flavour}"))?;
    let args = format!(
        "ip=dhcp alpine_repo={{tree}}/apks modloop={{tree}}/boot/modloop-{flavour} modules=loop,squashfs"
    );
    netboot(format!("Alpine {release}"), kernel, vec![initrd], &args)
}

/// openSUSE (Leap, Tumbleweed): the installer reads the tree (`install=`).
fn opensuse(listing: &Listing, files: &Files, _: &str) -> Option<Recognition> {
    if !files.has_dir("/media.1") {
        return None;
    }
    let kernel = files.get("/boot/x86_64/loader/linux")?;
    let initrd = files.get("/boot/x86_64/loader/initrd")?;
    let product = text(listing, "/media.1/products")
        .and_then(|t| t.lines().next())
        .and_then(|line| line.split_whitespace().nth(1))
        .map(|p| p.replace('-', " "))
        .unwrap_or_else(|| "openSUSE".into());
    netboot(product, kernel, vec![initrd], "install={tree}")
}

/// Debian's installer ISOs (netinst, DVD): their initrd looks for a CD drive and has no
/// way to fetch the ISO, so they boot whole.
fn debian_installer(listing: &Listing, files: &Files, _: &str) -> Option<Recognition> {
    if !(files.has("/install.amd/vmlinuz") || files.has("/install/vmlinuz")) {
        return None;
    }
    Some(Recognition::SanbootOnly {
        distribution: disk_info(listing).unwrap_or_else(|| "Debian installer".into()),
        why: "Debian's installer ISOs look for the installer on a CD drive and cannot fetch \
              it over HTTP: boot this ISO by sanboot (or memdisk on BIOS), or use the \
              matching netboot kernel and initrd (debian-installer netboot) as an image."
            .into(),
    })
}

/// memtest86+ (volume `MT86PLUS_64`): its EFI binary, which iPXE runs as an image (on BIOS
/// through the Linux boot header memtest86+ 6 carries; to be proven on real clients), no
/// initrd. The ISO's other boot file, `/boot/floppy.img`, is a floppy image.
fn memtest(_: &Listing, files: &Files, volume: &str) -> Option<Recognition> {
    if !volume.to_ascii_uppercase().starts_with("MT86PLUS") {
        return None;
    }
    let kernel = files.first(&["/EFI/BOOT/bootx64.efi", "/boot/memtest.bin"])?;
    netboot("memtest86+".into(), kernel, Vec::new(), "")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The recipe's arguments as an image stores them (so they pass its checks), filled in
    /// as the boot flow fills them.
    fn filled(recipe: &Recipe, tree: &str, iso: &str) -> Vec<String> {
        crate::boot::BootArgs::parse(&recipe.args)
            .expect("a recipe's arguments are valid boot arguments")
            .expand(iso, tree)
    }

    fn listing(volume: &str, files: &[&str], texts: &[(&str, &str)]) -> Listing {
        Listing {
            volume_id: volume.into(),
            files: files.iter().map(|f| (*f).to_owned()).collect(),
            texts: texts
                .iter()
                .map(|(p, t)| ((*p).to_owned(), (*t).to_owned()))
                .collect(),
        }
    }

    fn recipe(listing: &Listing) -> Recipe {
        match recognise(listing) {
            Recognition::Netboot(recipe) => recipe,
            other => panic!("not a netboot recipe: {other:?}"),
        }
    }

    #[test]
    fn debian_live_fetches_its_squashfs() {
        let iso = listing(
            "d-live 12.5.0 gn amd64",
            &[
                "/live/filesystem.squashfs",
                "/live/vmlinuz-6.1.0-18-amd64",
                "/live/initrd.img-6.1.0-18-amd64",
                "/isolinux/isolinux.cfg",
            ],
            &[(
                "/.disk/info",
                "Debian GNU/Linux 12.5.0 \"Bookworm\" - Official amd64 LIVE\n",
            )],
        );
        let r = recipe(&iso);
        assert_eq!(r.kernel, "/live/vmlinuz-6.1.0-18-amd64");
        assert_eq!(r.initrds, vec!["/live/initrd.img-6.1.0-18-amd64"]);
        assert!(r.distribution.starts_with("Debian GNU/Linux 12.5.0"));
        assert_eq!(
            filled(&r, "http://boot/t", "http://boot/x.iso"),
            vec![
                "boot=live",
                "components",
                "fetch=http://boot/t/live/filesystem.squashfs"
            ]
        );
    }

    #[test]
    fn ubuntu_downloads_the_iso_itself() {
        let iso = listing(
            "Ubuntu-Server 24.04 LTS amd64",
            &[
                "/casper/vmlinuz",
                "/casper/initrd",
                "/casper/ubuntu-server-minimal.squashfs",
            ],
            &[],
        );
        let r = recipe(&iso);
        assert_eq!(
            (r.kernel.as_str(), r.initrds[0].as_str()),
            ("/casper/vmlinuz", "/casper/initrd")
        );
        assert!(
            filled(&r, "http://b/t", "http://b/u.iso").contains(&"url=http://b/u.iso".to_owned())
        );
    }

    #[test]
    fn fedora_live_and_anaconda_installers_are_told_apart() {
        let live = listing(
            "Fedora-WS-Live-41-1-4",
            &[
                "/LiveOS/squashfs.img",
                "/images/pxeboot/vmlinuz",
                "/images/pxeboot/initrd.img",
            ],
            &[],
        );
        let r = recipe(&live);
        assert!(
            r.args
                .contains(&"root=live:{tree}/LiveOS/squashfs.img".to_owned())
        );
        let rocky = listing(
            "Rocky-9-3-x86_64-dvd",
            &[
                "/images/pxeboot/vmlinuz",
                "/images/pxeboot/initrd.img",
                "/BaseOS/repodata/repomd.xml",
            ],
            &[(
                "/.treeinfo",
                "[general]\nfamily = Rocky Linux\nversion = 9.3\n[release]\nname = Rocky Linux\nversion = 9.3\n",
            )],
        );
        let r = recipe(&rocky);
        assert_eq!(r.distribution, "Rocky Linux 9.3");
        assert_eq!(r.args, words("inst.stage2={tree} inst.repo={tree} ip=dhcp"));
        let netinst = listing(
            "Fedora-E-dvd-x86_64-41",
            &["/IMAGES/PXEBOOT/VMLINUZ", "/images/pxeboot/initrd.img"],
            &[("/.treeinfo", "[release]\nname = Fedora\nversion = 41\n")],
        );
        let r = recipe(&netinst);
        // The ISO's own spelling of the path is kept.
        assert_eq!(r.kernel, "/IMAGES/PXEBOOT/VMLINUZ");
        assert_eq!(r.args, words("inst.stage2={tree} ip=dhcp"));
    }

    #[test]
    fn archiso_distributions_get_their_microcode_first() {
        let arch = listing(
            "ARCH_202411",
            &[
                "/arch/boot/x86_64/vmlinuz-linux",
                "/arch/boot/x86_64/initramfs-linux.img",
                "/arch/boot/intel-ucode.img",
                "/arch/boot/amd-ucode.img",
            ],
            &[("/arch/version", "2024.11.01\n")],
        );
        let r = recipe(&arch);
        assert_eq!(r.distribution, "Arch Linux 2024.11.01");
        assert_eq!(
            r.initrds.last().unwrap(),
            "/arch/boot/x86_64/initramfs-linux.img"
        );
        assert_eq!(r.initrds.len(), 3);
        let rescue = listing(
            "RESCUE1103",
            &[
                "/sysresccd/boot/x86_64/vmlinuz",
                "/sysresccd/boot/x86_64/sysresccd.img",
            ],
            &[],
        );
        let r = recipe(&rescue);
        assert_eq!(r.initrds, vec!["/sysresccd/boot/x86_64/sysresccd.img"]);
        assert!(r.args.contains(&"archisobasedir=sysresccd".to_owned()));
    }

    #[test]
    fn alpine_opensuse_and_memtest_are_recognised() {
        let alpine = listing(
            "alpine-std 3.20.3 x86_64",
            &[
                "/boot/vmlinuz-lts",
                "/boot/initramfs-lts",
                "/boot/modloop-lts",
                "/apks/x86_64/APKINDEX.tar.gz",
            ],
            &[("/.alpine-release", "3.20.3\n")],
        );
        let r = recipe(&alpine);
        assert_eq!(r.distribution, "Alpine 3.20.3");
        assert!(
            r.args
                .contains(&"modloop={tree}/boot/modloop-lts".to_owned())
        );
        let suse = listing(
            "openSUSE-Leap-15.6-NET-x86_64",
            &[
                "/boot/x86_64/loader/linux",
                "/boot/x86_64/loader/initrd",
                "/media.1/products",
            ],
            &[("/media.1/products", "/ openSUSE-Leap-15.6 15.6-0\n")],
        );
        let r = recipe(&suse);
        assert_eq!(
            (r.distribution.as_str(), r.args.clone()),
            ("openSUSE Leap 15.6", words("install={tree}"))
        );
        // The listing of Debian's memtest86+x64.iso (memtest86+ 6.10).
        let memtest = listing(
            "MT86PLUS_64",
            &["/EFI/BOOT/bootx64.efi", "/boot/floppy.img"],
            &[],
        );
        let r = recipe(&memtest);
        assert_eq!(
            (r.kernel.as_str(), r.initrds.len()),
            ("/EFI/BOOT/bootx64.efi", 0)
        );
    }

    #[test]
    fn debian_installers_and_unknown_isos_say_why_they_boot_whole() {
        let netinst = listing(
            "Debian 12.5.0 amd64 n",
            &["/install.amd/vmlinuz", "/install.amd/initrd.gz"],
            &[(
                "/.disk/info",
                "Debian GNU/Linux 12.5.0 \"Bookworm\" - Official amd64 NETINST\n",
            )],
        );
        match recognise(&netinst) {
            Recognition::SanbootOnly { distribution, why } => {
                assert!(distribution.contains("NETINST"));
                assert!(why.contains("sanboot"));
            }
            other => panic!("{other:?}"),
        }
        match recognise(&listing("WINPE", &["/bootmgr", "/sources/boot.wim"], &[])) {
            Recognition::Unknown { why } => {
                assert!(why.contains("WINPE") && why.contains("sanboot"))
            }
            other => panic!("{other:?}"),
        }
        // A partial layout is not enough: a casper folder without its kernel.
        assert!(matches!(
            recognise(&listing("X", &["/casper/filesystem.squashfs"], &[])),
            Recognition::Unknown { .. }
        ));
    }
}
