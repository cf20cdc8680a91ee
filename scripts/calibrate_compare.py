#!/usr/bin/env python3
"""How often the gate cries wolf: A/A comparisons from a pool of runs of one
command (reports/calibrate.py); see docs/compare.md.

    python scripts/calibrate_compare.py POOL_DIR [--runs=5] [--threshold=F]
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from reports.calibrate import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
