#!/usr/bin/env python3
"""The boot hot path (issue 13): PXE Cloud's iPXE steps next to nginx serving the same bytes,
and a boot storm next to the raw argon2id rate, measured in the same run, as ratios (this
machine is shared and noisy).

- menu script and boot script: `wrk` with N connections (64 by default) for S seconds
  against PXE Cloud (boot sessions rotated so none passes its 60 steps a minute) and against
  nginx serving the bodies PXE Cloud answered, requests/s and p99 latency; every PXE Cloud
  answer is checked (an iPXE script, not a "too many steps" or sign-in screen);
- boot storm: C clients (1,000 by default) at once, each its own user and address
  (`X-Forwarded-For`, PXE Cloud trusting loopback as its proxy), walking entry, login,
  sign-in (argon2id), menu, boot on one keep-alive connection; errors, wall time,
  sign-ins/s, and the server's peak RSS (VmRSS every 50 ms). A sign-in answered "busy" is
  tried again after a second, as a person at the prompt would, and counted apart;
- the raw argon2id rate with the server's parameters (m = 19 MiB, t = 2, p = 1) on 2
  threads: `pxecloud bench-hash` when the binary has it (the same crate), else argon2-cffi
  (libargon2, another implementation: the ratio is then only indicative);
- idle RSS after the first start (empty data folder) and after a later start.

Each database in turn: SQLite in a temporary folder, and PostgreSQL started here in a
temporary folder (initdb/pg_ctl from Debian's postgresql, fsync on, as in production).
Everything listens on loopback ports; nothing leaves the machine. Exits non-zero when an
answer was wrong.

Usage: python3 bench/boot.py [--binary PATH] [--databases sqlite,postgres]
                             [--connections N] [--seconds S] [--clients C] [--tokens K]
"""

import argparse
import asyncio
import glob
import http.client
import os
import re
import resource
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEED_USER = "bench"
ORGANIZATION = "Lab"
MAC = "52-54-00-00-00-01"
BOOT_LINK = re.compile(rb"/ipxe/s/([0-9a-f]{20,})/boot/(\d+)/(\d+)/(\d+)")


def free_tcp_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_tools():
    missing = [tool for tool in ("nginx", "wrk") if shutil.which(tool) is None]
    if missing:
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
                       check=True, env=env)


