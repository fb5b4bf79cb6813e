"""A loopback HTTP server for the boot files, answering Range requests with 206 as sanboot
needs (one HEAD, then many Range GETs)."""

import http.server
import os
import re
import threading


class RangeHandler(http.server.BaseHTTPRequestHandler):
    root = "."
    requests = []

    def log_message(self, *args):
        pass

    def _file(self):
        name = os.path.basename(self.path.split("?")[0])
        path = os.path.join(self.root, name)
        return path if name and os.path.isfile(path) else None

    def do_HEAD(self):
        self._serve(body=False)

    def do_GET(self):
        self._serve(body=True)

    def _serve(self, body):
        type(self).requests.append((self.command, self.path, self.headers.get("Range")))
        path = self._file()
        if path is None:
            self.send_error(404)
            return
        size = os.path.getsize(path)
        start, end = 0, size - 1
        match = re.match(r"bytes=(\d*)-(\d*)$", self.headers.get("Range", ""))
        status = 200
        if match:
            if match.group(1):
                start = int(match.group(1))
                end = int(match.group(2)) if match.group(2) else size - 1
            else:
                start = max(0, size - int(match.group(2)))
            end = min(end, size - 1)
            if start > end:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.end_headers()
                return
            status = 206
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(end - start + 1))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        if body:
            with open(path, "rb") as f:
                f.seek(start)
                remaining = end - start + 1
                while remaining:
                    chunk = f.read(min(65536, remaining))
                    if not chunk:
                        break
                    self.wfile.write(chunk)
                    remaining -= len(chunk)


def serve(root, address=("127.0.0.1", 0)):
    """Starts the server (by default on a free loopback port); returns (server, port)."""
    handler = type("Handler", (RangeHandler,), {"root": root, "requests": []})
    server = http.server.ThreadingHTTPServer(address, handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


if __name__ == "__main__":
    # `python3 assets.py ROOT HOST PORT`: serves in the foreground (run inside a network
    # namespace by end2end/pxe).
    import sys
    import time

    serve(sys.argv[1], (sys.argv[2], int(sys.argv[3])))
    while True:
        time.sleep(3600)
