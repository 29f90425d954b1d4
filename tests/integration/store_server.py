#!/usr/bin/env python3
# store_server.py — test-only HTTP server for tests/integration/store.sh.
#
# Serves a directory on 127.0.0.1 (never another address) with single
# byte ranges ("Range: bytes=N-" and "N-M", 206 replies).  Paths starting
# with /slow/ are throttled (SLOW_RATE bytes/s), /trunc/ announce the full
# Content-Length but stop half-way, /redirect/ answer 302 to the plain
# path.  Every GET is logged to LOG as "path status start bytes_sent".
# Usage: store_server.py DIR PORTFILE LOG [SLOW_RATE]
import http.server
import os
import sys
import time

root, portfile, logfile = sys.argv[1], sys.argv[2], sys.argv[3]
rate = int(sys.argv[4]) if len(sys.argv) > 4 else 8 * 1024 * 1024


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def log(self, status, start, sent):
        with open(logfile, "a") as f:
            f.write("%s %d %d %d\n" % (self.path, status, start, sent))

    def do_GET(self):
        path = self.path.split("?")[0]
        mode = ""
        for m in ("slow", "trunc", "redirect"):
            if path.startswith("/" + m + "/"):
                mode, path = m, path[len(m) + 1:]
        if mode == "redirect":
            self.send_response(302)
            self.send_header("Location", path)
            self.send_header("Content-Length", "0")
            self.end_headers()
            self.log(302, 0, 0)
            return
        fs = os.path.join(root, os.path.normpath(path).lstrip("/"))
        if not os.path.realpath(fs).startswith(os.path.realpath(root)) or not os.path.isfile(fs):
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            self.log(404, 0, 0)
            return
        size = os.path.getsize(fs)
        start, end, status = 0, size - 1, 200
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes="):
            a, _, b = rng[6:].partition("-")
            start = int(a) if a else 0
            end = int(b) if b else size - 1
            if start >= size:
                self.send_response(416)
                self.send_header("Content-Range", "bytes */%d" % size)
                self.send_header("Content-Length", "0")
                self.end_headers()
                self.log(416, start, 0)
                return
            status = 206
        length = end - start + 1
        self.send_response(status)
        self.send_header("Content-Length", str(length))
        if status == 206:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end, size))
        self.end_headers()
        sent = 0
        limit = length // 2 if mode == "trunc" else length
        t0 = time.monotonic()
        try:
            with open(fs, "rb") as f:
                f.seek(start)
                while sent < limit:
                    chunk = f.read(min(64 * 1024, limit - sent))
                    if not chunk:
                        break
                    self.wfile.write(chunk)
                    sent += len(chunk)
                    if mode == "slow":
                        ahead = sent / rate - (time.monotonic() - t0)
                        if ahead > 0:
                            time.sleep(ahead)
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.log(status, start, sent)
        if mode == "trunc":
            self.close_connection = True


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(portfile + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(portfile + ".tmp", portfile)
server.serve_forever()
