"""Garbage-collector settings for long-running server processes.

CPython's cyclic collector walks every tracked object in a full (generation 2)
collection. With thousands of connections that is tens of milliseconds with
the event loop stopped, several times a minute under load: it was the p99 of
send->deliver at light load (docs/performance.md, "Light-load latency"). So a
server process, once started, moves what the start created into the
permanent generation (``gc.freeze``: imported modules, settings, the store,
gRPC channels; never garbage) and collects young objects less often, so far
fewer survive into the old generations. Cycles are still collected, later.
"""

from __future__ import annotations

import gc

# Allocations between young collections (CPython's default is 700), young collections
# between middle ones (10), middle ones between full ones (10; CPython also waits until
# the objects not yet fully scanned exceed a quarter of the old generation).
THRESHOLDS = (50_000, 20, 10)


def tune_for_server() -> None:
    """Freeze what the start created and collect young objects less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
