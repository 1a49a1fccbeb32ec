#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Host test (cxx_echo_server_stop): the C++ echo server exits 0 on SIGTERM
while a peer keeps it busy, with a recv per request and with the receive
stream. The peer sends without pause and reads back slowly (about 200 KB/s),
so that with --recv stream the kernel fills the pool's 4 MiB of buffers
ahead of the server's sends: a stream hands out queued data before it looks
at its stop token, and a server that checked only there would go on echoing
its queue for 20 s. Every byte that comes back is checked against what was
sent.

  echo-stop-test.py ECHO_SERVER"""
import random
import signal
import socket
import subprocess
import sys
import threading
import time


def pattern(off, n):
    return bytes((off + i) * 7 % 251 for i in range(n))


def start(server, mode):
    """The server listening on a free port, and a connection to it."""
    for _ in range(5):
        port = random.randint(29500, 29900)
        srv = subprocess.Popen([server, "--port", str(port), "--recv", mode],
                               stderr=subprocess.PIPE)
        for _ in range(100):
            if srv.poll() is not None:
                break  # the port was taken: another one
            try:
                return srv, socket.create_connection(("127.0.0.1", port), timeout=5)
            except OSError:
                time.sleep(0.05)
        if srv.poll() is None:
            srv.kill()
        srv.wait()
    sys.exit(f"--recv {mode}: echo_server did not listen (last port {port})")


def one(server, mode):
    srv, s = start(server, mode)
    try:
        sent = [0]
        stop = threading.Event()

        def writer():
            try:
                while not stop.is_set():
                    sent[0] += s.send(pattern(sent[0], 4096))
            except OSError:
                pass  # the server closed the connection

        t = threading.Thread(target=writer, daemon=True)
        t.start()
        got = 0

        def read_slowly():
            """One read of at most 4 KiB, then 20 ms: False at EOF."""
            nonlocal got
            try:
                b = s.recv(4096)
            except ConnectionResetError:
                return False
            if not b:
                return False
            if b != pattern(got, len(b)):
                sys.exit(f"--recv {mode}: wrong bytes at offset {got}")
            got += len(b)
            time.sleep(0.02)
            return True

        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            if not read_slowly():
                sys.exit(f"--recv {mode}: the server closed before the signal")
        srv.send_signal(signal.SIGTERM)
        # Go on reading at the same pace (a send of the server waits for
        # us meanwhile) until the server closes; it must be gone in 8 s.
        s.settimeout(8)
        deadline = time.monotonic() + 8
        try:
            while time.monotonic() < deadline and read_slowly():
                pass
        except socket.timeout:
            pass
        stop.set()
        try:
            rc = srv.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            sys.exit(f"--recv {mode}: echo_server still running 8 s after SIGTERM "
                     f"({got} bytes echoed)")
        if rc != 0:
            sys.exit(f"--recv {mode}: echo_server exited {rc}: "
                     f"{srv.stderr.read().decode(errors='replace')}")
        s.close()
        print(f"--recv {mode}: {got} bytes echoed and checked, exit 0 after SIGTERM")
    finally:
        if srv.poll() is None:
            srv.kill()
            srv.wait()


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: echo-stop-test.py ECHO_SERVER")
    for mode in ("single", "stream"):
        one(sys.argv[1], mode)


if __name__ == "__main__":
    main()
