#!/usr/bin/env python3
"""The flag reference pages from the flag declarations: docs/flags.md whole,
and the table of docs/tf_cnn_benchmarks.md.  --check exits 1 when a page is
stale (tests/test_docs.py does the same); --write rewrites them.

    python scripts/flag_docs.py --write | --check
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.tools.flag_docs import pages  # noqa: E402


def main(argv):
    if argv not in (["--write"], ["--check"]):
        print("usage: flag_docs.py --write | --check", file=sys.stderr)
        return 2
    try:
        wanted = pages()
    except (OSError, ValueError) as e:
        print(f"flag_docs: error: docs/tf_cnn_benchmarks.md: {e}; restore "
              "the page from git", file=sys.stderr)
        return 2
    stale = []
    for path, text in wanted.items():
        try:
            with open(path) as f:
                current = f.read()
        except FileNotFoundError:
            current = None
        if current == text:
            continue
        stale.append(path)
        if argv == ["--write"]:
            with open(path, "w") as f:
                f.write(text)
    verb = "rewrote" if argv == ["--write"] else "stale"
    for path in stale:
        print(f"{verb}: {os.path.relpath(path)}")
    return 1 if stale and argv == ["--check"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
