#!/usr/bin/env python3
"""Which kernels a bf16 (or fp32/fp16) training step really runs on this CPU.

Runs a small conv + dense training step under Keras' mixed-precision policy
in a child process with ONEDNN_VERBOSE=1 and lists the oneDNN compute
primitives it executed with their data types.  Exit status 0 when the
precision asked for ran in its own kernels (for bf16: at least one bf16
primitive), 1 when it did not.

    python scripts/check_bf16_kernels.py [--precision=bf16] [--onednn_opts=1]
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.tools.onednn_kernels import check_kernels  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--precision", default="bf16",
                        choices=("fp32", "bf16", "fp16"))
    parser.add_argument("--onednn_opts", choices=("0", "1"), default=None,
                        help="set TF_ENABLE_ONEDNN_OPTS in the child (default: "
                        "as the runner sets it)")
    args = parser.parse_args()
    env = dict(os.environ)
    if args.onednn_opts is not None:
        env["TF_ENABLE_ONEDNN_OPTS"] = args.onednn_opts
    report = check_kernels(args.precision, env=env)
    print(report.summary())
    if args.precision == "bf16":
        return 0 if report.bf16_primitives else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
