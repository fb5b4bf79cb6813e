#!/usr/bin/env python3
"""ProxyDHCP figures: PXE Cloud answering 10,000 PXE DISCOVERs, next to dnsmasq in proxy mode
answering the same DISCOVERs in the same run, as ratios (this machine is shared and noisy).

- one at a time: a DISCOVER, wait for the OFFER, next; latency p50, p99, max, and every answer
  checked (type, xid, hardware address, no address handed out, server, loader, option 43);
- a burst: the same count with up to 64 unanswered at once; answers per second.

Runs as root in two network namespaces it makes and removes (the server's and the client's,
joined by a veth pair): the broadcasts never leave them.

Usage: sudo python3 bench/dhcp.py [--binary PATH] [--count N]
"""

import argparse
import json
import os
import random
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVER = "10.78.0.2"
CLIENT = "10.78.0.50"


def discover(xid, mac):
    """A BIOS PXE firmware's DISCOVER: vendor class, architecture 0, machine id."""
    fixed = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 0, xid, 0, 0x8000,
                        bytes(4), bytes(4), bytes(4), bytes(4), mac + bytes(10), b"", b"")
    options = b"".join([
        bytes([53, 1, 1]),
        bytes([60, 32]) + b"PXEClient:Arch:00000:UNDI:002001",
        bytes([93, 2, 0, 0]),
        bytes([97, 17, 0]) + bytes(16),
        bytes([255]),
    ])
    return fixed + bytes([99, 130, 83, 99]) + options


def parse(packet):
    op, xid = packet[0], struct.unpack("!I", packet[4:8])[0]
    yiaddr, siaddr = packet[16:20], packet[20:24]
    chaddr = packet[28:34]
    file = packet[108:236].split(b"\0", 1)[0]
    options, i = {}, 240
    while i < len(packet) and packet[i] != 255:
        if packet[i] == 0:
            i += 1
            continue
        options[packet[i]] = packet[i + 2:i + 2 + packet[i + 1]]
        i += 2 + packet[i + 1]
    return dict(op=op, xid=xid, yiaddr=yiaddr, siaddr=siaddr, chaddr=chaddr, file=file,
                options=options)


def problem(reply, xid, mac, strict):
    """What is wrong with an answer, or None."""
    if reply["op"] != 2 or reply["options"].get(53) != b"\x02":
        return "not an OFFER"
    if reply["xid"] != xid or reply["chaddr"] != mac:
        return "another client's answer"
    if not strict:
        return None
    if reply["yiaddr"] != bytes(4):
        return "handed out an address"
    if reply["siaddr"] != socket.inet_aton(SERVER):
        return "another server"
    if reply["file"] != b"undionly.kpxe" or reply["options"].get(67) != b"undionly.kpxe":
        return f"loader {reply['file']!r}"
    if reply["options"].get(43) != bytes([6, 1, 8, 255]) or reply["options"].get(60) != b"PXEClient":
        return "PXE options missing"
    return None


