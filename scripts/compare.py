#!/usr/bin/env python3
"""Did the new runs get slower or less accurate than the baseline's?

    python scripts/compare.py BASELINE NEW [--threshold=F] [--json] [--plot=F.png]

The command line of reports/compare_cli.py (installed as vggbench-compare);
see docs/compare.md.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from reports.compare_cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
