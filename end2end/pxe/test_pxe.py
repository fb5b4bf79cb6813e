"""Network boot as a site runs it: real firmware, a real DHCP server and PXE Cloud, in network
namespaces this test makes and removes, so nothing is sent outside them.

    site namespace     the site's DHCP server                               10.77.0.1
    server namespace   pxecloud serve (TFTP, HTTP, and ProxyDHCP when on)   10.77.0.2
                       and the file server with the kernel and initrd (:8000)
    lab namespace      the bridge joining them, and a tap device per QEMU machine

Four sites: dnsmasq handing out addresses only, with PXE Cloud's ProxyDHCP beside it
(`serve --pxe`); and dnsmasq, ISC dhcpd and Kea configured with what `pxecloud dhcp-config` prints,
with PXE Cloud serving TFTP and HTTP only (`serve --tftp`). In each, a UEFI machine (OVMF's own
PXE, no option ROM) loads snponly.efi over PXE Cloud's TFTP, runs iPXE, asks DHCP again and is
sent to /boot.ipxe, while a BIOS machine with the iPXE ROM is sent to /boot.ipxe at once; both
sign in and reach the kernel at the same time. Then a UEFI machine boots by UEFI HTTP Boot,
loading snponly.efi over HTTP. The DHCP traffic on the bridge is kept as a capture among the
artifacts.

Needs root (`ip netns`), dnsmasq (Debian's dnsmasq-base), ISC dhcpd (isc-dhcp-server), Kea
(kea-dhcp4-server) and tcpdump, as `.ci/setup` installs; skipped without them unless `CI` or `PXECLOUD_REQUIRE_SITE`
is set."""

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
ROOT_PASSWORD = "root password"


def required():
    return bool(os.environ.get("CI") or os.environ.get("PXECLOUD_REQUIRE_SITE"))


