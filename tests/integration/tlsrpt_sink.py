#!/usr/bin/env python3
"""tlsrpt_sink.py ADDR PORT CERT KEY DIR [MAX_SECONDS]: a tiny HTTPS report
receiver for the tests. Every POST is saved as DIR/<n>.body with its
request line and headers in DIR/<n>.headers. The answer depends on the
path: /fail500 -> 500, /redirect -> 301 to /tlsrpt, /bigheader -> 201 with
a 200,000-byte header line (over curl's 100 KB), anything else -> 201.
Exits by itself after MAX_SECONDS (default 300)."""
import http.server
import os
import ssl
import sys
import threading


class Handler(http.server.BaseHTTPRequestHandler):
    count = 0
    lock = threading.Lock()

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n) if 0 < n <= 64 * 1024 * 1024 else b""
        with Handler.lock:
            Handler.count += 1
            k = Handler.count
        base = os.path.join(self.server.outdir, "%d" % k)
        with open(base + ".headers", "w", encoding="utf-8") as f:
            f.write(self.requestline + "\n")
            for key, val in self.headers.items():
                f.write("%s: %s\n" % (key, val))
        with open(base + ".body", "wb") as f:
            f.write(body)
        if self.path == "/fail500":
            self.send_response(500)
        elif self.path == "/redirect":
            self.send_response(301)
            self.send_header("Location", "/tlsrpt")
        elif self.path == "/bigheader":
            self.send_response(201)
            self.send_header("X-Big", "b" * 200000)
        else:
            self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, fmt, *args):
        sys.stderr.write("sink: " + (fmt % args) + "\n")


def main():
    addr, port, cert, key, outdir = sys.argv[1:6]
    limit = float(sys.argv[6]) if len(sys.argv) > 6 else 300.0
    srv = http.server.ThreadingHTTPServer((addr, int(port)), Handler)
    srv.outdir = outdir
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    threading.Timer(limit, srv.shutdown).start()
    open(os.path.join(outdir, "ready"), "w").close()
    srv.serve_forever()


if __name__ == "__main__":
    main()
