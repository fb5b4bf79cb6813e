"""Builds what the iPXE tests boot: a Debian kernel, a busybox initramfs whose /init prints a
marker with the kernel command line to the serial port and powers off, an ISO (isolinux)
around the same kernel and initramfs, and a Debian-live-like ISO around them for the library. Fetches the 2025 iPXE clients from Debian trixie. Built
once into target/e2e-ipxe and reused."""

import glob
import hashlib
import os
import shutil
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CACHE = os.path.join(ROOT, "target", "e2e-ipxe")
MARKER = "PXECLOUD-BOOTED"

INIT = """#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t devtmpfs devtmpfs /dev
/bin/busybox echo "{marker} cmdline=[$(/bin/busybox cat /proc/cmdline)]" > /dev/ttyS0
/bin/busybox sync
/bin/busybox poweroff -f
""".format(marker=MARKER)

ISOLINUX_CFG = """SERIAL 0 115200
DEFAULT linux
PROMPT 0
TIMEOUT 1
LABEL linux
  KERNEL /vmlinuz
  APPEND initrd=/initrd.gz console=ttyS0 pxecloud.from=iso
"""


def run(*args, cwd=None):
    subprocess.run(args, check=True, cwd=cwd, stdout=subprocess.DEVNULL)


def kernel():
    """The Debian kernel that linux-image-amd64 depends on, unpacked from its package."""
    path = os.path.join(CACHE, "vmlinuz")
    if os.path.exists(path):
        return path
    os.makedirs(CACHE, exist_ok=True)
    work = os.path.join(CACHE, "kernel-deb")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    depends = subprocess.run(
        ["apt-cache", "depends", "linux-image-amd64"], check=True, capture_output=True, text=True
    ).stdout
    package = next(
        line.split()[-1] for line in depends.splitlines() if "Depends: linux-image-" in line
    )
    run("apt-get", "download", package, cwd=work)
    deb = glob.glob(os.path.join(work, "*.deb"))[0]
    run("dpkg-deb", "-x", deb, os.path.join(work, "root"))
    vmlinuz = glob.glob(os.path.join(work, "root", "boot", "vmlinuz-*"))[0]
    shutil.copy(vmlinuz, path)
    shutil.rmtree(work)
    return path


# Debian trixie's iPXE (1.21.1 of 2025). The mirror keeps only trixie's current version, so a
# point release that updates `ipxe` makes trixie_ipxe() fail until both are updated here.
TRIXIE_IPXE_VERSION = "1.21.1+git20250501.dad20602+dfsg-1"
TRIXIE_IPXE_SHA256 = {
    "ipxe-qemu": "b3b799d90b87ef2d6defa925cd48cf1691a19806f08041733a4f884d4a218b17",
    "ipxe": "eeaca79dbde0fb86c102bf1d362c6f6a67ed0ddab38b3dd12e1b332339f5dd99",
}
UPDATE_TRIXIE_IPXE = (
    "update TRIXIE_IPXE_VERSION and both TRIXIE_IPXE_SHA256 sums in end2end/ipxe/fixtures.py "
    "(see docs/notes/trixie-ipxe.md)"
)


def bookworm_ipxe_version():
    """The version of the installed ipxe-qemu, whose ROMs the 2019 machines boot."""
    return subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", "ipxe-qemu"],
        check=True, capture_output=True, text=True,
    ).stdout


def apt(work, *args, cwd=None):
    """Runs apt-get on a private trixie configuration in `work`: the system's sources, lists
    and caches stay untouched, its apt.conf.d (proxies) still applies."""
    options = {
        "Dir::Etc::sourcelist": os.path.join(work, "sources.list"),
        "Dir::Etc::sourceparts": "-",
        "Dir::State::Lists": os.path.join(work, "lists"),
        "Dir::Cache": os.path.join(work, "cache"),
        "Acquire::Languages": "none",
        "APT::Architectures": "amd64",
        "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled": "false",
        "Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled": "false",
        "Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled": "false",
        "Acquire::IndexTargets::deb::DEP-11-icons-hidpi::DefaultEnabled": "false",
    }
    argv = ["apt-get", "-q"]
    for name, value in options.items():
        argv += ["-o", f"{name}={value}"]
    return subprocess.run(argv + list(args), cwd=cwd, capture_output=True, text=True)


