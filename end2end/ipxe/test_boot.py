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
import library
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


class Flow:
    """A server with the lab and a file server, and machines that boot from them."""

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

    def boot(self, name, memory=512):
        machine = Machine(self.uefi, self.server.port, self.files_port, ARTIFACTS,
                          f"{'uefi' if self.uefi else 'bios'}-{self.generation}-{name}",
                          trixie_ipxe=self.trixie_ipxe, memory=memory)
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
        return cmdline


class BootFlow(Flow):
    """Scenarios shared by every client: BIOS and UEFI, iPXE of 2019 and of 2025."""

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


class LibraryFlow(Flow):
    """What boots from the file library: an image made from an ISO by "Create image" (its
    kernel and initrd copied out of the ISO, the arguments naming files inside it by the boot
    session's URLs), memtest86+ made the same way from Debian's ISO (a kernel alone), an ISO
    by sanboot, and Debian's installer uploaded as two files."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        web = library.Web(f"http://127.0.0.1:{cls.server.port}")
        web.sign_in("alice", ALICE_PASSWORD)
        lab = web.organization("Lab")
        cls.squashfs = fixtures.squashfs()
        cls.live_iso = web.upload(lab, "live.iso", fixtures.live_iso())
        web.upload(lab, "rescue.iso", fixtures.iso())
        memtest = web.upload(lab, "memtest86+x64.iso", fixtures.MEMTEST_ISO)
        installer = fixtures.debian_installer()
        web.upload(lab, "d-i-linux", installer["linux"])
        web.upload(lab, "d-i-initrd.gz", installer["initrd.gz"])
        live = web.call("create_image_from_iso", file_id=cls.live_iso)
        web.update_image(lab, live["id"], {
            **library.form_of(live), "title": "Live from the library",
            "args": live["args"] + ["console=ttyS0"],
        })
        memtest = web.call("create_image_from_iso", file_id=memtest)
        # memtest86+ 6 draws on the serial port too when told: the harness reads it there
        # under UEFI (a framebuffer otherwise).
        web.update_image(lab, memtest["id"], {
            **library.form_of(memtest), "args": ["console=ttyS0,115200"],
        })
        iso = web.call_json("create_image", {"organization_id": lab, "form": {
            "title": "Rescue from the library", "kind": "iso", "kernel_url": "", "iso_url": "",
            "image_url": "file:rescue.iso", "iso_boot": "sanboot", "args": [],
        }})
        installer = web.call_json("create_image", {"organization_id": lab, "form": {
            "title": "Debian installer", "kind": "kernel_initrd", "iso_url": "",
            "kernel_url": "file:d-i-linux", "image_url": "file:d-i-initrd.gz", "iso_boot": "",
            "args": ["console=ttyS0"],
        }})
        # The lab's menu, which bob's group boots, now holds these (in this order).
        main = next(m for m in web.call("menus", organization_id=lab, filter="", page=0)["items"]
                    if m["title"] == "Main")
        version = web.call("menu_editor", organization_id=lab, menu_id=main["id"])["menu"]["version"]
        web.call_json("save_menu", {
            "organization_id": lab, "menu_id": main["id"], "version": version,
            "settings": {"title": "Main", "background_url": "", "timeout_secs": ""},
            "entries": [
                {"item": {"Image": {"image_id": image["id"]}}, "is_default": index == 0}
                for index, image in enumerate((live, iso, installer, memtest))
            ],
        })

    def pick(self, title, downs):
        """Signs in as bob and boots the entry `downs` lines below the first."""
        machine = self.boot(title.split()[0].lower(), memory=1024)
        self.sign_in(machine, "bob", BOB_PASSWORD)
        machine.wait_for(title)
        for _ in range(downs):
            machine.key("down")
        if not self.uefi:
            machine.wait_highlighted(title)
        machine.key("ret")
        return machine

    def wait_serial(self, machine, text, timeout):
        deadline = time.monotonic() + timeout
        while text not in machine.serial():
            if time.monotonic() > deadline or not machine.running():
                self.fail(f"{text!r} did not come:\n{machine.serial()[-3000:]}")
            time.sleep(1)

    def test_an_image_made_from_an_iso_boots_its_kernel_and_initrd_from_the_library(self):
        machine = self.pick("Live from the library", 0)
        cmdline = self.assert_kernel_booted(machine, "boot=live")
        # The booted system was told where its root file system is: inside the ISO, by this
        # boot session's URL, which serves it.
        fetch = next(arg for arg in cmdline.split() if arg.startswith("fetch="))[len("fetch="):]
        self.assertRegex(
            fetch,
            rf"^http://{GUEST_SERVER}/f/[0-9a-f]+/{self.live_iso}/live\.iso/tree/live/filesystem\.squashfs$",
        )
        url = fetch.replace(f"http://{GUEST_SERVER}", f"http://127.0.0.1:{self.server.port}")
        with urllib.request.urlopen(url, timeout=10) as response:
            self.assertEqual(response.read(), self.squashfs)

    def test_the_debian_installer_from_the_library_reaches_its_first_screen(self):
        # d-i unpacks ~100 MB into memory: 1 GiB for every library scenario.
        machine = self.pick("Debian installer", 2)
        self.wait_serial(machine, "Select a language", timeout=600)
        machine.screenshot("installer")

    def test_memtest_made_from_debians_iso_boots_alone(self):
        machine = self.pick("memtest86+", 3)
        self.wait_serial(machine, "Memtest86+", timeout=180)
        machine.screenshot("memtest")


class LibraryBiosFlow:
    """On BIOS only: isolinux needs a BIOS."""

    def test_an_iso_of_the_library_boots_through_sanboot(self):
        machine = self.pick("Rescue from the library", 1)
        machine.wait_stopped(timeout=240)
        serial = machine.serial()
        self.assertIn(fixtures.MARKER, serial)
        self.assertIn("pxecloud.from=iso", serial)



class BiosLibraryFlow(LibraryBiosFlow, LibraryFlow, unittest.TestCase):
    uefi = False
    generation = 2025


class UefiLibraryFlow(LibraryFlow, unittest.TestCase):
    uefi = True
    generation = 2025


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
