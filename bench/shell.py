#!/usr/bin/env python3
"""Builds PXE Cloud in release and prints figures for the UI shell.

Sizes (binary; wasm, js and css raw and brotli), idle memory after start, time from start to
the first served request, and request rates for the wasm bundle and the sign-in page next to
nginx serving the same bytes in the same run (wrk), as ratios, since this machine is shared.

Usage: python3 bench/shell.py [--no-build]
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SITE = os.path.join(ROOT, "target", "site", "pkg")
BINARY = os.path.join(ROOT, "target", "release", "pxecloud")


def sh(*args, **kwargs):
    return subprocess.run(args, check=True, **kwargs)


def ensure_tools():
    missing = [p for p in ("nginx", "wrk", "brotli") if shutil.which(p) is None]
    if missing:
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        sh(*sudo, "apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kib(n):
    return f"{n / 1024:.1f} KiB"


def brotli_size(path):
    out = subprocess.run(["brotli", "-c", "-q", "11", path], check=True, capture_output=True).stdout
    return len(out)


def wait_http(url, deadline):
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                r.read()
                return True
        except OSError:
            time.sleep(0.002)
    return False


def start(binary, workdir, port):
    began = time.monotonic()
    proc = subprocess.Popen(
        [binary, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", os.path.join(workdir, "data")],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    ok = wait_http(f"http://127.0.0.1:{port}/healthz", began + 60)
    elapsed = time.monotonic() - began
    if not ok:
        proc.kill()
        sys.exit("pxecloud did not start")
    return proc, elapsed


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def fetch(url, headers=()):
    request = urllib.request.Request(url, headers=dict(h.split(": ", 1) for h in headers))
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.read()


def wrk(url, headers=()):
    status, body = fetch(url, headers)
    if status != 200:
        sys.exit(f"{url} answered {status}")
    args = ["wrk", "-t2", "-c16", "-d5s", "--latency"]
    for h in headers:
        args += ["-H", h]
    out = subprocess.run(args + [url], check=True, capture_output=True, text=True).stdout
    if "Non-2xx" in out:
        sys.exit(f"wrk saw errors from {url}:\n{out}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+\w+)", out).group(1)
    return rate, p99


def main():
    if "--no-build" not in sys.argv:
        sh("bash", "-c", "source .ci/setup && setup_build", cwd=ROOT)
        sh("cargo", "leptos", "build", "--release", "--precompress", cwd=ROOT)
    ensure_tools()

    print("## Sizes")
    print(f"binary (stripped release)     {os.path.getsize(BINARY) / 1e6:.1f} MB")
    total_raw = total_br = 0
    for ext in ("wasm", "js", "css"):
        path = os.path.join(SITE, f"pxecloud.{ext}")
        raw, br = os.path.getsize(path), brotli_size(path)
        if ext != "css":
            total_raw, total_br = total_raw + raw, total_br + br
        print(f"{ext:<5} raw {kib(raw):>12}   brotli {kib(br):>11}")
    print(f"wasm+js    raw {kib(total_raw):>12}   brotli {kib(total_br):>11}   (budget 250 KiB brotli)")

    with tempfile.TemporaryDirectory() as work:
        binary = os.path.join(work, "pxecloud")
        shutil.copy(BINARY, binary)
        port = free_port()
        print("\n## Start (alone in an empty folder, SQLite)")
        proc, first = start(binary, work, port)
        print(f"first start to first request  {first * 1000:.0f} ms  (creates the database, migrates, hashes the admin password)")
        time.sleep(2)
        print(f"idle RSS after first start   {rss_kib(proc.pid) / 1024:.1f} MiB  (glibc keeps the admin password's 19 MiB argon2 block)")
        proc.terminate()
        proc.wait()
        times = []
        for _ in range(5):
            proc, t = start(binary, work, port)
            times.append(t)
            proc.terminate()
            proc.wait()
        times.sort()
        print(f"later start to first request  {times[len(times) // 2] * 1000:.0f} ms  (median of 5)")

        proc, _ = start(binary, work, port)
        time.sleep(2)
        print(f"idle RSS after a later start  {rss_kib(proc.pid) / 1024:.1f} MiB")
        html = urllib.request.urlopen(f"http://127.0.0.1:{port}/login").read().decode()
        wasm_path = re.search(r'href="(/pkg/pxecloud\.[0-9a-f]+\.wasm)"', html).group(1)

        # nginx serves the same files (the brotli wasm and the rendered page) from a folder.
        docroot = os.path.join(work, "www")
        os.makedirs(docroot)
        # nginx's workers run as an unprivileged user: let them read the folder.
        os.chmod(work, 0o755)
        shutil.copy(os.path.join(SITE, "pxecloud.wasm.br"), os.path.join(docroot, "bundle.wasm.br"))
        with open(os.path.join(docroot, "login.html"), "w") as f:
            f.write(html)
        nginx_port = free_port()
        conf = os.path.join(work, "nginx.conf")
        with open(conf, "w") as f:
            f.write(f"""
worker_processes 2; daemon off; pid {work}/nginx.pid; error_log stderr error;
events {{ worker_connections 1024; }}
http {{ access_log off; sendfile on; include /etc/nginx/mime.types;
  server {{ listen 127.0.0.1:{nginx_port}; root {docroot}; }} }}
""")
        nginx = subprocess.Popen(["nginx", "-c", conf], stderr=subprocess.DEVNULL)
        os.chmod(os.path.join(docroot, "bundle.wasm.br"), 0o644)
        os.chmod(os.path.join(docroot, "login.html"), 0o644)
        wait_http(f"http://127.0.0.1:{nginx_port}/login.html", time.monotonic() + 10)

        print("\n## Requests per second (wrk, 2 threads, 16 connections, 5 s; same run)")
        wasm_url = f"http://127.0.0.1:{port}{wasm_path}"
        ref_url = f"http://127.0.0.1:{nginx_port}/bundle.wasm.br"
        if fetch(wasm_url, ["Accept-Encoding: br"])[1] != fetch(ref_url)[1]:
            sys.exit("pxecloud and nginx do not serve the same bytes")
        ours, ours_p99 = wrk(wasm_url, ["Accept-Encoding: br"])
        ref, ref_p99 = wrk(ref_url)
        print(f"wasm (brotli)   pxecloud {ours:>9.0f}/s p99 {ours_p99:>8}   nginx {ref:>9.0f}/s p99 {ref_p99:>8}   ratio {ours / ref:.2f}")
        ours, ours_p99 = wrk(f"http://127.0.0.1:{port}/login")
        ref, ref_p99 = wrk(f"http://127.0.0.1:{nginx_port}/login.html")
        print(f"/login (SSR)    pxecloud {ours:>9.0f}/s p99 {ours_p99:>8}   nginx static {ref:>9.0f}/s p99 {ref_p99:>8}   ratio {ours / ref:.2f}")
        print(f"RSS after load  {rss_kib(proc.pid) / 1024:.1f} MiB")
        nginx.terminate()
        proc.terminate()
        nginx.wait()
        proc.wait()


if __name__ == "__main__":
    main()
