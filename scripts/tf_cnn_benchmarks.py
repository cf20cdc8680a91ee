#!/usr/bin/env python3
"""tf_cnn_benchmarks' program name for this harness: a script written for
tf_cnn_benchmarks runs unchanged but for its path,

    python scripts/tf_cnn_benchmarks.py --model=vgg16 --batch_size=64 ...

(the installed ``tf_cnn_benchmarks`` command is the same).  Every
tf_cnn_benchmarks flag is known; see docs/flags.md.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.__main__ import main  # noqa: E402

if __name__ == "__main__":
    main()
