#!/usr/bin/env python3
"""README's flag table, from the flag declarations (benchmarks/config/ and
benchmarks/compat.py): prints it, or with --write rewrites it in README.md
between its markers.  tests/test_compat.py fails when the two differ.

    python scripts/flag_table.py [--write]
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.errors import UsageError  # noqa: E402
from benchmarks.paths import check_output  # noqa: E402
from benchmarks.tools.flag_table import flag_table_markdown  # noqa: E402

BEGIN, END = "<!-- flag table: begin -->", "<!-- flag table: end -->"
README = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "README.md")


def main():
    table = flag_table_markdown()
    if sys.argv[1:] != ["--write"]:
        sys.stdout.write(table)
        return 0
    try:
        check_output(README, "README", directory=False)
    except UsageError as e:
        print(f"flag_table: error: {e}", file=sys.stderr)
        return 2
    with open(README) as f:
        text = f.read()
    if BEGIN not in text or END not in text:
        print(f"flag_table: error: {README} lacks the markers {BEGIN} and "
              f"{END}; put them where the table goes", file=sys.stderr)
        return 2
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    with open(README, "w") as f:
        f.write(f"{head}{BEGIN}\n{table}{END}{tail}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