def missing():
    """What this machine lacks to run the lab, or None."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    for tool in ("ip", "dnsmasq", "dhcpd", "kea-dhcp4", "tcpdump", "qemu-system-x86_64"):
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


def dhcp_from(capture, source):
    """The DHCP payloads `source` sent, read from a pcap file (Ethernet, IPv4, UDP)."""
    import struct
    with open(capture, "rb") as f:
        data = f.read()
    payloads, offset = [], 24
    while offset + 16 <= len(data):
        length = struct.unpack("<I", data[offset + 8:offset + 12])[0]
        frame = data[offset + 16:offset + 16 + length]
        offset += 16 + length
        if frame[12:14] != b"\x08\x00" or frame[23] != 17:
            continue
        ip = frame[14:]
        if ".".join(map(str, ip[12:16])) != source:
            continue
        payloads.append(ip[(ip[0] & 15) * 4 + 8:])
    return payloads


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


class LabCase:
    """One site: its DHCP server (`start_site`), PXE Cloud started with `serve_args`, and the
    machines; the scenarios every site boots."""

    name = ""
    serve_args = []
    # Whether PXE Cloud's ProxyDHCP answers (else the site's DHCP server names the files).
    proxy = False

    @classmethod
    def setUpClass(cls):
        if missing():
            raise RuntimeError(missing())
        cls.version = fixtures.TRIXIE_IPXE_VERSION
        files_dir = fixtures.all_fixtures()
        cls.dir = tempfile.mkdtemp(prefix=f"pxecloud-pxe-{cls.name}-")
        cls.processes = []
        cls.lab = Lab(taps=2)
        try:
            cls.start(files_dir)
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def spawn(cls, name, argv):
        process = Process(argv, os.path.join(cls.dir, f"{name}.log"))
        cls.processes.append(process)
        return process

    @classmethod
    def start(cls, files_dir):
        lab = cls.lab
        cls.capture = os.path.join(cls.dir, "dhcp.pcap")
        tcpdump = cls.spawn("tcpdump", lab.run_in(
            lab.lab, "tcpdump", "-i", "br0", "-U", "-w", cls.capture,
            "udp port 67 or udp port 68 or udp port 4011"))
        tcpdump.wait_for("listening on br0")

        cls.binary = os.path.join(cls.dir, "pxecloud")
        shutil.copy(BINARY, cls.binary)
        cls.leases = os.path.join(cls.dir, "leases")
        cls.start_site()
        cls.spawn("files", lab.run_in(lab.server, "python3", ASSETS, files_dir, SERVER, "8000"))

        data = ["--data-dir", os.path.join(cls.dir, "data")]
        with open(LAB_TOML) as f:
            lab_toml = f.read().replace("FILES", FILES)
        # A server admin, for the loader sets (appended: TOML adds it to the users).
        lab_toml += f'\n[[users]]\nusername = "root"\npassword = "{ROOT_PASSWORD}"\nadmin = true\n'
        lab_path = os.path.join(cls.dir, "lab.toml")
        with open(lab_path, "w") as f:
            f.write(lab_toml)
        subprocess.run([cls.binary, "import", lab_path, *data], check=True, cwd=cls.dir,
                       capture_output=True)
        cls.pxecloud = cls.spawn("pxecloud", lab.run_in(
            lab.server, cls.binary, "serve", *cls.serve_args, "--listen", "0.0.0.0:8080", *data))
        # The loaders built into the binary: trixie's, as .ci/setup fetched them.
        cls.pxecloud.wait_for("TFTP is listening")
        if f"loaders=\"built in: Debian trixie ipxe {cls.version}\"" not in cls.pxecloud.text():
            raise RuntimeError(f"not trixie's loaders built in:\n{cls.pxecloud.text()}")
        cls.pxecloud.wait_for("PXE Cloud is listening")

    @classmethod
    def dhcp_config(cls, server):
        """What `pxecloud dhcp-config` prints for `server`."""
        return subprocess.run(
            [cls.binary, "dhcp-config", server, "--address", SERVER, "--http-port", "8080"],
            check=True, capture_output=True, text=True, cwd=cls.dir).stdout

    @classmethod
    def tearDownClass(cls):
        for process in reversed(cls.processes):
            process.close()
        cls.lab.close()
        artifacts = os.path.join(ARTIFACTS, cls.name)
        os.makedirs(artifacts, exist_ok=True)
        for name in os.listdir(cls.dir):
            if name.endswith((".log", ".pcap", ".conf")) or name == "leases":
                shutil.copy(os.path.join(cls.dir, name), artifacts)
        shutil.rmtree(cls.dir, ignore_errors=True)

    def machine(self, uefi, tap, mac, http_boot=False):
        kind = "uefi-http" if http_boot else "uefi" if uefi else "bios"
        machine = Machine(uefi, 0, 0, os.path.join(ARTIFACTS, self.name), kind,
                          trixie_ipxe=fixtures.trixie_ipxe(),
                          tap=(self.lab.lab, tap, mac), http_boot=http_boot)
        self.addCleanup(machine.close)
        return machine

    def sign_in_and_boot(self, machines, bios=None):
        """Signs in as bob on every machine at its prompt and boots the first entry."""
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
        if bios is not None:
            bios.wait_highlighted("Debian live")
        for machine in machines:
            machine.key("ret")
        for machine in machines:
            machine.wait_stopped(timeout=240)
            serial = machine.serial()
            self.assertIn(fixtures.MARKER, serial)
            self.assertIn("pxecloud.test=kernel", serial.split(fixtures.MARKER, 1)[1])

    def api(self, endpoint, *curl_args):
        """Calls a server function as the server admin `root`, from inside the server's
        namespace (the only place its address is reached)."""
        jar = os.path.join(self.dir, "cookies")
        base = f"http://{SERVER}:8080/api"
        if not os.path.exists(jar):
            subprocess.run(self.lab.run_in(
                self.lab.server, "curl", "-sf", "-c", jar, "-H", "Accept: application/json",
                "--data-urlencode", "username=root", "--data-urlencode",
                f"password={ROOT_PASSWORD}", f"{base}/login"), check=True,
                stdout=subprocess.DEVNULL)
        return subprocess.run(self.lab.run_in(
            self.lab.server, "curl", "-sS", "--fail-with-body", "-b", jar,
            "-H", "Accept: application/json", *curl_args, f"{base}/{endpoint}"),
            check=True, capture_output=True, text=True).stdout

    def leased(self, mac):
        with open(self.leases) as f:
            return mac.lower() in f.read().lower()

    def test_uefi_and_bios_machines_boot_at_once(self):
        uefi_mac, bios_mac = "52:54:00:77:00:01", "52:54:00:77:00:02"
        bios = self.machine(False, "tap1", bios_mac)
        uefi = self.machine(True, "tap0", uefi_mac)
        # Both reach the sign-in prompt: UEFI through TFTP and snponly.efi, BIOS by its ROM.
        # The BIOS banner is on screen only until the prompt comes (the UEFI console keeps it).
        for machine in (bios, uefi):
            machine.wait_for(f"iPXE {self.version}", timeout=240)
        self.sign_in_and_boot((uefi, bios), bios=bios)

        log = self.pxecloud.text()
        self.assertRegex(log, r"tftp: sent .*name=\"?snponly\.efi")
        answers = [line for line in log.splitlines() if "dhcp: answered" in line]
        if self.proxy:
            uefi_lines = [line for line in answers if uefi_mac in line]
            bios_lines = [line for line in answers if bios_mac in line]
            # The firmware was sent to the loader, and iPXE to the boot flow.
            self.assertTrue(any("file=snponly.efi" in l for l in uefi_lines), log)
            self.assertTrue(any(f"http://{SERVER}:8080/boot.ipxe" in l for l in uefi_lines), log)
            self.assertTrue(any(f"http://{SERVER}:8080/boot.ipxe" in l for l in bios_lines), log)
            self.assertFalse(any("file=undionly.kpxe" in l for l in bios_lines), log)
            # On the wire, every answer of ours hands out no address.
            sent = dhcp_from(self.capture, SERVER)
            self.assertTrue(sent)
            for payload in sent:
                self.assertEqual(payload[0], 2)
                self.assertEqual(payload[16:20], bytes(4), "ProxyDHCP handed out an address")
        else:
            self.assertEqual(answers, [])
            self.assertEqual(dhcp_from(self.capture, SERVER), [])
        # The site's DHCP server gave both their addresses; ProxyDHCP gave none.
        for mac in (uefi_mac, bios_mac):
            self.assertTrue(self.leased(mac), mac)

    def test_uefi_http_boot_loads_the_loader_over_http_and_boots(self):
        mac = "52:54:00:77:00:03"
        tftp_before = self.pxecloud.text().count("tftp: sent")
        machine = self.machine(True, "tap0", mac, http_boot=True)
        machine.wait_for(f"iPXE {self.version}", timeout=240)
        self.sign_in_and_boot((machine,))
        # The firmware's HTTP client fetched the loader; no TFTP was involved.
        self.assertIn(f"http://{SERVER}:8080/loaders/snponly.efi", machine.serial())
        self.assertEqual(self.pxecloud.text().count("tftp: sent"), tftp_before)
        if self.proxy:
            log = [line for line in self.pxecloud.text().splitlines() if mac in line]
            self.assertTrue(any("dhcp: answered" in l and "/loaders/snponly.efi" in l
                                for l in log), "\n".join(log))


DNSMASQ_DHCP = [
    "dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--port=0", "--interface=site0",
    "--bind-interfaces", "--user=root", "--no-ping",
    f"--dhcp-range={SUBNET}.100,{SUBNET}.199,255.255.255.0,1h", "--log-dhcp",
]


@unittest.skipIf(missing() and not required(), missing() or "")
class ProxyDhcpBesideDnsmasq(LabCase, unittest.TestCase):
    """The site's dnsmasq hands out addresses only; PXE Cloud's ProxyDHCP does the rest."""

    name = "proxy"
    serve_args = ["--pxe"]
    proxy = True

    @classmethod
    def start_site(cls):
        site = cls.spawn("dnsmasq", cls.lab.run_in(
            cls.lab.site, *DNSMASQ_DHCP, f"--dhcp-leasefile={cls.leases}"))
        site.wait_for("DHCP, IP range")

    def test_a_loader_set_chosen_for_uefi_is_offered_and_loaded_over_tftp(self):
        """A server admin uploads trixie's full ipxe.efi as the set `full` and offers it to
        x86-64 UEFI: the firmware is sent to `full/ipxe.efi`, loads it over TFTP, and boots."""
        full = os.path.join(fixtures.trixie_ipxe(), "usr", "lib", "ipxe", "ipxe-amd64.efi")
        self.api("add_loader_set", "-F", "name=full", "-F", f"files=@{full};filename=ipxe.efi")
        self.addCleanup(self.api, "choose_loader", "-d", "arch=x64-uefi", "-d", "loader=")
        self.api("choose_loader", "-d", "arch=x64-uefi", "-d", "loader=full/ipxe.efi")
        mac = "52:54:00:77:00:04"
        machine = self.machine(True, "tap0", mac)
        machine.wait_for(f"iPXE {self.version}", timeout=240)
        self.sign_in_and_boot((machine,))
        log = self.pxecloud.text()
        answers = [l for l in log.splitlines() if "dhcp: answered" in l and mac in l]
        self.assertTrue(any("file=full/ipxe.efi" in l for l in answers), "\n".join(answers))
        self.assertRegex(log, r"tftp: sent .*name=\"?full/ipxe\.efi")


@unittest.skipIf(missing() and not required(), missing() or "")
class DnsmasqConfigured(LabCase, unittest.TestCase):
    """The site's dnsmasq with `pxecloud dhcp-config dnsmasq` added; no ProxyDHCP."""

    name = "dnsmasq"
    serve_args = ["--tftp"]

    @classmethod
    def start_site(cls):
        conf = os.path.join(cls.dir, "dnsmasq.conf")
        with open(conf, "w") as f:
            f.write(cls.dhcp_config("dnsmasq"))
        site = cls.spawn("dnsmasq", cls.lab.run_in(
            cls.lab.site, *[a for a in DNSMASQ_DHCP if a != "--conf-file=/dev/null"],
            f"--conf-file={conf}", f"--dhcp-leasefile={cls.leases}"))
        site.wait_for("DHCP, IP range")


