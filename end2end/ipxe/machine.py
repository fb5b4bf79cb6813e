"""A QEMU machine running Debian's iPXE, driven over QMP: reads the screen (VGA text memory
on BIOS, the serial console under OVMF), types keys, takes screenshots.

Two client generations: bookworm's installed ROMs (iPXE of 2019), and trixie's (iPXE 1.21.1
of 2025, unpacked by fixtures.trixie_ipxe()). Trixie's UEFI ROMs hold no iPXE any more, so a
UEFI 2025 machine PXE-boots snponly.efi from QEMU's TFTP server, which then runs
autoexec.ipxe from the same folder.

Networking is QEMU user mode with restrict=on: the guest reaches nothing but QEMU's own DHCP
and TFTP, and the two guestfwd ports mapped to the PXE Cloud server and the file server on
host loopback. Or, given a tap device and the network namespace that holds it
(end2end/pxe), a real Ethernet segment: the firmware's own DHCP, ProxyDHCP and TFTP."""

import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import zlib
import struct

BIOS_ROM = "/usr/lib/ipxe/qemu/pxe-e1000.rom"
EFI_ROM = "/usr/lib/ipxe/qemu/efi-e1000.rom"
# In trixie's packages, under the folder fixtures.trixie_ipxe() returns.
TRIXIE_BIOS_ROM = "usr/share/qemu/pxe-e1000.rom"
TRIXIE_SNPONLY = "usr/lib/ipxe/snponly.efi"
OVMF_CODE = "/usr/share/OVMF/OVMF_CODE_4M.fd"
OVMF_VARS = "/usr/share/OVMF/OVMF_VARS_4M.fd"

# The guest sees the server and the file server at these addresses.
GUEST_SERVER = "10.0.2.100:8080"
GUEST_FILES = "10.0.2.101:8000"

SHIFTED = {
    "!": "1", "@": "2", "#": "3", "$": "4", "%": "5", "^": "6", "&": "7", "*": "8",
    "(": "9", ")": "0", "_": "minus", "+": "equal", ":": "semicolon", '"': "apostrophe",
    "?": "slash", "<": "comma", ">": "dot", "{": "bracket_left", "}": "bracket_right",
    "|": "backslash", "~": "grave_accent",
}
PLAIN = {
    " ": "spc", "-": "minus", "=": "equal", ".": "dot", ",": "comma", "/": "slash",
    ";": "semicolon", "'": "apostrophe", "[": "bracket_left", "]": "bracket_right",
    "\\": "backslash", "`": "grave_accent", "\n": "ret", "\t": "tab",
}
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Za-z0-9]|\x1b[=>]")


def qcodes(char):
    """The qcodes pressed together to type one character on a US keyboard."""
    if char.isascii() and char.isalpha():
        return ["shift", char.lower()] if char.isupper() else [char]
    if char.isdigit():
        return [char]
    if char in PLAIN:
        return [PLAIN[char]]
    if char in SHIFTED:
        return ["shift", SHIFTED[char]]
    raise ValueError(f"cannot type {char!r}")


# What snponly.efi runs: restrict=on leaves the guest no router, so only the forward's address.
AUTOEXEC = f"#!ipxe\ndhcp\nchain http://{GUEST_SERVER}/boot.ipxe\n"


