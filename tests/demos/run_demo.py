#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""run_demo.py - runs one demo and checks its exit status and key output lines.

usage: run_demo.py [--status N] [--stdout REGEX]... [--stderr REGEX]...
                   [--stderr-lines N] [--timeout S] [--kill-after S]
                   -- PROGRAM [ARGUMENTS...]

Passes when the demo exits with the expected status within the time limit,
every --stdout/--stderr pattern matches a line of that stream, stderr has
exactly --stderr-lines lines if that is given, and the demo left no process
of its own behind. With --kill-after the demo itself is
killed (SIGKILL) after S seconds: it must still have been running then,
and its children must die with it (they ask the kernel for that with
PR_SET_PDEATHSIG).
"""
import argparse
import re
import signal
import sys
import time

import demo_process


def parse_arguments():
    parser = argparse.ArgumentParser()
    parser.add_argument("--status", type=int, default=0)
    parser.add_argument("--stdout", action="append", default=[])
    parser.add_argument("--stderr", action="append", default=[])
    parser.add_argument("--stderr-lines", type=int)
    parser.add_argument("--timeout", type=float, default=50)
    parser.add_argument("--kill-after", type=float)
    parser.add_argument("command", nargs="+")
    return parser.parse_args()


def missing_patterns(patterns, text):
    return [pattern for pattern in patterns if not re.search(pattern, text, re.MULTILINE)]


def run(arguments):
    """Returns the list of problems found (empty: the check passed)."""
    process = demo_process.start(arguments.command)
    try:
        if arguments.kill_after is not None:
            time.sleep(arguments.kill_after)
            process.send_signal(signal.SIGKILL)
        out, err, timed_out = demo_process.communicate_within(process, arguments.timeout)
        print(out, end="")
        print(err, end="", file=sys.stderr)
        grace = 2.0 if arguments.kill_after is not None else 0.0
        problems = []
        if timed_out:
            problems.append(f"did not finish within {arguments.timeout} s")
        elif arguments.kill_after is not None and process.returncode != -signal.SIGKILL:
            problems.append(f"exit status {process.returncode}: the demo ended before it was killed")
        elif arguments.kill_after is None and process.returncode != arguments.status:
            problems.append(f"exit status {process.returncode}, expected {arguments.status}")
        problems += [f"no stdout line matches {p!r}" for p in missing_patterns(arguments.stdout, out)]
        problems += [f"no stderr line matches {p!r}" for p in missing_patterns(arguments.stderr, err)]
        lines = len(err.splitlines())
        if arguments.stderr_lines is not None and lines != arguments.stderr_lines:
            problems.append(f"{lines} lines on stderr, expected {arguments.stderr_lines}")
        leftovers = demo_process.leftover_processes(process, grace)
        if leftovers:
            problems.append("left processes behind:\n  " + "\n  ".join(leftovers))
        return problems
    finally:
        demo_process.kill_group(process)


def main():
    demo_process.leave_cleanly_on_termination()
    problems = run(parse_arguments())
    for problem in problems:
        print(f"CHECK FAILED: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
