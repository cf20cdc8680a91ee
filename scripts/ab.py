#!/usr/bin/env python3
"""Run two commands interleaved (A B B A ...), one log each, then compare.

    python scripts/ab.py --a="CMD" --b="CMD" [--rounds=5] [--out=DIR] [--timeout=S]

The command line of reports/ab.py (installed as vggbench-ab); see
docs/compare.md.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from reports.ab import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