class Machine:
    def __init__(self, uefi, server_port, files_port, artifacts, name, trixie_ipxe=None,
                 tap=None, http_boot=False, memory=512):
        """Starts a BIOS or UEFI machine booting bookworm's iPXE, or, given the folder
        fixtures.trixie_ipxe() returns, trixie's. With `tap` = (namespace, device, mac) the
        machine is wired to that tap device instead: a BIOS machine boots the iPXE ROM, a UEFI
        one OVMF's own PXE (server_port and files_port are then unused), or, with
        `http_boot`, OVMF's UEFI HTTP Boot (PXE and IPv6 turned off in the firmware). `memory`
        is in MiB."""
        self.uefi = uefi
        self.artifacts = artifacts
        self.name = name
        self.dir = tempfile.mkdtemp(prefix="pxecloud-qemu-")
        self.serial_path = os.path.join(self.dir, "serial.log")
        self.qmp_path = os.path.join(self.dir, "qmp.sock")
        snponly = uefi and (trixie_ipxe is not None or tap is not None)
        if tap is not None:
            namespace, device, mac = tap
            netdev = f"tap,id=n0,ifname={device},script=no,downscript=no"
        elif snponly:
            # QEMU's TFTP serves this folder read-only; it holds nothing else.
            tftp = os.path.join(self.dir, "tftp")
            os.makedirs(tftp)
            shutil.copy(os.path.join(trixie_ipxe, TRIXIE_SNPONLY), tftp)
            with open(os.path.join(tftp, "autoexec.ipxe"), "w") as f:
                f.write(AUTOEXEC)
            boot = f"tftp={tftp},bootfile=snponly.efi,"
        else:
            boot = f"bootfile=http://{GUEST_SERVER}/boot.ipxe,"
        if tap is None:
            mac = None
            netdev = (
                "user,id=n0,restrict=on," + boot +
                # A `cmd:` forward runs once per connection (a `tcp:` one carries only the first).
                f"guestfwd=tcp:{GUEST_SERVER}-cmd:/bin/busybox nc 127.0.0.1 {server_port},"
                f"guestfwd=tcp:{GUEST_FILES}-cmd:/bin/busybox nc 127.0.0.1 {files_port}"
            )
        nic_mac = f",mac={mac}" if mac else ""
        args = [
            "qemu-system-x86_64", "-accel", "tcg", "-m", str(memory), "-smp", "1",
            "-display", "none", "-vga", "std", "-no-reboot",
            "-serial", f"file:{self.serial_path}",
            "-qmp", f"unix:{self.qmp_path},server=on,wait=off",
            "-netdev", netdev,
            "-boot", "n",
        ]
        if uefi:
            vars_copy = os.path.join(self.dir, "vars.fd")
            shutil.copy(OVMF_VARS, vars_copy)
            args += [
                "-machine", "q35",
                "-drive", f"if=pflash,format=raw,readonly=on,file={OVMF_CODE}",
                "-drive", f"if=pflash,format=raw,file={vars_copy}",
            ]
        if snponly:
            # No option ROM: OVMF's own virtio-net driver and PXE fetch snponly.efi.
            args += ["-device", f"virtio-net-pci,netdev=n0,romfile=,bootindex=0{nic_mac}"]
        elif uefi:
            args += ["-device", f"e1000,netdev=n0,romfile={EFI_ROM},bootindex=0"]
        else:
            rom = BIOS_ROM if trixie_ipxe is None else os.path.join(trixie_ipxe, TRIXIE_BIOS_ROM)
            args += ["-device", f"e1000,netdev=n0,romfile={rom}{nic_mac}"]
        if http_boot:
            for knob in ("IPv4PXESupport", "IPv6PXESupport", "IPv6Support"):
                args += ["-fw_cfg", f"name=opt/org.tianocore/{knob},string=no"]
        if tap is not None:
            args = ["ip", "netns", "exec", namespace] + args
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self._connect()

    def _connect(self):
        deadline = time.monotonic() + 30
        while True:
            self.sock = socket.socket(socket.AF_UNIX)
            try:
                self.sock.connect(self.qmp_path)
                break
            except OSError:
                self.sock.close()
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError("QEMU did not start: " + self.process.stderr.read().decode())
                time.sleep(0.1)
        self.reader = self.sock.makefile("r")
        json.loads(self.reader.readline())
        self.qmp("qmp_capabilities")

    def qmp(self, command, **arguments):
        message = {"execute": command}
        if arguments:
            message["arguments"] = arguments
        self.sock.sendall(json.dumps(message).encode() + b"\n")
        while True:
            reply = json.loads(self.reader.readline())
            if "return" in reply:
                return reply["return"]
            if "error" in reply:
                raise RuntimeError(f"QMP {command}: {reply['error']}")

    def running(self):
        return self.process.poll() is None

    def serial(self):
        """The serial console so far, without ANSI escapes."""
        try:
            with open(self.serial_path, "rb") as f:
                return ANSI.sub("", f.read().decode("utf-8", "replace"))
        except FileNotFoundError:
            return ""

    def vga(self):
        """The VGA text screen as 25 lines, and the attribute byte of each line's first cell."""
        path = os.path.join(self.dir, "vga.bin")
        self.qmp("pmemsave", val=0xB8000, size=4000, filename=path)
        with open(path, "rb") as f:
            data = f.read()
        lines, attributes = [], []
        for row in range(25):
            cells = data[row * 160:(row + 1) * 160]
            lines.append(bytes(cells[0::2]).decode("cp437").rstrip())
            attributes.append(cells[1::2])
        return lines, attributes

    def screen(self):
        """What is on screen: VGA text on BIOS; on UEFI, the serial console's text."""
        if self.uefi:
            return self.serial()
        return "\n".join(self.vga()[0])

    def highlighted(self):
        """The highlighted line of a BIOS menu: the one drawn on another background colour."""
        lines, attributes = self.vga()
        backgrounds = [(attribute[1] >> 4) & 0x7 for attribute in attributes]
        usual = max(set(backgrounds), key=backgrounds.count)
        for line, background in zip(lines, backgrounds):
            if background != usual and line.strip():
                return line.strip()
        return None

    def _look(self):
        """Everything on screen, colours included, to tell whether it still changes."""
        if self.uefi:
            return self.serial()
        lines, attributes = self.vga()
        return "\n".join(lines), b"".join(attributes)

    def wait_highlighted(self, text, timeout=10):
        """Waits until a BIOS menu highlights the line `text` (the keys pressed have been read)."""
        deadline = time.monotonic() + timeout
        while (shown := self.highlighted()) != text:
            if time.monotonic() > deadline:
                raise AssertionError(f"{shown!r} is highlighted, not {text!r}:\n{self.screen()}")
            time.sleep(0.1)
        return shown

    def wait_for(self, text, timeout=60, since=0):
        """Waits until `text` is on screen (or, on UEFI, in the console after `since`), and then
        until the screen stops changing: iPXE drops keys that come while it still draws."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running():
                raise AssertionError(f"the machine stopped while waiting for {text!r}\n{self.screen()}")
            screen = self.screen()
            if text in (screen[since:] if self.uefi else screen):
                return self.wait_still(deadline)
            time.sleep(0.2)
        raise AssertionError(f"{text!r} did not appear on screen:\n{self.screen()[-3000:]}")

    def wait_still(self, deadline, looks=4):
        """Waits until the screen has looked the same `looks` times in a row, 0.25 s apart."""
        last, same = self._look(), 1
        while same < looks:
            if time.monotonic() > deadline:
                raise AssertionError(f"the screen kept changing:\n{self.screen()[-3000:]}")
            time.sleep(0.25)
            now = self._look()
            same = same + 1 if now == last else 1
            last = now
        return self.screen()

    def mark(self):
        """A position in the console, to wait for what appears after it."""
        return len(self.serial()) if self.uefi else 0

    def key(self, *names):
        """Presses (and releases) keys together, at a fast typist's pace: QEMU holds each key
        down for 100 ms, and BIOS keeps at most 15 keys that iPXE has not read yet."""
        self.qmp("send-key", keys=[{"type": "qcode", "data": n} for n in names])
        time.sleep(0.12)

    def type(self, text):
        for char in text:
            self.key(*qcodes(char))

    def screenshot(self, name):
        """Saves the screen as a PNG among the test artifacts."""
        os.makedirs(self.artifacts, exist_ok=True)
        ppm = os.path.join(self.dir, "screen.ppm")
        self.qmp("screendump", filename=ppm)
        with open(ppm, "rb") as f:
            data = f.read()
        header = data.split(b"\n", 3)
        width, height = map(int, header[1].split())
        pixels = header[3]
        raw = b"".join(b"\x00" + pixels[y * width * 3:(y + 1) * width * 3] for y in range(height))
        def chunk(kind, body):
            return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        png += chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
        path = os.path.join(self.artifacts, f"{self.name}-{name}.png")
        with open(path, "wb") as f:
            f.write(png)
        with open(os.path.join(self.artifacts, f"{self.name}-{name}.txt"), "w") as f:
            f.write(self.screen()[-4000:])
        return path

    def wait_stopped(self, timeout=120):
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("the machine did not power off:\n" + self.serial()[-3000:])

    def close(self):
        self.reader.close()
        self.sock.close()
        if self.running():
            self.process.kill()
            self.process.wait()
        self.process.stderr.close()
        os.makedirs(self.artifacts, exist_ok=True)
        with open(os.path.join(self.artifacts, f"{self.name}-serial.log"), "w") as f:
            f.write(self.serial())
        shutil.rmtree(self.dir, ignore_errors=True)
