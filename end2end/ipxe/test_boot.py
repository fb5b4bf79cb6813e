"""Real iPXE clients (Debian's iPXE in QEMU, software emulation) walking PXE Cloud's boot flow
against the release binary on loopback: bookworm's iPXE of 2019 and trixie's 1.21.1 of 2025,
each on BIOS and UEFI."""

import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.request

import assets
import fixtures
from machine import GUEST_FILES, GUEST_SERVER, Machine

ARTIFACTS = os.path.join(fixtures.ROOT, "end2end", "artifacts", "ipxe")
# PXECLOUD_E2E_BINARY runs another build, as for the browser tests.
BINARY = os.environ.get("PXECLOUD_E2E_BINARY") or os.path.join(fixtures.ROOT, "target", "release", "pxecloud")
HERE = os.path.dirname(os.path.abspath(__file__))

ALICE_PASSWORD = "pass & 100% sure"
BOB_PASSWORD = "bob password"
HOSTILE = "Ubuntu || shell $(password} x\\"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """The release binary alone in a temporary folder, with the lab imported."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="pxecloud-ipxe-")
        binary = os.path.join(self.dir, "pxecloud")
        shutil.copy(BINARY, binary)
        self.port = free_port()
        common = ["--data-dir", os.path.join(self.dir, "data")]
        with open(os.path.join(HERE, "lab.toml")) as f:
            lab = f.read().replace("FILES", GUEST_FILES)
        lab_path = os.path.join(self.dir, "lab.toml")
        with open(lab_path, "w") as f:
            f.write(lab)
        subprocess.run([binary, "import", lab_path, *common], check=True, cwd=self.dir,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.log = open(os.path.join(self.dir, "server.log"), "w")
        self.process = subprocess.Popen(
            [binary, "serve", "--listen", f"127.0.0.1:{self.port}",
             "--public-url", f"http://{GUEST_SERVER}", *common],
            cwd=self.dir, stdout=subprocess.DEVNULL, stderr=self.log,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("pxecloud did not start")
                time.sleep(0.1)

    def server_log(self):
        with open(os.path.join(self.dir, "server.log")) as f:
            return f.read()

    def close(self):
        self.process.terminate()
        self.process.wait()
        self.log.close()
        os.makedirs(ARTIFACTS, exist_ok=True)
        shutil.copy(os.path.join(self.dir, "server.log"), os.path.join(ARTIFACTS, "server.log"))
        shutil.rmtree(self.dir, ignore_errors=True)


class BootFlow:
    """Scenarios shared by every client: BIOS and UEFI, iPXE of 2019 and of 2025."""

    uefi = False
    # The iPXE build: 2019 is bookworm's installed ROMs, 2025 trixie's, fetched by fixtures.
    generation = 2019

    @classmethod
    def setUpClass(cls):
        if cls.generation == 2025:
            cls.trixie_ipxe, cls.version = fixtures.trixie_ipxe(), fixtures.TRIXIE_IPXE_VERSION
        else:
            cls.trixie_ipxe, cls.version = None, fixtures.bookworm_ipxe_version()
        cls.files_dir = fixtures.all_fixtures()
        cls.files, cls.files_port = assets.serve(cls.files_dir)
        cls.server = Server()

    @classmethod
    def tearDownClass(cls):
        cls.server.close()
        cls.files.shutdown()
        cls.files.server_close()

    def boot(self, name):
        machine = Machine(self.uefi, self.server.port, self.files_port, ARTIFACTS,
                          f"{'uefi' if self.uefi else 'bios'}-{self.generation}-{name}",
                          trixie_ipxe=self.trixie_ipxe)
        self.addCleanup(machine.close)
        # Debian's builds show their package version in the banner: proves which one runs.
        machine.wait_for(f"iPXE {self.version}", timeout=120)
        return machine

    def sign_in(self, machine, username, password, prefilled="", since=0):
        """Types the credentials at the prompt; returns the console position before sending."""
        machine.wait_for("Password", timeout=120, since=since)
        # `login` fills the username field from the last attempt; clear it first.
        for _ in prefilled:
            machine.key("backspace")
        machine.type(username)
        machine.key("ret")
        machine.type(password)
        sent = machine.mark()
        machine.key("ret")
        return sent

    def assert_kernel_booted(self, machine, test_arg):
        machine.wait_stopped(timeout=180)
        serial = machine.serial()
        self.assertIn(fixtures.MARKER, serial)
        cmdline = serial.split(fixtures.MARKER, 1)[1].splitlines()[0]
        self.assertIn(test_arg, cmdline)
        self.assertIn("initrd=initrd.img", cmdline)

    def test_a_user_with_two_organizations_and_two_groups_boots_a_kernel(self):
        machine = self.boot("kernel")
        since = self.sign_in(machine, "alice", ALICE_PASSWORD)
        machine.wait_for("Choose an organization", since=since)
        machine.wait_for("Library", since=since)
        machine.key("ret")  # Lab, the first
        machine.wait_for("Choose a group", since=since)
        machine.wait_for("Students", since=since)
        machine.key("down")
        machine.key("ret")  # Students
        machine.wait_for("Debian live", since=since)
        machine.wait_for(HOSTILE, since=since)
        machine.screenshot("menu")
        if not self.uefi:
            machine.wait_highlighted("Debian live")
        machine.key("ret")
        self.assert_kernel_booted(machine, "pxecloud.test=kernel")
        log = self.server.server_log()
        self.assertNotIn(ALICE_PASSWORD, log)
        self.assertNotIn(ALICE_PASSWORD.encode().hex(), log)

    def test_a_wrong_password_shows_the_message_and_the_prompt_again(self):
        machine = self.boot("wrong-password")
        since = self.sign_in(machine, "bob", "not the password")
        machine.wait_for("Invalid username or password.", since=since)
        machine.screenshot("wrong-password")
        since = machine.mark()
        machine.key("ret")
        since = self.sign_in(machine, "bob", BOB_PASSWORD, prefilled="bob", since=since)
        machine.wait_for("Main", since=since)
        machine.wait_for(HOSTILE, since=since)
        machine.screenshot("hostile-title")

    def test_a_hostile_title_boots_its_own_entry_and_runs_nothing_else(self):
        machine = self.boot("hostile")
        since = self.sign_in(machine, "bob", BOB_PASSWORD)
        machine.wait_for(HOSTILE, since=since)
        machine.key("down")
        machine.key("down")
        if not self.uefi:
            machine.wait_highlighted(HOSTILE)
        machine.key("ret")
        self.assert_kernel_booted(machine, "pxecloud.test=hostile")
        self.assertNotIn("iPXE>", machine.serial())


class SanbootFlow:
    """The ISO scenario, on BIOS only: isolinux needs a BIOS."""

    def test_an_iso_boots_through_sanboot(self):
        machine = self.boot("iso")
        self.sign_in(machine, "bob", BOB_PASSWORD)
        machine.wait_for("Rescue ISO")
        machine.key("down")
        machine.wait_highlighted("Rescue ISO")
        machine.key("ret")
        machine.wait_stopped(timeout=240)
        serial = machine.serial()
        self.assertIn(fixtures.MARKER, serial)
        self.assertIn("pxecloud.from=iso", serial)
        ranges = [r for (_, _, r) in self.files.RequestHandlerClass.requests if r]
        self.assertTrue(ranges, "sanboot made no Range requests")


class BiosBootFlow2019(SanbootFlow, BootFlow, unittest.TestCase):
    uefi = False
    generation = 2019


class UefiBootFlow2019(BootFlow, unittest.TestCase):
    uefi = True
    generation = 2019


class BiosBootFlow2025(SanbootFlow, BootFlow, unittest.TestCase):
    uefi = False
    generation = 2025


class UefiBootFlow2025(BootFlow, unittest.TestCase):
    uefi = True
    generation = 2025


if __name__ == "__main__":
    unittest.main(verbosity=2)
