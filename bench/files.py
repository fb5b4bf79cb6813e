#!/usr/bin/env python3
"""Hosted files: PXE Cloud next to references measured on the same machine in the same run,
as ratios (this machine is shared and noisy).

- upload: a file of random bytes (1 GiB by default) sent with tus in one PATCH streamed from
  disk; MiB/s next to `sha256sum` of the same file (the server hashes what it writes, so
  hashing bounds it) and next to a copy with `dd ... conv=fdatasync` (it syncs what it
  writes too), and the server's memory meanwhile (VmRSS sampled every 50 ms, and VmHWM);
- download: the whole file, made public, fetched with curl N times from PXE Cloud and from
  nginx serving the same blob file, median MiB/s (both from the page cache);
- sanboot-like: 2,000 GETs of 64 KiB at random offsets over one keep-alive connection, to
  each server; requests/s and p99 latency, every answer checked (206, Content-Range, bytes);
  once more as a machine does, by its boot session's `/f/<token>/…` URL while the file is
  private (the token and the membership checked on every request);
- fetch from a URL: the server fetches the same file from nginx (its checksum given), from
  the call until the file is in the library, MiB/s next to `curl -o` of the same URL into
  the same folder followed by `sha256sum` and an fsync (what fetching by hand and checking
  does), and the server's memory meanwhile.

PXE Cloud runs with SQLite in a temporary folder; its admin and organization come from
`pxecloud import`. Both servers listen on loopback ports; nothing leaves the machine. The
script exits non-zero when an answer was wrong.

Usage: python3 bench/files.py [--binary PATH] [--size-mib N] [--rounds N]
"""

import argparse
import base64
import http.client
import json
import os
import random
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MIB = 1 << 20
USERNAME = "bench"
ORGANIZATION = "Bench"
FILE_NAME = "bench.img"
RANGE_BYTES = 64 * 1024
RANGE_REQUESTS = 2000


def free_tcp_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_tools():
    missing = [tool for tool in ("nginx", "curl") if shutil.which(tool) is None]
    if missing:
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
                       check=True, env=env)


class Client:
    """Requests to one server on loopback, one connection each, keeping the cookies it sets."""

    def __init__(self, port):
        self.port = port
        self.cookies = {}

    def request(self, method, path, body=None, headers=None):
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        # Bodies read from a file go out in blocks of 1 MiB (http.client's default is 8 KiB).
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600, blocksize=MIB)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
        finally:
            conn.close()
        for cookie in response.headers.get_all("Set-Cookie") or []:
            name, _, value = cookie.split(";", 1)[0].partition("=")
            self.cookies[name.strip()] = value.strip()
        return response.status, response.headers, data

    def call(self, endpoint, **form):
        """Calls a server function with form fields; answers its JSON."""
        status, _, data = self.request(
            "POST", f"/api/{endpoint}", body=urllib.parse.urlencode(form),
            headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"})
        if status != 200:
            sys.exit(f"/api/{endpoint} answered {status}: {data[:500]!r}")
        return json.loads(data) if data else None


def wait_http(port, deadline):
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/nothing-here")
            conn.getresponse().read()
            conn.close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def vm_kib(pid, field):
    """A `Vm…` line of /proc/<pid>/status, in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


class RssSampler(threading.Thread):
    """Samples a process's VmRSS every 50 ms until stopped; keeps the highest."""

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


def make_file(path, size):
    """Random bytes, written in pieces and synced, so that no writeback overlaps a measurement."""
    with open(path, "wb") as f:
        left = size
        while left:
            piece = os.urandom(min(MIB, left))
            f.write(piece)
            left -= len(piece)
        f.flush()
        os.fsync(f.fileno())


def timed(*command):
    start = time.perf_counter()
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return time.perf_counter() - start, out


def b64(text):
    return base64.b64encode(text.encode()).decode()


def upload(client, organization, source, size, sha256):
    """Sends `source` with tus in one PATCH; answers (seconds, file path on the server)."""
    metadata = ",".join([f"organization {b64(str(organization))}", f"name {b64(FILE_NAME)}",
                         f"sha256 {b64(sha256)}"])
    status, headers, data = client.request("POST", "/uploads", headers={
        "Tus-Resumable": "1.0.0", "Upload-Length": str(size), "Upload-Metadata": metadata})
    if status != 201 or not headers.get("Location"):
        sys.exit(f"POST /uploads answered {status}: {data[:500]!r}")
    location = headers["Location"]
    with open(source, "rb") as body:
        start = time.perf_counter()
        status, headers, data = client.request("PATCH", location, body=body, headers={
            "Tus-Resumable": "1.0.0", "Content-Type": "application/offset+octet-stream",
            "Upload-Offset": "0", "Content-Length": str(size)})
        elapsed = time.perf_counter() - start
    if status != 204 or headers.get("Upload-Offset") != str(size) or not headers.get("Content-Location"):
        sys.exit(f"PATCH {location} answered {status} {dict(headers)}: {data[:500]!r}")
    return elapsed, headers["Content-Location"]


def curl_whole(port, path, size):
    """One download with curl; answers (seconds, error or None)."""
    done = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{time_total} %{size_download}",
                           f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True)
    code, seconds, got = done.stdout.split()
    if done.returncode != 0:
        return float(seconds), f"{path}: curl failed ({done.returncode}) after {got} of {size} bytes"
    error = None if code == "200" and int(got) == size else f"{path}: status {code}, {got} of {size} bytes"
    return float(seconds), error