def get(port, path, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def wait_http(port, deadline):
    while time.monotonic() < deadline:
        try:
            get(port, "/nothing-here")
            return True
        except OSError:
            time.sleep(0.05)
    return False


def vm_kib(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class RssSampler(threading.Thread):
    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.peak, self.done = pid, 0, threading.Event()

    def run(self):
        while not self.done.is_set():
            self.peak = max(self.peak, vm_kib(self.pid, "VmRSS"))
            self.done.wait(0.05)

    def stop(self):
        self.done.set()
        self.join()
        return self.peak


def tail(path, lines=30):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


def hexed(text):
    return text.encode().hex()


# ---- PostgreSQL -----------------------------------------------------------------------

class Postgres:
    """A throw-away PostgreSQL server (fsync on) in a temporary folder, on a loopback port."""

    def __init__(self, work):
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
        if not bins:
            sys.exit("PostgreSQL is not installed (apt-get install postgresql)")
        # Its own folder: the bench's is readable by this user only, and PostgreSQL runs as
        # `postgres` when this is root.
        self.bin, self.dir, self.port = bins[-1], tempfile.mkdtemp(prefix="pxecloud-bench-pg-"), free_tcp_port()
        self.as_owner = []
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
            self.as_owner = ["runuser", "-u", "postgres", "--"]
        subprocess.run([*self.as_owner, f"{self.bin}/initdb", "-D", f"{self.dir}/data", "-U", "postgres",
                        "--auth=trust", "-E", "UTF8"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run([*self.as_owner, f"{self.bin}/pg_ctl", "-D", f"{self.dir}/data", "-l",
                        f"{self.dir}/server.log", "-w", "-o",
                        f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir} -c max_connections=300",
                        "start"], check=True, stdout=subprocess.DEVNULL)

    def database(self, name):
        subprocess.run(["psql", f"postgres://postgres@127.0.0.1:{self.port}/postgres", "-qc",
                        f"CREATE DATABASE {name}"], check=True)
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self):
        subprocess.run([*self.as_owner, f"{self.bin}/pg_ctl", "-D", f"{self.dir}/data", "-m", "immediate",
                        "stop"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(self.dir, ignore_errors=True)


# ---- The server and its data ----------------------------------------------------------

def organization_toml(members):
    member_list = ", ".join(f'{{ user = "{m}", role = "member" }}' for m in members)
    group_list = ", ".join(f'"{m}"' for m in members)
    return (f'[[organizations]]\nname = "{ORGANIZATION}"\nmembers = [{member_list}]\n\n'
            '[[organizations.images]]\ntitle = "Debian installer"\ntype = "kernel_initrd"\n'
            'kernel = "http://deb.example.org/debian/linux"\nimage = "http://deb.example.org/debian/initrd.gz"\n'
            'args = ["console=ttyS0", "priority=low"]\n\n'
            '[[organizations.images]]\ntitle = "Rescue"\ntype = "iso"\n'
            'image = "http://deb.example.org/rescue.iso"\n\n'
            '[[organizations.menus]]\ntitle = "Main"\n'
            'entries = [{ image = "Debian installer", default = true }, { image = "Rescue" }]\n\n'
            f'[[organizations.groups]]\nname = "Students"\nmenu = "Main"\nmembers = [{group_list}]\n')


def seed(binary, data_dir, database_url, clients, work):
    """One organization with a menu and a group; the seed user and `clients` storm users
    (their one password hashed once, imported as a hash). Answers the password."""
    password = secrets.token_urlsafe(12)
    common = [binary, "--data-dir", data_dir] + (["--database-url", database_url] if database_url else [])
    first = os.path.join(work, "seed.toml")
    with open(first, "w") as f:
        f.write(f'[[users]]\nusername = "{SEED_USER}"\npassword = "{password}"\n\n')
        f.write(organization_toml([SEED_USER]))
    run = lambda *args: subprocess.run([*common, *args], capture_output=True, text=True)
    done = run("import", first)
    if done.returncode != 0:
        sys.exit(f"pxecloud import failed:\n{done.stderr}")
    exported = os.path.join(work, "export.toml")
    done = run("export", "--with-password-hashes", "-o", exported)
    if done.returncode != 0:
        sys.exit(f"pxecloud export failed:\n{done.stderr}")
    text = open(exported).read()
    found = re.search(r'username = "' + SEED_USER + r'"[^\[]*?password_hash = "([^"]+)"', text, re.S)
    if not found:
        sys.exit("the export has no password hash for the seed user")
    storm = os.path.join(work, "storm.toml")
    users = [f"storm{i:04d}" for i in range(clients)]
    with open(storm, "w") as f:
        for user in users:
            f.write(f'[[users]]\nusername = "{user}"\npassword_hash = "{found.group(1)}"\n\n')
        f.write(organization_toml([SEED_USER, *users]))
    done = run("import", storm)
    if done.returncode != 0:
        sys.exit(f"pxecloud import of the storm users failed:\n{done.stderr}")
    return password, users


class Server:
    def __init__(self, binary, data_dir, database_url, log_path):
        self.port = free_tcp_port()
        args = [binary, "serve", "--listen", f"127.0.0.1:{self.port}", "--data-dir", data_dir,
                "--trusted-proxy", "127.0.0.1"]
        if database_url:
            args += ["--database-url", database_url]
        self.log_path = log_path
        with open(log_path, "ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=log)
        if not wait_http(self.port, time.monotonic() + 60):
            sys.exit(f"PXE Cloud did not start:\n{tail(log_path)}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def session_path(password, user=SEED_USER):
    return (f"/ipxe/session?mac={MAC}&platform=pcbios&arch=x86_64"
            f"&username={hexed(user)}&password={hexed(password)}")


def sign_in(port, password):
    """A boot session of the seed user from 127.0.0.1: (token, group, version, entry)."""
    status, body = get(port, session_path(password))
    found = BOOT_LINK.search(body)
    if status != 200 or not found:
        sys.exit(f"the sign-in gave no menu: {status} {body[:400]!r}")
    return tuple(x.decode() for x in found.groups())


# ---- wrk ------------------------------------------------------------------------------

WRK_SCRIPT = """
local paths = {}
for line in io.lines("%(paths)s") do paths[#paths + 1] = line end
local counter = 0
local threads = {}
function setup(thread)
  thread:set("bad", 0)
  thread:set("first", nil)
  table.insert(threads, thread)
end
function init(args)
  counter = math.random(#paths)
  bad = 0
end
function request()
  counter = counter %% #paths + 1
  return wrk.format("GET", paths[counter])
end
function response(status, headers, body)
  if status ~= 200 or not body:find("^#!ipxe") or body:find("%(bad_marker)s") then
    bad = bad + 1
    if first == nil then first = status .. " " .. body:sub(1, 300) end
  end
end
function done(summary, latency, requests)
  local total = 0
  local sample = ""
  for _, thread in ipairs(threads) do
    total = total + thread:get("bad")
    local first = thread:get("first")
    if first ~= nil then sample = first end
  end
  io.write(string.format("BAD %%d\\n", total))
  io.write(string.format("P99 %%f\\n", latency:percentile(99) / 1000.0))
  if sample ~= "" then io.write("SAMPLE " .. sample:gsub("\\n", " ") .. "\\n") end
end
"""


def wrk(port, paths, connections, seconds, work, name, check=True):
    """requests/s, p99 in ms, wrong answers (and one described)."""
    paths_file = os.path.join(work, f"{name}.paths")
    with open(paths_file, "w") as f:
        f.write("\n".join(paths) + "\n")
    script = os.path.join(work, f"{name}.lua")
    with open(script, "w") as f:
        f.write(WRK_SCRIPT % {"paths": paths_file,
                              "bad_marker": "Too many steps" if check else "\0never\0"})
    done = subprocess.run(["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "-s", script,
                           f"http://127.0.0.1:{port}"], capture_output=True, text=True)
    out = done.stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p99 = re.search(r"^P99 ([\d.]+)", out, re.M)
    bad = re.search(r"^BAD (\d+)", out, re.M)
    errors = re.search(r"Socket errors: (.*)", out)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if not rate or not p99 or not bad:
        sys.exit(f"wrk failed:\n{out}\n{done.stderr}")
    wrong = int(bad.group(1)) + (int(non_2xx.group(1)) if non_2xx else 0)
    sample = re.search(r"^SAMPLE (.*)", out, re.M)
    note = sample.group(1) if sample else (errors.group(1) if errors else "")
    return float(rate.group(1)), float(p99.group(1)), wrong, note


def nginx_config(work, port, root):
    temp = os.path.join(work, "nginx-temp")
    os.makedirs(temp, exist_ok=True)
    user = "user root;\n" if os.geteuid() == 0 else ""
    return f"""{user}daemon off;
worker_processes 2;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log error;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {temp}; proxy_temp_path {temp}; fastcgi_temp_path {temp};
  uwsgi_temp_path {temp}; scgi_temp_path {temp};
  keepalive_requests 1000000;
  default_type text/plain;
  server {{ listen 127.0.0.1:{port}; root {root}; }}
}}
"""


# ---- The storm ------------------------------------------------------------------------

async def http_get(reader, writer, path, headers):
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1"] + [f"{k}: {v}" for k, v in headers.items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
    if length:
        body = await reader.readexactly(int(length.group(1)))
    elif re.search(rb"(?i)\r\ntransfer-encoding:\s*chunked", head):
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                break
            body += chunk[:-2]
    else:
        body = await reader.read()
    return status, body


def shown_text(script):
    """What an iPXE script shows: the texts it sets as hex (`set pxc-t0:hex 54:68:…`)."""
    texts = re.findall(rb"set pxc-t\d+:hex ([0-9a-f:]+)", script)
    return " ".join(bytes.fromhex(t.decode().replace(":", "")).decode(errors="replace") for t in texts)


async def one_client(port, index, user, password, stats):
    n = index + 1
    address = f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"
    headers = {"X-Forwarded-For": address}
    mac = f"52-54-00-{index // 65536 % 256:02x}-{index // 256 % 256:02x}-{index % 256:02x}"
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
        try:
            status, body = await http_get(reader, writer, "/boot.ipxe", headers)
            if status != 200 or b"#!ipxe" not in body:
                raise RuntimeError(f"entry: {status} {body[:200]!r}")
            status, body = await http_get(
                reader, writer, f"/ipxe/login?mac={mac}&platform=pcbios&arch=x86_64", headers)
            if status != 200:
                raise RuntimeError(f"login: {status}")
            while True:
                status, body = await http_get(reader, writer, session_path(password, user).replace(MAC, mac),
                                              headers)
                found = BOOT_LINK.search(body)
                if status == 200 and found:
                    break
                said = shown_text(body)
                if status == 200 and "busy" in said:
                    # As a person at the prompt: wait as told, sign in again.
                    stats["busy"] += 1
                    wait = re.search(r"again in (\d+) s", said)
                    await asyncio.sleep(int(wait.group(1)) if wait else 1)
                    continue
                raise RuntimeError(f"sign-in: {status} {body[:300]!r}")
            stats["signed_in"].append(time.perf_counter())
            token, group, version, entry = (x.decode() for x in found.groups())
            status, body = await http_get(reader, writer, f"/ipxe/s/{token}/group/{group}", headers)
            if status != 200 or not BOOT_LINK.search(body):
                raise RuntimeError(f"menu: {status} {body[:300]!r}")
            status, body = await http_get(reader, writer, f"/ipxe/s/{token}/boot/{group}/{version}/{entry}",
                                          headers)
            if status != 200 or b"kernel" not in body:
                raise RuntimeError(f"boot: {status} {body[:300]!r}")
        finally:
            writer.close()
    except Exception as error:  # noqa: BLE001 - every failure is counted and one described
        stats["errors"] += 1
        stats.setdefault("first", f"client {index}: {error!r}")


def storm(port, users, password, pid):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4 * len(users) + 256)), hard))
    stats = {"errors": 0, "busy": 0, "signed_in": []}
    sampler = RssSampler(pid)
    sampler.start()

    async def everyone():
        await asyncio.gather(*(one_client(port, i, user, password, stats) for i, user in enumerate(users)))

    start = time.perf_counter()
    server_before, client_before = cpu_seconds(pid), time.process_time()
    try:
        asyncio.run(everyone())
    finally:
        peak = sampler.stop()
    wall = time.perf_counter() - start
    stats["server_cpu"] = cpu_seconds(pid) - server_before
    stats["client_cpu"] = time.process_time() - client_before
    return wall, stats, peak


def cpu_seconds(pid):
    """User and system CPU time a process has used, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# Idle: nothing asked of the server for this long (argon2's memory is given back 10 s after
# the last hash; the first start hashes the first admin's password).
IDLE_AFTER = 15


# ---- argon2 ---------------------------------------------------------------------------

def raw_argon2_rate(binary, threads=2, seconds=5):
    """Raw argon2id verifications/s with the server's parameters: (rate, what measured it)."""
    done = subprocess.run([binary, "bench-hash", "--threads", str(threads), "--seconds", str(seconds)],
                          capture_output=True, text=True)
    found = re.search(r"([\d.]+) hashes/s", done.stdout)
    if done.returncode == 0 and found:
        return float(found.group(1)), "pxecloud bench-hash (the server's crate)"
    try:
        import argon2.low_level as low
    except ImportError:
        return None, "no bench-hash in the binary and no argon2-cffi (pip install argon2-cffi)"
    salt = os.urandom(16)
    count = [0] * threads
    deadline = time.perf_counter() + seconds

    def work(i):
        while time.perf_counter() < deadline:
            low.hash_secret_raw(b"correct horse battery", salt, time_cost=2, memory_cost=19456,
                                parallelism=1, hash_len=32, type=low.Type.ID)
            count[i] += 1

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return sum(count) / (time.perf_counter() - start), "argon2-cffi (libargon2: indicative only)"


# ---- One database ---------------------------------------------------------------------

def measure(binary, database, args, work, postgres):
    data_dir = os.path.join(work, f"data-{database}")
    database_url = postgres.database(f"bench_{secrets.token_hex(4)}") if database == "postgres" else None
    log = os.path.join(work, f"pxecloud-{database}.log")
    result = {}
    # Idle RSS: the first start (migrations on an empty database), then a later one.
    first = Server(binary, os.path.join(work, f"empty-{database}"),
                   postgres.database(f"empty_{secrets.token_hex(4)}") if database == "postgres" else None, log)
    time.sleep(2)
    result["started_first"] = vm_kib(first.proc.pid, "VmRSS")
    time.sleep(IDLE_AFTER - 2)
    result["idle_first"] = vm_kib(first.proc.pid, "VmRSS")
    first.stop()
    password, users = seed(binary, data_dir, database_url, args.clients, work)
    server = Server(binary, data_dir, database_url, log)
    try:
        time.sleep(2)
        result["started_later"] = vm_kib(server.proc.pid, "VmRSS")
        time.sleep(IDLE_AFTER - 2)
        result["idle_later"] = vm_kib(server.proc.pid, "VmRSS")
        sessions = [sign_in(server.port, password) for _ in range(args.tokens)]
        menus = [f"/ipxe/s/{t}/group/{g}" for t, g, _, _ in sessions]
        boots = [f"/ipxe/s/{t}/boot/{g}/{v}/{e}" for t, g, v, e in sessions]
        # The bytes nginx serves: what PXE Cloud answered for one session.
        root = os.path.join(work, f"nginx-{database}")
        os.makedirs(root, exist_ok=True)
        for name, path in (("menu", menus[0]), ("boot", boots[0])):
            status, body = get(server.port, path)
            if status != 200 or not body.startswith(b"#!ipxe"):
                sys.exit(f"{path}: {status} {body[:300]!r}")
            with open(os.path.join(root, name), "wb") as f:
                f.write(body)
        nginx_port = free_tcp_port()
        conf = os.path.join(work, f"nginx-{database}.conf")
        with open(conf, "w") as f:
            f.write(nginx_config(work, nginx_port, root))
        nginx = subprocess.Popen(["nginx", "-p", work + "/", "-e", os.path.join(work, "nginx-error.log"),
                                  "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            if not wait_http(nginx_port, time.monotonic() + 10):
                sys.exit(f"nginx did not start:\n{tail(os.path.join(work, 'nginx-error.log'))}")
            # Each session is used by one step kind only, at most (rate × seconds / tokens) times.
            half = len(sessions) // 2
            result["menu"] = wrk(server.port, menus[:half], args.connections, args.seconds, work, "menu")
            result["menu_nginx"] = wrk(nginx_port, ["/menu"], args.connections, args.seconds, work, "nginx-menu")
            result["boot"] = wrk(server.port, boots[half:], args.connections, args.seconds, work, "boot")
            result["boot_nginx"] = wrk(nginx_port, ["/boot"], args.connections, args.seconds, work, "nginx-boot")
        finally:
            nginx.terminate()
            nginx.wait()
        result["hash"] = raw_argon2_rate(binary)
        result["storm"] = storm(server.port, users, password, server.proc.pid)
        time.sleep(IDLE_AFTER)
        result["idle_after_storm"] = vm_kib(server.proc.pid, "VmRSS")
        result["hash_after"] = raw_argon2_rate(binary)
        if server.proc.poll() is not None:
            sys.exit(f"PXE Cloud exited with {server.proc.returncode}:\n{tail(log)}")
    finally:
        server.stop()
    return result


def ratio(ours, reference):
    return f"{ours / reference:.2f}×" if reference else "n/a"


def report(database, r, args):
    wrong = 0
    print(f"\n### {database}\n")
    print("| step | PXE Cloud | nginx, same bytes | ratio | p99 (ours / nginx) |")
    print("|---|---|---|---|---|")
    for step, label in (("menu", "menu script (valid token)"), ("boot", "boot script")):
        rate, p99, bad, note = r[step]
        ref_rate, ref_p99, _, _ = r[f"{step}_nginx"]
        wrong += bad
        print(f"| {label}, {args.connections} connections | {rate:,.0f} req/s{f', {bad} wrong' if bad else ''} "
              f"| {ref_rate:,.0f} req/s | {ratio(rate, ref_rate)} | {p99:.1f} ms / {ref_p99:.1f} ms |")
        if bad:
            print(f"\nwrong {step} answer: {note}\n", file=sys.stderr)
    wall, stats, peak = r["storm"]
    (rate_before, source), (rate_after, _) = r["hash"], r["hash_after"]
    raw = (rate_before + rate_after) / 2 if rate_before and rate_after else None
    signins = args.clients / wall
    print(f"\n| boot storm, {args.clients} clients | PXE Cloud | reference | ratio |")
    print("|---|---|---|---|")
    print(f"| entry → sign-in → menu → boot | {stats['errors']} errors, {wall:.1f} s, "
          f"{stats['busy']} sign-ins told \"busy\" and tried again | | |")
    print(f"| sign-ins/s | {signins:.1f}/s | raw argon2id {raw:.1f}/s ({source}) | {ratio(signins, raw)} |"
          if raw else f"| sign-ins/s | {signins:.1f}/s | {source} | |")
    print(f"| peak RSS during the storm | {peak / 1024:.0f} MiB | | |")
    cores = os.cpu_count() or 1
    hashing = f", argon2 needs {args.clients / raw * 2:.1f} s of it at the raw rate" if raw else ""
    print(f"| CPU during the storm ({cores} cores × {wall:.1f} s = {cores * wall:.1f} s) | "
          f"server {stats['server_cpu']:.1f} s{hashing}; this benchmark's clients "
          f"{stats['client_cpu']:.1f} s | | |")
    print(f"| idle RSS ({IDLE_AFTER} s after start), first start / later start | "
          f"{r['idle_first'] / 1024:.0f} MiB / {r['idle_later'] / 1024:.0f} MiB "
          f"(2 s after start: {r['started_first'] / 1024:.0f} / {r['started_later'] / 1024:.0f}) | | |")
    if "idle_after_storm" in r:
        print(f"| idle RSS {IDLE_AFTER} s after the storm | {r['idle_after_storm'] / 1024:.0f} MiB | | |")
    if stats["errors"]:
        print(f"\nfirst storm error: {stats.get('first')}", file=sys.stderr)
    return wrong + stats["errors"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "pxecloud"))
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--tokens", type=int, default=600,
                        help="boot sessions the steps rotate over (each may take 60 steps a minute)")
    args = parser.parse_args()
    if not os.access(args.binary, os.X_OK):
        sys.exit(f"no binary at {args.binary}: build it (cargo leptos build --release) or name one with --binary")
    ensure_tools()
    work = tempfile.mkdtemp(prefix="pxecloud-boot-bench-")
    postgres = None
    wrong = 0
    try:
        databases = [d for d in args.databases.split(",") if d]
        if "postgres" in databases:
            postgres = Postgres(work)
        results = {d: measure(args.binary, d, args, work, postgres) for d in databases}
        for database, result in results.items():
            wrong += report(database, result, args)
    finally:
        if postgres:
            postgres.stop()
        shutil.rmtree(work, ignore_errors=True)
    sys.exit(1 if wrong else 0)


if __name__ == "__main__":
    main()