@unittest.skipIf(missing() and not required(), missing() or "")
class IscDhcpdConfigured(LabCase, unittest.TestCase):
    """The site's ISC dhcpd with `pxecloud dhcp-config isc-dhcpd` added; no ProxyDHCP."""

    name = "isc-dhcpd"
    serve_args = ["--tftp"]

    @classmethod
    def start_site(cls):
        conf = os.path.join(cls.dir, "dhcpd.conf")
        with open(conf, "w") as f:
            f.write("authoritative;\nping-check false;\ndefault-lease-time 3600;\n"
                    "max-lease-time 3600;\n\n")
            f.write(cls.dhcp_config("isc-dhcpd"))
            f.write(f"\nsubnet {SUBNET}.0 netmask 255.255.255.0 {{\n"
                    f"    range {SUBNET}.100 {SUBNET}.199;\n}}\n")
        open(cls.leases, "w").close()
        site = cls.spawn("dhcpd", cls.lab.run_in(
            cls.lab.site, "dhcpd", "-4", "-f", "-d", "-cf", conf, "-lf", cls.leases,
            "-pf", os.path.join(cls.dir, "dhcpd.pid"), "site0"))
        site.wait_for("Sending on")


@unittest.skipIf(missing() and not required(), missing() or "")
class KeaConfigured(LabCase, unittest.TestCase):
    """The site's Kea with `pxecloud dhcp-config kea` added; no ProxyDHCP."""

    name = "kea"
    serve_args = ["--tftp"]

    @classmethod
    def start_site(cls):
        conf = os.path.join(cls.dir, "kea-dhcp4.conf")
        with open(conf, "w") as f:
            f.write('{ "Dhcp4": {\n'
                    '"interfaces-config": { "interfaces": [ "site0" ] },\n'
                    f'"lease-database": {{ "type": "memfile", "name": "{cls.leases}", '
                    '"lfc-interval": 0 },\n'
                    '"valid-lifetime": 3600,\n')
            f.write(cls.dhcp_config("kea"))
            f.write(f'"subnet4": [ {{ "id": 1, "subnet": "{SUBNET}.0/24", '
                    f'"pools": [ {{ "pool": "{SUBNET}.100 - {SUBNET}.199" }} ] }} ],\n'
                    '"loggers": [ { "name": "kea-dhcp4", "severity": "INFO", '
                    '"output_options": [ { "output": "stdout" } ] } ]\n} }\n')
        # Its pid file in the test's folder, and no lock file: it runs as root in a namespace.
        site = cls.spawn("kea", cls.lab.run_in(
            cls.lab.site, "env", f"KEA_PIDFILE_DIR={cls.dir}", "KEA_LOCKFILE_DIR=none",
            "kea-dhcp4", "-c", conf))
        site.wait_for("DHCP4_STARTED")


if __name__ == "__main__":
    unittest.main(verbosity=2)
