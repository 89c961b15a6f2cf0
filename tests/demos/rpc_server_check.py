#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""rpc_server_check.py - `qio-rpc-demo server --port N` answers rpcinfo and clients.

usage: rpc_server_check.py QIO_RPC_DEMO RPCINFO

1. Starts `qio-rpc-demo server --port N` on a free port, in the background.
2. Pings it with rpcinfo. Debian 12's rpcinfo ignores `-n N` and asks
   rpcbind where the program is, and does not take a program number in
   hex, so the ping that needs no rpcbind is the universal-address form:
   `rpcinfo -a 127.0.0.1.H.L -T tcp 824377345 1` (H.L: the port's two bytes).
3. Runs the client session against it: `qio-rpc-demo client --port N`.
4. Stops it with SIGTERM: it must print its summary and exit 0.
5. Starts `server --idle-timeout 1` and checks that a client that sends
   nothing is closed and counted.
6. Starts `server --client-backlog 262144 --policy close` and checks that a
   client that sends calls and never reads is closed and counted.
7. If an rpcbind runs on this machine, also starts `server --register` and
   checks `rpcinfo -n N -t 127.0.0.1 824377345 1` (docs/demos.md),
   then that stopping the server removes the registration.
Every server started is killed with its process group whatever happens.
"""
import os
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import time

import demo_process

PROGRAM = str(0x31230001)  # rpcinfo wants it in decimal
VERSION = "1"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def rpcbind_running():
    try:
        socket.create_connection(("127.0.0.1", 111), timeout=2).close()
        return True
    except OSError:
        return False


def wait_for_line(process, pattern, seconds):
    """Reads the server's stdout until a line matches; returns the match.
    Reads the descriptor itself, so no line waits unseen in a buffer."""
    deadline = time.monotonic() + seconds
    seen = ""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 0.2)
        if not ready:
            continue
        chunk = os.read(process.stdout.fileno(), 4096).decode()
        if not chunk:
            break
        print(chunk, end="")
        seen += chunk
        match = re.search(pattern, seen, re.MULTILINE)
        if match:
            return match
    raise AssertionError(f"the server never printed a line matching {pattern!r}")


def run_checked(command, expect, seconds=30):
    print("$", " ".join(command))
    result = subprocess.run(command, capture_output=True, text=True, timeout=seconds)
    print(result.stdout + result.stderr, end="")
    if not re.search(expect, result.stdout + result.stderr, re.MULTILINE):
        raise AssertionError(f"{command[0]}: no line matches {expect!r}")
    return result


def stop_server(server):
    server.send_signal(signal.SIGTERM)
    out, err, timed_out = demo_process.communicate_within(server, 10)
    print(out + err, end="")
    if timed_out or server.returncode != 0:
        raise AssertionError(f"the server did not stop cleanly on SIGTERM ({server.returncode})")
    if "stopped by signal 15" not in out or "ECHO and STATS calls" not in out:
        raise AssertionError("the server did not print its summary when stopped")
    leftovers = demo_process.leftover_processes(server)
    if leftovers:
        raise AssertionError("the server left processes behind: " + "; ".join(leftovers))


def check_plain_server(demo, rpcinfo):
    port = free_port()
    server = demo_process.start([demo, "server", "--port", str(port)])
    try:
        wait_for_line(server, rf"on 127\.0\.0\.1:{port} \(TCP\)", 10)
        address = f"127.0.0.1.{port // 256}.{port % 256}"
        run_checked([rpcinfo, "-a", address, "-T", "tcp", PROGRAM, VERSION], "ready and waiting")
        result = run_checked([demo, "client", "--port", str(port)], r"^result: OK$", 60)
        if result.returncode != 0:
            raise AssertionError(f"the client session exited with {result.returncode}")
        stop_server(server)
    finally:
        demo_process.kill_group(server)


def stop_expecting_summary(server, pattern, what):
    """Stops the server with SIGTERM; its summary must match `pattern`."""
    server.send_signal(signal.SIGTERM)
    out, err, timed_out = demo_process.communicate_within(server, 10)
    print(out + err, end="")
    if timed_out or not re.search(pattern, out):
        raise AssertionError(f"the summary does not count {what}")


def check_idle_timeout(demo):
    """`server --idle-timeout 1` closes a client that sends nothing, and
    counts it in its summary."""
    port = free_port()
    server = demo_process.start([demo, "server", "--port", str(port), "--idle-timeout", "1"])
    try:
        wait_for_line(server, r"idle timeout 1 s", 10)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as idle:
            ready, _, _ = select.select([idle], [], [], 10)
            if not ready or idle.recv(1) != b"":
                raise AssertionError("the server did not close an idle client within 10 s")
        stop_expecting_summary(server, r"closed idle.*\n[- ]+\n\s*1\s",
                               "one client closed idle")
    finally:
        demo_process.kill_group(server)


def echo_call(xid, data):
    """An ECHO call record, AUTH_NONE, with its record mark."""
    padding = b"\0" * (-len(data) % 4)
    body = struct.pack(">10I", xid, 0, 2, 0x31230001, 1, 1, 0, 0, 0, 0)
    body += struct.pack(">I", len(data)) + data + padding
    return struct.pack(">I", 0x80000000 | len(body)) + body


def check_backlog_close(demo):
    """`server --client-backlog 262144 --policy close` closes a client that
    sends calls and never reads their replies, and counts it."""
    port = free_port()
    server = demo_process.start([demo, "server", "--port", str(port), "--client-backlog",
                                 "262144", "--policy", "close"])
    try:
        wait_for_line(server, r"backlog:\s+256 KiB per client \(close", 10)
        with socket.socket() as greedy:
            greedy.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            greedy.connect(("127.0.0.1", port))
            greedy.setblocking(False)
            calls = b"".join(echo_call(xid, b"x" * 16384) for xid in range(64))
            unsent = calls
            deadline = time.monotonic() + 10
            closed = False
            while not closed and time.monotonic() < deadline:
                try:
                    # Whole calls only: what a partial send left goes first.
                    unsent = unsent[greedy.send(unsent):] or calls
                except BlockingIOError:
                    select.select([], [greedy], [], 0.1)
                except (BrokenPipeError, ConnectionResetError):
                    closed = True
            if not closed:
                raise AssertionError("the server kept a client past its backlog for 10 s")
        stop_expecting_summary(server, r"closed past client backlog.*\n[- ]+\n\s*\d+\s+1\s",
                               "one client closed past its backlog")
    finally:
        demo_process.kill_group(server)


def check_registered_server(demo, rpcinfo):
    port = free_port()
    server = demo_process.start([demo, "server", "--port", str(port), "--register"])
    try:
        wait_for_line(server, r"registered with rpcbind", 10)
        command = [rpcinfo, "-n", str(port), "-t", "127.0.0.1", PROGRAM, VERSION]
        run_checked(command, "ready and waiting")
        stop_server(server)
        run_checked(command, "not registered")
    finally:
        demo_process.kill_group(server)


def main():
    demo_process.leave_cleanly_on_termination()
    demo, rpcinfo = sys.argv[1], sys.argv[2]
    if not rpcinfo:
        print("CHECK FAILED: rpcinfo was not found (Debian package rpcbind)", file=sys.stderr)
        return 1
    try:
        check_plain_server(demo, rpcinfo)
        check_idle_timeout(demo)
        check_backlog_close(demo)
        if rpcbind_running():
            check_registered_server(demo, rpcinfo)
        else:
            print("no rpcbind on this machine: the --register / rpcinfo -n check is skipped")
    except (AssertionError, subprocess.TimeoutExpired) as failure:
        print(f"CHECK FAILED: {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
