"""Network boot as a site runs it: real firmware, a real DHCP server and PXE Cloud with `--pxe`,
in network namespaces this test makes and removes, so nothing is sent outside them.

    site namespace     dnsmasq, DHCP only: addresses, no boot options      10.77.0.1
    server namespace   pxecloud serve --pxe (ProxyDHCP, TFTP, HTTP) and     10.77.0.2
                       the file server with the kernel and initrd (:8000)
    lab namespace      the bridge joining them, and a tap device per QEMU machine

A UEFI machine (OVMF's own PXE, no option ROM) gets snponly.efi named by ProxyDHCP and fetched
over PXE Cloud's TFTP, runs iPXE, asks DHCP again and is sent to /boot.ipxe; a BIOS machine
with the iPXE ROM is sent to /boot.ipxe at once. Both boot at the same time, sign in and reach
the kernel. The DHCP traffic on the bridge is kept as a capture among the artifacts.

Needs root (`ip netns`), dnsmasq (Debian's dnsmasq-base) and tcpdump, as `.ci/setup` installs;
skipped without them unless `CI` or `PXECLOUD_REQUIRE_SITE` is set."""

import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "end2end", "ipxe"))

import fixtures  # noqa: E402
from machine import Machine  # noqa: E402

ARTIFACTS = os.path.join(ROOT, "end2end", "artifacts", "pxe")
BINARY = os.environ.get("PXECLOUD_E2E_BINARY") or os.path.join(ROOT, "target", "release", "pxecloud")
LAB_TOML = os.path.join(ROOT, "end2end", "ipxe", "lab.toml")
ASSETS = os.path.join(ROOT, "end2end", "ipxe", "assets.py")

SUBNET = "10.77.0"
SITE = f"{SUBNET}.1"
SERVER = f"{SUBNET}.2"
FILES = f"{SERVER}:8000"
BOB_PASSWORD = "bob password"


def required():
    return bool(os.environ.get("CI") or os.environ.get("PXECLOUD_REQUIRE_SITE"))


