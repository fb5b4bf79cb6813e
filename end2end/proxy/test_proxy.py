"""nginx, with the configuration we ship (docs/nginx/pxecloud.conf), in front of two
`pxecloud serve` replicas on one PostgreSQL database and one files folder: the client address
the replicas see, boot tokens used across replicas, the failed-login throttle across
machines, a hosted file uploaded in pieces through both replicas, and a replica killed in the
middle of sign-ins. Everything listens and connects on loopback only.

Needs `PG_ADMIN_URL` (as `source .ci/postgres; pg_start` exports it; skipped without it) and
nginx (`apt-get install nginx`, or `PXECLOUD_NGINX`; skipped without it, unless `CI` or
`PXECLOUD_REQUIRE_SITE` is set: then missing nginx fails)."""

import base64
import collections
import concurrent.futures
import hashlib
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
ARTIFACTS = os.path.join(ROOT, "end2end", "artifacts", "proxy")
# PXECLOUD_E2E_BINARY runs another build, as for the browser and iPXE tests.
BINARY = os.environ.get("PXECLOUD_E2E_BINARY") or os.path.join(ROOT, "target", "release", "pxecloud")
SHIPPED_CONFIG = os.path.join(ROOT, "docs", "nginx", "pxecloud.conf")
LAB = os.path.join(ROOT, "end2end", "ipxe", "lab.toml")
DATABASE = "pxecloud_proxy"

ALICE_PASSWORD = "pass & 100% sure"
INVALID_CREDENTIALS = "Invalid username or password."
TOKEN_URL = re.compile(r"/ipxe/s/([0-9a-f]{40})/")

# The test's own nginx around the shipped file: foreground, every path under its prefix.
# The X-Upstream header is the test's only addition: set here at the `http` level, it is
# inherited by the shipped locations (they set no add_header of their own) and names the
# replica that answered, or both when nginx retried on the other one.
WRAPPER = """daemon off;
master_process on;
worker_processes 1;
pid nginx.pid;
error_log error.log notice;

events {{ worker_connections 1024; }}

http {{
    access_log access.log;
    client_body_temp_path client_body;
    proxy_temp_path proxy;
    fastcgi_temp_path fastcgi;
    uwsgi_temp_path uwsgi;
    scgi_temp_path scgi;
    add_header X-Upstream $upstream_addr always;
    include {config};
}}
"""

Answer = collections.namedtuple("Answer", "status upstream body")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def hex_text(text):
    """The text as iPXE's `${…:hexraw}` sends it."""
    return text.encode().hex()


def mac(test, n):
    """A MAC address of its own for sign-in `n` of a test, to find its boot token by."""
    return f"52-54-00-{test:02x}-{n // 256:02x}-{n % 256:02x}"


def shown_texts(script):
    """The texts a script shows (they are set as hex: `set pxc-tN:hex 49:6e:…`)."""
    return [bytes.fromhex(h.replace(":", "")).decode()
            for h in re.findall(r"^set pxc-t\d+:hex (\S*)$", script, re.M)]


