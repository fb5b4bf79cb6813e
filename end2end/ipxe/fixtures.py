"""Builds what the iPXE tests boot: a Debian kernel, a busybox initramfs whose /init prints a
marker with the kernel command line to the serial port and powers off, and an ISO (isolinux)
around the same kernel and initramfs. Built once into target/e2e-ipxe and reused."""

import glob
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


def all_fixtures():
    """Builds (or finds) every fixture; returns the folder that holds them."""
    kernel()
    initrd()
    iso()
    return CACHE
