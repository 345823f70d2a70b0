"""The scan page's outbox as a soak: 500 scans from two tablets through 25 network cuts
(the Wi-Fi and the server process, by turns) land once each and in order.

    PYTHONPATH=. .venv/bin/python bench/bench_scan_outbox.py [--per-tablet 250]

The suite runs the same test (tests/web/test_scan_outbox.py) with 40 scans a tablet and
four cuts, each kind twice: the property, in under a fifth of the time. This runs it at
the size it had before (docs/decisions.md "The scan outbox's stream test is small; its
soak is a bench"), where a rare loss or reordering has more chances to show. It is a
pass/fail soak, not a speed figure: the time it prints is mostly typing keystrokes over
the DevTools protocol, and follows the machine's load.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEST = "tests/web/test_scan_outbox.py::test_scans_through_network_cuts_land_once_in_order"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-tablet", type=int, default=250)
    args = parser.parse_args()
    env = {**os.environ, "KOORDINATOR_OUTBOX_SOAK": str(args.per_tablet)}
    started = time.monotonic()
    rc = subprocess.call(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "-k", "sqlite",
         "--backend", "sqlite", TEST],
        cwd=ROOT, env=env,
    )  # fmt: skip
    print(f"soak of {2 * args.per_tablet} scans: exit {rc} in {time.monotonic() - started:.0f} s")
    return rc


if __name__ == "__main__":
    sys.exit(main())
