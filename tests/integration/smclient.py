#!/usr/bin/env python3
"""smclient.py: a tiny Postfix socketmap client for the mtastsd tests.

usage: smclient.py ADDR [-t SECONDS] MODE ARGS...

ADDR is HOST:PORT or unix:PATH. Modes:

  pipe NAME KEY...   send every request in one write (pipelining), print the
                     reply payloads in the order received, one per line
  raw BYTES          send BYTES (a Python bytes literal body, e.g.
                     '99999999999:x' or '\\x00\\xff'), print any replies, then
                     CLOSED (the server closed the connection) or OPEN (still
                     open when the timeout ran out)
  rawshut BYTES      as raw, then shut down the sending side (half-close)
  trickle S NAME KEY send one request a byte at a time, S seconds apart, then
                     print the reply
  script             read commands from stdin, one per line, on ONE connection:
                       q NAME KEY    send a request, print the reply
                       run CMD       run CMD with /bin/sh
                       sleep S       sleep S seconds
  hold SECONDS       connect, send nothing; print CLOSED with the elapsed
                     seconds when the server closes, or OPEN after SECONDS

Replies are printed as received (payload only, the netstring framing removed);
a reply that is not a well-formed netstring prints BADREPLY. Exit status 0,
or 3 when the connection failed or a read timed out (TIMEOUT is printed).
"""
import ast
import socket
import subprocess
import sys
import time


def connect(addr, timeout):
    if addr.startswith("unix:"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(addr[5:])
    else:
        host, port = addr.rsplit(":", 1)
        s = socket.create_connection((host.strip("[]"), int(port)), timeout)
    return s


def netstring(payload):
    return b"%d:%s," % (len(payload), payload)


class Reader:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.eof = False

    def fill(self):
        data = self.sock.recv(65536)
        if not data:
            self.eof = True
        self.buf += data

    def reply(self):
        """One reply payload, or None at EOF. Raises socket.timeout."""
        while True:
            colon = self.buf.find(b":")
            if colon > 0:
                digits = self.buf[:colon]
                if not digits.isdigit():
                    return b"BADREPLY"
                n = int(digits)
                if len(self.buf) >= colon + 1 + n + 1:
                    payload = self.buf[colon + 1:colon + 1 + n]
                    if self.buf[colon + 1 + n:colon + 2 + n] != b",":
                        return b"BADREPLY"
                    self.buf = self.buf[colon + 2 + n:]
                    return payload
            if self.eof:
                return None
            self.fill()


def out(payload):
    sys.stdout.write(payload.decode("latin-1") + "\n")
    sys.stdout.flush()


def main(argv):
    timeout = 20.0
    args = argv[1:]
    if len(args) >= 3 and args[1] == "-t":
        timeout = float(args[2])
        args = [args[0]] + args[3:]
    if len(args) < 2:
        sys.stderr.write(__doc__)
        return 2
    addr, mode, rest = args[0], args[1], args[2:]
    try:
        sock = connect(addr, timeout)
    except OSError as e:
        print("CONNECT-FAILED %s" % e)
        return 3
    rd = Reader(sock)
    try:
        if mode == "pipe":
            name = rest[0].encode()
            keys = [k.encode("utf-8", "surrogateescape") for k in rest[1:]]
            sock.sendall(b"".join(netstring(name + b" " + k) for k in keys))
            for _ in keys:
                p = rd.reply()
                if p is None:
                    print("CLOSED")
                    return 0
                out(p)
        elif mode in ("raw", "rawshut"):
            data = ast.literal_eval("b'" + rest[0].replace("'", "\\'") + "'")
            try:
                sock.sendall(data)
                if mode == "rawshut":
                    sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            while True:
                try:
                    p = rd.reply()
                except socket.timeout:
                    print("OPEN")
                    return 0
                except OSError:
                    print("CLOSED")
                    return 0
                if p is None:
                    print("CLOSED")
                    return 0
                out(p)
        elif mode == "trickle":
            for i in netstring((rest[1] + " " + rest[2]).encode()):
                sock.sendall(bytes([i]))
                time.sleep(float(rest[0]))
            p = rd.reply()
            print("CLOSED" if p is None else p.decode("latin-1"))
        elif mode == "script":
            for line in sys.stdin:
                words = line.rstrip("\n").split(" ", 2)
                if words[0] == "q":
                    sock.sendall(netstring((words[1] + " " + words[2]).encode()))
                    p = rd.reply()
                    if p is None:
                        print("CLOSED")
                        return 0
                    out(p)
                elif words[0] == "run":
                    subprocess.run(line[4:], shell=True, check=False)
                elif words[0] == "sleep":
                    time.sleep(float(words[1]))
        elif mode == "hold":
            limit = float(rest[0])
            sock.settimeout(limit)
            t0 = time.time()
            try:
                p = rd.reply()
            except socket.timeout:
                print("OPEN")
                return 0
            print("CLOSED %.1f" % (time.time() - t0) if p is None else "DATA")
        else:
            sys.stderr.write(__doc__)
            return 2
    except socket.timeout:
        print("TIMEOUT")
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