def missing():
    """What this machine lacks to run the lab, or None."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    for tool in ("ip", "dnsmasq", "tcpdump", "qemu-system-x86_64"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    return None


def ip(*args):
    result = subprocess.run(["ip", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {result.stderr.strip()}")


class Lab:
    """Three namespaces on one bridge, with `taps` tap devices for machines."""

    def __init__(self, taps):
        tag = f"pxc{os.getpid() % 100000}"
        self.lab, self.site, self.server = f"{tag}l", f"{tag}d", f"{tag}s"
        self.namespaces = []
        try:
            for namespace in (self.lab, self.site, self.server):
                ip("netns", "add", namespace)
                self.namespaces.append(namespace)
                ip("-n", namespace, "link", "set", "lo", "up")
            ip("-n", self.lab, "link", "add", "br0", "type", "bridge")
            ip("-n", self.lab, "link", "set", "br0", "up")
            for namespace, device, address in ((self.site, "site0", SITE),
                                               (self.server, "srv0", SERVER)):
                ip("link", "add", device, "netns", namespace, "type", "veth",
                   "peer", "name", f"{device}p", "netns", self.lab)
                ip("-n", self.lab, "link", "set", f"{device}p", "master", "br0", "up")
                ip("-n", namespace, "addr", "add", f"{address}/24", "dev", device)
                ip("-n", namespace, "link", "set", device, "up")
            self.taps = []
            for i in range(taps):
                ip("-n", self.lab, "tuntap", "add", "dev", f"tap{i}", "mode", "tap")
                ip("-n", self.lab, "link", "set", f"tap{i}", "master", "br0", "up")
                self.taps.append(f"tap{i}")
        except Exception:
            self.close()
            raise

    @staticmethod
    def run_in(namespace, *args):
        return ["ip", "netns", "exec", namespace, *args]

    def close(self):
        # Removing a namespace removes its devices, the veth peers and the bridge with them.
        for namespace in reversed(self.namespaces):
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True)
        self.namespaces = []


class Process:
    """A program in a namespace, its output in a log file."""

    def __init__(self, argv, log_path, env=None):
        self.log_path = log_path
        self.log = open(log_path, "w")
        self.process = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT,
                                        env=env)

    def text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def wait_for(self, text, timeout=30):
        deadline = time.monotonic() + timeout
        while text not in self.text():
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.log_path} stopped:\n{self.text()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{text!r} not in {self.log_path}:\n{self.text()}")
            time.sleep(0.1)

    def close(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


@unittest.skipIf(missing() and not required(), missing() or "")
class NetworkBoot(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if missing():
            raise RuntimeError(missing())
        cls.version = fixtures.TRIXIE_IPXE_VERSION
        trixie = fixtures.trixie_ipxe()
        files_dir = fixtures.all_fixtures()
        cls.dir = tempfile.mkdtemp(prefix="pxecloud-pxe-")
        cls.processes = []
        cls.lab = Lab(taps=2)
        try:
            cls.start(files_dir, os.path.join(trixie, "usr", "lib", "ipxe"))
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def start(cls, files_dir, loaders):
        lab = cls.lab

        def spawn(name, argv, env=None):
            process = Process(argv, os.path.join(cls.dir, f"{name}.log"), env)
            cls.processes.append(process)
            return process

        cls.capture = os.path.join(cls.dir, "dhcp.pcap")
        tcpdump = spawn("tcpdump", lab.run_in(
            lab.lab, "tcpdump", "-i", "br0", "-U", "-w", cls.capture,
            "udp port 67 or udp port 68 or udp port 4011"))
        tcpdump.wait_for("listening on br0")
        cls.dnsmasq = spawn("dnsmasq", lab.run_in(
            lab.site, "dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--port=0",
            "--interface=site0", "--bind-interfaces", "--user=root", "--no-ping",
            f"--dhcp-range={SUBNET}.100,{SUBNET}.199,255.255.255.0,1h",
            f"--dhcp-leasefile={cls.dir}/leases", "--log-dhcp"))
        cls.dnsmasq.wait_for("DHCP, IP range")
        spawn("files", lab.run_in(lab.server, "python3", ASSETS, files_dir, SERVER, "8000"))

        binary = os.path.join(cls.dir, "pxecloud")
        shutil.copy(BINARY, binary)
        data = ["--data-dir", os.path.join(cls.dir, "data")]
        with open(LAB_TOML) as f:
            lab_toml = f.read().replace("FILES", FILES)
        lab_path = os.path.join(cls.dir, "lab.toml")
        with open(lab_path, "w") as f:
            f.write(lab_toml)
        subprocess.run([binary, "import", lab_path, *data], check=True, cwd=cls.dir,
                       capture_output=True)
        cls.pxecloud = spawn("pxecloud", lab.run_in(
            lab.server, binary, "serve", "--pxe", "--listen", "0.0.0.0:8080",
            "--loaders-dir", loaders, *data))
        cls.pxecloud.wait_for("ProxyDHCP is answering")
        cls.pxecloud.wait_for("PXE Cloud is listening")

    @classmethod
    def tearDownClass(cls):
        for process in reversed(cls.processes):
            process.close()
        cls.lab.close()
        os.makedirs(ARTIFACTS, exist_ok=True)
        for name in os.listdir(cls.dir):
            if name.endswith((".log", ".pcap")) or name == "leases":
                shutil.copy(os.path.join(cls.dir, name), ARTIFACTS)
        shutil.rmtree(cls.dir, ignore_errors=True)

    def machine(self, uefi, tap, mac, http_boot=False):
        kind = "uefi-http" if http_boot else "uefi" if uefi else "bios"
        machine = Machine(uefi, 0, 0, ARTIFACTS, f"{kind}-pxe",
                          trixie_ipxe=fixtures.trixie_ipxe(),
                          tap=(self.lab.lab, tap, mac), http_boot=http_boot)
        self.addCleanup(machine.close)
        return machine

    def test_uefi_and_bios_machines_boot_through_proxy_dhcp_at_once(self):
        uefi_mac, bios_mac = "52:54:00:77:00:01", "52:54:00:77:00:02"
        bios = self.machine(False, "tap1", bios_mac)
        uefi = self.machine(True, "tap0", uefi_mac)
        machines = (uefi, bios)

        # Both reach the sign-in prompt: UEFI through TFTP and snponly.efi, BIOS by its ROM.
        # The BIOS banner is on screen only until the prompt comes (the UEFI console keeps it).
        for machine in (bios, uefi):
            machine.wait_for(f"iPXE {self.version}", timeout=240)
        for machine in machines:
            machine.wait_for("Password", timeout=240)
        marks = []
        for machine in machines:
            machine.type("bob")
            machine.key("ret")
            machine.type(BOB_PASSWORD)
            marks.append(machine.mark())
            machine.key("ret")
        for machine, since in zip(machines, marks):
            machine.wait_for("Debian live", since=since, timeout=120)
        bios.wait_highlighted("Debian live")
        for machine in machines:
            machine.key("ret")
        for machine in machines:
            machine.wait_stopped(timeout=240)
            serial = machine.serial()
            self.assertIn(fixtures.MARKER, serial)
            self.assertIn("pxecloud.test=kernel", serial.split(fixtures.MARKER, 1)[1])

        log = self.pxecloud.text()
        uefi_lines = [line for line in log.splitlines() if uefi_mac in line]
        bios_lines = [line for line in log.splitlines() if bios_mac in line]
        # The firmware was sent to the loader, and iPXE to the boot flow.
        self.assertTrue(any("dhcp: answered" in l and "file=snponly.efi" in l
                            for l in uefi_lines), log)
        self.assertTrue(any("dhcp: answered" in l and f"http://{SERVER}:8080/boot.ipxe" in l
                            for l in uefi_lines), log)
        self.assertTrue(any("dhcp: answered" in l and f"http://{SERVER}:8080/boot.ipxe" in l
                            for l in bios_lines), log)
        self.assertFalse(any("file=undionly.kpxe" in l for l in bios_lines), log)
        self.assertRegex(log, r"tftp: sent .*name=\"?snponly\.efi")
        # The site's DHCP server gave both their addresses; ProxyDHCP gave none.
        with open(os.path.join(self.dir, "leases")) as f:
            leases = f.read()
        for mac in (uefi_mac, bios_mac):
            self.assertIn(mac, leases)

    def test_uefi_http_boot_loads_the_loader_over_http_and_boots(self):
        mac = "52:54:00:77:00:03"
        tftp_before = self.pxecloud.text().count("tftp: sent")
        machine = self.machine(True, "tap0", mac, http_boot=True)
        machine.wait_for(f"iPXE {self.version}", timeout=240)
        machine.wait_for("Password", timeout=240)
        machine.type("bob")
        machine.key("ret")
        machine.type(BOB_PASSWORD)
        since = machine.mark()
        machine.key("ret")
        machine.wait_for("Debian live", since=since, timeout=120)
        machine.key("ret")
        machine.wait_stopped(timeout=240)
        serial = machine.serial()
        self.assertIn(fixtures.MARKER, serial)
        # The firmware's HTTP client fetched the loader; no TFTP was involved.
        self.assertIn(f"http://{SERVER}:8080/loaders/snponly.efi", serial)
        log = [line for line in self.pxecloud.text().splitlines() if mac in line]
        self.assertTrue(any("dhcp: answered" in l and "/loaders/snponly.efi" in l for l in log),
                        "\n".join(log))
        self.assertEqual(self.pxecloud.text().count("tftp: sent"), tftp_before)


if __name__ == "__main__":
    unittest.main(verbosity=2)