def trixie_ipxe():
    """Debian trixie's ipxe-qemu and ipxe packages, pinned by version and SHA-256, unpacked
    into one folder: the ROMs in usr/share/qemu, snponly.efi in usr/lib/ipxe."""
    root = os.path.join(CACHE, f"ipxe-{TRIXIE_IPXE_VERSION}")
    if os.path.isdir(root):
        return root
    work = os.path.join(CACHE, "trixie-apt")
    shutil.rmtree(work, ignore_errors=True)
    for folder in ("lists/partial", "cache/archives/partial", "debs"):
        os.makedirs(os.path.join(work, folder))
    # The mirror the system already uses for bookworm, so no host name is written here.
    uri = subprocess.run(
        ["apt-get", "indextargets", "--format", "$(REPO_URI)",
         "Codename: bookworm", "Target-Of: deb"],
        check=True, capture_output=True, text=True,
    ).stdout.split()
    if not uri:
        raise RuntimeError("no bookworm source in the system's apt sources to take a mirror from")
    with open(os.path.join(work, "sources.list"), "w") as f:
        keyring = "/usr/share/keyrings/debian-archive-keyring.gpg"
        f.write(f"deb [signed-by={keyring}] {uri[0]} trixie main\n")
    update = apt(work, "update")
    if update.returncode != 0:
        raise RuntimeError(f"apt-get update of trixie failed:\n{update.stdout}{update.stderr}")
    debs = os.path.join(work, "debs")
    wanted = [f"{package}={TRIXIE_IPXE_VERSION}" for package in TRIXIE_IPXE_SHA256]
    download = apt(work, "download", *wanted, cwd=debs)
    if download.returncode != 0:
        if "was not found" in download.stderr:
            raise RuntimeError(
                f"Debian trixie no longer has iPXE {TRIXIE_IPXE_VERSION}: {UPDATE_TRIXIE_IPXE}.\n"
                f"{download.stderr}"
            )
        raise RuntimeError(f"apt-get download failed:\n{download.stdout}{download.stderr}")
    files = [os.path.join(debs, f"{p}_{TRIXIE_IPXE_VERSION}_all.deb") for p in TRIXIE_IPXE_SHA256]
    for deb, pinned in zip(files, TRIXIE_IPXE_SHA256.values()):
        with open(deb, "rb") as f:
            sha256 = hashlib.sha256(f.read()).hexdigest()
        if sha256 != pinned:
            raise RuntimeError(
                f"{os.path.basename(deb)} has SHA-256 {sha256}, not the pinned {pinned}: "
                f"if Debian rebuilt it on purpose, {UPDATE_TRIXIE_IPXE}"
            )
    # Unpacked beside its final name, so a half-unpacked folder is never taken for the cache.
    partial = root + ".partial"
    shutil.rmtree(partial, ignore_errors=True)
    for deb in files:
        run("dpkg-deb", "-x", deb, partial)
    os.rename(partial, root)
    shutil.rmtree(work)
    return root


def initrd():
    """A gzip'd newc cpio with busybox and the marker-printing /init."""
    path = os.path.join(CACHE, "initrd.gz")
    if os.path.exists(path):
        return path
    os.makedirs(CACHE, exist_ok=True)
    root = os.path.join(CACHE, "initrd-root")
    shutil.rmtree(root, ignore_errors=True)
    for folder in ("bin", "proc", "dev", "sys"):
        os.makedirs(os.path.join(root, folder))
    shutil.copy("/bin/busybox", os.path.join(root, "bin", "busybox"))
    with open(os.path.join(root, "init"), "w") as f:
        f.write(INIT)
    os.chmod(os.path.join(root, "init"), 0o755)
    subprocess.run(
        f"find . | cpio -o -H newc --quiet | gzip -9 > {path}", shell=True, check=True, cwd=root
    )
    shutil.rmtree(root)
    return path


def iso():
    """An isolinux ISO around the kernel and initramfs."""
    path = os.path.join(CACHE, "rescue.iso")
    if os.path.exists(path):
        return path
    tree = os.path.join(CACHE, "iso-tree")
    shutil.rmtree(tree, ignore_errors=True)
    os.makedirs(os.path.join(tree, "isolinux"))
    shutil.copy("/usr/lib/ISOLINUX/isolinux.bin", os.path.join(tree, "isolinux"))
    shutil.copy("/usr/lib/syslinux/modules/bios/ldlinux.c32", os.path.join(tree, "isolinux"))
    with open(os.path.join(tree, "isolinux", "isolinux.cfg"), "w") as f:
        f.write(ISOLINUX_CFG)
    shutil.copy(kernel(), os.path.join(tree, "vmlinuz"))
    shutil.copy(initrd(), os.path.join(tree, "initrd.gz"))
    run(
        "xorriso", "-as", "mkisofs", "-quiet", "-o", path,
        "-b", "isolinux/isolinux.bin", "-c", "isolinux/boot.cat",
        "-no-emul-boot", "-boot-load-size", "4", "-boot-info-table", tree,
    )
    shutil.rmtree(tree)
    return path