def ranged_gets(port, path, offsets, size, local):
    """GETs of RANGE_BYTES at `offsets` over one keep-alive connection; answers the latencies
    in seconds, the wrong answers described, and how often the connection was closed."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    latencies, errors, closed = [], [], 0
    for offset in offsets:
        end = offset + RANGE_BYTES - 1
        start = time.perf_counter()
        try:
            conn.request("GET", path, headers={"Range": f"bytes={offset}-{end}"})
            response = conn.getresponse()
            body = response.read()
        except (http.client.HTTPException, OSError) as error:
            errors.append(f"bytes={offset}-{end}: {error!r}")
            conn.close()
            closed += 1
            continue
        latencies.append(time.perf_counter() - start)
        if response.will_close:
            closed += 1
        content_range = response.getheader("Content-Range")
        if (response.status != 206 or content_range != f"bytes {offset}-{end}/{size}"
                or response.getheader("Content-Length") != str(RANGE_BYTES) or len(body) != RANGE_BYTES
                or body != os.pread(local, RANGE_BYTES, offset)):
            errors.append(f"bytes={offset}-{end}: status {response.status}, Content-Range {content_range}, "
                          f"{len(body)} bytes{'' if len(body) != RANGE_BYTES else ' (other bytes)'}")
    conn.close()
    return latencies, errors, closed


def ratio(ours, reference):
    return f"{ours / reference:.2f}" if reference and ours == ours and reference == reference else "–"


def p99(values):
    return statistics.quantiles(values, n=100)[98] if len(values) > 1 else values[0]


def nginx_config(work, port, root):
    temp = os.path.join(work, "nginx-temp")
    os.makedirs(temp, exist_ok=True)
    # Run as root, nginx's workers would drop to `nobody`, who cannot read the files folder
    # (0700): keep them root. As another user, nginx runs as that user anyway.
    user = "user root;" if os.geteuid() == 0 else ""
    temps = "\n".join(f"  {kind}_temp_path {temp}/{kind};" for kind in
                      ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return f"""
{user}
worker_processes 1;
daemon off;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log error;
events {{ worker_connections 64; }}
http {{
  access_log off;
  sendfile on;
  default_type application/octet-stream;
  keepalive_requests 100000;
{temps}
  server {{ listen 127.0.0.1:{port}; root {root}; }}
}}
"""


def stop(proc):
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def tail(path, lines=30):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "pxecloud"))
    parser.add_argument("--size-mib", type=int, default=1024, help="the size of the file (MiB)")
    parser.add_argument("--rounds", type=int, default=5, help="whole downloads from each server")
    args = parser.parse_args()
    if args.size_mib < 1 or args.rounds < 1:
        sys.exit("--size-mib and --rounds are at least 1")
    if not os.access(args.binary, os.X_OK):
        sys.exit(f"no binary at {args.binary}: build it (cargo leptos build --release) or name one with --binary")
    ensure_tools()
    size = args.size_mib * MIB

    work = tempfile.mkdtemp(prefix="pxecloud-files-bench-")
    data_dir, files_dir = os.path.join(work, "data"), os.path.join(work, "files")
    server_log = os.path.join(work, "pxecloud.log")
    ours = nginx = None
    try:
        # An organization and its admin (a server admin too), with a password that need not
        # be changed: `import` makes such accounts, and a server with users makes no
        # first-start admin.
        password = secrets.token_urlsafe(18)
        import_file = os.path.join(work, "bench.toml")
        with open(import_file, "w") as f:
            f.write(f'[[users]]\nusername = "{USERNAME}"\npassword = "{password}"\nadmin = true\n\n'
                    f'[[organizations]]\nname = "{ORGANIZATION}"\ndescription = ""\n'
                    f'members = [{{ user = "{USERNAME}", role = "admin" }}]\n')
        imported = subprocess.run([args.binary, "--data-dir", data_dir, "import", import_file],
                                  capture_output=True, text=True)
        if imported.returncode != 0:
            sys.exit(f"pxecloud import failed:\n{imported.stderr}")

        source = os.path.join(work, FILE_NAME)
        make_file(source, size)
        # The references, from the page cache like the upload.
        subprocess.run(["cat", source], check=True, stdout=subprocess.DEVNULL)
        hash_time, out = timed("sha256sum", source)
        sha256 = out.split()[0]
        copy = os.path.join(work, "copy.img")
        copy_time, _ = timed("dd", f"if={source}", f"of={copy}", "bs=1M", "conv=fdatasync", "status=none")
        os.remove(copy)

        port, nginx_port = free_tcp_port(), free_tcp_port()
        with open(server_log, "wb") as log:
            ours = subprocess.Popen(
                [args.binary, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", data_dir,
                 "--files-dir", files_dir, "--fetch-allow", "127.0.0.1/32"], stdout=log, stderr=log)
        if not wait_http(port, time.monotonic() + 60):
            sys.exit(f"PXE Cloud did not start:\n{tail(server_log)}")

        client = Client(port)
        client.call("login", username=USERNAME, password=password)
        organization = next(o["id"] for o in client.call("my_organizations") if o["name"] == ORGANIZATION)

        # 1. Upload.
        idle_rss = vm_kib(ours.pid, "VmRSS")
        sampler = RssSampler(ours.pid)
        sampler.start()
        try:
            upload_time, file_path = upload(client, organization, source, size, sha256)
        finally:
            peak_rss = sampler.stop()
        hwm = vm_kib(ours.pid, "VmHWM")
        file_id = int(file_path.split("/")[2])
        blob = os.path.join(files_dir, "blobs", "sha256", sha256[:2], sha256)
        if os.path.getsize(blob) != size:
            sys.exit(f"the blob {blob} is not {size} bytes")

        # 2. A machine's boot session, as iPXE signs in; its file URL is `/f/<token>/...`, the
        # path `sanboot` reads, checked for the session and membership on every request.
        status, _, script = Client(port).request(
            "GET", f"/ipxe/session?username={USERNAME.encode().hex()}&password={password.encode().hex()}"
                   "&mac=52-54-00-12-34-56")
        token = re.search(rb"/ipxe/s/([A-Za-z0-9_-]+)/", script)
        if status != 200 or token is None:
            sys.exit(f"the iPXE sign-in gave no boot session: {status} {script[:300]!r}")
        machine_path = f"/f/{token.group(1).decode()}/{file_path.split('/', 2)[2]}"
        rng = random.Random(42)
        offsets = [rng.randrange(0, (size - RANGE_BYTES) // 2048 + 1) * 2048 for _ in range(RANGE_REQUESTS)]
        local = os.open(source, os.O_RDONLY)
        try:
            # While the file is private: its membership is checked too.
            latencies, machine_errors, closed = ranged_gets(port, machine_path, offsets, size, local)
        finally:
            os.close(local)
        ranged = {"machine": (len(latencies) / sum(latencies) if latencies else 0.0,
                              p99(latencies) if latencies else float("nan"), closed)}

        # 3. Whole downloads, public, from the page cache.
        client.call("set_file_public", file_id=file_id, public="true")
        conf = os.path.join(work, "nginx.conf")
        with open(conf, "w") as f:
            f.write(nginx_config(work, nginx_port, files_dir))
        nginx = subprocess.Popen(["nginx", "-p", work + "/", "-e", os.path.join(work, "nginx-error.log"),
                                  "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_http(nginx_port, time.monotonic() + 10):
            sys.exit(f"nginx did not start:\n{tail(os.path.join(work, 'nginx-error.log'))}")
        servers = (("pxecloud", port, file_path), ("nginx", nginx_port, f"/blobs/sha256/{sha256[:2]}/{sha256}"))
        # Wrong answers of each server: how many, and a few described.
        wrong = {name: 0 for name, _, _ in servers}
        described = []

        def note(name, what):
            wrong[name] += 1
            if len(described) < 10:
                described.append(f"{name}: {what}")

        status, headers, _ = Client(port).request("HEAD", file_path)
        if status != 200 or headers.get("ETag") != f'"{sha256}"' or headers.get("Content-Length") != str(size):
            note("pxecloud", f"HEAD {file_path}: status {status}, ETag {headers.get('ETag')}, "
                             f"Content-Length {headers.get('Content-Length')}")
        subprocess.run(["cat", blob], check=True, stdout=subprocess.DEVNULL)
        whole = {name: [] for name, _, _ in servers}
        for _ in range(args.rounds):
            for name, server_port, path in servers:
                seconds, error = curl_whole(server_port, path, size)
                whole[name].append(seconds)
                if error:
                    note(name, error)
        download = {name: size / MIB / statistics.median(times) for name, times in whole.items()}

        for error in machine_errors:
            note("pxecloud", error)

        # 4. sanboot-like ranged reads of the public file, the same offsets (sectors of 2 KiB).
        local = os.open(source, os.O_RDONLY)
        try:
            for name, server_port, path in servers:
                latencies, range_errors, closed = ranged_gets(server_port, path, offsets, size, local)
                ranged[name] = (len(latencies) / sum(latencies) if latencies else 0.0,
                                p99(latencies) if latencies else float("nan"), closed)
                for error in range_errors:
                    note(name, error)
        finally:
            os.close(local)
        # 5. Fetch from a URL: the same bytes from nginx, into the library under another name.
        source_url = f"http://127.0.0.1:{nginx_port}/blobs/sha256/{sha256[:2]}/{sha256}"
        reference = os.path.join(files_dir, "curl-copy.img")
        start = time.perf_counter()
        subprocess.run(["curl", "-s", "-o", reference, source_url], check=True)
        if subprocess.run(["sha256sum", reference], check=True, capture_output=True,
                          text=True).stdout.split()[0] != sha256:
            note("nginx", "curl fetched other bytes")
        descriptor = os.open(reference, os.O_RDONLY)
        os.fsync(descriptor)
        os.close(descriptor)
        curl_time = time.perf_counter() - start
        os.remove(reference)
        sampler = RssSampler(ours.pid)
        sampler.start()
        try:
            start = time.perf_counter()
            client.call("fetch_file", organization_id=organization, url=source_url, name="fetched.img",
                        sha256=sha256, sums_url="", public="false")
            fetched = None
            while fetched is None and time.perf_counter() - start < 600:
                library = client.call("files", organization_id=organization)
                fetched = next((f for f in library["files"] if f["name"] == "fetched.img"), None)
                failed = [u["failure"] for u in library["uploads"] if u.get("failure")]
                if failed:
                    note("pxecloud", f"the fetch failed: {failed[0]}")
                    break
                if fetched is None:
                    time.sleep(0.05)
            fetch_time = time.perf_counter() - start
        finally:
            fetch_rss = sampler.stop()
        if fetched is None or fetched["sha256"] != sha256:
            note("pxecloud", f"the fetch did not make the file: {fetched}")
        if ours.poll() is not None:
            note("pxecloud", f"exited with {ours.returncode}:\n{tail(server_log)}")
    finally:
        stop(nginx)
        stop(ours)
        shutil.rmtree(work, ignore_errors=True)

    up = size / MIB / upload_time
    hashing = size / MIB / hash_time
    copying = size / MIB / copy_time
    print(f"| hosted files, {args.size_mib} MiB of random bytes | PXE Cloud | reference "
          f"| ratio (ours / reference; for p99, reference / ours) |")
    print("|---|---|---|---|")
    print(f"| upload, tus, one PATCH | {up:.1f} MiB/s | sha256sum {hashing:.1f} MiB/s | {ratio(up, hashing)} |")
    print(f"| upload, tus, one PATCH | {up:.1f} MiB/s | dd conv=fdatasync {copying:.1f} MiB/s | {ratio(up, copying)} |")
    print(f"| server memory during the upload | peak VmRSS {peak_rss / 1024:.1f} MiB (VmHWM {hwm / 1024:.1f} MiB, "
          f"{idle_rss / 1024:.1f} MiB before) | | |")
    print(f"| whole download, curl, median of {args.rounds} | {download['pxecloud']:.1f} MiB/s "
          f"| nginx {download['nginx']:.1f} MiB/s | {ratio(download['pxecloud'], download['nginx'])} |")
    (ours_rate, ours_p99, ours_closed), (ref_rate, ref_p99, ref_closed) = ranged["pxecloud"], ranged["nginx"]
    print(f"| {RANGE_REQUESTS:,} GETs of 64 KiB at random offsets, one keep-alive connection "
          f"| {ours_rate:,.0f}/s, p99 {ours_p99 * 1000:.2f} ms"
          f"{f', closed {ours_closed}×' if ours_closed else ''} "
          f"| nginx {ref_rate:,.0f}/s, p99 {ref_p99 * 1000:.2f} ms{f', closed {ref_closed}×' if ref_closed else ''} "
          f"| {ratio(ours_rate, ref_rate)} (p99: {ratio(ref_p99, ours_p99)}) |")
    machine_rate, machine_p99, machine_closed = ranged["machine"]
    print(f"| the same, as a machine in a boot session (`/f/<token>/…`) "
          f"| {machine_rate:,.0f}/s, p99 {machine_p99 * 1000:.2f} ms{f', closed {machine_closed}×' if machine_closed else ''} "
          f"| nginx {ref_rate:,.0f}/s, p99 {ref_p99 * 1000:.2f} ms "
          f"| {ratio(machine_rate, ref_rate)} (p99: {ratio(ref_p99, machine_p99)}) |")
    fetching, by_hand = size / MIB / fetch_time, size / MIB / curl_time
    print(f"| fetch from a URL (nginx on loopback), until it is in the library "
          f"| {fetching:.1f} MiB/s, peak VmRSS {fetch_rss / 1024:.1f} MiB "
          f"| curl -o, sha256sum, fsync {by_hand:.1f} MiB/s | {ratio(fetching, by_hand)} |")
    print(f"| wrong answers | {wrong['pxecloud']} | nginx {wrong['nginx']} | |")
    if any(wrong.values()):
        print("\nwrong answers (the first 10):", *described, sep="\n- ", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
