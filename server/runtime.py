"""Process settings of the long-running commands (serve, ingest, the WSGI entry).

Python's cyclic garbage collector, left at its defaults, runs a full collection over every
object of a web process every so often; on the stock page that was the whole difference
between a p50 of 18 ms and a p95 of 50 ms (bench/bench_pages.py). After start-up we
freeze what exists (the app, templates, models: never garbage) and collect the young
generation less often. Only entry points call this; importing the package changes nothing.
"""

from __future__ import annotations

import gc


def tune_gc() -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 50)