def client(count, strict):
    """Inside the client namespace: sends the DISCOVERs, prints figures as JSON."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    # As a DHCP client does: the broadcast leaves this interface, no route needed.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"cli0")
    sock.bind(("0.0.0.0", 68))
    sock.settimeout(1.0)
    rng = random.Random(7)
    to = ("255.255.255.255", 67)

    def fresh():
        return rng.getrandbits(32), bytes([0x52, 0x54]) + rng.getrandbits(32).to_bytes(4, "big")

    # Warm up: the server's first answers may pay for lazy set-up.
    for _ in range(50):
        xid, mac = fresh()
        sock.sendto(discover(xid, mac), to)
        try:
            sock.recv(2048)
        except socket.timeout:
            pass

    latencies, wrong, lost = [], {}, 0
    for _ in range(count):
        xid, mac = fresh()
        start = time.perf_counter()
        sock.sendto(discover(xid, mac), to)
        while True:
            try:
                packet = sock.recv(2048)
            except socket.timeout:
                lost += 1
                break
            reply = parse(packet)
            if reply["xid"] != xid:
                continue  # a late answer to an earlier request
            latencies.append(time.perf_counter() - start)
            why = problem(reply, xid, mac, strict)
            if why:
                wrong[why] = wrong.get(why, 0) + 1
            break

    # The burst: up to 64 unanswered at once.
    sock.settimeout(0.5)
    pending, answered, sent = {}, 0, 0
    start = time.perf_counter()
    while answered < count:
        while sent < count and len(pending) < 64:
            xid, mac = fresh()
            pending[xid] = mac
            sock.sendto(discover(xid, mac), to)
            sent += 1
        try:
            reply = parse(sock.recv(2048))
        except socket.timeout:
            break
        if pending.pop(reply["xid"], None) is not None:
            answered += 1
    burst = time.perf_counter() - start
    latencies.sort()
    print(json.dumps({
        "answered": len(latencies), "lost": lost, "wrong": wrong,
        "p50_ms": statistics.median(latencies) * 1000 if latencies else None,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000 if latencies else None,
        "max_ms": latencies[-1] * 1000 if latencies else None,
        "burst_answered": answered, "burst_per_s": answered / burst,
    }))


def ip(*args):
    subprocess.run(["ip", *args], check=True, capture_output=True)


def in_namespace(namespace, *argv):
    return ["ip", "netns", "exec", namespace, *argv]


def wait_for(path, text, process, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        with open(path, errors="replace") as f:
            if text in f.read():
                return
        if process.poll() is not None or time.monotonic() > deadline:
            with open(path, errors="replace") as f:
                raise RuntimeError(f"{text!r} not in {path}:\n{f.read()}")
        time.sleep(0.1)


def measure(server_argv, ready, client_ns, server_ns, work, name, count, strict):
    log_path = os.path.join(work, f"{name}.log")
    with open(log_path, "w") as log:
        server = subprocess.Popen(in_namespace(server_ns, *server_argv), stdout=log,
                                  stderr=subprocess.STDOUT, cwd=work)
    try:
        wait_for(log_path, ready, server)
        out = subprocess.run(
            in_namespace(client_ns, sys.executable, os.path.abspath(__file__), "--client",
                         "--count", str(count), *(["--strict"] if strict else [])),
            capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"the client failed:\n{out.stderr}")
        return json.loads(out.stdout)
    finally:
        server.terminate()
        server.wait()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "pxecloud"))
    parser.add_argument("--count", type=int, default=10000)
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--strict", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        client(args.count, args.strict)
        return
    if os.geteuid() != 0:
        sys.exit("bench/dhcp.py makes network namespaces: run it as root")
    if shutil.which("dnsmasq") is None:
        sys.exit("dnsmasq is missing: apt-get install dnsmasq-base")

    tag = f"pxb{os.getpid() % 100000}"
    server_ns, client_ns = f"{tag}s", f"{tag}c"
    work = tempfile.mkdtemp(prefix="pxecloud-dhcp-bench-")
    made = []
    try:
        for namespace in (server_ns, client_ns):
            ip("netns", "add", namespace)
            made.append(namespace)
            ip("-n", namespace, "link", "set", "lo", "up")
        ip("link", "add", "srv0", "netns", server_ns, "type", "veth",
           "peer", "name", "cli0", "netns", client_ns)
        ip("-n", server_ns, "addr", "add", f"{SERVER}/24", "dev", "srv0")
        ip("-n", client_ns, "addr", "add", f"{CLIENT}/24", "dev", "cli0")
        ip("-n", server_ns, "link", "set", "srv0", "up")
        ip("-n", client_ns, "link", "set", "cli0", "up")

        loaders = os.path.join(work, "loaders")
        os.makedirs(loaders)
        with open(os.path.join(loaders, "undionly.kpxe"), "wb") as f:
            f.write(bytes(70000))
        binary = os.path.join(work, "pxecloud")
        shutil.copy(args.binary, binary)
        ours = measure(
            [binary, "serve", "--pxe", "--listen", "0.0.0.0:8080", "--loaders-dir", loaders,
             "--data-dir", os.path.join(work, "data")],
            "ProxyDHCP is answering", client_ns, server_ns, work, "pxecloud", args.count, True)
        reference = measure(
            ["dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--port=0", "--user=root",
             "--interface=srv0", "--bind-interfaces", "--dhcp-range=10.78.0.0,proxy",
             "--pxe-service=x86PC,PXE,undionly", "--log-facility=-"],
            "started", client_ns, server_ns, work, "dnsmasq", args.count, False)
    finally:
        for namespace in made:
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)

    print(f"ProxyDHCP, {args.count} PXE DISCOVERs one at a time (client in Python, both servers):")
    for name, r in (("PXE Cloud", ours), ("dnsmasq proxy", reference)):
        print(f"  {name:14} answered {r['answered']:>6}  lost {r['lost']:>3}  "
              f"wrong {sum(r['wrong'].values()):>3} {r['wrong'] or ''}  "
              f"p50 {r['p50_ms']:.3f} ms  p99 {r['p99_ms']:.3f} ms  max {r['max_ms']:.3f} ms  "
              f"burst {r['burst_per_s']:.0f}/s")
    print(f"  ratio p99 dnsmasq/PXE Cloud {reference['p99_ms'] / ours['p99_ms']:.2f} "
          f"(>1: PXE Cloud answers faster); burst PXE Cloud/dnsmasq "
          f"{ours['burst_per_s'] / reference['burst_per_s']:.2f}")
    ok = ours["answered"] == args.count and not ours["wrong"] and ours["p99_ms"] < 5
    print(f"  aim: every DISCOVER answered correctly, p99 < 5 ms: {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
