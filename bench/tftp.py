#!/usr/bin/env python3
"""TFTP figures: PXE Cloud's TFTP server next to tftpd-hpa serving the same 1 MiB loader on
the same machine in the same run, as ratios (this machine is shared and noisy).

- one client at a time: a 1 MiB file with blksize 1456 (curl), N rounds, median time;
- 50 clients at once: total time for 50 transfers of the same file.

Both servers listen on loopback ports; nothing leaves the machine.

Usage: python3 bench/tftp.py [--binary PATH] [--rounds N]
"""

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_tcp_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_tools():
    missing = []
    if not os.path.exists("/usr/sbin/in.tftpd"):
        missing.append("tftpd-hpa")
    if shutil.which("curl") is None:
        missing.append("curl")
    if missing:
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
                       check=True, env=env)


def fetch(port, name, out):
    subprocess.run(["curl", "--silent", "--show-error", "--tftp-blksize", "1456", "-o", out,
                    f"tftp://127.0.0.1:{port}/{name}"], check=True)


def one_at_a_time(port, name, work, rounds):
    times = []
    for i in range(rounds):
        out = os.path.join(work, f"one-{port}-{i}")
        start = time.perf_counter()
        fetch(port, name, out)
        times.append(time.perf_counter() - start)
        os.remove(out)
    return statistics.median(times)


def fifty_at_once(port, name, work):
    start = time.perf_counter()
    procs = [subprocess.Popen(["curl", "--silent", "--show-error", "--tftp-blksize", "1456", "-o",
                               os.path.join(work, f"many-{port}-{i}"), f"tftp://127.0.0.1:{port}/{name}"])
             for i in range(50)]
    failed = sum(p.wait() != 0 for p in procs)
    elapsed = time.perf_counter() - start
    for i in range(50):
        path = os.path.join(work, f"many-{port}-{i}")
        if os.path.exists(path):
            os.remove(path)
    return elapsed, failed


def wait_udp(port, deadline):
    """Waits until a read request on the port gets an answer."""
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.2)
            s.sendto(b"\x00\x01none\x00octet\x00", ("127.0.0.1", port))
            try:
                s.recvfrom(600)
                return True
            except OSError:
                time.sleep(0.1)
    return False


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "pxecloud"))
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    ensure_tools()

    work = tempfile.mkdtemp(prefix="pxecloud-tftp-bench-")
    loaders = os.path.join(work, "loaders")
    os.mkdir(loaders)
    with open(os.path.join(loaders, "snponly.efi"), "wb") as f:
        f.write(os.urandom(1 << 20))
    # in.tftpd started by root serves as `nobody`: the files must be readable by anyone.
    for path, mode in ((work, 0o755), (loaders, 0o755), (os.path.join(loaders, "snponly.efi"), 0o644)):
        os.chmod(path, mode)

    ours_port, hpa_port = free_udp_port(), free_udp_port()
    ours = subprocess.Popen(
        [args.binary, "serve", "--listen", f"127.0.0.1:{free_tcp_port()}", "--data-dir", os.path.join(work, "data"),
         "--tftp", "--tftp-listen", f"127.0.0.1:{ours_port}", "--loaders-dir", loaders],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    hpa = subprocess.Popen(
        ["/usr/sbin/in.tftpd", "--foreground", "--listen", "--address", f"127.0.0.1:{hpa_port}",
         "--secure", loaders], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        if not (wait_udp(ours_port, deadline) and wait_udp(hpa_port, deadline)):
            sys.exit("a server did not start")
        one = {name: one_at_a_time(port, "snponly.efi", work, args.rounds)
               for name, port in (("pxecloud", ours_port), ("tftpd-hpa", hpa_port))}
        many = {name: fifty_at_once(port, "snponly.efi", work)
                for name, port in (("pxecloud", ours_port), ("tftpd-hpa", hpa_port))}
    finally:
        ours.terminate()
        hpa.terminate()
        ours.wait()
        hpa.wait()
        shutil.rmtree(work, ignore_errors=True)

    mib = 1.0
    print("| TFTP, 1 MiB, blksize 1456 | PXE Cloud | tftpd-hpa | ratio (tftpd-hpa time / ours) |")
    print("|---|---|---|---|")
    print(f"| one client, median of {args.rounds} | {one['pxecloud'] * 1000:.1f} ms ({mib / one['pxecloud']:.1f} MiB/s) "
          f"| {one['tftpd-hpa'] * 1000:.1f} ms ({mib / one['tftpd-hpa']:.1f} MiB/s) "
          f"| {one['tftpd-hpa'] / one['pxecloud']:.2f} |")
    print(f"| 50 clients at once | {many['pxecloud'][0]:.2f} s, {many['pxecloud'][1]} failed "
          f"| {many['tftpd-hpa'][0]:.2f} s, {many['tftpd-hpa'][1]} failed "
          f"| {many['tftpd-hpa'][0] / many['pxecloud'][0]:.2f} |")


if __name__ == "__main__":
    main()
