#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""quoted_code_check.py - the code a page quotes is the code that is built.

usage: quoted_code_check.py PAGE.md SOURCE...

Passes when every ```c block of PAGE.md appears, line for line, in one of
the SOURCE files, so a page that quotes a tested example cannot drift from
it unnoticed.
"""
import re
import sys


def code_blocks(markdown):
    return re.findall(r"^```c\n(.*?)^```$", markdown, re.MULTILINE | re.DOTALL)


def main():
    page, sources = sys.argv[1], sys.argv[2:]
    with open(page, encoding="utf-8") as handle:
        blocks = code_blocks(handle.read())
    texts = []
    for source in sources:
        with open(source, encoding="utf-8") as handle:
            texts.append(handle.read())
    if not blocks:
        print(f"{page}: no ```c block found")
        return 1
    stale = [block for block in blocks if not any(block in text for text in texts)]
    for block in stale:
        first = block.splitlines()[0] if block.strip() else "(empty)"
        print(f"{page}: a quoted block is not in {', '.join(sources)}; it starts: {first}")
    print(f"{len(blocks) - len(stale)} of {len(blocks)} quoted blocks match the sources")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