def find_nginx():
    """nginx from PXECLOUD_NGINX, the PATH, or Debian's place (not on a user's PATH)."""
    for candidate in (os.environ.get("PXECLOUD_NGINX"), shutil.which("nginx"), "/usr/sbin/nginx"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def render_config(replica_ports, port):
    """The shipped configuration with the replicas' and nginx's test ports in place of its
    example addresses; each example must be there exactly once, so that the test cannot
    silently run something other than what users copy."""
    with open(SHIPPED_CONFIG) as f:
        text = f.read()
    replacements = {
        "server 127.0.0.1:8081 ": f"server 127.0.0.1:{replica_ports[0]} ",
        "server 127.0.0.1:8082 ": f"server 127.0.0.1:{replica_ports[1]} ",
        "listen 80;": f"listen 127.0.0.1:{port};",
    }
    for example, test_value in replacements.items():
        if text.count(example) != 1:
            raise RuntimeError(f"{SHIPPED_CONFIG} should have `{example.strip()}` once; update the test")
        text = text.replace(example, test_value)
    return text


def wait_until_healthy(port, process, log_path):
    """Waits for /healthz on the port to answer 200, or fails with the process's log."""
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            with open(log_path) as f:
                raise RuntimeError(f"nothing healthy on port {port}; its log:\n{f.read()}")
        time.sleep(0.1)


class Database:
    """A database of its own on the PostgreSQL server of PG_ADMIN_URL, created empty."""

    def __init__(self, admin_url):
        self.admin_url = admin_url
        self.url = admin_url.rsplit("/", 1)[0] + "/" + DATABASE
        self.drop()
        self.run(self.admin_url, f"CREATE DATABASE {DATABASE}")

    @staticmethod
    def run(url, *statements):
        result = subprocess.run(
            ["psql", url, "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1",
             *[arg for sql in statements for arg in ("-c", sql)]],
            capture_output=True, text=True,
        )
        if result.returncode != 0:
            raise RuntimeError(f"psql failed: {result.stderr}")
        return result.stdout.split()

    def query(self, sql):
        """The values of a one-column query, as text."""
        return self.run(self.url, sql)

    def drop(self):
        self.run(self.admin_url, f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")


class Replica:
    """One `pxecloud serve` on the shared database, trusting nginx's address."""

    def __init__(self, binary, database_url, folder, index):
        self.port = free_port()
        self.log_path = os.path.join(folder, f"replica-{index}.log")
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [binary, "serve", "--listen", f"127.0.0.1:{self.port}", "--trusted-proxy", "127.0.0.1",
             "--database-url", database_url, "--data-dir", os.path.join(folder, f"data-{index}"),
             # Hosted files: one folder for both, as on NFS.
             "--files-dir", os.path.join(folder, "files")],
            cwd=folder, stdout=subprocess.DEVNULL, stderr=self.log,
        )
        self.address = f"127.0.0.1:{self.port}"

    def read_log(self):
        with open(self.log_path) as f:
            return f.read()

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
        self.process.wait()
        self.log.close()


class Nginx:
    """nginx in the foreground with everything under its own prefix folder."""

    def __init__(self, binary, replica_ports, folder):
        self.prefix = folder
        self.port = free_port()
        config = os.path.join(folder, "pxecloud.conf")
        with open(config, "w") as f:
            f.write(render_config(replica_ports, self.port))
        self.main_config = os.path.join(folder, "nginx.conf")
        with open(self.main_config, "w") as f:
            f.write(WRAPPER.format(config=config))
        self.log_path = os.path.join(folder, "error.log")
        command = [binary, "-p", folder, "-c", self.main_config, "-e", self.log_path]
        checked = subprocess.run(command + ["-t"], capture_output=True, text=True)
        if checked.returncode != 0:
            raise RuntimeError(f"nginx -t refused the configuration:\n{checked.stderr}")
        self.process = subprocess.Popen(command, cwd=folder, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)

    def access_log(self):
        with open(os.path.join(self.prefix, "access.log")) as f:
            return f.read()

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class NginxBeforeTwoReplicas(unittest.TestCase):
    """One stack for the class: the database with the lab imported, two replicas, nginx.
    The tests run in name order; the last one kills a replica for good."""

    @classmethod
    def setUpClass(cls):
        admin_url = os.environ.get("PG_ADMIN_URL")
        if not admin_url:
            raise unittest.SkipTest(
                "PG_ADMIN_URL is not set: start PostgreSQL with `source .ci/postgres; pg_start`")
        nginx = find_nginx()
        if not nginx:
            message = "nginx is not installed (apt-get install nginx, or set PXECLOUD_NGINX)"
            if os.environ.get("CI") or os.environ.get("PXECLOUD_REQUIRE_SITE"):
                raise RuntimeError(message)
            raise unittest.SkipTest(message)

        # Class cleanups run in reverse order, also when setUpClass fails halfway.
        cls.folder = tempfile.mkdtemp(prefix="pxecloud-proxy-")
        cls.addClassCleanup(cls.keep_logs_and_remove_folder)
        binary = os.path.join(cls.folder, "pxecloud")
        shutil.copy(BINARY, binary)

        cls.database = Database(admin_url)
        cls.addClassCleanup(cls.database.drop)
        imported = subprocess.run(
            [binary, "import", LAB, "--database-url", cls.database.url,
             "--data-dir", os.path.join(cls.folder, "data-import")],
            cwd=cls.folder, capture_output=True, text=True,
        )
        if imported.returncode != 0:
            raise RuntimeError(f"pxecloud import failed:\n{imported.stderr}")

        # No --public-url: the replicas build iPXE URLs from the Host nginx passes on.
        cls.replicas = []
        for index in range(2):
            replica = Replica(binary, cls.database.url, cls.folder, index)
            cls.replicas.append(replica)
            cls.addClassCleanup(replica.stop)
        for replica in cls.replicas:
            wait_until_healthy(replica.port, replica.process, replica.log_path)

        cls.nginx = Nginx(nginx, [r.port for r in cls.replicas], cls.folder)
        cls.addClassCleanup(cls.nginx.stop)
        wait_until_healthy(cls.nginx.port, cls.nginx.process, cls.nginx.log_path)

    @classmethod
    def keep_logs_and_remove_folder(cls):
        """Keeps the replicas' and nginx's logs in end2end/artifacts/proxy."""
        os.makedirs(ARTIFACTS, exist_ok=True)
        for name in os.listdir(cls.folder):
            if name.endswith(".log"):
                shutil.copy(os.path.join(cls.folder, name), os.path.join(ARTIFACTS, name))
        shutil.rmtree(cls.folder, ignore_errors=True)

    def request(self, method, path, source, body=None, headers=None):
        """One request to nginx on a new connection from the loopback address `source`
        (all of 127.0.0.0/8 is local on Linux), as a machine at that address would."""
        connection = http.client.HTTPConnection(
            "127.0.0.1", self.nginx.port, timeout=30, source_address=(source, 0))
        headers = dict(headers or {})
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return Answer(response.status, response.getheader("X-Upstream", ""),
                          response.read().decode())
        finally:
            connection.close()

    def sign_in(self, client_mac, source, password=ALICE_PASSWORD, by_form=False, headers=None):
        """Signs alice in as iPXE does: the credentials hex-encoded in the query (Debian's
        builds) or POSTed as a form (builds with `params`)."""
        client = f"mac={client_mac}&platform=pcbios&arch=x86_64"
        credentials = f"username={hex_text('alice')}&password={hex_text(password)}"
        if by_form:
            return self.request("POST", f"/ipxe/session?{client}", source, credentials, headers)
        return self.request("GET", f"/ipxe/session?{client}&{credentials}", source, headers=headers)

    def token_in(self, answer):
        """The boot token of a successful sign-in, whose URLs point at nginx."""
        self.assertEqual(answer.status, 200, answer.body)
        match = TOKEN_URL.search(answer.body)
        self.assertIsNotNone(match, f"no boot token URL in:\n{answer.body}")
        self.assertIn(f"http://127.0.0.1:{self.nginx.port}/ipxe/s/", answer.body)
        return match.group(1)

    def client_ip_of(self, client_mac):
        return self.database.query(f"SELECT client_ip FROM boot_tokens WHERE client_mac = '{client_mac}'")

    def test_a_token_from_one_replica_works_on_the_other(self):
        served, crossed = set(), 0
        for n in range(6):
            signed_in = self.sign_in(mac(1, n), source="127.0.0.4")
            token = self.token_in(signed_in)
            step = self.request("GET", f"/ipxe/s/{token}/start", source="127.0.0.4")
            self.assertEqual(step.status, 200, step.body)
            # The organization choice of this session, not the "expired" notice.
            self.assertIn(f"/ipxe/s/{token}/org/", step.body)
            served |= {signed_in.upstream, step.upstream}
            crossed += signed_in.upstream != step.upstream
        self.assertEqual(served, {r.address for r in self.replicas})
        self.assertGreater(crossed, 0, "no token was used on the replica that did not issue it")

    def test_bad_sign_ins_from_many_machines_do_not_lock_out_another(self):
        # The failures stay counted for 5 minutes and would slow every later sign-in of
        # alice by 3 s: forgotten afterwards, as that time passing would.
        self.addCleanup(self.database.query, "DELETE FROM login_attempts")
        sources = [f"127.0.0.{n}" for n in range(10, 34)]

        def wrong(n):
            return self.sign_in(mac(2, n), source=sources[n], password="not the password")

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(wrong, range(len(sources))))
        for answer in answers:
            self.assertEqual(answer.status, 200, answer.body)
            # Each machine's one failure, not "Too many attempts": counted per machine.
            self.assertIn(INVALID_CREDENTIALS, shown_texts(answer.body))
        # Slowed down (at most 3 s) by the failures for alice from anywhere, but let in.
        self.token_in(self.sign_in(mac(2, 99), source="127.0.0.50"))

    def test_the_access_log_names_no_ipxe_url(self):
        token = self.token_in(self.sign_in(mac(3, 0), source="127.0.0.5"))
        self.request("GET", f"/ipxe/s/{token}/start", source="127.0.0.5")
        self.assertEqual(self.request("GET", "/healthz?after-ipxe", source="127.0.0.5").status, 200)
        # nginx writes the line once the answer is sent: a moment after the client has it.
        deadline = time.monotonic() + 5
        while "/healthz?after-ipxe" not in self.nginx.access_log() and time.monotonic() < deadline:
            time.sleep(0.05)
        log = self.nginx.access_log()
        self.assertIn("/healthz?after-ipxe", log)
        self.assertNotIn("/ipxe/", log)
        secrets = [token, hex_text(ALICE_PASSWORD)]
        for text in [log] + [r.read_log() for r in self.replicas]:
            for secret in secrets:
                self.assertNotIn(secret, text)

    def test_the_client_address_is_the_machines_not_the_proxys(self):
        self.token_in(self.sign_in(mac(4, 2), source="127.0.0.2",
                                   headers={"X-Forwarded-For": "198.51.100.9"}))
        token = self.token_in(self.sign_in(mac(4, 3), source="127.0.0.3", by_form=True,
                                           headers={"Forwarded": "for=198.51.100.8"}))
        self.assertEqual(self.client_ip_of(mac(4, 2)), ["127.0.0.2"])
        self.assertEqual(self.client_ip_of(mac(4, 3)), ["127.0.0.3"])
        # nginx sets X-Forwarded-For to the peer rather than appending to the machine's: a
        # machine on a trusted proxy's own address cannot name another either.
        self.token_in(self.sign_in(mac(4, 1), source="127.0.0.1",
                                   headers={"X-Forwarded-For": "198.51.100.10"}))
        self.assertEqual(self.client_ip_of(mac(4, 1)), ["127.0.0.1"])
        # The token is bound to its machine's address: from another, it has expired.
        elsewhere = self.request("GET", f"/ipxe/s/{token}/start", source="127.0.0.2")
        self.assertIn("Your boot session has expired. Please sign in again.", shown_texts(elsewhere.body))

    def web_sign_in(self, source):
        """Signs alice in to the web app through nginx; returns her session cookie."""
        connection = http.client.HTTPConnection(
            "127.0.0.1", self.nginx.port, timeout=30, source_address=(source, 0))
        try:
            connection.request(
                "POST", "/api/login",
                body=f"username=alice&password={urllib.parse.quote(ALICE_PASSWORD)}",
                headers={"Content-Type": "application/x-www-form-urlencoded",
                         "Accept": "application/json"})
            response = connection.getresponse()
            response.read()
            self.assertEqual(response.status, 200)
            return response.getheader("Set-Cookie").split(";", 1)[0]
        finally:
            connection.close()

    def raw(self, port, method, path, headers, body=None, source="127.0.0.6"):
        """One request straight to `port` (nginx or a replica): status, headers, body."""
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60,
                                                source_address=(source, 0))
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            headers = {name.lower(): value for name, value in response.getheaders()}
            return response.status, headers, response.read()
        finally:
            connection.close()

    def test_an_upload_sent_through_both_replicas_is_one_file_both_serve(self):
        cookie = self.web_sign_in("127.0.0.6")
        [lab] = self.database.query("SELECT id FROM organizations WHERE name = 'Lab'")
        data = os.urandom(8 * 1024 * 1024 + 123)
        sha = hashlib.sha256(data).hexdigest()
        b64 = lambda text: base64.b64encode(text.encode()).decode()
        tus = {"Cookie": cookie, "Tus-Resumable": "1.0.0"}
        status, headers, body = self.raw(self.nginx.port, "POST", "/uploads", {
            **tus, "Upload-Length": str(len(data)),
            "Upload-Metadata": f"organization {b64(lab)},name {b64('shared.iso')},sha256 {b64(sha)}"})
        self.assertEqual(status, 201, body)
        location = headers["location"]
        piece = {**tus, "Content-Type": "application/offset+octet-stream"}
        # 6 MiB through nginx: more than the 4 MiB other requests may carry.
        first = 6 * 1024 * 1024
        status, headers, body = self.raw(self.nginx.port, "PATCH", location,
                                         {**piece, "Upload-Offset": "0"}, data[:first])
        self.assertEqual((status, headers.get("upload-offset")), (204, str(first)), body)
        took_first = headers["x-upstream"]
        # The rest straight to the other replica: it hashes what the first wrote, from the
        # shared folder, and makes the file.
        other = next(r for r in self.replicas if r.address != took_first)
        status, headers, body = self.raw(other.port, "PATCH", location,
                                         {**piece, "Upload-Offset": str(first)}, data[first:])
        self.assertEqual(status, 204, body)
        file_path = headers["content-location"]
        for port in [r.port for r in self.replicas] + [self.nginx.port]:
            status, headers, body = self.raw(port, "GET", file_path, {"Cookie": cookie})
            self.assertEqual(status, 200)
            self.assertEqual(hashlib.sha256(body).hexdigest(), sha)
            self.assertEqual(headers["etag"], f'"{sha}"')
        # A machine in a boot session of a member reads ranges of it through nginx, and its
        # token stays out of the access log.
        token = self.token_in(self.sign_in(mac(5, 0), source="127.0.0.7"))
        file_id, name = file_path.split("/")[2:4]
        status, headers, body = self.raw(self.nginx.port, "GET", f"/f/{token}/{file_id}/{name}",
                                         {"Range": "bytes=1000-1999"}, source="127.0.0.7")
        self.assertEqual(status, 206)
        self.assertEqual(body, data[1000:2000])
        self.assertEqual(self.request("GET", "/healthz?after-files", source="127.0.0.7").status, 200)
        deadline = time.monotonic() + 5
        while "/healthz?after-files" not in self.nginx.access_log() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertNotIn(token, self.nginx.access_log())

    def test_z_killing_a_replica_mid_sign_in_loses_no_sign_in(self):
        """Runs last (by name): replica 0 is killed for good a third of the way through."""
        total, kill_after = 300, 100
        victim = self.replicas[0]
        done, lock = 0, threading.Lock()

        def attempt(n):
            nonlocal done
            answer = self.sign_in(mac(5, n), source=f"127.0.0.{60 + n % 4}", by_form=n % 2 == 1)
            with lock:
                done += 1
                if done == kill_after:
                    victim.process.send_signal(signal.SIGKILL)
            return answer

        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(attempt, range(total)))
        took = time.monotonic() - started

        self.assertEqual(victim.process.wait(timeout=5), -signal.SIGKILL)
        lost = [(n, a.status, a.upstream, a.body[:200]) for n, a in enumerate(answers)
                if a.status != 200 or not TOKEN_URL.search(a.body)]
        self.assertEqual(lost, [])
        retried = [n for n, a in enumerate(answers) if "," in a.upstream]
        # The first half before the kill were all answered before it: some by the victim.
        self.assertIn(victim.address, {a.upstream for a in answers[:kill_after // 2]})
        print(f"\n  {total} sign-ins in {took:.1f} s, replica 0 killed after {kill_after}: "
              f"{len(retried)} retried on the other replica "
              f"({sum(n % 2 for n in retried)} of them POSTs)", file=sys.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