def squashfs():
    """What stands for a live system's root file system: bytes the test can recognise."""
    return b"".join(hashlib.sha256(str(i).encode()).digest() for i in range(20_000))


def live_iso():
    """A Debian-live-like ISO (the layout live-boot has) around the test kernel and initramfs,
    which PXE Cloud recognises and makes an image of."""
    path = os.path.join(CACHE, "live.iso")
    if os.path.exists(path):
        return path
    tree = os.path.join(CACHE, "live-tree")
    shutil.rmtree(tree, ignore_errors=True)
    os.makedirs(os.path.join(tree, "live"))
    os.makedirs(os.path.join(tree, ".disk"))
    shutil.copy(kernel(), os.path.join(tree, "live", "vmlinuz-6.1.0-0-amd64"))
    shutil.copy(initrd(), os.path.join(tree, "live", "initrd.img-6.1.0-0-amd64"))
    with open(os.path.join(tree, "live", "filesystem.squashfs"), "wb") as f:
        f.write(squashfs())
    with open(os.path.join(tree, ".disk", "info"), "w") as f:
        f.write("Debian GNU/Linux 12 \"Bookworm\" - PXE Cloud test amd64 LIVE\n")
    partial = path + ".partial"
    run("xorriso", "-as", "mkisofs", "-quiet", "-R", "-J", "-V", "d-live 12 test amd64",
        "-o", partial, tree)
    os.rename(partial, path)
    shutil.rmtree(tree)
    return path


# Debian's memtest86+ ISO, as the memtest86+ package installs it (.ci/setup --test).
MEMTEST_ISO = "/usr/lib/memtest86+/memtest86+x64.iso"

# Debian's installer, as the debian-installer-12-netboot-amd64 package installs it
# (.ci/setup --test).
DEBIAN_INSTALLER = "/usr/lib/debian-installer/images/12/amd64/text/debian-installer/amd64"


def debian_installer():
    """The paths of d-i's netboot kernel (`linux`) and initrd (`initrd.gz`)."""
    found = {name: os.path.join(DEBIAN_INSTALLER, name) for name in ("linux", "initrd.gz")}
    for path in found.values():
        if not os.path.exists(path):
            raise RuntimeError(f"{path} is missing: run .ci/setup --test")
    return found


def all_fixtures():
    """Builds (or finds) every fixture; returns the folder that holds them."""
    kernel()
    initrd()
    iso()
    live_iso()
    return CACHE


# The loaders built into the binary (server/build.rs embeds target/loaders).
BUNDLED_LOADERS = {
    "undionly.kpxe": "undionly.kpxe",
    "snponly.efi": "snponly.efi",
    "ipxe.efi": "ipxe-amd64.efi",
    "ipxe-arm64.efi": "ipxe-arm64.efi",
}


def bundle_loaders():
    """Copies trixie's loaders into target/loaders with a SOURCE line naming them, for the
    build to embed; returns that folder."""
    out = os.path.join(ROOT, "target", "loaders")
    source = f"Debian trixie ipxe {TRIXIE_IPXE_VERSION}\n"
    try:
        with open(os.path.join(out, "SOURCE")) as f:
            if f.read() == source:
                return out
    except FileNotFoundError:
        pass
    lib = os.path.join(trixie_ipxe(), "usr", "lib", "ipxe")
    partial = out + ".partial"
    shutil.rmtree(partial, ignore_errors=True)
    os.makedirs(partial)
    for name, packaged in BUNDLED_LOADERS.items():
        shutil.copyfile(os.path.join(lib, packaged), os.path.join(partial, name))
    with open(os.path.join(partial, "SOURCE"), "w") as f:
        f.write(source)
    shutil.rmtree(out, ignore_errors=True)
    os.rename(partial, out)
    return out


if __name__ == "__main__":
    # `python3 end2end/ipxe/fixtures.py loaders`, as .ci/setup runs it before a build.
    import sys

    if sys.argv[1:] != ["loaders"]:
        sys.exit("usage: fixtures.py loaders")
    print(bundle_loaders())
