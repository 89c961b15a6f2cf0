# SPDX-License-Identifier: MIT
"""demo_process.py - running a demo for a test without ever leaving a process behind.

Each demo runs in a session (and process group) of its own. Whatever
happens - a time limit, a failed check, an exception in the test itself -
the group is killed before the test ends, and a test fails if the demo left
any process of its group running after it exited.
"""
import os
import signal
import subprocess
import sys
import time


def leave_cleanly_on_termination():
    """Turns SIGTERM and SIGINT (meson's time limit, Ctrl-C) into SystemExit,
    so the callers' `finally` blocks still kill the demo's group: the demo
    runs in a session of its own, out of reach of a signal sent to ours."""
    def leave(signal_number, _frame):
        sys.exit(128 + signal_number)
    signal.signal(signal.SIGTERM, leave)
    signal.signal(signal.SIGINT, leave)


def start(command):
    """Starts `command` in a new session, its output captured."""
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)


def kill_group(process):
    """SIGKILL to every process of the demo's group; no error if it is empty."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def group_alive(process):
    """True while any process of the demo's group still exists."""
    try:
        os.killpg(process.pid, 0)
        return True
    except ProcessLookupError:
        return False


def leftover_processes(process, grace_seconds=0.0):
    """The processes of the group still alive `grace_seconds` after the demo
    ended (ps lines), and kills them. Empty when the demo cleaned up."""
    deadline = time.monotonic() + grace_seconds
    while group_alive(process) and time.monotonic() < deadline:
        time.sleep(0.05)
    if not group_alive(process):
        return []
    listing = subprocess.run(["ps", "-o", "pid,stat,args", "-g", str(process.pid)],
                             capture_output=True, text=True).stdout.splitlines()[1:]
    kill_group(process)
    return listing


def communicate_within(process, seconds):
    """Waits for the demo to exit and returns (stdout, stderr, timed_out)."""
    try:
        out, err = process.communicate(timeout=seconds)
        return out, err, False
    except subprocess.TimeoutExpired:
        kill_group(process)
        out, err = process.communicate()
        return out, err, True
